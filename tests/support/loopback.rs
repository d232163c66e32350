//! Serving a fake's axum router on a free 127.0.0.1 port until the returned sender is
//! dropped or fires: what every local fake (AWS, IAM, CloudWatch) starts with.
#![allow(dead_code)]

use std::net::SocketAddr;
use tokio::sync::oneshot;

/// Serve `app` on a free loopback port; `what` names the fake in a failure. Dropping the
/// sender (or sending on it) stops the server.
pub async fn serve(app: axum::Router, what: &str) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:0 for {what}: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("the address of {what}: {e}"));
    let (shutdown, stop) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await;
    });
    (addr, shutdown)
}
