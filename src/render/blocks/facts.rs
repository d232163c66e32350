//! What the card shows beside the diagnosis: facts from the evidence about the situation
//! rather than the cause. How many of the service's recent tasks stopped the same way,
//! which containers have a log tail in the thread (and where the next page starts),
//! where the logs of the others would be, and who re-checked the card.

use crate::evidence::{Evidence, RecentStop};
use chrono::{DateTime, Utc};

/// The card's facts from the evidence. [`CardFacts::default`] knows nothing: the card is
/// then built from the diagnosis alone (`--format blocks`), as before these facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardFacts {
    /// The log tails posted in the thread; `None` when not known.
    pub logs: Option<Vec<LogsShown>>,
    /// Containers whose logs are not in CloudWatch by design (another driver, or none).
    pub unlogged: Vec<Unlogged>,
    /// Of the service's recent stops, how many stopped like this one.
    pub same_way: Option<SameWay>,
    /// Who asked for the card again, and when.
    pub rechecked: Option<Rechecked>,
}

/// A container's log tail as shown in the thread.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsShown {
    pub container: String,
    /// Where older lines continue (`None`: the tail is the whole stream).
    pub next_token: Option<String>,
}

/// A container that does not log to CloudWatch Logs with awslogs.
#[derive(Debug, Clone, PartialEq)]
pub struct Unlogged {
    pub container: String,
    /// Its log driver (`splunk`, `fluentd`, ...); `None` without a log configuration.
    pub driver: Option<String>,
}

/// `same` of the service's last `of` stopped tasks stopped the same way as this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SameWay {
    pub same: usize,
    pub of: usize,
}

/// A re-run of the diagnosis: when, and the Slack user id who asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Rechecked {
    pub at: DateTime<Utc>,
    pub user: String,
}

impl CardFacts {
    /// The facts `evidence` holds.
    pub fn from_evidence(evidence: &Evidence) -> CardFacts {
        let logs = evidence
            .logs
            .iter()
            .map(|l| LogsShown {
                container: l.container.clone(),
                next_token: l.next_token.clone(),
            })
            .collect();
        let unlogged = evidence
            .task_definition
            .iter()
            .flat_map(|td| td.containers.iter())
            .filter(|c| c.essential.unwrap_or(true))
            .filter_map(|c| match &c.log_configuration {
                None => Some(Unlogged {
                    container: c.name.clone(),
                    driver: None,
                }),
                Some(config) if config.log_driver != "awslogs" => Some(Unlogged {
                    container: c.name.clone(),
                    driver: Some(config.log_driver.clone()),
                }),
                Some(_) => None,
            })
            .collect();
        CardFacts {
            logs: Some(logs),
            unlogged,
            same_way: same_way(evidence),
            rechecked: None,
        }
    }

    /// The log tail shown for `container`, if any.
    pub fn logs_of(&self, container: &str) -> Option<&LogsShown> {
        self.logs
            .as_ref()?
            .iter()
            .find(|l| l.container == container)
    }
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
