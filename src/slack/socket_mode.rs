//! Socket Mode: the same bot over a WebSocket, for running without a public URL.
//!
//! slack-morphism holds the connection (`apps.connections.open`, reconnects, pings,
//! envelope acks) and hands over typed events; each is read into the bot's own request
//! (`From<SlackCommandEvent>`, [`actions::from_event`], [`events::from_push_event`]) and
//! given to the same [`Bot`] handlers as the HTTP routes. Socket Mode needs no signing
//! secret: the connection itself is authenticated by the app-level token.

use super::actions;
use super::bot::Bot;
use super::commands::{PayloadError, SlashCommand};
use super::events;
use super::readiness::Readiness;
use crate::slack_api::Client;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use slack_morphism::prelude::*;
use std::sync::Arc;

/// A slash command: the ack, the ephemeral "Looking at…" (or help, or why not).
pub fn command(bot: &Arc<Bot>, event: SlackCommandEvent) -> SlackCommandEventResponse {
    let ack = bot.command(SlashCommand::from(event));
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(ack))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

/// A button press (or another interaction, acked and ignored).
pub fn interaction(bot: &Arc<Bot>, event: &SlackInteractionEvent) -> Result<(), PayloadError> {
    bot.interaction(actions::from_event(event)?);
    Ok(())
}

/// An Events API callback; `retry` is the envelope's `retry_attempt` when known, for
/// the logs (slack-morphism does not pass it on; repeats are recognised by event id).
pub fn push_event(bot: &Arc<Bot>, callback: &SlackPushEventCallback, retry: Option<u32>) {
    bot.event(events::from_push_event(callback), retry);
}

/// A whole envelope as it arrives on the socket
/// (`{"envelope_id": .., "type": .., "payload": {..}, "retry_attempt": ..}`), its
/// payload read into slack-morphism's typed event as its listener does, and handed to
/// the same functions as the listener's callbacks. Returns the ack payload of a slash
/// command. (slack-morphism 2.31 does not export its envelope type.)
pub fn dispatch_envelope(
    bot: &Arc<Bot>,
    envelope: &str,
) -> Result<Option<SlackCommandEventResponse>, PayloadError> {
    fn typed<T: serde::de::DeserializeOwned>(
        payload: serde_json::Value,
    ) -> Result<T, PayloadError> {
        serde_json::from_value(payload).map_err(|e| PayloadError(e.to_string()))
    }
    let envelope: Envelope =
        serde_json::from_str(envelope).map_err(|e| PayloadError(e.to_string()))?;
    match envelope.kind.as_str() {
        "slash_commands" => Ok(Some(command(bot, typed(envelope.payload)?))),
        "interactive" => interaction(bot, &typed(envelope.payload)?).map(|()| None),
        "events_api" => {
            push_event(bot, &typed(envelope.payload)?, envelope.retry_attempt);
            Ok(None)
        }
        other => {
            tracing::debug!(kind = other, "ignoring a Socket Mode envelope");
            Ok(None)
        }
    }
}

/// The envelope around every Socket Mode message.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: serde_json::Value,
    #[serde(default)]
    retry_attempt: Option<u32>,
}

struct SocketState {
    bot: Arc<Bot>,
    readiness: Readiness,
}

async fn bot_of(
    states: &SlackClientEventsUserState,
) -> Result<Arc<Bot>, Box<dyn std::error::Error + Send + Sync>> {
    let guard = states.read().await;
    guard
        .get_user_state::<SocketState>()
        .map(|s| s.bot.clone())
        .ok_or_else(|| "Socket Mode state missing".into())
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let bot = bot_of(&states).await?;
    Ok(command(&bot, event))
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let bot = bot_of(&states).await?;
    interaction(&bot, &event)?;
    Ok(())
}

async fn on_push_event(
    event: SlackPushEventCallback,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let bot = bot_of(&states).await?;
    push_event(&bot, &event, None);
    Ok(())
}

/// Logged once per connection, so operators see that Socket Mode is up. Generic because
/// slack-morphism 2.31 does not export the `hello` event's type by a usable path.
async fn on_hello<E: std::fmt::Debug + Send + 'static>(
    event: E,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) {
    tracing::info!(hello = ?event, "Socket Mode connected");
    if let Some(state) = states.read().await.get_user_state::<SocketState>() {
        state.readiness.pass(READINESS_CHECK);
    }
}

/// The readiness check Socket Mode holds until Slack's first `hello`.
pub const READINESS_CHECK: &str = "socket-mode";

/// Ask Slack once for a WebSocket URL with the app-level token, so a wrong token is
/// reported with its fix at start-up. slack-morphism only logs its own connection
/// failures and retries every 30 seconds, without naming the variable to fix.
async fn check_app_token(client: &Client, token: &SlackApiToken, readiness: &Readiness) {
    let session = client.open_session(token);
    match session
        .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
        .await
    {
        Ok(_) => tracing::info!("SLACK_APP_TOKEN accepted; opening Socket Mode connections"),
        Err(slack_morphism::errors::SlackClientError::ApiError(e)) => {
            let why = format!(
                "Slack refused SLACK_APP_TOKEN for Socket Mode ({}); use an app-level token (xapp-) with the connections:write scope and enable Socket Mode for the app",
                e.code
            );
            tracing::error!(error = e.code, "{why}; retrying every 30 s");
            readiness.fail(READINESS_CHECK, &why);
        }
        Err(e) => tracing::warn!(
            error = %e,
            "could not reach Slack to open a Socket Mode connection; retrying every 30 s (check SLACK_API_URL and the network)"
        ),
    }
}

/// Connect with the app-level token and serve until the process ends.
/// `readiness` holds [`READINESS_CHECK`] until Slack's first `hello`.
pub async fn run(
    bot: Arc<Bot>,
    app_token: SecretString,
    readiness: Readiness,
) -> anyhow::Result<()> {
    readiness.require(READINESS_CHECK, "no Socket Mode connection to Slack yet");
    let client = bot.poster().client();
    let token = SlackApiToken::new(app_token.expose_secret().into());
    check_app_token(&client, &token, &readiness).await;
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_hello_events(on_hello)
        .with_command_events(on_command)
        .with_interaction_events(on_interaction)
        .with_push_events(on_push_event);
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_user_state(SocketState { bot, readiness }),
    );
    let listener = SlackClientSocketModeListener::new(
        &SlackClientSocketModeConfig::new(),
        environment,
        callbacks,
    );
    // This only registers the token; connecting (and retrying) happens in `start`.
    listener
        .listen_for(&token)
        .await
        .map_err(|e| anyhow::anyhow!("Socket Mode could not start: {e}"))?;
    listener.start().await;
    std::future::pending::<()>().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_acks_are_ephemeral() {
        let response = SlackCommandEventResponse::new(
            SlackMessageContent::new().with_text("Looking at task x…".into()),
        )
        .with_response_type(SlackMessageResponseType::Ephemeral);
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"response_type": "ephemeral", "text": "Looking at task x…"})
        );
    }
}
