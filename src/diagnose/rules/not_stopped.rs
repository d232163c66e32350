//! A task that has not stopped (RUNNING or PENDING, nothing asking it to stop): say so
//! plainly, under the `other` cause, rather than "stopped for no reason".

use super::{Facts, Verdict};
use crate::diagnose::CauseId;
use crate::evidence::Task;

/// Title of a task that has not stopped (category `other`: nothing stopped it).
pub const NOT_STOPPED_TITLE: &str = "The task has not stopped";

/// Last statuses of a task that is still starting.
const STARTING_STATUSES: &[&str] = &["PROVISIONING", "PENDING", "ACTIVATING"];

/// Is the task still running or starting, with nothing asking it to stop?
pub fn has_not_stopped(task: &Task) -> bool {
    let last = task.last_status.as_deref().unwrap_or("STOPPED");
    let desired = task.desired_status.as_deref().unwrap_or_default();
    last != "STOPPED"
        && desired != "STOPPED"
        && task.stopped_at.is_none()
        && task
            .stop_code
            .as_ref()
            .is_none_or(|c| c.as_str().is_empty())
}

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !has_not_stopped(f.task) {
        return None;
    }
    let last = f.task.last_status.as_deref().unwrap_or_default();
    let desired = f
        .task
        .desired_status
        .as_deref()
        .map(|d| format!(" (desired status {d})"))
        .unwrap_or_default();
    let mut verdict = Verdict::new(
        CauseId::Other,
        format!(
            "{} has not stopped: its last status is {last}{desired}, so there is no stop to explain yet.",
            f.subject()
        ),
    )
    .evidence(format!("Last status: {last}"));
    if STARTING_STATUSES.contains(&last) {
        verdict = verdict.fix(
            "It is still starting: if it stays in this state, read the service's events (`aws ecs describe-services`) for placement, image pull or network problems.",
        );
    }
    Some(verdict.fix(format!(
        "Run `ecs-why why {}` again once it has stopped (ECS keeps stopped tasks about an hour).",
        f.task.arn
    )))
}
