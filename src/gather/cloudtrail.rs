//! CloudTrail: who called StopTask on a task.
//!
//! LookupEvents with EventName=StopTask in a window of five minutes either side of when
//! the task began stopping; each event's `CloudTrailEvent` JSON is parsed and matched to
//! the task (`requestParameters.task` may be a task id or a task ARN). CloudTrail delivers
//! events 5 to 15 minutes late, so "no match" is [`StopLookup::NotFoundYet`], not "nobody".

use super::limits::CloudTrailQuota;
use super::{aws_failure, denied, AwsFailure, FailureKind};
use crate::arn;
use crate::evidence::{StopLookup, StoppedBy, Task};
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_cloudtrail::Client;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// How far either side of `stoppingAt` to look.
pub const WINDOW_MINUTES: i64 = 5;
/// Pages of LookupEvents (50 events each) read before giving up on a busy account.
const MAX_PAGES: usize = 4;

/// The moment to centre the look-up on: stoppingAt, else stoppedAt.
pub fn anchor(task: &Task) -> Option<DateTime<Utc>> {
    task.stopping_at
        .or(task.stopped_at)
        .or(task.execution_stopped_at)
}

/// Look up the StopTask call for `task`, waiting for `quota` before each page.
pub async fn lookup(
    client: &Client,
    task: &Task,
    at: DateTime<Utc>,
    quota: &CloudTrailQuota,
) -> Result<StopLookup, AwsFailure> {
    let start = at - Duration::minutes(WINDOW_MINUTES);
    let end = at + Duration::minutes(WINDOW_MINUTES);
    let attribute = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventName)
        .attribute_value("StopTask")
        .build()
        .map_err(|err| AwsFailure {
            kind: FailureKind::Other,
            code: None,
            message: format!("could not build the CloudTrail query: {err}"),
        })?;
    let mut best: Option<StoppedBy> = None;
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        quota.until_ready().await;
        let output = client
            .lookup_events()
            .lookup_attributes(attribute.clone())
            .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
            .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
            .max_results(50)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|err| aws_failure(&err))?;
        for event in output.events() {
            let Some(raw) = event.cloud_trail_event() else {
                continue;
            };
            if let Some(found) = match_event(raw, task) {
                let closer = match (&best, found.time) {
                    (Some(current), Some(t)) => {
                        current.time.is_none_or(|c| (t - at).abs() < (c - at).abs())
                    }
                    (None, _) => true,
                    (Some(_), None) => false,
                };
                if closer {
                    best = Some(found);
                }
            }
        }
        match output.next_token() {
            Some(next) if best.is_none() && !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(best.map_or(StopLookup::NotFoundYet, StopLookup::Found))
}

/// Parse one `CloudTrailEvent` JSON document; `Some` when it is a successful StopTask
/// call on `task`.
pub fn match_event(raw: &str, task: &Task) -> Option<StoppedBy> {
    let event: Value = serde_json::from_str(raw).ok()?;
    if event.get("eventName").and_then(Value::as_str) != Some("StopTask") {
        return None;
    }
    if event.get("errorCode").is_some_and(|c| !c.is_null()) {
        return None;
    }
    let params = event.get("requestParameters")?;
    let named = params.get("task").and_then(Value::as_str)?;
    if !refers_to(named, task) {
        return None;
    }
    // The cluster, when given, must agree (ids are unique, but be strict).
    if let Some(cluster) = params.get("cluster").and_then(Value::as_str) {
        if !task.cluster.is_empty() && arn::cluster_name(cluster) != task.cluster_name() {
            return None;
        }
    }
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let identity = event.get("userIdentity");
    Some(StoppedBy {
        arn: text(identity.and_then(|i| i.get("arn")))
            .or_else(|| text(identity.and_then(|i| i.get("invokedBy")))),
        identity_type: text(identity.and_then(|i| i.get("type"))),
        source_ip: text(event.get("sourceIPAddress")),
        user_agent: text(event.get("userAgent")),
        time: event
            .get("eventTime")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
        reason: text(params.get("reason")),
        event_id: text(event.get("eventID")),
    })
}

/// Whether a StopTask `task` parameter (an id or an ARN) names this task.
fn refers_to(named: &str, task: &Task) -> bool {
    let id = task.id();
    !id.is_empty() && (named == task.arn || arn::task_id(named).eq_ignore_ascii_case(id))
}

/// A note for a failed look-up, naming the IAM action when access was denied.
pub fn note(failure: &AwsFailure) -> String {
    match failure.kind {
        FailureKind::Denied => format!(
            "Who stopped the task is unknown: {}.",
            denied("cloudtrail:LookupEvents")
        ),
        FailureKind::Throttled => "Who stopped the task is unknown for now: CloudTrail \
            throttled cloudtrail:LookupEvents (2 calls per second per account and region). \
            Ask again in a minute."
            .to_string(),
        _ => format!(
            "Who stopped the task is unknown: the CloudTrail look-up failed: {}",
            failure.message
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn task() -> Task {
        Task {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{ID}"),
            cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/prod".into(),
            ..Task::default()
        }
    }

    fn event(task_param: &str, extra: &str) -> String {
        format!(
            r#"{{"eventName":"StopTask","eventTime":"2024-05-01T10:00:03Z","eventID":"e-1",
            "userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/Admin/alice"}},
            "sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2.15",
            "requestParameters":{{"cluster":"prod","task":"{task_param}","reason":"rolling back"}}{extra}}}"#
        )
    }

    #[test]
    fn matches_by_id_and_by_arn() {
        let by_id = match_event(&event(ID, ""), &task()).expect("id matches");
        assert_eq!(by_id.reason.as_deref(), Some("rolling back"));
        assert_eq!(by_id.identity_type.as_deref(), Some("AssumedRole"));
        assert_eq!(by_id.source_ip.as_deref(), Some("203.0.113.9"));
        assert!(by_id.time.is_some());
        assert!(match_event(&event(&task().arn, ""), &task()).is_some());
    }

    #[test]
    fn ignores_other_tasks_failed_calls_and_garbage() {
        assert!(match_event(&event("ffffffffffffffffffffffffffffffff", ""), &task()).is_none());
        assert!(match_event(&event(ID, r#","errorCode":"AccessDenied""#), &task()).is_none());
        assert!(match_event("not json", &task()).is_none());
        assert!(match_event("{}", &task()).is_none());
    }
}
