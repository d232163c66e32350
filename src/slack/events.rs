//! Parsing Events API deliveries: the `url_verification` challenge and `app_mention`.
//!
//! Both ways in read slack-morphism's typed events: Socket Mode hands over a
//! [`SlackPushEventCallback`] ([`from_push_event`]); an HTTP body is read into a
//! [`SlackPushEvent`] as slack-morphism's own HTTP listener does ([`from_body`]). Both
//! end in the same conversion. The typed `app_mention` drops `bot_id` and `subtype`, so
//! over HTTP those two fields are read from the body beside it (`PostedBy`).
//!
//! Slash commands cannot be used in threads, so `@ecs-why why TASK` in a thread is the
//! threaded way in. Messages from bots (including this one) are ignored; deduplication
//! of retried deliveries by `event_id` happens in `bot.rs`, which remembers what it saw.

use super::commands::PayloadError;
use serde::Deserialize;
use slack_morphism::prelude::{SlackEventCallbackBody, SlackPushEvent, SlackPushEventCallback};

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

/// Who posted the event, which slack-morphism's typed `app_mention` does not keep:
/// a `bot_id` (a bot, this one included) or a `subtype` (an edit) means "ignore it".
#[derive(Debug, Default, Deserialize)]
struct PostedBy {
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    subtype: Option<String>,
}

impl PostedBy {
    fn is_bot_or_edit(&self) -> bool {
        self.bot_id.is_some() || self.subtype.is_some()
    }
}

/// From an HTTP body (JSON).
pub fn from_body(body: &[u8]) -> Result<Delivery, PayloadError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| PayloadError(e.to_string()))?;
    from_json(value)
}

/// From the JSON of an HTTP body: slack-morphism's [`SlackPushEvent`], plus `PostedBy`.
pub fn from_json(value: serde_json::Value) -> Result<Delivery, PayloadError> {
    let kind = value
        .get("type")
        .and_then(|k| k.as_str())
        .map(str::to_owned);
    let posted_by = match value.get("event") {
        Some(event) => PostedBy::deserialize(event).map_err(|e| PayloadError(e.to_string()))?,
        None => PostedBy::default(),
    };
    let event: SlackPushEvent = match serde_json::from_value(value) {
        Ok(event) => event,
        // Delivery types slack-morphism does not model are acknowledged, as before.
        Err(_) if kind.as_deref().is_some_and(|k| !is_modelled(k)) => {
            return Ok(Delivery::Ignored(kind.unwrap_or_default()))
        }
        Err(e) => return Err(PayloadError(e.to_string())),
    };
    match event {
        SlackPushEvent::UrlVerification(verification) => Ok(Delivery::UrlVerification {
            challenge: verification.challenge,
        }),
        SlackPushEvent::EventCallback(callback) => {
            // An `app_mention` slack-morphism could not read falls through to `Unknown`:
            // from a person that is a malformed payload, as it always was.
            if let SlackEventCallbackBody::Unknown(unknown) = &callback.event {
                if unknown.get("type").and_then(|k| k.as_str()) == Some("app_mention")
                    && !posted_by.is_bot_or_edit()
                {
                    return Err(PayloadError(
                        "app_mention without user, channel or ts".into(),
                    ));
                }
            }
            Ok(from_callback(&callback, &posted_by))
        }
        SlackPushEvent::AppRateLimited(_) => Ok(Delivery::Ignored("app_rate_limited".into())),
    }
}

/// The delivery types [`SlackPushEvent`] models.
fn is_modelled(kind: &str) -> bool {
    matches!(
        kind,
        "url_verification" | "event_callback" | "app_rate_limited"
    )
}

/// From a typed Socket Mode `events_api` callback: an `app_mention` becomes a
/// [`Delivery::Mention`], anything else is ignored. (The listener hands over only the
/// typed callback, so who posted it is not known here.)
pub fn from_push_event(callback: &SlackPushEventCallback) -> Delivery {
    from_callback(callback, &PostedBy::default())
}

/// The one conversion of a typed callback, whichever way it arrived.
fn from_callback(callback: &SlackPushEventCallback, posted_by: &PostedBy) -> Delivery {
    let SlackEventCallbackBody::AppMention(event) = &callback.event else {
        return Delivery::Ignored("not an app_mention".into());
    };
    if posted_by.is_bot_or_edit() {
        return Delivery::Ignored("bot or edited message".into());
    }
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
        let v = json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": "Ev1", "event_time": 1700000500, "event": {
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
        let v = json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": "Ev1", "event_time": 1700000500, "event": {
            "type": "app_mention", "bot_id": "B1", "channel": "C1", "text": "<@UBOT> why x", "ts": "2.0"}});
        assert!(matches!(from_json(v).unwrap(), Delivery::Ignored(_)));
        // slack-morphism reads a bot's mention that names a user as an `app_mention`;
        // the `bot_id` beside it still has it ignored.
        let v = json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": "Ev2", "event_time": 1700000500, "event": {
            "type": "app_mention", "bot_id": "B1", "user": "U1", "channel": "C1",
            "text": "<@UBOT> why x", "ts": "2.0"}});
        assert!(matches!(from_json(v).unwrap(), Delivery::Ignored(_)));
        assert!(from_body(b"not json").is_err());
    }

    #[test]
    fn other_deliveries_and_malformed_mentions() {
        assert_eq!(
            from_json(json!({"type": "something_new"})).unwrap(),
            Delivery::Ignored("something_new".into())
        );
        let reaction = json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": "Ev1", "event_time": 1700000500, "event": {
            "type": "reaction_added", "user": "U1", "reaction": "eyes", "event_ts": "2.0"}});
        assert!(matches!(from_json(reaction).unwrap(), Delivery::Ignored(_)));
        let no_user = json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": "Ev1", "event_time": 1700000500, "event": {
            "type": "app_mention", "channel": "C1", "text": "<@UBOT> why x", "ts": "2.0"}});
        assert!(from_json(no_user).is_err());
    }
}
