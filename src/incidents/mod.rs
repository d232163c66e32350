//! Incidents: what makes two stops one incident, how an incident reads in Slack, and
//! its buttons ([`buttons`]: Acknowledge, Mute). The alerts open and grow incidents;
//! the bot applies their buttons; neither depends on the other, both on this.
//!
//! An incident is a channel, a service (or the task family of a standalone task), a
//! cause and the key fact (the missing variable, the image, the exit codes): facts,
//! never generated text. Its parent is the first stop's card with a status line under
//! the header (how many stopped, over how long, acknowledged, muted), "Crash loop" in
//! the header once it repeats, and Acknowledge and Mute buttons. Each later stop is one
//! short line in the thread.

pub mod buttons;

use crate::diagnose::{CauseId, Diagnosis};
use crate::evidence::Task;
use crate::follow_up::{ButtonRef, FollowUp};
use crate::render::escape::mrkdwn;
use crate::state::Incident;
use serde_json::{json, Value};
use slack_morphism::prelude::SlackMessageContent;

/// The block id of the parent's status line.
const STATUS_BLOCK: &str = "ecs_why_incident";
/// Longest key fact kept in a key.
const MAX_FACT: usize = 200;

/// The store key of the incident a stop belongs to, in `channel`.
pub fn key(channel: &str, task: &Task, diagnosis: &Diagnosis) -> String {
    format!(
        "incident#{channel}#{}#{}#{}#{}",
        task.cluster_name(),
        subject(task),
        diagnosis.category.as_str(),
        crate::text::truncate(&key_fact(task, diagnosis), MAX_FACT)
    )
}

/// `service:NAME`, else `family:NAME` (from the group, else the task definition).
pub fn subject(task: &Task) -> String {
    if let Some(service) = task.service_name() {
        return format!("service:{service}");
    }
    let family = task
        .group
        .as_deref()
        .and_then(|g| g.strip_prefix("family:"))
        .map(str::to_string)
        .unwrap_or_else(|| {
            let definition = task.task_definition.rsplit('/').next().unwrap_or_default();
            definition
                .split(':')
                .next()
                .unwrap_or(definition)
                .to_string()
        });
    format!("family:{family}")
}

/// What tells one failure of a service from another with the same cause: the first
/// finding, the image for pull failures, else the exit codes.
fn key_fact(task: &Task, diagnosis: &Diagnosis) -> String {
    if let Some(finding) = diagnosis.findings.first() {
        let kind = serde_json::to_value(finding.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        return format!("{kind}:{}", finding.detail);
    }
    if diagnosis.category == CauseId::ImagePullFailed {
        let images: Vec<&str> = task
            .containers
            .iter()
            .filter_map(|c| c.image.as_deref())
            .collect();
        return images.join(",");
    }
    exit_codes(task)
}

/// `web=137,sidecar=0`, by container name.
fn exit_codes(task: &Task) -> String {
    let mut codes: Vec<String> = task
        .containers
        .iter()
        .filter_map(|c| Some(format!("{}={}", c.name, c.exit_code?)))
        .collect();
    codes.sort();
    codes.join(",")
}

/// The task id (the ARN's last segment).
pub fn task_id(task: &Task) -> String {
    task.arn.rsplit('/').next().unwrap_or(&task.arn).to_string()
}

/// Slack's date formatting of an epoch time, with a UTC fallback.
fn date(epoch: i64, format: &str) -> String {
    let fallback = chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    format!("<!date^{epoch}^{format}|{fallback}>")
}

/// One stop as a line in the incident's thread.
pub fn thread_line(task: &Task) -> String {
    let id = task_id(task);
    let short: String = id.chars().take(8).collect();
    let mut parts = vec![format!("`{}`", mrkdwn(&short))];
    if let Some(at) = task.stopped_at {
        parts.push(format!("stopped {}", date(at.timestamp(), "{time_secs}")));
    }
    let mut codes: Vec<String> = task
        .containers
        .iter()
        .filter_map(|c| Some(format!("{} exit {}", mrkdwn(&c.name), c.exit_code?)))
        .collect();
    codes.sort();
    parts.extend(codes);
    if let Some(reason) = task.stopped_reason.as_deref().filter(|r| !r.is_empty()) {
        parts.push(mrkdwn(&crate::text::truncate(reason, 120)).into_owned());
    }
    format!("• {}", parts.join(" · "))
}

/// The parent's status line: count and span, acknowledged, muted.
pub fn status_line(incident: &Incident, now: i64) -> String {
    let count = incident.count();
    let mut parts = Vec::new();
    match incident.span() {
        Some((first, last)) if count > 1 => {
            let minutes = ((last - first).max(0) + 59) / 60;
            parts.push(format!(
                ":repeat: *{count} tasks stopped* in {minutes} min, last {}",
                date(last, "{time}")
            ));
        }
        _ => parts.push("1 task stopped".to_string()),
    }
    if let (Some(user), Some(at)) = (&incident.acknowledged_by, incident.acknowledged_at) {
        parts.push(format!(
            ":eyes: acknowledged by <@{}> at {}",
            mrkdwn(user),
            date(at, "{time}")
        ));
    }
    if let Some(until) = incident.muted_until.filter(|u| *u > now) {
        parts.push(format!(
            ":no_bell: muted until {}: further stops are counted, not posted",
            date(until, "{time}")
        ));
    }
    parts.join(" · ")
}

/// The parent card: `card` (the first stop's) with the status line, "Crash loop" in the
/// header and fallback text once it repeats, and the Acknowledge and Mute buttons.
pub fn parent(card: &SlackMessageContent, incident: &Incident, now: i64) -> SlackMessageContent {
    let Ok(mut value) = serde_json::to_value(card) else {
        return card.clone();
    };
    let repeated = incident.count() > 1;
    if repeated {
        if let Some(text) = value.get_mut("text") {
            if let Some(t) = text.as_str().filter(|t| !t.starts_with("Crash loop")) {
                *text = Value::String(format!("Crash loop ({}): {t}", incident.count()));
            }
        }
    }
    if let Some(blocks) = value.get_mut("blocks").and_then(Value::as_array_mut) {
        blocks.retain(|b| b.get("block_id").and_then(Value::as_str) != Some(STATUS_BLOCK));
        if repeated {
            if let Some(header) = blocks
                .iter_mut()
                .find(|b| b.get("type").and_then(Value::as_str) == Some("header"))
            {
                if let Some(text) = header.pointer_mut("/text/text") {
                    if let Some(t) = text.as_str().filter(|t| !t.starts_with("Crash loop")) {
                        let titled = format!("Crash loop: {t}");
                        *text = Value::String(crate::text::truncate(&titled, 150).into_owned());
                    }
                }
            }
        }
        let status = json!({
            "type": "context",
            "block_id": STATUS_BLOCK,
            "elements": [{"type": "mrkdwn", "text": status_line(incident, now)}]
        });
        let at = blocks
            .iter()
            .position(|b| b.get("type").and_then(Value::as_str) == Some("header"))
            .map_or(0, |i| i + 1);
        blocks.insert(at, status);
    }
    serde_json::from_value(value).unwrap_or_else(|_| card.clone())
}

/// Buttons on an alert's parent card: Acknowledge, Mute and the card's first three.
pub const ALERT_BUTTONS: usize = 5;

/// The first stop's card with Acknowledge and Mute buttons added to its actions (a new
/// actions block when it has none). The buttons carry `reference` (the task) and the
/// incident's key; without a reference the card is returned unchanged.
pub fn with_incident_buttons(
    card: &SlackMessageContent,
    incident_key: &str,
    reference: Option<&ButtonRef>,
) -> SlackMessageContent {
    let Some(reference) = reference else {
        return card.clone();
    };
    let Ok(mut value) = serde_json::to_value(card) else {
        return card.clone();
    };
    let button_ref = ButtonRef {
        container: None,
        page_token: None,
        incident: Some(incident_key.to_string()),
        ..reference.clone()
    };
    let encoded = button_ref.encode();
    // Acknowledge is what the channel should do first: the one primary button.
    let buttons = [
        json!({"type": "button", "action_id": FollowUp::Acknowledge.action_id(),
               "text": {"type": "plain_text", "text": "Acknowledge"}, "value": encoded,
               "style": "primary"}),
        json!({"type": "button", "action_id": FollowUp::Mute.action_id(),
               "text": {"type": "plain_text", "text": "Mute 1 h"}, "value": encoded}),
    ];
    if let Some(blocks) = value.get_mut("blocks").and_then(Value::as_array_mut) {
        match blocks
            .iter_mut()
            .find(|b| b.get("type").and_then(Value::as_str) == Some("actions"))
            .and_then(|b| b.get_mut("elements"))
            .and_then(Value::as_array_mut)
        {
            Some(elements) => {
                // The card's own buttons keep their order after these two, without
                // their primary style; at most five buttons in all.
                for element in elements.iter_mut() {
                    if let Some(button) = element.as_object_mut() {
                        button.remove("style");
                    }
                }
                let mut all: Vec<Value> = buttons.to_vec();
                all.append(elements);
                all.truncate(ALERT_BUTTONS);
                *elements = all;
            }
            None => blocks.push(json!({"type": "actions", "elements": buttons})),
        }
    }
    serde_json::from_value(value).unwrap_or_else(|_| card.clone())
}

/// The parent's ts and card as stored, when it has been posted.
pub fn stored_parent(incident: &Incident) -> Option<(String, SlackMessageContent)> {
    let ts = incident.parent_ts.clone()?;
    let card = serde_json::from_str(incident.card.as_deref()?).ok()?;
    Some((ts, card))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::diagnose;
    use crate::evidence::{Container, Evidence};
    use std::collections::BTreeMap;

    fn task(id: &str, exit: i32) -> Task {
        Task {
            arn: format!("arn:aws:ecs:eu-west-1:123456789012:task/prod/{id}"),
            cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod".into(),
            group: Some("service:web".into()),
            task_definition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7".into(),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            containers: vec![Container {
                name: "app".into(),
                exit_code: Some(exit),
                ..Container::default()
            }],
            ..Task::default()
        }
    }

    fn diagnosis_of(task: &Task) -> Diagnosis {
        diagnose(&Evidence {
            task: task.clone(),
            ..Evidence::default()
        })
    }

    #[test]
    fn stops_of_one_service_for_one_reason_share_a_key() {
        let a = task("0123456789abcdef0123456789abcdef", 1);
        let b = task("fedcba9876543210fedcba9876543210", 1);
        let c = task("00000000000000000000000000000000", 2);
        let key_a = key("C1", &a, &diagnosis_of(&a));
        assert_eq!(key_a, key("C1", &b, &diagnosis_of(&b)));
        assert_ne!(key_a, key("C1", &c, &diagnosis_of(&c)), "another exit code");
        assert_ne!(key_a, key("C2", &a, &diagnosis_of(&a)), "another channel");
        assert!(
            key_a.starts_with("incident#C1#prod#service:web#"),
            "{key_a}"
        );
        let mut standalone = a.clone();
        standalone.group = Some("family:nightly".into());
        assert_eq!(subject(&standalone), "family:nightly");
    }

    #[test]
    fn the_parent_counts_and_says_crash_loop_once_it_repeats() {
        let a = task("0123456789abcdef0123456789abcdef", 1);
        let card = crate::render::blocks::card(&diagnosis_of(&a));
        let mut incident = Incident {
            stops: BTreeMap::from([("a".to_string(), 1_000)]),
            ..Incident::default()
        };
        let one = serde_json::to_string(&parent(&card, &incident, 1_000)).unwrap();
        assert!(!one.contains("Crash loop"));
        assert!(one.contains("1 task stopped"));
        incident.stops.insert("b".into(), 1_200);
        incident.stops.insert("c".into(), 1_360);
        incident.acknowledged_by = Some("U1".into());
        incident.acknowledged_at = Some(1_400);
        incident.muted_until = Some(5_000);
        let again = parent(&parent(&card, &incident, 1_400), &incident, 1_400);
        let text = serde_json::to_string(&again).unwrap();
        assert!(text.contains("Crash loop: "), "{text}");
        assert_eq!(
            text.matches("Crash loop").count(),
            2,
            "header and fallback, once each"
        );
        assert!(text.contains("*3 tasks stopped* in 6 min"), "{text}");
        assert!(text.contains("acknowledged by <@U1>"), "{text}");
        assert!(text.contains("muted until <!date^5000^"), "{text}");
        assert_eq!(text.matches(STATUS_BLOCK).count(), 1, "one status line");
    }

    #[test]
    fn a_thread_line_is_short_and_escaped() {
        let mut t = task("0123456789abcdef0123456789abcdef", 137);
        t.stopped_reason = Some("<!channel> OutOfMemoryError".into());
        t.stopped_at = chrono::DateTime::from_timestamp(1_700_000_000, 0);
        let line = thread_line(&t);
        assert!(line.starts_with("• `01234567"), "{line}");
        assert!(line.contains("app exit 137"), "{line}");
        assert!(line.contains("<!date^1700000000^"), "{line}");
        assert!(!line.contains("<!channel>"), "{line}");
    }

    #[test]
    fn an_alert_card_has_at_most_five_buttons_and_acknowledge_is_the_primary_one() {
        let a = task("0123456789abcdef0123456789abcdef", 1);
        let d = diagnosis_of(&a);
        let card = crate::render::blocks::card(&d);
        let reference = crate::render::blocks::button_ref(&d.task);
        let alert = with_incident_buttons(&card, "incident#C1#prod#x", reference.as_ref());
        let value = serde_json::to_value(&alert).unwrap();
        let buttons: Vec<&Value> = value["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().into_iter().flatten())
            .collect();
        assert!(buttons.len() <= ALERT_BUTTONS, "{buttons:?}");
        let primary: Vec<&&Value> = buttons.iter().filter(|b| b["style"] == "primary").collect();
        assert_eq!(primary.len(), 1, "{buttons:?}");
        assert_eq!(primary[0]["action_id"], FollowUp::Acknowledge.action_id());
    }
}
