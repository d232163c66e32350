//! `scaling-event`: the service scaled in, or is being deleted (see
//! `service_scheduler` for the rule that tells them from a deployment).

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::CauseId;

/// Service `service` is being deleted.
pub fn service_deleted(f: &Facts, service: &str) -> Verdict {
    Verdict::new(
        CauseId::ScalingEvent,
        format!("{}: service `{service}` is being deleted, so ECS stopped its tasks.", f.subject()),
    )
    .fix("Nothing to fix if the deletion was intended; CloudTrail's DeleteService event names who deleted it.")
}

/// Service `service` scaled in: its desired count went down.
pub fn scaled_in(f: &Facts, service: &str) -> Verdict {
    let mut verdict = Verdict::new(
        CauseId::ScalingEvent,
        format!(
            "{}: service `{service}` scaled in (its desired count went down), so ECS stopped this task (normal operation).",
            f.subject()
        ),
    );
    if let Some(own) = super::deployment_replaced::own_deployment(f) {
        verdict = verdict.evidence(format!(
            "The task's own deployment `{own}` scaled down; no other deployment is involved"
        ));
    }
    verdict.fix(format!(
        "Nothing to fix if intended; check the scaling policies and scheduled actions of `{service}`: `aws application-autoscaling describe-scaling-activities --service-namespace ecs --resource-id service/{}/{service}`.",
        f.task.cluster_name()
    ))
}

fn headline(f: &Facts) -> Option<String> {
    Some(if f.reasons_mention("is being deleted") {
        "the service is being deleted".to_string()
    } else {
        "the service scaled in (desired count lowered)".to_string()
    })
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
