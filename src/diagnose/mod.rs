//! Diagnosis: a pure function from [`Evidence`] to [`Diagnosis`].
//!
//! No I/O, no clock, no randomness: the same evidence always gives the same diagnosis,
//! which is what lets recorded cases in `tests/cases/` pin the behaviour down.
//! `catalog` holds every cause as data, `rules` picks one category for a task,
//! `findings` scans log lines and the task definition for specific problems, and
//! `assemble` puts the diagnosis together. `values` and `text` are shared helpers.

mod assemble;
pub mod catalog;
pub mod findings;
pub mod rules;
#[cfg(test)]
mod test_tasks;
mod text;
pub mod values;

use crate::evidence::{Evidence, StoppedBy};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use assemble::console_url;
pub use catalog::{Cause, CauseId, UnknownCauseId};
pub use findings::{Finding, FindingKind};

/// The answer: one cause, the evidence it rests on, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub task: TaskSummary,
    /// Catalog id, e.g. `out-of-memory`.
    pub category: CauseId,
    /// The catalog's title for the category (or the not-stopped title).
    pub title: String,
    /// The specific cause in a few words, from this task's own evidence and without the
    /// service's name (`ELB health check GET / got 404`): the card's header and the
    /// notification text put the service in front of it. The title when nothing more
    /// specific is known.
    pub headline: String,
    /// One or two sentences: what happened to this task, with its own values.
    pub summary: String,
    /// The facts the category rests on, one per line, quoted from the evidence.
    pub evidence: Vec<String>,
    /// Concrete next steps, using the task's own values where known.
    pub fixes: Vec<String>,
    pub findings: Vec<Finding>,
    pub stopped_by: Option<StoppedBy>,
    /// What could not be checked (missing permissions, CloudTrail lag, ...).
    pub notes: Vec<String>,
    /// AWS console URL of the task, when region and cluster are known.
    pub console_url: Option<String>,
}

/// The task fields every output shows (the `task` object of `--format json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub arn: String,
    pub cluster: String,
    pub group: Option<String>,
    pub task_definition: String,
    pub region: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub containers: Vec<ContainerSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerSummary {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// Diagnose one task. Pure: depends only on `evidence`.
pub fn diagnose(evidence: &Evidence) -> Diagnosis {
    assemble::diagnose(evidence)
}
