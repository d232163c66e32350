//! `elb-health-check-failed`: the target group's health checks failed, so the service
//! replaced the task.

use super::{Facts, Verdict};
use crate::diagnose::CauseId;
use regex::Regex;
use std::sync::LazyLock;

const ELB_HEALTH_CHECKS: &str = "failed elb health checks";
const SECURITY_GROUP_FIX: &str =
    "Allow the load balancer's security group to reach the container port in the task's security group.";

static TARGET_GROUP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(target-group ([^)\s]+)\)").expect("valid target group regex"));

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention(ELB_HEALTH_CHECKS) {
        return None;
    }
    let target_group = TARGET_GROUP
        .captures(f.stopped_reason)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    let target_group_text = target_group
        .as_deref()
        .map(|t| format!(" `{t}`"))
        .unwrap_or_default();
    let ports: Vec<String> = f
        .container_definitions()
        .flat_map(|c| c.port_mappings.iter().map(move |m| (c, m)))
        .filter_map(|(c, m)| m.container_port.map(|p| format!("`{}` port {p}", c.name)))
        .collect();
    let mut verdict = Verdict::new(
        CauseId::ElbHealthCheckFailed,
        format!(
            "{} failed the health checks of target group{target_group_text}, so the service replaced it.",
            f.subject()
        ),
    );
    if !ports.is_empty() {
        verdict = verdict.evidence(format!("Container ports: {}", ports.join(", ")));
    }
    if let Some(tg) = &target_group {
        let on_ports = if ports.is_empty() {
            String::new()
        } else {
            format!(" on {}", ports.join(", "))
        };
        verdict = verdict.fix(format!(
            "See why targets fail: `aws elbv2 describe-target-health --target-group-arn {tg}` and compare the health-check path, port and matcher (`aws elbv2 describe-target-groups --target-group-arns {tg}`) with what the application serves{on_ports}."
        ));
    }
    if let Some(service) = f.task.service_name() {
        verdict = verdict.fix(format!(
            "If the application starts slowly, raise `healthCheckGracePeriodSeconds` of service `{service}` (`aws ecs update-service --cluster {} --service {service} --health-check-grace-period-seconds 120`).",
            f.task.cluster_name()
        ));
    }
    Some(verdict.fix(SECURITY_GROUP_FIX))
}
