//! One investigation, whoever asks: the CLI, the bot (commands, mentions, buttons,
//! Socket Mode) and the alerts all turn a [`Subject`] read with an [`Access`] into an
//! [`Investigation`] here, through the [`Investigate`] seam.
//!
//! The pipeline: gather the evidence ([`crate::gather`]), diagnose it
//! ([`crate::diagnose`], pure), run the read-only checks the diagnosis asks for
//! ([`crate::gather::probes`]), and diagnose again with what they found: **Confirmed**
//! with the proof, or **Likely** with what could not be checked. Whether the checks run
//! before the answer (the CLI) or after it is shown (the bot and the alerts post first,
//! then update) is the caller's choice of [`Investigate::investigate`] then
//! [`Investigate::confirm`]; every caller confirms. [`access`] decides whose
//! credentials read a task; [`Investigator`] is the production implementation.

pub mod access;
mod early;
mod investigator;

pub use access::Access;
pub use early::EarlyChecks;
pub use investigator::Investigator;

use crate::diagnose::{diagnose, Diagnosis};
use crate::evidence::{ContainerLogs, Evidence, ServiceEvent, Task};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::gather::{GatherError, Gatherer};
use crate::task_ref::Target;
use futures::future::BoxFuture;
use std::sync::Arc;

/// What is investigated.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A task or service someone named (CLI, command, mention, Re-run).
    Named(Target),
    /// A stopped task an EventBridge event already holds (alerts): no DescribeTasks.
    Stopped(Box<Task>),
}

/// The evidence about one task and its diagnosis, shared cheaply.
#[derive(Debug, Clone)]
pub struct Investigation {
    pub evidence: Arc<Evidence>,
    pub diagnosis: Arc<Diagnosis>,
    /// Checks started while the evidence was read, for [`Investigate::confirm`] to reuse.
    pub early: Option<EarlyChecks>,
}

impl Investigation {
    /// Diagnose `evidence`.
    pub fn of(evidence: Evidence) -> Investigation {
        let diagnosis = diagnose(&evidence);
        Investigation {
            evidence: Arc::new(evidence),
            diagnosis: Arc::new(diagnosis),
            early: None,
        }
    }

    /// The investigated task's ARN (a service subject resolves to one of its tasks).
    pub fn task_arn(&self) -> &str {
        &self.evidence.task.arn
    }

    /// The probes ran: the diagnosis says Confirmed or Likely with what they found.
    pub fn is_confirmed(&self) -> bool {
        self.evidence.probes.is_some()
    }
}

/// What a follow-up button found.
#[derive(Debug, Clone)]
pub enum FollowUpFound {
    /// A page of a container's logs (More logs).
    LogPage(ContainerLogs),
    /// The task as it is now (Who stopped it, Task definition).
    Now(Investigation),
    /// The service's latest events (Service events); empty for a standalone task.
    ServiceEvents(Vec<ServiceEvent>),
}

/// A service as DescribeServices shows it now.
#[derive(Debug, Clone, Default)]
pub struct ServiceState {
    /// The latest events, newest first.
    pub events: Vec<ServiceEvent>,
    pub facts: crate::evidence::ServiceFacts,
}

/// Why an investigation has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The reference cannot be looked up as given.
    BadInput,
    /// No such task (or service task) where we looked.
    TaskMissing,
    /// IAM refused a call; the message names the action.
    AccessDenied,
    /// AWS failed or did not answer.
    Aws,
    /// The bot is shutting down and takes no new AWS work; ask again shortly.
    ShuttingDown,
}

/// Why there is no answer. The message is for the asker: it names the cause and the
/// fix. Not escaped: whoever shows it escapes it for where it goes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvestigateError {
    pub kind: ErrorKind,
    pub message: String,
}

impl InvestigateError {
    pub fn bad_input(message: impl Into<String>) -> InvestigateError {
        InvestigateError {
            kind: ErrorKind::BadInput,
            message: message.into(),
        }
    }
}

impl From<GatherError> for InvestigateError {
    fn from(e: GatherError) -> Self {
        let kind = match &e {
            GatherError::BadInput(_) => ErrorKind::BadInput,
            GatherError::TaskMissing(_) => ErrorKind::TaskMissing,
            GatherError::AccessDenied(_) => ErrorKind::AccessDenied,
            GatherError::Aws(_) => ErrorKind::Aws,
        };
        InvestigateError {
            kind,
            message: e.to_string(),
        }
    }
}

/// The seam between the ways of asking and AWS: gather and diagnose, confirm with the
/// probes, and read what a follow-up button needs. Tests put a fake behind it.
pub trait Investigate: Send + Sync + 'static {
    /// Gather the evidence about `subject` and diagnose it (without the probes).
    fn investigate<'a>(
        &'a self,
        subject: &'a Subject,
        access: &'a Access,
    ) -> BoxFuture<'a, Result<Investigation, InvestigateError>>;

    /// Run the read-only checks `investigation`'s diagnosis asks for and diagnose again
    /// with what they found. `None` when there is nothing to check (the answer stands).
    fn confirm<'a>(
        &'a self,
        investigation: &'a Investigation,
        access: &'a Access,
    ) -> BoxFuture<'a, Option<Investigation>>;

    /// What a follow-up button (More logs, Who stopped it, Task definition, Service
    /// events) needs, read now.
    fn follow_up<'a>(
        &'a self,
        kind: FollowUp,
        button: &'a ButtonRef,
        access: &'a Access,
    ) -> BoxFuture<'a, Result<FollowUpFound, InvestigateError>>;

    /// A service as ECS shows it now, in `region`: its latest events (why its tasks
    /// cannot be placed) and its deployments (what a rollback returns to). `None` when
    /// it cannot be read (the reason is logged).
    fn service<'a>(
        &'a self,
        _cluster: &'a str,
        _service: &'a str,
        _region: Option<&'a str>,
        _access: &'a Access,
    ) -> BoxFuture<'a, Option<ServiceState>> {
        Box::pin(async { None })
    }
}

/// Run the checks `investigation`'s diagnosis asks for with `gatherer` (reusing those
/// started early), and diagnose again with what they found.
pub async fn confirm_with(gatherer: &Gatherer, investigation: &Investigation) -> Investigation {
    let evidence = early::confirm(
        gatherer,
        &investigation.evidence,
        investigation.early.as_ref(),
    )
    .await;
    Investigation::of(evidence)
}

/// The target a button refers to (its values were validated by `ButtonRef::decode`).
pub fn target_of(button: &ButtonRef) -> Result<Target, InvestigateError> {
    Target::parse(
        &button.task_arn,
        Some(&button.cluster),
        Some(&button.region),
    )
    .map_err(|e| InvestigateError::bad_input(format!("{e}; run `/ecs why` again for a new card")))
}
