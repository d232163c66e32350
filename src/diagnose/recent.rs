//! How the task's stop compares with its service's other recent stops: "4 of the last
//! 5 tasks stopped the same way", computed once for every output.

use crate::evidence::{Evidence, RecentStop};
use serde::{Deserialize, Serialize};

/// `same` of the service's last `of` stopped tasks stopped the same way as this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SameWay {
    pub same: usize,
    pub of: usize,
}

/// How many of the service's recent stops stopped like the explained task: the same stop
/// code and the same exit code of the container that decided it (the first essential one
/// that exited non-zero), or, without an exit code, the same start of the stopped reason.
/// `None` for fewer than two recent stops.
pub fn same_way(evidence: &Evidence) -> Option<SameWay> {
    let recent = evidence.recent_stops.as_ref()?;
    if recent.tasks.len() < 2 {
        return None;
    }
    let this = RecentStop::of(&evidence.task);
    let deciding = deciding_container(evidence);
    let same = recent
        .tasks
        .iter()
        .filter(|other| stopped_alike(&this, other, deciding))
        .count()
        .max(1);
    Some(SameWay {
        same,
        of: recent.tasks.len(),
    })
}

/// The essential container whose exit stopped the task: the first essential one that
/// exited non-zero, else the first essential one with an exit code.
fn deciding_container(evidence: &Evidence) -> Option<&str> {
    let essential = |name: &str| {
        evidence
            .task_definition
            .as_ref()
            .and_then(|td| td.containers.iter().find(|c| c.name == name))
            .is_none_or(|c| c.essential.unwrap_or(true))
    };
    let containers = &evidence.task.containers;
    containers
        .iter()
        .find(|c| essential(&c.name) && c.exit_code.is_some_and(|n| n != 0))
        .or_else(|| {
            containers
                .iter()
                .find(|c| essential(&c.name) && c.exit_code.is_some())
        })
        .map(|c| c.name.as_str())
}

fn stopped_alike(this: &RecentStop, other: &RecentStop, deciding: Option<&str>) -> bool {
    if this.stop_code != other.stop_code {
        return false;
    }
    let exit =
        |stop: &RecentStop| deciding.and_then(|name| stop.exit_codes.get(name).copied().flatten());
    match exit(this) {
        Some(code) => exit(other) == Some(code),
        None => reason_prefix(this) == reason_prefix(other),
    }
}

/// The stopped reason up to its first `:` or `(`, where the task's own details (ARNs,
/// image names, ids) usually start.
fn reason_prefix(stop: &RecentStop) -> Option<String> {
    let reason = stop.stopped_reason.as_deref()?;
    let end = reason.find([':', '(']).unwrap_or(reason.len());
    Some(reason[..end].trim().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Container, RecentStops, Task};

    fn task(n: u32, code: &str, exit: i32) -> Task {
        Task {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n:032x}"),
            stop_code: Some(code.into()),
            stopped_reason: Some("Essential container in task exited".into()),
            containers: vec![Container {
                name: "app".into(),
                exit_code: Some(exit),
                ..Container::default()
            }],
            ..Task::default()
        }
    }

    #[test]
    fn counts_stops_with_the_same_code_and_exit() {
        let this = task(1, "EssentialContainerExited", 1);
        let others = [
            task(2, "EssentialContainerExited", 1),
            task(3, "EssentialContainerExited", 137),
            task(4, "UserInitiated", 1),
            task(5, "EssentialContainerExited", 1),
        ];
        let mut tasks: Vec<RecentStop> = others.iter().map(RecentStop::of).collect();
        tasks.insert(0, RecentStop::of(&this));
        let evidence = Evidence {
            task: this,
            recent_stops: Some(RecentStops { tasks }),
            ..Evidence::default()
        };
        assert_eq!(same_way(&evidence), Some(SameWay { same: 3, of: 5 }));
    }

    #[test]
    fn reasons_compare_up_to_their_details() {
        let mut a = RecentStop::of(&task(1, "TaskFailedToStart", 0));
        a.exit_codes.clear();
        a.stopped_reason = Some("CannotPullContainerError: pull image manifest: repo-a".into());
        let mut b = a.clone();
        b.stopped_reason = Some("CannotPullContainerError: ref not found: repo-b".into());
        assert!(stopped_alike(&a, &b, Some("app")));
        b.stopped_reason = Some("ResourceInitializationError: secrets".into());
        assert!(!stopped_alike(&a, &b, Some("app")));
    }
}
