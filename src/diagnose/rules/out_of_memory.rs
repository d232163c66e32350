//! `out-of-memory`: the container used more memory than its limit and was killed.
//!
//! Two entry points, one decision: [`recognise`] runs with the start-failure rules and
//! looks at the reasons; [`recognise_by_exit_code`] runs with the exit-code rules and
//! looks at a container that exited 137. Both ask [`says_out_of_memory`] of a reason.

use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::findings::FindingKind;
use crate::diagnose::values::MemoryLimits;
use crate::diagnose::CauseId;
use crate::evidence::Container;

/// ECS's word for it (`OutOfMemoryError: Container killed due to memory usage`),
/// lower-cased: reasons are matched without regard to case.
const OUT_OF_MEMORY: &str = "outofmemory";
/// SIGKILL: what the kernel's OOM killer sends.
const SIGKILL_EXIT: i32 = 137;

/// Does this reason (the stopped reason or a container's) say out of memory?
pub fn says_out_of_memory(reason: &str) -> bool {
    reason.to_lowercase().contains(OUT_OF_MEMORY)
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
    Some(verdict(f, container))
}

/// The blamed container exited 137 and its reason or its logs say out of memory.
pub fn recognise_by_exit_code(f: &Facts) -> Option<Verdict> {
    let container = f.blamed_container?;
    if container.exit_code != Some(SIGKILL_EXIT) {
        return None;
    }
    let reason_said = container.reason.as_deref().is_some_and(says_out_of_memory);
    let logs_said = f
        .findings_of(FindingKind::OomInLogs)
        .any(|x| x.is_about(&container.name));
    (reason_said || logs_said).then(|| verdict(f, Some(container)))
}

/// Out of memory, with the limits and a larger valid size.
fn verdict(f: &Facts, container: Option<&Container>) -> Verdict {
    let name = container.map_or("the container", |c| c.name.as_str());
    let def = container.and_then(|c| f.definition_of(c));
    let limits = MemoryLimits::of(f.task, f.task_definition, container, def);
    let limit_text = limits
        .container
        .or(limits.task)
        .map(|m| format!(" of {m} MiB"))
        .unwrap_or_default();
    let mut verdict = Verdict::new(
        CauseId::OutOfMemory,
        format!(
            "{}: container `{name}` used more than its memory limit{limit_text} and was killed (out of memory).",
            f.subject()
        ),
    );
    if let Some(line) = limits.describe(name) {
        verdict = verdict.evidence(line);
    }
    if let Some(fix) = limits.raise_fix(name, f.on_fargate(), f.family()) {
        verdict = verdict.fix(fix);
    }
    verdict
        .fix(fixes::OOM_FIND_LEAK)
        .fix(fixes::OOM_WATCH_METRIC)
}

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
}
