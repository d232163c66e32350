//! `ecs-why serve`: the bot and the alerts, started side by side. The one place that
//! knows both: the Slack edge ([`crate::slack`]) and the alert consumer
//! ([`crate::alerts`]) depend on the investigation, the incidents and the Slack client,
//! never on each other.

use crate::config::Settings;
use crate::shutdown::{self, DRAIN_LIMIT};
use crate::slack::connections::ConnectionLimits;
use crate::slack::App;
use std::sync::Arc;

/// Run the bot: HTTP always (health, readiness, metrics and, with a signing secret, the
/// Slack routes), Socket Mode as well when `SLACK_APP_TOKEN` is set. On SIGTERM or
/// Ctrl-C it stops accepting requests, lets in-flight diagnoses and posts finish (at most
/// [`DRAIN_LIMIT`], inside ECS's 30 s stop timeout) and returns `Ok`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Registered before anything else, so an early SIGTERM is not lost.
    let signal = shutdown::signal();
    let app_token = settings.app_token.clone();
    let app = crate::slack::build(settings).await?;
    start_alerts(&app, None).await;
    if let Some(actions) = app.bot().actions() {
        // Finishes the actions of replicas that went away.
        let shutdown = app.shutdown().clone();
        app.shutdown()
            .spawn(crate::actions::sweep::run(actions, shutdown));
    }
    // The connection cap follows the descriptor limit actually in force.
    let app = match crate::slack::connections::raise_fd_limit() {
        Ok((before, after)) => {
            let limits = ConnectionLimits::for_descriptors(after.0);
            tracing::info!(
                soft_before = before.0,
                soft = after.0,
                hard = after.1,
                max_connections = limits.max_connections,
                "open-file limit"
            );
            app.with_connection_limits(limits)
        }
        Err(error) => {
            tracing::warn!(%error, "could not raise the open-file limit");
            app
        }
    };
    tracing::info!(addr = %app.local_addr(), socket_mode = app_token.is_some(), "ecs-why is listening");
    let stop = app.shutdown();
    if let Some(token) = app_token {
        let bot = app.bot();
        let readiness = app.readiness();
        readiness.require(
            crate::slack::socket_mode::READINESS_CHECK,
            "no Socket Mode connection to Slack yet",
        );
        let cancelled = stop.cancelled();
        tokio::spawn(async move {
            tokio::select! {
                result = crate::slack::socket_mode::run(bot, token, readiness) => {
                    if let Err(e) = result {
                        tracing::error!(error = %e, "Socket Mode stopped");
                    }
                }
                _ = cancelled => {}
            }
        });
    }
    let mut server = tokio::spawn(app.run_until(stop.cancelled()));
    tokio::select! {
        received = signal => {
            tracing::info!(?received, in_flight = stop.in_flight(), "stopping: finishing work in flight");
            stop.begin();
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server stopped with an error"),
                Err(e) => tracing::warn!(error = %e, "HTTP server task failed"),
            }
        }
        ended = &mut server => {
            stop.drain(DRAIN_LIMIT).await;
            return match ended {
                Ok(Ok(())) => Err(anyhow::anyhow!("the HTTP server stopped unexpectedly")),
                Ok(Err(e)) => Err(anyhow::anyhow!("the HTTP server failed: {e}")),
                Err(e) => Err(anyhow::anyhow!("the HTTP server task failed: {e}")),
            };
        }
    }
    let outcome = stop.drain(DRAIN_LIMIT).await;
    tracing::info!(?outcome, "stopped");
    Ok(())
}

/// Read stopped-task events from `ECS_WHY_EVENTS_QUEUE_URL` (when set) until
/// shutdown, announcing them in their `[[alerts]]` channels. `sqs` is the client to
/// read with (`None`: the standard credential chain and endpoint variables).
pub async fn start_alerts(app: &App, sqs: Option<aws_sdk_sqs::Client>) {
    let settings = app.bot().settings_arc();
    let Some(queue_url) = settings.alerts.queue_url.clone() else {
        return;
    };
    let sqs = match sqs {
        Some(client) => client,
        None => crate::alerts::consumer::sqs_client(settings.region.as_deref()).await,
    };
    let outbox = crate::alerts::outbox::Outbox::new(
        app.bot().poster().clone(),
        settings.limits.alert_spacing,
        app.bot().state(),
    );
    let announcer = crate::alerts::announce::Announcer::new(
        settings.clone(),
        app.bot().investigator(),
        app.bot().state(),
        outbox,
    )
    .with_actions(app.bot().actions());
    let announcer = Arc::new(announcer);
    let consumer = crate::alerts::consumer::Consumer::new(sqs, queue_url, announcer.clone());
    let shutdown = app.shutdown().clone();
    app.shutdown()
        .spawn(crate::alerts::sweeper::run(announcer, shutdown.clone()));
    // Tracked, so the drain also waits for the consumer to stop receiving.
    app.shutdown().spawn(consumer.run(shutdown));
}
