//! `container-health-check-failed`: the task definition's health check kept failing,
//! so ECS marked an essential container UNHEALTHY and stopped the task.

use super::meaning::Meaning;
use super::wording::cut;
use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::findings::health_checks_failed;
use crate::diagnose::CauseId;
use crate::evidence::probes::ChangedField;
use crate::values::{describe_health_check, HealthCheckTiming};

const UNHEALTHY: &str = "UNHEALTHY";

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !health_checks_failed(f.task) {
        return None;
    }
    let container = f
        .task
        .containers
        .iter()
        .find(|c| c.health_status.as_deref() == Some(UNHEALTHY))
        .or_else(|| {
            f.task
                .containers
                .iter()
                .find(|c| f.definition_of(c).is_some_and(|d| d.health_check.is_some()))
        })
        .or(f.blamed_container);
    let name = container.map_or("an essential container", |c| c.name.as_str());
    let check = container
        .and_then(|c| f.definition_of(c))
        .and_then(|d| d.health_check.as_ref());
    let mut verdict = Verdict::new(
        CauseId::ContainerHealthCheckFailed,
        format!(
            "{}: the health check of container `{name}` kept failing, so ECS marked it UNHEALTHY and stopped the task.",
            f.subject()
        ),
    );
    if let Some(check) = check {
        verdict = verdict.evidence(format!(
            "Health check of `{name}`: {}",
            describe_health_check(check)
        ));
        let command = check.shell_command();
        verdict = verdict.fix(format!(
            "Run the check by hand inside the container: `aws ecs execute-command --cluster {} --task {} --container {name} --interactive --command \"{}\"` (the tool it calls, e.g. curl or wget, must exist in the image).",
            f.task.cluster_name(),
            f.task.id(),
            command.replace('"', "'")
        ));
        let wanted = HealthCheckTiming::of(check).suggested_start_period();
        match check.start_period {
            Some(p) if p >= wanted / 2 && p > 0 => {}
            Some(p) if p > 0 => {
                verdict = verdict.fix(format!(
                    "Raise `startPeriod` of `{name}` from {p} s to about {wanted} s so the application can boot before failures count."
                ))
            }
            _ => {
                verdict = verdict.fix(format!(
                    "Set `startPeriod` of `{name}` (it has none) to about {wanted} s so the application can boot before failures count."
                ))
            }
        }
    }
    Some(verdict.fix(fixes::HEALTH_CHECK_PORT_AND_TIMEOUT))
}

/// `` `web` health check failed: curl -f http://localhost/health ``.
fn headline(f: &Facts) -> Option<String> {
    let container = f
        .task
        .containers
        .iter()
        .find(|c| c.health_status.as_deref() == Some("UNHEALTHY"))
        .or(f.blamed_container)?;
    let check = f.definition_of(container)?.health_check.as_ref()?;
    let command = check.shell_command();
    let command = command.trim_end_matches("|| exit 1").trim_end();
    Some(format!(
        "`{}` health check failed: {}",
        container.name,
        cut(command)
    ))
}

/// A changed check, image or command explains a check that now fails.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| Vec::new(),
    key_changes: &[
        ChangedField::HealthCheck,
        ChangedField::Image,
        ChangedField::Command,
    ],
};
