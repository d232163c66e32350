//! `other`: no rule recognised the stop. The raw reason is quoted (the container's too
//! when the task's is generic), and the card reads it by its layers; nothing is guessed.

use super::meaning::Meaning;
use super::wording::cut;
use super::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::evidence::StopCode;

/// The fallback verdict when no rule applies.
pub fn verdict(f: &Facts) -> Verdict {
    let mut raw = if f.stopped_reason.is_empty() {
        "no stopped reason was reported".to_string()
    } else {
        format!("\"{}\"", quotable(f.stopped_reason))
    };
    if let Some(container) = f.telling_container() {
        raw.push_str(&format!(
            "; container `{}`: \"{}\"",
            container.name,
            quotable(f.telling_reason())
        ));
    }
    let code = if f.stop_code.is_none_or(|c| c.as_str().is_empty()) {
        String::new()
    } else {
        format!(
            " (stop code {})",
            f.stop_code.map(StopCode::as_str).unwrap_or_default()
        )
    };
    Verdict::new(
        CauseId::Other,
        format!("{} stopped{code}: {raw}. ecs-why does not recognise this reason, so it does not guess.", f.subject()),
    )
    .general_fixes()
}

/// The stopped reason itself, quoted: nothing is guessed.
fn headline(f: &Facts) -> Option<String> {
    let reason = f.telling_reason();
    (!reason.is_empty()).then(|| format!("\"{}\"", cut(reason)))
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
