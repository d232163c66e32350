//! `elb-health-check-failed`: the target group's health checks failed, so the service
//! replaced the task. The status codes the checks got (a service event names them)
//! decide which fix comes first: 404 → the path, 5xx → the application's error, a
//! timeout → the start time and grace period.

use super::{Facts, Verdict};
use crate::diagnose::text::quotable;

use super::meaning::Meaning;
use super::wording::cut;
use crate::diagnose::CauseId;
use crate::evidence::probes::{ChangedField, CheckRequest};
use crate::values::logs::{elb_status_codes, elb_timed_out, last_line, last_request};
use regex::Regex;
use std::sync::LazyLock;

const ELB_HEALTH_CHECKS: &str = "failed elb health checks";
const SECURITY_GROUP_FIX: &str =
    "Allow the load balancer's security group to reach the container port in the task's security group.";

static TARGET_GROUP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(target-group ([^)\s]+)\)").expect("valid target group regex"));

/// What the health checks got, as far as the service events say.
enum Answer {
    NotFound,
    ServerError,
    OtherCodes,
    TimedOut,
    Unknown,
}

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention(ELB_HEALTH_CHECKS) {
        return None;
    }
    let target_group = TARGET_GROUP
        .captures(f.stopped_reason)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    let tg = target_group.as_deref().unwrap_or("TARGET_GROUP_ARN");
    let ports: Vec<String> = f
        .container_definitions()
        .flat_map(|c| c.port_mappings.iter().map(move |m| (c, m)))
        .filter_map(|(c, m)| m.container_port.map(|p| format!("`{}` port {p}", c.name)))
        .collect();
    let on_ports = if ports.is_empty() {
        String::new()
    } else {
        format!(" on {}", ports.join(", "))
    };
    let codes = elb_status_codes(f.service_events);
    let timed_out = elb_timed_out(f.service_events);
    let answer = match (&codes, timed_out) {
        (Some((codes, _)), _) if codes.contains(&404) => Answer::NotFound,
        (Some((codes, _)), _) if codes.iter().any(|c| *c >= 500) => Answer::ServerError,
        (Some(_), _) => Answer::OtherCodes,
        (None, Some(_)) => Answer::TimedOut,
        (None, None) => Answer::Unknown,
    };
    let got = match &codes {
        Some((codes, _)) => {
            let list: Vec<String> = codes.iter().map(u16::to_string).collect();
            format!(" (they got HTTP {})", list.join(", "))
        }
        None if timed_out.is_some() => " (they timed out)".to_string(),
        None => String::new(),
    };
    let target_group_text = target_group
        .as_deref()
        .map(|t| format!(" `{t}`"))
        .unwrap_or_default();
    let mut verdict = Verdict::new(
        CauseId::ElbHealthCheckFailed,
        format!(
            "{} failed the health checks of target group{target_group_text}{got}, so the service replaced it.",
            f.subject()
        ),
    );
    if let Some(message) = codes.as_ref().map(|(_, m)| *m).or(timed_out) {
        verdict = verdict.evidence(format!("Service event: \"{}\"", quotable(message)));
    }
    if !ports.is_empty() {
        verdict = verdict.evidence(format!("Container ports: {}", ports.join(", ")));
    }
    let path_fix = format!(
        "The checks got 404: the target group's health-check path is not a route the application serves{on_ports}. Compare its `HealthCheckPath` (`aws elbv2 describe-target-groups --target-group-arns {tg}`) with the application's routes, and point it at one that answers 200 (`aws elbv2 modify-target-group --target-group-arn {tg} --health-check-path /health`) or serve that path."
    );
    let server_error_fix = "The checks got a 5xx: the application fails on the health-check path itself; its log around the checks shows the error (a dependency it checks, a missing setting).".to_string();
    let describe_fix = format!(
        "See why targets fail: `aws elbv2 describe-target-health --target-group-arn {tg}` and compare the health-check path, port and matcher (`aws elbv2 describe-target-groups --target-group-arns {tg}`) with what the application serves{on_ports}."
    );
    let grace_fix = f.task.service_name().map(|service| {
        format!(
            "If the application starts slowly, raise `healthCheckGracePeriodSeconds` of service `{service}` above its start time (`aws ecs update-service --cluster {} --service {service} --health-check-grace-period-seconds 120`).",
            f.task.cluster_name()
        )
    });
    let fixes: Vec<Option<String>> = match answer {
        Answer::NotFound => vec![Some(path_fix), Some(describe_fix)],
        Answer::ServerError => vec![Some(server_error_fix), Some(describe_fix)],
        Answer::OtherCodes => vec![Some(describe_fix), grace_fix],
        Answer::TimedOut => vec![
            grace_fix,
            Some(describe_fix),
            Some(SECURITY_GROUP_FIX.to_string()),
        ],
        Answer::Unknown => vec![
            Some(describe_fix),
            grace_fix,
            Some(SECURITY_GROUP_FIX.to_string()),
        ],
    };
    Some(verdict.fixes(fixes.into_iter().flatten()))
}

/// `ELB health check GET /health got 404`, from the container's log and the service's
/// events.
fn headline(f: &Facts) -> Option<String> {
    let container = f.checked_container().or(f.blamed_container);
    let request = container.and_then(|c| last_request(f.evidence, &c.name));
    let codes = elb_status_codes(f.service_events).map(|(codes, _)| codes);
    match (request, codes) {
        (Some(r), Some(codes)) if codes.contains(&r.status) => Some(format!(
            "ELB health check {} {} got {}",
            r.method,
            cut(&r.path),
            r.status
        )),
        (_, Some(codes)) => Some(format!(
            "ELB health checks got HTTP {}",
            codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (Some(r), None) => Some(format!(
            "ELB health check {} {} got {}",
            r.method,
            cut(&r.path),
            r.status
        )),
        (None, None) if elb_timed_out(f.service_events).is_some() => {
            Some("ELB health checks timed out".to_string())
        }
        (None, None) => container
            .and_then(|c| last_line(f.evidence, &c.name))
            .map(|l| format!("ELB health checks failed; last log: \"{}\"", cut(l))),
    }
}

/// The target group's check against the container's start; what changed in how the
/// container answers it.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| vec![CheckRequest::TargetHealth],
    key_changes: &[
        ChangedField::PortMappings,
        ChangedField::HealthCheck,
        ChangedField::Image,
        ChangedField::Command,
    ],
};
