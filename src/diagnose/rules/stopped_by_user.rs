//! `stopped-by-user`: someone called StopTask; CloudTrail (when looked up) says who.
//!
//! The caller is named once, in a few words ([`StoppedBy::who`]), and the reason the
//! caller gave twice, no more: once in the headline, once in the body (the stopped
//! reason every output shows, or, when CloudTrail's differs from it, the stop's
//! "Reason given"). The summary does not repeat it. The full ARN, source address and
//! user agent are in `stopped_by`, which every output shows.

use super::meaning::Meaning;
use super::wording::cut;
use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
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
    let summary = match found {
        Some(who) => {
            let caller = who.who().unwrap_or_else(|| "an unnamed caller".to_string());
            let when = who
                .time
                .map(|t| format!(" at {}", t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
                .unwrap_or_default();
            format!("{} was stopped by {caller}{when} (StopTask).", f.subject())
        }
        None if matches!(f.stop_lookup, StopLookup::NotFoundYet) => format!(
            "{} was stopped by a StopTask call; CloudTrail has no event naming the caller yet (it can lag ~15 minutes).",
            f.subject()
        ),
        None => format!(
            "{} was stopped by a StopTask call; the caller was not looked up.",
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

/// `stopped by jane.doe (OpsAdmin): "rotating hosts"`, `stopped by a StopTask call:
/// "rotating hosts"`.
fn headline(f: &Facts) -> Option<String> {
    let found = match f.stop_lookup {
        StopLookup::Found(who) => Some(who),
        _ => None,
    };
    let caller = found.map(|who| who.who().unwrap_or_else(|| "an unnamed caller".to_string()));
    Some(match (caller, caller_reason(f, found)) {
        (Some(caller), Some(r)) => format!("stopped by {caller}: \"{}\"", cut(r)),
        (Some(caller), None) => format!("stopped by {caller} (StopTask)"),
        (None, Some(r)) => format!("stopped by a StopTask call: \"{}\"", cut(r)),
        (None, None) => "stopped by a StopTask call".to_string(),
    })
}

/// The StopTask record CloudTrail keeps is its proof (judged with the probes).
pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
