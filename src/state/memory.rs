//! The state of one replica, in memory: [`StateStore`] without a table. Lost on restart,
//! which for one replica only means a Slack retry after a restart may be answered again.

use super::{
    incident_expiry, recent_index, secs, Incident, Join, Joined, StateError, StateStore, ALL_OPEN,
};
use futures::future::BoxFuture;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// Keys remembered at most by [`StateStore::first_time`] (they expire anyway).
const MAX_KEYS: u64 = 100_000;
/// Incidents kept at most; the oldest inactive ones go first.
const MAX_INCIDENTS: usize = 10_000;

/// In-memory state for a single replica.
pub struct MemoryStore {
    seen: moka::sync::Cache<String, Duration>,
    incidents: Mutex<Incidents>,
    /// [`StateStore::hold`]: key -> (value, expires at).
    held: Mutex<HashMap<String, (String, i64)>>,
}

/// The incidents by key, and the open ones by scope.
#[derive(Default)]
struct Incidents {
    by_key: HashMap<String, Incident>,
    open: HashMap<String, BTreeSet<String>>,
}

impl Incidents {
    /// Drop `key` from the open incidents of `scope` and of [`ALL_OPEN`].
    fn unlist(&mut self, key: &str, scope: &str) {
        for scope in [scope, ALL_OPEN] {
            if let Some(keys) = self.open.get_mut(scope) {
                keys.remove(key);
                if keys.is_empty() {
                    self.open.remove(scope);
                }
            }
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            seen: moka::sync::Cache::builder()
                .max_capacity(MAX_KEYS)
                .expire_after(KeepFor)
                .build(),
            incidents: Mutex::new(Incidents::default()),
            held: Mutex::new(HashMap::new()),
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
    fn with_all<T>(&self, f: impl FnOnce(&mut Incidents) -> T) -> T {
        let mut incidents = self.incidents.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut incidents)
    }

    fn with_held<T>(&self, f: impl FnOnce(&mut HashMap<String, (String, i64)>) -> T) -> T {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let now = super::now();
        if held.len() >= MAX_INCIDENTS {
            held.retain(|_, (_, until)| *until >= now);
        }
        f(&mut held)
    }

    fn with_incidents<T>(&self, f: impl FnOnce(&mut HashMap<String, Incident>) -> T) -> T {
        self.with_all(|all| f(&mut all.by_key))
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
        let joined = self.with_all(|all| {
            let now = join.now;
            if all.by_key.len() >= MAX_INCIDENTS {
                all.by_key
                    .retain(|_, i| incident_expiry(i.active_until) > now);
            }
            if let Some(known) = all.by_key.get_mut(&join.key) {
                if known.stops.contains_key(&join.task_id) {
                    return match known.unposted.get(&join.task_id) {
                        Some(until) if *until >= now => Joined::Busy,
                        Some(_) => {
                            known
                                .unposted
                                .insert(join.task_id.clone(), join.claim_until());
                            Joined::Reclaimed(known.clone())
                        }
                        None => Joined::Duplicate(known.clone()),
                    };
                }
                if known.active_until >= now {
                    known.stops.insert(join.task_id.clone(), join.stopped_at);
                    known
                        .unposted
                        .insert(join.task_id.clone(), join.claim_until());
                    known.active_until = join.active_until();
                    return Joined::Added(known.clone());
                }
            }
            let mut incident = join.new_incident();
            incident.previous = all.by_key.get(&join.key).and_then(Incident::as_previous);
            all.by_key.insert(join.key.clone(), incident.clone());
            let recent = recent_index(&join.channel);
            for scope in [join.scope.as_str(), ALL_OPEN, recent.as_str()] {
                all.open
                    .entry(scope.to_string())
                    .or_default()
                    .insert(join.key.clone());
            }
            Joined::Opened(incident)
        });
        ready(joined)
    }

    fn take_over<'a>(
        &'a self,
        key: &'a str,
        now: i64,
        lease: Duration,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_incidents(|incidents| {
            let incident = incidents.get_mut(key)?;
            if incident.parent_ts.is_some() || incident.posting_until >= now {
                return None;
            }
            incident.posting_until = now + secs(lease);
            incident.posting_by = Some(holder.to_string());
            Some(incident.clone())
        }))
    }

    fn renew_lease<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        until: i64,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        ready(self.with_incidents(|incidents| {
            let Some(incident) = incidents.get_mut(key) else {
                return false;
            };
            if incident.parent_ts.is_some() || incident.posting_by.as_deref() != Some(holder) {
                return false;
            }
            incident.posting_until = until;
            true
        }))
    }

    fn renew_claim<'a>(
        &'a self,
        key: &'a str,
        task_id: &'a str,
        until: i64,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        self.with_incidents(|incidents| {
            if let Some(claim) = incidents
                .get_mut(key)
                .and_then(|i| i.unposted.get_mut(task_id))
            {
                *claim = until;
            }
        });
        ready(())
    }

    fn line_posted<'a>(
        &'a self,
        key: &'a str,
        task_id: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        self.with_incidents(|incidents| {
            if let Some(incident) = incidents.get_mut(key) {
                incident.unposted.remove(task_id);
            }
        });
        ready(())
    }

    fn open_incidents<'a>(
        &'a self,
        scope: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        ready(self.with_all(|all| {
            all.open
                .get(scope)
                .map(|keys| keys.iter().cloned().collect())
                .unwrap_or_default()
        }))
    }

    fn recover<'a>(
        &'a self,
        key: &'a str,
        scope: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_all(|all| {
            all.unlist(key, scope);
            let incident = all.by_key.get_mut(key)?;
            if incident.recovered_at.is_some() || incident.active_until < at {
                return None;
            }
            incident.recovered_at = Some(at);
            incident.active_until = at - 1;
            Some(incident.clone())
        }))
    }

    fn list<'a>(&'a self, index: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        self.with_all(|all| {
            all.open
                .entry(index.to_string())
                .or_default()
                .insert(key.to_string());
        });
        ready(())
    }

    fn unlist<'a>(&'a self, index: &'a str, key: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        self.with_all(|all| {
            if let Some(keys) = all.open.get_mut(index) {
                keys.remove(key);
            }
        });
        ready(())
    }

    fn set_escalated<'a>(
        &'a self,
        key: &'a str,
        at: i64,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_incidents(|incidents| {
            let incident = incidents.get_mut(key)?;
            incident.escalated_at = Some(at);
            Some(incident.clone())
        }))
    }

    fn forget<'a>(&'a self, key: &'a str, scope: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        self.with_all(|all| all.unlist(key, scope));
        ready(())
    }

    fn set_deployment<'a>(
        &'a self,
        key: &'a str,
        deployment: &'a str,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_incidents(|incidents| {
            let incident = incidents.get_mut(key)?;
            incident.deployment = Some(deployment.to_string());
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
        until_recovered: bool,
    ) -> BoxFuture<'a, Result<Option<Incident>, StateError>> {
        ready(self.with_incidents(|incidents| {
            let incident = incidents.get_mut(key)?;
            incident.muted_until = Some(until);
            incident.mute_until_recovered = until_recovered;
            Some(incident.clone())
        }))
    }

    fn hold<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        ready(self.with_held(|held| {
            let now = super::now();
            match held.get(key) {
                Some((holder, until)) if *until >= now => Some(holder.clone()),
                _ => {
                    held.insert(key.to_string(), (value.to_string(), now + secs(keep)));
                    None
                }
            }
        }))
    }

    fn held<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        ready(self.with_held(|held| {
            let now = super::now();
            held.get(key)
                .filter(|(_, until)| *until >= now)
                .map(|(value, _)| value.clone())
        }))
    }

    fn replace<'a>(
        &'a self,
        key: &'a str,
        old: &'a str,
        new: &'a str,
        keep: Duration,
    ) -> BoxFuture<'a, Result<bool, StateError>> {
        ready(self.with_held(|held| {
            let now = super::now();
            match held.get_mut(key) {
                Some((holder, until)) if *until >= now && holder == old => {
                    *holder = new.to_string();
                    *until = now + secs(keep);
                    true
                }
                _ => false,
            }
        }))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        self.with_held(|held| {
            if held.get(key).is_some_and(|(holder, _)| holder == value) {
                held.remove(key);
            }
        });
        ready(())
    }
}
