//! Why did the load balancer find the task unhealthy? The target group's health check
//! against what the task did.
//!
//! `DescribeTargetGroups` (the service's groups) and `DescribeTargetHealth` (one per
//! group) at once, then, without further calls:
//! - the check itself, as context (protocol, path, port, expected codes, timing);
//! - the targets' health now: unhealthy ones, with ELB's reason, confirm;
//! - the codes the service events say the check got, against the group's matcher;
//! - how long the container took to start (its start to the first log line that says it
//!   listens or is ready) against the grace period plus the check's failure window.

use super::{unchecked, ProbeClients, ProbeInput};
use crate::evidence::probes::{Check, CheckId, CheckOutcome, CheckRequest};
use crate::evidence::{Evidence, ProbeResults};
use crate::gather::failure::aws_failure;
use crate::values::logs::elb_status_codes;
use aws_sdk_elasticloadbalancingv2::types::{TargetGroup, TargetHealthDescription};
use chrono::{DateTime, Utc};
use regex::Regex;
use std::sync::LazyLock;

const PROBE: CheckId = CheckId::TargetHealth;

/// A log line saying the application is up: `Listening on :8080`, `Started Application
/// in 92.3 seconds`, `server ready`.
static READY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(listening|listens|started|ready|now serving|server running|up and running|accepting connections)\b",
    )
    .expect("valid ready regex")
});

/// A line that says the opposite: `not ready yet`, `failed to start`.
static NOT_READY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(not|never|failed to|unable to|could not)\s+(yet\s+)?(be\s+)?(listening|started|start|ready)\b")
        .expect("valid not-ready regex")
});

/// The health check of one target group, as ELB describes it.
#[derive(Debug, Clone, PartialEq)]
struct HealthCheck {
    name: String,
    protocol: String,
    path: Option<String>,
    port: String,
    /// `200`, `200,202` or `200-299` (HTTP), or gRPC codes.
    matcher: Option<String>,
    grpc: bool,
    interval: i32,
    unhealthy_after: i32,
}

impl HealthCheck {
    fn of(group: &TargetGroup, arn: &str) -> HealthCheck {
        let matcher = group.matcher();
        HealthCheck {
            name: group
                .target_group_name()
                .map(str::to_string)
                .unwrap_or_else(|| group_name(arn).to_string()),
            protocol: group
                .health_check_protocol()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "HTTP".to_string()),
            path: group.health_check_path().map(str::to_string),
            port: group
                .health_check_port()
                .unwrap_or("traffic-port")
                .to_string(),
            grpc: matcher.and_then(|m| m.grpc_code()).is_some(),
            matcher: matcher
                .and_then(|m| m.http_code().or(m.grpc_code()))
                .map(str::to_string),
            interval: group.health_check_interval_seconds().unwrap_or(30),
            unhealthy_after: group.unhealthy_threshold_count().unwrap_or(2),
        }
    }

    /// Seconds of failing checks before ELB marks a target unhealthy.
    fn failure_window(&self) -> i32 {
        self.interval * self.unhealthy_after
    }

    fn http(&self) -> bool {
        self.protocol.starts_with("HTTP") && !self.grpc
    }

    /// `target group web-tg checks HTTP GET /health on port traffic-port, expects 200,
    /// every 30 s, unhealthy after 2 failures (60 s)`.
    fn describe(&self) -> String {
        let what = match (&self.path, &self.matcher) {
            (Some(path), Some(matcher)) if self.http() => {
                format!(
                    "{} GET {path} on port {}, expects {matcher}",
                    self.protocol, self.port
                )
            }
            (Some(path), Some(matcher)) if self.grpc => format!(
                "gRPC {path} on port {}, expects gRPC code {matcher}",
                self.port
            ),
            _ => format!("{} on port {}", self.protocol, self.port),
        };
        format!(
            "target group {} checks {what}, every {} s, unhealthy after {} failures ({} s)",
            self.name,
            self.interval,
            self.unhealthy_after,
            self.failure_window()
        )
    }
}

/// Whether this probe has anything to check for this diagnosis.
pub fn applies(input: ProbeInput<'_>) -> bool {
    *input.request == CheckRequest::TargetHealth && !target_groups(input.evidence).is_empty()
}

/// Run the probe's read-only calls.
pub async fn run(clients: &ProbeClients, input: ProbeInput<'_>) -> ProbeResults {
    let arns = target_groups(input.evidence);
    if arns.is_empty() {
        return ProbeResults::default();
    }
    // One round trip: the groups and every group's targets at once.
    let groups = clients
        .elb
        .describe_target_groups()
        .set_target_group_arns(Some(arns.clone()))
        .send();
    let healths = futures::future::join_all(arns.iter().map(|arn| {
        clients
            .elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
    }));
    let (groups, healths) = tokio::join!(groups, healths);

    let mut results = ProbeResults::default();
    let groups = match groups {
        Ok(answer) => answer.target_groups().to_vec(),
        Err(err) => {
            results.unchecked.push(unchecked(
                &format!("the health check of target group {}", names(&arns)),
                "elasticloadbalancing:DescribeTargetGroups",
                &aws_failure(&err),
            ));
            Vec::new()
        }
    };
    for (arn, health) in arns.iter().zip(healths) {
        let check = groups
            .iter()
            .find(|g| g.target_group_arn() == Some(arn.as_str()))
            .map(|g| HealthCheck::of(g, arn));
        if let Some(check) = &check {
            results
                .checks
                .push(Check::new(PROBE, CheckOutcome::Context, check.describe()));
        }
        match health {
            Ok(answer) => results.checks.push(targets_now(
                group_name(arn),
                answer.target_health_descriptions(),
            )),
            Err(err) => results.unchecked.push(unchecked(
                &format!("the targets' health in target group {}", group_name(arn)),
                "elasticloadbalancing:DescribeTargetHealth",
                &aws_failure(&err),
            )),
        }
        if let Some(check) = &check {
            results.checks.extend(codes_against_matcher(
                input.evidence,
                arn,
                arns.len(),
                check,
            ));
            results
                .checks
                .push(start_against_grace(input.evidence, arn, check));
        }
    }
    results
}

/// The service's target group ARNs; only those the stopped reason names when it names
/// any.
fn target_groups(evidence: &Evidence) -> Vec<String> {
    let Some(service) = &evidence.service else {
        return Vec::new();
    };
    let mut arns: Vec<String> = Vec::new();
    for arn in service
        .load_balancers
        .iter()
        .filter_map(|lb| lb.target_group_arn.as_ref())
    {
        if !arn.is_empty() && !arns.contains(arn) {
            arns.push(arn.clone());
        }
    }
    let reason = evidence.task.stopped_reason.as_deref().unwrap_or_default();
    let named: Vec<String> = arns
        .iter()
        .filter(|arn| reason.contains(arn.as_str()))
        .cloned()
        .collect();
    if named.is_empty() {
        arns
    } else {
        named
    }
}

/// `web-tg` from `arn:aws:elasticloadbalancing:...:targetgroup/web-tg/6d0ecf831eec9f09`.
fn group_name(arn: &str) -> &str {
    arn.split_once(":targetgroup/")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or(arn)
}

fn names(arns: &[String]) -> String {
    arns.iter()
        .map(|arn| group_name(arn))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The group's targets now: unhealthy ones (with ELB's reason) confirm; otherwise how
/// many are in which state.
fn targets_now(group: &str, targets: &[TargetHealthDescription]) -> Check {
    let total = targets.len();
    if total == 0 {
        return Check::new(
            PROBE,
            CheckOutcome::Context,
            format!("target group {group} has no registered targets now"),
        );
    }
    let state_of = |t: &TargetHealthDescription| {
        t.target_health()
            .and_then(|h| h.state())
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "unknown".to_string())
    };
    let unhealthy: Vec<&TargetHealthDescription> = targets
        .iter()
        .filter(|t| state_of(t) == "unhealthy")
        .collect();
    if !unhealthy.is_empty() {
        let mut reasons: Vec<String> = Vec::new();
        for target in &unhealthy {
            let Some(health) = target.target_health() else {
                continue;
            };
            let reason = match (health.reason(), health.description()) {
                (Some(reason), Some(description)) => {
                    format!("{} ({description})", reason.as_str())
                }
                (Some(reason), None) => reason.as_str().to_string(),
                (None, Some(description)) => description.to_string(),
                (None, None) => continue,
            };
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        let reasons = if reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", reasons.join("; "))
        };
        return Check::new(
            PROBE,
            CheckOutcome::Confirms,
            format!("{} of {total} targets unhealthy{reasons}", unhealthy.len()),
        );
    }
    let mut states: Vec<(String, usize)> = Vec::new();
    for target in targets {
        let state = state_of(target);
        match states.iter_mut().find(|(s, _)| *s == state) {
            Some((_, count)) => *count += 1,
            None => states.push((state, 1)),
        }
    }
    let states: Vec<String> = states
        .iter()
        .map(|(state, count)| format!("{count} {state}"))
        .collect();
    Check::new(
        PROBE,
        CheckOutcome::Context,
        format!(
            "target group {group} now has {total} target{}: {}",
            if total == 1 { "" } else { "s" },
            states.join(", ")
        ),
    )
}

/// The codes the service events say the check got, when the group's matcher does not
/// accept them: `the check expects 200 on /health and got 404`.
fn codes_against_matcher(
    evidence: &Evidence,
    arn: &str,
    groups: usize,
    check: &HealthCheck,
) -> Option<Check> {
    if !check.http() {
        return None;
    }
    let matcher = check.matcher.as_deref()?;
    // The newest event naming codes for this group (or for the only group).
    let events: Vec<_> = evidence
        .service_events
        .iter()
        .filter(|e| groups == 1 || e.message.contains(arn))
        .cloned()
        .collect();
    let (codes, _) = elb_status_codes(&events)?;
    let refused: Vec<String> = codes
        .iter()
        .filter(|code| !accepts(matcher, **code))
        .map(u16::to_string)
        .collect();
    if refused.is_empty() {
        return None;
    }
    let on = check
        .path
        .as_deref()
        .map(|p| format!(" on {p}"))
        .unwrap_or_default();
    Some(Check::new(
        PROBE,
        CheckOutcome::Confirms,
        format!(
            "the check expects {matcher}{on} and got {}",
            refused.join(", ")
        ),
    ))
}

/// Whether a matcher (`200`, `200,202`, `200-299`) accepts `code`.
fn accepts(matcher: &str, code: u16) -> bool {
    matcher
        .split(',')
        .map(str::trim)
        .any(|part| match part.split_once('-') {
            Some((low, high)) => match (low.trim().parse::<u16>(), high.trim().parse::<u16>()) {
                (Ok(low), Ok(high)) => (low..=high).contains(&code),
                _ => false,
            },
            None => part.parse::<u16>() == Ok(code),
        })
}

/// How long the container took to start against the grace period plus the check's
/// failure window.
fn start_against_grace(evidence: &Evidence, arn: &str, check: &HealthCheck) -> Check {
    let grace = evidence
        .service
        .as_ref()
        .and_then(|s| s.health_check_grace_period_seconds)
        .unwrap_or(0);
    let window = check.failure_window();
    let limits = format!("grace period {grace} s; the check marks it unhealthy after {window} s");
    let started = evidence.task.started_at;
    let ready = started.and_then(|started| ready_at(evidence, arn, started));
    match (started, ready) {
        (Some(started), Some(ready)) => {
            let needs = (ready - started).num_seconds();
            if needs > i64::from(grace + window) {
                Check::new(
                    PROBE,
                    CheckOutcome::Confirms,
                    format!("needs ~{needs} s to start; {limits}"),
                )
            } else {
                Check::new(
                    PROBE,
                    CheckOutcome::RulesOut,
                    format!("starts in ~{needs} s; {limits}"),
                )
            }
        }
        (Some(started), None) => {
            let ran = evidence
                .task
                .stopped_at
                .or(evidence.task.stopping_at)
                .map(|stopped| format!(" in the {} s it ran", (stopped - started).num_seconds()))
                .unwrap_or_default();
            Check::new(
                PROBE,
                CheckOutcome::Context,
                format!("no log line says it listens or is ready{ran}; {limits}"),
            )
        }
        (None, _) => Check::new(
            PROBE,
            CheckOutcome::Context,
            format!("start time unknown (the task never started); {limits}"),
        ),
    }
}

/// When the container behind `arn` first logged that it listens or is ready.
fn ready_at(evidence: &Evidence, arn: &str, started: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let container = evidence.service.as_ref().and_then(|s| {
        s.load_balancers
            .iter()
            .find(|lb| lb.target_group_arn.as_deref() == Some(arn))
            .and_then(|lb| lb.container_name.clone())
    });
    evidence
        .logs
        .iter()
        .filter(|logs| {
            container
                .as_ref()
                .is_none_or(|name| &logs.container == name)
        })
        .flat_map(|logs| logs.lines.iter())
        .filter(|line| READY.is_match(&line.message) && !NOT_READY.is_match(&line.message))
        .filter_map(|line| line.timestamp)
        .filter(|at| *at >= started)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_accept_single_codes_lists_and_ranges() {
        assert!(accepts("200", 200));
        assert!(!accepts("200", 404));
        assert!(accepts("200,202", 202));
        assert!(accepts("200-299", 204));
        assert!(!accepts("200-299", 302));
    }

    #[test]
    fn unhealthy_targets_confirm_with_elbs_reason() {
        use aws_sdk_elasticloadbalancingv2::types::{
            TargetHealth, TargetHealthReasonEnum, TargetHealthStateEnum,
        };
        let unhealthy = TargetHealthDescription::builder()
            .target_health(
                TargetHealth::builder()
                    .state(TargetHealthStateEnum::Unhealthy)
                    .reason(TargetHealthReasonEnum::ResponseCodeMismatch)
                    .description("Health checks failed with these codes: [404]")
                    .build(),
            )
            .build();
        let check = targets_now("web-tg", &[unhealthy.clone(), unhealthy]);
        assert_eq!(check.outcome, CheckOutcome::Confirms);
        assert_eq!(
            check.detail,
            "2 of 2 targets unhealthy: Target.ResponseCodeMismatch (Health checks failed with these codes: [404])"
        );
    }

    #[test]
    fn the_group_name_is_read_from_its_arn() {
        assert_eq!(
            group_name("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/6d0ecf831eec9f09"),
            "web-tg"
        );
    }

    #[test]
    fn the_ready_line_is_the_first_that_says_so_after_the_start() {
        use crate::evidence::{ContainerLogs, LogLine};
        let start = DateTime::parse_from_rfc3339("2026-11-20T14:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("a time");
        let line = |seconds: i64, message: &str| LogLine {
            timestamp: Some(start + chrono::Duration::seconds(seconds)),
            message: message.into(),
        };
        let evidence = Evidence {
            logs: vec![ContainerLogs {
                container: "app".into(),
                lines: vec![
                    line(-30, "Listening on :8080 (the previous run)"),
                    line(10, "database not ready yet, retrying"),
                    line(40, "Started Application in 39.2 seconds"),
                    line(41, "Listening on :8080"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            ready_at(&evidence, "arn:tg", start),
            Some(start + chrono::Duration::seconds(40))
        );
    }
}
