//! One stopped task, announced: routes matched, investigated once per role (the task's
//! account picks it, [`Access::resolve`]), counted in its incident in each channel, and
//! posted as a parent card or a thread line. A new parent gets the same thread an asked
//! card gets (log tail, who stopped it, task definition), then the probes run and the
//! parent is updated with their verdict (**Confirmed** with the proof), with what they
//! add (what changed, the memory graph) in its thread.
//!
//! The outcome tells the consumer whether the message may be deleted: [`Outcome::Done`]
//! once every matching channel has its post (or deliberately has none), or
//! [`Outcome::Retry`] to leave it on the queue. A stop already counted is not posted
//! again, so a retried or repeated message never posts twice; a parent whose poster went
//! away is taken over once its lease runs out.

use super::event::StoppedEvent;
use super::outbox::Outbox;
use crate::config::routes::AlertRoute;
use crate::config::Settings;
use crate::incidents::{self, stored_parent};
use crate::investigate::access::Channel;
use crate::investigate::{Access, Investigate, Investigation, Subject};
use crate::render::blocks;
use crate::state::{self, Incident, Join, Joined, StateStore};
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
    investigator: Arc<dyn Investigate>,
    state: Arc<dyn StateStore>,
    outbox: Outbox,
}

/// One investigation of the event's task, and the access it was read with.
#[derive(Clone)]
struct Investigated {
    investigation: Investigation,
    access: Access,
}

impl Announcer {
    pub fn new(
        settings: Arc<Settings>,
        investigator: Arc<dyn Investigate>,
        state: Arc<dyn StateStore>,
        outbox: Outbox,
    ) -> Announcer {
        Announcer {
            settings,
            investigator,
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
        // One investigation per role: channels read with the same role share it.
        let subject = Subject::Stopped(Box::new(task.clone()));
        let account = crate::arn::account(&task.arn);
        let mut investigated: HashMap<Access, Investigated> = HashMap::new();
        for route in routes {
            let channel = Channel {
                id: &route.channel,
                name: None,
            };
            let access = Access::resolve(&self.settings, account, Some(channel));
            let alerted = match investigated.get(&access) {
                Some(found) => found.clone(),
                None => match self.investigator.investigate(&subject, &access).await {
                    Ok(investigation) => {
                        let found = Investigated {
                            investigation,
                            access: access.clone(),
                        };
                        investigated.insert(access, found.clone());
                        found
                    }
                    Err(e) => return Outcome::Retry(format!("diagnosis failed: {e}")),
                },
            };
            if route.ignores(alerted.investigation.diagnosis.category) {
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
        alerted: &Investigated,
        summary: &mut Summary,
    ) -> Result<(), String> {
        let task = &event.task;
        let now = state::now();
        let join = Join {
            key: incidents::key(channel, task, &alerted.investigation.diagnosis),
            channel: channel.to_string(),
            task_id: incidents::task_id(task),
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
                .post_line(channel, &parent_ts, incidents::thread_line(task))
                .await
                .map_err(|e| format!("could not post the thread line: {e}"))?;
            summary.lines += 1;
        }
        self.refresh_parent(&join.key, None).await;
        Ok(())
    }

    /// Post the incident's parent card and record it; then its thread's details, and
    /// the probes' verdict.
    async fn post_parent(&self, incident: &Incident, alerted: &Investigated) -> Result<(), String> {
        let card = parent_card(incident, &alerted.investigation);
        let shown = incidents::parent(&card, incident, state::now());
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
        self.complete_thread(incident, &ts, alerted).await;
        Ok(())
    }

    /// Under a parent just posted: the details an asked card's thread has (log tail, who
    /// stopped it, task definition), then the probes' verdict on the parent (stored, so
    /// every later update keeps it) and what they add in the thread. A failure here is
    /// logged: the stop is posted and counted, which is what must not be lost.
    async fn complete_thread(&self, incident: &Incident, ts: &str, alerted: &Investigated) {
        let channel = &incident.channel;
        for detail in blocks::details(&alerted.investigation) {
            if let Err(e) = self.outbox.post_reply(channel, ts, detail).await {
                tracing::warn!(error = %e, "could not post an alert's detail in its thread");
            }
        }
        let Some(confirmed) = self
            .investigator
            .confirm(&alerted.investigation, &alerted.access)
            .await
        else {
            return;
        };
        let card = parent_card(incident, &confirmed);
        let stored = serde_json::to_string(&card).unwrap_or_default();
        if let Err(e) = self.state.set_parent(&incident.key, ts, &stored).await {
            tracing::warn!(error = %e, "could not record the alert's confirmed card");
        }
        self.refresh_parent(&incident.key, None).await;
        let (replies, files) = blocks::confirmed_extras(&confirmed.diagnosis);
        for reply in replies {
            if let Err(e) = self.outbox.post_reply(channel, ts, reply).await {
                tracing::warn!(error = %e, "could not post a probe reply under an alert");
            }
        }
        for file in files {
            if let Err(e) = self.outbox.upload(channel, ts, file).await {
                tracing::warn!(error = %e, "could not share a file under an alert (is files:write granted?)");
            }
        }
    }

    /// The parent is being posted by another replica: wait for its ts, or take over
    /// when that replica's lease runs out.
    async fn wait_for_parent(&self, key: &str, alerted: &Investigated) -> Result<ParentBy, String> {
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
            let content = incidents::parent(&card, &incident, state::now());
            self.outbox
                .update_parent(&incident.channel, &ts, content)
                .await;
        }
    }
}

/// An incident's parent card for `investigation`: the card with the incident's
/// Acknowledge and Mute buttons (without its status line, which is added when shown).
fn parent_card(
    incident: &Incident,
    investigation: &Investigation,
) -> slack_morphism::prelude::SlackMessageContent {
    let reference = blocks::button_ref(&investigation.diagnosis.task);
    incidents::with_incident_buttons(
        &blocks::card_of(investigation),
        &incident.key,
        reference.as_ref(),
    )
}

/// Who posted the parent we waited for.
enum ParentBy {
    Other(String),
    Us,
}
