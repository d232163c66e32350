//! The bot's whole answer to one investigation, rendered: the card, the details that go
//! in its thread, what the probes add once they finish, and the answers to follow-up
//! buttons. The Slack edge and the alerts post these; neither renders on its own.

use super::facts::CardFacts;
use super::thread::{log_tail, service_events, stopped_by, task_definition};
use super::{button_ref, card_with, probe_replies};
use crate::diagnose::Diagnosis;
use crate::evidence::{Evidence, StopLookup};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::investigate::{FollowUpFound, Investigation};
use crate::render::escape;
use slack_morphism::prelude::SlackMessageContent;

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

/// The card for `investigation`, with what its evidence adds (log tails, where other
/// logs are).
pub fn card_of(investigation: &Investigation) -> SlackMessageContent {
    card_with(
        &investigation.diagnosis,
        &CardFacts::from_evidence(&investigation.evidence),
    )
}

/// The thread replies under a card: the log tails, who stopped the task when someone
/// did, and the task definition.
pub fn details(investigation: &Investigation) -> Vec<SlackMessageContent> {
    let evidence: &Evidence = &investigation.evidence;
    let reference = button_ref(&investigation.diagnosis.task);
    let mut details = Vec::new();
    for logs in &evidence.logs {
        details.extend(log_tail(logs, reference.as_ref()));
    }
    // Nothing to say about a stop nobody made.
    if evidence.stop_lookup != StopLookup::NotAttempted {
        details.push(stopped_by(&evidence.stop_lookup, reference.as_ref()));
    }
    if let Some(definition) = &evidence.task_definition {
        details.push(task_definition(definition));
    }
    details
}

/// What the probes add under a card already posted: the thread replies (what changed,
/// what was checked) and the files (the memory graph of an out-of-memory stop).
pub fn confirmed_extras(diagnosis: &Diagnosis) -> (Vec<SlackMessageContent>, Vec<Attachment>) {
    (
        probe_replies(diagnosis),
        memory_graph(diagnosis).into_iter().collect(),
    )
}

/// The memory graph as a PNG to share in the thread, when the probes drew one.
fn memory_graph(diagnosis: &Diagnosis) -> Option<Attachment> {
    let series = diagnosis.probes.as_ref()?.memory.as_ref()?;
    let task_id = crate::arn::task_id(&diagnosis.task.arn);
    let title = format!("Memory of task {task_id} before it stopped");
    match crate::render::memory_graph::png(series, &title) {
        Ok(bytes) => Some(Attachment {
            filename: format!("memory-{task_id}.png"),
            alt_text: crate::render::memory_graph::sparkline(series),
            title,
            content_type: "image/png".to_string(),
            bytes,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "the memory graph could not be drawn");
            None
        }
    }
}

/// The thread replies answering a follow-up button with what was found.
pub fn follow_up(
    kind: FollowUp,
    button: &ButtonRef,
    found: &FollowUpFound,
) -> Vec<SlackMessageContent> {
    let reference = ButtonRef {
        container: None,
        page_token: None,
        ..button.clone()
    };
    match found {
        FollowUpFound::LogPage(logs) => log_tail(logs, Some(&reference)),
        FollowUpFound::ServiceEvents(events) => vec![service_events(events)],
        FollowUpFound::Now(now) => match kind {
            FollowUp::WhoStopped => vec![stopped_by(&now.evidence.stop_lookup, Some(&reference))],
            FollowUp::TaskDefinition => match &now.evidence.task_definition {
                Some(definition) => vec![task_definition(definition)],
                None => vec![SlackMessageContent::new().with_text(format!(
                    ":warning: The task definition could not be read. {}",
                    escape::mrkdwn(
                        &now.evidence
                            .notes
                            .iter()
                            .map(|n| n.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                ))],
            },
            _ => Vec::new(),
        },
    }
}
