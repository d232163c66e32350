//! `instance-unhealthy-or-terminated`: the EC2 container instance hosting the task was
//! stopped, terminated, drained or lost its agent; its Docker lost the task's container
//! (`ContainerVanishedError`); or ECS could not place the task because the agent of the
//! instance it picked was disconnected (`TaskFailedToStart: AGENT`).

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

/// The agent found no container for one it had started: Docker lost it while the agent
/// was not watching (a daemon or instance restart, or a container removed by hand).
const VANISHED: &[&str] = &[
    "containervanishederror",
    "no container matching saved id found",
];
/// RunTask's and the task's word for an instance whose agent is disconnected.
const AGENT_DISCONNECTED: &str = "AGENT";

static INSTANCE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bi-[0-9a-f]{8,17}\b").expect("valid instance id regex"));

/// Did the host go away (stopped, terminated, drained, unhealthy)? Also asked by the
/// maintenance rule: a termination notice about the host is this, not maintenance.
pub fn host_went_away(f: &Facts) -> bool {
    f.stop_code == Some(&StopCode::InfrastructureHealth)
        || f.reasons_mention(HOST_GONE)
        || (f.reasons_mention(CONTAINER_INSTANCE)
            && f.reasons_mention_any(CONTAINER_INSTANCE_STATES))
        || (f.reasons_mention(INSTANCE_ID_PREFIX) && f.reasons_mention_any(INSTANCE_STATES))
}

/// `TaskFailedToStart: AGENT`, or `AGENT` alone.
fn agent_disconnected(f: &Facts) -> bool {
    let chain = f.telling_chain();
    chain.message() == AGENT_DISCONNECTED
        && chain
            .codes()
            .all(|c| c.eq_ignore_ascii_case("TaskFailedToStart"))
}

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if f.reasons_mention_any(VANISHED) {
        return Some(vanished(f));
    }
    if agent_disconnected(f) {
        return Some(agent_was_disconnected(f));
    }
    if !host_went_away(f) {
        return None;
    }
    let instance = INSTANCE_ID
        .find(f.telling_reason())
        .map(|m| m.as_str().to_string())
        .or_else(|| f.task.container_instance_arn.clone());
    let host = instance
        .as_deref()
        .map_or("its container instance".to_string(), |i| {
            format!("its host `{i}`")
        });
    let summary = if f.stop_code == Some(&StopCode::InfrastructureHealth) {
        let host = if f.on_fargate() {
            "the Fargate infrastructure".to_string()
        } else {
            host
        };
        format!(
            "{} was stopped by ECS because {host} failed ECS's health checks (stop code InfrastructureHealth); the task itself did nothing wrong.",
            f.subject()
        )
    } else {
        format!(
            "{} stopped because {host} was stopped, terminated, drained or became unhealthy.",
            f.subject()
        )
    };
    let mut verdict = Verdict::new(CauseId::InstanceUnhealthyOrTerminated, summary);
    if let Some(arn) = &f.task.container_instance_arn {
        verdict = verdict.evidence(format!("Container instance: `{arn}`"));
    }
    if let Some(instance) = instance.filter(|i| i.starts_with("i-")) {
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

/// Docker lost the container while the agent was not watching.
fn vanished(f: &Facts) -> Verdict {
    let container = f
        .container_mentioning(VANISHED)
        .map_or("its container".to_string(), |c| {
            format!("container `{}`", c.name)
        });
    let host = f
        .task
        .container_instance_arn
        .as_deref()
        .map_or("its container instance".to_string(), |a| {
            format!("container instance `{a}`")
        });
    let mut verdict = Verdict::new(
        CauseId::InstanceUnhealthyOrTerminated,
        format!(
            "{}: {container} was gone from Docker on {host} when the ECS agent looked again (ContainerVanishedError): the Docker daemon or the instance restarted, or something removed the container.",
            f.subject()
        ),
    );
    if let Some(arn) = &f.task.container_instance_arn {
        verdict = verdict.evidence(format!("Container instance: `{arn}`"));
    }
    verdict
        .fix("On the instance, look for Docker daemon or ECS agent restarts around the stop (`journalctl -u docker -u ecs`) and for anything that removes containers (a cleanup job, `docker system prune`).")
        .general_fixes()
}

/// ECS picked an instance whose agent was disconnected.
fn agent_was_disconnected(f: &Facts) -> Verdict {
    Verdict::new(
        CauseId::InstanceUnhealthyOrTerminated,
        format!(
            "{} could not start: the ECS agent on the container instance ECS picked for it was disconnected (TaskFailedToStart: AGENT).",
            f.subject()
        ),
    )
    .fix(format!(
        "Find the instances whose agent is disconnected: `aws ecs describe-container-instances --cluster {} --container-instances $(aws ecs list-container-instances --cluster {} --query containerInstanceArns --output text) --query 'containerInstances[?agentConnected==`false`].ec2InstanceId'`; restart the agent there (`sudo systemctl restart ecs`) and check it reaches the ECS endpoints.",
        f.task.cluster_name(),
        f.task.cluster_name()
    ))
    .general_fixes()
}

static INSTANCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bi-[0-9a-f]{8,}\b").expect("valid instance regex"));

fn headline(f: &Facts) -> Option<String> {
    if f.reasons_mention_any(VANISHED) {
        return Some("its container vanished from Docker on the instance".to_string());
    }
    if agent_disconnected(f) {
        return Some("the ECS agent of the instance picked was disconnected".to_string());
    }
    if let Some(id) = INSTANCE.find(f.telling_reason()) {
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
