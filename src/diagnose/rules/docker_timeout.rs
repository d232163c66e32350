//! `docker-timeout`: the container runtime on the instance did not answer in time.

use super::{Facts, Verdict};
use crate::diagnose::CauseId;
use regex::Regex;
use std::sync::LazyLock;

const RUNTIME_TIMEOUT: &[&str] = &[
    "dockertimeouterror",
    "docker timeout",
    "containerruntimetimeouterror",
];

/// The agent's wording: "Could not transition to running; timed out after waiting 1m".
static TRANSITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)could not transition to (?P<state>[\w ]+?); timed out after waiting (?P<after>[0-9][0-9a-zµ.]*)")
        .expect("valid transition regex")
});

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention_any(RUNTIME_TIMEOUT) {
        return None;
    }
    let host = f
        .task
        .container_instance_arn
        .as_deref()
        .map(|a| format!(" on container instance `{a}`"))
        .unwrap_or_default();
    let detail = TRANSITION
        .captures(&f.all_reasons_lowercase)
        .and_then(|c| Some((c.name("state")?.as_str(), c.name("after")?.as_str())))
        .map(|(state, after)| format!(": the container did not get to `{state}` within {after}"))
        .unwrap_or_default();
    Some(
        Verdict::new(
            CauseId::DockerTimeout,
            format!(
                "{}: the container runtime{host} did not answer in time{detail}.",
                f.subject()
            ),
        )
        .general_fixes(),
    )
}
