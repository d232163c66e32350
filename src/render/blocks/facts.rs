//! What the card shows beside the diagnosis: facts about the thread it heads rather than
//! the cause. Which containers have a log tail in the thread (and where the next page
//! starts), where the logs of the others would be, and who re-checked the card.

use crate::evidence::Evidence;
use chrono::{DateTime, Utc};

/// The card's facts from the evidence. [`CardFacts::default`] knows nothing: the card is
/// then built from the diagnosis alone (`--format blocks`), as before these facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardFacts {
    /// The log tails posted in the thread; `None` when not known.
    pub logs: Option<Vec<LogsShown>>,
    /// Containers whose logs are not in CloudWatch by design (another driver, or none).
    pub unlogged: Vec<Unlogged>,
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
