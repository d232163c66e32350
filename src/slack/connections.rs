//! Serving HTTP connections with bounds, so idle, silent or slow clients cannot starve
//! the bot.
//!
//! A client gets [`ConnectionLimits::header_read_timeout`] to send its first byte and
//! then a request's headers, and may stay silent between requests for at most
//! [`ConnectionLimits::idle_timeout`]; then its connection is closed. At most
//! [`ConnectionLimits::max_connections`] are open at once, a number sized from the
//! file-descriptor limit in force ([`ConnectionLimits::for_descriptors`]), so the
//! process never reaches that limit (where `accept` fails and `/healthz` stops
//! answering). When every slot is taken, the connection silent the longest (at least
//! [`EVICTABLE_AFTER`]) is closed to make room, so a flood of silent connections cannot
//! keep a health check waiting. [`raise_fd_limit`] lifts the soft limit to the hard one
//! at start.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Bounds on HTTP connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time a client has to send its first byte, and then a request's headers.
    pub header_read_timeout: Duration,
    /// Time a connection may carry nothing before it is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

impl ConnectionLimits {
    /// The default time-outs, with as many connections as `soft_fd_limit` open
    /// descriptors allow once AWS and Slack connections, the listener, logs and files
    /// have theirs: a quarter of the limit, and at least [`RESERVED_DESCRIPTORS`], stay
    /// free for them.
    pub fn for_descriptors(soft_fd_limit: u64) -> ConnectionLimits {
        let reserved = (soft_fd_limit / 4).max(RESERVED_DESCRIPTORS);
        let room = soft_fd_limit.saturating_sub(reserved);
        let max_connections = usize::try_from(room)
            .unwrap_or(MAX_CONNECTIONS)
            .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS);
        ConnectionLimits {
            max_connections,
            ..ConnectionLimits::default()
        }
    }
}

/// Descriptors always left for everything but inbound connections.
pub const RESERVED_DESCRIPTORS: u64 = 64;
/// Bounds on the connection cap, whatever the descriptor limit.
const MIN_CONNECTIONS: usize = 8;
const MAX_CONNECTIONS: usize = 8192;
/// A connection that has carried nothing for this long may be closed to make room.
pub const EVICTABLE_AFTER: Duration = Duration::from_secs(1);
/// How often a full server looks again for a connection silent long enough to close.
const EVICTION_RECHECK: Duration = Duration::from_millis(250);
/// Pause after a failed `accept` (out of descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The open connections, so the one silent the longest can be closed for a new one.
#[derive(Default)]
struct OpenConnections {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl OpenConnections {
    fn register(self: &Arc<Self>, activity: Arc<Activity>) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, activity);
        Registered {
            id,
            open: self.clone(),
        }
    }

    /// Ask the connection silent the longest (at least [`EVICTABLE_AFTER`]) to close,
    /// unless one asked before is still closing.
    fn evict_the_most_silent(&self) {
        let open = self.lock();
        if open
            .values()
            .any(|activity| activity.evicted.is_cancelled())
        {
            return;
        }
        let victim = open
            .values()
            .map(|activity| (activity.idle_for(), activity))
            .filter(|(idle, _)| *idle >= EVICTABLE_AFTER)
            .max_by_key(|(idle, _)| *idle);
        match victim {
            Some((_, activity)) => activity.evicted.cancel(),
            None => tracing::debug!("every connection slot is busy; new connections wait"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        // A panic while holding the lock leaves a plain map behind: still usable.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A connection's entry in [`OpenConnections`], removed when it closes.
struct Registered {
    id: u64,
    open: Arc<OpenConnections>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.open.lock().remove(&self.id);
    }
}

/// Serve `router` on `listener` within `limits` until `shutdown` resolves; then stop
/// accepting, let requests in progress finish and close every connection.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let open = Arc::new(OpenConnections::default());
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    'serving: loop {
        let permit = loop {
            // Every slot taken: make room by closing the connection silent the longest,
            // and look again shortly while none is silent long enough.
            let full = permits.available_permits() == 0;
            if full {
                open.evict_the_most_silent();
            }
            tokio::select! {
                () = &mut shutdown => break 'serving,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => break permit,
                    Err(_) => break 'serving,
                },
                () = tokio::time::sleep(EVICTION_RECHECK), if full => {}
            }
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "could not accept a connection; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let activity = Arc::new(Activity::new());
        let registered = open.register(activity.clone());
        connections.spawn(connection(
            stream,
            router.clone(),
            limits,
            stop.clone(),
            activity,
            (permit, registered),
        ));
    }
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// One connection: closed at once when it sends nothing within `header_read_timeout`;
/// closed gracefully (after the request in progress, at the latest
/// `header_read_timeout` later) when idle too long, on shutdown, or to make room.
async fn connection(
    stream: tokio::net::TcpStream,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
    activity: Arc<Activity>,
    _slot: (OwnedSemaphorePermit, Registered),
) {
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let service = TowerToHyperService::new(router);
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut check = tokio::time::interval((limits.idle_timeout / 4).max(Duration::from_millis(10)));
    let closing = async {
        tokio::select! {
            () = stop.cancelled() => {}
            () = activity.evicted.cancelled() => {}
            () = async {
                loop {
                    check.tick().await;
                    if activity.idle_for() >= limits.idle_timeout {
                        break;
                    }
                }
            } => {}
        }
    };
    // hyper's own header time-out starts only once the first byte has come (the
    // protocol is not known before), so a client that sends nothing is timed here.
    let silent = async {
        tokio::time::sleep(limits.header_read_timeout).await;
        if activity.has_read() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
            return;
        }
        () = silent => {
            tracing::debug!("closing a connection that sent nothing");
            return;
        }
        () = closing => {}
    }
    conn.as_mut().graceful_shutdown();
    if tokio::time::timeout(limits.header_read_timeout, conn.as_mut())
        .await
        .is_err()
    {
        tracing::debug!("closing a connection that did not finish in time");
    }
}

/// When a connection last carried bytes, whether it ever sent one, and whether it was
/// asked to close to make room.
struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    read_any: AtomicBool,
    evicted: CancellationToken,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            read_any: AtomicBool::new(false),
            evicted: CancellationToken::new(),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn touch_read(&self) {
        self.read_any.store(true, Ordering::Relaxed);
        self.touch();
    }

    fn has_read(&self) -> bool {
        self.read_any.load(Ordering::Relaxed)
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// A stream that notes every read and write in its [`Activity`].
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The process's file-descriptor limits after [`raise_fd_limit`]: (soft, hard).
#[cfg(unix)]
pub type FdLimits = (libc::rlim_t, libc::rlim_t);
/// Not on Unix: no limits to report.
#[cfg(not(unix))]
pub type FdLimits = (u64, u64);

/// Raise the soft limit on open files to the hard limit, so connections, AWS and Slack
/// clients share the most descriptors the system allows. Returns the limits before and
/// after.
#[cfg(unix)]
pub fn raise_fd_limit() -> io::Result<(FdLimits, FdLimits)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and pass by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = (limit.rlim_cur, limit.rlim_max);
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own and pass by pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok((before, (limit.rlim_max, limit.rlim_max)));
    }
    Ok((before, before))
}

/// Not on Unix: nothing to raise.
#[cfg(not(unix))]
pub fn raise_fd_limit() -> io::Result<(FdLimits, FdLimits)> {
    Ok(((0, 0), (0, 0)))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_descriptors_for_aws_slack_and_files() {
        assert_eq!(ConnectionLimits::for_descriptors(256).max_connections, 192);
        assert_eq!(ConnectionLimits::for_descriptors(1024).max_connections, 768);
        assert_eq!(
            ConnectionLimits::for_descriptors(64).max_connections,
            MIN_CONNECTIONS
        );
        assert_eq!(
            ConnectionLimits::for_descriptors(1 << 20).max_connections,
            MAX_CONNECTIONS
        );
    }

    #[test]
    fn the_soft_fd_limit_is_raised_to_the_hard_limit() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in raise_fd_limit.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        let hard = limit.rlim_max;
        let lowered = libc::rlimit {
            rlim_cur: hard.min(256),
            rlim_max: hard,
        };
        // SAFETY: as in raise_fd_limit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
        let (before, after) = raise_fd_limit().expect("raise the limit");
        assert_eq!(before.0, hard.min(256));
        assert_eq!(after, (hard, hard));
    }
}
