//! `deployment-replaced`: a deployment of the task's service replaced it. Told apart
//! from a scale-in by the deployment ids (`ecs-svc/...`) in the reason and `startedBy`,
//! and by service events near the stop that show a rollout.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::evidence::ServiceEvent;
use chrono::Duration;
use regex::Regex;
use std::sync::LazyLock;

/// Prefix of a service deployment's id (`ecs-svc/1234567890`).
const DEPLOYMENT_PREFIX: &str = "ecs-svc/";
/// Service events this close to the stop count.
const EVENT_WINDOW_MINUTES: i64 = 15;
/// Service event wording of a rollout.
const ROLLOUT_EVENTS: &[&str] = &[
    "deployment completed",
    "deployment failed",
    "rolling back",
    "rolled back",
    "has started",
];

static DEPLOYMENT_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ecs-svc/\d+").expect("valid deployment id regex"));

/// The deployment that started the task (its `startedBy`), if a service's.
pub fn own_deployment<'a>(f: &Facts<'a>) -> Option<&'a str> {
    f.task
        .started_by
        .as_deref()
        .filter(|s| s.starts_with(DEPLOYMENT_PREFIX))
}

/// Another deployment than the task's own is stopping it, or a service event shows a
/// rollout. `service` is the service's name for the words.
pub fn replaced_by_deployment(f: &Facts, service: &str) -> Option<Verdict> {
    let stopping = DEPLOYMENT_ID.find(f.stopped_reason).map(|m| m.as_str());
    let own = own_deployment(f);
    let event = rollout_event(f, own);
    let replaced_by_other = matches!((stopping, own), (Some(s), Some(o)) if s != o);
    if !replaced_by_other && event.is_none() {
        return None;
    }
    let mut verdict = Verdict::new(
        CauseId::DeploymentReplaced,
        format!(
            "{}: a deployment of service `{service}` replaced it with a newer task (normal operation).",
            f.subject()
        ),
    );
    if let Some(own) = own {
        verdict = verdict.evidence(format!("The task was started by deployment `{own}`"));
    }
    if let Some(event) = event {
        verdict = verdict.evidence(format!("Service event: \"{}\"", quotable(&event.message)));
    }
    Some(verdict.fix(format!(
        "Nothing to fix if the deployment was intended; see it with `aws ecs describe-services --cluster {} --services {service}` (deployments and events).",
        f.task.cluster_name()
    )))
}

/// A service event near the stop time that shows a deployment rolling out.
fn rollout_event<'a>(f: &Facts<'a>, own: Option<&str>) -> Option<&'a ServiceEvent> {
    let window = Duration::minutes(EVENT_WINDOW_MINUTES);
    let anchor = f.task.stopping_at.or(f.task.stopped_at);
    f.service_events.iter().find(|event| {
        let near = match (anchor, event.created_at) {
            (Some(anchor), Some(at)) => (at - anchor).abs() <= window,
            _ => true,
        };
        let message = event.message.as_str();
        let other_deployment = DEPLOYMENT_ID
            .find_iter(message)
            .any(|m| own.is_some_and(|o| o != m.as_str()));
        let rolling = ROLLOUT_EVENTS.iter().any(|e| message.contains(e)) || other_deployment;
        near && rolling
    })
}

fn headline(f: &Facts) -> Option<String> {
    DEPLOYMENT_ID
        .find(f.stopped_reason)
        .map(|m| format!("replaced by deployment {}", m.as_str()))
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
