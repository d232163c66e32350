//! Documents `ecs-why explain` reads, turned into [`Evidence`] without AWS.
//!
//! Accepted, alone or several in a stream (JSON Lines or concatenated):
//! - `aws ecs describe-tasks` output: `{"tasks": [...], "failures": [...]}`;
//! - a single task object as the ECS API spells it (`{"taskArn": ...}`);
//! - an EventBridge "ECS Task State Change" event (`{"detail-type": ..., "detail": {...}}`);
//! - a recorded Evidence bundle (`{"task": {"arn": ...}, ...}`), as in `tests/cases/`.
//!
//! Timestamps may be ISO 8601 strings or epoch seconds.

use crate::evidence::{Container, Evidence, Note, StopCode, Task};
use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// Why a document could not be read. Messages say what was expected.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{source_name}: not JSON at line {line}, column {column}: {reason}")]
    NotJson {
        source_name: String,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{source_name}: document {index} is not a task, `aws ecs describe-tasks` output, an ECS Task State Change event or an ecs-why evidence bundle{hint}")]
    UnknownDocument {
        source_name: String,
        index: usize,
        hint: String,
    },
    #[error("{source_name}: document {index} looks like {kind} but {reason}")]
    BadDocument {
        source_name: String,
        index: usize,
        kind: &'static str,
        reason: String,
    },
    #[error("{source_name}: holds no tasks{detail}")]
    NoTasks { source_name: String, detail: String },
}

/// Read every document in `text` and return one Evidence per task, in order.
pub fn read_documents(source_name: &str, text: &str) -> Result<Vec<Evidence>, InputError> {
    let mut out = Vec::new();
    let mut failures = Vec::new();
    // Each document is kept as its text (validated, not built into a tree) and read once,
    // straight into the type its shape says it is.
    let stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    for (index, document) in stream.enumerate() {
        let document = document.map_err(|e| InputError::NotJson {
            source_name: source_name.to_string(),
            line: e.line(),
            column: e.column(),
            reason: strip_position(&e.to_string()),
        })?;
        read_document(
            source_name,
            index + 1,
            document.get(),
            &mut out,
            &mut failures,
        )?;
    }
    if out.is_empty() {
        let detail = if failures.is_empty() {
            String::new()
        } else {
            format!(
                " (failures: {}); ECS keeps stopped tasks about an hour, so describe them sooner or read them from the event archive",
                failures.join(", ")
            )
        };
        return Err(InputError::NoTasks {
            source_name: source_name.to_string(),
            detail,
        });
    }
    Ok(out)
}

fn read_document(
    source_name: &str,
    index: usize,
    document: &str,
    out: &mut Vec<Evidence>,
    failures: &mut Vec<String>,
) -> Result<(), InputError> {
    let bad = |kind: &'static str, reason: String| InputError::BadDocument {
        source_name: source_name.to_string(),
        index,
        kind,
        reason,
    };
    let shape = match serde_json::from_str::<Shape<'_>>(document) {
        Ok(shape) if document.trim_start().starts_with('{') => shape,
        _ => {
            return Err(InputError::UnknownDocument {
                source_name: source_name.to_string(),
                index,
                hint: " (it is not a JSON object)".into(),
            })
        }
    };
    if shape.tasks.is_some() {
        let output: DescribeTasksOutput = serde_json::from_str(document)
            .map_err(|e| bad("`aws ecs describe-tasks` output", e.to_string()))?;
        let these_failures: Vec<String> = output
            .failures
            .into_iter()
            .map(|failure| {
                format!(
                    "{} {}",
                    failure.arn.unwrap_or_default(),
                    failure.reason.unwrap_or_default()
                )
            })
            .collect();
        for task in output.tasks {
            let mut evidence = offline_evidence(task.into_task());
            // Tasks and failures in one answer: the failures must not vanish.
            if !these_failures.is_empty() {
                evidence.notes.push(Note::general(format!(
                    "The same describe-tasks output also reported failures: {}. ECS keeps stopped tasks about an hour; older ones are only in the event archive.",
                    these_failures.join(", ")
                )));
            }
            out.push(evidence);
        }
        failures.extend(these_failures);
        return Ok(());
    }
    if shape.detail_type.is_some() || shape.detail == Some(JsonKind::Object) {
        let detail_type = match &shape.detail_type {
            Some(DetailType::Text(text)) => text.as_ref(),
            _ => "",
        };
        if detail_type != "ECS Task State Change" {
            return Err(InputError::UnknownDocument {
                source_name: source_name.to_string(),
                index,
                hint: format!(
                    " (it is an EventBridge event of type `{detail_type}`; only \"ECS Task State Change\" events describe a task)"
                ),
            });
        }
        let task = serde_json::from_str::<TaskStateChange>(document)
            .map(TaskStateChange::into_task)
            .map_err(|e| bad("an ECS Task State Change event", e.to_string()))?;
        out.push(offline_evidence(task));
        return Ok(());
    }
    if shape.task_arn.is_some() {
        let task: AwsTask =
            serde_json::from_str(document).map_err(|e| bad("an ECS task", e.to_string()))?;
        out.push(offline_evidence(task.into_task()));
        return Ok(());
    }
    if shape.task == Some(JsonKind::Object) {
        let evidence: Evidence = serde_json::from_str(document)
            .map_err(|e| bad("an ecs-why evidence bundle", e.to_string()))?;
        if evidence.task.arn.is_empty() {
            return Err(bad(
                "an ecs-why evidence bundle",
                "its task has no `arn`".into(),
            ));
        }
        out.push(evidence);
        return Ok(());
    }
    let hint = if shape.task_definition.is_some() {
        " (this is a task definition; pass the task itself, e.g. `aws ecs describe-tasks` output)"
            .to_string()
    } else {
        String::new()
    };
    Err(InputError::UnknownDocument {
        source_name: source_name.to_string(),
        index,
        hint,
    })
}

/// A task read from a document: the task alone, with a note that nothing else was read.
fn offline_evidence(task: Task) -> Evidence {
    Evidence {
        task,
        notes: vec![Note::general(OFFLINE_NOTE)],
        ..Evidence::default()
    }
}

/// The note on every task explained from a document rather than from AWS.
pub const OFFLINE_NOTE: &str = "Explained offline from the task alone: logs, the task definition and CloudTrail were not read. Run `ecs-why why <task ARN>` for the full picture.";

/// Convert one ECS-shaped task object (API/CLI/EventBridge spelling) into a [`Task`].
pub fn task_from_json(value: &Value) -> Result<Task, serde_json::Error> {
    AwsTask::deserialize(value).map(AwsTask::into_task)
}

/// Convert an EventBridge "ECS Task State Change" event into a [`Task`]: its `detail` is
/// the task; the region comes from the task ARN, else from the event. The one converter
/// for these events, used by `explain` and by the event archive ([`crate::gather::archive`]).
pub fn task_from_event(event: &Value) -> Result<Task, serde_json::Error> {
    TaskStateChange::deserialize(event).map(TaskStateChange::into_task)
}

impl TaskStateChange {
    /// The event's task, with the event's region when its ARN names none.
    fn into_task(self) -> Task {
        let mut task = self.detail.into_task();
        if task.region.is_none() {
            task.region = self.region;
        }
        task
    }
}

/// Which kind of document a text is, read from its top-level keys alone (their values
/// are skipped, not built).
#[derive(Deserialize)]
struct Shape<'a> {
    tasks: Option<IgnoredAny>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: Option<DetailType<'a>>,
    detail: Option<JsonKind>,
    #[serde(rename = "taskArn")]
    task_arn: Option<IgnoredAny>,
    task: Option<JsonKind>,
    #[serde(rename = "taskDefinition")]
    task_definition: Option<IgnoredAny>,
}

/// An event's `detail-type`: text, or anything else.
#[derive(Deserialize)]
#[serde(untagged)]
enum DetailType<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Other(IgnoredAny),
}

/// Whether a value is a JSON object, its content skipped.
#[derive(Debug, PartialEq, Eq)]
enum JsonKind {
    Object,
    Other,
}

impl<'de> Deserialize<'de> for JsonKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Kind;
        impl<'de> serde::de::Visitor<'de> for Kind {
            type Value = JsonKind;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<JsonKind, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(JsonKind::Object)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<JsonKind, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(JsonKind::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<JsonKind, E> {
                Ok(JsonKind::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<JsonKind, E> {
                Ok(JsonKind::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<JsonKind, E> {
                Ok(JsonKind::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<JsonKind, E> {
                Ok(JsonKind::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<JsonKind, E> {
                Ok(JsonKind::Other)
            }
            fn visit_unit<E>(self) -> Result<JsonKind, E> {
                Ok(JsonKind::Other)
            }
        }
        deserializer.deserialize_any(Kind)
    }
}

/// serde_json's messages end with " at line L column C", which we report separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(position) => message[..position].to_string(),
        None => message.to_string(),
    }
}

#[derive(Deserialize)]
struct DescribeTasksOutput {
    #[serde(default)]
    tasks: Vec<AwsTask>,
    #[serde(default)]
    failures: Vec<DescribeTasksFailure>,
}

/// One entry of describe-tasks' `failures`: a task ECS could not describe, and why.
#[derive(Deserialize)]
struct DescribeTasksFailure {
    arn: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct TaskStateChange {
    region: Option<String>,
    detail: AwsTask,
}

/// A task as the ECS API, the AWS CLI and EventBridge spell it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AwsTask {
    task_arn: String,
    cluster_arn: String,
    group: Option<String>,
    task_definition_arn: String,
    stop_code: Option<StopCode>,
    stopped_reason: Option<String>,
    last_status: Option<String>,
    desired_status: Option<String>,
    health_status: Option<String>,
    launch_type: Option<String>,
    capacity_provider_name: Option<String>,
    platform_version: Option<String>,
    availability_zone: Option<String>,
    started_by: Option<String>,
    container_instance_arn: Option<String>,
    cpu: Option<String>,
    memory: Option<String>,
    attributes: Vec<AwsAttribute>,
    attachments: Vec<AwsAttachment>,
    #[serde(deserialize_with = "crate::time::flexible")]
    created_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::time::flexible")]
    pull_started_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::time::flexible")]
    pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::time::flexible")]
    started_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::time::flexible")]
    stopping_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::time::flexible")]
    stopped_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::time::flexible")]
    execution_stopped_at: Option<DateTime<Utc>>,
    containers: Vec<AwsContainer>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsAttribute {
    name: String,
    value: Option<String>,
}

/// An ENI attachment: its `details` name the subnet.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AwsAttachment {
    details: Vec<AwsAttribute>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AwsContainer {
    name: String,
    image: Option<String>,
    image_digest: Option<String>,
    last_status: Option<String>,
    exit_code: Option<i32>,
    reason: Option<String>,
    health_status: Option<String>,
    #[serde(deserialize_with = "string_or_number")]
    memory: Option<String>,
    #[serde(deserialize_with = "string_or_number")]
    memory_reservation: Option<String>,
    #[serde(deserialize_with = "string_or_number")]
    cpu: Option<String>,
}

/// ECS reports container cpu/memory as strings; hand-written files often use numbers.
fn string_or_number<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

impl AwsTask {
    fn into_task(self) -> Task {
        let cpu_architecture = self
            .attributes
            .iter()
            .find(|a| a.name == "ecs.cpu-architecture")
            .and_then(|a| a.value.clone());
        let subnet_id = self
            .attachments
            .iter()
            .flat_map(|a| &a.details)
            .find(|d| d.name == "subnetId")
            .and_then(|d| d.value.clone());
        let mut task = Task {
            subnet_id,
            arn: self.task_arn,
            cluster: self.cluster_arn,
            group: self.group,
            task_definition: self.task_definition_arn,
            region: None,
            stop_code: self.stop_code,
            stopped_reason: self.stopped_reason,
            last_status: self.last_status,
            desired_status: self.desired_status,
            health_status: self.health_status,
            launch_type: self.launch_type,
            capacity_provider: self.capacity_provider_name,
            platform_version: self.platform_version,
            availability_zone: self.availability_zone,
            started_by: self.started_by,
            container_instance_arn: self.container_instance_arn,
            cpu: self.cpu,
            memory: self.memory,
            cpu_architecture,
            created_at: self.created_at,
            pull_started_at: self.pull_started_at,
            pull_stopped_at: self.pull_stopped_at,
            started_at: self.started_at,
            stopping_at: self.stopping_at,
            stopped_at: self.stopped_at,
            execution_stopped_at: self.execution_stopped_at,
            containers: self
                .containers
                .into_iter()
                .map(|c| Container {
                    name: c.name,
                    image: c.image,
                    image_digest: c.image_digest,
                    last_status: c.last_status,
                    exit_code: c.exit_code,
                    reason: c.reason,
                    health_status: c.health_status,
                    memory: c.memory,
                    memory_reservation: c.memory_reservation,
                    cpu: c.cpu,
                })
                .collect(),
        };
        task.region = task.region().map(str::to_string);
        task
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = include_str!("../examples/task-state-change-scaling.json");

    #[test]
    fn reads_an_eventbridge_event() {
        let evidence = read_documents("event.json", EVENT).unwrap();
        assert_eq!(evidence.len(), 1);
        let task = &evidence[0].task;
        assert_eq!(task.stop_code, Some(StopCode::ServiceSchedulerInitiated));
        assert_eq!(task.region.as_deref(), Some("us-east-2"));
        assert_eq!(task.containers[0].exit_code, Some(137));
        assert_eq!(task.cpu_architecture.as_deref(), Some("x86_64"));
        assert!(task.stopped_at.is_some());
        assert_eq!(
            task.service_name(),
            Some("DemoTrafficGen01-ServiceD69D759B-EfyMIBhdCKVk")
        );
    }

    #[test]
    fn reads_describe_tasks_with_epoch_times_and_json_lines() {
        let one = r#"{"tasks":[{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef0123456789abcdef","stoppedAt":1683041351.5,"containers":[{"name":"web","exitCode":1,"memory":512}]}],"failures":[]}"#;
        let two = r#"{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/c/fedcba9876543210fedcba9876543210","stopCode":"UserInitiated"}"#;
        let evidence = read_documents("-", &format!("{one}\n{two}\n")).unwrap();
        assert_eq!(evidence.len(), 2);
        assert_eq!(
            evidence[0].task.stopped_at.map(|t| t.timestamp()),
            Some(1683041351)
        );
        assert_eq!(
            evidence[0].task.containers[0].memory.as_deref(),
            Some("512")
        );
        assert_eq!(evidence[1].task.stop_code, Some(StopCode::UserInitiated));
    }

    #[test]
    fn refuses_other_documents_with_a_reason() {
        let err = read_documents("x.json", "{\"hello\": 1}").unwrap_err();
        assert!(err.to_string().contains("not a task"), "{err}");
        let err = read_documents("x.json", "{\"taskDefinition\": {}}").unwrap_err();
        assert!(err.to_string().contains("task definition"), "{err}");
        let err = read_documents("x.json", "not json").unwrap_err();
        assert!(err.to_string().contains("not JSON at line 1"), "{err}");
        let err = read_documents(
            "x.json",
            r#"{"detail-type":"EC2 Instance State-change Notification","detail":{}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("EC2 Instance"), "{err}");
        let err = read_documents(
            "x.json",
            r#"{"tasks":[],"failures":[{"arn":"arn:x","reason":"MISSING"}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("MISSING"), "{err}");
        let err = read_documents("x.json", "").unwrap_err();
        assert!(err.to_string().contains("no tasks"), "{err}");
        let err = read_documents("x.json", r#"{"taskArn": 5}"#).unwrap_err();
        assert!(err.to_string().contains("looks like an ECS task"), "{err}");
    }

    #[test]
    fn reads_an_evidence_bundle() {
        let bundle = serde_json::to_string(&Evidence {
            task: Task {
                arn: "arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef0123456789abcdef"
                    .into(),
                ..Task::default()
            },
            notes: vec![Note::unread("recorded")],
            ..Evidence::default()
        })
        .unwrap();
        let evidence = read_documents("bundle.json", &bundle).unwrap();
        assert_eq!(evidence[0].notes, vec![Note::unread("recorded")]);
    }

    #[test]
    fn notes_of_older_bundles_are_plain_strings() {
        let bundle = r#"{"task": {"arn": "arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef0123456789abcdef"}, "notes": ["as recorded"]}"#;
        let evidence = read_documents("bundle.json", bundle).unwrap();
        assert_eq!(evidence[0].notes, vec![Note::general("as recorded")]);
    }
}
