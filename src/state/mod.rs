//! State shared by every replica of `ecs-why serve`: what was already handled, and the
//! alert incidents with their Slack threads.
//!
//! Two stores implement [`StateStore`]: [`memory::MemoryStore`] for one replica (the
//! default) and [`dynamo::DynamoStore`] for several (`ECS_WHY_STATE_TABLE`, a DynamoDB
//! table with String partition key `pk` and TTL attribute `expires_at`). Every write that
//! decides who acts is conditional, so of two replicas racing exactly one wins: one
//! handles a retried Slack event, one posts an incident's parent card.
//!
//! Times are whole seconds since the Unix epoch (DynamoDB's TTL format).

pub mod dynamo;
pub mod memory;

use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The store failed (DynamoDB unreachable, throttled, denied). The message names the
/// cause and the next step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state store: {0}")]
pub struct StateError(pub String);

/// One alert incident in one channel: a service (or task family) failing for one cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incident {
    /// The store key, also carried by the parent's Acknowledge and Mute buttons.
    pub key: String,
    pub channel: String,
    /// The parent card's ts, once posted.
    pub parent_ts: Option<String>,
    /// The parent card as posted (Block Kit JSON), so any replica can update it.
    pub card: Option<String>,
    /// Every stop counted in this incident: task id → when it stopped.
    pub stops: BTreeMap<String, i64>,
    /// Who holds the right to post the parent, until when (while `parent_ts` is unset).
    pub posting_until: i64,
    /// Stops after this time open a new incident.
    pub active_until: i64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<i64>,
    pub muted_until: Option<i64>,
    /// The mute lasts until the incident recovers (`muted_until` is its limit).
    pub mute_until_recovered: bool,
    /// When the incident was opened (its first stop was counted).
    pub opened_at: i64,
    /// The replica that holds the right to post the parent (see `posting_until`).
    pub posting_by: Option<String>,
    /// Stops counted whose thread line is not posted yet: task id → until when the
    /// replica that counted it may post it. A stop leaves this map once its line is
    /// posted (or recorded as muted); a claim that runs out is taken over.
    pub unposted: BTreeMap<String, i64>,
    /// When the service was steady again (the incident is closed).
    pub recovered_at: Option<i64>,
    /// A deployment of the service failed (or rolled back) during the incident, in a
    /// few words, shown in the header and status line.
    pub deployment: Option<String>,
    /// The incident before this one under the same key, when there was one: its
    /// parent's ts and when it ended (recovered, else its last stop).
    pub previous: Option<Previous>,
    /// The open incidents of its service in its channel ([`Join::scope`]).
    pub scope: String,
    /// When to mention `escalate_to` if it is neither acknowledged nor recovered by then.
    pub escalate_at: Option<i64>,
    /// Slack user-group ids and user ids to mention then.
    pub escalate_to: Vec<String>,
    /// When they were mentioned.
    pub escalated_at: Option<i64>,
}

/// The index of every open incident, whatever its scope: what the sweeper reads.
pub const ALL_OPEN: &str = "open#all";

/// The index of the incidents opened in `channel` lately (kept two days after its last
/// change; the digest drops what is older): what the daily digest reads.
pub fn recent_index(channel: &str) -> String {
    format!("recent#{channel}")
}

/// The incident a new one recurs after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Previous {
    pub parent_ts: String,
    pub ended_at: i64,
}

impl Incident {
    /// Stops counted.
    pub fn count(&self) -> usize {
        self.stops.len()
    }

    /// First and last stop times.
    pub fn span(&self) -> Option<(i64, i64)> {
        let first = self.stops.values().min()?;
        let last = self.stops.values().max()?;
        Some((*first, *last))
    }

    /// Muted at `at`.
    pub fn is_muted(&self, at: i64) -> bool {
        self.muted_until.is_some_and(|until| until > at)
    }

    /// When it ended: recovered, else its last stop.
    pub fn ended_at(&self) -> Option<i64> {
        self.recovered_at
            .or_else(|| self.span().map(|(_, last)| last))
    }

    /// What a new incident under the same key keeps of this one.
    pub fn as_previous(&self) -> Option<Previous> {
        Some(Previous {
            parent_ts: self.parent_ts.clone()?,
            ended_at: self.ended_at()?,
        })
    }
}

/// A stop to count in an incident.
#[derive(Debug, Clone)]
pub struct Join {
    pub key: String,
    pub channel: String,
    pub task_id: String,
    pub stopped_at: i64,
    pub now: i64,
    /// Stops within this long of the previous one join the same incident.
    pub window: Duration,
    /// How long the replica that opens the incident has to post its parent (renewed
    /// while it is alive and posting).
    pub lease: Duration,
    /// How long the replica that counts a stop has to post its thread line (renewed
    /// while it is alive and posting).
    pub claim: Duration,
    /// Who counts the stop: this replica's id.
    pub holder: String,
    /// The service (or family) the incident is about in its channel: the index that
    /// service events use to find the open incidents ([`StateStore::open_incidents`]).
    pub scope: String,
    /// Mention these (user-group and user ids) if the incident is neither acknowledged
    /// nor recovered this long after it opens (the route's `escalate_after`).
    pub escalation: Option<(Duration, Vec<String>)>,
}

impl Join {
    /// When the incident stops being active if this stop joins it.
    pub fn active_until(&self) -> i64 {
        self.now + secs(self.window)
    }

    /// A new incident with this stop first, its opener holding the lease to post it.
    pub fn new_incident(&self) -> Incident {
        Incident {
            key: self.key.clone(),
            channel: self.channel.clone(),
            stops: [(self.task_id.clone(), self.stopped_at)].into(),
            posting_until: self.now + secs(self.lease),
            posting_by: Some(self.holder.clone()),
            active_until: self.active_until(),
            opened_at: self.now,
            scope: self.scope.clone(),
            escalate_at: self
                .escalation
                .as_ref()
                .map(|(after, _)| self.now + secs(*after)),
            escalate_to: self
                .escalation
                .as_ref()
                .map(|(_, whom)| whom.clone())
                .unwrap_or_default(),
            ..Incident::default()
        }
    }

    /// Until when this stop's line is claimed by its counter.
    pub fn claim_until(&self) -> i64 {
        self.now + secs(self.claim)
    }
}

/// What [`StateStore::join`] did with a stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// A new incident, with this stop first: this replica posts the parent.
    Opened(Incident),
    /// Counted in an open incident (whose parent may still be being posted elsewhere):
    /// this replica posts its thread line.
    Added(Incident),
    /// Counted before by a replica that did not post its line in time (it died): this
    /// replica has taken its claim and posts the line.
    Reclaimed(Incident),
    /// Counted, and its line is being posted by another replica right now: try later.
    Busy,
    /// This stop was already counted and posted (a repeated delivery): nothing to do.
    Duplicate(Incident),
}

/// How long a claimed key is remembered when nothing else says.
pub const FIRST_TIME_KEEP: Duration = Duration::from_secs(3600);

/// The shared state. Cloned handles share one store.
pub trait StateStore: Send + Sync + 'static {
    /// True for the first caller to offer `key` within `keep`; false for repeats. Of
    /// callers racing, exactly one gets true.
    fn first_time<'a>(
        &'a self,
        key: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<bool, StateError>>;

    /// Count a stop in its incident, opening a new one when none is active.
    fn join<'a>(&'a self, join: &'a Join) -> BoxFuture<'a, Result<Joined, StateError>>;

    /// The parent's poster went away without posting it (its lease ran out): take the
    /// right to post it for `holder`. `Some` when this caller won.
    fn take_over<'a>(
        &'a self,
        key: &'a str,
        now: i64,
        lease: Duration,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>>;

    /// `holder` is still posting the parent: its lease runs until `until`. False when
    /// the lease is no longer its own (taken over) or the parent is recorded.
    fn renew_lease<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        until: i64,
    ) -> BoxFuture<'a, Result<bool, StateError>>;

    /// The replica posting the line of `task_id` is still at it: its claim runs until
    /// `until`.
    fn renew_claim<'a>(
        &'a self,
        key: &'a str,
        task_id: &'a str,
        until: i64,
    ) -> BoxFuture<'a, Result<(), StateError>>;

    /// The line of `task_id` is posted (or deliberately not: muted): a repeated delivery
    /// is a duplicate from now on.
    fn line_posted<'a>(
        &'a self,
        key: &'a str,
        task_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>>;

    /// Keys of the incidents opened under `scope` (or, with [`ALL_OPEN`], anywhere) and
    /// not recovered or forgotten yet.
    fn open_incidents<'a>(
        &'a self,
        scope: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>>;

    /// Close the incident as recovered at `at` (stops from now on open a new one) and
    /// drop it from `scope`'s open incidents. `Some` for the one caller that closed it.
    fn recover<'a>(
        &'a self,
        key: &'a str,
        scope: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>>;

    /// Add `key` to the index `index` (read with [`StateStore::listed`]).
    fn list<'a>(&'a self, index: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>>;

    /// The keys in the index `index`.
    fn listed<'a>(&'a self, index: &'a str) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        self.open_incidents(index)
    }

    /// Drop `key` from the index `index` (an incident the digest no longer needs).
    fn unlist<'a>(&'a self, index: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>>;

    /// Record that the incident's escalation was posted at `at`.
    fn set_escalated<'a>(
        &'a self,
        key: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>>;

    /// Drop the incident from `scope`'s and [`ALL_OPEN`]'s open incidents without
    /// recovering it (it went quiet, or is gone).
    fn forget<'a>(&'a self, key: &'a str, scope: &'a str) -> BoxFuture<'a, Result<(), StateError>>;

    /// Record what became of a deployment during the incident.
    fn set_deployment<'a>(
        &'a self,
        key: &'a str,
        deployment: &'a str,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>>;

    /// Record the posted parent (its ts and card).
    fn set_parent<'a>(
        &'a self,
        key: &'a str,
        ts: &'a str,
        card: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>>;

    /// The incident under `key`, read consistently.
    fn incident<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Incident>, StateError>>;

    /// Record who acknowledged the incident, and when.
    fn acknowledge<'a>(
        &'a self,
        key: &'a str,
        user: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>>;

    /// Hold `key` with `value` for `keep`, unless it is held: `None` when this caller
    /// holds it now, else the holder's value. Of callers racing, exactly one holds it.
    /// (Offered actions, and who started one.)
    fn hold<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<Option<String>, StateError>>;

    /// The value held under `key`, unless it expired.
    fn held<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, StateError>>;

    /// Replace what `key` holds with `new` for `keep`, if it still holds `old` (not
    /// expired): true when replaced. Renews a hold, or records progress under it.
    fn replace<'a>(
        &'a self,
        key: &'a str,
        old: &'a str,
        new: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<bool, StateError>>;

    /// Let go of `key` if it still holds `value` (someone else's hold stays).
    fn release<'a>(&'a self, key: &'a str, value: &'a str)
        -> BoxFuture<'a, Result<(), StateError>>;

    /// Mute the incident's further stops until `until`.
    fn mute<'a>(
        &'a self,
        key: &'a str,
        until: i64,
        until_recovered: bool,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>>;
}

/// The store the settings ask for: DynamoDB when `table` is set, else memory.
pub async fn from_settings(table: Option<&str>, region: Option<&str>) -> Arc<dyn StateStore> {
    match table {
        Some(table) => Arc::new(dynamo::DynamoStore::from_env(table, region).await),
        None => Arc::new(memory::MemoryStore::default()),
    }
}

/// Seconds of a duration, for epoch arithmetic.
pub fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// When DynamoDB may delete an incident: a day after it stops being active, so its
/// buttons keep working for a while.
pub(crate) fn incident_expiry(active_until: i64) -> i64 {
    active_until.saturating_add(86_400)
}
