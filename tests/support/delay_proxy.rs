//! A TCP proxy on 127.0.0.1 that holds each request for a fixed delay before passing it
//! to its upstream (moto, a fake): every AWS call through it costs one more round trip
//! of `delay`, as in a far region, so a benchmark can count round trips as time ÷ delay.
//!
//! A request is one burst of bytes from the client; bytes that follow within half the
//! delay belong to the same request and are not delayed again.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

pub struct DelayProxy {
    addr: SocketAddr,
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
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, delay).await;
                    }
                });
            }
        });
        DelayProxy { addr, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
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
            let same_request = last.is_some_and(|t| t.elapsed() < delay / 2);
            if !same_request {
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
