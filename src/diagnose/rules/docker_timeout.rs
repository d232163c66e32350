//! `docker-timeout`: the container runtime on the instance did not answer in time, or
//! could not stop a container (`CannotStopContainerError`, which AWS's stopped-task error
//! codes list as "failed sending SIGTERM to container").

use super::meaning::Meaning;
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

/// The runtime could not stop a container: the same unresponsive runtime, seen at stop.
const CANNOT_STOP: &str = "cannotstopcontainererror";

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let cannot_stop = f.reasons_mention_any(&[CANNOT_STOP]);
    if !cannot_stop && !f.reasons_mention_any(RUNTIME_TIMEOUT) {
        return None;
    }
    let host = f
        .task
        .container_instance_arn
        .as_deref()
        .map(|a| format!(" on container instance `{a}`"))
        .unwrap_or_default();
    let detail = if cannot_stop {
        ": it could not stop the container (CannotStopContainerError)".to_string()
    } else {
        TRANSITION
            .captures(&f.all_reasons_lowercase)
            .and_then(|c| Some((c.name("state")?.as_str(), c.name("after")?.as_str())))
            .map(|(state, after)| {
                format!(": the container did not get to `{state}` within {after}")
            })
            .unwrap_or_default()
    };
    let verdict = Verdict::new(
        CauseId::DockerTimeout,
        format!(
            "{}: the container runtime{host} did not answer in time{detail}.",
            f.subject()
        ),
    );
    if !f.on_fargate() {
        return Some(verdict.general_fixes());
    }
    // On Fargate the runtime and its host are AWS's: nothing to restart or resize.
    let mut verdict = verdict.fix(
        "Run the task again: on Fargate the host and its runtime are AWS's, and a new task gets a new host.",
    );
    if cannot_stop {
        verdict = verdict.fix(
            "If it repeats, check what the container does on SIGTERM (a process that never exits, or a large volume still being written) and give it a `stopTimeout` it can meet.",
        );
    }
    Some(verdict.fix(
        "If it keeps happening, open an AWS Support case with the task ARN and the time it stopped.",
    ))
}

fn headline(f: &Facts) -> Option<String> {
    f.reasons_mention("timed out after")
        .then(|| "the container runtime timed out starting the container".to_string())
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
