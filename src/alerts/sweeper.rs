//! What happens to open incidents with no event: escalation and going quiet. Every
//! replica sweeps the open incidents every [`SWEEP_EVERY`]; what it finds due is done
//! once across replicas (a claim in the shared state, then the fact recorded).
//!
//! - **Escalation**: an incident neither acknowledged nor recovered `escalate_after` its
//!   opening gets one thread reply, also sent to the channel, mentioning the route's
//!   `escalate_to` (user groups as `<!subteam^S…>`, users as `<@U…>`).
//! - **Digest**: a route's daily digest, when due ([`super::digest`]).
//! - **Quiet**: an incident with no stop for [`super::announce::GROUP_WINDOW`] is no
//!   longer open (the
//!   next stop opens a new one); its card is updated once to say "no stops since …"
//!   (quiet is not recovered) and it leaves the open incidents.

use super::announce::Announcer;
use crate::incidents;
use crate::shutdown::Shutdown;
use crate::state::{self, Incident, ALL_OPEN};
use std::sync::Arc;
use std::time::Duration;

/// How often each replica looks at the open incidents.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// How long a replica has to post an escalation before another may.
const ESCALATION_CLAIM: Duration = Duration::from_secs(120);

/// Sweep until shutdown begins.
pub async fn run(announcer: Arc<Announcer>, shutdown: Shutdown) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = every.tick() => announcer.sweep().await,
        }
    }
}

impl Announcer {
    /// One look at every open incident.
    pub async fn sweep(&self) {
        let keys = match self.state.open_incidents(ALL_OPEN).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the open incidents to sweep them");
                return;
            }
        };
        for key in keys {
            if let Err(e) = self.sweep_one(&key).await {
                tracing::warn!(
                    incident = key,
                    error = e,
                    "could not sweep an incident; the next sweep tries again"
                );
            }
        }
        self.digests(state::now()).await;
    }

    async fn sweep_one(&self, key: &str) -> Result<(), String> {
        let store = |e: state::StateError| e.to_string();
        let now = state::now();
        let Some(incident) = self.state.incident(key).await.map_err(store)? else {
            return self
                .state
                .forget(key, &incidents::scope_of_key(key))
                .await
                .map_err(store);
        };
        if incident.recovered_at.is_some() {
            return self.state.forget(key, &incident.scope).await.map_err(store);
        }
        if incident.active_until < now {
            return self.went_quiet(&incident).await;
        }
        if escalation_due(&incident, now) {
            self.escalate(&incident, now).await?;
        }
        Ok(())
    }

    /// Say once that the incident went quiet, and stop sweeping it.
    async fn went_quiet(&self, incident: &Incident) -> Result<(), String> {
        let store = |e: state::StateError| e.to_string();
        let claim = format!("quiet#{}#{}", incident.key, incident.opened_at);
        if self
            .state
            .first_time(&claim, Duration::from_secs(86_400))
            .await
            .map_err(store)?
        {
            self.refresh_parent(&incident.key, None).await;
            tracing::info!(incident = incident.key, "incident went quiet");
        }
        self.state
            .forget(&incident.key, &incident.scope)
            .await
            .map_err(store)
    }

    /// Mention whom the route names, once across replicas.
    async fn escalate(&self, incident: &Incident, now: i64) -> Result<(), String> {
        let store = |e: state::StateError| e.to_string();
        let Some(ts) = &incident.parent_ts else {
            return Ok(());
        };
        let claim = format!("escalating#{}#{}", incident.key, incident.opened_at);
        if !self
            .state
            .first_time(&claim, ESCALATION_CLAIM)
            .await
            .map_err(store)?
        {
            return Ok(());
        }
        let text = incidents::escalation_text(incident, now);
        self.outbox
            .post_broadcast(&incident.channel, ts, text)
            .await
            .map_err(|e| format!("could not post the escalation: {e}"))?;
        self.state
            .set_escalated(&incident.key, now)
            .await
            .map_err(store)?;
        self.refresh_parent(&incident.key, None).await;
        tracing::info!(incident = incident.key, "incident escalated");
        Ok(())
    }
}

/// Neither acknowledged nor recovered, its time come, not escalated yet.
fn escalation_due(incident: &Incident, now: i64) -> bool {
    incident.escalate_at.is_some_and(|at| at <= now)
        && !incident.escalate_to.is_empty()
        && incident.acknowledged_at.is_none()
        && incident.recovered_at.is_none()
        && incident.escalated_at.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_is_due_once_unless_acknowledged_or_recovered() {
        let open = Incident {
            escalate_at: Some(100),
            escalate_to: vec!["S0ONCALL".into()],
            ..Incident::default()
        };
        assert!(!escalation_due(&open, 99));
        assert!(escalation_due(&open, 100));
        let acknowledged = Incident {
            acknowledged_at: Some(50),
            ..open.clone()
        };
        assert!(!escalation_due(&acknowledged, 200));
        let recovered = Incident {
            recovered_at: Some(60),
            ..open.clone()
        };
        assert!(!escalation_due(&recovered, 200));
        let done = Incident {
            escalated_at: Some(150),
            ..open.clone()
        };
        assert!(!escalation_due(&done, 200));
        let nobody = Incident {
            escalate_to: vec![],
            ..open
        };
        assert!(!escalation_due(&nobody, 200));
    }
}
