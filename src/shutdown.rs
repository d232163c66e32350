//! Graceful shutdown: stop taking new work on SIGTERM or Ctrl-C, finish what is in flight.
//!
//! ECS sends SIGTERM, waits the task definition's `stopTimeout` (30 s in
//! `deploy/cloudformation.yml`), then SIGKILLs (exit 137). The bot therefore:
//!
//! 1. waits for [`signal`] (SIGTERM or Ctrl-C),
//! 2. calls [`Shutdown::begin`]: the HTTP server, given [`Shutdown::cancelled`] as its
//!    graceful-shutdown future, stops accepting connections; Socket Mode stops reading,
//! 3. calls [`Shutdown::drain`] with [`DRAIN_LIMIT`] (25 s): every diagnosis and Slack post
//!    started through [`Shutdown::spawn`] gets that long to finish,
//! 4. exits 0.
//!
//! ```no_run
//! # async fn example() {
//! use ecs_why::shutdown::{self, Shutdown, DRAIN_LIMIT};
//! let shutdown = Shutdown::new();
//! let signal = shutdown::signal(); // handlers are registered here, before serving
//! // axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled()) ...
//! // in handlers, after the ack: shutdown.spawn(async { /* diagnose and post */ });
//! let received = signal.await;
//! tracing::info!(?received, in_flight = shutdown.in_flight(), "shutting down");
//! shutdown.begin();
//! let outcome = shutdown.drain(DRAIN_LIMIT).await;
//! tracing::info!(?outcome, "drained");
//! # }
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

/// How long in-flight work may run after the stop signal: inside ECS's 30 s `stopTimeout`,
/// with room left to flush logs and exit.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(25);

/// How long work that was already running at the stop signal may still take before its
/// asker is told to ask again: inside [`DRAIN_LIMIT`], leaving time to post that reply.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(20);

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: ECS (or `docker stop`) is stopping the task.
    Terminate,
    /// SIGINT: Ctrl-C in a terminal.
    Interrupt,
}

/// A future that resolves on the first SIGTERM or Ctrl-C.
///
/// The handlers are registered when this is called, not when the future is first
/// polled, so a signal that arrives in between is not lost. Once registered, those
/// signals no longer kill the process: call this only where the result is awaited.
///
/// Must be called inside a Tokio runtime. If a handler cannot be registered (the OS
/// refused), the error is logged and the future waits for the other signal only.
pub fn signal() -> impl Future<Output = Signal> + Send + 'static {
    imp::signal()
}

#[cfg(unix)]
mod imp {
    use super::Signal;
    use std::future::Future;
    use tokio::signal::unix::{signal as listen, SignalKind};

    pub(super) fn signal() -> impl Future<Output = Signal> + Send + 'static {
        let terminate = listen(SignalKind::terminate())
            .map_err(|error| tracing::error!(%error, "cannot listen for SIGTERM"))
            .ok();
        let interrupt = listen(SignalKind::interrupt())
            .map_err(|error| tracing::error!(%error, "cannot listen for SIGINT"))
            .ok();
        async move {
            let term = async {
                match terminate {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match interrupt {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = term => Signal::Terminate,
                () = int => Signal::Interrupt,
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::Signal;
    use std::future::Future;

    pub(super) fn signal() -> impl Future<Output = Signal> + Send + 'static {
        async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::error!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            Signal::Interrupt
        }
    }
}

/// Shared shutdown state: a "stop accepting" token and a tracker of in-flight jobs.
/// Clone it into every handler; all clones share the same state.
#[derive(Debug, Clone)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
    /// [`ANSWER_LIMIT`] unless set otherwise, in milliseconds.
    answer_limit_ms: Arc<AtomicU64>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            token: CancellationToken::new(),
            tracker: TaskTracker::new(),
            answer_limit_ms: Arc::new(AtomicU64::new(millis(ANSWER_LIMIT))),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// How [`Shutdown::drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every tracked job finished.
    Complete {
        /// How long the wait took.
        waited: Duration,
    },
    /// The limit passed with jobs still running; they are abandoned.
    TimedOut {
        /// Jobs still running at the limit.
        remaining: usize,
    },
}

impl Shutdown {
    /// Fresh state: not shutting down, nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `job` on the Tokio runtime as tracked in-flight work that [`Shutdown::drain`]
    /// waits for. Use it for everything that must not be lost: diagnoses, Slack posts.
    /// Jobs spawned during the drain (a thread reply after a card) are waited for too.
    pub fn spawn<F>(&self, job: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(job)
    }

    /// Jobs started by [`Shutdown::spawn`] that have not finished.
    pub fn in_flight(&self) -> usize {
        self.tracker.len()
    }

    /// Starts shutting down: [`Shutdown::cancelled`] futures resolve, so servers stop
    /// accepting. In-flight jobs keep running. Calling it again does nothing.
    pub fn begin(&self) {
        self.token.cancel();
    }

    /// True once [`Shutdown::begin`] was called: refuse new work (e.g. answer a new
    /// command with "restarting, try again in a few seconds").
    pub fn is_shutting_down(&self) -> bool {
        self.token.is_cancelled()
    }

    /// A future that resolves when shutdown begins; `'static`, so it can be handed to
    /// `axum::serve(..).with_graceful_shutdown(..)` or a Socket Mode loop.
    pub fn cancelled(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }

    /// How long running work may take after the stop signal (see [`ANSWER_LIMIT`]);
    /// shared by every clone. Tests shorten it.
    pub fn set_answer_limit(&self, limit: Duration) {
        self.answer_limit_ms.store(millis(limit), Ordering::Relaxed);
    }

    /// Resolves once shutdown has begun and the answer limit has passed since: work
    /// still running then gives up and tells its asker to ask again.
    pub async fn answer_deadline(&self) {
        self.token.cancelled().await;
        let limit = Duration::from_millis(self.answer_limit_ms.load(Ordering::Relaxed));
        tokio::time::sleep(limit).await;
    }

    /// The underlying token, for child tokens or `select!`.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Begins shutdown (if not yet) and waits up to `limit` for every tracked job to
    /// finish. Jobs still running at the limit are left to be killed with the process.
    pub async fn drain(&self, limit: Duration) -> Drained {
        self.begin();
        self.tracker.close();
        let started = Instant::now();
        match tokio::time::timeout(limit, self.tracker.wait()).await {
            Ok(()) => Drained::Complete {
                waited: started.elapsed(),
            },
            Err(_) => {
                let remaining = self.tracker.len();
                tracing::warn!(
                    remaining,
                    limit_secs = limit.as_secs_f64(),
                    "shutdown drain limit reached; abandoning in-flight work"
                );
                Drained::TimedOut { remaining }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn drain_waits_for_in_flight_jobs() {
        let shutdown = Shutdown::new();
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..5u64 {
            let done = done.clone();
            shutdown.spawn(async move {
                tokio::time::sleep(Duration::from_millis(20 * i)).await;
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        assert_eq!(shutdown.in_flight(), 5);
        let outcome = shutdown.drain(Duration::from_secs(5)).await;
        assert!(matches!(outcome, Drained::Complete { .. }), "{outcome:?}");
        assert_eq!(done.load(Ordering::SeqCst), 5);
        assert_eq!(shutdown.in_flight(), 0);
        assert!(shutdown.is_shutting_down());
    }

    #[tokio::test]
    async fn drain_gives_up_at_the_limit() {
        let shutdown = Shutdown::new();
        shutdown.spawn(async { tokio::time::sleep(Duration::from_secs(60)).await });
        shutdown.spawn(async {});
        let started = Instant::now();
        let outcome = shutdown.drain(Duration::from_millis(100)).await;
        let took = started.elapsed();
        assert_eq!(outcome, Drained::TimedOut { remaining: 1 });
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[tokio::test]
    async fn jobs_spawned_while_draining_are_waited_for() {
        let shutdown = Shutdown::new();
        let posted = Arc::new(AtomicUsize::new(0));
        let inner = shutdown.clone();
        let counter = posted.clone();
        // A card is posted, then its thread reply is spawned as a job of its own.
        shutdown.spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            counter.fetch_add(1, Ordering::SeqCst);
            let counter = counter.clone();
            inner.spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                counter.fetch_add(1, Ordering::SeqCst);
            });
        });
        let outcome = shutdown.drain(Duration::from_secs(5)).await;
        assert!(matches!(outcome, Drained::Complete { .. }), "{outcome:?}");
        assert_eq!(posted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn begin_resolves_cancelled_for_every_clone() {
        let shutdown = Shutdown::new();
        let server_side = shutdown.clone().cancelled();
        assert!(!shutdown.is_shutting_down());
        let waiter = tokio::spawn(server_side);
        shutdown.begin();
        shutdown.begin();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("cancelled() resolves after begin()")
            .expect("waiter task");
        assert!(shutdown.token().is_cancelled());
    }

    #[tokio::test]
    async fn drain_with_nothing_in_flight_is_immediate() {
        let outcome = Shutdown::new().drain(DRAIN_LIMIT).await;
        match outcome {
            Drained::Complete { waited } => assert!(waited < Duration::from_secs(1)),
            other => panic!("{other:?}"),
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn sigterm_resolves_the_signal_future() {
        // Registered by this call, so the SIGTERM below goes to it and does not kill the
        // test process.
        let received = signal();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let got = tokio::time::timeout(Duration::from_secs(5), received)
            .await
            .expect("signal future resolves on SIGTERM");
        assert_eq!(got, Signal::Terminate);
    }
}
