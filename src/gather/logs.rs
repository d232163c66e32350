//! CloudWatch Logs: the last lines of each container (GetLogEvents, newest page first)
//! and the event-archive search (FilterLogEvents).
//!
//! Every line passes through [`crate::redact::redact`] before it is stored, so nothing
//! downstream (diagnosis, Slack, JSON output) ever sees an unredacted log line.

use super::{aws_failure, AwsFailure, FailureKind};
use crate::evidence::{ContainerDefinition, ContainerLogs, LogLine, Note, NoteKind};
use aws_sdk_cloudwatchlogs::Client;
use chrono::DateTime;

/// Lines fetched per container for a diagnosis, and per "more logs" page.
pub const LINES_PER_CONTAINER: i32 = 50;

/// Where a container's awslogs stream is, or why it cannot be located.
pub enum Location {
    Awslogs {
        group: String,
        stream: String,
        region: Option<String>,
    },
    /// Not readable, with a note for the reader (or None when there is nothing to say).
    Unreadable(Option<Note>),
}

/// The awslogs stream of `container` in task `task_id`: `PREFIX/CONTAINER/TASK_ID`.
pub fn locate(def: &ContainerDefinition, task_id: &str) -> Location {
    let Some(config) = def.log_configuration.as_ref() else {
        return Location::Unreadable(None);
    };
    match def.awslogs() {
        Some((group, Some(prefix))) => Location::Awslogs {
            group: group.to_string(),
            stream: format!("{prefix}/{}/{task_id}", def.name),
            region: config.options.get("awslogs-region").cloned(),
        },
        Some((group, None)) => Location::Unreadable(Some(Note::unread(format!(
            "Logs of container `{}` were not read: its awslogs configuration has no \
             awslogs-stream-prefix, so the stream in {group} is named after the Docker \
             container id. Add awslogs-stream-prefix to the task definition.",
            def.name
        )))),
        None => Location::Unreadable(Some(Note::new(
            NoteKind::LogsElsewhere {
                container: def.name.clone(),
            },
            format!(
                "Logs of container `{}` were not read: it logs with the `{}` driver; ecs-why \
                 reads CloudWatch Logs (awslogs) only.",
                def.name, config.log_driver
            ),
        ))),
    }
}

/// GetLogEvents from the end of the stream (or from `page_token`, going back).
pub async fn fetch(
    client: &Client,
    container: &str,
    group: &str,
    stream: &str,
    page_token: Option<&str>,
) -> Result<ContainerLogs, AwsFailure> {
    let output = client
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(false)
        .limit(LINES_PER_CONTAINER)
        .set_next_token(page_token.map(str::to_string))
        .send()
        .await
        .map_err(|err| aws_failure(&err))?;
    let lines: Vec<LogLine> = output
        .events()
        .iter()
        .map(|e| LogLine {
            timestamp: e.timestamp().and_then(DateTime::from_timestamp_millis),
            message: crate::redact::redact(e.message().unwrap_or_default().trim_end()).into_owned(),
        })
        .collect();
    // At the start of the stream CloudWatch hands back the token it was given.
    let next_token = output
        .next_backward_token()
        .filter(|t| !lines.is_empty() && Some(*t) != page_token)
        .map(str::to_string);
    Ok(ContainerLogs {
        container: container.to_string(),
        log_group: Some(group.to_string()),
        log_stream: Some(stream.to_string()),
        lines,
        next_token,
    })
}

/// A note for a failed log read, naming the IAM action when access was denied.
pub fn note(container: &str, group: &str, stream: &str, failure: &AwsFailure) -> String {
    match failure.kind {
        FailureKind::Denied => format!(
            "Logs of container `{container}` were not read (log group {group}): {}.",
            super::denied("logs:GetLogEvents")
        ),
        FailureKind::NotFound => format!(
            "Logs of container `{container}` were not found: log group {group} or stream \
             {stream} does not exist (never created, deleted, or expired by retention; a \
             container that never started writes no stream)."
        ),
        FailureKind::Throttled => format!(
            "Logs of container `{container}` were not read: CloudWatch Logs throttled \
             logs:GetLogEvents; ask again in a few seconds."
        ),
        _ => format!(
            "Logs of container `{container}` were not read (log group {group}): {}",
            failure.message
        ),
    }
}

/// FilterLogEvents on the event archive: messages mentioning `task_id`, up to a few pages.
pub async fn search_archive(
    client: &Client,
    group: &str,
    task_id: &str,
) -> Result<Vec<(i64, String)>, AwsFailure> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..5 {
        let output = client
            .filter_log_events()
            .log_group_name(group)
            .filter_pattern(format!("\"{task_id}\""))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|err| aws_failure(&err))?;
        for event in output.events() {
            if let Some(message) = event.message() {
                found.push((event.timestamp().unwrap_or_default(), message.to_string()));
            }
        }
        match output.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(found)
}
