//! Rules: map the evidence to exactly one catalog cause.
//!
//! Each cause has a file here with its keyword lists and a `recognise` function that
//! returns a [`Verdict`] (the cause, plus a summary, evidence and fixes written with the
//! task's own values) when the task looks like that cause, and its `MEANING`
//! ([`meaning::Meaning`]: the headline, the checks that would confirm it, the changes
//! that would explain it). [`RULES`] is the one place
//! that says in which order they are asked; the first that recognises the task wins,
//! and [`other`] is the fallback.

mod container_create_failed;
mod container_exited_app_error;
mod container_exited_success;
mod container_health_check_failed;
mod container_killed_sigkill;
mod dependency_failed;
mod deployment_replaced;
mod docker_timeout;
mod elb_health_check_failed;
mod entrypoint_failed;
mod facts;
mod image_pull_failed;
mod infrastructure_maintenance;
mod instance_unhealthy_or_terminated;
mod insufficient_resources_placement;
mod internal_error;
pub mod meaning;
mod network_setup_failed;
mod not_stopped;
mod other;
mod out_of_memory;
mod scaling_event;
mod secrets_or_registry_auth;
mod segfault;
mod service_scheduler;
mod spot_interruption;
pub mod stop_story;
mod stopped_by_user;
mod task_limit_quota;
mod verdict;
mod wording;

pub use facts::{blamed_container, is_generic_reason, Facts, Telling};
pub use meaning::Meaning;
pub use not_stopped::{has_not_stopped, NOT_STOPPED_TITLE};
pub use out_of_memory::says_out_of_memory;
pub use verdict::{catalog_general_fixes, Verdict};

use crate::diagnose::CauseId;

/// A rule: the verdict when it recognises the task, else `None`.
pub type Rule = fn(&Facts) -> Option<Verdict>;

/// The rules, in the order they are asked; the first that recognises the task decides.
///
/// Why this order:
/// - A task that has not stopped has nothing to explain, so that comes first.
/// - Then the reasons of infrastructure events (Spot, maintenance, the host going away,
///   quotas, placement): they stop every container, whatever the exit codes say.
/// - Then start failures, most specific first: secrets before the network (a secrets
///   timeout mentions the network), both before the image pull, the program that could
///   not run and out of memory before the generic "could not create or start" (whose
///   keywords, e.g. ResourceInitializationError, they share), then runtime timeouts and
///   ECS's internal errors. A runtime error whose innermost cause is a memory kill is
///   asked before the program-could-not-run rule: the wrapper is not the cause. A
///   container the agent did not start because a dependency failed (`dependency
///   graph`) is asked after every rule that reads the dependency's own reason and
///   before "could not create or start", whose wrapper it shares: it is never that.
/// - Then health checks, a person's StopTask and the service scheduler: each explains
///   the exit codes that follow it (a SIGKILL after a StopTask is not the cause).
/// - Last, the blamed container's exit code: 0, then 137 with out-of-memory evidence
///   before a plain 137, 139, a wrong architecture or 126/127, and any other code as the
///   application's error. These read only the exit code, so they must stay in this
///   order after every rule that reads a reason.
pub const RULES: &[Rule] = &[
    not_stopped::recognise,
    spot_interruption::recognise,
    infrastructure_maintenance::recognise,
    instance_unhealthy_or_terminated::recognise,
    task_limit_quota::recognise,
    insufficient_resources_placement::recognise,
    secrets_or_registry_auth::recognise,
    network_setup_failed::recognise,
    image_pull_failed::recognise,
    container_create_failed::recognise_memory_kill,
    entrypoint_failed::recognise,
    out_of_memory::recognise,
    dependency_failed::recognise,
    container_create_failed::recognise,
    docker_timeout::recognise,
    internal_error::recognise,
    elb_health_check_failed::recognise,
    container_health_check_failed::recognise,
    stopped_by_user::recognise,
    service_scheduler::recognise,
    container_exited_success::recognise,
    out_of_memory::recognise_by_exit_code,
    container_killed_sigkill::recognise,
    segfault::recognise,
    entrypoint_failed::recognise_by_exit_code,
    container_exited_app_error::recognise,
];

/// The verdict of the first rule that applies, else `other`; a container the agent
/// did not start for a failed dependency is tied to it.
pub fn classify(facts: &Facts) -> Verdict {
    let verdict = RULES
        .iter()
        .find_map(|rule| rule(facts))
        .unwrap_or_else(|| other::verdict(facts));
    dependency_failed::explain(facts, verdict)
}

/// The meaning of `id`, from its rule's file.
pub fn meaning_of(id: CauseId) -> &'static Meaning {
    match id {
        CauseId::ImagePullFailed => &image_pull_failed::MEANING,
        CauseId::SecretsOrRegistryAuth => &secrets_or_registry_auth::MEANING,
        CauseId::NetworkSetupFailed => &network_setup_failed::MEANING,
        CauseId::ContainerExitedAppError => &container_exited_app_error::MEANING,
        CauseId::ContainerExitedSuccess => &container_exited_success::MEANING,
        CauseId::ContainerKilledSigkill => &container_killed_sigkill::MEANING,
        CauseId::OutOfMemory => &out_of_memory::MEANING,
        CauseId::Segfault => &segfault::MEANING,
        CauseId::EntrypointFailed => &entrypoint_failed::MEANING,
        CauseId::ContainerHealthCheckFailed => &container_health_check_failed::MEANING,
        CauseId::ElbHealthCheckFailed => &elb_health_check_failed::MEANING,
        CauseId::StoppedByUser => &stopped_by_user::MEANING,
        CauseId::ScalingEvent => &scaling_event::MEANING,
        CauseId::DeploymentReplaced => &deployment_replaced::MEANING,
        CauseId::InfrastructureMaintenance => &infrastructure_maintenance::MEANING,
        CauseId::SpotInterruption => &spot_interruption::MEANING,
        CauseId::InstanceUnhealthyOrTerminated => &instance_unhealthy_or_terminated::MEANING,
        CauseId::InsufficientResourcesPlacement => &insufficient_resources_placement::MEANING,
        CauseId::TaskLimitQuota => &task_limit_quota::MEANING,
        CauseId::ContainerCreateFailed => &container_create_failed::MEANING,
        CauseId::DockerTimeout => &docker_timeout::MEANING,
        CauseId::InternalError => &internal_error::MEANING,
        CauseId::Other => &other::MEANING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::findings;
    use crate::diagnose::CauseId;
    use crate::evidence::{Container, ContainerLogs, Evidence, LogLine, Task};

    /// A task whose one container `app` exited with `code`, with `reason` and `log`.
    fn evidence(code: i32, reason: Option<&str>, log: Option<&str>) -> Evidence {
        Evidence {
            task: Task {
                arn: "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef".into(),
                stop_code: Some("EssentialContainerExited".into()),
                containers: vec![Container {
                    name: "app".into(),
                    exit_code: Some(code),
                    reason: reason.map(str::to_string),
                    ..Default::default()
                }],
                ..Default::default()
            },
            logs: log
                .map(|message| ContainerLogs {
                    container: "app".into(),
                    lines: vec![LogLine {
                        timestamp: None,
                        message: message.into(),
                    }],
                    ..Default::default()
                })
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }

    fn cause_of(evidence: &Evidence) -> CauseId {
        let found = findings::scan(evidence);
        classify(&Facts::new(evidence, &found)).id
    }

    #[test]
    fn reasons_outrank_exit_codes() {
        let pull = evidence(
            137,
            Some("CannotPullContainerError: pull image manifest"),
            None,
        );
        assert_eq!(cause_of(&pull), CauseId::ImagePullFailed);
        let oom = evidence(1, Some("OutOfMemoryError: Container killed"), None);
        assert_eq!(cause_of(&oom), CauseId::OutOfMemory);
    }

    #[test]
    fn exit_code_rules_keep_their_order() {
        let exec_format = Some("exec /app/server: exec format error");
        assert_eq!(
            cause_of(&evidence(1, None, exec_format)),
            CauseId::EntrypointFailed
        );
        assert_eq!(
            cause_of(&evidence(0, None, exec_format)),
            CauseId::ContainerExitedSuccess
        );
        assert_eq!(
            cause_of(&evidence(139, None, exec_format)),
            CauseId::Segfault
        );
        let oom_log = Some("java.lang.OutOfMemoryError: Java heap space");
        assert_eq!(
            cause_of(&evidence(137, None, oom_log)),
            CauseId::OutOfMemory
        );
        assert_eq!(
            cause_of(&evidence(1, None, oom_log)),
            CauseId::ContainerExitedAppError
        );
    }

    #[test]
    fn nothing_recognised_is_other() {
        let mut unknown = evidence(0, None, None);
        unknown.task.containers.clear();
        unknown.task.stopped_reason = Some("Something new".into());
        assert_eq!(cause_of(&unknown), CauseId::Other);
    }
}
