//! Rate limits for CloudTrail look-ups.
//!
//! CloudTrail's LookupEvents allows 2 calls per second per account and region. Every
//! `Gatherer` in the process draws from one token bucket per account+region, so a busy
//! Slack channel cannot get the bot throttled. Time comes from tokio, so tests can pause it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// LookupEvents calls allowed per second per account and region (AWS's own limit).
pub const CLOUDTRAIL_PER_SECOND: f64 = 2.0;

/// A small token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Option<Instant>)>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            state: Mutex::new((burst, None)),
        }
    }

    /// Wait until a token is free, then take it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let (tokens, last) = &mut *state;
                if let Some(last) = *last {
                    let elapsed = now.saturating_duration_since(last).as_secs_f64();
                    *tokens = (*tokens + elapsed * self.rate).min(self.burst);
                }
                *last = Some(now);
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - *tokens) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

static CLOUDTRAIL_BUCKETS: LazyLock<Mutex<HashMap<String, Arc<TokenBucket>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The process-wide CloudTrail bucket for one account and region.
pub fn cloudtrail_bucket(account: &str, region: &str) -> Arc<TokenBucket> {
    let mut buckets = CLOUDTRAIL_BUCKETS.lock().unwrap_or_else(|e| e.into_inner());
    buckets
        .entry(format!("{account}/{region}"))
        .or_insert_with(|| {
            Arc::new(TokenBucket::new(
                CLOUDTRAIL_PER_SECOND,
                CLOUDTRAIL_PER_SECOND,
            ))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bucket_spaces_calls_after_the_burst() {
        // 20/s with a burst of 2: same shape as CloudTrail's 2/s, ten times faster.
        let bucket = TokenBucket::new(20.0, 2.0);
        let start = Instant::now();
        for _ in 0..6 {
            bucket.acquire().await;
        }
        // Two free, then four more at 20/s: 200 ms.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    }

    #[test]
    fn buckets_are_per_account_and_region() {
        let a = cloudtrail_bucket("111111111111", "us-east-1");
        let b = cloudtrail_bucket("111111111111", "us-east-1");
        let c = cloudtrail_bucket("111111111111", "eu-west-1");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
