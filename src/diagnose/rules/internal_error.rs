//! `internal-error`: ECS reported an internal error of its own, its agent on the
//! instance hit a fault of its own (its state machine, its Docker client, a task it could
//! not read), or Fargate did not finish setting up the task's storage in time.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use regex::Regex;
use std::sync::LazyLock;

const INTERNAL_ERROR: &[&str] = &["internalerror", "internal error"];
/// The agent's own faults, by the names it gives them (lower-cased; the agent spells
/// two of them `CannotGetDockerclientError` and `UnrecogniedTaskError`).
const AGENT_FAULTS: &[&str] = &[
    "cannotgetdockerclienterror",
    "cannotgetdockerclientversionerror",
    "cannotdescribecontainererror",
    "impossiblestatetransitionerror",
    "nosuchcontainererror",
    "taskstateerror",
    "cgrouperror",
    "unrecogniedtaskerror",
    "unrecognizedtaskerror",
    "unparsableport",
    "unrecognizedtransportprotocol",
];
/// Fargate's words for storage it did not finish setting up.
const STORAGE_PROVISIONING: &[&str] = &[
    "ephemeralstorage provisioning",
    "ephemeral storage provisioning",
];

/// A task resource the agent could not move on: `resource [x]: transition to CREATED
/// impossible`, `Volume [data]: impossible to transition to REMOVED`.
static IMPOSSIBLE_TRANSITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\]: (?:transition to \S+ impossible|impossible to transition to)")
        .expect("valid transition regex")
});

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let reason = quotable(f.telling_reason());
    let subject = f.subject();
    if f.reasons_mention_any(STORAGE_PROVISIONING) {
        return Some(
            Verdict::new(
                CauseId::InternalError,
                format!("{subject} could not start: Fargate did not finish setting up the task's ephemeral storage in time (on AWS's side): \"{reason}\"."),
            )
            .general_fixes(),
        );
    }
    let agent_fault = f.reasons_mention_any(AGENT_FAULTS)
        || IMPOSSIBLE_TRANSITION.is_match(&f.all_reasons_lowercase);
    if agent_fault {
        let host = if f.on_fargate() {
            "Fargate's ECS agent".to_string()
        } else {
            f.task.container_instance_arn.as_deref().map_or(
                "the ECS agent on its container instance".to_string(),
                |arn| format!("the ECS agent on container instance `{arn}`"),
            )
        };
        let verdict = Verdict::new(
            CauseId::InternalError,
            format!(
                "{subject}: {host} hit an error of its own, not the application's: \"{reason}\"."
            ),
        );
        if f.on_fargate() {
            return Some(verdict.general_fixes());
        }
        return Some(
            verdict
                .fix("Run the task again; a service retries by itself.")
                .fix("If it repeats on the same instance, check that the Docker daemon and the ECS agent run and agree (`systemctl status docker ecs`, the agent's log in `/var/log/ecs/`), update the ECS agent, or replace the instance."),
        );
    }
    if !f.reasons_mention_any(INTERNAL_ERROR) {
        return None;
    }
    Some(
        Verdict::new(
            CauseId::InternalError,
            format!("{subject}: ECS reported an internal error: \"{reason}\"."),
        )
        .general_fixes(),
    )
}

pub const MEANING: Meaning = Meaning::PLAIN;
