//! One stopped task, announced: routes matched, diagnosed once, counted in its incident
//! in each channel, and posted as a parent card or a thread line.
//!
//! The outcome tells the consumer whether the message may be deleted: [`Outcome::Done`]
//! once every matching channel has its post (or deliberately has none), or
//! [`Outcome::Retry`] to leave it on the queue. A stop already counted is not posted
//! again, so a retried or repeated message never posts twice; a parent whose poster went
//! away is taken over once its lease runs out.

use super::event::StoppedEvent;
use super::incident;
use super::outbox::Outbox;
use super::routes::AlertRoute;
use crate::render::blocks;
use crate::slack::engine::{Alerted, Engine};
use crate::slack::Settings;
use crate::state::{self, Incident, Join, Joined, StateStore};
use slack_morphism::prelude::SlackMessageContent;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long the replica that opens an incident has to post its parent before another
/// may take over.
pub const PARENT_LEASE: Duration = Duration::from_secs(30);
/// Stops of one incident within this long of the previous one share its thread.
pub const GROUP_WINDOW: Duration = Duration::from_secs(3600);

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded: posted, grouped into a thread, or skipped on purpose. Delete it.
    Done(Summary),
    /// Not finished (the store or Slack failed): leave the message for a later try.
    Retry(String),
}

/// What was done, for the log and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub parents: usize,
    pub lines: usize,
    /// Counted in a muted incident: recorded, not posted.
    pub muted: usize,
    /// Already counted (a repeated delivery).
    pub duplicates: usize,
    /// Channels whose route ignores this cause.
    pub ignored: usize,
    /// No `[[alerts]]` entry matches the task's cluster and service.
    pub unrouted: bool,
}

/// Turns stopped tasks into posts in their channels.
pub struct Announcer {
    settings: Arc<Settings>,
    engine: Arc<dyn Engine>,
    state: Arc<dyn StateStore>,
    outbox: Outbox,
}

impl Announcer {
    pub fn new(
        settings: Arc<Settings>,
        engine: Arc<dyn Engine>,
        state: Arc<dyn StateStore>,
        outbox: Outbox,
    ) -> Announcer {
        Announcer {
            settings,
            engine,
            state,
            outbox,
        }
    }

    /// Announce one stopped task in every channel whose route matches it.
    pub async fn announce(&self, event: &StoppedEvent) -> Outcome {
        let task = &event.task;
        let routes: Vec<&AlertRoute> = self
            .settings
            .alerts
            .routes
            .iter()
            .filter(|r| r.matches(task.cluster_name(), task.service_name()))
            .collect();
        let mut summary = Summary {
            unrouted: routes.is_empty(),
            ..Summary::default()
        };
        // One diagnosis per role: channels mapped to the same role share it.
        let mut diagnosed: HashMap<Option<String>, Alerted> = HashMap::new();
        for route in routes {
            let role = self.settings.defaults_for(&route.channel, None).role_arn;
            let alerted = match diagnosed.get(&role) {
                Some(a) => a.clone(),
                None => match self.engine.diagnose_stopped(task, role.as_deref()).await {
                    Ok(a) => {
                        diagnosed.insert(role.clone(), a.clone());
                        a
                    }
                    Err(e) => return Outcome::Retry(format!("diagnosis failed: {e}")),
                },
            };
            if route.ignores(alerted.diagnosis.category) {
                summary.ignored += 1;
                continue;
            }
            if let Err(why) = self
                .announce_in(&route.channel, event, &alerted, &mut summary)
                .await
            {
                return Outcome::Retry(why);
            }
        }
        Outcome::Done(summary)
    }

    async fn announce_in(
        &self,
        channel: &str,
        event: &StoppedEvent,
        alerted: &Alerted,
        summary: &mut Summary,
    ) -> Result<(), String> {
        let task = &event.task;
        let now = state::now();
        let join = Join {
            key: incident::key(channel, task, &alerted.diagnosis),
            channel: channel.to_string(),
            task_id: incident::task_id(task),
            stopped_at: task.stopped_at.map_or(now, |t| t.timestamp()),
            now,
            window: GROUP_WINDOW,
            lease: PARENT_LEASE,
        };
        let joined = self.state.join(&join).await.map_err(|e| e.to_string())?;
        let (incident, counted_now) = match joined {
            Joined::Opened(incident) => {
                self.post_parent(&incident, alerted).await?;
                summary.parents += 1;
                return Ok(());
            }
            Joined::Added(incident) => (incident, true),
            Joined::Duplicate(incident) => (incident, false),
        };
        let parent_ts = match incident.parent_ts.clone() {
            Some(ts) => ts,
            None => match self.wait_for_parent(&join.key, alerted).await? {
                ParentBy::Other(ts) => ts,
                ParentBy::Us => {
                    summary.parents += 1;
                    return Ok(());
                }
            },
        };
        if !counted_now {
            summary.duplicates += 1;
            return Ok(());
        }
        if incident.is_muted(now) {
            summary.muted += 1;
        } else {
            self.outbox
                .post_line(channel, &parent_ts, incident::thread_line(task))
                .await
                .map_err(|e| format!("could not post the thread line: {e}"))?;
            summary.lines += 1;
        }
        self.refresh_parent(&join.key, None).await;
        Ok(())
    }

    /// Post the incident's parent card and record it.
    async fn post_parent(&self, incident: &Incident, alerted: &Alerted) -> Result<(), String> {
        let reference = blocks::button_ref(&alerted.diagnosis.task);
        let card = incident::with_incident_buttons(
            &alerted.answer.card,
            &incident.key,
            reference.as_ref(),
        );
        let shown = incident::parent(&card, incident, state::now());
        let ts = self
            .outbox
            .post_parent(&incident.channel, shown)
            .await
            .map_err(|e| format!("could not post the alert: {e}"))?;
        let stored = serde_json::to_string(&card).unwrap_or_default();
        self.state
            .set_parent(&incident.key, &ts, &stored)
            .await
            .map_err(|e| e.to_string())?;
        // Stops counted while the parent was on its way show in its count.
        self.refresh_parent(&incident.key, Some(incident)).await;
        Ok(())
    }

    /// The parent is being posted by another replica: wait for its ts, or take over
    /// when that replica's lease runs out.
    async fn wait_for_parent(&self, key: &str, alerted: &Alerted) -> Result<ParentBy, String> {
        let deadline = tokio::time::Instant::now() + PARENT_LEASE + Duration::from_secs(5);
        loop {
            let current = self.state.incident(key).await.map_err(|e| e.to_string())?;
            let Some(current) = current else {
                return Err(format!("incident {key} vanished; the stop will be retried"));
            };
            if let Some(ts) = current.parent_ts {
                return Ok(ParentBy::Other(ts));
            }
            let now = state::now();
            if current.posting_until < now {
                if let Some(taken) = self
                    .state
                    .take_over(key, now, PARENT_LEASE)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    self.post_parent(&taken, alerted).await?;
                    return Ok(ParentBy::Us);
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "the parent of {key} is still being posted elsewhere; the stop will be retried"
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Update the parent with the incident as it is now (returns once sent), unless it
    /// still reads as `shown`, the state the parent was posted with.
    async fn refresh_parent(&self, key: &str, shown: Option<&Incident>) {
        let incident = match self.state.incident(key).await {
            Ok(Some(incident)) => incident,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the incident to update its count");
                return;
            }
        };
        let unchanged = shown.is_some_and(|shown| {
            shown.stops == incident.stops
                && shown.acknowledged_at == incident.acknowledged_at
                && shown.muted_until == incident.muted_until
        });
        if unchanged {
            return;
        }
        if let Some((ts, card)) = stored_parent(&incident) {
            let content = incident::parent(&card, &incident, state::now());
            self.outbox
                .update_parent(&incident.channel, &ts, content)
                .await;
        }
    }
}

/// Who posted the parent we waited for.
enum ParentBy {
    Other(String),
    Us,
}

/// The parent's ts and card as stored, when it has been posted.
pub fn stored_parent(incident: &Incident) -> Option<(String, SlackMessageContent)> {
    let ts = incident.parent_ts.clone()?;
    let card = serde_json::from_str(incident.card.as_deref()?).ok()?;
    Some((ts, card))
}
