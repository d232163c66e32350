//! What the logs add to a verdict, for the causes whose rules cannot read them: the
//! request a load balancer's health check made and what it got, and the last line a
//! container wrote before the stop.

use crate::diagnose::rules::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::evidence::{Container, Evidence};
use crate::values::logs::{
    elb_status_codes, elb_timed_out, last_line, last_request, last_telling_line,
};

/// The fix step about a service's health-check grace period (the ELB rule's wording).
const GRACE_PERIOD: &str = "healthCheckGracePeriodSeconds";

/// Add what the logs show to `verdict`, and order its fixes by it.
pub fn add(verdict: &mut Verdict, f: &Facts, evidence: &Evidence) {
    match verdict.id {
        CauseId::ElbHealthCheckFailed => elb(verdict, f, evidence),
        CauseId::Segfault
        | CauseId::ContainerHealthCheckFailed
        | CauseId::ContainerExitedSuccess
        | CauseId::ContainerExitedAppError => {
            if let Some(container) = f.blamed_container {
                if let Some(line) = unquoted_last_line(f, evidence, container) {
                    verdict.evidence.push(line);
                }
            }
        }
        _ => {}
    }
}

fn elb(verdict: &mut Verdict, f: &Facts, evidence: &Evidence) {
    let Some(container) = f.checked_container().or(f.blamed_container) else {
        return;
    };
    if let Some(request) = last_request(evidence, &container.name) {
        verdict.evidence.push(format!(
            "Last request in the log of `{}`: \"{}\" ({} {} answered {})",
            container.name,
            quotable(&request.line),
            request.method,
            request.path,
            request.status
        ));
        return;
    }
    let Some(line) = last_line(evidence, &container.name) else {
        return;
    };
    verdict.evidence.push(format!(
        "Last log line of `{}` before the stop: \"{}\" (no request answered yet)",
        container.name,
        quotable(line)
    ));
    // Still starting when the checks failed: the grace period comes first, unless the
    // service events name status codes the checks got.
    if elb_status_codes(f.service_events).is_none() || elb_timed_out(f.service_events).is_some() {
        verdict.fixes.sort_by_key(|fix| !fix.contains(GRACE_PERIOD));
    }
}

/// "Last log line of `app` before the stop: ..." unless a finding about the container
/// already quotes its log.
fn unquoted_last_line(f: &Facts, evidence: &Evidence, container: &Container) -> Option<String> {
    let line = last_telling_line(evidence, &container.name)?;
    let quoted = quotable(line);
    let already = f
        .findings
        .iter()
        .any(|x| x.is_about(&container.name) && x.finding.line.is_some());
    (!already).then(|| {
        format!(
            "Last log line of `{}` before the stop: \"{quoted}\"",
            container.name
        )
    })
}
