//! Gathering: the only module that talks to AWS.
//!
//! It turns SDK output into the plain types of [`crate::evidence`]. DescribeTasks comes
//! first; then the task definition (cached by ARN: they are immutable), the service and
//! CloudTrail run concurrently, and logs as soon as the log configuration is known. A
//! failure of one source becomes a note on the evidence, not an error.

pub mod cloudtrail;
pub mod ecs;
pub mod logs;

use crate::evidence::Evidence;
use crate::task_ref::Target;

/// Why no evidence could be gathered at all. Failures of secondary sources (logs,
/// CloudTrail, the service) are notes on the evidence instead.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// Bad input: the user can fix it by changing what they typed.
    #[error("{0}")]
    BadInput(String),
    /// ECS does not know the task (it forgets stopped tasks after about an hour).
    #[error("{0}")]
    TaskMissing(String),
    /// The credentials lack an IAM action; names the action and where to grant it.
    #[error("{0}")]
    AccessDenied(String),
    /// Anything else (network, throttling after retries, AWS errors).
    #[error("{0}")]
    Aws(String),
}

impl GatherError {
    /// True when the user's input was wrong (exit status 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, GatherError::BadInput(_) | GatherError::TaskMissing(_))
    }
}

/// Reads tasks, task definitions, logs and CloudTrail for one region and credential set.
#[derive(Clone)]
pub struct Gatherer {}

impl Gatherer {
    /// Gather the evidence for one target.
    pub async fn gather(&self, _target: &Target) -> Result<Evidence, GatherError> {
        todo!("gather")
    }
}
