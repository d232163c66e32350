//! What a service's own events do to its open incidents: steady again (or its
//! deployment completed) closes them as **Recovered**, edited in place with a thread
//! line saying when, after how long and how many stopped; a failed or rolled-back
//! deployment goes in their header and thread; with none open, a failed deployment
//! opens one from the service's newest stopped task. Every replica may receive the same event
//! (and every event may come twice): closing is one conditional write, and a
//! deployment's line is claimed by the event's id, so each shows once.
//!
//! A steady-state event for a service with no open incident posts nothing: ECS repeats
//! them now and then. Tasks that cannot be placed or started open incidents of their
//! own ([`super::unplaced`]).

use super::announce::{Announcer, Investigated, Outcome, Summary};
use super::event::{ServiceChange, ServiceNews, StoppedEvent};
use crate::config::routes::{AlertRoute, Origin};
use crate::incidents::{self, stored_parent};
use crate::investigate::access::Channel;
use crate::investigate::{Access, Subject};
use crate::render::escape::mrkdwn;
use crate::state::{self, StateError};
use crate::task_ref::{Target, TaskRef};
use std::time::Duration;

/// How long the claim on posting a service event's line in one thread is kept (longer
/// than SQS keeps retrying a message).
const NEWS_KEEP: Duration = Duration::from_secs(86_400);

impl Announcer {
    /// Apply one service or deployment event to the service's open incidents in every
    /// channel whose route matches it.
    pub async fn service_news(&self, news: &ServiceNews) -> Outcome {
        let routes: Vec<&AlertRoute> = self
            .settings
            .alerts
            .routes
            .iter()
            .filter(|r| {
                r.matches(Origin {
                    cluster: &news.cluster,
                    service: Some(&news.service),
                    account: news.account.as_deref(),
                    region: news.region.as_deref(),
                })
            })
            .collect();
        let mut summary = Summary {
            unrouted: routes.is_empty(),
            ..Summary::default()
        };
        let subject = format!("service:{}", news.service);
        for route in routes {
            if news.what.opens_incident() {
                if let Err(why) = self.unplaced(route, news, &mut summary).await {
                    return Outcome::Retry(why);
                }
                continue;
            }
            let scope = incidents::scope(&route.channel, &news.cluster, &subject);
            let keys = match self.state.open_incidents(&scope).await {
                Ok(keys) => keys,
                Err(e) => return Outcome::Retry(e.to_string()),
            };
            if keys.is_empty() && news.what == ServiceChange::DeploymentFailed {
                if let Err(why) = self.open_from_deployment(route, news, &mut summary).await {
                    return Outcome::Retry(why);
                }
                continue;
            }
            for key in keys {
                let applied = if news.what.recovers() {
                    self.recover(&key, &scope, news).await.map(|done| {
                        summary.recovered += usize::from(done);
                    })
                } else if matches!(
                    news.what,
                    ServiceChange::DeploymentFailed | ServiceChange::RollingBack
                ) {
                    self.deployment_news(&key, news).await.map(|done| {
                        summary.deployments += usize::from(done);
                    })
                } else {
                    Ok(())
                };
                if let Err(e) = applied {
                    return Outcome::Retry(e);
                }
            }
        }
        Outcome::Done(summary)
    }

    /// A deployment failed with no incident open: open one from the service's newest
    /// stopped task (read as an ask of the service would be), with the failure in its
    /// header and thread.
    async fn open_from_deployment(
        &self,
        route: &AlertRoute,
        news: &ServiceNews,
        summary: &mut Summary,
    ) -> Result<(), String> {
        let target = Target {
            task: TaskRef::Service {
                service: news.service.clone(),
            },
            cluster: Some(news.cluster.clone()),
            region: news.region.clone(),
            account: news.account.clone(),
        };
        let channel = Channel {
            id: &route.channel,
            name: None,
        };
        let access = Access::resolve(&self.settings, news.account.as_deref(), Some(channel));
        let investigation = match self
            .investigator
            .investigate(&Subject::Named(target), &access)
            .await
        {
            Ok(investigation) => investigation,
            Err(e) => {
                // No stopped task to show (a rollback before any task stopped): the
                // event alone is not an incident.
                tracing::info!(service = news.service, error = %e, "a failed deployment with no stopped task to show");
                return Ok(());
            }
        };
        if route.ignores(investigation.diagnosis.category) {
            summary.ignored += 1;
            return Ok(());
        }
        let event = StoppedEvent {
            id: news.id.clone(),
            task: investigation.evidence.task.clone(),
        };
        let key = incidents::key(&route.channel, &event.task, &investigation.diagnosis);
        let alerted = Investigated {
            investigation,
            access,
        };
        self.announce_in(route, &event, &alerted, summary).await?;
        if self.deployment_news(&key, news).await? {
            summary.deployments += 1;
        }
        Ok(())
    }

    /// Close the incident as recovered, edit its parent, and say so in its thread.
    /// False when there was nothing to do (closed already, or the event is older than
    /// the incident's last stop).
    async fn recover(&self, key: &str, scope: &str, news: &ServiceNews) -> Result<bool, String> {
        let store = |e: StateError| e.to_string();
        let Some(current) = self.state.incident(key).await.map_err(store)? else {
            return Ok(false);
        };
        let now = state::now();
        let last_stop = current.span().map_or(current.opened_at, |(_, last)| last);
        if news.at.is_some_and(|at| at.timestamp() < last_stop) {
            // An old steady state, delivered after a newer stop: not a recovery.
            return Ok(false);
        }
        let Some(closed) = self.state.recover(key, scope, now).await.map_err(store)? else {
            return Ok(false);
        };
        if let Some((ts, card)) = stored_parent(&closed) {
            let shown = incidents::parent(&card, &closed, now);
            self.outbox.update_parent(&closed.channel, &ts, shown).await;
            self.outbox
                .post_line(
                    &closed.channel,
                    &ts,
                    incidents::recovered_line(&closed, news.what.event_name()),
                )
                .await
                .map_err(|e| format!("could not post that the incident recovered: {e}"))?;
        }
        tracing::info!(incident = key, "incident recovered");
        Ok(true)
    }

    /// A deployment of the service failed or is rolling back: the header says so, the
    /// thread gets the event's reason, once.
    async fn deployment_news(&self, key: &str, news: &ServiceNews) -> Result<bool, String> {
        let store = |e: StateError| e.to_string();
        let claim = format!("news#{}#{key}", news.id);
        if !self
            .state
            .first_time(&claim, NEWS_KEEP)
            .await
            .map_err(store)?
        {
            return Ok(false);
        }
        let deployment = news.deployment_id.as_deref().unwrap_or("a deployment");
        let (summary, line) = match news.what {
            ServiceChange::RollingBack => match self.rollback_revision(news).await {
                Some(revision) => (
                    format!("deployment failed, rolled back to {revision}"),
                    format!(
                        ":rewind: Rolling back to {}: {}",
                        mrkdwn(&revision),
                        reason_of(news)
                    ),
                ),
                None => (
                    format!("deployment {deployment} failed, rolling back"),
                    format!(":rewind: Rolling back: {}", reason_of(news)),
                ),
            },
            _ => (
                format!("deployment {deployment} failed"),
                format!(
                    ":rotating_light: Deployment {deployment} failed: {}",
                    reason_of(news)
                ),
            ),
        };
        let Some(updated) = self
            .state
            .set_deployment(key, &summary)
            .await
            .map_err(store)?
        else {
            return Ok(false);
        };
        if let Some(ts) = &updated.parent_ts {
            self.outbox
                .post_line(&updated.channel, ts, line)
                .await
                .map_err(|e| format!("could not post the deployment's news: {e}"))?;
        }
        self.refresh_parent(key, None).await;
        Ok(true)
    }
}

impl Announcer {
    /// The service `news` is about, as ECS shows it now (in the event's region), read
    /// with `access`; `None` when it cannot be read.
    pub(super) async fn service_of(
        &self,
        news: &ServiceNews,
        access: &Access,
    ) -> Option<crate::investigate::ServiceState> {
        self.investigator
            .service(&news.cluster, &news.service, news.region.as_deref(), access)
            .await
    }

    /// The task definition (`web:41`) a rollback returns to: the deployment its reason
    /// names ("rolling back to deploymentId ecs-svc/987"), as the service lists it now.
    async fn rollback_revision(&self, news: &ServiceNews) -> Option<String> {
        let target = rollback_target(news.reason.as_deref()?)?;
        let access = Access::resolve(&self.settings, news.account.as_deref(), None);
        let deployments = self
            .service_of(news, &access)
            .await
            .map(|service| service.facts.deployments)
            .unwrap_or_default();
        let definition = deployments
            .iter()
            .find(|d| d.id == target)?
            .task_definition
            .as_deref()?;
        Some(crate::arn::task_definition_name(definition).to_string())
    }
}

/// The deployment id a circuit breaker's reason says it rolls back to.
fn rollback_target(reason: &str) -> Option<&str> {
    let (_, after) = reason.split_once("deploymentId ")?;
    let id = after
        .split_whitespace()
        .next()?
        .trim_end_matches(['.', ',']);
    (!id.is_empty()).then_some(id)
}

/// The event's reason, escaped, or what happened when it gives none.
fn reason_of(news: &ServiceNews) -> String {
    match news.reason.as_deref() {
        Some(reason) => crate::render::escape::mrkdwn(reason).into_owned(),
        None => news.what.event_name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_names_the_deployment_it_returns_to() {
        assert_eq!(
            rollback_target(
                "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/9876543210."
            ),
            Some("ecs-svc/9876543210")
        );
        assert_eq!(rollback_target("rolling back"), None);
    }
}
