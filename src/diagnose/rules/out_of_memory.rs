//! `out-of-memory`: the container or the runtime inside it ran out of memory.
//!
//! Two entry points, one decision: [`recognise`] runs with the start-failure rules and
//! looks at the reasons; [`recognise_by_exit_code`] runs with the exit-code rules and
//! looks at a container that exited 137. Both ask [`says_out_of_memory`] of a reason.
//!
//! The advice depends on the proof and the runtime. Only ECS's reason
//! (`OutOfMemoryError: Container killed due to memory usage`) proves the container hit
//! its limit; a runtime's own message (`java.lang.OutOfMemoryError: Java heap space`)
//! proves its heap was full, which a heap setting fixes before more task memory does.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::findings::FindingKind;
use crate::diagnose::findings::FindingValues;
use crate::diagnose::text::lowercase_first;
use crate::diagnose::CauseId;
use crate::evidence::probes::{ChangedField, CheckRequest};
use crate::evidence::{Container, ContainerDefinition};
use crate::values::MemoryLimits;

/// ECS's word for it (`OutOfMemoryError: Container killed due to memory usage`),
/// lower-cased: reasons are matched without regard to case.
const OUT_OF_MEMORY: &str = "outofmemory";
/// SIGKILL: what the kernel's OOM killer sends.
const SIGKILL_EXIT: i32 = 137;
/// Environment variables a JVM reads heap options from.
const JAVA_OPTION_VARIABLES: &[&str] = &["JAVA_TOOL_OPTIONS", "JAVA_OPTS", "JDK_JAVA_OPTIONS"];

/// Does this reason (the stopped reason or a container's) say out of memory?
pub fn says_out_of_memory(reason: &str) -> bool {
    reason.to_lowercase().contains(OUT_OF_MEMORY)
}

/// The runtime whose own out-of-memory message the logs show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Java,
    Node,
    Go,
    Python,
    /// The kernel's OOM killer (`Killed process 1234`), or a message no runtime owns.
    Other,
}

impl Runtime {
    /// The runtime that wrote this out-of-memory line.
    pub fn of_line(line: &str) -> Runtime {
        if line.contains("java.lang.OutOfMemoryError") {
            Runtime::Java
        } else if line.contains("JavaScript heap out of memory") {
            Runtime::Node
        } else if line.contains("fatal error: runtime: out of memory") {
            Runtime::Go
        } else if line.contains("MemoryError") {
            Runtime::Python
        } else {
            Runtime::Other
        }
    }
}

/// A reason says out of memory.
pub fn recognise(f: &Facts) -> Option<Verdict> {
    let stopped = says_out_of_memory(f.stopped_reason);
    let container_said = f
        .task
        .containers
        .iter()
        .any(|c| c.reason.as_deref().is_some_and(says_out_of_memory));
    if !stopped && !container_said {
        return None;
    }
    let container = f.container_whose_reason(says_out_of_memory);
    Some(verdict(f, container, true))
}

/// The blamed container exited 137 and its reason or its logs say out of memory.
pub fn recognise_by_exit_code(f: &Facts) -> Option<Verdict> {
    let container = f.blamed_container?;
    if container.exit_code != Some(SIGKILL_EXIT) {
        return None;
    }
    let reason_said = container.reason.as_deref().is_some_and(says_out_of_memory);
    let logs_said = oom_line(f, &container.name).is_some();
    (reason_said || logs_said).then(|| verdict(f, Some(container), reason_said))
}

/// The log line where container `name` reported running out of memory.
pub fn oom_line<'a>(f: &Facts<'a>, name: &str) -> Option<&'a str> {
    f.findings_of(FindingKind::OomInLogs)
        .find(|x| x.is_about(name))
        .and_then(|x| x.finding.line.as_deref())
}

/// Out of memory, told by what proves it, with advice for the runtime.
fn verdict(f: &Facts, container: Option<&Container>, container_killed: bool) -> Verdict {
    let name = container.map_or("the container", |c| c.name.as_str());
    let def = container.and_then(|c| f.definition_of(c));
    let limits = MemoryLimits::of(f.task, f.task_definition, container, def);
    let limit = limits.container.or(limits.task);
    let limit_text = limit.map(|m| format!(" of {m} MiB")).unwrap_or_default();
    let line = container.and_then(|c| oom_line(f, &c.name));
    let runtime = line.map_or(Runtime::Other, Runtime::of_line);
    let runtime_said = line
        .map(|l| format!(" Its log shows: \"{}\".", crate::text::truncate(l, 160)))
        .unwrap_or_default();
    let summary = if container_killed {
        format!(
            "{}: container `{name}` used more than its memory limit{limit_text} and was killed (ECS recorded \"OutOfMemoryError: Container killed due to memory usage\").{runtime_said}",
            f.subject()
        )
    } else {
        let what = match runtime {
            Runtime::Java => {
                "the JVM's heap was full (the heap limit, not necessarily the container's)"
            }
            Runtime::Node => "the Node.js heap reached its limit",
            Runtime::Go => "the Go runtime could not get more memory",
            Runtime::Python => "Python could not allocate memory",
            Runtime::Other => "the process ran out of memory",
        };
        let limit_said = if f.memory_reached_limit {
            format!(" The memory graph shows its memory climbing to the limit{limit_text} before the stop.")
        } else {
            format!(" ECS recorded no container out-of-memory kill, so the evidence does not show the container exceeding its limit{limit_text}.")
        };
        format!(
            "{}: container `{name}` exited with 137 after {what}.{runtime_said}{limit_said}",
            f.subject()
        )
    };
    let mut verdict = Verdict::new(CauseId::OutOfMemory, summary);
    if let Some(line) = limits.describe(name) {
        verdict = verdict.evidence(line);
    }
    let fixes = if container_killed {
        let raise = limits.raise_fix(name, f.on_fargate(), f.family());
        raise
            .into_iter()
            .chain(runtime_fix(runtime, name, def, limit))
            .collect()
    } else {
        heap_first(f, runtime, name, def, &limits)
    };
    verdict = verdict.fixes(fixes);
    if runtime == Runtime::Other {
        verdict = verdict.fix(fixes::OOM_FIND_LEAK);
    }
    verdict.fix(fixes::OOM_WATCH_METRIC)
}

/// The fixes for a process that ran out of memory with no memory kill recorded: the
/// runtime's own heap setting first, with the container's limit named; more memory
/// second, and only if it needs more than that share. A runtime with no setting (the
/// kernel's message) gets more memory first.
fn heap_first(
    f: &Facts,
    runtime: Runtime,
    name: &str,
    def: Option<&ContainerDefinition>,
    limits: &MemoryLimits,
) -> Vec<String> {
    let limit = limits.container.or(limits.task);
    let raise = limits.raise_fix(name, f.on_fargate(), f.family());
    let Some(runtime_fix) = runtime_fix(runtime, name, def, limit) else {
        return raise.into_iter().collect();
    };
    let share = match (runtime, limit) {
        (Runtime::Java | Runtime::Node, Some(l)) => format!("more than {} MiB", heap_share(l)),
        (Runtime::Go, Some(l)) => format!("more than {} MiB", go_memory_limit(l)),
        _ => "more".to_string(),
    };
    std::iter::once(runtime_fix)
        .chain(raise.map(|r| format!("If it needs {share}, {}", lowercase_first(&r))))
        .collect()
}

/// The fixes for a runtime's out-of-memory line in the logs of `container`, which ECS
/// did not kill for memory (it exited on its own, not with 137): the heap setting first.
pub fn fixes_for_heap_line(f: &Facts, container: &Container, line: &str) -> Vec<String> {
    let def = f.definition_of(container);
    let limits = MemoryLimits::of(f.task, f.task_definition, Some(container), def);
    heap_first(f, Runtime::of_line(line), &container.name, def, &limits)
}

/// The sentence for a runtime's out-of-memory line when ECS recorded no memory kill
/// (a Java, Node.js or Go message; `None` for others, which may be the kernel's).
pub fn no_memory_kill(f: &Facts, container: &Container, line: &str) -> Option<String> {
    let def = f.definition_of(container);
    let limits = MemoryLimits::of(f.task, f.task_definition, Some(container), def);
    let limit = limits.container.or(limits.task);
    let of_limit = limit.map(|m| format!(" of {m} MiB")).unwrap_or_default();
    let what = match Runtime::of_line(line) {
        Runtime::Java => format!("the JVM's heap reached its own limit (`-Xmx`, or its default share of memory), not the container's limit{of_limit}"),
        Runtime::Node => format!("the V8 heap reached its own limit, which does not follow the container's limit{of_limit}"),
        Runtime::Go => format!("the Go runtime could not get more memory (the container's limit is{})", limit.map(|m| format!(" {m} MiB")).unwrap_or_else(|| " not known".to_string())),
        Runtime::Python | Runtime::Other => return None,
    };
    let code = container
        .exit_code
        .map(|c| format!(", exit code {c}"))
        .unwrap_or_default();
    Some(format!(
        " ECS recorded no memory kill (no OutOfMemoryError reason{code}): {what}."
    ))
}

/// A runtime's out-of-memory line in a few words (`Java heap exhausted`).
pub fn runtime_words(line: &str) -> &'static str {
    if line.contains("java.lang.OutOfMemoryError: Java heap space") {
        "Java heap exhausted"
    } else if line.contains("java.lang.OutOfMemoryError") {
        "JVM out of memory"
    } else if line.contains("JavaScript heap out of memory") {
        "Node.js heap exhausted"
    } else if line.contains("fatal error: runtime: out of memory") {
        "Go runtime out of memory"
    } else if line.contains("MemoryError") {
        "Python MemoryError"
    } else {
        "the process ran out of memory"
    }
}

/// 75 % of `limit` MiB: room for the heap, leaving the rest to the runtime itself.
fn heap_share(limit: u32) -> u32 {
    limit / 4 * 3
}

/// 90 % of `limit` MiB: a soft limit for Go's garbage collector, below the hard one.
fn go_memory_limit(limit: u32) -> u32 {
    limit / 10 * 9
}

/// The runtime's own memory setting, with what the task definition sets today.
fn runtime_fix(
    runtime: Runtime,
    name: &str,
    def: Option<&ContainerDefinition>,
    limit: Option<u32>,
) -> Option<String> {
    let names: Vec<&str> = def
        .map(|d| {
            d.environment_names
                .iter()
                .map(String::as_str)
                .chain(d.secrets.iter().map(|s| s.name.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let sets = |wanted: &[&str]| -> String {
        let set: Vec<String> = wanted
            .iter()
            .filter(|w| names.contains(w))
            .map(|w| format!("`{w}`"))
            .collect();
        match (def, set.is_empty()) {
            (None, _) => String::new(),
            (Some(_), true) if wanted.len() == 1 => {
                format!(" (the task definition does not set {})", wanted[0])
            }
            (Some(_), true) => format!(" (the task definition sets none of {})", wanted.join(", ")),
            (Some(_), false) => format!(
                " (the task definition sets {}: check what it holds)",
                set.join(", ")
            ),
        }
    };
    let of_limit = |share: String| match limit {
        Some(l) => format!("{share} of its {l} MiB"),
        None => share,
    };
    match runtime {
        Runtime::Java => Some(format!(
            "Size the heap to the container: set `JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75` in the `environment` of `{name}`{} so the heap can use {} and leave room for threads and metaspace; an explicit `-Xmx` overrides it.",
            sets(JAVA_OPTION_VARIABLES),
            of_limit("75 %".to_string())
        )),
        Runtime::Node => Some(format!(
            "Let the V8 heap match the container: set `NODE_OPTIONS=--max-old-space-size={}`{} in the `environment` of `{name}`{}; Node's default old-space limit ignores the container's.",
            limit.map_or("SIZE_IN_MIB".to_string(), |l| heap_share(l).to_string()),
            limit.map(|l| format!(" (75 % of its {l} MiB)")).unwrap_or_default(),
            sets(&["NODE_OPTIONS"])
        )),
        Runtime::Go => Some(format!(
            "Set `GOMEMLIMIT={}MiB`{} in the `environment` of `{name}`{} so the garbage collector works harder before memory runs out.",
            limit.map_or("SIZE_IN_".to_string(), |l| go_memory_limit(l).to_string()),
            limit.map(|l| format!(" (90 % of its {l} MiB)")).unwrap_or_default(),
            sets(&["GOMEMLIMIT"])
        )),
        Runtime::Python => Some(format!(
            "Python has no heap limit to set: lower what `{name}` holds at once (fewer worker processes or threads, smaller batches, streaming instead of loading whole files or models)."
        )),
        Runtime::Other => None,
    }
}

/// `` `web` killed at its 512 MiB limit (exit 137) `` or the runtime's own words
/// (`Java heap exhausted`).
fn headline(f: &Facts) -> Option<String> {
    let container = f
        .container_whose_reason(says_out_of_memory)
        .or(f.blamed_container)?;
    let reason_said = container.reason.as_deref().is_some_and(says_out_of_memory)
        || says_out_of_memory(f.stopped_reason);
    let exit = container
        .exit_code
        .map(|c| format!(" (exit {c})"))
        .unwrap_or_default();
    if reason_said {
        let limits = MemoryLimits::of(
            f.task,
            f.task_definition,
            Some(container),
            f.definition_of(container),
        );
        return Some(match limits.container.or(limits.task) {
            Some(limit) => format!("`{}` killed at its {limit} MiB limit{exit}", container.name),
            None => format!(
                "`{}` killed for exceeding its memory limit{exit}",
                container.name
            ),
        });
    }
    let line = f
        .findings
        .iter()
        .find(|x| x.is_about(&container.name) && matches!(x.values, FindingValues::OomInLogs))
        .and_then(|x| x.finding.line.as_deref())?;
    Some(format!("{}{exit}", runtime_words(line)))
}

/// The memory graph before the stop confirms the climb; a lowered limit explains it.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| vec![CheckRequest::MemoryBeforeStop],
    key_changes: &[
        ChangedField::Memory,
        ChangedField::MemoryReservation,
        ChangedField::Image,
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_is_read_without_regard_to_case() {
        for reason in [
            "OutOfMemoryError: Container killed due to memory usage",
            "outofmemoryerror: container killed",
            "OUTOFMEMORY",
        ] {
            assert!(says_out_of_memory(reason), "{reason}");
        }
        assert!(!says_out_of_memory("Essential container in task exited"));
    }

    #[test]
    fn runtimes_are_told_by_their_messages() {
        let cases = [
            (
                "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
                Runtime::Java,
            ),
            (
                "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                Runtime::Node,
            ),
            ("fatal error: runtime: out of memory", Runtime::Go),
            ("MemoryError", Runtime::Python),
            ("Out of memory: Killed process 1234 (app)", Runtime::Other),
        ];
        for (line, runtime) in cases {
            assert_eq!(Runtime::of_line(line), runtime, "{line}");
        }
    }
}
