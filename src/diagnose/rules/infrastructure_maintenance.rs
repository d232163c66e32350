//! `infrastructure-maintenance`: AWS retired the task to maintain its infrastructure.

use super::instance_unhealthy_or_terminated::host_went_away;
use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::CauseId;
use crate::evidence::StopCode;

/// The stop code of a termination notice.
/// Reason wording of a retirement or maintenance.
const MAINTENANCE_REASONS: &[&str] = &[
    "performing maintenance",
    "task retirement",
    "scheduled for retirement",
    "is being retired",
];

pub fn recognise(f: &Facts) -> Option<Verdict> {
    // A termination notice that names the host going away ("Host EC2 (instance i-...)
    // terminated.") is the instance's end, not AWS's maintenance.
    let notice = f.stop_code == Some(&StopCode::TerminationNotice) && !host_went_away(f);
    if !notice && !f.reasons_mention_any(MAINTENANCE_REASONS) {
        return None;
    }
    let replacement = if f.task.service_name().is_some() {
        " Its service starts a replacement by itself."
    } else {
        " It was a standalone task: run it again if its work was not finished."
    };
    Some(
        Verdict::new(
            CauseId::InfrastructureMaintenance,
            format!(
                "{} was stopped by AWS to maintain the infrastructure it ran on.{replacement}",
                f.subject()
            ),
        )
        .general_fixes(),
    )
}

pub const MEANING: Meaning = Meaning {
    headline: |_| Some("AWS retired the task for infrastructure maintenance".to_string()),
    ..Meaning::PLAIN
};
