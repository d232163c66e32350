//! A replica's hold on an action while it works on it: the offer's "started" key and the
//! service's key, renewed every third of [`ACTION_LEASE`] while the replica is alive.
//! A replica that dies (SIGKILL, a lost host) lets go within the lease, so the next
//! press takes the action over rather than being told to wait forever. A renewal that
//! finds the key taken means another replica took over: [`Lease::lost`] says so and the
//! holder stops speaking for the action.

use super::ACTION_LEASE;
use crate::state::StateStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Holds `keys` with one value until finished or dropped.
pub struct Lease {
    shared: Arc<Shared>,
    renewal: tokio::task::JoinHandle<()>,
}

struct Shared {
    state: Arc<dyn StateStore>,
    keys: Vec<String>,
    value: String,
    lost: AtomicBool,
}

impl Shared {
    async fn renew(&self) {
        let value = &self.value;
        for key in &self.keys {
            match self.state.replace(key, value, value, ACTION_LEASE).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        key,
                        "an action's hold was taken over; this replica stops speaking for it"
                    );
                    self.lost.store(true, Ordering::SeqCst);
                }
                // Tried again at the next turn; the lease outlives two failed renewals.
                Err(e) => tracing::warn!(error = %e, key, "could not renew an action's hold"),
            }
        }
    }
}

impl Lease {
    /// Keep `keys` (already held with `value`) held while this lives.
    pub fn keep(state: Arc<dyn StateStore>, keys: Vec<String>, value: String) -> Lease {
        let shared = Arc::new(Shared {
            state,
            keys,
            value,
            lost: AtomicBool::new(false),
        });
        let renewing = shared.clone();
        let renewal = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ACTION_LEASE / 3).await;
                renewing.renew().await;
            }
        });
        Lease { shared, renewal }
    }

    /// Another replica holds the action now.
    pub fn lost(&self) -> bool {
        self.shared.lost.load(Ordering::SeqCst)
    }

    /// Stop renewing: the first key (the offer's) keeps `done` for `keep`, the others are
    /// let go.
    pub async fn finish(self, done: &str, keep: std::time::Duration) {
        self.renewal.abort();
        let value = &self.shared.value;
        let state = &self.shared.state;
        for (i, key) in self.shared.keys.iter().enumerate() {
            let result = if i == 0 {
                state.replace(key, value, done, keep).await.map(|_| ())
            } else {
                state.release(key, value).await
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, key, "could not record the end of an action");
            }
        }
    }

    /// Stop renewing and let go of every key (the action did not happen).
    pub async fn release(self) {
        self.renewal.abort();
        let value = &self.shared.value;
        for key in &self.shared.keys {
            if let Err(e) = self.shared.state.release(key, value).await {
                tracing::warn!(error = %e, key, "could not let go of an action");
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}
