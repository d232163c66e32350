//! Tasks that never start: `SERVICE_TASK_PLACEMENT_FAILURE`,
//! `SERVICE_TASK_CONFIGURATION_FAILURE` and `SERVICE_TASK_START_IMPAIRED` leave no
//! STOPPED task to announce, so the service's event opens (or joins) an incident of its
//! own: a card read from ECS's reason ("batch: no capacity to place tasks
//! (RESOURCE:MEMORY)"), the cause's meaning and fixes from the catalog, Acknowledge and
//! Mute; each later event of the same kind and reason is a line in its thread, and the
//! service's steady state recovers it like any other incident.

use super::announce::{Announcer, Source, Summary, GROUP_WINDOW, LINE_CLAIM, PARENT_LEASE};
use super::event::{ServiceChange, ServiceNews};
use crate::config::routes::AlertRoute;
use crate::diagnose::catalog::Cause;
use crate::diagnose::CauseId;
use crate::evidence::ServiceEvent;
use crate::follow_up::ButtonRef;
use crate::incidents;
use crate::investigate::access::Channel;
use crate::investigate::Access;
use crate::render::escape::mrkdwn;
use crate::state::{self, Incident, Join};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackMessageContent;

/// What ECS's event says, read: the catalog's cause and the card's headline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    pub cause: CauseId,
    pub headline: String,
}

/// Words of a reason that mean an account quota, not capacity.
const QUOTA_WORDS: &[&str] = &["quota", "limit exceeded", "limitexceeded", "you've reached"];
/// Words of a reason that mean the placement constraints or attributes.
const CONSTRAINT_WORDS: &[&str] = &["attribute", "memberof", "distinctinstance"];

/// Read the event's kind and reason, and the service's recent events when the reason
/// alone does not tell (a start impaired by a quota says so only in the events).
pub fn read(news: &ServiceNews, events: &[ServiceEvent]) -> Unplaced {
    let by_reason = read_reason(news);
    if by_reason.cause != CauseId::Other {
        return by_reason;
    }
    let said: String = events
        .iter()
        .map(|e| e.message.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    if QUOTA_WORDS.iter().any(|w| said.contains(w)) {
        return Unplaced {
            cause: CauseId::TaskLimitQuota,
            headline: "an account quota stops new tasks".to_string(),
        };
    }
    if said.contains("unable to place a task") {
        return Unplaced {
            cause: CauseId::InsufficientResourcesPlacement,
            headline: "no capacity to place tasks".to_string(),
        };
    }
    by_reason
}

/// Read the event's kind and reason alone.
fn read_reason(news: &ServiceNews) -> Unplaced {
    let reason = news.reason.as_deref().unwrap_or_default();
    let lower = reason.to_ascii_lowercase();
    let quoted = if reason.is_empty() {
        String::new()
    } else {
        format!(" ({})", crate::text::truncate(reason, 60))
    };
    if QUOTA_WORDS.iter().any(|w| lower.contains(w)) {
        return Unplaced {
            cause: CauseId::TaskLimitQuota,
            headline: format!("an account quota stops new tasks{quoted}"),
        };
    }
    match news.what {
        ServiceChange::PlacementFailure if CONSTRAINT_WORDS.iter().any(|w| lower.contains(w)) => {
            Unplaced {
                cause: CauseId::InsufficientResourcesPlacement,
                headline: format!("no instance meets the placement constraints{quoted}"),
            }
        }
        ServiceChange::PlacementFailure => Unplaced {
            cause: CauseId::InsufficientResourcesPlacement,
            headline: format!("no capacity to place tasks{quoted}"),
        },
        ServiceChange::ConfigurationFailure => Unplaced {
            cause: CauseId::Other,
            headline: format!("tasks cannot be placed as configured{quoted}"),
        },
        _ => Unplaced {
            cause: CauseId::Other,
            headline: format!("tasks keep failing to start{quoted}"),
        },
    }
}

impl Announcer {
    /// Count a "tasks cannot start" event in its incident in `route`'s channel.
    pub(super) async fn unplaced(
        &self,
        route: &AlertRoute,
        news: &ServiceNews,
        summary: &mut Summary,
    ) -> Result<(), String> {
        let access = Access::resolve(
            &self.settings,
            news.account.as_deref(),
            Some(Channel {
                id: &route.channel,
                name: None,
            }),
        );
        let events = self
            .service_of(news, &access)
            .await
            .map(|service| service.events)
            .unwrap_or_default();
        let read = read(news, &events);
        if route.ignores(read.cause) {
            summary.ignored += 1;
            return Ok(());
        }
        let now = state::now();
        let channel = route.channel.as_str();
        let subject = format!("service:{}", news.service);
        let fact = format!(
            "{}:{}",
            news.what.event_name(),
            crate::text::truncate(news.reason.as_deref().unwrap_or_default(), 200)
        );
        let join = Join {
            key: format!(
                "incident#{channel}#{}#{subject}#{}#{fact}",
                news.cluster,
                read.cause.as_str()
            ),
            channel: channel.to_string(),
            task_id: format!("event-{}", news.id),
            stopped_at: news.at.map_or(now, |t| t.timestamp()),
            now,
            window: GROUP_WINDOW,
            lease: PARENT_LEASE,
            claim: LINE_CLAIM,
            holder: self.replica.clone(),
            scope: incidents::scope(channel, &news.cluster, &subject),
            escalation: route
                .escalate_after
                .map(|after| (after, route.escalate_to.clone())),
        };
        let line = thread_line(news, join.stopped_at);
        self.count(join, Source::Unplaced(news, &events), line, summary)
            .await
    }
}

/// One later event as a line in the incident's thread.
fn thread_line(news: &ServiceNews, at: i64) -> String {
    let mut parts = vec![
        format!("<!date^{at}^{{time_secs}}|{at}>"),
        news.what.event_name().to_string(),
    ];
    if let Some(reason) = news.reason.as_deref() {
        parts.push(mrkdwn(&crate::text::truncate(reason, 200)).into_owned());
    }
    format!("• {}", parts.join(" · "))
}

/// The incident's parent card: the headline, what it means and how to fix it, ECS's
/// words, where; Acknowledge and Mute; the metadata that marks it as the parent.
pub fn card(
    incident: &Incident,
    news: &ServiceNews,
    events: &[ServiceEvent],
    origin: Option<&str>,
) -> SlackMessageContent {
    let read = read(news, events);
    let cause = Cause::get(read.cause);
    let header = format!("{}: {}", news.service, read.headline);
    let (title, meaning) = if read.cause == CauseId::Other {
        (
            "ECS cannot start the service's tasks".to_string(),
            "ECS tried to start tasks for the service and could not; no task ran, so no task stopped.".to_string(),
        )
    } else {
        (cause.title.to_string(), cause.meaning.to_string())
    };
    let mut fields = vec![
        format!("*Service*\n`{}`", mrkdwn(&news.service)),
        format!(
            "*Cluster*\n`{}`{}",
            mrkdwn(&news.cluster),
            news.region
                .as_deref()
                .map(|r| format!(" · {}", mrkdwn(r)))
                .unwrap_or_default()
        ),
        format!("*Event*\n{}", news.what.event_name()),
    ];
    if let Some(reason) = news.reason.as_deref() {
        fields.push(format!(
            "*ECS said*\n{}",
            mrkdwn(&crate::text::truncate(reason, 500))
        ));
    }
    let mut blocks: Vec<Value> = vec![
        json!({"type": "header", "text": {"type": "plain_text",
               "text": crate::text::truncate(&header, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn",
               "text": format!("*{}.* {}", mrkdwn(&title), mrkdwn(&meaning))},
               "fields": fields.iter().map(|f| json!({"type": "mrkdwn", "text": f})).collect::<Vec<_>>()}),
    ];
    if !news.capacity_providers.is_empty() {
        let providers: Vec<String> = news
            .capacity_providers
            .iter()
            .map(|p| format!("`{}`", mrkdwn(crate::arn::last_segment(p))))
            .collect();
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": format!("Capacity providers: {}", providers.join(", "))}]}));
    }
    if !events.is_empty() {
        let said: Vec<String> = events
            .iter()
            .take(3)
            .map(|e| {
                let at = e
                    .created_at
                    .map(|t| format!("{} ", incidents::date(t.timestamp(), "{time}")))
                    .unwrap_or_default();
                format!("• {at}{}", mrkdwn(&crate::text::truncate(&e.message, 300)))
            })
            .collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("*The service's latest events*\n{}", said.join("\n"))}}));
    }
    if read.cause != CauseId::Other {
        let fixes: Vec<String> = cause
            .general_fixes
            .iter()
            .map(|f| format!("• {f}"))
            .collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": format!("*Fix*\n{}", fixes.join("\n"))}}));
    }
    let content: SlackMessageContent = serde_json::from_value(json!({
        "text": mrkdwn(&crate::text::truncate(&header, 300)),
        "blocks": blocks,
    }))
    .unwrap_or_else(|_| SlackMessageContent::new().with_text(header.clone()));
    let reference = news.region.as_ref().map(|region| ButtonRef {
        region: region.clone(),
        cluster: news.cluster.clone(),
        task_arn: String::new(),
        container: None,
        page_token: None,
        incident: None,
        mute: None,
    });
    let mut card = incidents::with_incident_buttons(&content, &incident.key, reference.as_ref());
    if let Some(origin) = origin {
        card = incidents::with_origin(&card, origin);
    }
    card.metadata = Some(incidents::parent_metadata(incident));
    card
}

#[cfg(test)]
mod tests {
    use super::*;

    fn news(what: ServiceChange, reason: &str) -> ServiceNews {
        ServiceNews {
            id: "e1".into(),
            what,
            service_arn: "arn:aws:ecs:eu-west-1:123456789012:service/prod/batch".into(),
            service: "batch".into(),
            cluster: "prod".into(),
            account: Some("123456789012".into()),
            region: Some("eu-west-1".into()),
            reason: Some(reason.into()),
            at: None,
            deployment_id: None,
            capacity_providers: vec![],
        }
    }

    #[test]
    fn placement_failures_are_read_from_ecs_reason() {
        let memory = read(
            &news(ServiceChange::PlacementFailure, "RESOURCE:MEMORY"),
            &[],
        );
        assert_eq!(memory.cause, CauseId::InsufficientResourcesPlacement);
        assert_eq!(
            memory.headline,
            "no capacity to place tasks (RESOURCE:MEMORY)"
        );
        let constraint = read(&news(ServiceChange::PlacementFailure, "ATTRIBUTE"), &[]);
        assert!(constraint.headline.contains("placement constraints"));
        let quota = read(
            &news(
                ServiceChange::ConfigurationFailure,
                "You've reached the limit on the number of tasks you can run concurrently",
            ),
            &[],
        );
        assert_eq!(quota.cause, CauseId::TaskLimitQuota);
        let impaired = read(&news(ServiceChange::StartImpaired, ""), &[]);
        assert_eq!(impaired.headline, "tasks keep failing to start");
        // The reason says nothing; the service's events say it is a quota.
        let events = [ServiceEvent {
            created_at: None,
            message: "(service batch) failed to launch a task with (error You've reached the limit on the number of tasks you can run concurrently).".into(),
        }];
        let quota_in_events = read(&news(ServiceChange::StartImpaired, ""), &events);
        assert_eq!(quota_in_events.cause, CauseId::TaskLimitQuota);
    }

    #[test]
    fn the_card_names_the_service_and_escapes_ecs_words() {
        let incident = Incident {
            key: "incident#C1#prod#service:batch#x#y".into(),
            ..Incident::default()
        };
        let card = card(
            &incident,
            &news(
                ServiceChange::PlacementFailure,
                "RESOURCE:MEMORY <!channel>",
            ),
            &[ServiceEvent { created_at: None, message: "(service batch) was unable to place a task because no container instance met all of its requirements.".into() }],
            Some("123456789012 · eu-west-1"),
        );
        let text = serde_json::to_string(&card).unwrap();
        assert!(
            text.contains("batch: no capacity to place tasks (RESOURCE:MEMORY"),
            "{text}"
        );
        // The header is plain text (shown as written); the fallback text and the fields
        // are mrkdwn, escaped.
        let fallback = card.text.clone().unwrap_or_default();
        assert!(!fallback.contains("<!channel>"), "{fallback}");
        assert!(text.contains("RESOURCE:MEMORY &lt;!channel&gt;"), "{text}");
        assert!(
            text.contains("ecs_why_acknowledge") && text.contains("ecs_why_mute"),
            "{text}"
        );
        assert!(text.contains("Add capacity"), "the catalog's fixes: {text}");
        assert!(
            text.contains("unable to place a task"),
            "the service's events: {text}"
        );
        assert!(text.contains(incidents::PARENT_EVENT_TYPE), "{text}");
        let value = text
            .split("\"value\":\"")
            .nth(1)
            .and_then(|v| v.split("\",\"").next())
            .unwrap_or_default()
            .replace("\\\"", "\"");
        let decoded = ButtonRef::decode(&value).expect("the buttons' reference is valid");
        assert_eq!(decoded.incident.as_deref(), Some(incident.key.as_str()));
    }
}
