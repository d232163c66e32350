//! Checks started before the answer is ready: as soon as the task, its task definition
//! and its service are known, the rules are asked (on that evidence, without logs) which
//! checks they want, and those that need no logs start beside the log read. Confirming
//! later reuses what they found and runs only what the final diagnosis asks in addition,
//! so the probes add no round trip to the answer when the cause does not hang on the
//! logs (what changed, the image, the secrets, the subnet, the memory graph).

use crate::diagnose::diagnose;
use crate::evidence::probes::CheckRequest;
use crate::evidence::{Evidence, ProbeResults};
use crate::gather::{EarlyLook, Gatherer};
use futures::future::{BoxFuture, FutureExt, Shared};
use std::sync::{Arc, Mutex};
use tracing::Instrument;

/// What each early check found.
pub type Found = Arc<Vec<(CheckRequest, ProbeResults)>>;

/// The early checks of one investigation, running or done; shared by its clones.
#[derive(Clone)]
pub struct EarlyChecks {
    found: Shared<BoxFuture<'static, Found>>,
}

impl std::fmt::Debug for EarlyChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EarlyChecks")
    }
}

impl EarlyChecks {
    /// A hook for [`Gatherer::gather_with`] that starts the checks with `gatherer`, and
    /// the slot it leaves them in.
    pub fn hook(gatherer: Gatherer) -> (EarlyLook<'static>, Arc<Mutex<Option<EarlyChecks>>>) {
        let slot = Arc::new(Mutex::new(None));
        let filled = slot.clone();
        let hook: EarlyLook<'static> = Box::new(move |so_far: &Evidence| {
            let requests: Vec<CheckRequest> = diagnose(so_far)
                .checks
                .into_iter()
                .filter(|r| !r.needs_logs())
                .collect();
            let evidence = so_far.clone();
            // In the asker's span, so the calls are logged with their request id.
            let running = tokio::spawn(
                async move { Arc::new(gatherer.probe_each(&evidence, &requests).await) }
                    .instrument(tracing::Span::current()),
            );
            let found = async move { running.await.unwrap_or_default() }
                .boxed()
                .shared();
            if let Ok(mut slot) = filled.lock() {
                *slot = Some(EarlyChecks { found });
            }
        });
        (hook, slot)
    }

    /// What the early checks found, once they end.
    pub async fn found(&self) -> Found {
        self.found.clone().await
    }
}

/// Run the checks `evidence`'s diagnosis asks for with `gatherer`, reusing what `early`
/// found for the same requests, and put the results on the evidence in the order asked.
pub async fn confirm(
    gatherer: &Gatherer,
    evidence: &Evidence,
    early: Option<&EarlyChecks>,
) -> Evidence {
    let asked = diagnose(evidence).checks;
    let done = match early {
        Some(early) => early.found().await,
        None => Found::default(),
    };
    let missing: Vec<CheckRequest> = asked
        .iter()
        .filter(|r| !done.iter().any(|(d, _)| d == *r))
        .cloned()
        .collect();
    let fresh = gatherer.probe_each(evidence, &missing).await;
    let mut results = ProbeResults::default();
    for request in &asked {
        let found = done
            .iter()
            .chain(fresh.iter())
            .find(|(r, _)| r == request)
            .map(|(_, found)| found.clone());
        if let Some(found) = found {
            results.merge(found);
        }
    }
    let mut evidence = evidence.clone();
    evidence.probes = Some(results);
    evidence
}
