//! Assembling the [`Diagnosis`]: scan for findings, let the rules pick a cause, then
//! add what every diagnosis shows whatever its cause (the stop code, reasons and exit
//! codes as evidence, a container killed during an orderly stop, the notes, the task's
//! summary and console URL).

use super::findings;
use super::rules::{self, Facts, NOT_STOPPED_TITLE};
use super::text::{first_of_each, quotable};
use super::values::is_essential;
use super::{Cause, CauseId, ContainerSummary, Diagnosis, TaskSummary};
use crate::evidence::{Evidence, StopLookup, Task};

/// Exit code of a container killed with SIGKILL.
const SIGKILL_EXIT: i32 = 137;

/// Diagnose one task. Pure: depends only on `evidence`.
pub fn diagnose(evidence: &Evidence) -> Diagnosis {
    let detailed = findings::scan(evidence);
    let facts = Facts::new(evidence, &detailed);
    let verdict = rules::classify(&facts);
    let cause = Cause::get(verdict.id);
    let mut lines = base_evidence(&facts);
    lines.extend(verdict.evidence);
    let mut fixes = verdict.fixes;
    if fixes.is_empty() {
        fixes.extend(cause.general_fixes.iter().map(|f| f.to_string()));
    }
    if let Some((line, fix)) = killed_during_orderly_stop(&facts, verdict.id) {
        lines.push(line);
        fixes.push(fix);
    }
    let stopped_by = match &evidence.stop_lookup {
        StopLookup::Found(who) => Some(who.clone()),
        _ => None,
    };
    let title = if rules::has_not_stopped(&evidence.task) {
        NOT_STOPPED_TITLE
    } else {
        cause.title
    };
    Diagnosis {
        task: summarize_task(&evidence.task),
        category: verdict.id,
        title: title.to_string(),
        headline: title.to_string(),
        summary: verdict.summary,
        evidence: first_of_each(lines, String::clone),
        fixes: first_of_each(fixes, String::clone),
        findings: detailed.into_iter().map(|f| f.finding).collect(),
        stopped_by,
        notes: notes(evidence),
        console_url: console_url(&evidence.task),
    }
}

/// A stop ECS asked for (scale-in, deployment, user, Spot, maintenance) sends SIGTERM,
/// waits `stopTimeout`, then sends SIGKILL. A container that exits 137 in such a stop
/// ignored SIGTERM: the stop itself is normal, the unclean shutdown is not.
fn killed_during_orderly_stop(f: &Facts, category: CauseId) -> Option<(String, String)> {
    let orderly = matches!(
        category,
        CauseId::ScalingEvent
            | CauseId::DeploymentReplaced
            | CauseId::StoppedByUser
            | CauseId::SpotInterruption
            | CauseId::InfrastructureMaintenance
    );
    if !orderly {
        return None;
    }
    let killed: Vec<&str> = f
        .task
        .containers
        .iter()
        .filter(|c| c.exit_code == Some(SIGKILL_EXIT))
        .map(|c| c.name.as_str())
        .collect();
    let first = *killed.first()?;
    let waited = match (f.task.stopping_at, f.task.stopped_at) {
        (Some(stopping), Some(stopped)) if stopped > stopping => {
            format!(
                " ({} s from stopping to stopped)",
                (stopped - stopping).num_seconds()
            )
        }
        _ => String::new(),
    };
    let names = killed
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some((
        format!("{names} exited with 137 (SIGKILL) during this stop: it did not exit after SIGTERM within its stopTimeout{waited}"),
        format!("The stop was orderly, but `{first}` was killed rather than shutting down: handle SIGTERM (exec form or `initProcessEnabled` if it runs under a shell) and exit within `stopTimeout`, so in-flight requests are not cut off."),
    ))
}

/// Stop code, stopped reason and each container's exit code and reason, quoted.
fn base_evidence(facts: &Facts) -> Vec<String> {
    let mut lines = Vec::new();
    if !facts.stop_code.is_empty() {
        lines.push(format!("Stop code: {}", facts.stop_code));
    }
    if !facts.stopped_reason.is_empty() {
        lines.push(format!(
            "Stopped reason: \"{}\"",
            quotable(facts.stopped_reason)
        ));
    }
    for container in &facts.task.containers {
        let mut line = format!("Container `{}`", container.name);
        if !is_essential(facts.task_definition, container) {
            line.push_str(" (not essential)");
        }
        match container.exit_code {
            Some(code) => line.push_str(&format!(" exited with code {code}")),
            None => line.push_str(" has no exit code"),
        }
        if let Some(reason) = container.reason.as_deref().filter(|r| !r.is_empty()) {
            line.push_str(&format!(": \"{}\"", quotable(reason)));
        }
        if let Some(health) = container
            .health_status
            .as_deref()
            .filter(|h| *h != "UNKNOWN")
        {
            line.push_str(&format!(" (health {health})"));
        }
        lines.push(line);
    }
    lines
}

fn summarize_task(task: &Task) -> TaskSummary {
    TaskSummary {
        arn: task.arn.clone(),
        cluster: task.cluster.clone(),
        group: task.group.clone(),
        task_definition: task.task_definition.clone(),
        region: task.region().map(str::to_string),
        stop_code: task.stop_code.clone(),
        stopped_reason: task.stopped_reason.as_deref().map(redacted),
        started_at: task.started_at,
        stopped_at: task.stopped_at,
        containers: task
            .containers
            .iter()
            .map(|c| ContainerSummary {
                name: c.name.clone(),
                exit_code: c.exit_code,
                reason: c.reason.as_deref().map(redacted),
            })
            .collect(),
    }
}

/// Reason texts in full (the JSON contract carries them whole), with secrets removed.
fn redacted(text: &str) -> String {
    crate::redact::redact(text).into_owned()
}

/// The task's page in the ECS console, when region and cluster are known.
pub fn console_url(task: &Task) -> Option<String> {
    let region = task.region()?;
    let cluster = task.cluster_name();
    if cluster.is_empty() || task.arn.is_empty() {
        return None;
    }
    Some(format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{}/configuration?region={region}",
        task.id()
    ))
}

/// The evidence's notes, plus what the CloudTrail look-up could not say.
fn notes(evidence: &Evidence) -> Vec<String> {
    let mut notes = evidence.notes.clone();
    let user_stop = evidence.task.stop_code.as_deref() == Some("UserInitiated");
    match &evidence.stop_lookup {
        StopLookup::NotFoundYet if user_stop => notes.push(
            "CloudTrail has no StopTask event for this task yet: CloudTrail delivers events 5 to 15 minutes late, so look again in a few minutes.".to_string(),
        ),
        StopLookup::NotAttempted if user_stop => notes.push(
            "Who called StopTask was not looked up: run `ecs-why why` with AWS access, or search CloudTrail for EventName=StopTask around the stop time.".to_string(),
        ),
        _ => {}
    }
    let task = &evidence.task;
    if let (Some(last), Some("STOPPED")) =
        (task.last_status.as_deref(), task.desired_status.as_deref())
    {
        if last != "STOPPED" {
            notes.push(format!(
                "The task is still stopping (last status {last}): exit codes and reasons may not be final yet."
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::test_tasks::{container, task_with};
    use crate::evidence::StoppedBy;

    fn run(task: Task) -> Diagnosis {
        diagnose(&Evidence {
            task,
            ..Default::default()
        })
    }

    #[test]
    fn exit_codes_map_to_categories() {
        let cases = [
            (0, CauseId::ContainerExitedSuccess),
            (1, CauseId::ContainerExitedAppError),
            (126, CauseId::EntrypointFailed),
            (127, CauseId::EntrypointFailed),
            (137, CauseId::ContainerKilledSigkill),
            (139, CauseId::Segfault),
            (143, CauseId::ContainerExitedAppError),
            (255, CauseId::ContainerExitedAppError),
        ];
        for (code, expected) in cases {
            let d = run(task_with(vec![container("app", Some(code))]));
            assert_eq!(d.category, expected, "exit code {code}");
        }
    }

    #[test]
    fn exit_137_with_oom_reason_is_out_of_memory() {
        let mut app = container("app", Some(137));
        app.reason = Some("OutOfMemoryError: Container killed due to memory usage".into());
        assert_eq!(run(task_with(vec![app])).category, CauseId::OutOfMemory);
    }

    #[test]
    fn user_stop_wins_over_the_exit_code_it_caused() {
        let mut task = task_with(vec![container("app", Some(137))]);
        task.stop_code = Some("UserInitiated".into());
        task.stopped_reason = Some("Task stopped by user".into());
        let evidence = Evidence {
            task,
            stop_lookup: StopLookup::Found(StoppedBy {
                arn: Some("arn:aws:iam::123456789012:user/alice".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let d = diagnose(&evidence);
        assert_eq!(d.category, CauseId::StoppedByUser);
        assert!(d.summary.contains("arn:aws:iam::123456789012:user/alice"));
        assert!(d.stopped_by.is_some());
    }

    #[test]
    fn scaling_and_deployment_are_told_apart_by_deployment_id() {
        let mut task = task_with(vec![container("app", Some(143))]);
        task.stop_code = Some("ServiceSchedulerInitiated".into());
        task.started_by = Some("ecs-svc/111".into());
        task.stopped_reason = Some("Scaling activity initiated by (deployment ecs-svc/111)".into());
        assert_eq!(run(task.clone()).category, CauseId::ScalingEvent);
        task.stopped_reason = Some("Scaling activity initiated by (deployment ecs-svc/222)".into());
        assert_eq!(run(task).category, CauseId::DeploymentReplaced);
    }

    #[test]
    fn unknown_reasons_are_other_and_quoted() {
        let mut task = task_with(vec![container("app", None)]);
        task.stop_code = Some("TaskFailedToStart".into());
        task.stopped_reason = Some("Something new from AWS".into());
        let d = run(task);
        assert_eq!(d.category, CauseId::Other);
        assert!(d.summary.contains("Something new from AWS"));
    }

    #[test]
    fn console_url_needs_region_and_cluster() {
        let task = task_with(Vec::new());
        assert_eq!(
            console_url(&task).as_deref(),
            Some("https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/0123456789abcdef0123456789abcdef/configuration?region=eu-west-1")
        );
        assert_eq!(console_url(&Task::default()), None);
    }
}
