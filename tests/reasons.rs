//! Reasons read by their layers, on recorded cases: the layer line appears on the card,
//! in the terminal and in `--format json` only when a reason's words sit under two or
//! more wrappers; a generic task reason gives way to a container's; a container the
//! agent did not start for a failed dependency is read by its dependency; and a
//! runtime's own out-of-memory message, with no memory kill recorded, gets its heap
//! setting first and never reads as ECS having killed the container.

use ecs_why::diagnose::{diagnose, CauseId, Diagnosis};
use ecs_why::evidence::Evidence;
use ecs_why::render::{blocks, to_json, to_text};
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

/// Every word the diagnosis says (headline, summary, evidence, fixes).
fn said(d: &Diagnosis) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        d.headline,
        d.summary,
        d.evidence.join("\n"),
        d.fixes.join("\n")
    )
}

#[test]
fn a_wrapped_reason_shows_its_outer_names_then_its_telling_words() {
    let (_, d) = load("entrypoint-failed--fargate-wrapped-exec-not-found");
    assert_eq!(d.category, CauseId::EntrypointFailed);
    let layers = d.reason_layers.as_ref().expect("read by layers");
    assert_eq!(layers.container, None, "the task's own reason tells");
    assert_eq!(
        layers.joined(),
        "CannotStartContainerError › ResourceInitializationError › … › exec: \"019552fb-18b7-72c3-8935-313f6668bb0b\": executable file not found in $PATH"
    );
    let text = to_text(&d, false);
    assert!(text.contains("Read by layers"), "{text}");
    let card = serde_json::to_string(&blocks::to_blocks_json(&d)).expect("card");
    assert!(
        card.contains(
            "*Read by layers:* CannotStartContainerError › ResourceInitializationError › …"
        ),
        "{card}"
    );
    let json = to_json(&d);
    assert_eq!(
        json["reason_layers"]["layers"][0], "CannotStartContainerError",
        "{json}"
    );
    assert!(d.headline.contains("019552fb"), "{}", d.headline);
}

#[test]
fn a_reason_of_one_layer_gets_no_layer_line() {
    for name in [
        "docker-timeout--docker-timeout-error",
        "out-of-memory--reason-outofmemoryerror",
        "stopped-by-user--found-cli",
        "container-exited-app-error--missing-database-url",
    ] {
        let (_, d) = load(name);
        assert_eq!(d.reason_layers, None, "{name}");
        assert!(!to_text(&d, false).contains("Read by layers"), "{name}");
        let card = serde_json::to_string(&blocks::to_blocks_json(&d)).expect("card");
        assert!(!card.contains("Read by layers"), "{name}");
    }
}

#[test]
fn a_generic_task_reason_gives_way_to_the_containers() {
    for (name, cause, container) in [
        (
            "container-create-failed--host-config-error",
            CauseId::ContainerCreateFailed,
            "app",
        ),
        (
            "container-create-failed--daemon-shim-mount-error",
            CauseId::ContainerCreateFailed,
            "app",
        ),
        (
            "instance-unhealthy-or-terminated--container-vanished",
            CauseId::InstanceUnhealthyOrTerminated,
            "app",
        ),
        (
            "internal-error--agent-state-transition",
            CauseId::InternalError,
            "app",
        ),
        (
            "network-setup-failed--container-networking-error",
            CauseId::NetworkSetupFailed,
            "app",
        ),
    ] {
        let (_, d) = load(name);
        assert_eq!(d.category, cause, "{name}: {}", d.summary);
        if let Some(layers) = &d.reason_layers {
            assert_eq!(layers.container.as_deref(), Some(container), "{name}");
        }
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

#[test]
fn a_runtimes_own_out_of_memory_gets_its_heap_setting_first() {
    for (name, setting, limit) in [
        (
            "container-exited-app-error--java-heap-exit-1",
            "JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75",
            "of its 1024 MiB",
        ),
        (
            "container-exited-app-error--node-heap-exit-134",
            "NODE_OPTIONS=--max-old-space-size=1536",
            "of its 2048 MiB",
        ),
        (
            "container-exited-app-error--go-runtime-out-of-memory-exit-2",
            "GOMEMLIMIT=459MiB",
            "of its 512 MiB",
        ),
    ] {
        let (_, d) = load(name);
        assert_eq!(d.category, CauseId::ContainerExitedAppError, "{name}");
        let first = d.fixes.first().expect("a fix");
        assert!(first.contains(setting), "{name}: {first}");
        assert!(first.contains(limit), "{name}: {first}");
        let second = d.fixes.get(1).expect("a second fix");
        assert!(
            second.starts_with("If it needs more than"),
            "{name}: {second}"
        );
        assert!(second.contains("raise"), "{name}: {second}");
        assert!(
            d.summary.contains("ECS recorded no memory kill"),
            "{name}: {}",
            d.summary
        );
        let words = said(&d).to_lowercase();
        for claim in [
            "was killed",
            "killed due to memory",
            "killed at its",
            "oom-killed",
        ] {
            assert!(!words.contains(claim), "{name} says {claim:?}: {words}");
        }
        let text = to_text(&d, false).to_lowercase();
        assert!(!text.contains("was killed"), "{name}: {text}");
    }
}
