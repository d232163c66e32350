//! The event archive: EventBridge "ECS Task State Change" events kept in a CloudWatch
//! log group (installed by the deploy stack), read when ECS has forgotten a task.
//!
//! Turning an event into a [`Task`] is [`crate::input::task_from_event`]'s job, the same
//! converter `ecs-why explain` uses; this module only picks the newest archived state.

use crate::evidence::Task;
use crate::input::{task_from_event, task_from_json};
use serde_json::Value;

/// The newest archived state of task `task_id` among `(timestamp_ms, message)` entries.
/// Entries that are not task events (or not about this task) are skipped.
pub fn newest_task(entries: &[(i64, String)], task_id: &str) -> Option<Task> {
    entries
        .iter()
        .filter_map(|(ts, message)| {
            let value: Value = serde_json::from_str(message).ok()?;
            let task = archived_task(&value)?;
            (task.id().eq_ignore_ascii_case(task_id)).then_some((version(&value), *ts, task))
        })
        .max_by_key(|(version, ts, _)| (*version, *ts))
        .map(|(_, _, task)| task)
}

/// The task in one archived message: an "ECS Task State Change" event, or a bare ECS
/// task object; `None` for anything else.
fn archived_task(value: &Value) -> Option<Task> {
    match value.get("detail-type").and_then(Value::as_str) {
        Some("ECS Task State Change") => task_from_event(value).ok(),
        Some(_) => None,
        None => task_from_json(value).ok(),
    }
}

/// The task's state version (`detail.version`): later states have higher versions.
fn version(event: &Value) -> i64 {
    event
        .get("detail")
        .and_then(|d| d.get("version"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn event(version: i64, status: &str) -> String {
        serde_json::json!({
            "version": "0", "detail-type": "ECS Task State Change", "source": "aws.ecs",
            "region": "us-east-1",
            "detail": {
                "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{ID}"),
                "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
                "lastStatus": status, "version": version,
                "stopCode": "EssentialContainerExited",
                "stoppedAt": "2024-05-01T10:00:00.123Z",
                "createdAt": 1714557000.5,
                "containers": [{"name": "web", "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}]
            }
        })
        .to_string()
    }

    #[test]
    fn newest_state_wins() {
        let entries = vec![
            (1, event(3, "STOPPED")),
            (2, event(2, "DEACTIVATING")),
            (3, "not json".to_string()),
        ];
        let task = newest_task(&entries, ID).expect("found");
        assert_eq!(task.last_status.as_deref(), Some("STOPPED"));
        assert_eq!(task.containers[0].exit_code, Some(137));
        assert_eq!(task.region.as_deref(), Some("us-east-1"));
        assert!(task.stopped_at.is_some() && task.created_at.is_some());
        assert!(newest_task(&entries, "ffffffffffffffffffffffffffffffff").is_none());
    }
}
