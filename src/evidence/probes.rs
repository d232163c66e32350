//! What the read-only probes found, as plain data.
//!
//! `gather/probes/` fills these after the rules have picked a cause; the diagnosis reads
//! them (pure, like the rest of [`crate::diagnose`]) to say **Confirmed** with the proof or
//! **Likely** with what could not be checked. They serialise with the evidence, so a
//! recorded case can carry its probes and be explained again offline. Nothing here holds
//! a secret's, a parameter's or an environment variable's value: names and metadata only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// Which check: `ecr-image`, `image-architecture`, `pull-permission`,
    /// `subnet-egress`, `secret`, `secret-permission`, `log-group`, `target-health`,
    /// `memory`, `definition-change`.
    pub probe: String,
    pub outcome: CheckOutcome,
    /// One line with the account's own values, e.g. `ECR repository orders has no tag
    /// v1.4.2 (newest push 2026-11-20 14:02 UTC: v1.4.1)`.
    pub detail: String,
}

impl Check {
    pub fn new(probe: &str, outcome: CheckOutcome, detail: impl Into<String>) -> Check {
        Check {
            probe: probe.to_string(),
            outcome,
            detail: detail.into(),
        }
    }
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
    /// `image`, `cpu`, `memory`, `memory-reservation`, `command`, `entry-point`,
    /// `health-check`, `port-mappings`, `runtime-platform`, `environment`, `secrets`,
    /// `container` (a container added or removed).
    pub field: String,
    pub kind: ChangeKind,
    /// The variable's or secret's name for `environment` and `secrets`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For a reader: `nginx:1.25 → nginx:1.27`, `512 → 256 MiB`, `DATABASE_URL was
    /// removed`, `API_KEY's value changed` (never the value).
    pub detail: String,
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
