//! Thread replies under the card: a container's log tail, who stopped the task, the
//! task definition and the service's events. These are built from the evidence.

use super::build::{
    button, context, fit, inline_code, json_chars, message, section, section_with_fields,
    slack_date, valid, Budget,
};
use super::card::stopped_by_text;
use super::limits;
use crate::arn;
use crate::evidence::{
    ContainerDefinition, ContainerLogs, ServiceEvent, StopLookup, TaskDefinition, SERVICE_EVENTS,
};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::render::escape::{self, chars, truncate, truncate_escaped};
use slack_morphism::prelude::*;

/// Most thread replies one log tail is split into; older lines beyond are left out
/// (with a note) and the "More logs" button pages further back.
pub const MAX_LOG_MESSAGES: usize = 4;
/// A single log line is cut to this many characters.
const MAX_LOG_LINE: usize = 1000;

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
            let when = e.created_at.map_or("-".to_string(), |t| slack_date(&t));
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
