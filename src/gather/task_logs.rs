//! A task's container logs, read for the evidence (the last lines of every container
//! that logs to CloudWatch, at once) and for the More logs button (the page before).

use super::{arn_target, ecs, logs, FailureKind, GatherError, Gatherer};
use crate::evidence::{ContainerDefinition, ContainerLogs, Note, Task, TaskDefinition};

/// Why a container's logs were not read.
enum LogsUnavailable {
    /// The container does not log to CloudWatch in a way ecs-why can find, with a note
    /// for the reader (or `None` when there is nothing to say).
    NotConfigured(Option<Note>),
    /// The read failed; the note names the fix.
    Failed { kind: FailureKind, note: String },
}

impl Gatherer {
    /// Last lines of every container that logs to CloudWatch, all at once.
    pub(super) async fn logs_for(
        &self,
        task: &Task,
        definition: &TaskDefinition,
        notes: &mut Vec<Note>,
    ) -> Vec<ContainerLogs> {
        let names: Vec<&str> = if task.containers.is_empty() {
            definition
                .containers
                .iter()
                .map(|c| c.name.as_str())
                .collect()
        } else {
            task.containers.iter().map(|c| c.name.as_str()).collect()
        };
        let fetches = names.into_iter().filter_map(|name| {
            let def = definition.containers.iter().find(|c| c.name == name)?;
            Some(self.container_logs(task, def, None))
        });
        let results = futures::future::join_all(fetches).await;
        // Notes about log configurations come first, then failed reads.
        let mut failures = Vec::new();
        let mut found = Vec::new();
        for result in results {
            match result {
                Ok(logs) => found.push(logs),
                Err(LogsUnavailable::NotConfigured(note)) => notes.extend(note),
                Err(LogsUnavailable::Failed { note, .. }) => failures.push(Note::unread(note)),
            }
        }
        notes.extend(failures);
        found
    }

    /// Older log lines of one container ("more logs"); `page_token` from the last page.
    pub async fn more_logs(
        &self,
        task_arn: &str,
        container: &str,
        page_token: Option<&str>,
    ) -> Result<ContainerLogs, GatherError> {
        let target = arn_target(task_arn)?;
        let clients = self.clients(target.region.as_deref());
        let cluster = target.cluster.as_deref().unwrap_or("default");
        let task =
            ecs::describe_task(&clients.ecs, cluster, task_arn, clients.region.as_deref()).await?;
        let definition = self.task_definition(&task.task_definition).await?;
        let def = definition
            .containers
            .iter()
            .find(|c| c.name == container)
            .ok_or_else(|| {
                GatherError::BadInput(format!(
                    "task definition {} has no container named `{container}`",
                    definition.arn
                ))
            })?;
        self.container_logs(&task, def, page_token)
            .await
            .map_err(|unavailable| match unavailable {
                LogsUnavailable::NotConfigured(note) => GatherError::Aws(note.map(|n| n.text).unwrap_or_else(|| {
                    format!(
                        "container `{container}` has no log configuration, so it has no logs to read"
                    )
                })),
                LogsUnavailable::Failed { kind: FailureKind::Denied, note } => {
                    GatherError::AccessDenied(note)
                }
                LogsUnavailable::Failed { note, .. } => GatherError::Aws(note),
            })
    }

    /// One page of a container's awslogs stream: the last lines, or the lines before
    /// `page_token`. Read in the log configuration's region, else the task's.
    async fn container_logs(
        &self,
        task: &Task,
        def: &ContainerDefinition,
        page_token: Option<&str>,
    ) -> Result<ContainerLogs, LogsUnavailable> {
        match logs::locate(def, task.id()) {
            logs::Location::Awslogs {
                group,
                stream,
                region,
            } => {
                let clients = self.clients(region.as_deref().or(task.region()));
                let mut found = logs::fetch(&clients.logs, &def.name, &group, &stream, page_token)
                    .await
                    .map_err(|failure| LogsUnavailable::Failed {
                        kind: failure.kind,
                        note: logs::note(&def.name, &group, &stream, &failure),
                    })?;
                // A short page reached the start of the stream: there is nothing older,
                // so no "Older lines" or "More logs" button for it.
                if found.lines.len() < logs::LINES_PER_CONTAINER as usize {
                    found.next_token = None;
                }
                Ok(found)
            }
            logs::Location::Unreadable(note) => Err(LogsUnavailable::NotConfigured(note)),
        }
    }
}
