//! What keeps an incident storm (many people asking at once) cheap and quiet.
//!
//! - [`Coalescer`]: identical requests within a few seconds share one diagnosis, and
//!   askers of the same task in the same channel share one posted card.
//! - [`RateLimiter`]: each user gets a number of requests per minute.
//! - [`Seen`]: Events API deliveries already handled (Slack retries them).
//!
//! The bound on AWS work in flight is a plain `tokio::sync::Semaphore` in `bot.rs`;
//! background jobs are tracked by [`crate::shutdown::Shutdown`] so SIGTERM can drain them.

use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

type SharedResult<V> = Shared<BoxFuture<'static, V>>;

/// Runs one future per key at a time, and hands its result to everyone who asks for
/// the same key while it runs or within `window` after it started.
pub struct Coalescer<K, V: Clone> {
    window: Duration,
    entries: Mutex<HashMap<K, (Instant, SharedResult<V>)>>,
}

impl<K: Hash + Eq + Clone, V: Clone + Send + Sync + 'static> Coalescer<K, V> {
    pub fn new(window: Duration) -> Self {
        Coalescer {
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The shared result for `key`, starting `make()` only if no fresh one exists.
    /// Returns whether this call started the work.
    pub fn get<F, Fut>(&self, key: K, make: F) -> (SharedResult<V>, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        let window = self.window;
        entries.retain(|_, (started, fut)| {
            now.duration_since(*started) < window || fut.peek().is_none()
        });
        if let Some((_, fut)) = entries.get(&key) {
            return (fut.clone(), false);
        }
        let fut = make().boxed().shared();
        entries.insert(key, (now, fut.clone()));
        (fut, true)
    }

    /// Forget `key` at once (e.g. its work failed and the next caller should try
    /// again instead of sharing the failure).
    pub fn forget(&self, key: &K) {
        lock(&self.entries).remove(key);
    }

    /// Keys currently remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// At most `limit` requests per user in any sliding minute.
pub struct RateLimiter {
    limit: u32,
    period: Duration,
    users: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(limit: u32, period: Duration) -> Self {
        RateLimiter {
            limit,
            period,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Record a request; `Err(wait)` when the user is over the limit.
    pub fn check(&self, user: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut users = lock(&self.users);
        if users.len() > 10_000 {
            let period = self.period;
            users.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < period)
            });
        }
        let times = users.entry(user.to_string()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.period)
        {
            times.pop_front();
        }
        if times.len() >= self.limit as usize {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(self.period.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

/// Ids seen recently (an hour: Slack retries within minutes).
pub struct Seen {
    ttl: Duration,
    ids: Mutex<HashMap<String, Instant>>,
}

impl Seen {
    pub fn new(ttl: Duration) -> Self {
        Seen {
            ttl,
            ids: Mutex::new(HashMap::new()),
        }
    }

    /// True the first time an id is offered, false for repeats within the ttl.
    pub fn first_time(&self, id: &str) -> bool {
        let now = Instant::now();
        let mut ids = lock(&self.ids);
        if ids.len() > 10_000 {
            let ttl = self.ttl;
            ids.retain(|_, t| now.duration_since(*t) < ttl);
        }
        match ids.get(id) {
            Some(t) if now.duration_since(*t) < self.ttl => false,
            _ => {
                ids.insert(id.to_string(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn identical_requests_run_once() {
        let runs = Arc::new(AtomicU32::new(0));
        let c: Coalescer<&str, u32> = Coalescer::new(Duration::from_secs(5));
        let mut futs = Vec::new();
        let mut started = 0;
        for _ in 0..10 {
            let runs = runs.clone();
            let (f, first) = c.get("task", move || async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                runs.fetch_add(1, Ordering::SeqCst) + 1
            });
            started += first as u32;
            futs.push(f);
        }
        let results = futures::future::join_all(futs).await;
        assert!(results.iter().all(|r| *r == 1));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(started, 1);
        let (other, first) = c.get("other-task", || async { 7 });
        assert!(first);
        assert_eq!(other.await, 7);
    }

    #[tokio::test]
    async fn stale_entries_are_forgotten() {
        let c: Coalescer<u8, u8> = Coalescer::new(Duration::from_millis(10));
        assert_eq!(c.get(1, || async { 1 }).0.await, 1);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (f, first) = c.get(1, || async { 2 });
        assert!(first);
        assert_eq!(f.await, 2);
        assert_eq!(c.len(), 1);
    }

    #[tokio::test]
    async fn a_forgotten_key_starts_fresh_work() {
        let c: Coalescer<u8, u8> = Coalescer::new(Duration::from_secs(60));
        assert_eq!(c.get(1, || async { 1 }).0.await, 1);
        assert!(
            !c.get(1, || async { 2 }).1,
            "still shared within the window"
        );
        c.forget(&1);
        let (f, first) = c.get(1, || async { 3 });
        assert!(first);
        assert_eq!(f.await, 3);
    }

    #[test]
    fn per_user_limit() {
        let r = RateLimiter::new(2, Duration::from_secs(60));
        assert!(r.check("U1").is_ok());
        assert!(r.check("U1").is_ok());
        let wait = r.check("U1").unwrap_err();
        assert!(wait > Duration::from_secs(58));
        assert!(r.check("U2").is_ok());
    }

    #[test]
    fn seen_once() {
        let s = Seen::new(Duration::from_secs(60));
        assert!(s.first_time("Ev1"));
        assert!(!s.first_time("Ev1"));
        assert!(s.first_time("Ev2"));
    }
}
