//! The state of one replica, in memory: [`StateStore`] without a table. Lost on restart,
//! which for one replica only means a Slack retry after a restart may be answered again.

use super::{incident_expiry, secs, Incident, Join, Joined, StateError, StateStore};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Keys remembered at most by [`StateStore::first_time`] (they expire anyway).
const MAX_KEYS: u64 = 100_000;
/// Incidents kept at most; the oldest inactive ones go first.
const MAX_INCIDENTS: usize = 10_000;

/// In-memory state for a single replica.
pub struct MemoryStore {
    seen: moka::sync::Cache<String, Duration>,
    incidents: Mutex<HashMap<String, Incident>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            seen: moka::sync::Cache::builder()
                .max_capacity(MAX_KEYS)
                .expire_after(KeepFor)
                .build(),
            incidents: Mutex::new(HashMap::new()),
        }
    }
}

/// Each key lives as long as its caller asked: the value is that duration.
struct KeepFor;

impl moka::Expiry<String, Duration> for KeepFor {
    fn expire_after_create(
        &self,
        _key: &String,
        keep: &Duration,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(*keep)
    }
}

impl MemoryStore {
    fn with_incidents<T>(&self, f: impl FnOnce(&mut HashMap<String, Incident>) -> T) -> T {
        let mut incidents = self.incidents.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut incidents)
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, Result<T, StateError>> {
    Box::pin(std::future::ready(Ok(value)))
}

impl StateStore for MemoryStore {
    fn first_time<'a>(
        &'a self,
        key: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        ready(self.seen.entry(key.to_string()).or_insert(keep).is_fresh())
    }

    fn join<'a>(&'a self, join: &'a Join) -> BoxFuture<'a, Result<Joined, StateError>> {
        let joined = self.with_incidents(|incidents| {
            if incidents.len() >= MAX_INCIDENTS {
                let now = join.now;
                incidents.retain(|_, i| incident_expiry(i.active_until) > now);
            }
            match incidents.get_mut(&join.key) {
                Some(open) if open.active_until >= join.now => {
                    if open.stops.contains_key(&join.task_id) {
                        return Joined::Duplicate(open.clone());
                    }
                    open.stops.insert(join.task_id.clone(), join.stopped_at);
                    open.active_until = join.active_until();
                    Joined::Added(open.clone())
                }
                _ => {
                    let incident = join.new_incident();
                    incidents.insert(join.key.clone(), incident.clone());
                    Joined::Opened(incident)
                }
            }
        });
        ready(joined)
    }

    fn take_over<'a>(
        &'a self,
        key: &'a str,
        now: i64,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_incidents(|incidents| {
            let incident = incidents.get_mut(key)?;
            if incident.parent_ts.is_some() || incident.posting_until >= now {
                return None;
            }
            incident.posting_until = now + secs(lease);
            Some(incident.clone())
        }))
    }

    fn set_parent<'a>(
        &'a self,
        key: &'a str,
        ts: &'a str,
        card: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        self.with_incidents(|incidents| {
            if let Some(incident) = incidents.get_mut(key) {
                incident.parent_ts = Some(ts.to_string());
                incident.card = Some(card.to_string());
            }
        });
        ready(())
    }

    fn incident<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_incidents(|incidents| incidents.get(key).cloned()))
    }

    fn acknowledge<'a>(
        &'a self,
        key: &'a str,
        user: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_incidents(|incidents| {
            let incident = incidents.get_mut(key)?;
            incident.acknowledged_by = Some(user.to_string());
            incident.acknowledged_at = Some(at);
            Some(incident.clone())
        }))
    }

    fn mute<'a>(
        &'a self,
        key: &'a str,
        until: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_incidents(|incidents| {
            let incident = incidents.get_mut(key)?;
            incident.muted_until = Some(until);
            Some(incident.clone())
        }))
    }
}
