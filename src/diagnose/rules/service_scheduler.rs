//! The service scheduler stopped the task: its service is being deleted or scaled in
//! (`scaling-event`), or a deployment replaced it (`deployment-replaced`). One rule,
//! because one stop code and reason cover all three; the verdicts live in the files of
//! the causes they yield.

use super::{deployment_replaced, scaling_event, Facts, Verdict};
use crate::evidence::StopCode;

/// "Scaling activity initiated by (deployment ecs-svc/...)".
const SCALING_ACTIVITY: &str = "scaling activity initiated by";
/// "Service X is being deleted".
const SERVICE_DELETED: &str = "is being deleted";

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let scheduler = f.stop_code == Some(&StopCode::ServiceSchedulerInitiated)
        || f.reasons_mention(SCALING_ACTIVITY)
        || f.reasons_mention(SERVICE_DELETED);
    if !scheduler {
        return None;
    }
    let service = f.task.service_name().unwrap_or("its service");
    if f.reasons_mention(SERVICE_DELETED) {
        return Some(scaling_event::service_deleted(f, service));
    }
    if !f.reasons_mention(SCALING_ACTIVITY) {
        return None;
    }
    Some(
        deployment_replaced::replaced_by_deployment(f, service)
            .unwrap_or_else(|| scaling_event::scaled_in(f, service)),
    )
}
