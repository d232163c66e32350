//! `container-killed-sigkill`: the blamed container exited 137 with no sign of running
//! out of memory (that rule comes first): it ignored SIGTERM and was killed.

use super::{Facts, Verdict};
use crate::diagnose::values::MemoryLimits;
use crate::diagnose::CauseId;

const SIGKILL_EXIT: i32 = 137;

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let container = f.blamed_container?;
    if container.exit_code != Some(SIGKILL_EXIT) {
        return None;
    }
    let timeout = f.blamed_definition.and_then(|d| d.stop_timeout);
    let timeout_text = match timeout {
        Some(t) => format!("its stopTimeout of {t} s"),
        None => "the default stopTimeout of 30 s".to_string(),
    };
    let limits = MemoryLimits::of(
        f.task,
        f.task_definition,
        Some(container),
        f.blamed_definition,
    );
    let mut verdict = Verdict::new(
        CauseId::ContainerKilledSigkill,
        format!(
            "{}: container `{}` exited with 137 (SIGKILL) and nothing shows it ran out of memory: it most likely ignored SIGTERM and was killed after {timeout_text}.",
            f.subject(),
            container.name
        ),
    );
    if let Some(line) = limits.describe(&container.name) {
        verdict = verdict.evidence(line);
    }
    Some(verdict
        .fix(format!(
            "Handle SIGTERM in `{}` and exit within {timeout_text}; if it runs under a shell (`sh -c`), use the exec form or `exec` so the signal reaches it, or set `initProcessEnabled: true`.",
            container.name
        ))
        .fix(format!(
            "If a clean shutdown needs longer, raise `stopTimeout` of `{}` (now {}; at most 120 s on Fargate).",
            container.name,
            timeout.map_or("30 s by default".to_string(), |t| format!("{t} s"))
        ))
        .fix("If memory was near the limit, check the MemoryUtilization metric: not every OOM kill is reported as such."))
}
