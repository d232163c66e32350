//! `internal-error`: ECS reported an internal error of its own.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;

const INTERNAL_ERROR: &[&str] = &["internalerror", "internal error"];

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention_any(INTERNAL_ERROR) {
        return None;
    }
    Some(
        Verdict::new(
            CauseId::InternalError,
            format!(
                "{}: ECS reported an internal error: \"{}\".",
                f.subject(),
                quotable(f.stopped_reason)
            ),
        )
        .general_fixes(),
    )
}

pub const MEANING: Meaning = Meaning::PLAIN;
