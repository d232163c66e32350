//! `container-create-failed`: the container runtime could not create, start or inspect
//! a container (a port in use, a missing log group, an EFS or EBS volume, another
//! setting).
//!
//! Wrapped errors are read by their innermost cause: an EFS mount that timed out is a
//! volume that could not be mounted (the fix is on the file system's mount targets and
//! their security group, not on the task's network interface), so it stays here; a
//! runtime error that is a memory kill is `out-of-memory` ([`recognise_memory_kill`]).

use super::meaning::Meaning;
use super::wording::cut;
use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::findings::not_authorized;
use crate::diagnose::layers::ReasonChain;
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::values::{fixed_host_ports, MemoryLimits};
use regex::Regex;
use std::sync::LazyLock;

/// The runtime's and the agent's names for a container or a task resource that could
/// not be created, started or inspected, and the phrases of the same failures. The
/// innermost layer outranks them: the rules for a program that could not run, a memory
/// kill or a secret come first, and a container stopped for a failed dependency is
/// never this.
const CREATE_FAILURE: &[&str] = &[
    "cannotcreatecontainererror",
    "cannotstartcontainererror",
    "cannotinspectcontainererror",
    "containerruntimeerror",
    "resourceinitializationerror",
    "resource cannot be initialized",
    "dockerstateerror",
    "hostconfigerror",
    "dockerclientconfigerror",
    "invalidvolumeerror",
    "cannotinspectvolumeerror",
    // CannotCreateVolumeError, also as people retype it ("ConnotCreateVolumeError").
    "createvolume",
    "volumeerror: agent could not create",
    "failed to validate logger args",
    "failed to initialize logging driver",
    "firelens",
    "address already in use",
    "port is already allocated",
    TASK_DEPENDENCY_CYCLE,
];
/// The agent's words for `dependsOn` that no order satisfies (a cycle).
const TASK_DEPENDENCY_CYCLE: &str = "task dependencies cannot be resolved";
/// A container's own reason about the failure names that container.
const NAMES_THE_CONTAINER: &[&str] = &["cannot", "error", "address already in use"];
const PORT_TAKEN: &[&str] = &["address already in use", "port is already allocated"];
const LOGGING: &[&str] = &["logger", "log group", "logging driver"];
/// The 2024-on wording of a log group check that could not reach CloudWatch Logs ("There
/// is a connection issue between the task and Amazon CloudWatch. Check your network
/// configuration.").
const CANNOT_REACH_LOGS: &[&str] = &["connection issue", "check your network configuration"];
const EFS: &str = "efs";
/// What efs-utils (`mount.efs`) and mount.nfs4 say, lower-cased, most specific first.
const EFS_TIMED_OUT: &[&str] = &["timed out", "timeout"];
const EFS_DENIED: &str = "access denied by server";
const EFS_NO_SUCH_PATH: &str = "no such file or directory";
const EFS_UNRESOLVED: &str = "failed to resolve";
/// An Amazon EBS volume ECS manages for the task, or the infrastructure role it creates
/// the volume with.
const EBS: &[&str] = &[
    "ebs volume",
    "amazonelasticblockstorage",
    "ecs infrastructure role",
];
/// The runtime or the kernel ran out of memory while creating or starting the
/// container: runc's "container init was OOM-killed (memory limit too low?)", a fork's
/// "cannot allocate memory".
const MEMORY_KILL: &[&str] = &[
    "oom-killed",
    "oom killed",
    "cannot allocate memory",
    "memory limit too low",
];

static EFS_FILE_SYSTEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bfs-[0-9a-f]{8,17}\b").expect("valid file system id regex"));
static EFS_ACCESS_POINT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bfsap-[0-9a-f]{8,17}\b").expect("valid access point regex"));
static EBS_VOLUME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bvol-[0-9a-f]{8,17}\b").expect("valid volume id regex"));

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention_any(CREATE_FAILURE) && !f.reasons_mention_any(EBS) {
        return None;
    }
    if f.dependency.is_some() {
        return None;
    }
    let container = f
        .telling_container()
        .or_else(|| f.container_mentioning(NAMES_THE_CONTAINER));
    let name = container.map_or("a container", |c| c.name.as_str());
    let reason = container
        .and_then(|c| c.reason.as_deref())
        .filter(|r| !r.is_empty())
        .unwrap_or(f.telling_reason());
    let what_failed = if f.reasons_mention(TASK_DEPENDENCY_CYCLE) {
        "the `dependsOn` of its containers has no order that works (a cycle), so none could be started".to_string()
    } else if f.reasons_mention(EFS) {
        "its EFS volume could not be mounted".to_string()
    } else if f.reasons_mention_any(EBS) {
        let volume = EBS_VOLUME
            .find(&f.all_reasons_lowercase)
            .map(|m| format!(" `{}`", m.as_str()))
            .unwrap_or_default();
        format!("its EBS volume{volume} could not be created or attached")
    } else {
        format!("the container runtime could not create or start container `{name}`")
    };
    let words = ReasonChain::parse(reason);
    let verdict = Verdict::new(
        CauseId::ContainerCreateFailed,
        format!(
            "{}: {what_failed}: \"{}\".",
            f.subject(),
            quotable(words.telling_words())
        ),
    );
    Some(if f.reasons_mention(TASK_DEPENDENCY_CYCLE) {
        verdict.fix(format!(
            "Check the `dependsOn` of every container in `{}`: a container must not wait, directly or through others, for itself.",
            f.family().unwrap_or("the task definition")
        ))
    } else if f.reasons_mention_any(PORT_TAKEN) {
        verdict.fix(port_taken_fix(f))
    } else if f.reasons_mention_any(LOGGING) {
        let verdict = match not_authorized(reason) {
            Some(denied) => verdict.fix(format!(
                "Allow `{}` for {} (the managed policy AmazonECSTaskExecutionRolePolicy has the CloudWatch Logs actions awslogs needs).",
                denied.action,
                f.execution_role_phrase()
            )),
            None => verdict,
        };
        let verdict = if f.reasons_mention_any(CANNOT_REACH_LOGS) {
            verdict.fix(format!(
                "ECS could not reach CloudWatch Logs from the task's subnet: from a private subnet add a NAT gateway or the VPC endpoint `com.amazonaws.{}.logs` (private DNS on, its security group allowing HTTPS from the task); in a public subnet on Fargate set `assignPublicIp: ENABLED`.",
                f.region()
            ))
        } else {
            verdict
        };
        verdict.fix(log_group_fix(f))
    } else if f.reasons_mention(EFS) {
        efs_fixes(f, verdict)
    } else if f.reasons_mention_any(EBS) {
        ebs_fixes(f, verdict)
    } else {
        verdict.general_fixes()
    })
}

/// A runtime error (CannotStartContainerError, ContainerRuntimeError, ...) whose
/// innermost cause is a memory kill: `out-of-memory`, not a settings problem. Asked
/// before [`recognise`] and the program-could-not-run rule, whose keywords it shares.
pub fn recognise_memory_kill(f: &Facts) -> Option<Verdict> {
    if !(f.reasons_mention_any(CREATE_FAILURE) && f.reasons_mention_any(MEMORY_KILL)) {
        return None;
    }
    let container = f.container_mentioning(MEMORY_KILL);
    let name = container.map_or("a container", |c| c.name.as_str());
    let reason = container
        .and_then(|c| c.reason.as_deref())
        .filter(|r| !r.is_empty())
        .unwrap_or(f.telling_reason());
    let def = container.and_then(|c| f.definition_of(c));
    let limits = MemoryLimits::of(f.task, f.task_definition, container, def);
    let mut verdict = Verdict::new(
        CauseId::OutOfMemory,
        format!(
            "{}: container `{name}` ran out of memory while it was being started, before its program ran: \"{}\".",
            f.subject(),
            quotable(reason)
        ),
    );
    if let Some(line) = limits.describe(name) {
        verdict = verdict.evidence(line);
    }
    if let Some(fix) = limits.raise_fix(name, f.on_fargate(), f.family()) {
        verdict = verdict.fix(fix);
    }
    Some(verdict.fix(fixes::OOM_WATCH_METRIC))
}

/// The EFS volume could not be mounted: by what efs-utils said, with the file system
/// and access point the reason names.
fn efs_fixes(f: &Facts, verdict: Verdict) -> Verdict {
    let reasons = &f.all_reasons_lowercase;
    let file_system = EFS_FILE_SYSTEM
        .find(reasons)
        .map_or("the EFS file system".to_string(), |m| {
            format!("EFS file system `{}`", m.as_str())
        });
    let access_point = EFS_ACCESS_POINT
        .find(reasons)
        .map(|m| m.as_str().to_string());
    let subnets = "the task's subnets (one mount target per Availability Zone the service uses)";
    if f.reasons_mention(EFS_DENIED) {
        let role = match f.task_definition.and_then(|d| d.task_role_arn.as_deref()) {
            Some(arn) => format!("the task role `{arn}`"),
            None => "the task role (the task definition has none: add `taskRoleArn`)".to_string(),
        };
        let target = access_point
            .map(|ap| format!(" through access point `{ap}`"))
            .unwrap_or_default();
        verdict.fix(format!(
            "The NFS server refused the mount of {file_system}{target}: with IAM authorization on, allow `elasticfilesystem:ClientMount` (and `ClientWrite` unless read-only) for {role}, and check the file system policy allows it."
        ))
    } else if f.reasons_mention(EFS_NO_SUCH_PATH) {
        verdict.fix(format!(
            "The `rootDirectory` of the volume does not exist on {file_system}: create it, or mount an access point with `CreationInfo` so that EFS creates it."
        ))
    } else if f.reasons_mention(EFS_UNRESOLVED) {
        verdict.fix(format!(
            "The task could not resolve the DNS name of {file_system}: check the ID, create a mount target in {subnets}, and turn on `enableDnsSupport` and `enableDnsHostnames` in the VPC."
        ))
    } else if f.reasons_mention_any(EFS_TIMED_OUT) {
        verdict.fix(format!(
            "The mount of {file_system} timed out: the security group of its mount targets must allow NFS (TCP 2049) from the task's security group, and there must be a mount target in {subnets}."
        ))
    } else {
        verdict.fix(format!(
            "Check the mount targets of {file_system} in {subnets}, and that their security group allows NFS (TCP 2049) from the task."
        ))
    }
}

/// The EBS volume ECS manages for the task could not be created or attached.
fn ebs_fixes(f: &Facts, verdict: Verdict) -> Verdict {
    let volume = EBS_VOLUME
        .find(&f.all_reasons_lowercase)
        .map_or("the task's EBS volume".to_string(), |m| {
            format!("EBS volume `{}`", m.as_str())
        });
    verdict
        .fix(format!(
            "See why {volume} failed: `aws ecs describe-tasks` shows it under `attachments` (type AmazonElasticBlockStorage, `statusReason`); `aws ec2 describe-volumes --region {}` shows its state.",
            f.region()
        ))
        .fix("Check the infrastructure role of the volume configuration (`roleArn`, with the AmazonECSInfrastructureRolePolicyForVolumes policy), the KMS key it encrypts with, and that the snapshot and Availability Zone match.")
}

fn port_taken_fix(f: &Facts) -> String {
    let ports = fixed_host_ports(f.container_definitions());
    let mode = f
        .task_definition
        .and_then(|d| d.network_mode.as_deref())
        .unwrap_or("bridge");
    if ports.is_empty() {
        "A port the container maps is taken on the host: use dynamic host ports (`hostPort: 0`) or awsvpc networking.".to_string()
    } else {
        format!(
            "The task maps fixed host port(s) {} in `{mode}` mode, and another task or process on the instance holds it: use `hostPort: 0` in bridge mode, or awsvpc, or a placement constraint `distinctInstance`.",
            ports.join(", ")
        )
    }
}

fn log_group_fix(f: &Facts) -> String {
    let group = f
        .container_definitions()
        .find_map(|c| c.awslogs().map(|(g, _)| g.to_string()));
    match group {
        Some(group) => format!(
            "Create the log group `{group}` (`aws logs create-log-group --log-group-name {group} --region {}`), or set `awslogs-create-group: true` and allow `logs:CreateLogGroup` for {}.",
            f.region(),
            f.execution_role_phrase()
        ),
        None => "Check the container's logConfiguration: the log group must exist and the execution role must be allowed `logs:CreateLogStream` and `logs:PutLogEvents`.".to_string(),
    }
}

fn headline(f: &Facts) -> Option<String> {
    if f.reasons_mention("log group does not exist") {
        let group = f
            .container_definitions()
            .filter_map(|d| d.log_configuration.as_ref())
            .find_map(|l| l.options.get("awslogs-group"));
        return Some(match group {
            Some(g) => format!("log group {} does not exist", cut(g)),
            None => "its log group does not exist".to_string(),
        });
    }
    if f.reasons_mention_any(&["port is already allocated", "address already in use"]) {
        return Some("a host port it maps is already taken".to_string());
    }
    if f.reasons_mention("mount") {
        return Some("a volume could not be mounted".to_string());
    }
    None
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
