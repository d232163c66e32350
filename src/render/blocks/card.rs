//! The diagnosis card: a header naming the service and the cause, when it ran and
//! stopped, key facts, the reasons (and the telling one read by its layers), cause,
//! evidence, findings, fixes, who stopped it, notes and the
//! follow-up buttons that apply. Built from the [`Diagnosis`] (and its [`TaskSummary`])
//! and the few [`CardFacts`] taken from the evidence, never from the raw evidence.

use super::build::{
    button, context, fit, header, inline_code, list_text, quote, section, section_with_fields,
    slack_date, url_button, valid, Budget,
};
use super::facts::{CardFacts, Rechecked, Unlogged};
use super::limits;
use crate::arn;
use crate::diagnose::{Diagnosis, Finding, FindingKind, SameWay, TaskSummary};
use crate::evidence::{Note, NoteKind, StopCode, StoppedBy};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::render::escape::{self, truncate, truncate_escaped};
use crate::render::finding_label;
use crate::render::json::category;
use chrono::{DateTime, Utc};
use serde_json::Value;
use slack_morphism::prelude::*;

/// The diagnosis card from the diagnosis alone (`--format blocks`): no facts from the
/// evidence, so no log or crash-loop details. Always within Block Kit limits.
pub fn card(d: &Diagnosis) -> SlackMessageContent {
    card_with(d, &CardFacts::default())
}

/// The diagnosis card: a header naming the service and the specific cause, when it ran
/// and stopped (and how many of the service's recent tasks stopped the same way), key
/// facts, cause, evidence, findings, fixes, who stopped it, notes and at most four
/// follow-up buttons that apply. Always within Block Kit limits.
pub fn card_with(d: &Diagnosis, facts: &CardFacts) -> SlackMessageContent {
    let blocks = fit(|scale| card_blocks(d, facts, scale));
    SlackMessageContent::new()
        .with_text(fallback_text(d))
        .with_blocks(blocks)
}

/// [`card_with`] as `{"text": ..., "blocks": [...]}`, ready for chat.postMessage.
pub fn to_blocks_json_with(d: &Diagnosis, facts: &CardFacts) -> Value {
    content_json(card_with(d, facts))
}

/// `--format blocks`: the card as `{"text": ..., "blocks": [...]}`, ready for
/// chat.postMessage.
pub fn to_blocks_json(d: &Diagnosis) -> Value {
    content_json(card(d))
}

fn content_json(content: SlackMessageContent) -> Value {
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

/// Mark a re-run card: "re-checked 03:20 by @alice" in its when-line (Slack shows the
/// time in the reader's zone). `user` is a Slack user id; anything else is left out.
pub fn stamp_rechecked(content: &mut SlackMessageContent, at: DateTime<Utc>, user: &str) {
    let Some(blocks) = content.blocks.as_mut() else {
        return;
    };
    let stamp = rechecked_text(&Rechecked {
        at,
        user: user.to_string(),
    });
    let when = blocks.iter_mut().find_map(|b| match b {
        SlackBlock::Context(c) if c.block_id.as_ref().is_some_and(|id| id.0 == WHEN_BLOCK) => {
            Some(c)
        }
        _ => None,
    });
    match when {
        Some(context) if context.elements.len() < limits::CONTEXT_ELEMENTS => {
            context
                .elements
                .retain(|e| !matches!(e, SlackContextBlockElement::MarkDown(m) if m.text.starts_with("re-checked")));
            context.elements.push(SlackContextBlockElement::MarkDown(
                SlackBlockMarkDownText::new(stamp).with_verbatim(true),
            ));
        }
        _ => {
            let at = blocks
                .iter()
                .position(|b| matches!(b, SlackBlock::Header(_)))
                .map_or(0, |i| i + 1);
            if blocks.len() < limits::BLOCKS {
                blocks.insert(at, when_block(vec![stamp]));
            }
        }
    }
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
        mute: None,
    };
    valid(candidate)
}

fn fallback_text(d: &Diagnosis) -> String {
    truncate_escaped(
        &escape::untrusted(&crate::render::headline_text(d)),
        limits::FALLBACK_TEXT,
    )
    .into_owned()
}

/// The block id of the when-line under the header (the re-check stamp goes there).
const WHEN_BLOCK: &str = "ecs_why_when";

fn when_block(elements: Vec<String>) -> SlackBlock {
    match context(elements) {
        SlackBlock::Context(c) => SlackBlock::Context(c.with_block_id(WHEN_BLOCK.into())),
        other => other,
    }
}

/// `ran 6m 53s · stopped <date ago> · 4 of the last 5 tasks stopped the same way ·
/// `category``, then the re-check stamp if any.
fn when_line(d: &Diagnosis, facts: &CardFacts) -> Vec<String> {
    let t = &d.task;
    let mut parts = Vec::new();
    if let (Some(start), Some(stop)) = (t.started_at, t.stopped_at) {
        parts.push(format!(
            "ran {}",
            crate::time::duration((stop - start).num_seconds())
        ));
    }
    if let Some(stop) = &t.stopped_at {
        parts.push(format!("stopped {}", slack_ago(stop)));
    }
    if let Some(same) = d.same_way {
        parts.push(same_way_text(same));
    }
    // Confirmed or likely, and the catalog id (for searching and `ecs-why causes`).
    parts.push(format!(
        "{} `{}`",
        d.confidence.word().to_lowercase(),
        category(d)
    ));
    let mut elements = vec![parts.join(" · ")];
    if let Some(r) = &facts.rechecked {
        elements.push(rechecked_text(r));
    }
    elements
}

fn same_way_text(s: SameWay) -> String {
    if s.same == s.of {
        format!("all of the last {} tasks stopped the same way", s.of)
    } else if s.same <= 1 {
        format!("the other {} recent stops were different", s.of - 1)
    } else {
        format!("{} of the last {} tasks stopped the same way", s.same, s.of)
    }
}

fn rechecked_text(r: &Rechecked) -> String {
    let time = format!(
        "<!date^{}^{{time}}|{} UTC>",
        r.at.timestamp(),
        r.at.format("%H:%M")
    );
    if is_user_id(&r.user) {
        format!("re-checked {time} by <@{}>", r.user)
    } else {
        format!("re-checked {time}")
    }
}

/// A Slack user id (`U0123ABCD`, `W...`): safe to put in a mention.
fn is_user_id(s: &str) -> bool {
    (2..=32).contains(&s.len())
        && s.starts_with(['U', 'W'])
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A past time as Slack words it for the reader ("5 minutes ago"), with UTC text as
/// fallback.
fn slack_ago(t: &DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{ago}}|{}>",
        t.timestamp(),
        t.format("%Y-%m-%d %H:%M UTC")
    )
}

fn card_blocks(d: &Diagnosis, facts: &CardFacts, scale: f32) -> Vec<SlackBlock> {
    let b = Budget { scale };
    let t = &d.task;
    let mut blocks: Vec<SlackBlock> = Vec::new();

    blocks.push(header(&crate::render::headline_text(d)));
    blocks.push(when_block(when_line(d, facts)));

    // Summary with the key facts as fields.
    let mut fields = Vec::new();
    if let Some(code) = &t.stop_code {
        fields.push(format!("*Stop code*\n`{}`", inline_code(code.as_str())));
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
    // The header names the service (or family) already.
    fields.push(format!("*Task*\n`{}`", inline_code(arn::task_id(&t.arn))));
    let mut cluster_field = format!(
        "*Cluster*\n`{}`",
        inline_code(arn::cluster_name(&t.cluster))
    );
    if let Some(region) = t.region.as_deref().or_else(|| arn::region(&t.arn)) {
        cluster_field.push_str(&format!(" · {}", escape::untrusted(region)));
    }
    fields.push(cluster_field);
    // The header already carries the cause; the summary says what happened to this task.
    let summary = escape::untrusted(&d.summary);
    blocks.push(section_with_fields(&summary, b.of(2000), fields));

    // Reasons from AWS, quoted; a container's reason only when it says something the
    // stopped reason does not.
    let mut reasons = Vec::new();
    if let Some(reason) = &t.stopped_reason {
        reasons.push(format!("*Stopped reason:* {}", escape::untrusted(reason)));
    }
    for c in &t.containers {
        if let Some(reason) = c.reason.as_deref().filter(|r| !repeats(t, r)) {
            reasons.push(format!(
                "*`{}`:* {}",
                inline_code(&c.name),
                escape::untrusted(reason)
            ));
        }
    }
    // The telling reason read by its layers: the outer names, then the words that say why.
    if let Some(layers) = &d.reason_layers {
        let of = layers
            .container
            .as_deref()
            .map(|c| format!(" (`{}`)", inline_code(c)))
            .unwrap_or_default();
        reasons.push(format!(
            "*Read by layers{of}:* {}",
            escape::untrusted(&layers.joined())
        ));
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
    blocks.extend(super::verdict::verdict_blocks(d, &b));

    // A missing log configuration is said once, in the logs line below.
    let findings: Vec<&Finding> = d
        .findings
        .iter()
        .filter(|f| f.kind != FindingKind::NoLogConfiguration || facts.unlogged.is_empty())
        .collect();
    if !findings.is_empty() {
        let lines = findings
            .iter()
            .map(|f| {
                let mut line = format!("• *{}*", finding_label(f.kind));
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
            &format!("*Findings* ({})", findings.len()),
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
        blocks.push(section(&truncate_escaped(
            &stopped_by_short(by, t.stopped_reason.as_deref()),
            b.of(1000),
        )));
    }

    if !facts.unlogged.is_empty() {
        blocks.push(context(vec![truncate_escaped(
            &unlogged_text(&facts.unlogged),
            b.of(1000),
        )
        .into_owned()]));
    }

    let notes: Vec<String> = d
        .notes
        .iter()
        .filter(|n| !explained_by_the_logs_line(n, &facts.unlogged))
        .map(|n| n.text.clone())
        .collect();
    if !notes.is_empty() {
        blocks.push(notes_context(&notes, b.of(400)));
    }

    let buttons = card_buttons(d, facts);
    if !buttons.is_empty() {
        blocks.push(SlackBlock::Actions(SlackActionsBlock::new(buttons)));
    }
    blocks
}

/// Does the container reason `reason` only repeat the task's stopped reason?
fn repeats(t: &TaskSummary, reason: &str) -> bool {
    let reason = reason.trim();
    t.stopped_reason
        .as_deref()
        .map(str::trim)
        .is_some_and(|stopped| stopped.contains(reason) || reason.contains(stopped))
}

/// Where the logs of containers without awslogs are: a fact, not a warning.
fn unlogged_text(unlogged: &[Unlogged]) -> String {
    let lines: Vec<String> = unlogged
        .iter()
        .map(|u| {
            let name = inline_code(&u.container);
            match &u.driver {
                Some(driver) => format!(
                    "Logs: `{name}` logs with the `{}` driver, so its lines are there, not in CloudWatch Logs",
                    inline_code(driver)
                ),
                None => format!(
                    "Logs: `{name}` has no log configuration: add awslogs to the container definition to keep its output"
                ),
            }
        })
        .collect();
    lines.join("\n")
}

/// A note that only says a container without awslogs was not read (the logs line says
/// where its logs are instead).
fn explained_by_the_logs_line(note: &Note, unlogged: &[Unlogged]) -> bool {
    match &note.kind {
        NoteKind::LogsElsewhere { container } => unlogged.iter().any(|u| &u.container == container),
        _ => false,
    }
}

/// The buttons that apply to this stop, most useful first, at most
/// [`MAX_CARD_BUTTONS`]; the first is the primary one.
fn card_buttons(d: &Diagnosis, facts: &CardFacts) -> Vec<SlackActionBlockElement> {
    let mut buttons = Vec::new();
    if let Some(base) = button_ref(&d.task) {
        let user_stop = d.task.stop_code == Some(StopCode::UserInitiated)
            || d.stopped_by.as_ref().is_some_and(|by| by.arn.is_some());
        if user_stop {
            buttons.push(button(FollowUp::WhoStopped, "Who stopped it", &base));
        }
        if let Some(logs_ref) = more_logs_ref(d, facts, &base) {
            buttons.push(button(FollowUp::MoreLogs, "More logs", &logs_ref));
        }
        if d.task
            .group
            .as_deref()
            .is_some_and(|g| g.starts_with("service:"))
        {
            buttons.push(button(FollowUp::ServiceEvents, "Service events", &base));
        }
        buttons.push(button(FollowUp::Rerun, "Re-run diagnosis", &base));
        buttons.push(button(FollowUp::TaskDefinition, "Task definition", &base));
    }
    if let Some(url) = &d.console_url {
        if let Some(b) = url_button(FollowUp::OpenConsole, "Open in console", url) {
            buttons.push(b);
        }
    }
    buttons.truncate(MAX_CARD_BUTTONS);
    if let Some(SlackActionBlockElement::Button(first)) = buttons.first_mut() {
        first.style = Some(SlackBlockButtonStyle::Primary);
    }
    buttons
}

/// Buttons on a diagnosis card: few enough to read at a glance.
pub const MAX_CARD_BUTTONS: usize = 4;

/// "More logs" for the container that matters most: continuing after the tail the
/// thread shows. `None` when there is nothing more to read (no stream, or the tail is
/// the whole stream). Without facts (the card from the diagnosis alone) it starts at
/// the stream's end.
fn more_logs_ref(d: &Diagnosis, facts: &CardFacts, base: &ButtonRef) -> Option<ButtonRef> {
    let main = main_container(&d.task)?;
    let page_token = match &facts.logs {
        None => None,
        Some(_) => {
            let shown = facts.logs_of(main)?;
            Some(shown.next_token.clone()?)
        }
    };
    let r = valid(ButtonRef {
        container: Some(main.to_string()),
        page_token,
        ..base.clone()
    })?;
    // A token too long for a button value is dropped by `encode`; the button would then
    // post the tail again, so leave it off.
    if facts.logs.is_some() && r.page_token.is_none() {
        return None;
    }
    Some(r)
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

/// Who stopped it on the card: the caller in a few words and when (the full ARN, source
/// and user agent are in the "Who stopped it" thread reply).
fn stopped_by_short(by: &StoppedBy, stopped_reason: Option<&str>) -> String {
    let who = by.who().unwrap_or_else(|| "an unknown caller".to_string());
    let mut text = format!("*Stopped by* {}", escape::untrusted(&who));
    if let Some(t) = &by.time {
        text.push_str(&format!(" at {}", slack_date(t)));
    }
    // The reason the caller gave is usually the stopped reason quoted above.
    if let Some(reason) = by.reason.as_deref().filter(|r| Some(*r) != stopped_reason) {
        text.push_str(&format!(
            "\n*Reason given:* {}",
            escape::untrusted(reason).replace('\n', " ")
        ));
    }
    text
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
