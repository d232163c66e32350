//! `spot-interruption`: AWS reclaimed the Fargate Spot or EC2 Spot capacity.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::CauseId;
use crate::evidence::StopCode;

/// The stop code ECS gives a Spot interruption.
/// Reason wording of a Spot interruption.
const SPOT_REASONS: &[&str] = &[
    "spot task was interrupted",
    "spot interruption",
    "spot instance interruption",
];

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if f.stop_code != Some(&StopCode::SpotInterruption) && !f.reasons_mention_any(SPOT_REASONS) {
        return None;
    }
    let provider = f
        .task
        .capacity_provider
        .as_deref()
        .map(|p| format!(" (capacity provider `{p}`)"))
        .unwrap_or_default();
    let mut verdict = Verdict::new(
        CauseId::SpotInterruption,
        format!(
            "{} ran on Spot capacity{provider} and AWS reclaimed it with a two-minute warning.",
            f.subject()
        ),
    );
    if let Some(service) = f.task.service_name() {
        verdict = verdict.fix(format!(
            "Give service `{service}` a capacity provider strategy that mixes on-demand and Spot, e.g. `FARGATE` base 1 weight 1 and `FARGATE_SPOT` weight 3, so interruptions never take every task."
        ));
    }
    Some(verdict.fix(fixes::SPOT_HANDLE_SIGTERM))
}

fn headline(f: &Facts) -> Option<String> {
    Some(match f.task.capacity_provider.as_deref() {
        Some(p) => format!("Spot capacity reclaimed by AWS ({p})"),
        None => "Spot capacity reclaimed by AWS".to_string(),
    })
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
