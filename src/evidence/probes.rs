//! The read-only checks the rules ask for, and what the probes found, as plain data.
//!
//! The rules say which checks would confirm their verdict ([`CheckRequest`], on the
//! diagnosis); `gather/probes/` runs those requests and fills [`ProbeResults`]; the
//! diagnosis reads them (pure, like the rest of [`crate::diagnose`]) to say
//! **Confirmed** with the proof or **Likely** with what could not be checked. Neither
//! side imports the other: these types are the seam. They serialise with the evidence, so a
//! recorded case can carry its probes and be explained again offline. Nothing here holds
//! a secret's, a parameter's or an environment variable's value: names and metadata only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A read-only check that would confirm (or rule out) a verdict. A request is asked
/// even where the evidence may not allow it (no subnet known, no target group): the
/// probe then makes no call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum CheckRequest {
    /// The failing containers' images in ECR (tag or digest, the newest push, the
    /// platforms) and whether the execution role may pull them.
    ImagePull,
    /// Only these containers' image platforms against the task's CPU architecture: the
    /// image was pulled, its binary did not run.
    ImagePlatforms { containers: Vec<String> },
    /// Whether the task's subnet reaches what it needs: `reach`; `proves` when a
    /// subnet that reaches nothing explains the cause (not a network interface that
    /// could not be set up, where the route is only context).
    SubnetEgress { reach: Reach, proves: bool },
    /// The secrets and parameters the task definition references (with
    /// `registry_only`, only its private registry credentials): they exist, are not
    /// being deleted, and the execution role may read and decrypt them.
    Secrets { registry_only: bool },
    /// The awslogs groups the task writes to exist (when a reason speaks of logging).
    LogGroup,
    /// The target group's health check and its targets, against the container's start.
    TargetHealth,
    /// The task's memory in the minutes before it stopped.
    MemoryBeforeStop,
    /// What changed in the task definition since the previous deployment, and that
    /// deployment's story (for every service task, whatever the cause).
    DefinitionChanges,
}

impl CheckRequest {
    /// The check reads the logs too (the target health check judges the container's start
    /// time from them), so it cannot run before they are read.
    pub fn needs_logs(&self) -> bool {
        matches!(self, CheckRequest::TargetHealth)
    }
}

/// What a task's subnet must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// Its image registry (ECR's endpoints).
    Registry,
    /// ECR and the services its task definition uses (Secrets Manager, SSM, Logs).
    TaskServices,
}

/// Everything the probes of one diagnosis found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeResults {
    /// Each check that ran, in a stable order (by probe, then as the probe listed them).
    pub checks: Vec<Check>,
    /// What could not be checked and why, each a sentence naming the missing IAM action
    /// (`iam:SimulatePrincipalPolicy was denied: ...`) or the reason (a time-out).
    pub unchecked: Vec<String>,
    /// The task definition compared with the one the service ran before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<DefinitionChanges>,
    /// The deployment that started the task, for a service task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentStory>,
    /// The task's memory in the minutes before it stopped (out-of-memory causes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemorySeries>,
}

impl ProbeResults {
    /// The checks that prove the cause.
    pub fn confirming(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| c.outcome == CheckOutcome::Confirms)
    }

    /// Add another probe's findings to these.
    pub fn merge(&mut self, other: ProbeResults) {
        self.checks.extend(other.checks);
        self.unchecked.extend(other.unchecked);
        self.changes = self.changes.take().or(other.changes);
        self.deployment = self.deployment.take().or(other.deployment);
        self.memory = self.memory.take().or(other.memory);
    }
}

/// One fact a probe established, and what it means for the cause.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Check {
    /// Which check it was.
    pub probe: CheckId,
    pub outcome: CheckOutcome,
    /// One line with the account's own values, e.g. `ECR repository orders has no tag
    /// v1.4.2 (newest push 2026-11-20 14:02 UTC: v1.4.1)`.
    pub detail: String,
}

impl Check {
    pub fn new(probe: CheckId, outcome: CheckOutcome, detail: impl Into<String>) -> Check {
        Check {
            probe,
            outcome,
            detail: detail.into(),
        }
    }
}

/// Which check a [`Check`] is (its `probe` field in JSON and recorded cases).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// The image's tag or digest in ECR, and the newest push.
    EcrImage,
    /// The image's platforms against the task's CPU architecture.
    ImageArchitecture,
    /// The execution role may pull from ECR.
    PullPermission,
    /// The task's subnet reaches ECR and the services it needs.
    SubnetEgress,
    /// A secret or parameter exists (and is not being deleted).
    Secret,
    /// The execution role may read (and decrypt) a secret or parameter.
    SecretPermission,
    /// The awslogs group exists.
    LogGroup,
    /// The target group's health check and targets.
    TargetHealth,
    /// The task's memory before the stop.
    Memory,
    /// What changed in the task definition.
    #[default]
    DefinitionChange,
}

/// What a check says about the cause the rules picked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckOutcome {
    /// The account shows the cause: the tag is missing, the secret does not exist.
    Confirms,
    /// The account rules this suspect out: the tag exists, the role may read the secret.
    RulesOut,
    /// A fact worth showing that neither proves nor rules out the cause.
    #[default]
    Context,
}

/// How the task's task definition differs from the one the service ran before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DefinitionChanges {
    /// `family:revision` the task ran, e.g. `web:42`.
    pub to: String,
    /// `family:revision` it is compared with, e.g. `web:41`.
    pub from: String,
    /// Why `from` was chosen: `previous deployment` or `previous revision`.
    pub basis: String,
    pub changes: Vec<DefinitionChange>,
}

/// One difference between two task definitions. Values of environment variables and
/// secrets are compared, never shown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DefinitionChange {
    /// The container, or `None` for task-level fields (cpu, memory, runtime platform).
    pub container: Option<String>,
    pub field: ChangedField,
    pub kind: ChangeKind,
    /// The variable's or secret's name for `environment` and `secrets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For a reader: `nginx:1.25 → nginx:1.27`, `512 → 256 MiB`, `DATABASE_URL was
    /// removed`, `API_KEY's value changed` (never the value).
    pub detail: String,
}

/// What part of a task definition changed (`field` in JSON and recorded cases).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangedField {
    #[default]
    Image,
    Cpu,
    Memory,
    MemoryReservation,
    Command,
    EntryPoint,
    HealthCheck,
    PortMappings,
    RuntimePlatform,
    Environment,
    Secrets,
    /// A container added or removed.
    Container,
}

impl ChangedField {
    /// An environment variable or a secret: the change has a variable's name.
    pub fn is_variable(self) -> bool {
        matches!(self, ChangedField::Environment | ChangedField::Secrets)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Added,
    Removed,
    #[default]
    Changed,
}

/// The deployment that started a service task and the one before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeploymentStory {
    /// `ecs-svc/...`, the task's `startedBy`.
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: Option<String>,
    /// `family:revision` of the deployment's task definition.
    pub task_definition: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`, and ECS's reason for it.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub failed_tasks: Option<i32>,
    pub running_count: Option<i32>,
    pub desired_count: Option<i32>,
    /// The circuit breaker rolled the deployment back (its reason or a service event
    /// says so).
    pub rolled_back: bool,
    /// The deployment before it, when ECS still lists it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousDeployment>,
}

/// The deployment a new one replaced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreviousDeployment {
    pub id: String,
    pub task_definition: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// How long it ran before the new deployment began, in seconds.
    pub ran_for_seconds: Option<i64>,
    /// Its tasks' stops among the service's recent stops, when those were counted.
    pub stops_seen: Option<usize>,
}

/// A memory metric over the minutes before the task stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemorySeries {
    /// Where the figures come from, e.g. `Container Insights MemoryUtilized (task)` or
    /// `AWS/ECS MemoryUtilization (service average)`.
    pub source: String,
    /// `MiB` or `Percent`.
    pub unit: String,
    /// Oldest first.
    pub points: Vec<MemoryPoint>,
    /// The limit in the same unit (the task's or container's MiB, or 100 percent).
    pub limit: Option<f64>,
    /// When the task stopped: the graph's right edge.
    pub stopped_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryPoint {
    pub at: DateTime<Utc>,
    pub value: f64,
}
