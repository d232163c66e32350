//! A small bounded cache for task definitions, and single-flight sharing of calls.
//!
//! Task definitions are immutable per ARN, so a cached one never goes stale. The map is
//! bounded: past `capacity` entries the oldest insertion is dropped.

use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// A bounded, insertion-ordered map behind a mutex. Values are cloned out.
#[derive(Debug)]
pub struct BoundedCache<K, V> {
    capacity: usize,
    inner: Mutex<(HashMap<K, V>, VecDeque<K>)>,
}

impl<K: Eq + Hash + Clone, V: Clone> BoundedCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        BoundedCache {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0.get(key).cloned()
    }

    pub fn insert(&self, key: K, value: V) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (map, order) = &mut *inner;
        if map.insert(key.clone(), value).is_none() {
            order.push_back(key);
        }
        while map.len() > self.capacity {
            match order.pop_front() {
                Some(oldest) => {
                    map.remove(&oldest);
                }
                None => break,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_the_oldest_past_capacity() {
        let cache = BoundedCache::new(2);
        cache.insert("a", 1);
        cache.insert("b", 2);
        cache.insert("a", 10);
        cache.insert("c", 3);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&"a"), None);
        assert_eq!(cache.get(&"b"), Some(2));
        assert_eq!(cache.get(&"c"), Some(3));
    }
}

/// Concurrent asks for the same key share one call ("single flight"): the first caller's
/// future runs, later callers await its result, and the key is released when it ends.
pub struct SingleFlight<K, V: Clone> {
    in_flight: Arc<Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>>,
}

impl<K, V: Clone> Default for SingleFlight<K, V> {
    fn default() -> Self {
        SingleFlight {
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The result of `make()` for `key`, shared with every concurrent caller of the key.
    pub async fn run<F>(&self, key: K, make: impl FnOnce() -> F) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let shared = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            match in_flight.get(&key) {
                Some(existing) => existing.clone(),
                None => {
                    let registry = self.in_flight.clone();
                    let done = key.clone();
                    let call = make();
                    let shared = async move {
                        let value = call.await;
                        registry
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .remove(&done);
                        value
                    }
                    .boxed()
                    .shared();
                    in_flight.insert(key, shared.clone());
                    shared
                }
            }
        };
        shared.await
    }
}

#[cfg(test)]
mod single_flight_tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_asks_share_one_call_and_later_asks_call_again() {
        let flight: SingleFlight<&str, usize> = SingleFlight::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let ask = || {
            let calls = calls.clone();
            flight.run("task-def:7", move || async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                calls.fetch_add(1, Ordering::SeqCst) + 1
            })
        };
        let answers = futures::future::join_all((0..5).map(|_| ask())).await;
        assert_eq!(answers, vec![1; 5]);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(ask().await, 2, "a finished call is not reused");
    }
}
