//! Assembling the [`Diagnosis`]: scan for findings, let the rules pick a cause, then
//! add what needs the whole evidence (the logs): the story of a SIGKILL, what a health
//! check's requests got, the last line before the stop, a container killed during an
//! orderly stop, the headline; and the notes, the task's summary and console URL.
//!
//! The evidence lines never repeat the stop code, stopped reason or exit codes: every
//! output shows those from the task summary.

mod from_logs;
mod probed;

use super::findings::{self, FindingValues};
use super::rules::{self, meaning_of, stop_story, Facts, Meaning, NOT_STOPPED_TITLE};
use super::text::first_of_each;
use super::{
    Cause, CauseId, ContainerSummary, Diagnosis, ReasonLayers, TaskSummary, MAX_LAYER_CHARS,
};
use crate::evidence::probes::CheckRequest;
use crate::evidence::{Evidence, Note, StopCode, StopLookup, Task};

/// Headlines are cut to this many characters.
pub const MAX_HEADLINE_CHARS: usize = 80;

/// Diagnose one task. Pure: depends only on `evidence`.
pub fn diagnose(evidence: &Evidence) -> Diagnosis {
    let detailed = findings::scan(evidence);
    let facts = Facts::new(evidence, &detailed);
    let mut verdict = rules::classify(&facts);
    if verdict.id == CauseId::ContainerKilledSigkill {
        if let Some(told) = stop_story::sigkill_verdict(&facts, evidence) {
            verdict = told;
        }
    }
    from_logs::add(&mut verdict, &facts, evidence);
    let cause = Cause::get(verdict.id);
    let mut lines = verdict.evidence;
    let mut fixes = verdict.fixes;
    if fixes.is_empty() {
        fixes.extend(cause.general_fixes.iter().map(|f| f.to_string()));
    }
    if let Some((line, fix)) = stop_story::killed_during_orderly_stop(&facts, verdict.id) {
        lines.push(line);
        fixes.push(fix);
    }
    let stopped_by = match &evidence.stop_lookup {
        StopLookup::Found(who) => Some(who.clone()),
        _ => None,
    };
    let not_stopped = rules::has_not_stopped(&evidence.task);
    let title = if not_stopped {
        NOT_STOPPED_TITLE
    } else {
        cause.title
    };
    let meaning = meaning_of(verdict.id);
    let headline = if not_stopped {
        title.to_string()
    } else {
        headline(meaning, &facts, title)
    };
    let checks = if not_stopped {
        Vec::new()
    } else {
        checks(meaning, &facts)
    };
    let probed = probed::judge(
        verdict.id,
        meaning.key_changes,
        &detailed,
        evidence.probes.as_ref(),
        stopped_by.as_ref(),
    );
    Diagnosis {
        confidence: probed.confidence,
        proof: probed.proof,
        ruled_out: probed.ruled_out,
        context: probed.context,
        unchecked: probed.unchecked,
        key_change: probed.key_change,
        probes: evidence.probes.clone(),
        task: summarize_task(&evidence.task),
        category: verdict.id,
        title: title.to_string(),
        headline,
        checks,
        summary: verdict.summary,
        evidence: first_of_each(lines, String::clone),
        reason_layers: reason_layers(&facts),
        fixes: first_of_each(fixes, String::clone),
        findings: detailed.into_iter().map(|f| f.finding).collect(),
        stopped_by,
        notes: notes(evidence),
        console_url: console_url(&evidence.task),
        owner: owner(&evidence.task),
        same_way: super::recent::same_way(evidence),
    }
}

/// The cause's headline for this task, or `title` when it names nothing more specific;
/// redacted and cut to [`MAX_HEADLINE_CHARS`].
fn headline(meaning: &Meaning, f: &Facts, title: &str) -> String {
    let text = (meaning.headline)(f).unwrap_or_else(|| title.to_string());
    let text = crate::redact::redact(&text).into_owned();
    crate::text::truncate(&text, MAX_HEADLINE_CHARS).into_owned()
}

/// The checks that would confirm the cause (its rule's), the platforms of an image whose
/// binary would not run (a finding's, whatever the cause), and those every task gets:
/// the log group when a reason speaks of logging, and what changed for a service task.
fn checks(meaning: &Meaning, f: &Facts) -> Vec<CheckRequest> {
    let mut checks = (meaning.checks)(f);
    let wrong_architecture: Vec<String> = f
        .findings
        .iter()
        .filter(|x| matches!(x.values, FindingValues::WrongCpuArchitecture { .. }))
        .filter_map(|x| x.finding.container.clone())
        .collect();
    if !wrong_architecture.is_empty() && !checks.contains(&CheckRequest::ImagePull) {
        checks.push(CheckRequest::ImagePlatforms {
            containers: wrong_architecture,
        });
    }
    checks.push(CheckRequest::LogGroup);
    checks.push(CheckRequest::DefinitionChanges);
    checks
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

/// The telling reason read by its layers, when it has them; redacted.
fn reason_layers(f: &Facts) -> Option<ReasonLayers> {
    let chain = f.telling_chain();
    chain.is_layered().then(|| ReasonLayers {
        container: f.telling_container().map(|c| c.name.clone()),
        layers: chain
            .shown(MAX_LAYER_CHARS)
            .iter()
            .map(|l| redacted(l))
            .collect(),
    })
}

/// The service a task belongs to, else its family (from `family:NAME` or its task
/// definition).
fn owner(task: &Task) -> Option<String> {
    if let Some(group) = task.group.as_deref() {
        for prefix in ["service:", "family:"] {
            if let Some(name) = group.strip_prefix(prefix).filter(|n| !n.is_empty()) {
                return Some(name.to_string());
            }
        }
    }
    let name = crate::arn::task_definition_name(&task.task_definition);
    let family = name.split(':').next().unwrap_or(name);
    (!family.is_empty()).then(|| family.to_string())
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
fn notes(evidence: &Evidence) -> Vec<Note> {
    let mut notes = evidence.notes.clone();
    let user_stop = evidence.task.stop_code == Some(StopCode::UserInitiated);
    match &evidence.stop_lookup {
        StopLookup::NotFoundYet if user_stop => notes.push(Note::general(
            "CloudTrail has no StopTask event for this task yet: CloudTrail delivers events 5 to 15 minutes late, so look again in a few minutes.",
        )),
        StopLookup::NotAttempted if user_stop => notes.push(Note::general(
            "Who called StopTask was not looked up: run `ecs-why why` with AWS access, or search CloudTrail for EventName=StopTask around the stop time.",
        )),
        _ => {}
    }
    let task = &evidence.task;
    if let (Some(last), Some("STOPPED")) =
        (task.last_status.as_deref(), task.desired_status.as_deref())
    {
        if last != "STOPPED" {
            notes.push(Note::general(format!(
                "The task is still stopping (last status {last}): exit codes and reasons may not be final yet."
            )));
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
        assert!(d.summary.contains("stopped by alice"), "{}", d.summary);
        assert!(!d.summary.contains("arn:aws:iam"), "{}", d.summary);
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
