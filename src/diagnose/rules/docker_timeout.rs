//! `docker-timeout`: the container runtime on the instance did not answer in time.

use super::{Facts, Verdict};
use crate::diagnose::CauseId;

const RUNTIME_TIMEOUT: &[&str] = &[
    "dockertimeouterror",
    "docker timeout",
    "containerruntimetimeouterror",
];

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
    Some(
        Verdict::new(
            CauseId::DockerTimeout,
            format!(
                "{}: the container runtime{host} did not answer in time.",
                f.subject()
            ),
        )
        .general_fixes(),
    )
}
