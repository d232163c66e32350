//! Socket Mode: the same bot over a WebSocket, for running without a public URL.
//!
//! slack-morphism holds the connection (`apps.connections.open`, reconnects, pings,
//! envelope acks). Each envelope's payload is handed, as the JSON Slack sent, to
//! [`dispatch`], which uses the same parsers and [`Bot`] handlers as the HTTP routes.
//! Socket Mode needs no signing secret: the connection itself is authenticated by the
//! app-level token.

use super::actions;
use super::bot::Bot;
use super::commands::{PayloadError, SlashCommand};
use super::events;
use super::post::Client;
use super::readiness::Readiness;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use slack_morphism::prelude::*;
use std::sync::Arc;

/// Socket Mode envelope types the bot handles.
pub const SLASH_COMMANDS: &str = "slash_commands";
pub const INTERACTIVE: &str = "interactive";
pub const EVENTS_API: &str = "events_api";

/// Hand one envelope payload to the bot. Returns the response payload for the
/// envelope's ack (slash commands: the ephemeral "Looking at…" message).
pub fn dispatch(
    bot: &Arc<Bot>,
    kind: &str,
    payload: Value,
    retry_attempt: Option<u32>,
) -> Result<Option<Value>, PayloadError> {
    match kind {
        SLASH_COMMANDS => Ok(Some(bot.command(SlashCommand::from_json(payload)?))),
        INTERACTIVE => Ok(bot.interaction(actions::from_json(payload)?)),
        EVENTS_API => {
            bot.event(events::from_json(payload)?, retry_attempt);
            Ok(None)
        }
        other => {
            tracing::debug!(kind = other, "ignoring a Socket Mode envelope");
            Ok(None)
        }
    }
}

/// A whole envelope as it arrives on the socket:
/// `{"envelope_id": .., "type": .., "payload": {..}, "retry_attempt": ..}`.
pub fn dispatch_envelope(bot: &Arc<Bot>, envelope: &str) -> Result<Option<Value>, PayloadError> {
    let mut value: Value =
        serde_json::from_str(envelope).map_err(|e| PayloadError(e.to_string()))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let retry = value
        .get("retry_attempt")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok());
    let payload = value
        .get_mut("payload")
        .map(Value::take)
        .unwrap_or(Value::Null);
    dispatch(bot, &kind, payload, retry)
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
    let ack = dispatch(&bot, SLASH_COMMANDS, serde_json::to_value(&event)?, None)?
        .unwrap_or_else(|| serde_json::json!({"text": ""}));
    Ok(serde_json::from_value(ack)?)
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let bot = bot_of(&states).await?;
    dispatch(&bot, INTERACTIVE, serde_json::to_value(&event)?, None)?;
    Ok(())
}

async fn on_push_event(
    event: SlackPushEventCallback,
    _client: Arc<Client>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let bot = bot_of(&states).await?;
    let mut payload = serde_json::to_value(&event)?;
    if let Some(object) = payload.as_object_mut() {
        object.insert("type".into(), Value::String("event_callback".into()));
    }
    dispatch(&bot, EVENTS_API, payload, None)?;
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
    fn command_acks_convert_to_socket_mode_responses() {
        let ack = serde_json::json!({"response_type": "ephemeral", "text": "Looking at task x…"});
        let response: SlackCommandEventResponse = serde_json::from_value(ack).unwrap();
        assert_eq!(response.content.text.as_deref(), Some("Looking at task x…"));
        assert!(response.response_type.is_some());
    }
}
