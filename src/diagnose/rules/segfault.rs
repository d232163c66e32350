//! `segfault`: the blamed container crashed with SIGSEGV (exit code 139).

use super::wording::reproduce_with_image;
use super::{Facts, Verdict};
use crate::diagnose::CauseId;

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
