//! The bot's handle on the diagnosis engine: gather, diagnose, render, as one trait.
//!
//! The Slack side only needs "a card and its thread replies for this target" and "the
//! messages for this follow-up". Keeping that behind [`Engine`] lets the handlers be
//! tested with a fake engine, and keeps every bit of diagnosis logic out of `slack/`.
//! The production implementation over `Gatherer`, `diagnose` and `render::blocks` is
//! `AwsEngine` in `aws_engine.rs`.

use crate::diagnose::Diagnosis;
use crate::evidence::{Evidence, Task};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::gather::GatherError;
use crate::task_ref::Target;
use futures::future::BoxFuture;
use slack_morphism::prelude::SlackMessageContent;
use std::sync::Arc;

/// A diagnosis ready to post.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The task that was explained (a service target resolves to one of its tasks).
    pub task_arn: String,
    /// The card, with its follow-up buttons.
    pub card: SlackMessageContent,
    /// Thread replies: log tail, who stopped it, task definition summary; each within
    /// Block Kit's limits already.
    pub details: Vec<SlackMessageContent>,
    /// What the read-only probes need to check the cause once the card is posted
    /// ([`Engine::confirm`]); `None` when there is nothing to check.
    pub to_confirm: Option<Arc<Evidence>>,
}

/// What the probes add to a posted card: the card again (now Confirmed or Likely, with
/// the proof), and the thread replies and files that go under it.
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub card: SlackMessageContent,
    pub replies: Vec<SlackMessageContent>,
    pub files: Vec<Attachment>,
}

/// A file to share in the card's thread (the memory graph).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub title: String,
    /// What the image shows, for screen readers.
    pub alt_text: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// An alert's diagnosis: the answer to post, and the diagnosis its incident is keyed on
/// (cause and key fact).
#[derive(Debug, Clone)]
pub struct Alerted {
    pub answer: Answer,
    pub diagnosis: Diagnosis,
}

/// Why the engine gave no answer, so the bot can word the reply. (Not
/// [`crate::gather::FailureKind`], which classifies one failed AWS call.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineErrorKind {
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

/// Why there is no answer. The message is for the asker: it names the cause and the fix.
/// Not escaped: the bot escapes it before posting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    pub kind: EngineErrorKind,
    pub message: String,
}

impl From<GatherError> for EngineError {
    fn from(e: GatherError) -> Self {
        let kind = match &e {
            GatherError::BadInput(_) => EngineErrorKind::BadInput,
            GatherError::TaskMissing(_) => EngineErrorKind::TaskMissing,
            GatherError::AccessDenied(_) => EngineErrorKind::AccessDenied,
            GatherError::Aws(_) => EngineErrorKind::Aws,
        };
        EngineError {
            kind,
            message: e.to_string(),
        }
    }
}

/// Gather, diagnose and render. `role_arn` is the channel's role to assume, if any.
pub trait Engine: Send + Sync + 'static {
    /// Diagnose one target: the card and its thread replies.
    fn diagnose<'a>(
        &'a self,
        target: &'a Target,
        role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Answer, EngineError>>;

    /// Diagnose a stopped task an EventBridge event already holds (alerts): no
    /// DescribeTasks, no service events.
    fn diagnose_stopped<'a>(
        &'a self,
        task: &'a Task,
        role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Alerted, EngineError>>;

    /// Answer a follow-up button (not `Rerun` or `OpenConsole`, which the bot handles):
    /// the thread replies to post, in order.
    fn follow_up<'a>(
        &'a self,
        kind: FollowUp,
        button: &'a ButtonRef,
        role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SlackMessageContent>, EngineError>>;

    /// Run the read-only probes for an answer whose card is posted: the card updated
    /// with their verdict, and what goes in its thread. `None` when the answer has
    /// nothing to check or the engine has no probes (the card stays as posted).
    fn confirm<'a>(
        &'a self,
        answer: &'a Answer,
        role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Option<Confirmed>> {
        let _ = (answer, role_arn);
        Box::pin(async { None })
    }
}

/// The target a button refers to (its values were validated by `ButtonRef::decode`).
pub fn target_of(button: &ButtonRef) -> Result<Target, EngineError> {
    Target::parse(
        &button.task_arn,
        Some(&button.cluster),
        Some(&button.region),
    )
    .map_err(|e| EngineError {
        kind: EngineErrorKind::BadInput,
        message: format!("{e}; run `/ecs why` again for a new card"),
    })
}
