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
    EMPTY_CAPACITY_PROVIDER,
    NO_ACTIVE_INSTANCES,
];
/// ECS's words for a cluster with no ACTIVE container instance.
const NO_ACTIVE_INSTANCES: &str = "no active instances";
/// ECS's word for a capacity provider with no instance that could take the task.
const EMPTY_CAPACITY_PROVIDER: &str = "empty capacity provider";
/// The placement failures ECS gives as a bare word after `TaskFailedToStart: `.
const PLACEMENT_WORDS: &[&str] = &["ATTRIBUTE", "LOCATION"];

/// "No Container Instances were found in your capacity provider": the strategy names a
/// capacity provider with no registered instance (an Auto Scaling group at zero, or a
/// strategy that does not match the cluster's providers).
const NO_CAPACITY_PROVIDER_INSTANCES: &str =
    "no container instances were found in your capacity provider";

static PLACEMENT_RESOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)RESOURCE:(MEMORY|CPU|PORTS|ENI|GPU)").expect("valid resource regex")
});

/// `TaskFailedToStart: ATTRIBUTE` (or `LOCATION`): the word, when the reason is only that.
fn placement_word<'a>(f: &'a Facts) -> Option<&'a str> {
    let message = f.telling_chain().message();
    PLACEMENT_WORDS.iter().copied().find(|w| message == *w)
}

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let word = placement_word(f);
    if !f.reasons_mention_any(PLACEMENT_REASONS) && word.is_none() {
        return None;
    }
    let resource = PLACEMENT_RESOURCE
        .captures(f.telling_reason())
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_uppercase());
    let none_registered = f.reasons_mention(NO_CAPACITY_PROVIDER_INSTANCES);
    // ECS's word when its capacity provider had no instance that could take the task:
    // none registered, or none with room for its CPU and memory.
    let empty_word = f.reasons_mention(EMPTY_CAPACITY_PROVIDER);
    let empty_provider = none_registered || empty_word;
    let what = match (resource.as_deref(), word) {
        (_, Some("ATTRIBUTE")) => {
            "the attributes its task definition or placement constraints require"
        }
        (_, Some(_)) => "room for it in the Availability Zones it may use",
        _ => match resource.as_deref() {
            Some("MEMORY") => "free memory",
            Some("CPU") => "free CPU",
            Some("PORTS") => "the host ports it needs free",
            Some("ENI") => "a free network interface (ENI) slot",
            Some("GPU") => "a free GPU",
            _ => "room for it",
        },
    };
    let provider_named = f
        .task
        .capacity_provider
        .as_deref()
        .map(|p| format!(" `{p}`"))
        .unwrap_or_default();
    let summary = if empty_word {
        format!(
            "{} could not be placed: its capacity provider{provider_named} had no container instance in cluster `{}` that could take it, none registered or none with room for its CPU and memory (EMPTY CAPACITY PROVIDER).",
            f.subject(),
            f.task.cluster_name()
        )
    } else if none_registered {
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
    } else if f.reasons_mention(NO_ACTIVE_INSTANCES) {
        format!(
            "{} could not be placed: cluster `{}` has no ACTIVE container instance (NO ACTIVE INSTANCES).",
            f.subject(),
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
        if empty_word {
            verdict = verdict.fix("Compare the task's CPU and memory with what the group's instance type offers after the agent's and the OS's share: a task larger than one instance never fits, however many instances there are.");
        }
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
