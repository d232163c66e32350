//! A TCP proxy on 127.0.0.1 that holds each request for a fixed delay before passing it
//! to its upstream (moto, a fake): every AWS call through it costs one more round trip
//! of `delay`, as in a far region, so a benchmark can count round trips as time ÷ delay.
//!
//! A request is one burst of bytes from the client; bytes that follow within half the
//! delay belong to the same request and are not delayed again.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

pub struct DelayProxy {
    addr: SocketAddr,
    /// The delay in microseconds, changeable while connections are open.
    delay: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DelayProxy {
    /// Proxy to `upstream` (`host:port`), holding each request `delay`.
    pub async fn start(upstream: String, delay: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the delay proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let delay = Arc::new(AtomicU64::new(delay.as_micros() as u64));
        let shared = delay.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let delay = shared.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, delay).await;
                    }
                });
            }
        });
        DelayProxy { addr, delay, task }
    }

    /// Hold each request `delay` from now on (open connections too).
    pub fn set_delay(&self, delay: Duration) {
        self.delay
            .store(delay.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn relay(client: TcpStream, server: TcpStream, delay: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut last: Option<Instant> = None;
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let delay = Duration::from_micros(delay.load(Ordering::Relaxed));
            let same_request = last.is_some_and(|t| t.elapsed() < delay / 2);
            if !same_request && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            last = Some(Instant::now());
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    };
    let responses = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    tokio::join!(requests, responses);
}
