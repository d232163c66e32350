//! One SQS message, read as what EventBridge delivered: a stopped task ("ECS Task State
//! Change"), or news about a service ("ECS Service Action": tasks that cannot be placed
//! or started, steady state; "ECS Deployment State Change": a deployment failed, rolled
//! back or completed).
//!
//! A message is something to act on, an event to skip on purpose (another state change,
//! an event name with no bearing on incidents, another source), or poison (not JSON, not
//! an event): poison is logged with its message id and left for the queue's dead-letter
//! queue. Event shapes: AWS's ECS developer guide, "Amazon ECS events".

use crate::evidence::Task;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// What a message holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A task that stopped.
    Stopped(Box<StoppedEvent>),
    /// Something that happened to a service.
    Service(Box<ServiceNews>),
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

/// An event about a service, from "ECS Service Action" or "ECS Deployment State Change".
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceNews {
    /// EventBridge's event id (the same for a repeated delivery).
    pub id: String,
    pub what: ServiceChange,
    /// `arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME` (the event's `resources[0]`).
    pub service_arn: String,
    pub service: String,
    pub cluster: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Why, in ECS's words (`RESOURCE:MEMORY`, the circuit breaker's message).
    pub reason: Option<String>,
    /// When ECS says it happened (`createdAt` or `updatedAt`), else the event's time.
    pub at: Option<DateTime<Utc>>,
    /// `ecs-svc/…` of a deployment event.
    pub deployment_id: Option<String>,
    /// The capacity providers a placement failed on.
    pub capacity_providers: Vec<String>,
}

/// What happened to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceChange {
    /// `SERVICE_TASK_PLACEMENT_FAILURE`: no capacity (or no instance) to place a task.
    PlacementFailure,
    /// `SERVICE_TASK_CONFIGURATION_FAILURE`: a task could not be placed as configured.
    ConfigurationFailure,
    /// `SERVICE_TASK_START_IMPAIRED`: tasks keep failing to start.
    StartImpaired,
    /// `SERVICE_STEADY_STATE`: healthy, at its desired count (repeated now and then).
    SteadyState,
    /// `SERVICE_DEPLOYMENT_FAILED`: the circuit breaker (or an alarm) failed a deployment.
    DeploymentFailed,
    /// `SERVICE_DEPLOYMENT_IN_PROGRESS` whose reason says it is rolling back.
    RollingBack,
    /// `SERVICE_DEPLOYMENT_COMPLETED`: a deployment (or rollback) reached steady state.
    DeploymentCompleted,
}

impl ServiceChange {
    /// Tasks of the service cannot start: an incident of its own.
    pub fn opens_incident(self) -> bool {
        matches!(
            self,
            ServiceChange::PlacementFailure
                | ServiceChange::ConfigurationFailure
                | ServiceChange::StartImpaired
        )
    }

    /// The service is well again: its open incidents are recovered.
    pub fn recovers(self) -> bool {
        matches!(
            self,
            ServiceChange::SteadyState | ServiceChange::DeploymentCompleted
        )
    }

    /// ECS's name of the event.
    pub fn event_name(self) -> &'static str {
        match self {
            ServiceChange::PlacementFailure => "SERVICE_TASK_PLACEMENT_FAILURE",
            ServiceChange::ConfigurationFailure => "SERVICE_TASK_CONFIGURATION_FAILURE",
            ServiceChange::StartImpaired => "SERVICE_TASK_START_IMPAIRED",
            ServiceChange::SteadyState => "SERVICE_STEADY_STATE",
            ServiceChange::DeploymentFailed => "SERVICE_DEPLOYMENT_FAILED",
            ServiceChange::RollingBack => "SERVICE_DEPLOYMENT_IN_PROGRESS",
            ServiceChange::DeploymentCompleted => "SERVICE_DEPLOYMENT_COMPLETED",
        }
    }
}

const TASK_STATE_CHANGE: &str = "ECS Task State Change";
const SERVICE_ACTION: &str = "ECS Service Action";
const DEPLOYMENT_STATE_CHANGE: &str = "ECS Deployment State Change";
/// What a deployment event's reason says when the circuit breaker rolls back.
const ROLLING_BACK: &str = "rolling back";

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
    match detail_type {
        TASK_STATE_CHANGE => stopped_task(&value),
        SERVICE_ACTION | DEPLOYMENT_STATE_CHANGE => service_news(&value),
        other => Message::Skip(format!(
            "a `{other}` event, not a task, service or deployment change"
        )),
    }
}

fn stopped_task(value: &Value) -> Message {
    let status = value
        .pointer("/detail/lastStatus")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if status != "STOPPED" {
        return Message::Skip(format!("the task's lastStatus is `{status}`, not STOPPED"));
    }
    let task = match crate::input::task_from_event(value) {
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

/// The parts of a service or deployment event ecs-why reads; unknown fields are ignored
/// (ECS adds them).
#[derive(Deserialize)]
struct Envelope {
    id: Option<String>,
    account: Option<String>,
    region: Option<String>,
    time: Option<DateTime<Utc>>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    detail: Detail,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Detail {
    event_name: Option<String>,
    reason: Option<String>,
    cluster_arn: Option<String>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    deployment_id: Option<String>,
    capacity_provider_arns: Vec<String>,
}

fn service_news(value: &Value) -> Message {
    let envelope = match Envelope::deserialize(value) {
        Ok(envelope) => envelope,
        Err(e) => return Message::Poison(format!("the event cannot be read ({e})")),
    };
    let detail = &envelope.detail;
    let name = detail.event_name.as_deref().unwrap_or_default();
    let reason = detail.reason.clone().filter(|r| !r.trim().is_empty());
    let what = match name {
        "SERVICE_TASK_PLACEMENT_FAILURE" => ServiceChange::PlacementFailure,
        "SERVICE_TASK_CONFIGURATION_FAILURE" => ServiceChange::ConfigurationFailure,
        "SERVICE_TASK_START_IMPAIRED" => ServiceChange::StartImpaired,
        "SERVICE_STEADY_STATE" => ServiceChange::SteadyState,
        "SERVICE_DEPLOYMENT_FAILED" => ServiceChange::DeploymentFailed,
        "SERVICE_DEPLOYMENT_COMPLETED" => ServiceChange::DeploymentCompleted,
        "SERVICE_DEPLOYMENT_IN_PROGRESS"
            if reason
                .as_deref()
                .is_some_and(|r| r.to_ascii_lowercase().contains(ROLLING_BACK)) =>
        {
            ServiceChange::RollingBack
        }
        other => {
            return Message::Skip(format!(
                "a service event `{other}` with no bearing on incidents"
            ))
        }
    };
    let Some(service_arn) = envelope
        .resources
        .iter()
        .find(|r| r.contains(":service/"))
        .cloned()
    else {
        return Message::Poison(format!(
            "the `{name}` event names no service ARN in its resources"
        ));
    };
    let Some((cluster, service)) = service_parts(&service_arn, detail.cluster_arn.as_deref())
    else {
        return Message::Poison(format!("`{service_arn}` is not a service ARN"));
    };
    let id = envelope
        .id
        .clone()
        .unwrap_or_else(|| format!("{service_arn}#{name}"));
    Message::Service(Box::new(ServiceNews {
        id,
        what,
        service_arn,
        service,
        cluster,
        account: envelope.account,
        region: envelope.region,
        reason,
        at: detail.created_at.or(detail.updated_at).or(envelope.time),
        deployment_id: detail.deployment_id.clone(),
        capacity_providers: detail.capacity_provider_arns.clone(),
    }))
}

/// (cluster, service) from `…:service/CLUSTER/NAME`, or from an old-format
/// `…:service/NAME` with the cluster taken from `cluster_arn`.
fn service_parts(service_arn: &str, cluster_arn: Option<&str>) -> Option<(String, String)> {
    let resource = service_arn.split(":service/").nth(1)?;
    match resource.split_once('/') {
        Some((cluster, service)) if !cluster.is_empty() && !service.is_empty() => {
            Some((cluster.to_string(), service.to_string()))
        }
        _ if !resource.is_empty() => {
            let cluster = crate::arn::cluster_name(cluster_arn?).to_string();
            (!cluster.is_empty()).then(|| (cluster, resource.to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let other = json!({"detail-type": "ECS Container Instance State Change", "detail": {}});
        assert!(matches!(read(&other.to_string()), Message::Skip(_)));
        assert!(matches!(read("not json"), Message::Poison(_)));
        assert!(matches!(read("{\"hello\": 1}"), Message::Poison(_)));
        let no_arn = json!({"detail-type": TASK_STATE_CHANGE, "detail": {"lastStatus": "STOPPED"}});
        assert!(matches!(read(&no_arn.to_string()), Message::Poison(_)));
    }

    /// AWS's own example of a placement failure (the developer guide's, with its account).
    #[test]
    fn reads_a_placement_failure_as_aws_documents_it() {
        let event = json!({
            "version": "0",
            "id": "ddca6449-b258-46c0-8653-e0e3a6d0468b",
            "detail-type": "ECS Service Action",
            "source": "aws.ecs",
            "account": "111122223333",
            "time": "2019-11-19T19:55:38Z",
            "region": "us-west-2",
            "resources": ["arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"],
            "detail": {
                "eventType": "ERROR",
                "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
                "clusterArn": "arn:aws:ecs:us-west-2:111122223333:cluster/default",
                "capacityProviderArns": ["arn:aws:ecs:us-west-2:111122223333:capacity-provider/FARGATE_SPOT"],
                "reason": "RESOURCE:FARGATE",
                "createdAt": "2019-11-06T19:09:33.087Z"
            }
        });
        let Message::Service(news) = read(&event.to_string()) else {
            panic!("a placement failure is read");
        };
        assert_eq!(news.what, ServiceChange::PlacementFailure);
        assert_eq!(
            (news.cluster.as_str(), news.service.as_str()),
            ("default", "servicetest")
        );
        assert_eq!(news.account.as_deref(), Some("111122223333"));
        assert_eq!(news.reason.as_deref(), Some("RESOURCE:FARGATE"));
        assert_eq!(news.capacity_providers.len(), 1);
        assert!(news.what.opens_incident());
    }

    #[test]
    fn reads_deployment_events_and_tells_a_rollback() {
        let deployment = |name: &str, reason: &str| {
            json!({
                "version": "0", "id": format!("id-{name}"),
                "detail-type": "ECS Deployment State Change", "source": "aws.ecs",
                "account": "111122223333", "time": "2020-05-23T12:31:14Z", "region": "us-west-2",
                "resources": ["arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"],
                "detail": {"eventType": "ERROR", "eventName": name,
                           "deploymentId": "ecs-svc/123", "updatedAt": "2020-05-23T11:11:11Z",
                           "reason": reason}
            })
            .to_string()
        };
        let failed = read(&deployment(
            "SERVICE_DEPLOYMENT_FAILED",
            "ECS deployment circuit breaker: tasks failed to start.",
        ));
        assert!(
            matches!(&failed, Message::Service(n) if n.what == ServiceChange::DeploymentFailed
            && n.deployment_id.as_deref() == Some("ecs-svc/123"))
        );
        let rollback = read(&deployment(
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/987.",
        ));
        assert!(matches!(&rollback, Message::Service(n) if n.what == ServiceChange::RollingBack));
        let rolling_out = read(&deployment("SERVICE_DEPLOYMENT_IN_PROGRESS", ""));
        assert!(matches!(rolling_out, Message::Skip(_)));
        let done = read(&deployment("SERVICE_DEPLOYMENT_COMPLETED", ""));
        assert!(matches!(&done, Message::Service(n) if n.what.recovers()));
    }

    #[test]
    fn a_service_event_without_a_service_is_poison_and_other_names_are_skipped() {
        let no_service = json!({"detail-type": "ECS Service Action", "resources": [],
            "detail": {"eventName": "SERVICE_STEADY_STATE"}});
        assert!(matches!(read(&no_service.to_string()), Message::Poison(_)));
        let throttled = json!({"detail-type": "ECS Service Action",
            "resources": ["arn:aws:ecs:us-west-2:111122223333:service/default/s"],
            "detail": {"eventName": "ECS_OPERATION_THROTTLED"}});
        assert!(matches!(read(&throttled.to_string()), Message::Skip(_)));
    }

    #[test]
    fn an_old_format_service_arn_takes_its_cluster_from_the_detail() {
        assert_eq!(
            service_parts(
                "arn:aws:ecs:us-west-2:111122223333:service/web",
                Some("arn:aws:ecs:us-west-2:111122223333:cluster/prod")
            ),
            Some(("prod".to_string(), "web".to_string()))
        );
        assert_eq!(
            service_parts("arn:aws:ecs:us-west-2:111122223333:service/web", None),
            None
        );
    }
}
