//! The plain data a diagnosis rests on.
//!
//! `gather/` fills these types from the AWS SDK and `input.rs` fills them from JSON
//! documents (`aws ecs describe-tasks` output, EventBridge events). They serialise, so a
//! whole case can be recorded as a JSON file and explained later without AWS. Nothing in
//! here talks to the network or reads the clock.

use crate::arn::{self, Arn};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod probes;
pub use probes::ProbeResults;

/// Service events kept on the evidence and shown in a thread reply.
pub const SERVICE_EVENTS: usize = 10;

/// Everything known about one stopped task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evidence {
    /// The task as DescribeTasks (or an event) reported it.
    pub task: Task,
    /// The task definition the task ran, when it could be read.
    pub task_definition: Option<TaskDefinition>,
    /// The last log lines of each container, already redacted.
    pub logs: Vec<ContainerLogs>,
    /// CloudTrail's answer to "who called StopTask on this task".
    pub stop_lookup: StopLookup,
    /// The service's most recent events, newest first (empty for standalone tasks).
    pub service_events: Vec<ServiceEvent>,
    /// What could not be fetched and why, in words for the reader (with the fix).
    pub notes: Vec<Note>,
    /// The service's recently stopped tasks, for "4 of the last 5 tasks stopped the same
    /// way". `None` when not gathered: standalone tasks, alerts, offline documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent_stops: Option<RecentStops>,
    /// The service's settings the probes need (target groups, grace period, deployments),
    /// from the same DescribeServices call as its events. `None` for standalone tasks,
    /// alerts and offline documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceFacts>,
    /// What the read-only probes found; `None` when they did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeResults>,
}

/// Something the reader should know that the evidence does not show: a source that
/// could not be read (with the fix), where logs are instead, what is not final yet. Its
/// kind lets an output choose (the card leaves out a logs note its "Logs:" line already
/// explains). Reads from a plain string too, as older recorded cases hold them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "NoteOnDisk")]
pub struct Note {
    #[serde(flatten)]
    pub kind: NoteKind,
    pub text: String,
}

/// What a [`Note`] is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NoteKind {
    /// A container logs somewhere ecs-why does not read (another driver, or none).
    LogsElsewhere { container: String },
    /// A source could not be read; the text names the IAM action or the failure.
    Unread,
    /// Anything else.
    #[default]
    General,
}

impl Note {
    pub fn new(kind: NoteKind, text: impl Into<String>) -> Note {
        Note {
            kind,
            text: text.into(),
        }
    }

    /// A source that could not be read.
    pub fn unread(text: impl Into<String>) -> Note {
        Note::new(NoteKind::Unread, text)
    }

    pub fn general(text: impl Into<String>) -> Note {
        Note::new(NoteKind::General, text)
    }
}

impl From<&str> for Note {
    fn from(text: &str) -> Note {
        Note::general(text)
    }
}

impl From<String> for Note {
    fn from(text: String) -> Note {
        Note::general(text)
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A note as stored: a plain string (older cases) or `{"kind": …, "text": …}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum NoteOnDisk {
    Text(String),
    Typed {
        #[serde(flatten)]
        kind: NoteKind,
        text: String,
    },
}

impl From<NoteOnDisk> for Note {
    fn from(stored: NoteOnDisk) -> Note {
        match stored {
            NoteOnDisk::Text(text) => Note::general(text),
            NoteOnDisk::Typed { kind, text } => Note { kind, text },
        }
    }
}

/// A service's settings that bear on why its task stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceFacts {
    pub name: String,
    pub health_check_grace_period_seconds: Option<i32>,
    /// The target groups the service registers its tasks in.
    pub load_balancers: Vec<ServiceLoadBalancer>,
    /// The subnets of the service's awsvpc network configuration.
    pub subnets: Vec<String>,
    /// Whether the deployment circuit breaker is on, and rolls back.
    pub circuit_breaker: Option<bool>,
    pub circuit_breaker_rollback: Option<bool>,
    /// The service's deployments as ECS lists them (PRIMARY first, then ACTIVE).
    pub deployments: Vec<Deployment>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceLoadBalancer {
    pub target_group_arn: Option<String>,
    pub container_name: Option<String>,
    pub container_port: Option<i32>,
}

/// One of a service's deployments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Deployment {
    /// `ecs-svc/...`: a service task's `startedBy`.
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: Option<String>,
    /// Task definition ARN.
    pub task_definition: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub failed_tasks: Option<i32>,
    pub running_count: Option<i32>,
    pub desired_count: Option<i32>,
}

/// Tasks of one service that stopped recently (ListTasks `desiredStatus=STOPPED`, then
/// one DescribeTasks), newest first; the explained task is one of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecentStops {
    pub tasks: Vec<RecentStop>,
}

/// One recently stopped task, reduced to how it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecentStop {
    pub arn: String,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// Each container's exit code, by container name.
    pub exit_codes: BTreeMap<String, Option<i32>>,
}

impl RecentStop {
    /// How `task` stopped, for comparing with its service's other stops.
    pub fn of(task: &Task) -> RecentStop {
        RecentStop {
            arn: task.arn.clone(),
            stop_code: task.stop_code.clone(),
            stopped_reason: task.stopped_reason.clone(),
            stopped_at: task.stopped_at.or(task.stopping_at),
            exit_codes: task
                .containers
                .iter()
                .map(|c| (c.name.clone(), c.exit_code))
                .collect(),
        }
    }
}

/// A task, reduced to what matters for explaining why it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    pub arn: String,
    /// Cluster ARN (or name when only the name is known).
    pub cluster: String,
    /// `service:NAME` for service tasks, `family:NAME` for standalone ones.
    pub group: Option<String>,
    /// Task definition ARN.
    pub task_definition: String,
    /// Region the task ran in, from its ARN.
    pub region: Option<String>,
    pub stop_code: Option<StopCode>,
    pub stopped_reason: Option<String>,
    pub last_status: Option<String>,
    pub desired_status: Option<String>,
    pub health_status: Option<String>,
    pub launch_type: Option<String>,
    pub capacity_provider: Option<String>,
    pub platform_version: Option<String>,
    pub availability_zone: Option<String>,
    /// `ecs-svc/...` for service tasks, a principal or tool name otherwise.
    pub started_by: Option<String>,
    pub container_instance_arn: Option<String>,
    /// Task-level CPU units and memory MiB, as strings as ECS reports them.
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// `ecs.cpu-architecture` attribute, when reported.
    pub cpu_architecture: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub pull_started_at: Option<DateTime<Utc>>,
    pub pull_stopped_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopping_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub execution_stopped_at: Option<DateTime<Utc>>,
    pub containers: Vec<Container>,
    /// The subnet of the task's elastic network interface (awsvpc tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

/// How ECS says a task stopped (`stopCode`). A code ECS adds later is kept as it came,
/// in [`StopCode::Other`]. Reads and writes as the plain string ECS uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum StopCode {
    TaskFailedToStart,
    EssentialContainerExited,
    UserInitiated,
    ServiceSchedulerInitiated,
    SpotInterruption,
    TerminationNotice,
    InfrastructureHealth,
    Other(String),
}

impl StopCode {
    pub fn as_str(&self) -> &str {
        match self {
            StopCode::TaskFailedToStart => "TaskFailedToStart",
            StopCode::EssentialContainerExited => "EssentialContainerExited",
            StopCode::UserInitiated => "UserInitiated",
            StopCode::ServiceSchedulerInitiated => "ServiceSchedulerInitiated",
            StopCode::SpotInterruption => "SpotInterruption",
            StopCode::TerminationNotice => "TerminationNotice",
            StopCode::InfrastructureHealth => "InfrastructureHealth",
            StopCode::Other(code) => code,
        }
    }
}

impl From<&str> for StopCode {
    fn from(code: &str) -> StopCode {
        match code {
            "TaskFailedToStart" => StopCode::TaskFailedToStart,
            "EssentialContainerExited" => StopCode::EssentialContainerExited,
            "UserInitiated" => StopCode::UserInitiated,
            "ServiceSchedulerInitiated" => StopCode::ServiceSchedulerInitiated,
            "SpotInterruption" => StopCode::SpotInterruption,
            "TerminationNotice" => StopCode::TerminationNotice,
            "InfrastructureHealth" => StopCode::InfrastructureHealth,
            other => StopCode::Other(other.to_string()),
        }
    }
}

impl From<String> for StopCode {
    fn from(code: String) -> StopCode {
        StopCode::from(code.as_str())
    }
}

impl From<StopCode> for String {
    fn from(code: StopCode) -> String {
        code.as_str().to_string()
    }
}

impl std::fmt::Display for StopCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One container of a task, as the task reported it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Container {
    pub name: String,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub last_status: Option<String>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub health_status: Option<String>,
    /// Hard memory limit in MiB reported on the task's container, when set.
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub cpu: Option<String>,
}

/// The parts of a task definition a diagnosis needs. Environment variable *values* are
/// never stored: only their names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskDefinition {
    pub arn: String,
    pub family: String,
    pub revision: i32,
    /// `awsvpc`, `bridge`, `host` or `none`.
    pub network_mode: Option<String>,
    pub requires_compatibilities: Vec<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// `X86_64` or `ARM64` from `runtimePlatform`, when set.
    pub cpu_architecture: Option<String>,
    pub operating_system_family: Option<String>,
    pub execution_role_arn: Option<String>,
    pub task_role_arn: Option<String>,
    pub containers: Vec<ContainerDefinition>,
}

/// One container definition. `environment_names` and `secret_names` hold names only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerDefinition {
    pub name: String,
    pub image: String,
    pub essential: Option<bool>,
    pub cpu: Option<i32>,
    /// Hard limit in MiB.
    pub memory: Option<i32>,
    /// Soft limit in MiB.
    pub memory_reservation: Option<i32>,
    pub port_mappings: Vec<PortMapping>,
    pub health_check: Option<HealthCheck>,
    pub environment_names: Vec<String>,
    /// Secrets from Secrets Manager or SSM: the variable name and where it comes from
    /// (the ARN or parameter name is a reference, not a secret value).
    pub secrets: Vec<SecretRef>,
    /// Variables loaded from S3 env files: the file ARNs.
    pub environment_files: Vec<String>,
    pub log_configuration: Option<LogConfiguration>,
    pub entry_point: Vec<String>,
    pub command: Vec<String>,
    pub stop_timeout: Option<i32>,
    /// Private registry credentials secret ARN (`repositoryCredentials`).
    pub repository_credentials: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortMapping {
    pub container_port: Option<i32>,
    pub host_port: Option<i32>,
    pub protocol: Option<String>,
}

/// A container health check. Durations are seconds, as in the task definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthCheck {
    pub command: Vec<String>,
    pub interval: Option<i32>,
    pub timeout: Option<i32>,
    pub retries: Option<i32>,
    pub start_period: Option<i32>,
}

impl HealthCheck {
    /// What the check runs, without its leading `CMD` / `CMD-SHELL` word.
    pub fn shell_command(&self) -> String {
        self.command
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretRef {
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfiguration {
    pub log_driver: String,
    /// Driver options such as `awslogs-group`; values here are configuration, not secrets.
    pub options: BTreeMap<String, String>,
}

impl ContainerDefinition {
    /// The awslogs group and stream prefix, when the container logs to CloudWatch.
    pub fn awslogs(&self) -> Option<(&str, Option<&str>)> {
        let config = self.log_configuration.as_ref()?;
        if config.log_driver != "awslogs" {
            return None;
        }
        let group = config.options.get("awslogs-group")?;
        let prefix = config
            .options
            .get("awslogs-stream-prefix")
            .map(String::as_str);
        Some((group.as_str(), prefix))
    }
}

/// Recent log lines of one container (oldest first), already redacted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerLogs {
    pub container: String,
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub lines: Vec<LogLine>,
    /// Token to fetch older lines ("more logs").
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogLine {
    pub timestamp: Option<DateTime<Utc>>,
    pub message: String,
}

/// What the CloudTrail look-up for StopTask found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StopLookup {
    /// No look-up was made (the task was not stopped by a StopTask call, or offline).
    #[default]
    NotAttempted,
    /// The StopTask call that stopped this task.
    Found(StoppedBy),
    /// No matching event yet; CloudTrail delivers events 5 to 15 minutes late.
    NotFoundYet,
    /// The look-up failed; the note on the evidence says why.
    Failed,
}

/// The CloudTrail record of who stopped the task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoppedBy {
    /// The caller's ARN (assumed-role session, IAM user, or service principal).
    pub arn: Option<String>,
    /// `userIdentity.type`: `AssumedRole`, `IAMUser`, `Root`, `AWSService`, ...
    #[serde(rename = "type")]
    pub identity_type: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub time: Option<DateTime<Utc>>,
    /// The `reason` the caller passed to StopTask, if any.
    pub reason: Option<String>,
    pub event_id: Option<String>,
}

impl StoppedBy {
    /// The caller in a few words: `jane.doe (OpsAdmin)` for an SSO or assumed-role
    /// session, `deploy-bot` for an IAM user, `root`, or the service principal; the full
    /// ARN stays in [`StoppedBy::arn`] for the thread. `None` when CloudTrail named nobody.
    pub fn who(&self) -> Option<String> {
        let arn_text = self.arn.as_deref()?;
        let Some(arn) = Arn::parse(arn_text) else {
            return Some(arn_text.to_string());
        };
        let resource = arn.resource();
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let (role, session) = rest.split_once('/').unwrap_or((rest, ""));
            let role = sso_permission_set(role).unwrap_or(role);
            return Some(if session.is_empty() {
                role.to_string()
            } else {
                format!("{session} ({role})")
            });
        }
        if resource == "root" {
            return Some("root".to_string());
        }
        Some(arn::last_segment(resource).to_string())
    }
}

/// `AWSReservedSSO_OpsAdmin_0123abcd` is the role IAM Identity Center makes for the
/// permission set `OpsAdmin`.
fn sso_permission_set(role: &str) -> Option<&str> {
    let rest = role.strip_prefix("AWSReservedSSO_")?;
    let (set, _suffix) = rest.rsplit_once('_')?;
    Some(set)
}

/// One entry from DescribeServices' `events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceEvent {
    pub created_at: Option<DateTime<Utc>>,
    pub message: String,
}

impl Task {
    /// The 32-hex (or older UUID) task id, from the task ARN.
    pub fn id(&self) -> &str {
        arn::task_id(&self.arn)
    }

    /// The cluster name, whether `cluster` holds an ARN or a name.
    pub fn cluster_name(&self) -> &str {
        arn::cluster_name(&self.cluster)
    }

    /// The service name when the task belongs to a service (`group` = `service:NAME`).
    pub fn service_name(&self) -> Option<&str> {
        self.group.as_deref()?.strip_prefix("service:")
    }

    /// Region from the task ARN (`arn:aws:ecs:REGION:...`), or the stored region.
    pub fn region(&self) -> Option<&str> {
        if let Some(region) = self.region.as_deref() {
            return Some(region);
        }
        Arn::parse(&self.arn)
            .filter(|arn| arn.service() == "ecs")
            .and_then(|arn| arn.region())
    }
}

#[cfg(test)]
mod tests {
    use super::StoppedBy;

    fn who(arn: &str) -> Option<String> {
        StoppedBy {
            arn: Some(arn.to_string()),
            ..StoppedBy::default()
        }
        .who()
    }

    #[test]
    fn callers_are_named_in_a_few_words() {
        let sso = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_OpsAdmin_4f2a9c1e7b3d5a60/jane.doe@example.com";
        assert_eq!(who(sso).as_deref(), Some("jane.doe@example.com (OpsAdmin)"));
        let role = "arn:aws:sts::123456789012:assumed-role/deploy-role/gh-actions-42";
        assert_eq!(who(role).as_deref(), Some("gh-actions-42 (deploy-role)"));
        let user = "arn:aws:iam::123456789012:user/ops/bob";
        assert_eq!(who(user).as_deref(), Some("bob"));
        assert_eq!(
            who("arn:aws:iam::123456789012:root").as_deref(),
            Some("root")
        );
        assert_eq!(
            who("ecs.amazonaws.com").as_deref(),
            Some("ecs.amazonaws.com")
        );
        assert_eq!(StoppedBy::default().who(), None);
    }
}
