//! Log and task-definition scanners: specific problems found in the evidence.

use serde::{Deserialize, Serialize};

/// Finding kinds are a contract (DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
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
