//! What keeps an incident storm (many people asking at once) cheap and quiet.
//!
//! - [`Coalescer`]: identical requests within a few seconds share one diagnosis, and
//!   askers of the same task in the same channel share one posted card. A
//!   `moka::future::Cache` with a time to live: concurrent loads of one key run once and
//!   everyone waiting gets the result.
//! - [`RateLimiter`]: each user gets a number of requests per minute (a `governor`
//!   keyed rate limiter).
//!
//! Events API deliveries already handled (Slack retries them) are remembered in the
//! shared [`crate::state`] store, so two replicas do not both answer a retry.
//!
//! The bound on AWS work in flight is a plain `tokio::sync::Semaphore` in `bot.rs`;
//! background jobs are tracked by [`crate::shutdown::Shutdown`] so SIGTERM can drain them.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::future::Future;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Keys remembered at most; far more than a storm has (they expire within the window).
const MAX_KEYS: u64 = 100_000;
/// Users tracked before those idle long enough to be back at full allowance are dropped.
const MAX_TRACKED_USERS: usize = 10_000;

/// Hands one result per key to everyone who asks for it while it is being computed or
/// within `window` after it was.
pub struct Coalescer<K, V> {
    cache: moka::future::Cache<K, V>,
}

/// A result from [`Coalescer::try_get`], and whether this caller's work produced it.
#[derive(Debug)]
pub struct Coalesced<T> {
    pub result: T,
    /// True for the one caller whose `make` ran; false for those who shared its result.
    pub started_here: bool,
}

impl<K, V> Coalescer<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(window: Duration) -> Self {
        Coalescer {
            cache: moka::future::Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_live(window)
                .build(),
        }
    }

    /// The shared value for `key`, awaiting `make` only if no fresh one exists (or is
    /// being made by someone else, whose result is then shared).
    pub async fn get(&self, key: K, make: impl Future<Output = V>) -> V {
        self.cache.get_with(key, make).await
    }

    /// Like [`Coalescer::get`] for work that can fail: a failure reaches everyone who was
    /// waiting for that attempt, but it is not kept, so the next caller tries again.
    pub async fn try_get<E>(
        &self,
        key: K,
        make: impl Future<Output = Result<V, E>>,
    ) -> Coalesced<Result<V, Arc<E>>>
    where
        E: Send + Sync + 'static,
    {
        let started = AtomicBool::new(false);
        let result = self
            .cache
            .entry(key)
            .or_try_insert_with(async {
                started.store(true, Ordering::Relaxed);
                make.await
            })
            .await
            .map(|entry| entry.into_value());
        Coalesced {
            result,
            started_here: started.load(Ordering::Relaxed),
        }
    }

    /// Forget `key` at once, so the next caller starts fresh work.
    pub async fn forget(&self, key: &K) {
        self.cache.invalidate(key).await;
    }

    /// Keys currently remembered (for tests and metrics).
    pub async fn remembered(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}

/// At most `limit` requests per user per minute, with bursts up to `limit`.
pub struct RateLimiter {
    users: DefaultKeyedRateLimiter<String>,
}

impl RateLimiter {
    /// `per_minute` is clamped to at least 1.
    pub fn per_minute(per_minute: u32) -> Self {
        let limit = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        RateLimiter {
            users: DefaultKeyedRateLimiter::keyed(Quota::per_minute(limit)),
        }
    }

    /// Record a request; `Err(wait)` when the user is over the limit, with how long until
    /// they may ask again.
    pub fn check(&self, user: &str) -> Result<(), Duration> {
        if self.users.len() > MAX_TRACKED_USERS {
            self.users.retain_recent();
        }
        self.users
            .check_key(&user.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test]
    async fn identical_requests_run_once() {
        let runs = Arc::new(AtomicU32::new(0));
        let c: Coalescer<&str, u32> = Coalescer::new(Duration::from_secs(5));
        let asks = (0..10).map(|_| {
            let runs = runs.clone();
            c.try_get("task", async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok::<_, ()>(runs.fetch_add(1, Ordering::SeqCst) + 1)
            })
        });
        let results = futures::future::join_all(asks).await;
        assert!(results.iter().all(|r| r.result == Ok(1)));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let started = results.iter().filter(|r| r.started_here).count();
        assert_eq!(started, 1);
        let other = c.try_get("other-task", async { Ok::<_, ()>(7) }).await;
        assert!(other.started_here);
        assert_eq!(other.result, Ok(7));
        // The infallible form shares the same way.
        assert_eq!(c.get("task", async { 99 }).await, 1);
    }

    #[tokio::test]
    async fn stale_entries_are_forgotten() {
        let c: Coalescer<u8, u8> = Coalescer::new(Duration::from_millis(10));
        assert_eq!(c.get(1, async { 1 }).await, 1);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let fresh = c.try_get(1, async { Ok::<_, ()>(2) }).await;
        assert!(fresh.started_here);
        assert_eq!(fresh.result, Ok(2));
        assert_eq!(c.remembered().await, 1);
    }

    #[tokio::test]
    async fn a_forgotten_key_starts_fresh_work() {
        let c: Coalescer<u8, u8> = Coalescer::new(Duration::from_secs(60));
        assert_eq!(c.get(1, async { 1 }).await, 1);
        assert!(
            !c.try_get(1, async { Ok::<_, ()>(2) }).await.started_here,
            "still shared within the window"
        );
        c.forget(&1).await;
        let fresh = c.try_get(1, async { Ok::<_, ()>(3) }).await;
        assert!(fresh.started_here);
        assert_eq!(fresh.result, Ok(3));
    }

    #[tokio::test]
    async fn a_failure_is_shared_by_its_waiters_but_not_kept() {
        let c: Coalescer<u8, u8> = Coalescer::new(Duration::from_secs(60));
        let asks = (0..5).map(|_| {
            c.try_get(1, async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err::<u8, _>("post failed")
            })
        });
        let results = futures::future::join_all(asks).await;
        assert_eq!(results.iter().filter(|r| r.started_here).count(), 1);
        assert!(results
            .iter()
            .all(|r| r.result.as_ref().map_err(|e| **e) == Err("post failed")));
        let next = c.try_get(1, async { Ok::<_, &str>(4) }).await;
        assert!(next.started_here, "the failure was not kept");
        assert_eq!(next.result.map_err(|e| *e), Ok(4));
    }

    #[test]
    fn per_user_limit() {
        let r = RateLimiter::per_minute(2);
        assert!(r.check("U1").is_ok());
        assert!(r.check("U1").is_ok());
        let wait = r.check("U1").unwrap_err();
        // Two a minute: the next request is allowed once half a minute has passed.
        assert!(wait > Duration::from_secs(28), "{wait:?}");
        assert!(wait <= Duration::from_secs(30), "{wait:?}");
        assert!(r.check("U2").is_ok());
    }
}
