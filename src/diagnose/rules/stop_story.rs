//! The story of a container that exited 137 (SIGKILL) without an out-of-memory reason:
//! was a stop asked for first (ECS sends SIGTERM, waits `stopTimeout`, then SIGKILL), or
//! did something outside kill it without asking? Told from the evidence, logs included.

use crate::diagnose::rules::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::evidence::{Container, Evidence};
use crate::values::logs::{last_line, stop_request_line};
use crate::values::{is_essential, MemoryLimits};

/// Exit code of a container killed with SIGKILL.
pub const SIGKILL_EXIT: i32 = 137;
/// ECS's `stopTimeout` when the container definition sets none.
const DEFAULT_STOP_TIMEOUT: i32 = 30;

/// What asked the container to stop before it was killed, in words, if anything did.
pub fn stop_request(f: &Facts, evidence: &Evidence, container: &Container) -> Option<String> {
    if let Some(line) = stop_request_line(evidence, &container.name) {
        return Some(format!("its log shows \"{}\"", quotable(line)));
    }
    let other = f.task.containers.iter().find(|c| {
        c.name != container.name
            && is_essential(f.task_definition, c)
            && c.exit_code.is_some_and(|code| code != SIGKILL_EXIT)
    })?;
    Some(format!(
        "essential container `{}` exited first (code {}), so ECS stopped the others",
        other.name,
        other.exit_code.unwrap_or_default()
    ))
}

/// `stopTimeout` of the container, and whether it is ECS's default.
pub fn stop_timeout(f: &Facts, container: &Container) -> (i32, bool) {
    match f.definition_of(container).and_then(|d| d.stop_timeout) {
        Some(t) => (t, false),
        None => (DEFAULT_STOP_TIMEOUT, true),
    }
}

/// "its stopTimeout of 30 s" or "the default stopTimeout of 30 s".
fn timeout_words(f: &Facts, container: &Container) -> String {
    match stop_timeout(f, container) {
        (t, false) => format!("its stopTimeout of {t} s"),
        (t, true) => format!("the default stopTimeout of {t} s"),
    }
}

/// The `container-killed-sigkill` verdict, told by whether a stop was asked for.
pub fn sigkill_verdict(f: &Facts, evidence: &Evidence) -> Option<Verdict> {
    let container = f.blamed_container?;
    let name = &container.name;
    let def = f.definition_of(container);
    let limits = MemoryLimits::of(f.task, f.task_definition, Some(container), def);
    let timeout = timeout_words(f, container);
    let shell = def.is_some_and(|d| {
        d.entry_point
            .iter()
            .chain(d.command.iter())
            .any(|w| w == "-c")
            && d.entry_point
                .first()
                .or(d.command.first())
                .is_some_and(|w| w.ends_with("sh"))
    });
    let signal_fix = if shell {
        format!("`{name}` runs under a shell (`sh -c`), which does not pass SIGTERM on: use the exec form of the command (or `exec` in the script) or `initProcessEnabled: true`, and exit on SIGTERM within {timeout}.")
    } else {
        format!("Handle SIGTERM in `{name}` and exit within {timeout} (finish in-flight work, close connections); if it runs under a shell, use the exec form or `initProcessEnabled: true`.")
    };
    let mut verdict;
    match stop_request(f, evidence, container) {
        Some(asked) => {
            verdict = Verdict::new(
                CauseId::ContainerKilledSigkill,
                format!(
                    "{}: container `{name}` was asked to stop ({asked}) but had not exited after {timeout}, so ECS killed it with SIGKILL (exit code 137).",
                    f.subject()
                ),
            )
            .fix(signal_fix)
            .fix(format!(
                "If a clean shutdown needs longer, raise `stopTimeout` of `{name}` from {} s (at most 120 s on Fargate).",
                stop_timeout(f, container).0
            ));
        }
        None => {
            let busy = last_line(evidence, name)
                .map(|l| format!(" and its last log line, \"{}\", shows it at work rather than shutting down", quotable(l)))
                .unwrap_or_default();
            let likely = if f.on_fargate() {
                "the kernel's OOM killer (ECS does not always record an out-of-memory reason) or a process in the task sending SIGKILL"
            } else {
                "the kernel's OOM killer under memory pressure on the EC2 instance (ECS does not always record it as out of memory) or a process on the host sending SIGKILL"
            };
            verdict = Verdict::new(
                CauseId::ContainerKilledSigkill,
                format!(
                    "{}: container `{name}` was killed with SIGKILL (exit code 137) without a stop request: no stop code or reason asks for one, no other container exited first{busy}. Something outside killed it, most likely {likely}.",
                    f.subject()
                ),
            )
            .fix(format!(
                "Confirm or rule out memory: the task's MemoryUtilization metric (Container Insights, per task) close to the limit just before {} confirms an OOM kill.",
                f.task
                    .stopped_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    .unwrap_or_else(|| "the stop".to_string())
            ));
            if !f.on_fargate() {
                verdict = verdict.fix(
                    "On the container instance, `dmesg -T | grep -i 'killed process'` (or `/var/log/messages`) shows the OOM killer's kills; tasks that use more than their `memoryReservation` can starve each other there.",
                );
            }
            if let Some(raise) = limits.raise_fix(name, f.on_fargate(), f.family()) {
                verdict = verdict.fix(format!(
                    "If memory was the cause, {}",
                    crate::diagnose::text::lowercase_first(&raise)
                ));
            }
            verdict = verdict.fix(format!(
                "If a stop was asked for that this evidence misses, SIGKILL came after {timeout}: {}",
                crate::diagnose::text::lowercase_first(&signal_fix)
            ));
        }
    }
    if let Some(line) = limits.describe(name) {
        verdict = verdict.evidence(line);
    }
    Some(verdict)
}

/// A stop ECS asked for (scale-in, deployment, user, Spot, maintenance) sends SIGTERM,
/// waits `stopTimeout`, then sends SIGKILL. A container that exits 137 in such a stop
/// did not exit after SIGTERM: the stop itself is normal, the unclean shutdown is not.
pub fn killed_during_orderly_stop(f: &Facts, category: CauseId) -> Option<(String, String)> {
    let orderly = matches!(
        category,
        CauseId::ScalingEvent
            | CauseId::DeploymentReplaced
            | CauseId::StoppedByUser
            | CauseId::SpotInterruption
            | CauseId::InfrastructureMaintenance
    );
    if !orderly {
        return None;
    }
    let killed: Vec<&Container> = f
        .task
        .containers
        .iter()
        .filter(|c| c.exit_code == Some(SIGKILL_EXIT))
        .collect();
    let first = *killed.first()?;
    let waited = match (f.task.stopping_at, f.task.stopped_at) {
        (Some(stopping), Some(stopped)) if stopped > stopping => {
            format!(
                " ({} s from stopping to stopped)",
                (stopped - stopping).num_seconds()
            )
        }
        _ => String::new(),
    };
    let names = killed
        .iter()
        .map(|c| format!("`{}`", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let timeout = timeout_words(f, first);
    Some((
        format!("{names} exited with 137 (SIGKILL) during this stop: it did not exit after SIGTERM within {timeout}{waited}"),
        format!("The stop was orderly, but `{}` was killed rather than shutting down: handle SIGTERM (exec form or `initProcessEnabled` if it runs under a shell) and exit within {timeout}, so in-flight requests are not cut off.", first.name),
    ))
}
