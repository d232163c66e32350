//! Log and task-definition scanners: specific problems found in the evidence.
//!
//! Each scanner looks at one log line (or one container definition) and may return a
//! finding: a missing environment variable by name, a refused connection, a port in
//! use, an out-of-memory message, an AWS AccessDenied, a wrong CPU architecture, the
//! first line of a stack trace, a short health-check `startPeriod`, a container without
//! logs. Scanning must stay cheap (`explain` runs thousands of tasks a second), so all
//! patterns are compiled once and a single literal pre-filter skips ordinary lines.
//!
//! A [`Finding`] is what readers see (and what `--format json` prints); the scanners
//! also keep the values it names ([`FindingValues`]) so that the rules never have to
//! read them back out of the words.

mod access_denied;
mod architecture;
mod crash;
mod dependency;
mod logs;
mod missing_env_var;
mod out_of_memory;
mod port_in_use;
mod task_definition;

pub use access_denied::{aws_access_denied, not_authorized, NotAuthorized};
pub use crash::crash_line;
pub use dependency::dependency_unreachable;
pub use missing_env_var::{
    describe_missing_var, env_form, missing_env_var, missing_variable_finding, VariableDefinition,
};
pub use out_of_memory::oom_in_logs;
pub use port_in_use::port_in_use;

use super::text::first_of_each;
use crate::evidence::{Evidence, Task};
use serde::{Deserialize, Serialize};

/// Finding kinds are a contract (DESIGN.md).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum FindingKind {
    MissingEnvVar,
    DependencyUnreachable,
    PortInUse,
    OomInLogs,
    AwsAccessDenied,
    WrongCpuArchitecture,
    Crash,
    HealthCheckStartPeriod,
    NoLogConfiguration,
}

impl FindingKind {
    /// The kind's contract id (`missing-env-var`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One specific problem, with the line or setting it was found in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// What was found, in words: "`DATABASE_URL` is not set (not defined in the task definition)".
    pub detail: String,
    pub container: Option<String>,
    /// The (redacted) log line or setting it rests on.
    pub line: Option<String>,
}

/// The values a finding names, for the rules. Never shown or serialised: readers see
/// the finding's `detail`, which the scanner wrote from these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingValues {
    MissingEnvVar {
        /// As the application wrote it: `DATABASE_URL`, or `spring.datasource.url`.
        name: String,
        definition: VariableDefinition,
    },
    DependencyUnreachable {
        /// `host:port` or a host name, when the line names one.
        target: Option<String>,
    },
    PortInUse {
        port: Option<String>,
        /// Fixed host ports the container maps.
        fixed_host_ports: Vec<String>,
    },
    OomInLogs,
    AwsAccessDenied {
        /// The action and resource, when the line says "is not authorized to perform".
        denied: Option<NotAuthorized>,
    },
    WrongCpuArchitecture {
        /// What the task definition asks for (`X86_64`, `ARM64`), if it says.
        wanted: Option<String>,
        /// What the task ran on, when known and different.
        ran: Option<String>,
    },
    Crash,
    HealthCheckStartPeriod {
        /// The `startPeriod` to set, in seconds.
        suggested_seconds: i32,
    },
    NoLogConfiguration,
}

impl FindingValues {
    /// The kind of finding these values belong to.
    pub fn kind(&self) -> FindingKind {
        match self {
            FindingValues::MissingEnvVar { .. } => FindingKind::MissingEnvVar,
            FindingValues::DependencyUnreachable { .. } => FindingKind::DependencyUnreachable,
            FindingValues::PortInUse { .. } => FindingKind::PortInUse,
            FindingValues::OomInLogs => FindingKind::OomInLogs,
            FindingValues::AwsAccessDenied { .. } => FindingKind::AwsAccessDenied,
            FindingValues::WrongCpuArchitecture { .. } => FindingKind::WrongCpuArchitecture,
            FindingValues::Crash => FindingKind::Crash,
            FindingValues::HealthCheckStartPeriod { .. } => FindingKind::HealthCheckStartPeriod,
            FindingValues::NoLogConfiguration => FindingKind::NoLogConfiguration,
        }
    }
}

/// What a scanner found in one line or setting: the values, and the words for `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub values: FindingValues,
    pub detail: String,
}

/// A finding together with the values it names. The kind always matches the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailedFinding {
    pub finding: Finding,
    pub values: FindingValues,
}

impl DetailedFinding {
    pub fn new(found: Described, container: Option<String>, line: Option<String>) -> Self {
        DetailedFinding {
            finding: Finding {
                kind: found.values.kind(),
                detail: found.detail,
                container,
                line,
            },
            values: found.values,
        }
    }

    pub fn kind(&self) -> FindingKind {
        self.finding.kind
    }

    /// Was it found in the logs or settings of container `name`?
    pub fn is_about(&self, name: &str) -> bool {
        self.finding.container.as_deref() == Some(name)
    }
}

/// At most this many findings per diagnosis.
pub const MAX_FINDINGS: usize = 10;
/// Only the last this-many log lines of each container are scanned.
pub const SCANNED_LINES: usize = 200;

/// Does the task's stop point at failing container health checks? The stopped reason
/// says so, or an essential container was reported UNHEALTHY.
pub fn health_checks_failed(task: &Task) -> bool {
    task.stopped_reason
        .as_deref()
        .unwrap_or_default()
        .contains("failed container health checks")
        || task
            .containers
            .iter()
            .any(|c| c.health_status.as_deref() == Some("UNHEALTHY"))
}

/// Scan the logs and the task definition. Deduplicated, ordered by kind, capped.
pub fn scan(evidence: &Evidence) -> Vec<DetailedFinding> {
    let mut findings = Vec::new();
    let definition = evidence.task_definition.as_ref();
    for logs in &evidence.logs {
        logs::scan(logs, definition, &mut findings);
    }
    if let Some(definition) = definition {
        findings.extend(architecture::mismatch(evidence, definition));
        if health_checks_failed(&evidence.task) {
            findings.extend(
                definition
                    .containers
                    .iter()
                    .filter_map(task_definition::short_start_period),
            );
        }
        findings.extend(
            definition
                .containers
                .iter()
                .filter_map(task_definition::missing_log_configuration),
        );
    }
    dedupe_and_cap(findings)
}

/// Keep the first finding of each (kind, container, detail), ordered by kind, at most
/// [`MAX_FINDINGS`]. A crash whose line is the line of a more specific finding of the
/// same container (`MemoryError` is both an OOM and the last line of a traceback)
/// says nothing new, so it is left out.
fn dedupe_and_cap(findings: Vec<DetailedFinding>) -> Vec<DetailedFinding> {
    let mut kept = first_of_each(findings, |f| {
        let f = &f.finding;
        (f.kind, f.container.clone(), f.detail.clone())
    });
    let specific: Vec<(Option<String>, String)> = kept
        .iter()
        .map(|f| &f.finding)
        .filter(|f| f.kind != FindingKind::Crash)
        .filter_map(|f| Some((f.container.clone(), f.line.clone()?)))
        .collect();
    kept.retain(|f| f.kind() != FindingKind::Crash || !repeats_a_line(&f.finding, &specific));
    kept.sort_by_key(DetailedFinding::kind);
    kept.truncate(MAX_FINDINGS);
    kept
}

/// Does `crash` quote (part of) a line already quoted by a finding of its container?
fn repeats_a_line(crash: &Finding, shown: &[(Option<String>, String)]) -> bool {
    let Some(line) = crash.line.as_deref() else {
        return false;
    };
    let line = line.trim_end_matches('…');
    shown.iter().any(|(container, other)| {
        let other = other.trim_end_matches('…');
        *container == crash.container
            && !other.is_empty()
            && (line.contains(other) || other.contains(line))
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn kind_ids_are_their_contract_spelling() {
        for kind in [
            FindingKind::MissingEnvVar,
            FindingKind::DependencyUnreachable,
            FindingKind::PortInUse,
            FindingKind::OomInLogs,
            FindingKind::AwsAccessDenied,
            FindingKind::WrongCpuArchitecture,
            FindingKind::Crash,
            FindingKind::HealthCheckStartPeriod,
            FindingKind::NoLogConfiguration,
        ] {
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::Value::from(kind.as_str()))
            );
        }
    }

    use super::*;

    #[test]
    fn scan_dedupes_and_caps() {
        use crate::evidence::{ContainerLogs, LogLine};
        let lines = (0..50)
            .map(|i| LogLine {
                timestamp: None,
                message: format!("Error: connect ECONNREFUSED 10.0.0.{i}:5432"),
            })
            .chain((0..5).map(|_| LogLine {
                timestamp: None,
                message: "Error: connect ECONNREFUSED 10.0.0.1:5432".into(),
            }))
            .collect();
        let evidence = Evidence {
            logs: vec![ContainerLogs {
                container: "app".into(),
                lines,
                ..Default::default()
            }],
            ..Default::default()
        };
        let findings = scan(&evidence);
        assert_eq!(findings.len(), MAX_FINDINGS);
    }

    #[test]
    fn kinds_follow_the_values() {
        let found = DetailedFinding::new(
            Described {
                values: FindingValues::PortInUse {
                    port: Some("8080".into()),
                    fixed_host_ports: Vec::new(),
                },
                detail: "Port 8080 is already in use".into(),
            },
            Some("app".into()),
            None,
        );
        assert_eq!(found.kind(), FindingKind::PortInUse);
        assert!(found.is_about("app") && !found.is_about("web"));
    }
}
