//! The log scan: one pass over each container's last lines, where a cheap set of
//! hints decides which scanners run on a line.

use super::{
    architecture, aws_access_denied, crash_line, dependency_unreachable, missing_env_var,
    missing_variable_finding, oom_in_logs, port_in_use, Described, DetailedFinding, FindingValues,
    SCANNED_LINES,
};
use crate::diagnose::text::quotable;
use crate::evidence::{ContainerLogs, TaskDefinition};
use crate::values::container_definition;
use regex::RegexSet;
use std::sync::LazyLock;

/// Cheap hints, one per scanner, matched in a single pass over each line: a scanner's
/// capture regexes only run when its hint is present. The `HINT_*` indices follow it.
static HINTS: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        // HINT_MISSING_VAR
        r"KeyError|environ|not defined|nvironment variable|env var|required key|placeholder|not set|must be set|must be provided|is required|issing|is undefined|process\.env",
        // HINT_DEPENDENCY
        r"ECONNREFUSED|onnection refused|could not connect|ENOTFOUND|not known|no such host|name resolution|EAI_AGAIN|imed out|timeout|ETIMEDOUT|EHOSTUNREACH|o route to host",
        // HINT_PORT
        r"EADDRINUSE|ddress already in use|already allocated",
        // HINT_OOM
        r"OutOfMemory|out of memory|MemoryError|Killed process|allocate memory",
        // HINT_ACCESS
        r"AccessDenied|not authorized to perform|UnauthorizedOperation",
        // HINT_EXEC_FORMAT
        r"exec format error",
        // HINT_CRASH
        r"Traceback|Exception|Error|panic|fatal error",
    ])
    .expect("valid hint set")
});
const HINT_MISSING_VAR: usize = 0;
const HINT_DEPENDENCY: usize = 1;
const HINT_PORT: usize = 2;
const HINT_OOM: usize = 3;
const HINT_ACCESS: usize = 4;
const HINT_EXEC_FORMAT: usize = 5;
const HINT_CRASH: usize = 6;

/// Scan one container's last [`SCANNED_LINES`] lines, appending findings.
pub fn scan(
    logs: &ContainerLogs,
    definition: Option<&TaskDefinition>,
    out: &mut Vec<DetailedFinding>,
) {
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
        let in_this_line = |found: Described| {
            DetailedFinding::new(found, Some(logs.container.clone()), Some(quotable(line)))
        };
        if hints.matched(HINT_MISSING_VAR) {
            if let Some(name) = missing_env_var(line) {
                out.push(in_this_line(missing_variable_finding(
                    name,
                    definition,
                    container_def,
                )));
            }
        }
        if hints.matched(HINT_DEPENDENCY) {
            out.extend(dependency_unreachable(line).map(in_this_line));
        }
        if hints.matched(HINT_PORT) {
            out.extend(port_in_use(line, container_def).map(in_this_line));
        }
        if hints.matched(HINT_OOM) {
            out.extend(oom_in_logs(line).map(in_this_line));
        }
        if hints.matched(HINT_ACCESS) {
            out.extend(aws_access_denied(line, definition).map(in_this_line));
        }
        if hints.matched(HINT_EXEC_FORMAT) {
            out.push(in_this_line(architecture::exec_format_error(definition)));
        }
        if hints.matched(HINT_CRASH) && !crash_found {
            if let Some(crash) = crash_line(&lines, index) {
                crash_found = true;
                out.push(DetailedFinding::new(
                    Described {
                        values: FindingValues::Crash,
                        detail: format!("The process crashed: {}", quotable(&crash)),
                    },
                    Some(logs.container.clone()),
                    Some(quotable(&crash)),
                ));
            }
        }
    }
}
