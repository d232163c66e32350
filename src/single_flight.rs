//! One run of a piece of work per key while it is in flight: callers that ask for the
//! same key at the same time share the first caller's run; once it ends, the next asker
//! runs it again (nothing is cached after). Used where identical look-ups arrive
//! together: CloudTrail for one task, the probes of one task asked in several channels.

use moka::future::Cache;
use std::future::Future;
use std::hash::Hash;

/// Work shared by concurrent callers with the same key.
#[derive(Clone)]
pub struct SingleFlight<K, V> {
    in_flight: Cache<K, V>,
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// At most `capacity` keys in flight at once (each is dropped when its run ends).
    pub fn new(capacity: u64) -> SingleFlight<K, V> {
        SingleFlight {
            in_flight: Cache::new(capacity),
        }
    }

    /// `work`'s answer for `key`, or the answer of the run already in flight for it.
    pub async fn run(&self, key: &K, work: impl Future<Output = V>) -> V
    where
        K: Clone,
    {
        let answer = self.in_flight.get_with_by_ref(key, work).await;
        // Shared only while in flight: a later caller runs the work again.
        self.in_flight.invalidate(key).await;
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_run_and_a_later_one_runs_again() {
        let flight: SingleFlight<&str, usize> = SingleFlight::new(8);
        let runs = Arc::new(AtomicUsize::new(0));
        let work = || {
            let runs = runs.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                runs.fetch_add(1, Ordering::SeqCst) + 1
            }
        };
        let (a, b) = tokio::join!(flight.run(&"task", work()), flight.run(&"task", work()));
        assert_eq!((a, b), (1, 1));
        assert_eq!(flight.run(&"task", work()).await, 2);
    }
}
