//! One SQS message, read as what EventBridge delivered: an "ECS Task State Change" event.
//!
//! A message is a stopped task to announce, an event to skip on purpose (another state
//! change, another source), or poison (not JSON, not an event): poison is logged with its
//! message id and left for the queue's dead-letter queue.

use crate::evidence::Task;
use serde_json::Value;

/// What a message holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A task that stopped.
    Stopped(Box<StoppedEvent>),
    /// A well-formed event with nothing to announce; the reason is for the log.
    Skip(String),
    /// Not an event this bot can read; the reason is for the log.
    Poison(String),
}

/// A STOPPED task, as the event carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoppedEvent {
    /// EventBridge's event id (the same for a repeated delivery).
    pub id: String,
    pub task: Task,
}

const DETAIL_TYPE: &str = "ECS Task State Change";

/// Read a message body.
pub fn read(body: &str) -> Message {
    let value: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return Message::Poison(format!("the body is not JSON ({e})")),
    };
    let Some(detail_type) = value.get("detail-type").and_then(Value::as_str) else {
        return Message::Poison(
            "the body is JSON but not an EventBridge event (no detail-type); point the queue at an EventBridge rule target"
                .into(),
        );
    };
    if detail_type != DETAIL_TYPE {
        return Message::Skip(format!("a `{detail_type}` event, not a task state change"));
    }
    let status = value
        .pointer("/detail/lastStatus")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if status != "STOPPED" {
        return Message::Skip(format!("the task's lastStatus is `{status}`, not STOPPED"));
    }
    let task = match crate::input::task_from_event(&value) {
        Ok(task) => task,
        Err(e) => return Message::Poison(format!("the event's detail is not a task ({e})")),
    };
    if !crate::task_ref::is_task_arn(&task.arn) {
        return Message::Poison("the event's detail has no valid taskArn".into());
    }
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(&task.arn)
        .to_string();
    Message::Stopped(Box::new(StoppedEvent { id, task }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/task-state-change-scaling.json"
        );
        std::fs::read_to_string(path).expect("the recorded EventBridge example")
    }

    #[test]
    fn reads_a_stopped_task() {
        let Message::Stopped(event) = read(&example()) else {
            panic!("a STOPPED event is announced");
        };
        assert!(event.task.arn.starts_with("arn:aws:ecs:"));
        assert!(!event.id.is_empty());
    }

    #[test]
    fn skips_other_changes_and_refuses_poison() {
        let running = example().replace("\"STOPPED\"", "\"RUNNING\"");
        assert!(matches!(read(&running), Message::Skip(_)));
        let other = serde_json::json!({"detail-type": "ECS Service Action", "detail": {}});
        assert!(matches!(read(&other.to_string()), Message::Skip(_)));
        assert!(matches!(read("not json"), Message::Poison(_)));
        assert!(matches!(read("{\"hello\": 1}"), Message::Poison(_)));
        let no_arn =
            serde_json::json!({"detail-type": DETAIL_TYPE, "detail": {"lastStatus": "STOPPED"}});
        assert!(matches!(read(&no_arn.to_string()), Message::Poison(_)));
    }
}
