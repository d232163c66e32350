//! The probes' results in words, shared by the terminal, the card and its thread:
//! "What changed since web:41", each change, and the deployment that started the task.
//!
//! Pure; the callers escape the text for where it goes. Values of environment variables
//! and secrets never reach here: the changes carry names and "value changed" only.

use super::json::time;
use crate::evidence::probes::{DefinitionChange, DefinitionChanges, DeploymentStory};
use crate::time::duration;

/// `What changed since web:41 (the previous deployment)`.
pub fn changes_heading(changes: &DefinitionChanges) -> String {
    if changes.basis.is_empty() {
        format!("What changed since {}", changes.from)
    } else {
        format!("What changed since {} ({})", changes.from, changes.basis)
    }
}

/// One change, with its container when it has one: `web: image nginx:1.25 → nginx:1.27`.
pub fn change_line(change: &DefinitionChange) -> String {
    match &change.container {
        Some(container) => format!("{container}: {}", change.detail),
        None => change.detail.clone(),
    }
}

/// The line under a heading with no changes.
pub fn no_changes(changes: &DefinitionChanges) -> String {
    format!(
        "{} and {} are the same in what ecs-why compares (image, cpu, memory, command, entry point, health check, ports, platform, variable and secret names and values).",
        changes.to, changes.from
    )
}

/// The deployment that started the task, in one or two sentences: when it began, its
/// rollout, failed tasks, a circuit-breaker rollback, and how long the previous one ran.
pub fn deployment_line(story: &DeploymentStory) -> String {
    let mut parts = Vec::new();
    let revision = story
        .task_definition
        .as_deref()
        .map(|td| format!(" ({})", crate::arn::task_definition_name(td)))
        .unwrap_or_default();
    let began = story
        .created_at
        .map(|t| format!(" began {}", time(&t)))
        .unwrap_or_default();
    parts.push(format!("Deployment {}{revision}{began}", story.id));
    if let Some(state) = &story.rollout_state {
        let reason = story
            .rollout_state_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        parts.push(format!("rollout {state}{reason}"));
    }
    if let Some(failed) = story.failed_tasks.filter(|n| *n > 0) {
        parts.push(format!(
            "{failed} task{} failed to start or stay up",
            if failed == 1 { "" } else { "s" }
        ));
    }
    if let (Some(running), Some(desired)) = (story.running_count, story.desired_count) {
        parts.push(format!("{running} of {desired} running"));
    }
    if story.rolled_back {
        parts.push("the circuit breaker rolled it back".to_string());
    }
    let mut line = parts.join("; ");
    line.push('.');
    if let Some(previous) = &story.previous {
        let revision = previous
            .task_definition
            .as_deref()
            .map(|td| format!(" ({})", crate::arn::task_definition_name(td)))
            .unwrap_or_default();
        match previous.ran_for_seconds {
            Some(seconds) => line.push_str(&format!(
                " The deployment before it, {}{revision}, ran {} before this one began.",
                previous.id,
                duration(seconds)
            )),
            None => line.push_str(&format!(
                " The deployment before it was {}{revision}.",
                previous.id
            )),
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::probes::{ChangeKind, PreviousDeployment};

    #[test]
    fn a_rolled_back_deployment_says_so_with_the_previous_ones_run() {
        let story = DeploymentStory {
            id: "ecs-svc/222".into(),
            task_definition: Some(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:42".into(),
            ),
            created_at: "2026-11-21T14:00:00Z".parse().ok(),
            rollout_state: Some("FAILED".into()),
            rollout_state_reason: Some(
                "ECS deployment circuit breaker: tasks failed to start.".into(),
            ),
            failed_tasks: Some(3),
            running_count: Some(0),
            desired_count: Some(2),
            rolled_back: true,
            previous: Some(PreviousDeployment {
                id: "ecs-svc/111".into(),
                task_definition: Some(
                    "arn:aws:ecs:us-east-1:123456789012:task-definition/web:41".into(),
                ),
                ran_for_seconds: Some(3 * 86_400 + 4 * 3600),
                ..PreviousDeployment::default()
            }),
            ..DeploymentStory::default()
        };
        let line = deployment_line(&story);
        assert!(line.starts_with("Deployment ecs-svc/222 (web:42) began 2026-11-21T14:00:00Z; rollout FAILED (ECS deployment circuit breaker: tasks failed to start.); 3 tasks failed to start or stay up; 0 of 2 running; the circuit breaker rolled it back."), "{line}");
        assert!(line.contains("ecs-svc/111 (web:41), ran 3d 4h"), "{line}");
    }

    #[test]
    fn a_change_names_its_container() {
        let change = DefinitionChange {
            container: Some("web".into()),
            field: crate::evidence::probes::ChangedField::Environment,
            kind: ChangeKind::Removed,
            name: Some("DATABASE_URL".into()),
            detail: "DATABASE_URL was removed".into(),
        };
        assert_eq!(change_line(&change), "web: DATABASE_URL was removed");
    }
}
