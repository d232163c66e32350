//! Parsing Events API deliveries: the `url_verification` challenge and `app_mention`,
//! from an HTTP body ([`from_body`]) or from the typed event slack-morphism hands over in
//! Socket Mode ([`from_push_event`]).
//!
//! Slash commands cannot be used in threads, so `@ecs-why why TASK` in a thread is the
//! threaded way in. Messages from bots (including this one) are ignored; deduplication
//! of retried deliveries by `event_id` happens in `bot.rs`, which remembers what it saw.

use super::commands::PayloadError;
use serde::Deserialize;
use slack_morphism::prelude::{SlackEventCallbackBody, SlackPushEventCallback};

/// One Events API delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Slack checking the Request URL: answer with the challenge.
    UrlVerification { challenge: String },
    /// An event callback the bot acts on.
    Mention { event_id: String, mention: Mention },
    /// Anything else (other event types, bot messages): acknowledged, nothing done.
    Ignored(String),
}

/// An `app_mention` from a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    pub user_id: String,
    pub channel_id: String,
    /// The words, with the leading mention still in.
    pub text: String,
    pub ts: String,
    pub thread_ts: Option<String>,
}

impl Mention {
    /// Where replies go: the thread the mention is in, or a new thread under it.
    pub fn reply_thread(&self) -> &str {
        self.thread_ts.as_deref().unwrap_or(&self.ts)
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event: Option<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
}

/// From an HTTP body (JSON).
pub fn from_body(body: &[u8]) -> Result<Delivery, PayloadError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| PayloadError(e.to_string()))?;
    from_json(value)
}

/// From the event JSON of an HTTP body.
pub fn from_json(value: serde_json::Value) -> Result<Delivery, PayloadError> {
    let raw: Raw = serde_json::from_value(value).map_err(|e| PayloadError(e.to_string()))?;
    match raw.kind.as_str() {
        "url_verification" => Ok(Delivery::UrlVerification {
            challenge: raw
                .challenge
                .ok_or_else(|| PayloadError("url_verification without a challenge".into()))?,
        }),
        "event_callback" => {
            let event = raw
                .event
                .ok_or_else(|| PayloadError("event_callback without an event".into()))?;
            if event.kind != "app_mention" {
                return Ok(Delivery::Ignored(event.kind));
            }
            if event.bot_id.is_some() || event.subtype.is_some() {
                return Ok(Delivery::Ignored("bot or edited message".into()));
            }
            let (Some(user_id), Some(channel_id), Some(ts)) = (event.user, event.channel, event.ts)
            else {
                return Err(PayloadError(
                    "app_mention without user, channel or ts".into(),
                ));
            };
            let event_id = raw.event_id.unwrap_or_else(|| format!("{channel_id}/{ts}"));
            Ok(Delivery::Mention {
                event_id,
                mention: Mention {
                    user_id,
                    channel_id,
                    text: event.text.unwrap_or_default(),
                    ts,
                    thread_ts: event.thread_ts,
                },
            })
        }
        other => Ok(Delivery::Ignored(other.to_string())),
    }
}

/// From a typed Socket Mode `events_api` callback: an `app_mention` becomes a
/// [`Delivery::Mention`], anything else is ignored.
pub fn from_push_event(callback: &SlackPushEventCallback) -> Delivery {
    let SlackEventCallbackBody::AppMention(event) = &callback.event else {
        return Delivery::Ignored("not an app_mention".into());
    };
    Delivery::Mention {
        event_id: callback.event_id.to_string(),
        mention: Mention {
            user_id: event.user.to_string(),
            channel_id: event.channel.to_string(),
            text: event.content.text.clone().unwrap_or_default(),
            ts: event.origin.ts.to_string(),
            thread_ts: event.origin.thread_ts.as_ref().map(|t| t.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_verification() {
        let d = from_body(br#"{"type":"url_verification","challenge":"abc","token":"x"}"#).unwrap();
        assert_eq!(
            d,
            Delivery::UrlVerification {
                challenge: "abc".into()
            }
        );
    }

    #[test]
    fn mention_in_a_thread() {
        let v = json!({"type": "event_callback", "event_id": "Ev1", "event": {
            "type": "app_mention", "user": "U1", "channel": "C1", "text": "<@UBOT> why x",
            "ts": "2.0", "thread_ts": "1.0"}});
        let Delivery::Mention { event_id, mention } = from_json(v).unwrap() else {
            panic!()
        };
        assert_eq!(event_id, "Ev1");
        assert_eq!(mention.reply_thread(), "1.0");
    }

    #[test]
    fn bots_are_ignored() {
        let v = json!({"type": "event_callback", "event_id": "Ev1", "event": {
            "type": "app_mention", "bot_id": "B1", "channel": "C1", "text": "<@UBOT> why x", "ts": "2.0"}});
        assert!(matches!(from_json(v).unwrap(), Delivery::Ignored(_)));
        assert!(from_body(b"not json").is_err());
    }
}
