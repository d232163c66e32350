//! The "what changed" probe: the task's task definition against the one the service ran
//! before, and the story of the deployment that started the task.
//!
//! The "before" is the definition of the previous deployment (the newest other deployment
//! ECS still lists with another task definition), else the family's previous revision.
//! Both definitions are described concurrently (one round trip) because the evidence keeps
//! environment variable names only: the values are needed to say which changed. They are
//! reduced to fingerprints at once, compared, and never kept or shown. The deployment
//! story needs no call: it comes from the service's deployments and events already read.

mod diff;

pub use diff::{diff, fingerprint, Compared};

use super::{unchecked, ProbeClients, ProbeInput};
use crate::arn;
use crate::evidence::probes::{
    Check, CheckId, CheckOutcome, CheckRequest, DefinitionChange, DefinitionChanges,
    DeploymentStory, PreviousDeployment,
};
use crate::evidence::{Deployment, Evidence, ProbeResults, TaskDefinition};
use crate::gather::failure::{aws_failure, AwsFailure, FailureKind};

/// The check's name.
const PROBE: CheckId = CheckId::DefinitionChange;
/// How many changes the summary check lists before "and N more".
const LISTED_IN_SUMMARY: usize = 4;

/// A service task with a task definition.
pub fn applies(input: ProbeInput<'_>) -> bool {
    *input.request == CheckRequest::DefinitionChanges
        && input.evidence.service.is_some()
        && input.evidence.task_definition.is_some()
}

/// Tell the deployment's story and list what changed since the previous definition.
pub async fn run(clients: &ProbeClients, input: ProbeInput<'_>) -> ProbeResults {
    let evidence = input.evidence;
    let mut results = ProbeResults {
        deployment: deployment_story(evidence),
        ..ProbeResults::default()
    };
    let Some(definition) = evidence.task_definition.as_ref() else {
        return results;
    };
    let Some((previous, basis)) = previous_definition(evidence, definition) else {
        return results;
    };
    let current = if evidence.task.task_definition.is_empty() {
        definition.arn.clone()
    } else {
        evidence.task.task_definition.clone()
    };
    let to = display_name(&current, definition);
    let from = arn::task_definition_name(&previous).to_string();
    // The two descriptions do not depend on each other: one round trip.
    let (after, before) = tokio::join!(
        describe(&clients.ecs, &current),
        describe(&clients.ecs, &previous)
    );
    let (after, before) = match (after, before) {
        (Ok(after), Ok(before)) => (after, before),
        (Err(failure), _) | (_, Err(failure)) => {
            results.unchecked.push(unchecked(
                &format!("what changed between {from} and {to}"),
                "ecs:DescribeTaskDefinition",
                &failure,
            ));
            return results;
        }
    };
    let changes = diff(&before, &after);
    results.checks.push(summary(&changes, &from, basis));
    results.changes = Some(DefinitionChanges {
        to,
        from,
        basis: basis.to_string(),
        changes,
    });
    results
}

/// `family:revision` of the task's definition.
fn display_name(current: &str, definition: &TaskDefinition) -> String {
    if definition.family.is_empty() {
        arn::task_definition_name(current).to_string()
    } else {
        format!("{}:{}", definition.family, definition.revision)
    }
}

/// The definition the service ran before the deployment that started the task (what a
/// rollback returns to), and why it was chosen: "previous deployment" or "previous
/// revision".
pub fn rollback_target(evidence: &Evidence) -> Option<(String, &'static str)> {
    previous_definition(evidence, evidence.task_definition.as_ref()?)
}

/// The definition to compare with, and why it was chosen.
fn previous_definition(
    evidence: &Evidence,
    definition: &TaskDefinition,
) -> Option<(String, &'static str)> {
    if let Some(previous) = previous_deployment(evidence) {
        if let Some(task_definition) = previous.task_definition.clone() {
            return Some((task_definition, "previous deployment"));
        }
    }
    let (family, revision) = family_and_revision(evidence, definition)?;
    (revision > 1).then(|| (format!("{family}:{}", revision - 1), "previous revision"))
}

fn family_and_revision(evidence: &Evidence, definition: &TaskDefinition) -> Option<(String, i32)> {
    if !definition.family.is_empty() && definition.revision > 0 {
        return Some((definition.family.clone(), definition.revision));
    }
    let name = arn::task_definition_name(&evidence.task.task_definition);
    let (family, revision) = name.rsplit_once(':')?;
    Some((family.to_string(), revision.parse().ok()?))
}

/// The deployment whose id is the task's `startedBy`.
fn task_deployment(evidence: &Evidence) -> Option<&Deployment> {
    let started_by = evidence.task.started_by.as_deref()?;
    evidence
        .service
        .as_ref()?
        .deployments
        .iter()
        .find(|d| d.id == started_by)
}

/// The newest other deployment with another task definition, preferring one created
/// before the task's deployment (a rollback's deployment is newer than the one it undoes).
fn previous_deployment(evidence: &Evidence) -> Option<&Deployment> {
    let service = evidence.service.as_ref()?;
    let current = task_deployment(evidence);
    let current_definition = current
        .and_then(|d| d.task_definition.as_deref())
        .unwrap_or(&evidence.task.task_definition);
    let current_id = current
        .map(|d| d.id.as_str())
        .or(evidence.task.started_by.as_deref());
    let mut others: Vec<&Deployment> = service
        .deployments
        .iter()
        .filter(|d| Some(d.id.as_str()) != current_id)
        .filter(|d| {
            d.task_definition
                .as_deref()
                .is_some_and(|td| !same_definition(td, current_definition))
        })
        .collect();
    others.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    let began = current.and_then(|d| d.created_at);
    others
        .iter()
        .find(|d| matches!((d.created_at, began), (Some(made), Some(began)) if made < began))
        .or(others.first())
        .copied()
}

fn same_definition(a: &str, b: &str) -> bool {
    arn::task_definition_name(a) == arn::task_definition_name(b)
}

/// The deployment that started the task, from what DescribeServices already returned.
pub fn deployment_story(evidence: &Evidence) -> Option<DeploymentStory> {
    let id = evidence.task.started_by.as_deref()?;
    if !id.starts_with("ecs-svc/") {
        return None;
    }
    let deployment = task_deployment(evidence);
    let previous = previous_deployment(evidence).map(|p| PreviousDeployment {
        id: p.id.clone(),
        task_definition: p
            .task_definition
            .as_deref()
            .map(|td| arn::task_definition_name(td).to_string()),
        created_at: p.created_at,
        ran_for_seconds: match (p.created_at, deployment.and_then(|d| d.created_at)) {
            (Some(start), Some(next)) if next > start => Some((next - start).num_seconds()),
            _ => None,
        },
        // Recent stops do not say which deployment started them.
        stops_seen: None,
    });
    Some(DeploymentStory {
        id: id.to_string(),
        status: deployment.and_then(|d| d.status.clone()),
        task_definition: deployment
            .and_then(|d| d.task_definition.as_deref())
            .map(|td| arn::task_definition_name(td).to_string()),
        created_at: deployment.and_then(|d| d.created_at),
        rollout_state: deployment.and_then(|d| d.rollout_state.clone()),
        rollout_state_reason: deployment.and_then(|d| d.rollout_state_reason.clone()),
        failed_tasks: deployment.and_then(|d| d.failed_tasks),
        running_count: deployment.and_then(|d| d.running_count),
        desired_count: deployment.and_then(|d| d.desired_count),
        rolled_back: rolled_back(evidence, id, deployment),
        previous,
    })
}

/// Whether the circuit breaker rolled the deployment back: its rollout reason says so,
/// or a service event names the deployment as failed or a rollback after it began.
fn rolled_back(evidence: &Evidence, id: &str, deployment: Option<&Deployment>) -> bool {
    let says_rollback = |text: &str| {
        let text = text.to_ascii_lowercase();
        text.contains("rolling back") || text.contains("rolled back")
    };
    if deployment
        .and_then(|d| d.rollout_state_reason.as_deref())
        .is_some_and(says_rollback)
    {
        return true;
    }
    let began = deployment.and_then(|d| d.created_at);
    evidence.service_events.iter().any(|event| {
        let after_it_began = match (event.created_at, began) {
            (Some(at), Some(began)) => at >= began,
            _ => false,
        };
        says_rollback(&event.message) && (event.message.contains(id) || after_it_began)
    })
}

async fn describe(
    client: &aws_sdk_ecs::Client,
    task_definition: &str,
) -> Result<Compared, AwsFailure> {
    let answer = client
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|err| aws_failure(&err))?;
    answer
        .task_definition()
        .map(Compared::from_sdk)
        .ok_or_else(|| AwsFailure {
            kind: FailureKind::NotFound,
            code: None,
            message: format!(
                "DescribeTaskDefinition returned no task definition for {task_definition}"
            ),
        })
}

/// The summary check: how many changes, since which definition, the first few.
pub(crate) fn summary(changes: &[DefinitionChange], from: &str, basis: &str) -> Check {
    let detail = match changes.len() {
        0 => format!("no changes to the task definition since {from} ({basis})"),
        count => {
            let mut listed: Vec<&str> = changes
                .iter()
                .take(LISTED_IN_SUMMARY)
                .map(|c| c.detail.as_str())
                .collect();
            let more = count.saturating_sub(LISTED_IN_SUMMARY);
            let more_text = format!("and {more} more");
            if more > 0 {
                listed.push(&more_text);
            }
            let noun = if count == 1 { "change" } else { "changes" };
            format!(
                "{count} {noun} since {from} ({basis}): {}",
                listed.join("; ")
            )
        }
    };
    Check::new(PROBE, CheckOutcome::Context, detail)
}
