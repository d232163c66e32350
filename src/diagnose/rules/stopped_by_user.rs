//! `stopped-by-user`: someone called StopTask; CloudTrail (when looked up) says who.
//!
//! The caller is named once, in a few words ([`StoppedBy::who`]), and the reason once:
//! the full ARN, source address and user agent are in `stopped_by`, which every output
//! shows, and the stopped reason is in the task summary.

use super::meaning::Meaning;
use super::wording::cut;
use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::evidence::StopCode;
use crate::evidence::{StopLookup, StoppedBy};

/// How ECS words a StopTask without a reason of the caller's.
pub const USER_STOP_REASON_PREFIX: &str = "Task stopped by user";

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if f.stop_code != Some(&StopCode::UserInitiated)
        && !f.stopped_reason.starts_with(USER_STOP_REASON_PREFIX)
    {
        return None;
    }
    let found = match f.stop_lookup {
        StopLookup::Found(who) => Some(who),
        _ => None,
    };
    let given = caller_reason(f, found)
        .map(|r| format!(" with the reason \"{}\"", quotable(r)))
        .unwrap_or_default();
    let summary = match found {
        Some(who) => {
            let caller = who.who().unwrap_or_else(|| "an unnamed caller".to_string());
            let when = who
                .time
                .map(|t| format!(" at {}", t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
                .unwrap_or_default();
            format!("{} was stopped by {caller}{when}{given} (StopTask).", f.subject())
        }
        None if matches!(f.stop_lookup, StopLookup::NotFoundYet) => format!(
            "{} was stopped by a StopTask call{given}; CloudTrail has no event naming the caller yet (it can lag ~15 minutes).",
            f.subject()
        ),
        None => format!(
            "{} was stopped by a StopTask call{given}; the caller was not looked up.",
            f.subject()
        ),
    };
    let mut verdict = Verdict::new(CauseId::StoppedByUser, summary);
    if let Some(who) = found {
        if let Some(id) = &who.event_id {
            verdict = verdict.evidence(format!("CloudTrail StopTask event `{id}`"));
        }
        verdict = verdict.fix(
            "If the stop was not expected, ask the caller why (the CloudTrail event shows the source address and tool).",
        );
    }
    if let Some(service) = f.task.service_name() {
        verdict = verdict.evidence(format!(
            "The task belongs to service `{service}`, which starts a replacement"
        ));
    }
    Some(verdict.fix(fixes::USER_STOP_CHECK_AUTOMATION))
}

/// The reason the caller gave, if any: CloudTrail's, else the stopped reason unless it
/// is ECS's default wording.
pub fn caller_reason<'a>(f: &Facts<'a>, found: Option<&'a StoppedBy>) -> Option<&'a str> {
    found
        .and_then(|w| w.reason.as_deref())
        .or(Some(f.stopped_reason))
        .map(str::trim)
        .filter(|r| !r.is_empty() && !r.starts_with(USER_STOP_REASON_PREFIX))
}

/// ECS's wording of a StopTask without a reason of the caller's.
const DEFAULT_USER_STOP_REASON: &str = "Task stopped by user";

/// `stopped by jane.doe (OpsAdmin): "rotating hosts"`.
fn headline(f: &Facts) -> Option<String> {
    let StopLookup::Found(who) = f.stop_lookup else {
        return Some("stopped by a StopTask call".to_string());
    };
    let caller = who.who().unwrap_or_else(|| "an unnamed caller".to_string());
    let reason = who
        .reason
        .as_deref()
        .or(Some(f.stopped_reason))
        .map(str::trim)
        .filter(|r| !r.is_empty() && !r.starts_with(DEFAULT_USER_STOP_REASON));
    Some(match reason {
        Some(r) => format!("stopped by {caller}: \"{}\"", cut(r)),
        None => format!("stopped by {caller} (StopTask)"),
    })
}

/// The StopTask record CloudTrail keeps is its proof (judged with the probes).
pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
