//! `container-create-failed`: the container runtime could not create, start or inspect
//! a container (a port in use, a missing log group, an EFS mount, another setting).

use super::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::values::fixed_host_ports;
use crate::diagnose::CauseId;

const CREATE_FAILURE: &[&str] = &[
    "cannotcreatecontainererror",
    "cannotstartcontainererror",
    "cannotinspectcontainererror",
    "containerruntimeerror",
    "resourceinitializationerror",
    "failed to validate logger args",
    "address already in use",
    "port is already allocated",
];
/// A container's own reason about the failure names that container.
const NAMES_THE_CONTAINER: &[&str] = &["cannot", "error", "address already in use"];
const PORT_TAKEN: &[&str] = &["address already in use", "port is already allocated"];
const LOGGING: &[&str] = &["logger", "log group"];
const EFS: &str = "efs";

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention_any(CREATE_FAILURE) {
        return None;
    }
    let container = f.container_mentioning(NAMES_THE_CONTAINER);
    let name = container.map_or("a container", |c| c.name.as_str());
    let reason = container
        .and_then(|c| c.reason.as_deref())
        .filter(|r| !r.is_empty())
        .unwrap_or(f.stopped_reason);
    let verdict = Verdict::new(
        CauseId::ContainerCreateFailed,
        format!(
            "{}: the container runtime could not create or start container `{name}`: \"{}\".",
            f.subject(),
            quotable(reason)
        ),
    );
    Some(if f.reasons_mention_any(PORT_TAKEN) {
        verdict.fix(port_taken_fix(f))
    } else if f.reasons_mention_any(LOGGING) {
        verdict.fix(log_group_fix(f))
    } else if f.reasons_mention(EFS) {
        verdict.fix("Check the EFS file system's mount targets in the task's subnets, and that their security group allows NFS (TCP 2049) from the task.")
    } else {
        verdict.general_fixes()
    })
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
