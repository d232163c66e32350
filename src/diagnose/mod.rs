//! Diagnosis: a pure function from [`Evidence`] to [`Diagnosis`].
//!
//! No I/O, no clock, no randomness: the same evidence always gives the same diagnosis,
//! which is what lets recorded cases in `tests/cases/` pin the behaviour down.
//! `catalog` holds every cause as data, `rules` picks one category for a task,
//! `findings` scans log lines and the task definition for specific problems, and
//! `assemble` puts the diagnosis together. `layers` reads a stop reason by its layers
//! (`CannotStartContainerError: ...: exec: ...`). `text` holds shared wording helpers; the
//! task's own values are read by [`crate::values`].

mod assemble;
pub mod catalog;
pub mod findings;
pub mod layers;
pub mod recent;
pub mod rules;
#[cfg(test)]
mod test_tasks;
mod text;

use crate::evidence::{Evidence, StoppedBy};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use assemble::console_url;
pub use catalog::{Cause, CauseId, UnknownCauseId};
pub use findings::{Finding, FindingKind};
pub use layers::{Layer, LayerKind, ReasonChain};
pub use recent::SameWay;

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
    /// The read-only checks that would confirm (or rule out) the cause, for the probes
    /// to run: the rule's own, and those every task gets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::evidence::probes::CheckRequest>,
    /// One or two sentences: what happened to this task, with its own values.
    pub summary: String,
    /// The facts the category rests on, one per line, quoted from the evidence.
    pub evidence: Vec<String>,
    /// The reason that tells why it stopped, read by its layers, when its words sit
    /// under two or more wrappers (`CannotStartContainerError › … › exec: ...`); `None`
    /// otherwise: the reason reads well as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_layers: Option<ReasonLayers>,
    /// Concrete next steps, using the task's own values where known.
    pub fixes: Vec<String>,
    pub findings: Vec<Finding>,
    pub stopped_by: Option<StoppedBy>,
    /// What could not be checked (missing permissions, CloudTrail lag, ...).
    pub notes: Vec<crate::evidence::Note>,
    /// AWS console URL of the task, when region and cluster are known.
    pub console_url: Option<String>,
    /// The service the task belongs to, else its task definition's family: the card's
    /// header and the terminal's first line name it.
    #[serde(default)]
    pub owner: Option<String>,
    /// Of the service's recent stops, how many stopped like this one (`None`: fewer
    /// than two known).
    #[serde(default)]
    pub same_way: Option<SameWay>,
    /// `confirmed` when a read-only probe proved the cause in the account, `likely` when
    /// only the rules speak.
    #[serde(default)]
    pub confidence: Confidence,
    /// The probes' proof of the cause, one line each (empty unless confirmed).
    #[serde(default)]
    pub proof: Vec<String>,
    /// Suspects the probes ruled out ("the tag exists", "the role may read the secret").
    #[serde(default)]
    pub ruled_out: Vec<String>,
    /// Facts the probes found that neither prove nor rule out (the target group's check).
    #[serde(default)]
    pub context: Vec<String>,
    /// What the probes could not check, each naming the IAM action or the reason.
    #[serde(default)]
    pub unchecked: Vec<String>,
    /// The task-definition change that explains the cause ("DATABASE_URL was removed in
    /// web:42").
    #[serde(default)]
    pub key_change: Option<String>,
    /// The probes' full results (every change, the deployment, the memory series);
    /// `None` when the probes did not run.
    #[serde(default)]
    pub probes: Option<crate::evidence::ProbeResults>,
}

/// A stop reason read by its layers, as the card and the terminal show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonLayers {
    /// The container whose reason it is; `None` for the task's stopped reason.
    pub container: Option<String>,
    /// Outermost first: every error name, `…` for the steps between them, then the
    /// innermost words (redacted, cut to [`MAX_LAYER_CHARS`]).
    pub layers: Vec<String>,
}

/// The innermost words of a reason read by layers are cut to this many characters.
pub const MAX_LAYER_CHARS: usize = 240;

impl ReasonLayers {
    /// `CannotStartContainerError › … › exec: "x": executable file not found in $PATH`.
    pub fn joined(&self) -> String {
        self.layers.join(" › ")
    }
}

/// How sure the answer is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// A probe proved the cause against the account.
    Confirmed,
    /// Only the rules support it (probes did not run, or proved nothing).
    #[default]
    Likely,
}

impl Confidence {
    /// `Confirmed` or `Likely`, as the card and the terminal say it.
    pub fn word(self) -> &'static str {
        match self {
            Confidence::Confirmed => "Confirmed",
            Confidence::Likely => "Likely",
        }
    }
}

/// The task fields every output shows (the `task` object of `--format json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub arn: String,
    pub cluster: String,
    pub group: Option<String>,
    pub task_definition: String,
    pub region: Option<String>,
    pub stop_code: Option<crate::evidence::StopCode>,
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
