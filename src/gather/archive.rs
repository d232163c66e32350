//! The event archive: EventBridge "ECS Task State Change" events kept in a CloudWatch
//! log group (installed by the deploy stack), read when ECS has forgotten a task.
//!
//! This holds the JSON-to-[`Task`] conversion the fallback needs. `crate::input` gains a
//! general `task_from_json` for `explain`; once it lands this can delegate to it.

use crate::evidence::{Container, Task};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The newest archived state of task `task_id` among `(timestamp_ms, message)` entries.
pub fn newest_task(entries: &[(i64, String)], task_id: &str) -> Option<Task> {
    entries
        .iter()
        .filter_map(|(ts, message)| {
            let value: Value = serde_json::from_str(message).ok()?;
            let task = task_from_event(&value)?;
            (task.id().eq_ignore_ascii_case(task_id)).then_some((version(&value), *ts, task))
        })
        .max_by_key(|(version, ts, _)| (*version, *ts))
        .map(|(_, _, task)| task)
}

fn version(event: &Value) -> i64 {
    event
        .get("detail")
        .and_then(|d| d.get("version"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// An EventBridge "ECS Task State Change" event (or a bare ECS task object) to a Task.
pub fn task_from_event(value: &Value) -> Option<Task> {
    let detail = match value.get("detail-type").and_then(Value::as_str) {
        Some("ECS Task State Change") => value.get("detail")?,
        Some(_) => return None,
        None => value,
    };
    let text = |key: &str| {
        detail
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let arn = text("taskArn")?;
    let mut task = Task {
        arn,
        cluster: text("clusterArn").unwrap_or_default(),
        group: text("group"),
        task_definition: text("taskDefinitionArn").unwrap_or_default(),
        region: value
            .get("region")
            .and_then(Value::as_str)
            .map(str::to_string),
        stop_code: text("stopCode"),
        stopped_reason: text("stoppedReason"),
        last_status: text("lastStatus"),
        desired_status: text("desiredStatus"),
        health_status: text("healthStatus"),
        launch_type: text("launchType"),
        capacity_provider: text("capacityProviderName"),
        platform_version: text("platformVersion"),
        availability_zone: text("availabilityZone"),
        started_by: text("startedBy"),
        container_instance_arn: text("containerInstanceArn"),
        cpu: text("cpu"),
        memory: text("memory"),
        cpu_architecture: detail
            .get("attributes")
            .and_then(Value::as_array)
            .and_then(|attrs| {
                attrs
                    .iter()
                    .find(|a| a.get("name").and_then(Value::as_str) == Some("ecs.cpu-architecture"))
            })
            .and_then(|a| a.get("value").and_then(Value::as_str))
            .map(str::to_string),
        created_at: time(detail.get("createdAt")),
        pull_started_at: time(detail.get("pullStartedAt")),
        pull_stopped_at: time(detail.get("pullStoppedAt")),
        started_at: time(detail.get("startedAt")),
        stopping_at: time(detail.get("stoppingAt")),
        stopped_at: time(detail.get("stoppedAt")),
        execution_stopped_at: time(detail.get("executionStoppedAt")),
        containers: detail
            .get("containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(container).collect())
            .unwrap_or_default(),
    };
    if task.region.is_none() {
        task.region = task.region().map(str::to_string);
    }
    Some(task)
}

fn container(c: &Value) -> Container {
    let text = |key: &str| {
        c.get(key).and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    Container {
        name: text("name").unwrap_or_default(),
        image: text("image"),
        image_digest: text("imageDigest"),
        last_status: text("lastStatus"),
        exit_code: c
            .get("exitCode")
            .and_then(Value::as_i64)
            .and_then(|e| i32::try_from(e).ok()),
        reason: text("reason"),
        health_status: text("healthStatus"),
        memory: text("memory"),
        memory_reservation: text("memoryReservation"),
        cpu: text("cpu"),
    }
}

/// ISO 8601 text or epoch seconds (as the AWS CLI prints them).
fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    match value? {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => {
            let secs = n.as_f64()?;
            DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
        }
        _ => None,
    }
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
