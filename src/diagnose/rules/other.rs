//! `other`: no rule recognised the stop. The raw reason is quoted; nothing is guessed.

use super::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;

/// The fallback verdict when no rule applies.
pub fn verdict(f: &Facts) -> Verdict {
    let raw = if f.stopped_reason.is_empty() {
        "no stopped reason was reported".to_string()
    } else {
        format!("\"{}\"", quotable(f.stopped_reason))
    };
    let code = if f.stop_code.is_empty() {
        String::new()
    } else {
        format!(" (stop code {})", f.stop_code)
    };
    Verdict::new(
        CauseId::Other,
        format!("{} stopped{code}: {raw}. ecs-why does not recognise this reason, so it does not guess.", f.subject()),
    )
    .general_fixes()
}
