//! What the probes found, on the card and in its thread: **Confirmed** with the proof,
//! or **Likely** with what was ruled out and what could not be checked; the change that
//! explains the cause; and the "What changed since web:41" reply with the deployment.

use super::build::{context, list_text, message, section, Budget};
use crate::diagnose::{Confidence, Diagnosis};
use crate::render::escape::{self, truncate_escaped};
use crate::render::probes::{change_line, changes_heading, deployment_line, no_changes};
use slack_morphism::prelude::*;

/// The card's blocks for the probes' verdict; none when the probes did not run.
pub(super) fn verdict_blocks(d: &Diagnosis, b: &Budget) -> Vec<SlackBlock> {
    let Some(probes) = &d.probes else {
        return Vec::new();
    };
    let mut blocks = Vec::new();
    if d.confidence == Confidence::Confirmed {
        let lines = d
            .proof
            .iter()
            .map(|p| format!("• {}", escape::untrusted(p)))
            .collect();
        blocks.push(section(&list_text(
            "*:white_check_mark: Confirmed in the account*",
            lines,
            b.of(1500),
            "proofs",
        )));
    }
    let mut context_lines = Vec::new();
    if let Some(change) = d.key_change.as_ref().filter(|c| !d.proof.contains(c)) {
        context_lines.push(format!("*What changed:* {}", escape::untrusted(change)));
    }
    if d.confidence == Confidence::Likely {
        let checked = probes.checks.len();
        context_lines.push(if checked == 0 && d.unchecked.is_empty() {
            "*Likely:* no probe applies to this cause".to_string()
        } else if checked == 0 {
            "*Likely:* the probes could not check it".to_string()
        } else {
            format!(
                "*Likely:* {checked} check{} in the account found no proof",
                if checked == 1 { "" } else { "s" }
            )
        });
    }
    for ruled_out in &d.ruled_out {
        context_lines.push(format!("ruled out: {}", escape::untrusted(ruled_out)));
    }
    if !d.unchecked.is_empty() {
        let first = escape::untrusted(&d.unchecked[0]);
        let more = d.unchecked.len() - 1;
        context_lines.push(if more == 0 {
            format!(":grey_question: Not checked: {first}")
        } else {
            format!(":grey_question: Not checked: {first} (and {more} more in the thread)")
        });
    }
    if !context_lines.is_empty() {
        blocks.push(context(vec![truncate_escaped(
            &context_lines.join("\n"),
            b.of(1500),
        )
        .into_owned()]));
    }
    blocks
}

/// The thread replies for the probes' results: what changed since the previous
/// deployment or revision (and the deployment itself), what else was checked and what
/// could not be. None when the probes did not run or found nothing to add.
pub fn probe_replies(d: &Diagnosis) -> Vec<SlackMessageContent> {
    let Some(probes) = &d.probes else {
        return Vec::new();
    };
    let mut replies = Vec::new();
    if probes.changes.is_some() || probes.deployment.is_some() {
        let mut blocks = Vec::new();
        let mut fallback = "What changed".to_string();
        if let Some(changes) = &probes.changes {
            let heading = changes_heading(changes);
            fallback = escape::untrusted(&heading);
            let lines: Vec<String> = if changes.changes.is_empty() {
                vec![escape::untrusted(&no_changes(changes))]
            } else {
                changes
                    .changes
                    .iter()
                    .map(|c| format!("• {}", escape::untrusted(&change_line(c))))
                    .collect()
            };
            blocks.push(section(&list_text(
                &format!("*{}*", escape::untrusted(&heading)),
                lines,
                2800,
                "changes",
            )));
        }
        if let Some(story) = &probes.deployment {
            blocks.push(context(vec![truncate_escaped(
                &escape::untrusted(&deployment_line(story)),
                1900,
            )
            .into_owned()]));
        }
        replies.push(message(fallback, blocks));
    }
    let mut checked: Vec<String> = Vec::new();
    checked.extend(
        d.ruled_out
            .iter()
            .map(|l| format!("• ruled out: {}", escape::untrusted(l))),
    );
    checked.extend(
        d.context
            .iter()
            .map(|l| format!("• {}", escape::untrusted(l))),
    );
    checked.extend(
        d.unchecked
            .iter()
            .map(|l| format!("• :grey_question: {}", escape::untrusted(l))),
    );
    if !checked.is_empty() {
        replies.push(message(
            "What ecs-why checked in the account".to_string(),
            vec![section(&list_text(
                "*Checked in the account*",
                checked,
                2800,
                "checks",
            ))],
        ));
    }
    replies
}
