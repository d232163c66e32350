//! The HTTP side of the bot: routes, the signature check, and start-up.
//!
//! Routes (a contract, see DESIGN.md): `POST /slack/commands`, `POST /slack/interactivity`,
//! `POST /slack/events`, `GET /healthz`, plus `GET /readyz` (ready once the Slack token
//! was verified with `auth.test` and, with the AWS engine, the AWS credentials with STS
//! GetCallerIdentity; 503 naming what is still unverified until then) and
//! `GET /metrics` (Prometheus text, see [`crate::metrics`]).
//! The Slack routes sit behind one middleware, [`signature::require_signature`], that
//! verifies the signature before anything is parsed; a refused request gets 400 or 401
//! (413 for a body over the limit) and causes no work. Like zero-to-production's `startup.rs`,
//! [`build`] binds the listener (port 0 in tests) and returns an [`App`] that knows its
//! port; [`App::run_until`] serves until a shutdown future resolves, within
//! [`ConnectionLimits`] (header and idle time-outs, a cap on open connections).

use super::actions;
use super::bot::Bot;
use super::commands::SlashCommand;
use super::connections::{self, ConnectionLimits};
use super::events;
use super::readiness::Readiness;
use super::signature::{self, SignatureCheck};
use crate::config::Settings;
use crate::gather::Gatherer;
use crate::investigate::{Investigate, Investigator};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::slack_api::{install_crypto_provider, Poster};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Largest request body accepted (block_actions payloads carry the whole card).
const MAX_BODY: usize = 256 * 1024;

#[derive(Clone)]
struct AppState {
    bot: Arc<Bot>,
    readiness: Readiness,
    metrics: Metrics,
}

/// A bound, not yet running server.
pub struct App {
    listener: TcpListener,
    router: Router,
    bot: Arc<Bot>,
    readiness: Readiness,
    shutdown: Shutdown,
    connections: ConnectionLimits,
}

/// Build the app with the production investigator (AWS). Readiness waits for both the
/// Slack token (`auth.test`) and the AWS credentials (STS GetCallerIdentity) to be
/// verified.
pub async fn build(settings: Settings) -> anyhow::Result<App> {
    let listener = listen(&settings).await?;
    let investigator = Investigator::new(
        settings.region.as_deref(),
        settings.archive_log_group.clone(),
        true,
    )
    .await;
    let gatherer = investigator.default_gatherer();
    let app = build_around(settings, Arc::new(investigator), listener).await?;
    app.verify_aws(gatherer);
    Ok(app)
}

/// Build the app around any investigator (tests use a fake one). Binds
/// `settings.listen`.
pub async fn build_with(
    settings: Settings,
    investigator: Arc<dyn Investigate>,
) -> anyhow::Result<App> {
    let listener = listen(&settings).await?;
    build_around(settings, investigator, listener).await
}

/// `ECS_WHY_LISTEN` could not be bound (in use, not an address of this host, or a
/// privileged port): a configuration error, reported before anything calls Slack.
#[derive(Debug, thiserror::Error)]
#[error("ECS_WHY_LISTEN: cannot listen on {addr} ({source}); set ECS_WHY_LISTEN to a free address of this host, such as 0.0.0.0:3000")]
pub struct ListenError {
    addr: SocketAddr,
    source: std::io::Error,
}

/// Bind the listen address first, so a bad one stops the start before any other work.
async fn listen(settings: &Settings) -> Result<TcpListener, ListenError> {
    TcpListener::bind(settings.listen)
        .await
        .map_err(|source| ListenError {
            addr: settings.listen,
            source,
        })
}

async fn build_around(
    settings: Settings,
    investigator: Arc<dyn Investigate>,
    listener: TcpListener,
) -> anyhow::Result<App> {
    install_crypto_provider();
    let settings = Arc::new(settings);
    let poster = Poster::new(&settings)?;
    let shutdown = Shutdown::new();
    let metrics = crate::metrics::install();
    let state =
        crate::state::from_settings(settings.state_table.as_deref(), settings.region.as_deref())
            .await;
    let bot = Arc::new(
        Bot::new(
            settings.clone(),
            investigator,
            poster.clone(),
            shutdown.clone(),
        )
        .with_state(state),
    );
    let readiness = Readiness::default();
    readiness.require("slack", "auth.test has not succeeded yet");
    {
        let readiness = readiness.clone();
        tokio::spawn(async move { check_slack(poster, readiness).await });
    }
    let state = AppState {
        bot: bot.clone(),
        readiness: readiness.clone(),
        metrics,
    };
    let signature_check =
        SignatureCheck::new(settings.signing_secret.as_ref()).with_replay_guard(bot.state());
    let slack_routes = Router::new()
        .route("/slack/commands", post(commands))
        .route("/slack/interactivity", post(interactivity))
        .route("/slack/events", post(events))
        .route_layer(middleware::from_fn_with_state(
            signature_check,
            signature::require_signature,
        ));
    let router = Router::new()
        .merge(slack_routes)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    Ok(App {
        listener,
        router,
        bot,
        readiness,
        shutdown,
        connections: ConnectionLimits::default(),
    })
}

/// Verify the bot token once, retrying with backoff until it works.
async fn check_slack(poster: Poster, readiness: Readiness) {
    readiness
        .retry_until_passed("slack", || async {
            let user = poster.auth_test().await.map_err(|e| {
                format!("auth.test failed: {e}; check SLACK_BOT_TOKEN and SLACK_API_URL")
            })?;
            tracing::info!(bot_user = user, "Slack token verified");
            Ok(())
        })
        .await;
}

/// Verify the AWS credentials once (STS GetCallerIdentity, which needs no IAM
/// permission), retrying with backoff until it works.
async fn check_aws(gatherer: Gatherer, readiness: Readiness) {
    readiness
        .retry_until_passed("aws", || async {
            let arn = gatherer.caller_identity().await.map_err(|e| {
                format!(
                    "STS GetCallerIdentity failed: {e}; check the task role (or AWS_* credentials), AWS_REGION and AWS_ENDPOINT_URL"
                )
            })?;
            tracing::info!(caller = arn, "AWS credentials verified");
            Ok(())
        })
        .await;
}

impl App {
    /// Require verified AWS credentials before `/readyz` answers 200, and start checking
    /// them in the background with `gatherer`'s credentials, region and endpoint.
    pub fn verify_aws(&self, gatherer: Gatherer) {
        self.readiness
            .require("aws", "STS GetCallerIdentity has not succeeded yet");
        let readiness = self.readiness.clone();
        tokio::spawn(async move { check_aws(gatherer, readiness).await });
    }

    /// Bounds on HTTP connections other than the defaults (tests shorten them).
    pub fn with_connection_limits(mut self, limits: ConnectionLimits) -> App {
        self.connections = limits;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn bot(&self) -> Arc<Bot> {
        self.bot.clone()
    }

    /// Tracks the bot's background jobs; `begin` stops the server, `drain` waits.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Checks behind `/readyz`; register more (AWS credentials) before running.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Serve until `shutdown` resolves, then stop accepting requests and return. Call
    /// [`Shutdown::drain`] on [`App::shutdown`] afterwards to let background posts finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        connections::serve(self.listener, self.router, self.connections, shutdown).await
    }

    /// Serve until [`Shutdown::begin`] is called on [`App::shutdown`].
    pub async fn run(self) -> std::io::Result<()> {
        let stop = self.shutdown.cancelled();
        self.run_until(stop).await
    }
}

fn bad_payload(e: impl std::fmt::Display) -> Response {
    (StatusCode::BAD_REQUEST, e.to_string()).into_response()
}

/// The ack body of a slash command: an ephemeral message to the asker.
fn ephemeral(text: String) -> Json<serde_json::Value> {
    Json(json!({"response_type": "ephemeral", "text": text}))
}

async fn commands(State(state): State<AppState>, body: Bytes) -> Response {
    match SlashCommand::from_form(&body) {
        Ok(command) => ephemeral(state.bot.command(command)).into_response(),
        Err(e) => bad_payload(e),
    }
}

async fn interactivity(State(state): State<AppState>, body: Bytes) -> Response {
    match actions::from_form(&body) {
        Ok(interaction) => {
            state.bot.interaction(interaction);
            StatusCode::OK.into_response()
        }
        Err(e) => bad_payload(e),
    }
}

async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let retry = headers
        .get("x-slack-retry-num")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    match events::from_body(&body) {
        Ok(delivery) => match state.bot.event(delivery, retry) {
            Some(challenge) => Json(json!({ "challenge": challenge })).into_response(),
            None => Json(json!({})).into_response(),
        },
        Err(e) => bad_payload(e),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, Metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.readiness.status() {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(waiting) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}", waiting.join("; ")),
        )
            .into_response(),
    }
}
