//! `segfault`: the blamed container crashed with SIGSEGV (exit code 139).

use super::meaning::Meaning;
use super::wording::reproduce_with_image;
use super::{Facts, Verdict};
use crate::diagnose::CauseId;
use crate::evidence::probes::ChangedField;

const SIGSEGV_EXIT: i32 = 139;

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let container = f.blamed_container?;
    if container.exit_code != Some(SIGSEGV_EXIT) {
        return None;
    }
    Some(
        Verdict::new(
            CauseId::Segfault,
            format!(
                "{}: container `{}` crashed with a segmentation fault (exit code 139).",
                f.subject(),
                container.name
            ),
        )
        .fixes(reproduce_with_image(container))
        .general_fixes(),
    )
}

fn headline(f: &Facts) -> Option<String> {
    f.blamed_container
        .map(|c| format!("`{}` crashed with a segmentation fault (exit 139)", c.name))
}

/// A new binary (image, platform, command) explains a crash that did not happen before.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| Vec::new(),
    key_changes: &[
        ChangedField::EntryPoint,
        ChangedField::Command,
        ChangedField::Image,
        ChangedField::RuntimePlatform,
    ],
};
