//! `insufficient-resources-placement`: no container instance had room for the task.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::CauseId;
use crate::values::fixed_host_ports;
use regex::Regex;
use std::sync::LazyLock;

const PLACEMENT_REASONS: &[&str] = &[
    "resource:memory",
    "resource:cpu",
    "resource:ports",
    "resource:eni",
    "resource:gpu",
    "no container instances were found",
    "unable to place",
    "insufficient memory",
    "insufficient cpu",
    "capacity is unavailable at this time",
    "memberof",
    "required attributes",
];

/// "No Container Instances were found in your capacity provider": the strategy names a
/// capacity provider with no registered instance (an Auto Scaling group at zero, or a
/// strategy that does not match the cluster's providers).
const NO_CAPACITY_PROVIDER_INSTANCES: &str =
    "no container instances were found in your capacity provider";

static PLACEMENT_RESOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)RESOURCE:(MEMORY|CPU|PORTS|ENI|GPU)").expect("valid resource regex")
});

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention_any(PLACEMENT_REASONS) {
        return None;
    }
    let resource = PLACEMENT_RESOURCE
        .captures(f.stopped_reason)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_uppercase());
    let empty_provider = f.reasons_mention(NO_CAPACITY_PROVIDER_INSTANCES);
    let what = match resource.as_deref() {
        Some("MEMORY") => "free memory",
        Some("CPU") => "free CPU",
        Some("PORTS") => "the host ports it needs free",
        Some("ENI") => "a free network interface (ENI) slot",
        Some("GPU") => "a free GPU",
        _ => "room for it",
    };
    let summary = if empty_provider {
        format!(
            "{} could not be placed: its capacity provider{} has no container instance registered in cluster `{}`.",
            f.subject(),
            f.task
                .capacity_provider
                .as_deref()
                .map(|p| format!(" `{p}`"))
                .unwrap_or_default(),
            f.task.cluster_name()
        )
    } else {
        format!(
            "{} could not be placed: no container instance in cluster `{}` had {what}.",
            f.subject(),
            f.task.cluster_name()
        )
    };
    let mut verdict = Verdict::new(CauseId::InsufficientResourcesPlacement, summary);
    if let (Some(cpu), Some(memory)) = (f.task.cpu.as_deref(), f.task.memory.as_deref()) {
        verdict = verdict.evidence(format!("Task size: cpu {cpu}, memory {memory} MiB"));
    }
    if empty_provider {
        let provider = f
            .task
            .capacity_provider
            .as_deref()
            .map_or("the capacity provider of the strategy".to_string(), |p| {
                format!("capacity provider `{p}`")
            });
        verdict = verdict.fix(format!(
            "Check {provider}: `aws ecs describe-capacity-providers --region {}` names its Auto Scaling group; that group needs instances (max size above 0, managed scaling on) that registered with cluster `{}`.",
            f.region(),
            f.task.cluster_name()
        ));
        verdict = verdict.fix("Check that the service's or RunTask's capacity provider strategy (or launch type) matches the cluster's providers: a FARGATE strategy on a cluster without the FARGATE provider, or an EC2 provider whose group is empty, places nothing.");
    }
    match resource.as_deref() {
        Some("PORTS") => {
            let ports = fixed_host_ports(f.container_definitions());
            if !ports.is_empty() {
                verdict = verdict.fix(format!(
                    "The task maps fixed host port(s) {}: only one such task fits per instance. Use `hostPort: 0` (dynamic ports) in bridge mode, or awsvpc.",
                    ports.join(", ")
                ));
            }
        }
        Some("ENI") => {
            verdict = verdict.fix(
                "Turn on ENI trunking (`aws ecs put-account-setting --name awsvpcTrunking --value enabled`) or use instance types with more ENIs.",
            );
        }
        _ => {}
    }
    Some(verdict.general_fixes())
}

fn headline(f: &Facts) -> Option<String> {
    let what = if f.reasons_mention("resource:memory") {
        "free memory"
    } else if f.reasons_mention("resource:cpu") {
        "free CPU"
    } else if f.reasons_mention("resource:ports") {
        "the host ports it needs free"
    } else {
        return None;
    };
    Some(format!("no container instance had {what}"))
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
