//! Task-definition checks: a health check with no or a short `startPeriod`, and an
//! essential container without a `logConfiguration`.

use super::{Described, DetailedFinding, FindingValues};
use crate::evidence::ContainerDefinition;
use crate::values::HealthCheckTiming;

/// Seconds a container may take to become healthy before it is called unhealthy.
const MIN_START_PERIOD: i32 = 30;

/// A health check with no `startPeriod`, or one shorter than interval x retries or 30 s.
pub fn short_start_period(container: &ContainerDefinition) -> Option<DetailedFinding> {
    let check = container.health_check.as_ref()?;
    let timing = HealthCheckTiming::of(check);
    let (interval, retries) = (timing.interval, timing.retries);
    let budget = timing.failure_budget();
    let suggested = timing.suggested_start_period();
    let command = check.command.join(" ");
    let detail = match check.start_period {
        None | Some(0) => format!(
            "The health check of `{}` has no startPeriod: it must pass within {budget} s (interval {interval} s × retries {retries}) of starting; set startPeriod to about {suggested} s",
            container.name
        ),
        Some(period) if period < MIN_START_PERIOD || period < budget => format!(
            "The health check of `{}` has a short startPeriod of {period} s: set it to about {suggested} s so the application can boot",
            container.name
        ),
        Some(_) => return None,
    };
    Some(DetailedFinding::new(
        Described {
            values: FindingValues::HealthCheckStartPeriod {
                suggested_seconds: suggested,
            },
            detail,
        },
        Some(container.name.clone()),
        Some(format!("healthCheck.command: {command}")),
    ))
}

/// An essential container without `logConfiguration` leaves nothing to read.
pub fn missing_log_configuration(container: &ContainerDefinition) -> Option<DetailedFinding> {
    let essential = container.essential.unwrap_or(true);
    (essential && container.log_configuration.is_none()).then(|| {
        DetailedFinding::new(
            Described {
                values: FindingValues::NoLogConfiguration,
                detail: format!(
                    "`{}` has no logConfiguration, so its output is not kept: add the awslogs log driver to see why it stops",
                    container.name
                ),
            },
            Some(container.name.clone()),
            None,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::HealthCheck;

    #[test]
    fn short_start_periods_are_found() {
        let mut container = ContainerDefinition {
            name: "web".into(),
            health_check: Some(HealthCheck {
                command: vec![
                    "CMD-SHELL".into(),
                    "curl -f http://localhost/ || exit 1".into(),
                ],
                interval: Some(10),
                retries: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(short_start_period(&container)
            .unwrap()
            .finding
            .detail
            .contains("no startPeriod"));
        if let Some(check) = container.health_check.as_mut() {
            check.start_period = Some(120);
        }
        assert!(short_start_period(&container).is_none());
    }

    #[test]
    fn essential_containers_without_logs_are_found() {
        let container = ContainerDefinition {
            name: "app".into(),
            ..Default::default()
        };
        let found = missing_log_configuration(&container).expect("a finding");
        assert_eq!(found.kind(), super::super::FindingKind::NoLogConfiguration);
    }
}
