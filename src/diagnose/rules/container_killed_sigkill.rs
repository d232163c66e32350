//! `container-killed-sigkill`: the blamed container exited 137 with no sign of running
//! out of memory (that rule comes first).
//!
//! Whether a stop was asked for before the kill (another essential container exited,
//! or the log shows SIGTERM) decides the story, and the log is read where the whole
//! evidence is at hand: `assemble`'s stop story completes this verdict.

use super::{Facts, Verdict};
use crate::diagnose::CauseId;

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
