//! Does the awslogs group the task logs to exist?
//!
//! When the stopped reason speaks of the log group or the logger ("failed to validate
//! logger args: ... The specified log group does not exist"), `DescribeLogGroups` with the
//! group as prefix, looking for the exact name, in the `awslogs-region` option's region
//! (else the task's). One call per distinct group, all at once.

use super::{unchecked, ProbeClients, ProbeInput};
use crate::evidence::probes::{Check, CheckId, CheckOutcome, CheckRequest};
use crate::evidence::ProbeResults;
use crate::gather::probes::secrets::minute;

/// Words of a stopped reason about the awslogs driver or its group, lower case.
const LOGGER_WORDS: [&str; 5] = [
    "log group",
    "logger",
    "logging driver",
    "log stream",
    "awslogs",
];

/// One awslogs destination of the task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Destination {
    group: String,
    region: String,
    create_group: bool,
}

/// Whether this probe has anything to check for this diagnosis.
pub fn applies(input: ProbeInput<'_>) -> bool {
    let task = &input.evidence.task;
    let speaks_of_logging = task
        .stopped_reason
        .iter()
        .chain(task.containers.iter().filter_map(|c| c.reason.as_ref()))
        .any(|text| {
            let text = text.to_lowercase();
            LOGGER_WORDS.iter().any(|word| text.contains(word))
        });
    *input.request == CheckRequest::LogGroup
        && speaks_of_logging
        && !destinations(input, "").is_empty()
}

/// Run the probe's read-only calls.
pub async fn run(clients: &ProbeClients, input: ProbeInput<'_>) -> ProbeResults {
    let task_region = clients
        .region
        .clone()
        .or_else(|| input.evidence.task.region().map(str::to_string))
        .unwrap_or_default();
    let destinations = destinations(input, &task_region);
    let answers = futures::future::join_all(destinations.iter().map(|d| check(clients, d))).await;
    let mut results = ProbeResults::default();
    for answer in answers {
        match answer {
            Ok(check) => results.checks.push(check),
            Err(sentence) => results.unchecked.push(sentence),
        }
    }
    results
}

/// The distinct awslogs groups of the task definition's containers.
fn destinations(input: ProbeInput<'_>, task_region: &str) -> Vec<Destination> {
    let Some(definition) = &input.evidence.task_definition else {
        return Vec::new();
    };
    let mut found: Vec<Destination> = Vec::new();
    for container in &definition.containers {
        let (Some((group, _)), Some(config)) =
            (container.awslogs(), container.log_configuration.as_ref())
        else {
            continue;
        };
        let destination = Destination {
            group: group.to_string(),
            region: config
                .options
                .get("awslogs-region")
                .cloned()
                .unwrap_or_else(|| task_region.to_string()),
            create_group: config
                .options
                .get("awslogs-create-group")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        };
        if !found.contains(&destination) {
            found.push(destination);
        }
    }
    found
}

/// Whether one group exists; `Err` is the unchecked sentence.
async fn check(clients: &ProbeClients, destination: &Destination) -> Result<Check, String> {
    let Destination {
        group,
        region,
        create_group,
    } = destination;
    // With no region known at all, the clients' own (default) settings decide.
    let clients = if region.is_empty() {
        std::borrow::Cow::Borrowed(clients)
    } else {
        clients.in_region(region)
    };
    let answer = clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .map_err(|err| {
            unchecked(
                &format!("log group {group} in {region}"),
                "logs:DescribeLogGroups",
                &crate::gather::failure::aws_failure(&err),
            )
        })?;
    // The exact name sorts first among the names it prefixes, so the first page has it.
    let existing = answer
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group.as_str()));
    Ok(match existing {
        None if *create_group => Check::new(
            CheckId::LogGroup,
            CheckOutcome::Confirms,
            format!(
                "log group {group} does not exist in {region}; awslogs-create-group is set, so the execution role needs logs:CreateLogGroup"
            ),
        ),
        None => Check::new(
            CheckId::LogGroup,
            CheckOutcome::Confirms,
            format!(
                "log group {group} does not exist in {region} and awslogs-create-group is not set"
            ),
        ),
        Some(existing) => {
            let created = existing
                .creation_time()
                .map(aws_smithy_types::DateTime::from_millis)
                .map(|at| format!(" (created {})", minute(&at)))
                .unwrap_or_default();
            Check::new(
                CheckId::LogGroup,
                CheckOutcome::RulesOut,
                format!("log group {group} exists in {region}{created}"),
            )
        }
    })
}
