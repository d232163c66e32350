//! Polling until something holds, for tests that watch a server from outside: on
//! time-out the panic carries what was awaited and the server's logs.

use std::future::Future;
use std::time::{Duration, Instant};

/// Poll `check` every `every` until it gives a value; after `limit`, panic naming `what`
/// with `logs()`.
pub async fn until_some<T, F, Fut>(
    limit: Duration,
    every: Duration,
    what: &str,
    logs: impl Fn() -> String,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "not within {limit:?}: {what}\n--- logs ---\n{}",
            logs()
        );
        tokio::time::sleep(every).await;
    }
}

/// [`until_some`] for a check that only holds or not.
pub async fn until<F, Fut>(
    limit: Duration,
    every: Duration,
    what: &str,
    logs: impl Fn() -> String,
    mut check: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until_some(limit, every, what, logs, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
}
