//! The production [`Investigate`]: a [`Gatherer`] per role to assume (tasks of other
//! accounts are read with their account's role), each handling any region a subject
//! names and caching task definitions; the probes of one task asked in several places at
//! once share one run.

use super::early::EarlyChecks;
use super::{
    target_of, Access, FollowUpFound, Investigate, InvestigateError, Investigation, Subject,
};
use crate::evidence::{Evidence, Note, Task};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::gather::{Gatherer, SERVICE_EVENTS};
use crate::single_flight::SingleFlight;
use crate::task_ref::Target;
use futures::future::BoxFuture;
use std::collections::HashMap;
use tokio::sync::{Mutex, OnceCell};

/// Probe runs that may be in flight at once (each is dropped when it ends).
const CONFIRMING: u64 = 1024;

/// Investigates against AWS with the standard credential chain (and assumed roles).
pub struct Investigator {
    region: Option<String>,
    archive_log_group: Option<String>,
    recent_stops: bool,
    /// Whether checks may start early, during the gather (off for `--no-probes`, which
    /// makes no probe call at all).
    probes: bool,
    default: Gatherer,
    by_role: Mutex<HashMap<String, Gatherer>>,
    /// The account the bot's own credentials read (STS GetCallerIdentity, asked once).
    own_account: OnceCell<Option<String>>,
    /// Probe runs in flight by task and role: the cards of one task in several channels
    /// share one run.
    confirming: SingleFlight<(String, Option<String>), Investigation>,
}

impl Investigator {
    /// The standard credential chain in `region` (else `AWS_REGION`); honours
    /// `AWS_ENDPOINT_URL`. `recent_stops`: count a service task's recent stops (the bot's
    /// card shows them; the CLI does not).
    pub async fn new(
        region: Option<&str>,
        archive_log_group: Option<String>,
        recent_stops: bool,
    ) -> Investigator {
        let default = Gatherer::from_env(region, None)
            .await
            .with_archive_log_group(archive_log_group.clone())
            .with_recent_stops(recent_stops);
        Investigator::around(default, archive_log_group, recent_stops)
    }

    /// Around an existing gatherer (tests point one at a fake AWS endpoint), as it is
    /// set up (`with_recent_stops(true)` for the bot's cards). It reads every task that
    /// has no role to assume; a mapped role is assumed through the standard chain.
    pub fn from_gatherer(gatherer: Gatherer) -> Investigator {
        let recent_stops = gatherer.counts_recent_stops();
        Investigator::around(gatherer, None, recent_stops)
    }

    fn around(
        default: Gatherer,
        archive_log_group: Option<String>,
        recent_stops: bool,
    ) -> Investigator {
        Investigator {
            region: default.region().map(str::to_string),
            archive_log_group,
            recent_stops,
            probes: true,
            default,
            by_role: Mutex::new(HashMap::new()),
            own_account: OnceCell::new(),
            confirming: SingleFlight::new(CONFIRMING),
        }
    }

    /// Make no probe call, not even early (`ecs-why why --no-probes`).
    pub fn without_probes(mut self) -> Investigator {
        self.probes = false;
        self
    }

    /// The gatherer used when no role is assumed (its credentials are the bot's own; the
    /// readiness check verifies them).
    pub fn default_gatherer(&self) -> Gatherer {
        self.default.clone()
    }

    /// The configured region, if any.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    async fn gatherer(&self, access: &Access) -> Gatherer {
        let Some(role) = access.role_arn.as_deref() else {
            return self.default.clone();
        };
        let mut by_role = self.by_role.lock().await;
        if let Some(g) = by_role.get(role) {
            return g.clone();
        }
        let g = Gatherer::from_env(self.region.as_deref(), Some(role))
            .await
            .with_archive_log_group(self.archive_log_group.clone())
            .with_recent_stops(self.recent_stops);
        by_role.insert(role.to_string(), g.clone());
        g
    }

    /// The account `access` reads: its role's, else the bot's own credentials'.
    async fn reading_account(&self, access: &Access) -> Option<String> {
        if let Some(role) = access.role_arn.as_deref() {
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

    /// A task in another account than the one the credentials read is not looked up
    /// there (the same task id would be looked for in the wrong account).
    async fn same_account(&self, access: &Access) -> Result<(), InvestigateError> {
        let Some(account) = access.account.as_deref() else {
            return Ok(());
        };
        match self.reading_account(access).await {
            Some(reading) if reading != account => Err(InvestigateError::bad_input(format!(
                "the task is in AWS account {account}, but here ecs-why reads account \
                 {reading}. To read it, create a read-only role in {account} that trusts \
                 ecs-why's role, and map it in ECS_WHY_CONFIG: `[accounts.\"{account}\"]` \
                 with `role_arn = \"arn:aws:iam::{account}:role/ecs-why-read\"`"
            ))),
            _ => Ok(()),
        }
    }

    async fn investigation(
        &self,
        subject: &Subject,
        access: &Access,
    ) -> Result<Investigation, InvestigateError> {
        let mut early = None;
        let evidence = match subject {
            // Someone waits for this answer: the checks that need no logs start while the
            // logs are read.
            Subject::Named(target) => {
                self.same_account(access).await?;
                let gatherer = self.gatherer(access).await;
                if self.probes {
                    let (hook, slot) = EarlyChecks::hook(gatherer.clone());
                    let evidence = gatherer.gather_with(target, Some(hook)).await?;
                    early = slot.lock().ok().and_then(|mut slot| slot.take());
                    evidence
                } else {
                    gatherer.gather(target).await?
                }
            }
            // The event holds the task: an account ecs-why may not read still gets its
            // card, from the event alone, saying how to map the account's role.
            Subject::Stopped(task) => match self.same_account(access).await {
                Ok(()) => {
                    let gatherer = self.gatherer(access).await;
                    gatherer.gather_stopped(Task::clone(task)).await
                }
                Err(unreadable) => Evidence {
                    task: Task::clone(task),
                    notes: vec![Note::unread(unreadable.message)],
                    ..Evidence::default()
                },
            },
        };
        let mut investigation = Investigation::of(evidence);
        investigation.early = early;
        Ok(investigation)
    }

    /// Investigate and confirm before answering, as the CLI does: the checks that need no
    /// logs run beside the log read.
    pub async fn investigate_confirmed(
        &self,
        subject: &Subject,
        access: &Access,
    ) -> Result<Investigation, InvestigateError> {
        let investigation = self.investigation(subject, access).await?;
        Ok(self.confirmation(&investigation, access).await)
    }

    async fn confirmation(&self, investigation: &Investigation, access: &Access) -> Investigation {
        let key = (
            investigation.task_arn().to_string(),
            access.role_arn.clone(),
        );
        self.confirming
            .run(&key, async {
                let gatherer = self.gatherer(access).await;
                super::confirm_with(&gatherer, investigation).await
            })
            .await
    }

    async fn follow(
        &self,
        kind: FollowUp,
        button: &ButtonRef,
        access: &Access,
    ) -> Result<FollowUpFound, InvestigateError> {
        let target: Target = target_of(button)?;
        self.same_account(access).await?;
        let gatherer = self.gatherer(access).await;
        if kind == FollowUp::MoreLogs {
            let container = button.container.as_deref().ok_or_else(|| {
                InvestigateError::bad_input(
                    "the button does not name a container; run `/ecs why` again",
                )
            })?;
            let logs = gatherer
                .more_logs(&button.task_arn, container, button.page_token.as_deref())
                .await?;
            return Ok(FollowUpFound::LogPage(logs));
        }
        // The other follow-ups need the task as it is now.
        let now = Investigation::of(gatherer.gather(&target).await?);
        if kind != FollowUp::ServiceEvents {
            return Ok(FollowUpFound::Now(now));
        }
        let task = &now.evidence.task;
        let events = match task.service_name() {
            Some(service) => {
                gatherer
                    .describe_service(task.cluster_name(), service, task.region(), SERVICE_EVENTS)
                    .await?
                    .0
            }
            None => Vec::new(),
        };
        Ok(FollowUpFound::ServiceEvents(events))
    }
}

impl Investigate for Investigator {
    fn investigate<'a>(
        &'a self,
        subject: &'a Subject,
        access: &'a Access,
    ) -> BoxFuture<'a, Result<Investigation, InvestigateError>> {
        Box::pin(self.investigation(subject, access))
    }

    fn confirm<'a>(
        &'a self,
        investigation: &'a Investigation,
        access: &'a Access,
    ) -> BoxFuture<'a, Option<Investigation>> {
        Box::pin(async move { Some(self.confirmation(investigation, access).await) })
    }

    fn follow_up<'a>(
        &'a self,
        kind: FollowUp,
        button: &'a ButtonRef,
        access: &'a Access,
    ) -> BoxFuture<'a, Result<FollowUpFound, InvestigateError>> {
        Box::pin(self.follow(kind, button, access))
    }

    fn service<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
        region: Option<&'a str>,
        access: &'a Access,
    ) -> BoxFuture<'a, Option<super::ServiceState>> {
        Box::pin(async move {
            let gatherer = self.gatherer(access).await;
            match gatherer.describe_service(cluster, service, region, 5).await {
                Ok((events, facts)) => Some(super::ServiceState { events, facts }),
                Err(e) => {
                    tracing::warn!(service, error = %e, "could not read the service");
                    None
                }
            }
        })
    }
}
