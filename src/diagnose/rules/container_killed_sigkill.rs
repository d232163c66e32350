//! `container-killed-sigkill`: the blamed container exited 137 with no sign of running
//! out of memory (that rule comes first).
//!
//! Whether a stop was asked for before the kill (another essential container exited,
//! or the log shows SIGTERM) decides the story, and the log is read where the whole
//! evidence is at hand: `assemble`'s stop story completes this verdict.

use super::meaning::Meaning;
use super::stop_story::{stop_request, stop_timeout};
use super::{Facts, Verdict};
use crate::diagnose::CauseId;
use crate::evidence::probes::{ChangedField, CheckRequest};

const SIGKILL_EXIT: i32 = 137;

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let container = f.blamed_container?;
    if container.exit_code != Some(SIGKILL_EXIT) {
        return None;
    }
    Some(Verdict::new(
        CauseId::ContainerKilledSigkill,
        format!(
            "{}: container `{}` was killed with SIGKILL (exit code 137) and nothing shows it ran out of memory.",
            f.subject(),
            container.name
        ),
    ))
}

/// `` `web` killed 30 s after a stop request (exit 137) `` or without one.
fn headline(f: &Facts) -> Option<String> {
    let container = f.blamed_container?;
    if container.exit_code != Some(SIGKILL_EXIT) {
        return None;
    }
    Some(match stop_request(f, f.evidence, container) {
        Some(_) => format!(
            "`{}` killed {} s after a stop request (exit 137)",
            container.name,
            stop_timeout(f, container).0
        ),
        None => format!(
            "`{}` killed with SIGKILL, no stop request (exit 137)",
            container.name
        ),
    })
}

/// A SIGKILL is often the kernel's OOM killer: the memory graph tells.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| vec![CheckRequest::MemoryBeforeStop],
    key_changes: &[
        ChangedField::Memory,
        ChangedField::MemoryReservation,
        ChangedField::Image,
    ],
};
