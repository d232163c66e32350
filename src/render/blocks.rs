//! Slack Block Kit messages: the diagnosis card and the thread replies under it.
//!
//! [`card`] is what `/ecs why` posts in the channel (and `--format blocks` prints, via
//! [`to_blocks_json`]). [`log_tail`], [`stopped_by`], [`task_definition`] and
//! [`service_events`] are the details the bot posts in the card's thread and answers
//! the follow-up buttons with. All messages are built with slack-morphism's types.
//!
//! Two rules hold for every message built here:
//! - untrusted text (logs, AWS reasons, names, findings, evidence) is redacted and
//!   mrkdwn-escaped ([`escape`]), and mrkdwn text objects are `verbatim`, so nothing from a
//!   log can mention a user or a channel or forge a link;
//! - Block Kit's limits ([`limits`]) are never exceeded: texts are cut on character
//!   boundaries with an ellipsis, long lists end in "…and N more", and a card that would
//!   be too long is rebuilt with smaller budgets. [`limit_violations`] checks a message.

use super::escape::{self, chars, truncate, truncate_escaped};
use super::json::{category, time};
use crate::arn;
use crate::diagnose::{Diagnosis, TaskSummary};
use crate::evidence::{
    ContainerDefinition, ContainerLogs, ServiceEvent, StopLookup, StoppedBy, TaskDefinition,
    SERVICE_EVENTS,
};
use crate::follow_up::{ButtonRef, FollowUp};
use serde_json::Value;
use slack_morphism::prelude::*;

/// Block Kit limits (characters, not bytes). See DESIGN.md.
pub mod limits {
    /// Blocks in one message.
    pub const BLOCKS: usize = 50;
    /// A section's text.
    pub const SECTION_TEXT: usize = 3000;
    /// Fields in a section, and each field's text.
    pub const SECTION_FIELDS: usize = 10;
    pub const SECTION_FIELD_TEXT: usize = 2000;
    /// A header's plain_text.
    pub const HEADER_TEXT: usize = 150;
    /// A button's text, value, action_id and URL.
    pub const BUTTON_TEXT: usize = 75;
    pub const BUTTON_VALUE: usize = 2000;
    pub const ACTION_ID: usize = 255;
    pub const BUTTON_URL: usize = 3000;
    /// Elements in a context block and in an actions block.
    pub const CONTEXT_ELEMENTS: usize = 10;
    pub const ACTIONS_ELEMENTS: usize = 25;
    /// A text object anywhere (context elements included).
    pub const TEXT_OBJECT: usize = 3000;
    /// Slack refuses messages whose blocks run past about 13k characters
    /// (`msg_blocks_too_long`); we keep the serialised `blocks` array under this.
    pub const MESSAGE_CHARS: usize = 12_000;
    /// The top-level notification `text` we send (Slack allows more; keep it short).
    pub const FALLBACK_TEXT: usize = 3000;
}

/// Most thread replies one log tail is split into; older lines beyond are left out
/// (with a note) and the "More logs" button pages further back.
pub const MAX_LOG_MESSAGES: usize = 4;
/// A single log line is cut to this many characters.
const MAX_LOG_LINE: usize = 1000;
/// Each section field is cut to this many characters (Block Kit allows 2,000).
const FIELD_TEXT: usize = 600;

// ---------------------------------------------------------------------------
// The card
// ---------------------------------------------------------------------------

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
    };
    valid(candidate)
}

/// Keep a reference only if it survives the same validation the bot applies on receipt.
fn valid(r: ButtonRef) -> Option<ButtonRef> {
    let encoded = r.encode();
    match ButtonRef::decode(&encoded) {
        Ok(decoded) if encoded.len() <= limits::BUTTON_VALUE => Some(decoded),
        _ => None,
    }
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

/// Character budgets of the card's parts at `scale` 1.0.
struct Budget {
    scale: f32,
}

impl Budget {
    fn of(&self, full: usize) -> usize {
        ((full as f32 * self.scale) as usize).max(120)
    }
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
                let kind = match serde_json::to_value(f.kind) {
                    Ok(Value::String(s)) => s,
                    _ => String::new(),
                };
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
        footer.push_str(&format!(
            " · stopped <!date^{}^{{date_short_pretty}} {{time_secs}}|{}>",
            stopped.timestamp(),
            time(stopped)
        ));
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

fn stopped_by_text(by: &StoppedBy) -> String {
    let mut text = String::from("*Stopped by*");
    let who = by.arn.as_deref().unwrap_or("an unknown caller");
    text.push_str(&format!("\n`{}`", inline_code(who)));
    if let Some(kind) = &by.identity_type {
        text.push_str(&format!(" ({})", escape::untrusted(kind)));
    }
    if let Some(t) = &by.time {
        text.push_str(&format!(
            "\nat <!date^{}^{{date_short_pretty}} {{time_secs}}|{}>",
            t.timestamp(),
            time(t)
        ));
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

// ---------------------------------------------------------------------------
// Thread replies
// ---------------------------------------------------------------------------

/// A container's log tail as one or more thread replies: lines redacted, escaped, in
/// ``` blocks of at most 3,000 characters, each message within Block Kit's limits. At
/// most [`MAX_LOG_MESSAGES`] messages: when the lines do not fit, the newest are kept
/// and the first message says how many earlier lines were left out. The last message
/// carries a "More logs" button when `logs.next_token` is set and `target` (the task's
/// reference, see [`button_ref`]) is given.
pub fn log_tail(logs: &ContainerLogs, target: Option<&ButtonRef>) -> Vec<SlackMessageContent> {
    let container = escape::untrusted(&logs.container);
    let mut head = format!("*Logs of `{}`*", inline_code(&logs.container));
    let mut where_from = Vec::new();
    if let Some(group) = &logs.log_group {
        where_from.push(format!("group `{}`", inline_code(group)));
    }
    if let Some(stream) = &logs.log_stream {
        where_from.push(format!("stream `{}`", inline_code(stream)));
    }
    if !where_from.is_empty() {
        head.push_str(&format!(" · {}", where_from.join(" · ")));
    }
    let head = truncate_escaped(&head, limits::SECTION_TEXT).into_owned();

    let more = logs.next_token.as_ref().and_then(|token| {
        let base = target?;
        let r = valid(ButtonRef {
            container: Some(logs.container.clone()),
            page_token: Some(token.clone()),
            ..base.clone()
        })?;
        // A token too long for a button value is dropped by `encode`; without it the
        // button would fetch the same page again, so leave it off.
        r.page_token.as_ref()?;
        Some(SlackBlock::Actions(SlackActionsBlock::new(vec![button(
            FollowUp::MoreLogs,
            "Older lines",
            &r,
        )])))
    });

    if logs.lines.is_empty() {
        let mut blocks = vec![section(&format!("{head}\nNo log lines in this window."))];
        blocks.extend(more);
        return vec![message(format!("No log lines for {container}"), blocks)];
    }

    // Each line, oldest first, formatted and escaped.
    let lines: Vec<String> = logs
        .lines
        .iter()
        .map(|l| {
            let stamp = l
                .timestamp
                .map(|t| format!("{} ", t.format("%H:%M:%S")))
                .unwrap_or_default();
            let line = truncate(&l.message, MAX_LOG_LINE);
            format!("{stamp}{}", escape::code_line(&line))
        })
        .collect();

    // Pack into ``` sections, newest lines first so the tail is what survives, then
    // restore oldest-first order.
    const FENCE: usize = 8; // "```\n" + "\n```"
    let room = limits::SECTION_TEXT - FENCE;
    let mut sections: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut current_len = 0;
    for line in lines.iter().rev() {
        let line = line.as_str();
        let len = chars(line);
        // A line longer than a section on its own (escaping can lengthen it) gets a
        // section to itself and is cut when the section is built below.
        let add = len + usize::from(!current.is_empty());
        if current_len + add > room && !current.is_empty() {
            sections.push(std::mem::take(&mut current));
            current_len = 0;
        }
        current_len += len + usize::from(!current.is_empty());
        current.push(line);
    }
    if !current.is_empty() {
        sections.push(current);
    }
    sections.reverse(); // oldest section first
    let code_blocks: Vec<String> = sections
        .into_iter()
        .map(|mut s| {
            s.reverse();
            let body = truncate_escaped(&s.join("\n"), room).into_owned();
            format!("```\n{body}\n```")
        })
        .collect();

    // Pack sections into messages (newest first again), within block and size limits.
    let head_block = section(&head);
    let reserve = json_chars(std::slice::from_ref(&head_block))
        + 600
        + more
            .as_ref()
            .map_or(0, |m| json_chars(std::slice::from_ref(m)));
    let mut messages: Vec<Vec<SlackBlock>> = Vec::new();
    let mut current: Vec<SlackBlock> = Vec::new();
    let mut used = 0;
    let mut shown_sections = 0;
    for code in code_blocks.iter().rev() {
        let block = section(code);
        let size = json_chars(std::slice::from_ref(&block));
        if !current.is_empty()
            && (used + size + reserve > limits::MESSAGE_CHARS
                || current.len() + 2 >= limits::BLOCKS)
        {
            messages.push(std::mem::take(&mut current));
            used = 0;
            if messages.len() == MAX_LOG_MESSAGES {
                break;
            }
        }
        used += size;
        current.push(block);
        shown_sections += 1;
    }
    if !current.is_empty() && messages.len() < MAX_LOG_MESSAGES {
        messages.push(current);
    }
    messages.reverse();
    for m in &mut messages {
        m.reverse();
    }

    let omitted_lines: usize = if shown_sections < code_blocks.len() {
        // Count lines in the sections left out (the oldest ones).
        code_blocks[..code_blocks.len() - shown_sections]
            .iter()
            .map(|c| c.lines().count().saturating_sub(2))
            .sum()
    } else {
        0
    };

    let total = messages.len();
    messages
        .into_iter()
        .enumerate()
        .map(|(i, mut blocks)| {
            if i == 0 {
                let mut first = head.clone();
                first.push_str(&format!(
                    " · last {} lines, times in UTC",
                    logs.lines.len() - omitted_lines
                ));
                if omitted_lines > 0 {
                    first.push_str(&format!(
                        " ({omitted_lines} earlier lines left out to stay within Slack's limits)"
                    ));
                }
                blocks.insert(0, section(&first));
            }
            if i + 1 == total {
                blocks.extend(more.clone());
            }
            let part = if total > 1 {
                format!(" ({}/{total})", i + 1)
            } else {
                String::new()
            };
            message(format!("Logs of {container}{part}"), blocks)
        })
        .collect()
}

/// The CloudTrail record of who stopped the task, or why there is none yet. For
/// [`StopLookup::NotFoundYet`] a "Look again" button is added when `target` is given.
pub fn stopped_by(lookup: &StopLookup, target: Option<&ButtonRef>) -> SlackMessageContent {
    match lookup {
        StopLookup::Found(by) => {
            let mut blocks = vec![section(&stopped_by_text(by))];
            if let Some(id) = &by.event_id {
                blocks.push(context(vec![format!(
                    "CloudTrail event `{}`",
                    inline_code(id)
                )]));
            }
            let who = by.arn.as_deref().unwrap_or("an unknown caller");
            message(format!("Stopped by {}", escape::untrusted(who)), blocks)
        }
        StopLookup::NotFoundYet => {
            let mut blocks = vec![section(
                "*Who stopped it:* no StopTask call for this task in CloudTrail yet. \
                 CloudTrail delivers events 5 to 15 minutes after the call, so this does \
                 not mean nobody stopped it: look again in a few minutes.",
            )];
            if let Some(r) = target {
                blocks.push(SlackBlock::Actions(SlackActionsBlock::new(vec![button(
                    FollowUp::WhoStopped,
                    "Look again",
                    r,
                )])));
            }
            message("Not in CloudTrail yet".into(), blocks)
        }
        StopLookup::Failed => message(
            "CloudTrail look-up failed".into(),
            vec![section(
                "*Who stopped it:* the CloudTrail look-up failed; the note on the card \
                 says why (often a missing `cloudtrail:LookupEvents` permission).",
            )],
        ),
        StopLookup::NotAttempted => message(
            "No CloudTrail look-up".into(),
            vec![section(
                "*Who stopped it:* no CloudTrail look-up was made: the task was not \
                 stopped by a StopTask call (or the diagnosis ran offline).",
            )],
        ),
    }
}

/// A task definition summary: image, CPU and memory, health check, port mappings,
/// network mode, environment variable and secret NAMES (never values), log
/// configuration. One section per container; containers that do not fit are counted.
pub fn task_definition(td: &TaskDefinition) -> SlackMessageContent {
    let name = if td.family.is_empty() {
        arn::task_definition_name(&td.arn).to_string()
    } else {
        format!("{}:{}", td.family, td.revision)
    };
    let blocks = fit(|scale| {
        let b = Budget { scale };
        let mut blocks = Vec::new();
        let mut fields = Vec::new();
        if let Some(mode) = &td.network_mode {
            fields.push(format!("*Network mode*\n`{}`", inline_code(mode)));
        }
        let size = match (&td.cpu, &td.memory) {
            (None, None) => None,
            (cpu, memory) => Some(format!(
                "*Task size*\n{} CPU units · {} MiB",
                escape::untrusted(cpu.as_deref().unwrap_or("-")),
                escape::untrusted(memory.as_deref().unwrap_or("-"))
            )),
        };
        fields.extend(size);
        if td.cpu_architecture.is_some() || td.operating_system_family.is_some() {
            fields.push(format!(
                "*Platform*\n{} {}",
                escape::untrusted(td.operating_system_family.as_deref().unwrap_or("")),
                escape::untrusted(td.cpu_architecture.as_deref().unwrap_or(""))
            ));
        }
        if !td.requires_compatibilities.is_empty() {
            fields.push(format!(
                "*Compatibilities*\n{}",
                escape::untrusted(&td.requires_compatibilities.join(", "))
            ));
        }
        if let Some(role) = &td.execution_role_arn {
            fields.push(format!("*Execution role*\n`{}`", inline_code(role)));
        }
        if let Some(role) = &td.task_role_arn {
            fields.push(format!("*Task role*\n`{}`", inline_code(role)));
        }
        blocks.push(section_with_fields(
            &format!("*Task definition* `{}`", inline_code(&name)),
            limits::SECTION_TEXT,
            fields,
        ));
        // Room for the title section, a context line and a divider.
        let room = limits::BLOCKS - 3;
        let shown = td.containers.len().min(room);
        for c in td.containers.iter().take(shown) {
            blocks.push(section(&truncate_escaped(
                &container_text(c),
                b.of(limits::SECTION_TEXT),
            )));
        }
        if td.containers.len() > shown {
            blocks.push(context(vec![format!(
                "…and {} more containers",
                td.containers.len() - shown
            )]));
        }
        blocks.push(context(vec![
            "Environment variable and secret values are never shown, only their names.".to_string(),
        ]));
        blocks
    });
    message(
        format!("Task definition {}", escape::untrusted(&name)),
        blocks,
    )
}

fn container_text(c: &ContainerDefinition) -> String {
    let mut t = format!("*`{}`*", inline_code(&c.name));
    match c.essential {
        Some(false) => t.push_str(" (not essential)"),
        _ => t.push_str(" (essential)"),
    }
    t.push_str(&format!("\n*Image* `{}`", inline_code(&c.image)));
    let mut size = Vec::new();
    if let Some(cpu) = c.cpu {
        size.push(format!("{cpu} CPU units"));
    }
    if let Some(m) = c.memory {
        size.push(format!("{m} MiB hard limit"));
    }
    if let Some(m) = c.memory_reservation {
        size.push(format!("{m} MiB reserved"));
    }
    if !size.is_empty() {
        t.push_str(&format!("\n*CPU/memory* {}", size.join(" · ")));
    }
    if !c.port_mappings.is_empty() {
        let ports: Vec<String> = c
            .port_mappings
            .iter()
            .map(|p| {
                let container = p.container_port.map_or("?".into(), |n| n.to_string());
                let protocol = escape::untrusted(p.protocol.as_deref().unwrap_or("tcp"));
                match p.host_port {
                    Some(h) => format!("{h}→{container}/{protocol}"),
                    None => format!("{container}/{protocol}"),
                }
            })
            .collect();
        t.push_str(&format!("\n*Ports* {}", ports.join(", ")));
    }
    match &c.health_check {
        Some(h) => {
            let command = truncate(&h.command.join(" "), 500).into_owned();
            t.push_str(&format!("\n*Health check* `{}`", inline_code(&command)));
            let seconds = |v: Option<i32>| v.map_or("default".to_string(), |n| format!("{n}s"));
            t.push_str(&format!(
                "\n      interval {} · timeout {} · retries {} · start period {}",
                seconds(h.interval),
                seconds(h.timeout),
                h.retries.map_or("default".to_string(), |n| n.to_string()),
                h.start_period
                    .map_or("none".to_string(), |n| format!("{n}s")),
            ));
        }
        None => t.push_str("\n*Health check* none"),
    }
    if !c.environment_names.is_empty() {
        t.push_str(&format!("\n*Environment* {}", names(&c.environment_names)));
    }
    if !c.secrets.is_empty() {
        let secret_names: Vec<String> = c.secrets.iter().map(|s| s.name.clone()).collect();
        t.push_str(&format!("\n*Secrets* {}", names(&secret_names)));
    }
    if !c.environment_files.is_empty() {
        t.push_str(&format!(
            "\n*Environment files* {} from S3",
            c.environment_files.len()
        ));
    }
    match &c.log_configuration {
        Some(log) => {
            let options: Vec<String> = log
                .options
                .iter()
                .map(|(k, v)| {
                    let shown = if is_sensitive_option(k) {
                        "(hidden)".to_string()
                    } else {
                        format!("`{}`", inline_code(v))
                    };
                    format!("{}={shown}", escape::untrusted(k))
                })
                .collect();
            t.push_str(&format!("\n*Logs* `{}`", inline_code(&log.log_driver)));
            if !options.is_empty() {
                t.push_str(&format!(" {}", options.join(" ")));
            }
        }
        None => t.push_str("\n*Logs* no log configuration"),
    }
    t
}

/// Log driver options whose values may be credentials (splunk-token, ...).
fn is_sensitive_option(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["token", "secret", "password", "key", "credential", "auth"]
        .iter()
        .any(|s| key.contains(s))
}

fn names(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", inline_code(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The service's last ten events, newest first.
pub fn service_events(events: &[ServiceEvent]) -> SlackMessageContent {
    if events.is_empty() {
        return message(
            "No service events".into(),
            vec![section(
                "*Service events:* none (the task is not part of a service, or the service \
                 has no recent events).",
            )],
        );
    }
    let lines = events
        .iter()
        .take(SERVICE_EVENTS)
        .map(|e| {
            let when = e.created_at.map_or("-".to_string(), |t| {
                format!(
                    "<!date^{}^{{date_short_pretty}} {{time_secs}}|{}>",
                    t.timestamp(),
                    time(&t)
                )
            });
            let text = truncate(&e.message, 260);
            format!("• {when} {}", escape::untrusted(&text))
        })
        .collect();
    let shown = events.len().min(SERVICE_EVENTS);
    let heading = format!("*Service events* (last {shown}, newest first)");
    let blocks = list_sections(&heading, lines, limits::SECTION_TEXT)
        .iter()
        .map(|text| section(text))
        .collect();
    message(format!("Last {shown} service events"), blocks)
}

/// `heading` then one line per item, spread over as many sections as needed, each at
/// most `max` characters. Items are already escaped; an item too long for a section
/// on its own is cut.
fn list_sections(heading: &str, items: Vec<String>, max: usize) -> Vec<String> {
    let mut sections = Vec::new();
    let mut current = heading.to_string();
    for item in items {
        let item = truncate_escaped(&item, max.saturating_sub(1)).into_owned();
        let sep = usize::from(!current.is_empty());
        if !current.is_empty() && chars(&current) + sep + chars(&item) > max {
            sections.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&item);
    }
    if !current.is_empty() {
        sections.push(current);
    }
    sections
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

/// Every way `content` breaks a Block Kit limit, in words; empty when it is within them.
pub fn limit_violations(content: &SlackMessageContent) -> Vec<String> {
    match serde_json::to_value(content) {
        Ok(v) => limit_violations_json(&v),
        Err(e) => vec![format!("does not serialise: {e}")],
    }
}

/// [`limit_violations`] for a message payload as JSON (`{"text", "blocks"}`), e.g. the
/// output of [`to_blocks_json`].
pub fn limit_violations_json(message: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let empty = Vec::new();
    let blocks = message
        .get("blocks")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if blocks.len() > limits::BLOCKS {
        problems.push(format!(
            "{} blocks (at most {})",
            blocks.len(),
            limits::BLOCKS
        ));
    }
    let size = serde_json::to_string(blocks).map_or(0, |s| chars(&s));
    if size > limits::MESSAGE_CHARS {
        problems.push(format!(
            "blocks are {size} characters (at most {})",
            limits::MESSAGE_CHARS
        ));
    }
    if let Some(text) = message.get("text").and_then(Value::as_str) {
        check(&mut problems, "fallback text", text, limits::FALLBACK_TEXT);
    }
    for (i, block) in blocks.iter().enumerate() {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("?");
        let at = format!("block {i} ({kind})");
        match kind {
            "header" => check_text(&mut problems, &at, block.get("text"), limits::HEADER_TEXT),
            "section" => {
                check_text(&mut problems, &at, block.get("text"), limits::SECTION_TEXT);
                if let Some(fields) = block.get("fields").and_then(Value::as_array) {
                    if fields.len() > limits::SECTION_FIELDS {
                        problems.push(format!("{at}: {} fields", fields.len()));
                    }
                    for f in fields {
                        check_text(&mut problems, &at, Some(f), limits::SECTION_FIELD_TEXT);
                    }
                }
                if let Some(accessory) = block.get("accessory") {
                    check_element(&mut problems, &at, accessory);
                }
            }
            "context" => {
                let elements = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                if elements.len() > limits::CONTEXT_ELEMENTS {
                    problems.push(format!("{at}: {} elements", elements.len()));
                }
                for e in elements {
                    check_text(&mut problems, &at, Some(e), limits::TEXT_OBJECT);
                }
            }
            "actions" => {
                let elements = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                if elements.len() > limits::ACTIONS_ELEMENTS {
                    problems.push(format!("{at}: {} elements", elements.len()));
                }
                for e in elements {
                    check_element(&mut problems, &at, e);
                }
            }
            _ => {}
        }
    }
    problems
}

fn check(problems: &mut Vec<String>, at: &str, text: &str, max: usize) {
    let n = chars(text);
    if n > max {
        problems.push(format!("{at}: {n} characters (at most {max})"));
    }
}

fn check_text(problems: &mut Vec<String>, at: &str, text: Option<&Value>, max: usize) {
    if let Some(s) = text.and_then(|t| t.get("text")).and_then(Value::as_str) {
        check(problems, at, s, max);
    }
}

fn check_element(problems: &mut Vec<String>, at: &str, e: &Value) {
    if e.get("type").and_then(Value::as_str) != Some("button") {
        return;
    }
    check_text(
        problems,
        &format!("{at} button text"),
        e.get("text"),
        limits::BUTTON_TEXT,
    );
    if let Some(v) = e.get("value").and_then(Value::as_str) {
        check(
            problems,
            &format!("{at} button value"),
            v,
            limits::BUTTON_VALUE,
        );
    }
    if let Some(v) = e.get("action_id").and_then(Value::as_str) {
        check(problems, &format!("{at} action_id"), v, limits::ACTION_ID);
    }
    if let Some(v) = e.get("url").and_then(Value::as_str) {
        check(problems, &format!("{at} button url"), v, limits::BUTTON_URL);
    }
}

// ---------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------

/// Build with shrinking budgets until the message fits [`limits::MESSAGE_CHARS`].
fn fit(build: impl Fn(f32) -> Vec<SlackBlock>) -> Vec<SlackBlock> {
    let mut blocks = Vec::new();
    for scale in [1.0, 0.75, 0.5, 0.35, 0.25, 0.15, 0.1] {
        blocks = build(scale);
        blocks.truncate(limits::BLOCKS);
        if json_chars(&blocks) <= limits::MESSAGE_CHARS {
            return blocks;
        }
    }
    // Still too long at the smallest budgets (only possible with very many parts):
    // drop blocks from the middle, keeping the first and the last (the buttons).
    while blocks.len() > 2 && json_chars(&blocks) > limits::MESSAGE_CHARS {
        let at = blocks.len() - 2;
        blocks.remove(at);
    }
    blocks
}

fn json_chars(blocks: &[SlackBlock]) -> usize {
    serde_json::to_string(blocks).map_or(0, |s| chars(&s))
}

fn message(text: String, blocks: Vec<SlackBlock>) -> SlackMessageContent {
    let text = truncate_escaped(&text, limits::FALLBACK_TEXT).into_owned();
    SlackMessageContent::new()
        .with_text(text)
        .with_blocks(blocks)
}

fn header(title: &str) -> SlackBlock {
    // plain_text is not parsed for mentions, but Slack decodes &amp; &lt; &gt; in it
    // too, so escaping keeps the shown text right and the payload free of `<!...>`.
    let text = truncate_escaped(&escape::untrusted(title), limits::HEADER_TEXT).into_owned();
    SlackBlock::Header(SlackHeaderBlock::new(SlackBlockPlainTextOnly::from(text)))
}

fn mrkdwn(text: &str, max: usize) -> SlackBlockText {
    let text = truncate_escaped(text, max.min(limits::TEXT_OBJECT)).into_owned();
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text).with_verbatim(true))
}

/// A section of already-escaped mrkdwn text, cut to 3,000 characters.
fn section(text: &str) -> SlackBlock {
    SlackBlock::Section(SlackSectionBlock::new().with_text(mrkdwn(text, limits::SECTION_TEXT)))
}

fn section_with_fields(text: &str, max: usize, fields: Vec<String>) -> SlackBlock {
    let fields: Vec<SlackBlockText> = fields
        .iter()
        .take(limits::SECTION_FIELDS)
        .map(|f| mrkdwn(f, FIELD_TEXT))
        .collect();
    let mut block = SlackSectionBlock::new().with_text(mrkdwn(text, max));
    if !fields.is_empty() {
        block = block.with_fields(fields);
    }
    SlackBlock::Section(block)
}

fn context(elements: Vec<String>) -> SlackBlock {
    let elements = elements
        .iter()
        .take(limits::CONTEXT_ELEMENTS)
        .map(|e| {
            SlackContextBlockElement::MarkDown(
                SlackBlockMarkDownText::new(truncate_escaped(e, limits::TEXT_OBJECT).into_owned())
                    .with_verbatim(true),
            )
        })
        .collect();
    SlackBlock::Context(SlackContextBlock::new(elements))
}

fn button(follow_up: FollowUp, text: &str, r: &ButtonRef) -> SlackActionBlockElement {
    let value = r.encode();
    SlackActionBlockElement::Button(
        SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(
            truncate(text, limits::BUTTON_TEXT).into_owned(),
        ))
        .with_action_id(SlackActionId(
            truncate(follow_up.action_id(), limits::ACTION_ID).into_owned(),
        ))
        .with_value(value),
    )
}

fn url_button(follow_up: FollowUp, text: &str, url: &str) -> Option<SlackActionBlockElement> {
    if chars(url) > limits::BUTTON_URL {
        return None;
    }
    let url = url::Url::parse(url).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    Some(SlackActionBlockElement::Button(
        SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(text.to_string()))
            .with_action_id(SlackActionId(follow_up.action_id().to_string()))
            .with_url(url),
    ))
}

/// `heading` then one line per item, cut to `max` characters with "…and N more `what`"
/// when not every item fits. Items are already escaped.
fn list_text(heading: &str, items: Vec<String>, max: usize, what: &str) -> String {
    let max = max.min(limits::SECTION_TEXT);
    let mut out = heading.to_string();
    let total = items.len();
    for (i, item) in items.iter().enumerate() {
        let sep = if out.is_empty() { "" } else { "\n" };
        let left_after = total - i - 1;
        let more_after = if left_after > 0 {
            format!("\n…and {left_after} more {what}")
        } else {
            String::new()
        };
        let used = chars(&out) + sep.len() + chars(&more_after);
        if used + chars(item) <= max {
            out.push_str(sep);
            out.push_str(item);
            continue;
        }
        // It does not fit whole: show the part that fits if that is useful, then stop.
        let room = max.saturating_sub(used);
        if room >= 40 {
            out.push_str(sep);
            out.push_str(&truncate_escaped(item, room));
            out.push_str(&more_after);
        } else {
            out.push_str(&format!("{sep}…and {} more {what}", total - i));
        }
        break;
    }
    truncate_escaped(&out, max).into_owned()
}

/// Text for inside `inline code`: redacted, escaped, backticks and newlines replaced so
/// the code span cannot end early.
fn inline_code(s: &str) -> String {
    escape::untrusted(s)
        .replace('`', "ˋ")
        .replace(['\n', '\r'], " ")
}

/// Quote already-escaped text as a block quote, line by line.
fn quote(s: &str) -> String {
    s.lines()
        .map(|l| format!(">{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_text_counts_what_is_left_out() {
        let items: Vec<String> = (0..100).map(|i| format!("• item {i}")).collect();
        let text = list_text("*Items*", items, 100, "items");
        assert!(chars(&text) <= 100, "{text}");
        assert!(text.contains("more items"), "{text}");
        let all = list_text("*Items*", vec!["• a".into(), "• b".into()], 100, "items");
        assert_eq!(all, "*Items*\n• a\n• b");
    }

    #[test]
    fn inline_code_cannot_break_out() {
        assert_eq!(inline_code("a`b\nc<!here>"), "aˋb c&lt;!here&gt;");
    }
}
