//! The production [`Engine`]: `Gatherer` for AWS, `diagnose` for the cause, and
//! `render::blocks` for the card, its thread replies and the follow-up answers.
//!
//! One [`Gatherer`] per role to assume (channels can map to other accounts); each
//! handles any region a target names and caches task definitions. No diagnosis or
//! formatting happens here: this file only connects the three stages.

use super::config::Settings;
use super::engine::{Alerted, Answer, Attachment, Confirmed, Engine, EngineError, EngineErrorKind};
use crate::diagnose::{diagnose, Diagnosis};
use crate::evidence::{Evidence, StopLookup, Task};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::gather::{Gatherer, SERVICE_EVENTS};
use crate::render::{blocks, escape};
use crate::task_ref::Target;
use futures::future::BoxFuture;
use slack_morphism::prelude::SlackMessageContent;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Diagnoses against AWS with the standard credential chain (and assumed roles).
pub struct AwsEngine {
    region: Option<String>,
    archive_log_group: Option<String>,
    default: Gatherer,
    by_role: Mutex<HashMap<String, Gatherer>>,
    /// The account the bot's own credentials read (STS GetCallerIdentity, asked once).
    own_account: tokio::sync::OnceCell<Option<String>>,
    /// Probe runs in flight by task and role: the cards of one task in several channels
    /// share one run. Dropped as soon as it is handed out, so a re-run probes again.
    confirming: moka::future::Cache<(String, Option<String>), Confirmed>,
}

/// Probe runs that may be in flight at once (each is dropped when it ends).
const CONFIRMING: u64 = 1024;

impl AwsEngine {
    /// The standard credential chain in `AWS_REGION`; honours `AWS_ENDPOINT_URL`.
    pub async fn new(settings: &Settings) -> AwsEngine {
        let default = Gatherer::from_env(settings.region.as_deref(), None)
            .await
            .with_archive_log_group(settings.archive_log_group.clone())
            .with_recent_stops(true);
        AwsEngine {
            region: settings.region.clone(),
            archive_log_group: settings.archive_log_group.clone(),
            default,
            by_role: Mutex::new(HashMap::new()),
            own_account: tokio::sync::OnceCell::new(),
            confirming: moka::future::Cache::new(CONFIRMING),
        }
    }

    /// Around an existing gatherer (tests point one at a fake AWS endpoint). Roles are
    /// ignored: every request uses this gatherer.
    pub fn from_gatherer(gatherer: Gatherer) -> AwsEngine {
        AwsEngine {
            region: gatherer.region().map(str::to_string),
            archive_log_group: None,
            default: gatherer.with_recent_stops(true),
            by_role: Mutex::new(HashMap::new()),
            own_account: tokio::sync::OnceCell::new(),
            confirming: moka::future::Cache::new(CONFIRMING),
        }
    }

    /// The gatherer used when no role is assumed (its credentials are the bot's own; the
    /// readiness check verifies them).
    pub fn default_gatherer(&self) -> Gatherer {
        self.default.clone()
    }

    async fn gatherer(&self, role_arn: Option<&str>) -> Gatherer {
        let Some(role) = role_arn else {
            return self.default.clone();
        };
        let mut by_role = self.by_role.lock().await;
        if let Some(g) = by_role.get(role) {
            return g.clone();
        }
        let g = Gatherer::from_env(self.region.as_deref(), Some(role))
            .await
            .with_archive_log_group(self.archive_log_group.clone())
            .with_recent_stops(true);
        by_role.insert(role.to_string(), g.clone());
        g
    }

    /// The account `role_arn` (or, without one, the bot's own credentials) reads.
    async fn reading_account(&self, role_arn: Option<&str>) -> Option<String> {
        if let Some(role) = role_arn {
            return crate::arn::account(role).map(str::to_string);
        }
        self.own_account
            .get_or_init(|| async {
                match self.default.caller_identity().await {
                    Ok(caller) => crate::arn::account(&caller).map(str::to_string),
                    Err(e) => {
                        tracing::warn!(error = %e, "the bot's own account is unknown");
                        None
                    }
                }
            })
            .await
            .clone()
    }

    /// A task whose ARN names another account than the one the credentials read is not
    /// looked up there (the same task id would be looked for in the wrong account).
    async fn same_account(
        &self,
        target: &Target,
        role_arn: Option<&str>,
    ) -> Result<(), EngineError> {
        let Some(account) = target.account.as_deref() else {
            return Ok(());
        };
        match self.reading_account(role_arn).await {
            Some(reading) if reading != account => Err(EngineError {
                kind: EngineErrorKind::BadInput,
                message: format!(
                    "the task is in AWS account {account}, but here ecs-why reads account \
                     {reading}. To read it, create a read-only role in {account} that trusts \
                     ecs-why's role, and map it in ECS_WHY_CONFIG: `[channels.THIS_CHANNEL]` \
                     with `role_arn = \"arn:aws:iam::{account}:role/ecs-why-read\"`"
                ),
            }),
            _ => Ok(()),
        }
    }

    async fn answer(&self, target: &Target, role_arn: Option<&str>) -> Result<Answer, EngineError> {
        self.same_account(target, role_arn).await?;
        let gatherer = self.gatherer(role_arn).await;
        let evidence = gatherer.gather(target).await?;
        let diagnosis = diagnose(&evidence);
        Ok(rendered(&evidence, &diagnosis))
    }

    async fn alert(&self, task: &Task, role_arn: Option<&str>) -> Result<Alerted, EngineError> {
        let gatherer = self.gatherer(role_arn).await;
        let evidence = gatherer.gather_stopped(task.clone()).await;
        let diagnosis = diagnose(&evidence);
        Ok(Alerted {
            answer: rendered(&evidence, &diagnosis),
            diagnosis,
        })
    }

    async fn follow(
        &self,
        kind: FollowUp,
        button: &ButtonRef,
        role_arn: Option<&str>,
    ) -> Result<Vec<SlackMessageContent>, EngineError> {
        let target = super::engine::target_of(button)?;
        self.same_account(&target, role_arn).await?;
        let gatherer = self.gatherer(role_arn).await;
        if kind == FollowUp::MoreLogs {
            let container = button.container.as_deref().ok_or_else(|| EngineError {
                kind: EngineErrorKind::BadInput,
                message: "the button does not name a container; run `/ecs why` again".into(),
            })?;
            let logs = gatherer
                .more_logs(&button.task_arn, container, button.page_token.as_deref())
                .await?;
            let base = ButtonRef {
                container: None,
                page_token: None,
                ..button.clone()
            };
            return Ok(blocks::log_tail(&logs, Some(&base)));
        }
        // The other follow-ups need the task as it is now.
        let evidence = gatherer.gather(&target).await?;
        let reference = ButtonRef {
            container: None,
            page_token: None,
            ..button.clone()
        };
        Ok(match kind {
            FollowUp::WhoStopped => {
                vec![blocks::stopped_by(&evidence.stop_lookup, Some(&reference))]
            }
            FollowUp::TaskDefinition => match &evidence.task_definition {
                Some(definition) => vec![blocks::task_definition(definition)],
                None => vec![SlackMessageContent::new().with_text(format!(
                    ":warning: The task definition could not be read. {}",
                    escape::mrkdwn(&evidence.notes.join(" "))
                ))],
            },
            FollowUp::ServiceEvents => {
                let events = match evidence.task.service_name() {
                    Some(service) => {
                        gatherer
                            .service_events(evidence.task.cluster_name(), service, SERVICE_EVENTS)
                            .await?
                    }
                    None => Vec::new(),
                };
                vec![blocks::service_events(&events)]
            }
            FollowUp::MoreLogs
            | FollowUp::Rerun
            | FollowUp::OpenConsole
            | FollowUp::Acknowledge
            | FollowUp::Mute => Vec::new(),
        })
    }
}

/// The card and its thread replies (log tail, who stopped it when someone did, task
/// definition).
fn rendered(evidence: &Evidence, diagnosis: &Diagnosis) -> Answer {
    let reference = blocks::button_ref(&diagnosis.task);
    let mut details = Vec::new();
    for logs in &evidence.logs {
        details.extend(blocks::log_tail(logs, reference.as_ref()));
    }
    // Nothing to say about a stop nobody made.
    if evidence.stop_lookup != StopLookup::NotAttempted {
        details.push(blocks::stopped_by(
            &evidence.stop_lookup,
            reference.as_ref(),
        ));
    }
    if let Some(definition) = &evidence.task_definition {
        details.push(blocks::task_definition(definition));
    }
    Answer {
        task_arn: evidence.task.arn.clone(),
        card: blocks::card_with(diagnosis, &blocks::CardFacts::from_evidence(evidence)),
        details,
        to_confirm: Some(Arc::new(evidence.clone())),
    }
}

/// The memory graph as a PNG to share in the thread, when the probes drew one.
fn memory_graph(diagnosis: &Diagnosis) -> Option<Attachment> {
    let series = diagnosis.probes.as_ref()?.memory.as_ref()?;
    let title = format!(
        "Memory of task {} before it stopped",
        crate::arn::task_id(&diagnosis.task.arn)
    );
    match crate::render::memory_graph::png(series, &title) {
        Ok(bytes) => Some(Attachment {
            filename: format!("memory-{}.png", crate::arn::task_id(&diagnosis.task.arn)),
            alt_text: crate::render::memory_graph::sparkline(series),
            title,
            content_type: "image/png".to_string(),
            bytes,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "the memory graph could not be drawn");
            None
        }
    }
}

impl Engine for AwsEngine {
    fn diagnose_stopped<'a>(
        &'a self,
        task: &'a Task,
        role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Alerted, EngineError>> {
        Box::pin(self.alert(task, role_arn))
    }

    fn diagnose<'a>(
        &'a self,
        target: &'a Target,
        role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Answer, EngineError>> {
        Box::pin(self.answer(target, role_arn))
    }

    fn follow_up<'a>(
        &'a self,
        kind: FollowUp,
        button: &'a ButtonRef,
        role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SlackMessageContent>, EngineError>> {
        Box::pin(self.follow(kind, button, role_arn))
    }

    fn confirm<'a>(
        &'a self,
        answer: &'a Answer,
        role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Option<Confirmed>> {
        Box::pin(async move {
            let evidence = answer.to_confirm.as_ref()?;
            let key = (evidence.task.arn.clone(), role_arn.map(str::to_string));
            let confirmed = self
                .confirming
                .get_with_by_ref(&key, async {
                    let gatherer = self.gatherer(role_arn).await;
                    let (evidence, diagnosis) = gatherer
                        .diagnose_and_confirm(Evidence::clone(evidence))
                        .await;
                    Confirmed {
                        card: blocks::card_with(
                            &diagnosis,
                            &blocks::CardFacts::from_evidence(&evidence),
                        ),
                        replies: blocks::probe_replies(&diagnosis),
                        files: memory_graph(&diagnosis).into_iter().collect(),
                    }
                })
                .await;
            // Shared only while in flight: the next ask probes again.
            self.confirming.invalidate(&key).await;
            Some(confirmed)
        })
    }
}
