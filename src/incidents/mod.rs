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
use slack_morphism::prelude::{SlackMessageContent, SlackMessageMetadata};

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

/// The open incidents of one service (or family) in one channel: the index that
/// service events (steady state, a failed deployment) read to find them.
pub fn scope(channel: &str, cluster: &str, subject: &str) -> String {
    format!("open#{channel}#{cluster}#{subject}")
}

/// The scope of an incident's key (`incident#CHANNEL#CLUSTER#SUBJECT#…`), for an
/// incident no longer in the store; none of the three has a `#`.
pub fn scope_of_key(key: &str) -> String {
    let parts: Vec<&str> = key.splitn(5, '#').collect();
    match parts.as_slice() {
        ["incident", channel, cluster, subject, ..] => scope(channel, cluster, subject),
        _ => format!("open#{key}"),
    }
}

/// The escalation reply: whom it mentions, how long the incident has been open, and
/// how many stopped.
pub fn escalation_text(incident: &Incident, now: i64) -> String {
    let whom: Vec<String> = incident
        .escalate_to
        .iter()
        .map(|id| {
            let id = mrkdwn(id);
            if id.starts_with('S') {
                format!("<!subteam^{id}>")
            } else {
                format!("<@{id}>")
            }
        })
        .collect();
    format!(
        ":mega: {} this incident has been open {} min, neither acknowledged nor recovered: {}.",
        whom.join(" "),
        minutes_between(incident.opened_at, now),
        tasks_stopped(incident.count())
    )
}

/// The Slack message metadata type that marks an incident's parent, so a replica taking
/// over a parent whose poster died finds it in the channel's history.
pub const PARENT_EVENT_TYPE: &str = "ecs_why_incident";

/// The metadata of an incident's parent: its key and when it was opened (a key is
/// reused by a later incident of the same service and cause).
pub fn parent_metadata(incident: &Incident) -> SlackMessageMetadata {
    SlackMessageMetadata {
        event_type: PARENT_EVENT_TYPE.to_string(),
        event_payload: Some(
            [
                ("incident".to_string(), incident.key.clone()),
                ("opened_at".to_string(), incident.opened_at.to_string()),
            ]
            .into(),
        ),
    }
}

/// Whether `metadata` marks the parent of `incident`.
pub fn is_parent_of(metadata: &SlackMessageMetadata, incident: &Incident) -> bool {
    let payload = metadata.event_payload.as_ref();
    metadata.event_type == PARENT_EVENT_TYPE
        && payload.and_then(|p| p.get("incident")) == Some(&incident.key)
        && payload.and_then(|p| p.get("opened_at")) == Some(&incident.opened_at.to_string())
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
pub fn date(epoch: i64, format: &str) -> String {
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

/// Minutes from `from` to `to`, rounded up, at least 1.
pub fn minutes_between(from: i64, to: i64) -> i64 {
    (((to - from).max(0) + 59) / 60).max(1)
}

/// "1 task stopped", "14 tasks stopped".
pub fn tasks_stopped(count: usize) -> String {
    if count == 1 {
        "1 task stopped".to_string()
    } else {
        format!("{count} tasks stopped")
    }
}

/// The parent's status line: recovered (when, after how long, how many stopped), else
/// the count and span; a failed deployment; acknowledged; muted.
pub fn status_line(incident: &Incident, now: i64) -> String {
    let count = incident.count();
    let mut parts = Vec::new();
    match (incident.recovered_at, incident.span()) {
        (Some(at), span) => {
            let first = span.map_or(incident.opened_at, |(first, _)| first);
            parts.push(format!(
                ":white_check_mark: *recovered* {} after {} min, {}",
                date(at, "{time}"),
                minutes_between(first, at),
                tasks_stopped(count)
            ));
        }
        (None, Some((first, last))) if count > 1 => {
            let minutes = ((last - first).max(0) + 59) / 60;
            parts.push(format!(
                ":repeat: *{count} tasks stopped* in {minutes} min, last {}",
                date(last, "{time}")
            ));
        }
        _ => parts.push(tasks_stopped(count)),
    }
    if incident.recovered_at.is_none() && incident.active_until > 0 && now > incident.active_until {
        if let Some((_, last)) = incident.span() {
            parts.push(format!(
                ":zzz: no stops since {} (quiet, not recovered)",
                date(last, "{time}")
            ));
        }
    }
    if let Some(deployment) = &incident.deployment {
        parts.push(format!(":rotating_light: {}", mrkdwn(deployment)));
    }
    if let Some(at) = incident.escalated_at {
        parts.push(format!(":mega: escalated at {}", date(at, "{time}")));
    }
    if let (Some(user), Some(at)) = (&incident.acknowledged_by, incident.acknowledged_at) {
        parts.push(format!(
            ":eyes: acknowledged by <@{}> at {}",
            mrkdwn(user),
            date(at, "{time}")
        ));
    }
    if incident.recovered_at.is_none() {
        if let Some(until) = incident.muted_until.filter(|u| *u > now) {
            let until = if incident.mute_until_recovered {
                format!("recovered (at most {})", date(until, "{date_short} {time}"))
            } else {
                date(until, "{time}")
            };
            parts.push(format!(
                ":no_bell: muted until {until}: further stops are counted, not posted"
            ));
        }
    }
    parts.join(" · ")
}

/// The thread line that says the incident is over.
pub fn recovered_line(incident: &Incident, because: &str) -> String {
    let at = incident.recovered_at.unwrap_or(incident.opened_at);
    let first = incident
        .span()
        .map_or(incident.opened_at, |(first, _)| first);
    format!(
        ":white_check_mark: Recovered at {} after {} min ({}): {}",
        date(at, "{time}"),
        minutes_between(first, at),
        mrkdwn(because),
        tasks_stopped(incident.count())
    )
}

/// The header's prefix for the incident as it is now: recovered, a failed deployment,
/// a crash loop, or none.
fn header_prefix(incident: &Incident) -> Option<&'static str> {
    if incident.recovered_at.is_some() {
        Some("Recovered")
    } else if incident.deployment.is_some() {
        Some("Deployment failed")
    } else if incident.count() > 1 {
        Some("Crash loop")
    } else {
        None
    }
}

/// `text` without the prefixes [`parent`] adds ("Crash loop (3): ", "Recovered: ").
fn without_prefixes(text: &str) -> &str {
    let mut rest = text;
    loop {
        let stripped = ["Crash loop", "Recovered", "Deployment failed"]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
            .and_then(|r| {
                let r = match r.strip_prefix(" (") {
                    Some(counted) => counted.split_once(')').map_or(r, |(_, after)| after),
                    None => r,
                };
                r.strip_prefix(": ")
            });
        match stripped {
            Some(r) => rest = r,
            None => return rest,
        }
    }
}

/// Acknowledge and Mute make no sense on a recovered incident.
fn without_incident_buttons(blocks: &mut Vec<Value>) {
    let incident_buttons = [
        FollowUp::Acknowledge.action_id(),
        FollowUp::Mute.action_id(),
    ];
    for block in blocks.iter_mut() {
        if let Some(elements) = block.get_mut("elements").and_then(Value::as_array_mut) {
            elements.retain(|e| {
                !e.get("action_id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| incident_buttons.contains(&id))
            });
        }
    }
    blocks.retain(|b| {
        b.get("type").and_then(Value::as_str) != Some("actions")
            || b.get("elements")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty())
    });
}

/// The parent card: `card` (the first stop's) with the status line, the incident's
/// state in the header and fallback text ("Crash loop" once it repeats, "Recovered"
/// once it is over), and the Acknowledge and Mute buttons while it is open.
pub fn parent(card: &SlackMessageContent, incident: &Incident, now: i64) -> SlackMessageContent {
    let Ok(mut value) = serde_json::to_value(card) else {
        return card.clone();
    };
    let prefix = header_prefix(incident);
    if let Some(text) = value.get_mut("text") {
        if let Some(t) = text.as_str() {
            let plain = without_prefixes(t);
            let shown = match prefix {
                Some("Crash loop") => format!("Crash loop ({}): {plain}", incident.count()),
                Some(p) => format!("{p}: {plain}"),
                None => plain.to_string(),
            };
            *text = Value::String(shown);
        }
    }
    if let Some(blocks) = value.get_mut("blocks").and_then(Value::as_array_mut) {
        if let Some(header) = blocks
            .iter_mut()
            .find(|b| b.get("type").and_then(Value::as_str) == Some("header"))
        {
            if let Some(text) = header.pointer_mut("/text/text") {
                if let Some(t) = text.as_str() {
                    let plain = without_prefixes(t);
                    let titled = match prefix {
                        Some(p) => format!("{p}: {plain}"),
                        None => plain.to_string(),
                    };
                    *text = Value::String(crate::text::truncate(&titled, 150).into_owned());
                }
            }
        }
        if incident.recovered_at.is_some() {
            without_incident_buttons(blocks);
        }
        put_under_header(blocks, STATUS_BLOCK, status_line(incident, now));
    }
    serde_json::from_value(value).unwrap_or_else(|_| card.clone())
}

/// Replace the context line `block_id` of `blocks` with `text`, right under the header.
fn put_under_header(blocks: &mut Vec<Value>, block_id: &str, text: String) {
    blocks.retain(|b| b.get("block_id").and_then(Value::as_str) != Some(block_id));
    let line = json!({
        "type": "context",
        "block_id": block_id,
        "elements": [{"type": "mrkdwn", "text": text}]
    });
    let at = blocks
        .iter()
        .position(|b| b.get("type").and_then(Value::as_str) == Some("header"))
        .map_or(0, |i| i + 1);
    blocks.insert(at, line);
}

/// `card` with its blocks changed by `change`.
fn with_blocks(
    card: &SlackMessageContent,
    change: impl FnOnce(&mut Vec<Value>),
) -> SlackMessageContent {
    let Ok(mut value) = serde_json::to_value(card) else {
        return card.clone();
    };
    if let Some(blocks) = value.get_mut("blocks").and_then(Value::as_array_mut) {
        change(blocks);
    }
    serde_json::from_value(value).unwrap_or_else(|_| card.clone())
}

/// The block id of the line that says which account and region an alert is from.
const ORIGIN_BLOCK: &str = "ecs_why_origin";

/// `card` with a line naming where the task ran ("payments-prod (210987654321) ·
/// eu-west-1"), under the header.
pub fn with_origin(card: &SlackMessageContent, label: &str) -> SlackMessageContent {
    with_blocks(card, |blocks| {
        put_under_header(blocks, ORIGIN_BLOCK, format!(":cloud: {}", mrkdwn(label)));
    })
}

/// The block id of the line that links the incident this one recurs after.
const RECURRED_BLOCK: &str = "ecs_why_recurred";

/// `card` with a line linking the previous incident under the same key: "recurred; the
/// last incident ended 2 h before" (`link`: that incident's permalink, when known).
pub fn with_recurrence(
    card: &SlackMessageContent,
    incident: &Incident,
    link: Option<&str>,
) -> SlackMessageContent {
    let Some(previous) = &incident.previous else {
        return card.clone();
    };
    let gap = (incident.opened_at - previous.ended_at).max(0);
    let ago = if gap >= 5400 {
        format!("{} h", (gap + 1800) / 3600)
    } else {
        format!(
            "{} min",
            minutes_between(previous.ended_at, incident.opened_at)
        )
    };
    let last = match link {
        Some(link) => format!("<{link}|last incident>"),
        None => "last incident".to_string(),
    };
    with_blocks(card, |blocks| {
        put_under_header(
            blocks,
            RECURRED_BLOCK,
            format!(":leftwards_arrow_with_hook: recurred; {last} ended {ago} before"),
        );
    })
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
               "text": {"type": "plain_text", "text": "Mute…"}, "value": encoded}),
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
    fn a_recovered_parent_says_so_in_its_header_and_loses_its_incident_buttons() {
        let a = task("0123456789abcdef0123456789abcdef", 1);
        let d = diagnosis_of(&a);
        let reference = crate::render::blocks::button_ref(&d.task);
        let card = with_incident_buttons(
            &crate::render::blocks::card(&d),
            "incident#C1#x",
            reference.as_ref(),
        );
        let mut incident = Incident {
            stops: BTreeMap::from([
                ("a".to_string(), 1_000),
                ("b".to_string(), 1_300),
                ("c".to_string(), 1_500),
            ]),
            opened_at: 1_000,
            ..Incident::default()
        };
        let looping = parent(&card, &incident, 1_500);
        incident.deployment = Some("deployment ecs-svc/1 failed".into());
        let failed = serde_json::to_string(&parent(&looping, &incident, 1_600)).unwrap();
        assert!(failed.contains("Deployment failed: "), "{failed}");
        assert!(
            !failed.contains("Crash loop"),
            "one state in the header: {failed}"
        );
        incident.recovered_at = Some(2_380);
        let recovered = parent(&parent(&looping, &incident, 2_400), &incident, 2_400);
        let text = serde_json::to_string(&recovered).unwrap();
        assert!(text.contains("\"Recovered: "), "{text}");
        assert_eq!(
            text.matches("Recovered: ").count(),
            2,
            "header and fallback: {text}"
        );
        assert!(
            !text.contains("Crash loop") && !text.contains("Deployment failed:"),
            "{text}"
        );
        assert!(text.contains("*recovered* <!date^2380^"), "{text}");
        assert!(text.contains("after 23 min, 3 tasks stopped"), "{text}");
        assert!(!text.contains(FollowUp::Acknowledge.action_id()), "{text}");
        assert!(!text.contains(FollowUp::Mute.action_id()), "{text}");
        assert!(
            text.contains("ecs_why_"),
            "the follow-up buttons stay: {text}"
        );
        let line = recovered_line(&incident, "SERVICE_STEADY_STATE");
        assert!(
            line.contains("after 23 min") && line.contains("3 tasks stopped"),
            "{line}"
        );
    }

    #[test]
    fn a_recurring_incident_links_the_last_one() {
        let a = task("0123456789abcdef0123456789abcdef", 1);
        let card = crate::render::blocks::card(&diagnosis_of(&a));
        let incident = Incident {
            opened_at: 10_000,
            previous: Some(crate::state::Previous {
                parent_ts: "1.2".into(),
                ended_at: 10_000 - 7_200,
            }),
            ..Incident::default()
        };
        let linked = with_recurrence(
            &card,
            &incident,
            Some("https://x.slack.com/archives/C1/p12"),
        );
        let text = serde_json::to_string(&linked).unwrap();
        assert!(
            text.contains(
                "recurred; <https://x.slack.com/archives/C1/p12|last incident> ended 2 h before"
            ),
            "{text}"
        );
        let again = with_recurrence(&linked, &incident, None);
        assert_eq!(
            serde_json::to_string(&again)
                .unwrap()
                .matches("recurred;")
                .count(),
            1
        );
    }

    #[test]
    fn an_escalation_mentions_groups_and_users_and_a_quiet_card_says_so() {
        let incident = Incident {
            key: "incident#C1#prod#service:web#x#y".into(),
            opened_at: 1_000,
            stops: BTreeMap::from([("a".to_string(), 1_000), ("b".to_string(), 1_100)]),
            escalate_to: vec!["S0ONCALL".into(), "U0LEAD".into()],
            active_until: 4_700,
            ..Incident::default()
        };
        let text = escalation_text(&incident, 1_900);
        assert!(text.contains("<!subteam^S0ONCALL> <@U0LEAD>"), "{text}");
        assert!(
            text.contains("open 15 min") && text.contains("2 tasks stopped"),
            "{text}"
        );
        assert!(!status_line(&incident, 4_000).contains("quiet"));
        let quiet = status_line(&incident, 4_800);
        assert!(quiet.contains("no stops since <!date^1100^"), "{quiet}");
        assert!(quiet.contains("not recovered"), "{quiet}");
        assert_eq!(scope_of_key(&incident.key), "open#C1#prod#service:web");
    }

    #[test]
    fn a_parent_is_known_by_its_metadata() {
        let incident = Incident {
            key: "incident#C1#prod#service:web#x".into(),
            opened_at: 1_700_000_000,
            ..Incident::default()
        };
        let metadata = parent_metadata(&incident);
        assert!(is_parent_of(&metadata, &incident));
        let later = Incident {
            opened_at: 1_700_009_999,
            ..incident.clone()
        };
        assert!(
            !is_parent_of(&metadata, &later),
            "the same key, a later incident"
        );
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
