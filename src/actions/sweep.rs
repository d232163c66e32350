//! Finishing the actions of replicas that went away, without waiting for a press.
//!
//! Every replica with `[actions]` looks every 15 s at the actions listed as running
//! ([`super::RUNNING`]). One whose hold ran out (its replica died: the lease was not
//! renewed) and whose attempt is recorded is taken over with the same conditional
//! write a press uses, so one replica picks it up; it then watches the deployment the
//! attempt recorded (or, if the replica died around the call, the one the service began
//! after it, or makes the call the person confirmed) and tells the outcome in the
//! thread, as if it had started it. Finished and abandoned entries leave the list.

use super::lease::Lease;
use super::press::{Actions, Press};
use super::{Attempt, Offer, Started, ACTION_LEASE};
use crate::shutdown::Shutdown;
use crate::state;
use std::sync::Arc;
use std::time::Duration;

/// How often every replica looks for actions nobody is doing.
const SWEEP_EVERY: Duration = Duration::from_secs(15);

/// Sweep until shutdown.
pub async fn run(actions: Arc<Actions>, shutdown: Shutdown) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = every.tick() => actions.sweep().await,
        }
    }
}

impl Actions {
    /// One look at the running actions.
    pub async fn sweep(self: &Arc<Self>) {
        let ids = match self.state.listed(super::RUNNING).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the running actions");
                return;
            }
        };
        for id in ids {
            if let Err(e) = self.sweep_one(&id).await {
                tracing::warn!(offer = id, error = e, "could not look at a running action");
            }
        }
    }

    async fn sweep_one(self: &Arc<Self>, id: &str) -> Result<(), String> {
        let store = |e: state::StateError| e.to_string();
        let started_key = super::started_key(id);
        if let Some(holder) = self.state.held(&started_key).await.map_err(store)? {
            // Alive (its lease is renewed) or done (its entry should have gone).
            if serde_json::from_str::<Started>(&holder).is_ok_and(|s| s.done) {
                self.state.unlist(super::RUNNING, id).await.map_err(store)?;
            }
            return Ok(());
        }
        let attempt = self
            .state
            .held(&super::attempt_key(id))
            .await
            .map_err(store)?;
        let offer = self
            .state
            .held(&super::offer_key(id))
            .await
            .map_err(store)?;
        let (Some(attempt), Some(offer)) = (attempt, offer) else {
            // Never called, or long gone: nothing to finish.
            return self.state.unlist(super::RUNNING, id).await.map_err(store);
        };
        let (Ok(attempt), Ok(offer)) = (
            serde_json::from_str::<Attempt>(&attempt),
            serde_json::from_str::<Offer>(&offer),
        ) else {
            return self.state.unlist(super::RUNNING, id).await.map_err(store);
        };
        let Some(role) = self
            .settings
            .actions
            .as_ref()
            .and_then(|a| a.role_for(&offer.account))
            .map(str::to_string)
        else {
            return self.state.unlist(super::RUNNING, id).await.map_err(store);
        };
        let mine = serde_json::to_string(&Started {
            user: attempt.user.clone(),
            at: state::now(),
            kind: offer.kind,
            offer: id.to_string(),
            done: false,
        })
        .unwrap_or_default();
        if self
            .state
            .hold(&started_key, &mine, ACTION_LEASE)
            .await
            .map_err(store)?
            .is_some()
        {
            return Ok(()); // another replica took it first
        }
        if self
            .state
            .hold(&offer.service_key(), &mine, ACTION_LEASE)
            .await
            .map_err(store)?
            .is_some()
        {
            let _ = self.state.release(&started_key, &mine).await;
            return Ok(()); // its service is busy with another action; look again later
        }
        tracing::info!(
            offer = id,
            user = attempt.user,
            "taking over an action whose replica went away"
        );
        let keys = vec![started_key, offer.service_key()];
        let lease = Lease::keep(self.state.clone(), keys, mine);
        let press = Press {
            kind: offer.kind,
            offer_id: id.to_string(),
            user: attempt.user.clone(),
            channel: attempt.channel.clone(),
            card_ts: attempt.card_ts.clone(),
            thread_ts: attempt.thread_ts.clone(),
            card: attempt.card.clone(),
        };
        self.start(press, offer, role, lease).await;
        Ok(())
    }
}
