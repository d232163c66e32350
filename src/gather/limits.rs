//! Rate limits for CloudTrail look-ups.
//!
//! CloudTrail's LookupEvents allows 2 calls per second per account and region. Every
//! `Gatherer` in the process draws from one keyed `governor` limiter, keyed by
//! account and region, so a busy Slack channel cannot get the bot throttled.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::LazyLock;

/// LookupEvents calls allowed per second per account and region (AWS's own limit); also
/// the burst, so an idle account can make two calls at once.
pub const CLOUDTRAIL_PER_SECOND: NonZeroU32 = match NonZeroU32::new(2) {
    Some(rate) => rate,
    None => panic!("the CloudTrail rate is not zero"),
};

/// A limiter allowing `per_second` calls a second per key, at most `burst` at once.
fn keyed_limiter(per_second: NonZeroU32, burst: NonZeroU32) -> DefaultKeyedRateLimiter<String> {
    RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
}

static CLOUDTRAIL: LazyLock<DefaultKeyedRateLimiter<String>> =
    LazyLock::new(|| keyed_limiter(CLOUDTRAIL_PER_SECOND, CLOUDTRAIL_PER_SECOND));

/// The process-wide CloudTrail allowance of one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudTrailQuota {
    key: String,
}

impl CloudTrailQuota {
    pub fn new(account: &str, region: &str) -> CloudTrailQuota {
        CloudTrailQuota {
            key: format!("{account}/{region}"),
        }
    }

    /// Wait until this account and region may make another LookupEvents call.
    pub async fn until_ready(&self) {
        CLOUDTRAIL.until_key_ready(&self.key).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn rate(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
    }

    #[tokio::test]
    async fn calls_are_spaced_after_the_burst() {
        // 20/s with a burst of 2: same shape as CloudTrail's 2/s, ten times faster.
        let limiter = keyed_limiter(rate(20), rate(2));
        let key = "111111111111/us-east-1".to_string();
        let start = Instant::now();
        for _ in 0..6 {
            limiter.until_key_ready(&key).await;
        }
        // Two free, then four more at 20/s: 200 ms.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    }

    #[test]
    fn allowances_are_per_account_and_region() {
        let limiter = keyed_limiter(rate(2), rate(2));
        let here = CloudTrailQuota::new("111111111111", "us-east-1");
        let there = CloudTrailQuota::new("111111111111", "eu-west-1");
        assert_eq!(here, CloudTrailQuota::new("111111111111", "us-east-1"));
        assert_ne!(here, there);
        assert!(limiter.check_key(&here.key).is_ok());
        assert!(limiter.check_key(&here.key).is_ok());
        assert!(limiter.check_key(&here.key).is_err(), "the burst is spent");
        assert!(
            limiter.check_key(&there.key).is_ok(),
            "another region is not"
        );
    }
}
