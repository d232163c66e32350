//! Log and task-definition scanners: specific problems found in the evidence.
//!
//! Each scanner looks at one log line (or one container definition) and may return a
//! [`Finding`]: a missing environment variable by name, a refused connection, a port in
//! use, an out-of-memory message, an AWS AccessDenied, a wrong CPU architecture, the
//! first line of a stack trace, a short health-check `startPeriod`, a container without
//! logs. Scanning must stay cheap (`explain` runs thousands of tasks a second), so all
//! patterns are compiled once and a single literal pre-filter skips ordinary lines.

use crate::evidence::{ContainerDefinition, ContainerLogs, Evidence, Task, TaskDefinition};
use crate::redact::redact;
use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::LazyLock;

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

/// At most this many findings per diagnosis.
pub const MAX_FINDINGS: usize = 10;
/// Only the last this-many log lines of each container are scanned.
pub const SCANNED_LINES: usize = 200;
/// Quoted lines are cut to this many characters.
const MAX_LINE_CHARS: usize = 300;

/// Does the task's stop point at failing container health checks?
pub fn health_checks_failed(evidence: &Evidence) -> bool {
    let reason = evidence.task.stopped_reason.as_deref().unwrap_or_default();
    health_checks_failed_text(reason, &evidence.task)
}

/// The stopped reason says so, or an essential container was reported UNHEALTHY.
pub fn health_checks_failed_text(reason: &str, task: &Task) -> bool {
    reason.contains("failed container health checks")
        || task
            .containers
            .iter()
            .any(|c| c.health_status.as_deref() == Some("UNHEALTHY"))
}

/// Scan the logs and the task definition. Deduplicated, ordered by kind, capped.
pub fn scan(evidence: &Evidence) -> Vec<Finding> {
    let mut findings = Vec::new();
    let definition = evidence.task_definition.as_ref();
    for logs in &evidence.logs {
        scan_logs(logs, definition, &mut findings);
    }
    if let Some(definition) = definition {
        findings.extend(architecture_mismatch(evidence, definition));
        if health_checks_failed(evidence) {
            findings.extend(definition.containers.iter().filter_map(short_start_period));
        }
        findings.extend(
            definition
                .containers
                .iter()
                .filter_map(missing_log_configuration),
        );
    }
    dedupe_and_cap(findings)
}

/// Keep the first finding of each (kind, container, detail), ordered by kind, at most
/// [`MAX_FINDINGS`]. A crash whose line is the line of a more specific finding of the
/// same container (`MemoryError` is both an OOM and the last line of a traceback)
/// says nothing new, so it is left out.
fn dedupe_and_cap(findings: Vec<Finding>) -> Vec<Finding> {
    let mut seen = HashSet::new();
    let mut kept: Vec<Finding> = findings
        .into_iter()
        .filter(|f| seen.insert((f.kind, f.container.clone(), f.detail.clone())))
        .collect();
    let specific: Vec<(Option<String>, String)> = kept
        .iter()
        .filter(|f| f.kind != FindingKind::Crash)
        .filter_map(|f| Some((f.container.clone(), f.line.clone()?)))
        .collect();
    kept.retain(|f| f.kind != FindingKind::Crash || !repeats_a_line(f, &specific));
    kept.sort_by_key(|f| f.kind);
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

/// Cheap hints, one per scanner, matched in a single pass over each line: a scanner's
/// capture regexes only run when its hint is present.
static HINTS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        // MISSING_VAR
        r"KeyError|environ|not defined|nvironment variable|env var|required key|placeholder|not set|must be set|must be provided|is required|issing|is undefined|process\.env",
        // DEPENDENCY
        r"ECONNREFUSED|onnection refused|could not connect|ENOTFOUND|not known|no such host|name resolution|EAI_AGAIN|imed out|timeout|ETIMEDOUT|EHOSTUNREACH|o route to host",
        // PORT
        r"EADDRINUSE|ddress already in use|already allocated",
        // OOM
        r"OutOfMemory|out of memory|MemoryError|Killed process|allocate memory",
        // ACCESS
        r"AccessDenied|not authorized to perform|UnauthorizedOperation",
        // EXEC_FORMAT
        r"exec format error",
        // CRASH
        r"Traceback|Exception|Error|panic|fatal error",
    ])
    .expect("valid hint set")
});
const MISSING_VAR: usize = 0;
const DEPENDENCY: usize = 1;
const PORT: usize = 2;
const OOM_HINT: usize = 3;
const ACCESS: usize = 4;
const EXEC_FORMAT: usize = 5;
const CRASH: usize = 6;

/// Scan one container's last lines, appending findings.
fn scan_logs(logs: &ContainerLogs, definition: Option<&TaskDefinition>, out: &mut Vec<Finding>) {
    let start = logs.lines.len().saturating_sub(SCANNED_LINES);
    let lines: Vec<&str> = logs.lines[start..]
        .iter()
        .map(|l| l.message.as_str())
        .collect();
    let container_def = definition.and_then(|d| container_definition(d, &logs.container));
    let mut crash_found = false;
    for (index, line) in lines.iter().enumerate() {
        let hints = HINTS.matches(line);
        if !hints.matched_any() {
            continue;
        }
        let found = |kind, detail: String| Finding {
            kind,
            detail,
            container: Some(logs.container.clone()),
            line: Some(quote(line)),
        };
        if hints.matched(MISSING_VAR) {
            if let Some(name) = missing_env_var(line) {
                let detail = describe_missing_var(&name, definition, container_def);
                out.push(found(FindingKind::MissingEnvVar, detail));
            }
        }
        if hints.matched(DEPENDENCY) {
            if let Some(detail) = dependency_unreachable(line) {
                out.push(found(FindingKind::DependencyUnreachable, detail));
            }
        }
        if hints.matched(PORT) {
            if let Some(detail) = port_in_use(line, container_def) {
                out.push(found(FindingKind::PortInUse, detail));
            }
        }
        if hints.matched(OOM_HINT) {
            if let Some(detail) = oom_in_logs(line) {
                out.push(found(FindingKind::OomInLogs, detail));
            }
        }
        if hints.matched(ACCESS) {
            if let Some(detail) = aws_access_denied(line, definition) {
                out.push(found(FindingKind::AwsAccessDenied, detail));
            }
        }
        if hints.matched(EXEC_FORMAT) {
            let detail = describe_exec_format_error(definition);
            out.push(found(FindingKind::WrongCpuArchitecture, detail));
        }
        if hints.matched(CRASH) && !crash_found {
            if let Some(crash) = crash_line(&lines, index) {
                crash_found = true;
                out.push(Finding {
                    kind: FindingKind::Crash,
                    detail: format!("The process crashed: {}", quote(&crash)),
                    container: Some(logs.container.clone()),
                    line: Some(quote(&crash)),
                });
            }
        }
    }
}

/// The container definition named `name`.
pub fn container_definition<'a>(
    definition: &'a TaskDefinition,
    name: &str,
) -> Option<&'a ContainerDefinition> {
    definition.containers.iter().find(|c| c.name == name)
}

/// A log line fit to quote: redacted and cut to [`MAX_LINE_CHARS`] characters.
pub fn quote(line: &str) -> String {
    let line = line.trim_end();
    let redacted = redact(line);
    match redacted.char_indices().nth(MAX_LINE_CHARS) {
        Some((cut, _)) => format!("{}…", &redacted[..cut]),
        None => redacted.into_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Missing environment variables
// ---------------------------------------------------------------------------------------

/// An environment variable name as people write them: upper case with digits and `_`.
const VAR: &str = r"[A-Z][A-Z0-9_]*[A-Z0-9]";

/// Patterns that capture a missing variable's name in group 1, most specific first.
static MISSING_VAR_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Python: os.environ['X'] / KeyError: 'X'
        format!(r#"os\.environ\[['"]({VAR})['"]\]"#),
        format!(r"KeyError: '({VAR})'"),
        // Go envconfig
        format!(r"required key ({VAR}) missing value"),
        // Spring placeholders (any property name)
        r"Could not resolve placeholder '([A-Za-z0-9_.\-]+)'".to_string(),
        // "Missing required environment variable X", "missing env var: X"
        format!(
            r#"(?i:missing(?: required)? env(?:ironment)?(?: var(?:iable)?)?s?:?)\s*['"`]?({VAR})"#
        ),
        // "environment variable X is not set / missing / required"
        format!(
            r#"(?i:env(?:ironment)? var(?:iable)?)\s+['"`]?({VAR})['"`]?\s+(?:is\s+)?(?:not set|not defined|missing|required|undefined|empty)"#
        ),
        // Node: process.env.X with undefined / missing
        format!(r"process\.env\.({VAR})\b.*(?i:undefined|missing|required|not set|must)"),
        // Rust env::var: "X: environment variable not found" / "failed to read X: ..."
        format!(r"\b({VAR})\b[^A-Z]*environment variable not found"),
        format!(r"environment variable not found[^A-Z]*\b({VAR})\b"),
        // "X is not defined", "X is not set", "X must be set", "X is required", "X is missing"
        format!(
            r#"['"`]?\b({VAR})['"`]?\s+(?:env(?:ironment)? var(?:iable)?\s+)?(?:is not defined|is not set|not set|must be set|must be provided|is required|is missing|is undefined)"#
        ),
        // "missing X env"
        format!(r"(?i:missing)\s+['`]?({VAR})['`]?\s+(?i:env)"),
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid missing-variable pattern"))
    .collect()
});

/// Names that match the patterns but are not variables.
const NOT_VARIABLES: &[&str] = &[
    "ERROR", "FATAL", "WARN", "WARNING", "INFO", "DEBUG", "TRACE",
];

/// The name of a missing environment variable mentioned in `line`, if any.
pub fn missing_env_var(line: &str) -> Option<String> {
    MISSING_VAR_PATTERNS
        .iter()
        .filter_map(|p| p.captures(line))
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str())
        .find(|name| !NOT_VARIABLES.contains(name))
        .map(str::to_string)
}

/// Spring's relaxed binding: `spring.datasource.url` is set by `SPRING_DATASOURCE_URL`.
pub fn env_form(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-')
        .map(|c| {
            if c == '.' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// Where the task definition defines `name`, in words, or `None`.
fn where_defined(name: &str, container: &ContainerDefinition) -> Option<String> {
    let env = env_form(name);
    let matches = |candidate: &str| candidate == name || candidate == env;
    if container.environment_names.iter().any(|n| matches(n)) {
        return Some("as an environment variable".to_string());
    }
    container
        .secrets
        .iter()
        .find(|s| matches(&s.name))
        .map(|s| format!("as a secret from `{}`", s.value_from))
}

/// "`X` is not set (...)", saying whether and where the task definition defines it.
pub fn describe_missing_var(
    name: &str,
    definition: Option<&TaskDefinition>,
    container: Option<&ContainerDefinition>,
) -> String {
    let Some(definition) = definition else {
        return format!("`{name}` is missing (the task definition could not be read to check it)");
    };
    let containers: Vec<&ContainerDefinition> = match container {
        Some(c) => vec![c],
        None => definition.containers.iter().collect(),
    };
    for c in &containers {
        if let Some(place) = where_defined(name, c) {
            return format!(
                "`{name}` is missing or empty, although the task definition `{}:{}` defines it for `{}` {place}: check its value",
                definition.family, definition.revision, c.name
            );
        }
    }
    let env_files: Vec<&str> = containers
        .iter()
        .flat_map(|c| c.environment_files.iter().map(String::as_str))
        .collect();
    if env_files.is_empty() {
        format!(
            "`{name}` is not set: the task definition `{}:{}` does not define it",
            definition.family, definition.revision
        )
    } else {
        format!(
            "`{name}` is not set: the task definition `{}:{}` does not define it directly (check the environment file {})",
            definition.family,
            definition.revision,
            env_files.join(", ")
        )
    }
}

// ---------------------------------------------------------------------------------------
// Unreachable dependencies, ports in use, out of memory
// ---------------------------------------------------------------------------------------

static DEPENDENCY_FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?P<refused>ECONNREFUSED|connection refused|could not connect to server)|",
        r"(?P<dns>ENOTFOUND|Name or service not known|no such host|Temporary failure in name resolution|EAI_AGAIN)|",
        r"(?P<timeout>ETIMEDOUT|i/o timeout|(?:connect|connection|dial tcp|request to)\b.{0,120}\b(?:timed out|timeout))|",
        r"(?P<unreachable>EHOSTUNREACH|No route to host)"
    ))
    .expect("valid dependency regex")
});

static TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"ENOTFOUND\s+(?P<name>[\w.\-]+)|lookup\s+(?P<lookup>[\w.\-]+)|host\s+"(?P<quoted>[^"]+)"|"#,
        r"(?P<hostport>\b(?:\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z][\w\-]*(?:\.[\w\-]+)*|\[[0-9a-fA-F:]+\]):\d{2,5})\b"
    ))
    .expect("valid target regex")
});

/// The host (and port) a connection failure names, if any.
fn connection_target(line: &str) -> Option<String> {
    TARGET.captures_iter(line).find_map(|c| {
        ["name", "lookup", "quoted", "hostport"]
            .iter()
            .find_map(|group| c.name(group))
            .map(|m| m.as_str().to_string())
            .filter(|t| !t.starts_with("http") && !t.starts_with("Error"))
    })
}

/// "Could not reach `db:5432` (connection refused)".
pub fn dependency_unreachable(line: &str) -> Option<String> {
    let caps = DEPENDENCY_FAILURE.captures(line)?;
    let how = if caps.name("refused").is_some() {
        "connection refused: nothing listens there, or it is not up yet"
    } else if caps.name("dns").is_some() {
        "the name does not resolve: check the host name and the VPC's DNS / service discovery"
    } else if caps.name("timeout").is_some() {
        "timed out: check security groups, network ACLs and routes between the task and it"
    } else {
        "no route to host: check the subnet's routes and network ACLs"
    };
    Some(match connection_target(line) {
        Some(target) => format!("Could not reach `{target}` ({how})"),
        None => format!("Could not reach a dependency ({how})"),
    })
}

static PORT_IN_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)EADDRINUSE|address already in use|port is already allocated")
        .expect("valid port regex")
});
static PORT_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r":(\d{2,5})\b").expect("valid port number regex"));

/// "Port 8080 is already in use ...", with the container's fixed host ports.
pub fn port_in_use(line: &str, container: Option<&ContainerDefinition>) -> Option<String> {
    if !PORT_IN_USE.is_match(line) {
        return None;
    }
    let port = PORT_NUMBER
        .captures_iter(line)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    let mut detail = match &port {
        Some(port) => format!("Port {port} is already in use"),
        None => "A port the process binds is already in use".to_string(),
    };
    let fixed: Vec<String> = container
        .map(|c| {
            c.port_mappings
                .iter()
                .filter_map(|m| m.host_port)
                .filter(|p| *p != 0)
                .map(|p| p.to_string())
                .collect()
        })
        .unwrap_or_default();
    if !fixed.is_empty() {
        detail.push_str(&format!(
            " (the container maps fixed host port {}: two tasks on one instance collide; use hostPort 0 in bridge mode or awsvpc)",
            fixed.join(", ")
        ));
    } else {
        detail.push_str(" (another process in the task or on the host holds it)");
    }
    Some(detail)
}

static OOM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"java\.lang\.OutOfMemoryError[^\n]*|JavaScript heap out of memory|\bMemoryError\b|",
        r"Killed process \d+|fatal error: runtime: out of memory|Cannot allocate memory|",
        r"\bout of memory\b|OutOfMemory"
    ))
    .expect("valid oom regex")
});

/// "The process ran out of memory: `java.lang.OutOfMemoryError: Java heap space`".
pub fn oom_in_logs(line: &str) -> Option<String> {
    let m = OOM.find(line)?;
    Some(format!(
        "The process reported running out of memory: `{}`",
        m.as_str().trim()
    ))
}

// ---------------------------------------------------------------------------------------
// AWS access denied
// ---------------------------------------------------------------------------------------

static NOT_AUTHORIZED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?P<who>arn:aws[\w-]*:(?:sts|iam)::\d{12}:[^\s]+)? is not authorized to perform:? (?P<action>[\w-]+:[\w*]+)(?: on resource:? "?(?P<resource>[^\s,"]+))?"#,
    )
    .expect("valid not-authorized regex")
});
static ACCESS_DENIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bAccessDenied(?:Exception)?\b|\bUnauthorizedOperation\b")
        .expect("valid access-denied regex")
});

/// "The task role `arn` may not call `s3:GetObject` on `arn:aws:s3:::bucket/key`".
pub fn aws_access_denied(line: &str, definition: Option<&TaskDefinition>) -> Option<String> {
    let role = match definition.and_then(|d| d.task_role_arn.as_deref()) {
        Some(arn) => format!("the task role `{arn}`"),
        None if definition.is_some() => {
            "the task (its task definition has no task role)".to_string()
        }
        None => "the task role".to_string(),
    };
    if let Some(caps) = NOT_AUTHORIZED.captures(line) {
        let action = &caps["action"];
        let resource = caps
            .name("resource")
            .map(|r| format!(" on `{}`", r.as_str()))
            .unwrap_or_default();
        return Some(format!(
            "AWS denied `{action}`{resource}: allow `{action}` in the policy of {role}"
        ));
    }
    ACCESS_DENIED
        .is_match(line)
        .then(|| format!("An AWS call was denied (AccessDenied): check the policy of {role}"))
}

// ---------------------------------------------------------------------------------------
// CPU architecture
// ---------------------------------------------------------------------------------------

/// `x86_64`/`X86_64`/`amd64` -> `X86_64`; `arm64`/`aarch64`/`ARM64` -> `ARM64`.
pub fn normalise_architecture(arch: &str) -> String {
    match arch.to_ascii_lowercase().as_str() {
        "x86_64" | "amd64" | "x86-64" => "X86_64".to_string(),
        "arm64" | "aarch64" => "ARM64".to_string(),
        other => other.to_ascii_uppercase(),
    }
}

/// What an "exec format error" means for this task definition.
fn describe_exec_format_error(definition: Option<&TaskDefinition>) -> String {
    let platform = definition
        .and_then(|d| d.cpu_architecture.as_deref())
        .map(normalise_architecture)
        .unwrap_or_else(|| "X86_64 (the default: no runtimePlatform set)".to_string());
    format!(
        "exec format error: the image's binary was built for another CPU architecture than the task's {platform}: build a multi-architecture image or set runtimePlatform.cpuArchitecture to match"
    )
}

/// The task definition asks for one CPU architecture and the task ran on another.
fn architecture_mismatch(evidence: &Evidence, definition: &TaskDefinition) -> Option<Finding> {
    let wanted = normalise_architecture(definition.cpu_architecture.as_deref()?);
    let ran = normalise_architecture(evidence.task.cpu_architecture.as_deref()?);
    (wanted != ran).then(|| Finding {
        kind: FindingKind::WrongCpuArchitecture,
        detail: format!(
            "The task definition asks for {wanted} (runtimePlatform) but the task ran on {ran}"
        ),
        container: None,
        line: Some(format!("runtimePlatform.cpuArchitecture: {wanted}")),
    })
}

// ---------------------------------------------------------------------------------------
// Crashes: the first line of a stack trace or panic
// ---------------------------------------------------------------------------------------

static NODE_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Uncaught )?[A-Z]?\w*(?:Error|Exception)(?: \[\w+\])?: ")
        .expect("valid node error regex")
});

/// The line that names the crash when `lines[index]` starts a stack trace or panic.
pub fn crash_line(lines: &[&str], index: usize) -> Option<String> {
    let line = lines[index].trim_end();
    let next = lines.get(index + 1).map(|l| l.trim_end());
    if line.starts_with("Traceback (most recent call last)") {
        return lines[index + 1..]
            .iter()
            .find(|l| !l.starts_with(' ') && !l.starts_with('\t') && !l.trim().is_empty())
            .map(|l| l.trim_end().to_string());
    }
    if line.contains("Exception in thread \"")
        || line.starts_with("panic: ")
        || line.starts_with("fatal error: ")
    {
        return Some(line.to_string());
    }
    if line.starts_with("thread '") && line.contains("' panicked at") {
        return Some(match next {
            Some(message) if line.ends_with(':') && !message.is_empty() => {
                format!("{line} {message}")
            }
            _ => line.to_string(),
        });
    }
    let followed_by_frames = next.is_some_and(|n| n.starts_with("    at "));
    (NODE_ERROR.is_match(line) && followed_by_frames).then(|| line.to_string())
}

// ---------------------------------------------------------------------------------------
// Task definition checks
// ---------------------------------------------------------------------------------------

/// Seconds a container may take to become healthy before it is called unhealthy.
const MIN_START_PERIOD: i32 = 30;

/// A health check with no `startPeriod`, or one shorter than interval x retries or 30 s.
fn short_start_period(container: &ContainerDefinition) -> Option<Finding> {
    let check = container.health_check.as_ref()?;
    let interval = check.interval.unwrap_or(30);
    let retries = check.retries.unwrap_or(3);
    let budget = interval.saturating_mul(retries);
    let suggested = budget.max(60).saturating_mul(2).min(300);
    let command = check.command.join(" ");
    let detail = match check.start_period {
        None | Some(0) => format!(
            "The health check of `{}` has no startPeriod: it must pass within {budget} s (interval {interval} s × retries {retries}) of starting; set startPeriod to about {suggested} s",
            container.name
        ),
        Some(period) if period < MIN_START_PERIOD || period < budget => format!(
            "The health check of `{}` has a short startPeriod of {period} s: set it to about {suggested} s so the application can boot",
            container.name
        ),
        Some(_) => return None,
    };
    Some(Finding {
        kind: FindingKind::HealthCheckStartPeriod,
        detail,
        container: Some(container.name.clone()),
        line: Some(format!("healthCheck.command: {command}")),
    })
}

/// An essential container without `logConfiguration` leaves nothing to read.
fn missing_log_configuration(container: &ContainerDefinition) -> Option<Finding> {
    let essential = container.essential.unwrap_or(true);
    (essential && container.log_configuration.is_none()).then(|| Finding {
        kind: FindingKind::NoLogConfiguration,
        detail: format!(
            "`{}` has no logConfiguration, so its output is not kept: add the awslogs log driver to see why it stops",
            container.name
        ),
        container: Some(container.name.clone()),
        line: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{HealthCheck, SecretRef};

    #[test]
    fn missing_variables_in_many_languages() {
        let cases = [
            ("KeyError: 'DATABASE_URL'", "DATABASE_URL"),
            ("    url = os.environ['DATABASE_URL']", "DATABASE_URL"),
            ("ReferenceError: API_BASE_URL is not defined", "API_BASE_URL"),
            ("Error: Missing required environment variable REDIS_URL", "REDIS_URL"),
            (
                "throw new Error('process.env.JWT_SECRET is undefined')",
                "JWT_SECRET",
            ),
            (
                "2024/05/01 main.go:22: required key PORT missing value",
                "PORT",
            ),
            (
                "java.lang.IllegalArgumentException: Could not resolve placeholder 'spring.datasource.url' in value \"${spring.datasource.url}\"",
                "spring.datasource.url",
            ),
            (
                "Error: failed to read DATABASE_URL: environment variable not found",
                "DATABASE_URL",
            ),
            (
                "thread 'main' panicked at src/main.rs:4:40: STRIPE_KEY: environment variable not found",
                "STRIPE_KEY",
            ),
            ("FATAL: SECRET_KEY_BASE is not set", "SECRET_KEY_BASE"),
            ("config error: QUEUE_URL must be set", "QUEUE_URL"),
            ("ValueError: S3_BUCKET is required", "S3_BUCKET"),
            ("missing SENTRY_DSN env", "SENTRY_DSN"),
            ("environment variable \"KAFKA_BROKERS\" is not set", "KAFKA_BROKERS"),
        ];
        for (line, name) in cases {
            assert_eq!(missing_env_var(line).as_deref(), Some(name), "{line}");
        }
    }

    #[test]
    fn ordinary_lines_name_no_variable() {
        for line in [
            "ERROR is required here",
            "Field is required",
            "Server started on port 8080",
            "KeyError: 'user_id'",
        ] {
            assert_eq!(missing_env_var(line), None, "{line}");
        }
    }

    #[test]
    fn defined_variables_are_reported_as_defined() {
        let definition = TaskDefinition {
            family: "api".into(),
            revision: 7,
            containers: vec![ContainerDefinition {
                name: "app".into(),
                environment_names: vec!["SPRING_DATASOURCE_URL".into()],
                secrets: vec![SecretRef {
                    name: "DATABASE_URL".into(),
                    value_from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
                        .into(),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let c = definition.containers.first();
        let detail = describe_missing_var("DATABASE_URL", Some(&definition), c);
        assert!(
            detail.contains("defines it") && detail.contains("secret"),
            "{detail}"
        );
        let detail = describe_missing_var("spring.datasource.url", Some(&definition), c);
        assert!(detail.contains("as an environment variable"), "{detail}");
        let detail = describe_missing_var("REDIS_URL", Some(&definition), c);
        assert!(detail.contains("does not define it"), "{detail}");
    }

    #[test]
    fn unreachable_dependencies_name_the_target() {
        let detail = dependency_unreachable("Error: connect ECONNREFUSED 10.0.1.5:5432").unwrap();
        assert!(detail.contains("`10.0.1.5:5432`") && detail.contains("refused"));
        let detail = dependency_unreachable("getaddrinfo ENOTFOUND db.internal").unwrap();
        assert!(detail.contains("`db.internal`") && detail.contains("resolve"));
        let detail =
            dependency_unreachable("dial tcp redis.cache.local:6379: i/o timeout").unwrap();
        assert!(detail.contains("redis.cache.local:6379") && detail.contains("timed out"));
        let detail =
            dependency_unreachable("psql: could not connect to server: Connection refused")
                .unwrap();
        assert!(detail.contains("refused"));
        assert!(dependency_unreachable("request took 12ms").is_none());
    }

    #[test]
    fn port_in_use_names_the_port() {
        let detail = port_in_use(
            "Error: listen EADDRINUSE: address already in use :::8080",
            None,
        )
        .unwrap();
        assert!(detail.starts_with("Port 8080"), "{detail}");
        assert!(port_in_use("listening on :8080", None).is_none());
    }

    #[test]
    fn out_of_memory_messages() {
        for line in [
            "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            "MemoryError",
            "Out of memory: Killed process 1234 (python)",
            "fatal error: runtime: out of memory",
            "ERROR: Cannot allocate memory",
        ] {
            assert!(oom_in_logs(line).is_some(), "{line}");
        }
        assert!(oom_in_logs("memory usage 40%").is_none());
    }

    #[test]
    fn access_denied_names_action_and_role() {
        let definition = TaskDefinition {
            task_role_arn: Some("arn:aws:iam::123456789012:role/orders-task".into()),
            ..Default::default()
        };
        let line = "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: User: arn:aws:sts::123456789012:assumed-role/orders-task/abc is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::orders-config/app.yaml";
        let detail = aws_access_denied(line, Some(&definition)).unwrap();
        assert!(detail.contains("`s3:GetObject`"), "{detail}");
        assert!(detail.contains("arn:aws:iam::123456789012:role/orders-task"));
        assert!(detail.contains("arn:aws:s3:::orders-config/app.yaml"));
        assert!(aws_access_denied("all good", None).is_none());
    }

    #[test]
    fn crash_first_lines() {
        let python = [
            "Traceback (most recent call last):",
            "  File \"/app/main.py\", line 3, in <module>",
            "    x = os.environ['DATABASE_URL']",
            "KeyError: 'DATABASE_URL'",
        ];
        assert_eq!(
            crash_line(&python, 0).as_deref(),
            Some("KeyError: 'DATABASE_URL'")
        );
        let node = [
            "TypeError: Cannot read properties of undefined (reading 'x')",
            "    at main (/app/index.js:3:9)",
        ];
        assert_eq!(crash_line(&node, 0).as_deref(), Some(node[0]));
        let go = ["panic: runtime error: invalid memory address or nil pointer dereference"];
        assert_eq!(crash_line(&go, 0).as_deref(), Some(go[0]));
        let rust = [
            "thread 'main' panicked at src/main.rs:10:5:",
            "called `Option::unwrap()` on a `None` value",
        ];
        assert!(crash_line(&rust, 0).unwrap().contains("Option::unwrap()"));
        let java = ["Exception in thread \"main\" java.lang.IllegalStateException: boom"];
        assert_eq!(crash_line(&java, 0).as_deref(), Some(java[0]));
        assert!(crash_line(&["Error: just a message"], 0).is_none());
    }

    #[test]
    fn short_start_periods_are_found() {
        let mut container = ContainerDefinition {
            name: "web".into(),
            health_check: Some(HealthCheck {
                command: vec![
                    "CMD-SHELL".into(),
                    "curl -f http://localhost/ || exit 1".into(),
                ],
                interval: Some(10),
                retries: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(short_start_period(&container)
            .unwrap()
            .detail
            .contains("no startPeriod"));
        if let Some(check) = container.health_check.as_mut() {
            check.start_period = Some(120);
        }
        assert!(short_start_period(&container).is_none());
    }

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
}
