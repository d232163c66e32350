//! `stopped-by-user`: someone called StopTask; CloudTrail (when looked up) says who.

use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::evidence::StopLookup;

const USER_STOP_CODE: &str = "UserInitiated";
/// How ECS words a StopTask without a reason of the caller's.
const USER_STOP_REASON_PREFIX: &str = "Task stopped by user";

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if f.stop_code != USER_STOP_CODE && !f.stopped_reason.starts_with(USER_STOP_REASON_PREFIX) {
        return None;
    }
    let given = if f.stopped_reason.is_empty() {
        String::new()
    } else {
        format!(" with the reason \"{}\"", quotable(f.stopped_reason))
    };
    let summary = match f.stop_lookup {
        StopLookup::Found(who) => {
            let caller = who.arn.as_deref().unwrap_or("an unnamed caller");
            let when = who
                .time
                .map(|t| format!(" at {}", t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
                .unwrap_or_default();
            format!("{} was stopped by `{caller}`{when}{given} (StopTask).", f.subject())
        }
        StopLookup::NotFoundYet => format!(
            "{} was stopped by a StopTask call{given}; CloudTrail has no event naming the caller yet (it can lag ~15 minutes).",
            f.subject()
        ),
        _ => format!(
            "{} was stopped by a StopTask call{given}; the caller was not looked up.",
            f.subject()
        ),
    };
    let mut verdict = Verdict::new(CauseId::StoppedByUser, summary);
    if let StopLookup::Found(who) = f.stop_lookup {
        let mut line = format!(
            "CloudTrail StopTask by `{}`",
            who.arn.as_deref().unwrap_or("?")
        );
        if let Some(kind) = &who.identity_type {
            line.push_str(&format!(" ({kind})"));
        }
        if let Some(ip) = &who.source_ip {
            line.push_str(&format!(" from {ip}"));
        }
        if let Some(agent) = &who.user_agent {
            line.push_str(&format!(" using `{}`", quotable(agent)));
        }
        verdict = verdict.evidence(line);
        if let Some(reason) = &who.reason {
            verdict = verdict.evidence(format!("Reason given: \"{}\"", quotable(reason)));
        }
        if let Some(caller) = &who.arn {
            verdict = verdict.fix(format!("Ask the owner of `{caller}` why they stopped it."));
        }
    }
    if let Some(service) = f.task.service_name() {
        verdict = verdict.evidence(format!(
            "The task belongs to service `{service}`, which starts a replacement"
        ));
    }
    Some(verdict.fix(fixes::USER_STOP_CHECK_AUTOMATION))
}
