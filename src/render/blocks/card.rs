//! The diagnosis card: header, key facts, cause, evidence, findings, fixes, who stopped
//! it, notes and the follow-up buttons. Built from the [`Diagnosis`] alone (and its
//! [`TaskSummary`]), never from the raw evidence.

use super::build::{
    button, context, fit, header, inline_code, list_text, quote, section, section_with_fields,
    slack_date, url_button, valid, Budget,
};
use super::limits;
use crate::arn;
use crate::diagnose::{Diagnosis, TaskSummary};
use crate::evidence::StoppedBy;
use crate::follow_up::{ButtonRef, FollowUp};
use crate::render::escape::{self, truncate, truncate_escaped};
use crate::render::json::{category, finding_kind};
use serde_json::Value;
use slack_morphism::prelude::*;

/// The diagnosis card: header, key facts, cause, evidence, findings, fixes, who stopped
/// it, notes and the follow-up buttons. Always within Block Kit limits.
pub fn card(d: &Diagnosis) -> SlackMessageContent {
    let blocks = fit(|scale| card_blocks(d, scale));
    SlackMessageContent::new()
        .with_text(fallback_text(d))
        .with_blocks(blocks)
}

/// `--format blocks`: the card as `{"text": ..., "blocks": [...]}`, ready for
/// chat.postMessage.
pub fn to_blocks_json(d: &Diagnosis) -> Value {
    let content = card(d);
    let mut object = serde_json::Map::new();
    object.insert(
        "text".into(),
        Value::String(content.text.clone().unwrap_or_default()),
    );
    let blocks = serde_json::to_value(content.blocks.unwrap_or_default())
        .unwrap_or_else(|_| Value::Array(Vec::new()));
    object.insert("blocks".into(), blocks);
    Value::Object(object)
}

/// The references the follow-up buttons carry for this task, when region, cluster and
/// task ARN are all known and valid (otherwise the card has no follow-up buttons).
pub fn button_ref(task: &TaskSummary) -> Option<ButtonRef> {
    let region = task.region.as_deref().or_else(|| arn::region(&task.arn))?;
    let candidate = ButtonRef {
        region: region.to_string(),
        cluster: task.cluster.clone(),
        task_arn: task.arn.clone(),
        container: None,
        page_token: None,
        incident: None,
    };
    valid(candidate)
}

fn fallback_text(d: &Diagnosis) -> String {
    let t = &d.task;
    let text = format!(
        "{}: task {} in {}",
        d.title,
        arn::task_id(&t.arn),
        arn::cluster_name(&t.cluster)
    );
    truncate_escaped(&escape::untrusted(&text), limits::FALLBACK_TEXT).into_owned()
}

fn card_blocks(d: &Diagnosis, scale: f32) -> Vec<SlackBlock> {
    let b = Budget { scale };
    let t = &d.task;
    let mut blocks: Vec<SlackBlock> = Vec::new();

    blocks.push(header(&d.title));

    // Summary with the key facts as fields.
    let mut fields = Vec::new();
    if let Some(code) = &t.stop_code {
        fields.push(format!("*Stop code*\n`{}`", inline_code(code)));
    }
    if !t.containers.is_empty() {
        let lines: Vec<String> = t
            .containers
            .iter()
            .map(|c| {
                let code = c
                    .exit_code
                    .map_or("no exit code".to_string(), |n| format!("exit {n}"));
                format!("`{}` {code}", inline_code(&c.name))
            })
            .collect();
        fields.push(list_text("*Exit codes*", lines, b.of(600), "containers"));
    }
    let mut task_field = format!("*Task*\n`{}`", inline_code(arn::task_id(&t.arn)));
    if let Some(group) = &t.group {
        task_field.push_str(&format!("\n{}", escape::untrusted(group)));
    }
    fields.push(task_field);
    let mut cluster_field = format!(
        "*Cluster*\n`{}`",
        inline_code(arn::cluster_name(&t.cluster))
    );
    if let Some(region) = t.region.as_deref().or_else(|| arn::region(&t.arn)) {
        cluster_field.push_str(&format!(" · {}", escape::untrusted(region)));
    }
    fields.push(cluster_field);
    // The header already carries the title; the summary says what happened to this task.
    let summary = escape::untrusted(&d.summary);
    blocks.push(section_with_fields(&summary, b.of(2000), fields));

    // Reasons from AWS, quoted.
    let mut reasons = Vec::new();
    if let Some(reason) = &t.stopped_reason {
        reasons.push(format!("*Stopped reason:* {}", escape::untrusted(reason)));
    }
    for c in &t.containers {
        if let Some(reason) = &c.reason {
            reasons.push(format!(
                "*`{}`:* {}",
                inline_code(&c.name),
                escape::untrusted(reason)
            ));
        }
    }
    if !reasons.is_empty() {
        let quoted: Vec<String> = reasons.into_iter().map(|r| quote(&r)).collect();
        blocks.push(section(&list_text("", quoted, b.of(1500), "reasons")));
    }

    if !d.evidence.is_empty() {
        let lines = d
            .evidence
            .iter()
            .map(|e| format!("• {}", escape::untrusted(e)))
            .collect();
        blocks.push(section(&list_text(
            "*Evidence*",
            lines,
            b.of(2000),
            "evidence lines",
        )));
    }

    if !d.findings.is_empty() {
        let lines = d
            .findings
            .iter()
            .map(|f| {
                let kind = finding_kind(f);
                let mut line = format!("• *{kind}*");
                if let Some(container) = &f.container {
                    line.push_str(&format!(" in `{}`", inline_code(container)));
                }
                line.push_str(&format!(": {}", escape::untrusted(&f.detail)));
                if let Some(log) = &f.line {
                    let log = truncate(log, 300);
                    line.push_str(&format!("\n      `{}`", inline_code(&log)));
                }
                line
            })
            .collect();
        blocks.push(section(&list_text(
            &format!("*Findings* ({})", d.findings.len()),
            lines,
            b.of(2500),
            "findings",
        )));
    }

    if !d.fixes.is_empty() {
        let lines = d
            .fixes
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{}. {}", i + 1, escape::untrusted(f)))
            .collect();
        blocks.push(section(&list_text(
            "*What to do*",
            lines,
            b.of(2500),
            "steps",
        )));
    }

    if let Some(by) = &d.stopped_by {
        blocks.push(section(&truncate_escaped(&stopped_by_text(by), b.of(1000))));
    }

    if !d.notes.is_empty() {
        blocks.push(notes_context(&d.notes, b.of(400)));
    }

    let mut footer = format!("ecs-why · `{}`", category(d));
    if let Some(stopped) = &t.stopped_at {
        footer.push_str(&format!(" · stopped {}", slack_date(stopped)));
    }
    blocks.push(context(vec![footer]));

    let buttons = card_buttons(d);
    if !buttons.is_empty() {
        blocks.push(SlackBlock::Actions(SlackActionsBlock::new(buttons)));
    }
    blocks
}

fn card_buttons(d: &Diagnosis) -> Vec<SlackActionBlockElement> {
    let mut buttons = Vec::new();
    if let Some(base) = button_ref(&d.task) {
        let main = main_container(&d.task);
        let logs_ref = valid(ButtonRef {
            container: main.map(str::to_string),
            ..base.clone()
        })
        .unwrap_or_else(|| base.clone());
        buttons.push(button(FollowUp::MoreLogs, "More logs", &logs_ref));
        buttons.push(button(FollowUp::WhoStopped, "Who stopped it", &base));
        buttons.push(button(FollowUp::TaskDefinition, "Task definition", &base));
        if d.task
            .group
            .as_deref()
            .is_some_and(|g| g.starts_with("service:"))
        {
            buttons.push(button(FollowUp::ServiceEvents, "Service events", &base));
        }
        buttons.push(button(FollowUp::Rerun, "Re-run diagnosis", &base));
    }
    if let Some(url) = &d.console_url {
        if let Some(b) = url_button(FollowUp::OpenConsole, "Open in console", url) {
            buttons.push(b);
        }
    }
    buttons.truncate(limits::ACTIONS_ELEMENTS);
    buttons
}

/// The container whose logs matter most: the first that exited non-zero, else the first
/// with an exit code, else the first.
fn main_container(t: &TaskSummary) -> Option<&str> {
    t.containers
        .iter()
        .find(|c| c.exit_code.is_some_and(|n| n != 0))
        .or_else(|| t.containers.iter().find(|c| c.exit_code.is_some()))
        .or_else(|| t.containers.first())
        .map(|c| c.name.as_str())
}

pub(super) fn stopped_by_text(by: &StoppedBy) -> String {
    let mut text = String::from("*Stopped by*");
    let who = by.arn.as_deref().unwrap_or("an unknown caller");
    text.push_str(&format!("\n`{}`", inline_code(who)));
    if let Some(kind) = &by.identity_type {
        text.push_str(&format!(" ({})", escape::untrusted(kind)));
    }
    if let Some(t) = &by.time {
        text.push_str(&format!("\nat {}", slack_date(t)));
    }
    if let Some(ip) = &by.source_ip {
        text.push_str(&format!("\nfrom `{}`", inline_code(ip)));
    }
    if let Some(agent) = &by.user_agent {
        text.push_str(&format!(
            "\nuser agent `{}`",
            inline_code(&truncate(agent, 300))
        ));
    }
    if let Some(reason) = &by.reason {
        text.push_str(&format!(
            "\n*Reason given:* {}",
            escape::untrusted(reason).replace('\n', " ")
        ));
    }
    text
}

fn notes_context(notes: &[String], each: usize) -> SlackBlock {
    let max = limits::CONTEXT_ELEMENTS;
    let mut elements: Vec<String> = Vec::new();
    let shown = if notes.len() > max {
        max - 1
    } else {
        notes.len()
    };
    for n in notes.iter().take(shown) {
        elements.push(format!(":warning: {}", escape::untrusted(n)));
    }
    if notes.len() > shown {
        elements.push(format!("…and {} more notes", notes.len() - shown));
    }
    let elements = elements
        .into_iter()
        .map(|e| truncate_escaped(&e, each).into_owned())
        .collect();
    context(elements)
}
