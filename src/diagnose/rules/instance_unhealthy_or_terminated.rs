//! `instance-unhealthy-or-terminated`: the EC2 container instance hosting the task was
//! stopped, terminated, drained or lost its agent.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::CauseId;
use crate::evidence::StopCode;
use regex::Regex;
use std::sync::LazyLock;

/// The stop code ECS gives a task it stopped because the infrastructure under it failed
/// its health checks (aws-sdk-ecs lists it since 2025).
/// "Host EC2 (instance i-...) stopped/terminated."
const HOST_GONE: &str = "host ec2 (instance";
/// "Container instance ... is DRAINING" and friends.
const CONTAINER_INSTANCE: &str = "container instance";
const CONTAINER_INSTANCE_STATES: &[&str] = &[
    "draining",
    "unhealthy",
    "deregist",
    "terminat",
    "stopped",
    "disconnected",
];
/// "Instance i-... was terminated/stopped".
const INSTANCE_ID_PREFIX: &str = "instance i-";
const INSTANCE_STATES: &[&str] = &["terminated", "stopped"];

static INSTANCE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bi-[0-9a-f]{8,17}\b").expect("valid instance id regex"));

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let host_gone = f.stop_code == Some(&StopCode::InfrastructureHealth)
        || f.reasons_mention(HOST_GONE)
        || (f.reasons_mention(CONTAINER_INSTANCE)
            && f.reasons_mention_any(CONTAINER_INSTANCE_STATES))
        || (f.reasons_mention(INSTANCE_ID_PREFIX) && f.reasons_mention_any(INSTANCE_STATES));
    if !host_gone {
        return None;
    }
    let instance = INSTANCE_ID
        .find(f.stopped_reason)
        .map(|m| m.as_str().to_string())
        .or_else(|| f.task.container_instance_arn.clone())
        .unwrap_or_else(|| "its container instance".to_string());
    let summary = if f.stop_code == Some(&StopCode::InfrastructureHealth) {
        let host = if f.on_fargate() {
            "the Fargate infrastructure".to_string()
        } else {
            format!("its host `{instance}`")
        };
        format!(
            "{} was stopped by ECS because {host} failed ECS's health checks (stop code InfrastructureHealth); the task itself did nothing wrong.",
            f.subject()
        )
    } else {
        format!(
            "{} stopped because its host `{instance}` was stopped, terminated, drained or became unhealthy.",
            f.subject()
        )
    };
    let mut verdict = Verdict::new(CauseId::InstanceUnhealthyOrTerminated, summary);
    if let Some(arn) = &f.task.container_instance_arn {
        verdict = verdict.evidence(format!("Container instance: `{arn}`"));
    }
    if instance.starts_with("i-") {
        verdict = verdict.fix(format!(
            "See why `{instance}` went away: `aws autoscaling describe-scaling-activities --region {}` and `aws ec2 describe-instance-status --instance-ids {instance}`.",
            f.region()
        ));
    }
    if f.stop_code == Some(&StopCode::InfrastructureHealth) && f.on_fargate() {
        let again = if f.task.service_name().is_some() {
            "its service starts a replacement by itself"
        } else {
            "run the standalone task again if its work was not finished"
        };
        return Some(verdict.fix(format!(
            "Nothing in the task to fix: {again}. If it keeps happening, check the AWS Health Dashboard for {} and spread the service across Availability Zones.",
            f.region()
        )));
    }
    Some(verdict.general_fixes())
}

static INSTANCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bi-[0-9a-f]{8,}\b").expect("valid instance regex"));

fn headline(f: &Facts) -> Option<String> {
    if let Some(id) = INSTANCE.find(f.stopped_reason) {
        if f.reasons_mention("terminated") {
            return Some(format!("host {} terminated", id.as_str()));
        }
        return Some(format!("host {} went away", id.as_str()));
    }
    f.reasons_mention("draining")
        .then(|| "its container instance was draining".to_string())
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
