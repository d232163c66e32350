//! Reasons read by their layers, on recorded cases: a generic task reason gives way to
//! a container's, and a container the agent did not start for a failed dependency is
//! read by its dependency.

use ecs_why::diagnose::{diagnose, CauseId, Diagnosis};
use ecs_why::evidence::Evidence;
use std::path::Path;

fn load(name: &str) -> (Evidence, Diagnosis) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let evidence: Evidence =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let diagnosis = diagnose(&evidence);
    (evidence, diagnosis)
}

#[test]
fn a_generic_task_reason_gives_way_to_the_containers() {
    for (name, cause) in [
        (
            "container-create-failed--host-config-error",
            CauseId::ContainerCreateFailed,
        ),
        (
            "container-create-failed--daemon-shim-mount-error",
            CauseId::ContainerCreateFailed,
        ),
        (
            "instance-unhealthy-or-terminated--container-vanished",
            CauseId::InstanceUnhealthyOrTerminated,
        ),
        (
            "internal-error--agent-state-transition",
            CauseId::InternalError,
        ),
        (
            "network-setup-failed--container-networking-error",
            CauseId::NetworkSetupFailed,
        ),
    ] {
        let (_, d) = load(name);
        assert_eq!(d.category, cause, "{name}: {}", d.summary);
    }
    let (_, d) = load("other--exec-session-error");
    assert_eq!(d.category, CauseId::Other);
    assert!(
        d.summary.contains("CannotStartContainerExecError"),
        "{}",
        d.summary
    );
    assert!(
        d.headline.contains("CannotStartContainerExecError"),
        "{}",
        d.headline
    );
}

#[test]
fn a_container_stopped_for_its_dependency_is_read_by_the_dependency() {
    let (_, d) = load("container-exited-app-error--dependency-exited");
    assert_eq!(d.category, CauseId::ContainerExitedAppError);
    assert!(
        d.summary.contains("container `migrate` exited with code 1"),
        "{}",
        d.summary
    );
    assert!(
        !d.summary.contains("essential container `migrate`"),
        "{}",
        d.summary
    );
    assert!(
        d.evidence
            .iter()
            .any(|e| e.contains("`app` was never started: it depends on `migrate`")),
        "{:?}",
        d.evidence
    );
    let (_, d) = load("other--dependency-timed-out");
    assert_eq!(d.category, CauseId::Other);
    assert!(d.summary.contains("`db-proxy`"), "{}", d.summary);
    assert!(d.summary.contains("does not guess"), "{}", d.summary);
}
