//! Start-up checks behind `GET /readyz`: named checks (the Slack token, the AWS
//! credentials, the Socket Mode connection) that each say what they still wait for.
//!
//! Its own module so that the HTTP server and Socket Mode can both report to it without
//! importing each other.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Named start-up checks; ready when every registered check has passed.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<Mutex<BTreeMap<String, Option<String>>>>,
}

impl Readiness {
    /// Register a check that has not passed yet; `why` says what is awaited.
    pub fn require(&self, name: &str, why: &str) {
        self.lock().insert(name.to_string(), Some(why.to_string()));
    }

    /// Mark a check as passed.
    pub fn pass(&self, name: &str) {
        self.lock().insert(name.to_string(), None);
    }

    /// Mark a check as failing, with the reason.
    pub fn fail(&self, name: &str, why: &str) {
        self.lock().insert(name.to_string(), Some(why.to_string()));
    }

    /// `Ok` when ready, otherwise what is still failing.
    pub fn status(&self) -> Result<(), Vec<String>> {
        let waiting: Vec<String> = self
            .lock()
            .iter()
            .filter_map(|(name, why)| why.as_ref().map(|w| format!("{name}: {w}")))
            .collect();
        if waiting.is_empty() {
            Ok(())
        } else {
            Err(waiting)
        }
    }

    /// Run `attempt` until it succeeds, waiting 1 s, 2 s, 4 s… (at most a minute)
    /// between tries. Each failure marks check `name` as failing with the reason
    /// `attempt` gives (which names the fix); the first success passes it.
    pub async fn retry_until_passed<F, Fut>(&self, name: &str, mut attempt: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let mut wait = Duration::from_secs(1);
        loop {
            match attempt().await {
                Ok(()) => {
                    self.pass(name);
                    return;
                }
                Err(why) => {
                    tracing::warn!("{why}");
                    self.fail(name, &why);
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(60));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Option<String>>> {
        self.checks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_every_check_passed() {
        let readiness = Readiness::default();
        assert_eq!(readiness.status(), Ok(()));
        readiness.require("slack", "auth.test has not succeeded yet");
        readiness.require("aws", "waiting");
        assert_eq!(
            readiness.status(),
            Err(vec![
                "aws: waiting".to_string(),
                "slack: auth.test has not succeeded yet".to_string()
            ])
        );
        readiness.pass("slack");
        readiness.fail("aws", "refused");
        assert_eq!(readiness.status(), Err(vec!["aws: refused".to_string()]));
        readiness.pass("aws");
        assert_eq!(readiness.status(), Ok(()));
    }

    #[tokio::test]
    async fn retries_until_the_check_passes() {
        let readiness = Readiness::default();
        readiness.require("slack", "not yet");
        let mut tries = 0;
        readiness
            .retry_until_passed("slack", || {
                tries += 1;
                let result = if tries < 2 {
                    Err(format!("try {tries} failed"))
                } else {
                    Ok(())
                };
                async move { result }
            })
            .await;
        assert_eq!(tries, 2);
        assert_eq!(readiness.status(), Ok(()));
    }
}
