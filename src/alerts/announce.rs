//! One stopped task, announced: routes matched, investigated once per role (the task's
//! account picks it, [`Access::resolve`]), counted in its incident in each channel, and
//! posted as a parent card or a thread line. A new parent gets the same thread an asked
//! card gets (log tail, who stopped it, task definition), then the probes run and the
//! parent is updated with their verdict (**Confirmed** with the proof), with what they
//! add (what changed, the memory graph) in its thread.
//!
//! The outcome tells the consumer whether the message may be deleted: [`Outcome::Done`]
//! once every matching channel has its post (or deliberately has none), or
//! [`Outcome::Retry`] to leave it on the queue. A stop already counted and posted is not
//! posted again, so a retried or repeated message never posts twice.
//!
//! Nothing is lost when a replica dies mid-work: a stop is recorded as posted only once
//! its line is posted; until then it is claimed, and a claim that runs out is taken
//! over by the replica the message is delivered to next. Leases and claims are renewed
//! while their holder is alive (Slack may keep it waiting with 429s for longer than a
//! lease), so only a dead holder's run out. A replica taking over a parent first looks
//! for it in the channel's history (by the parent's message metadata): a replica killed
//! after posting but before recording it does not get its parent posted twice.

use super::event::{ServiceNews, StoppedEvent};
use super::outbox::Outbox;
use crate::config::routes::{AlertRoute, Origin};
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
/// may take over; renewed every [`RENEW_EVERY`] while it is posting.
pub const PARENT_LEASE: Duration = Duration::from_secs(30);
/// How long the replica that counts a stop has to post its line; renewed likewise.
pub const LINE_CLAIM: Duration = Duration::from_secs(30);
/// How often a lease or claim is renewed while its holder works.
const RENEW_EVERY: Duration = Duration::from_secs(10);
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
    /// Incidents recovered, or told of a failed deployment, by a service event.
    pub recovered: usize,
    pub deployments: usize,
    /// No `[[alerts]]` entry matches the task's cluster and service.
    pub unrouted: bool,
}

/// Turns stopped tasks into posts in their channels.
pub struct Announcer {
    pub(super) settings: Arc<Settings>,
    pub(super) investigator: Arc<dyn Investigate>,
    pub(super) state: Arc<dyn StateStore>,
    pub(super) outbox: Outbox,
    /// This replica, as the holder of leases and claims.
    pub(super) replica: String,
    /// Roll back and Restart on the cards, when `[actions]` is configured.
    pub(super) actions: Option<Arc<crate::actions::press::Actions>>,
}

/// What an incident's parent card is made from.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    /// A stopped task, investigated.
    Task(&'a Investigated),
    /// A service's tasks that cannot be placed or started.
    Unplaced(&'a ServiceNews, &'a [crate::evidence::ServiceEvent]),
}

/// One investigation of the event's task, and the access it was read with.
#[derive(Clone)]
pub(super) struct Investigated {
    pub(super) investigation: Investigation,
    pub(super) access: Access,
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
            replica: replica_id(),
            actions: None,
        }
    }

    /// Offer Roll back and Restart on the cards it posts (in the channels `[actions]`
    /// names).
    pub fn with_actions(mut self, actions: Option<Arc<crate::actions::press::Actions>>) -> Self {
        self.actions = actions;
        self
    }

    /// An incident's parent card for `investigation`: the card with the incident's
    /// Acknowledge and Mute buttons, and the actions it may offer (without its status
    /// line, which is added when shown).
    async fn parent_card(
        &self,
        incident: &Incident,
        investigation: &Investigation,
    ) -> slack_morphism::prelude::SlackMessageContent {
        let mut card = parent_card(incident, investigation);
        if let Some(actions) = &self.actions {
            card = actions
                .offer_on(
                    &card,
                    &investigation.evidence,
                    &incident.channel,
                    Some(&incident.key),
                    incidents::ALERT_BUTTONS,
                )
                .await;
        }
        card
    }

    /// Announce one stopped task in every channel whose route matches it.
    pub async fn announce(&self, event: &StoppedEvent) -> Outcome {
        let task = &event.task;
        let origin = Origin {
            cluster: task.cluster_name(),
            service: task.service_name(),
            account: crate::arn::account(&task.arn),
            region: task
                .region
                .as_deref()
                .or_else(|| crate::arn::region(&task.arn)),
        };
        let routes: Vec<&AlertRoute> = self
            .settings
            .alerts
            .routes
            .iter()
            .filter(|r| r.matches(origin))
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
            if let Err(why) = self.announce_in(route, event, &alerted, &mut summary).await {
                return Outcome::Retry(why);
            }
        }
        Outcome::Done(summary)
    }

    pub(super) async fn announce_in(
        &self,
        route: &AlertRoute,
        event: &StoppedEvent,
        alerted: &Investigated,
        summary: &mut Summary,
    ) -> Result<(), String> {
        let task = &event.task;
        let channel = route.channel.as_str();
        let now = state::now();
        let join = Join {
            key: incidents::key(channel, task, &alerted.investigation.diagnosis),
            channel: channel.to_string(),
            task_id: incidents::task_id(task),
            stopped_at: task.stopped_at.map_or(now, |t| t.timestamp()),
            now,
            window: GROUP_WINDOW,
            lease: PARENT_LEASE,
            claim: LINE_CLAIM,
            holder: self.replica.clone(),
            scope: incidents::scope(channel, task.cluster_name(), &incidents::subject(task)),
            escalation: route
                .escalate_after
                .map(|after| (after, route.escalate_to.clone())),
        };
        self.count(
            join,
            Source::Task(alerted),
            incidents::thread_line(task),
            summary,
        )
        .await
    }

    /// Count one event in its incident (`join`): post the parent when it opens the
    /// incident, else `line` in its thread (once, and only once its parent is known),
    /// then update the parent's count.
    pub(super) async fn count(
        &self,
        join: Join,
        source: Source<'_>,
        line: String,
        summary: &mut Summary,
    ) -> Result<(), String> {
        let channel = join.channel.as_str();
        let now = join.now;
        let joined = self.state.join(&join).await.map_err(|e| e.to_string())?;
        let (incident, counted_now) = match joined {
            Joined::Opened(incident) => {
                self.post_parent(&incident, source, false).await?;
                summary.parents += 1;
                return Ok(());
            }
            Joined::Busy => {
                return Err(format!(
                    "the line of {} is being posted by another replica; the stop will be retried",
                    join.task_id
                ))
            }
            Joined::Added(incident) | Joined::Reclaimed(incident) => (incident, true),
            Joined::Duplicate(incident) => (incident, false),
        };
        let parent_ts = match incident.parent_ts.clone() {
            Some(ts) => ts,
            None => match self.wait_for_parent(&join.key, source).await? {
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
            let _claim = self.renewing(Renew::Claim {
                key: join.key.clone(),
                task_id: join.task_id.clone(),
            });
            self.outbox
                .post_line(channel, &parent_ts, line)
                .await
                .map_err(|e| format!("could not post the thread line: {e}"))?;
            summary.lines += 1;
        }
        self.state
            .line_posted(&join.key, &join.task_id)
            .await
            .map_err(|e| e.to_string())?;
        self.refresh_parent(&join.key, None).await;
        Ok(())
    }

    /// Keep a lease or claim of this replica's alive until the guard is dropped.
    fn renewing(&self, what: Renew) -> Renewal {
        let state = self.state.clone();
        let holder = self.replica.clone();
        Renewal(tokio::spawn(async move {
            let mut every = tokio::time::interval(RENEW_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                let renewed = match &what {
                    Renew::Lease(key) => state
                        .renew_lease(key, &holder, state::now() + state::secs(PARENT_LEASE))
                        .await
                        .map(|_| ()),
                    Renew::Claim { key, task_id } => {
                        state
                            .renew_claim(key, task_id, state::now() + state::secs(LINE_CLAIM))
                            .await
                    }
                };
                if let Err(e) = renewed {
                    tracing::warn!(error = %e, "could not renew a lease; another replica may take the work over");
                }
            }
        }))
    }

    /// Post the incident's parent card and record it; then its thread's details, and
    /// the probes' verdict. `taken_over`: its first poster went away, so it may have
    /// posted it before it died; the channel's history says.
    async fn post_parent(
        &self,
        incident: &Incident,
        source: Source<'_>,
        taken_over: bool,
    ) -> Result<(), String> {
        let _lease = self.renewing(Renew::Lease(incident.key.clone()));
        let mut card = match source {
            Source::Task(alerted) => {
                let card = self.parent_card(incident, &alerted.investigation).await;
                let task = &alerted.investigation.diagnosis.task;
                match self.origin_label(
                    crate::arn::account(&task.arn),
                    crate::arn::region(&task.arn),
                ) {
                    Some(label) => incidents::with_origin(&card, &label),
                    None => card,
                }
            }
            Source::Unplaced(news, events) => {
                let label = self.origin_label(news.account.as_deref(), news.region.as_deref());
                super::unplaced::card(incident, news, events, label.as_deref())
            }
        };
        if incident.previous.is_some() {
            let link = match &incident.previous {
                Some(previous) => self
                    .outbox
                    .poster()
                    .permalink(&incident.channel, &previous.parent_ts)
                    .await
                    .ok(),
                None => None,
            };
            card = incidents::with_recurrence(&card, incident, link.as_deref());
        }
        let stored = serde_json::to_string(&card).unwrap_or_default();
        if taken_over {
            if let Some(ts) = self.find_posted_parent(incident).await {
                tracing::info!(
                    incident = incident.key,
                    ts,
                    "the parent was posted by a replica that went away; recording it"
                );
                self.state
                    .set_parent(&incident.key, &ts, &stored)
                    .await
                    .map_err(|e| e.to_string())?;
                self.refresh_parent(&incident.key, None).await;
                return Ok(());
            }
        }
        let shown = incidents::parent(&card, incident, state::now());
        let ts = self
            .outbox
            .post_parent(&incident.channel, shown)
            .await
            .map_err(|e| format!("could not post the alert: {e}"))?;
        self.state
            .set_parent(&incident.key, &ts, &stored)
            .await
            .map_err(|e| e.to_string())?;
        // Stops counted while the parent was on its way show in its count.
        self.refresh_parent(&incident.key, Some(incident)).await;
        if let Source::Task(alerted) = source {
            self.complete_thread(incident, &ts, alerted).await;
        }
        Ok(())
    }

    /// "payments-prod (210987654321) · eu-west-1": the account by its name when
    /// `[accounts]` gives one, and the region, when known.
    fn origin_label(&self, account: Option<&str>, region: Option<&str>) -> Option<String> {
        let account = account?;
        let named = self
            .settings
            .accounts
            .get(account)
            .and_then(|a| a.name.as_deref());
        let mut label = match named {
            Some(name) => format!("{name} ({account})"),
            None => account.to_string(),
        };
        if let Some(region) = region {
            label.push_str(&format!(" · {region}"));
        }
        Some(label)
    }

    /// The parent of `incident` in its channel's history, by its metadata.
    async fn find_posted_parent(&self, incident: &Incident) -> Option<String> {
        let since = incident.opened_at - 1;
        match self
            .outbox
            .poster()
            .find_message(&incident.channel, since, |metadata| {
                incidents::is_parent_of(metadata, incident)
            })
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the channel's history to find a parent posted before (is channels:history granted?); posting it");
                None
            }
        }
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
        let card = self.parent_card(incident, &confirmed).await;
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
    async fn wait_for_parent(&self, key: &str, source: Source<'_>) -> Result<ParentBy, String> {
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
                    .take_over(key, now, PARENT_LEASE, &self.replica)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    self.post_parent(&taken, source, true).await?;
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
    pub(super) async fn refresh_parent(&self, key: &str, shown: Option<&Incident>) {
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
                && shown.recovered_at == incident.recovered_at
                && shown.deployment == incident.deployment
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
    let mut card = incidents::with_incident_buttons(
        &blocks::card_of(investigation),
        &incident.key,
        reference.as_ref(),
    );
    card.metadata = Some(incidents::parent_metadata(incident));
    card
}

/// What a [`Renewal`] keeps alive.
enum Renew {
    /// The lease on posting an incident's parent.
    Lease(String),
    /// The claim on posting a stop's line.
    Claim { key: String, task_id: String },
}

/// Renews a lease or claim until dropped.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// This replica's name as a holder of leases: host, process and start time.
fn replica_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "ecs-why".to_string());
    let started = chrono::Utc::now().timestamp_micros();
    format!("{host}/{}/{started}", std::process::id())
}

/// Who posted the parent we waited for.
enum ParentBy {
    Other(String),
    Us,
}
