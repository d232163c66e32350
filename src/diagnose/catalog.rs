//! The catalog of causes, as data: one entry per way an ECS task can stop.
//!
//! Ids are a contract (the `category` field of `--format json`); see DESIGN.md.

use serde::{Deserialize, Serialize};

/// A catalog id. Serialises as the kebab-case id string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CauseId {
    ImagePullFailed,
    SecretsOrRegistryAuth,
    NetworkSetupFailed,
    ContainerExitedAppError,
    ContainerExitedSuccess,
    ContainerKilledSigkill,
    OutOfMemory,
    Segfault,
    EntrypointFailed,
    ContainerHealthCheckFailed,
    ElbHealthCheckFailed,
    StoppedByUser,
    ScalingEvent,
    DeploymentReplaced,
    InfrastructureMaintenance,
    SpotInterruption,
    InstanceUnhealthyOrTerminated,
    InsufficientResourcesPlacement,
    TaskLimitQuota,
    ContainerCreateFailed,
    DockerTimeout,
    InternalError,
    Other,
}

/// One cause: what it is called, what it means, and the general way to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cause {
    pub id: CauseId,
    pub title: &'static str,
    pub meaning: &'static str,
    pub general_fixes: &'static [&'static str],
}
