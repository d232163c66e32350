//! Parsing button presses (`block_actions` interactions) on the diagnosis card.
//!
//! Slack posts `payload=<json>` over HTTP ([`from_form`]), which is read into
//! slack-morphism's typed [`SlackInteractionEvent`] as its own HTTP listener does; in
//! Socket Mode slack-morphism hands that typed event over ([`from_event`]). Both end in
//! the same conversion into a [`ButtonPress`]: who pressed, on which message, and the
//! follow-up it asks for with its [`ButtonRef`] already decoded and validated (values
//! are untrusted).

use super::commands::PayloadError;
use crate::actions::ActionKind;
use crate::follow_up::{ButtonRef, FollowUp};
use slack_morphism::prelude::{SlackInteractionActionContainer, SlackInteractionEvent};

/// An interaction the bot understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    Button(Box<ButtonPress>),
    /// Anything else (shortcuts, view submissions): acknowledged and ignored.
    Other(String),
}

/// One button press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonPress {
    pub user_id: String,
    pub channel_id: Option<String>,
    /// The channel's name, when Slack sent it: a channel mapped by name in
    /// `ECS_WHY_CONFIG` gets its role for buttons too.
    pub channel_name: Option<String>,
    /// The card the button sits on.
    pub message_ts: Option<String>,
    /// The thread the card is in (or the card itself when it is not a reply).
    pub thread_ts: Option<String>,
    pub response_url: Option<String>,
    pub request: Result<(FollowUp, ButtonRef), String>,
    /// The "Open in console" URL button: nothing to do but ack.
    pub is_link: bool,
    /// A Roll back or Restart button: the action and the offer id it carries (its
    /// shape checked here; everything else comes from the bot's own state). When set,
    /// `request` is not used.
    pub operate: Option<Result<(ActionKind, String), String>>,
    /// The card the button is on, as Slack sent it (Block Kit JSON).
    pub card: Option<serde_json::Value>,
}

/// What a press over HTTP carries that slack-morphism's typed interaction drops: the
/// pressed action's `url` (a link button) and the container's `thread_ts`. Socket Mode's
/// listener hands over only the typed event, so there both are unknown.
#[derive(Debug, Default)]
struct Untyped {
    action_has_url: bool,
    container_thread_ts: Option<String>,
}

impl Untyped {
    fn read(value: &serde_json::Value) -> Untyped {
        Untyped {
            action_has_url: value
                .pointer("/actions/0/url")
                .is_some_and(|url| !url.is_null()),
            container_thread_ts: value
                .pointer("/container/thread_ts")
                .and_then(|ts| ts.as_str())
                .map(str::to_owned),
        }
    }
}

/// From an HTTP form body: `payload=<json>`, read as slack-morphism's own HTTP
/// listener reads it.
pub fn from_form(body: &[u8]) -> Result<Interaction, PayloadError> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| PayloadError("no payload field".into()))?;
    let value: serde_json::Value =
        serde_json::from_str(&payload).map_err(|e| PayloadError(e.to_string()))?;
    from_json(value)
}

/// From the interaction JSON (the `payload` field of an HTTP request): slack-morphism's
/// [`SlackInteractionEvent`], plus the `Untyped` fields beside it.
pub fn from_json(value: serde_json::Value) -> Result<Interaction, PayloadError> {
    let kind = value
        .get("type")
        .and_then(|k| k.as_str())
        .map(str::to_owned);
    let untyped = Untyped::read(&value);
    match serde_json::from_value::<SlackInteractionEvent>(value) {
        Ok(event) => from_typed(&event, untyped),
        // Interactions the bot does not act on are acknowledged even when slack-morphism
        // does not model them (or models them more strictly than Slack fills them in).
        Err(_) if kind.as_deref().is_some_and(|k| k != "block_actions") => {
            Ok(Interaction::Other(kind.unwrap_or_default()))
        }
        Err(e) => Err(PayloadError(e.to_string())),
    }
}

/// From the typed interaction slack-morphism hands over in Socket Mode.
pub fn from_event(event: &SlackInteractionEvent) -> Result<Interaction, PayloadError> {
    from_typed(event, Untyped::default())
}

/// The one conversion of a typed interaction, whichever way it arrived.
fn from_typed(
    event: &SlackInteractionEvent,
    untyped: Untyped,
) -> Result<Interaction, PayloadError> {
    let SlackInteractionEvent::BlockActions(press) = event else {
        return Ok(Interaction::Other(interaction_kind(event).into()));
    };
    let user_id = press
        .user
        .as_ref()
        .map(|u| u.id.to_string())
        .ok_or_else(|| PayloadError("block_actions without a user".into()))?;
    let (container_ts, container_channel) = match &press.container {
        SlackInteractionActionContainer::Message(m) => (
            Some(m.message_ts.to_string()),
            m.channel_id.as_ref().map(|c| c.to_string()),
        ),
        SlackInteractionActionContainer::MessageAttachment(m) => (
            Some(m.message_ts.to_string()),
            m.channel_id.as_ref().map(|c| c.to_string()),
        ),
        SlackInteractionActionContainer::View(_) => (None, None),
    };
    let message = press.message.as_ref().map(|m| &m.origin);
    let message_ts = container_ts.or_else(|| message.map(|m| m.ts.to_string()));
    let thread_ts = untyped
        .container_thread_ts
        .or_else(|| message.and_then(|m| m.thread_ts.as_ref().map(|t| t.to_string())));
    let channel_id = press
        .channel
        .as_ref()
        .map(|c| c.id.to_string())
        .or(container_channel);
    let channel_name = press.channel.as_ref().and_then(|c| c.name.clone());
    let action = press
        .actions
        .iter()
        .flatten()
        .next()
        .ok_or_else(|| PayloadError("block_actions without an action".into()))?;
    Ok(Interaction::Button(Box::new(ButtonPress::new(
        Pressed {
            user_id,
            channel_id,
            channel_name,
            message_ts,
            thread_ts,
            response_url: press.response_url.as_ref().map(|u| u.0.to_string()),
            card: press
                .message
                .as_ref()
                .and_then(|m| serde_json::to_value(&m.content).ok()),
        },
        action.action_id.as_ref(),
        action.value.as_deref(),
        untyped.action_has_url,
    ))))
}

/// Slack's name for an interaction type the bot does not act on.
fn interaction_kind(event: &SlackInteractionEvent) -> &'static str {
    match event {
        SlackInteractionEvent::BlockActions(_) => "block_actions",
        SlackInteractionEvent::BlockSuggestion(_) => "block_suggestion",
        SlackInteractionEvent::DialogSubmission(_) => "dialog_submission",
        SlackInteractionEvent::MessageAction(_) => "message_action",
        SlackInteractionEvent::Shortcut(_) => "shortcut",
        SlackInteractionEvent::ViewSubmission(_) => "view_submission",
        SlackInteractionEvent::ViewClosed(_) => "view_closed",
    }
}

/// Who pressed, on which message: the same whichever way the press arrived.
struct Pressed {
    user_id: String,
    channel_id: Option<String>,
    channel_name: Option<String>,
    message_ts: Option<String>,
    thread_ts: Option<String>,
    response_url: Option<String>,
    card: Option<serde_json::Value>,
}

impl ButtonPress {
    /// The press of the button `action_id` carrying `value` (validated here); `is_url`:
    /// the button opens a link.
    fn new(pressed: Pressed, action_id: &str, value: Option<&str>, is_url: bool) -> ButtonPress {
        let operate = ActionKind::from_action_id(action_id).map(|kind| match value {
            Some(id) if crate::actions::is_offer_id(id) => Ok((kind, id.to_string())),
            _ => Err("this action button carries no offer ecs-why made; run `/ecs why` again for a new card".to_string()),
        });
        let follow_up = FollowUp::from_action_id(action_id);
        let is_link = follow_up == Some(FollowUp::OpenConsole) || is_url;
        let request = match follow_up {
            None if operate.is_some() => Err("an action button".into()),
            None => Err(format!(
                "the button `{}` is not an ecs-why button; run `/ecs why` again for a new card",
                crate::text::truncate(action_id, 60)
            )),
            Some(kind) => match value {
                Some(value) => ButtonRef::decode(value)
                    .map(|r| (kind, r))
                    .map_err(|e| e.to_string()),
                None if is_link => Err("link button".into()),
                None => Err("the button carries no reference; run `/ecs why` again".into()),
            },
        };
        ButtonPress {
            user_id: pressed.user_id,
            channel_id: pressed.channel_id,
            channel_name: pressed.channel_name,
            // The thread the card is in, or the card itself when it is not a reply.
            thread_ts: pressed.thread_ts.or_else(|| pressed.message_ts.clone()),
            message_ts: pressed.message_ts,
            response_url: pressed.response_url,
            request,
            is_link,
            operate,
            card: pressed.card,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference() -> ButtonRef {
        ButtonRef {
            region: "eu-west-1".into(),
            cluster: "prod".into(),
            task_arn:
                "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef"
                    .into(),
            container: None,
            page_token: None,
            incident: None,
            mute: None,
        }
    }

    fn press(action_id: &str, value: &str) -> serde_json::Value {
        json!({
            "type": "block_actions",
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "trigger_id": "1.2",
            "user": {"id": "U1"},
            "channel": {"id": "C1"},
            "container": {"type": "message", "message_ts": "111.222", "channel_id": "C1"},
            "message": {"ts": "111.222"},
            "response_url": "https://hooks.slack.com/actions/x",
            "actions": [{"action_id": action_id, "value": value, "type": "button"}]
        })
    }

    #[test]
    fn decodes_a_press() {
        let v = press(FollowUp::WhoStopped.action_id(), &reference().encode());
        let Interaction::Button(p) = from_json(v).unwrap() else {
            panic!()
        };
        assert_eq!(p.user_id, "U1");
        assert_eq!(p.thread_ts.as_deref(), Some("111.222"));
        assert_eq!(p.request, Ok((FollowUp::WhoStopped, reference())));
    }

    #[test]
    fn form_encoding() {
        let v = press(FollowUp::Rerun.action_id(), &reference().encode());
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &v.to_string())
            .finish();
        assert!(matches!(
            from_form(body.as_bytes()),
            Ok(Interaction::Button(_))
        ));
        assert!(from_form(b"nothing=1").is_err());
    }

    #[test]
    fn tampered_and_unknown_values_are_errors_not_panics() {
        let v = press(FollowUp::MoreLogs.action_id(), "{\"r\":\"mars\"}");
        let Interaction::Button(p) = from_json(v).unwrap() else {
            panic!()
        };
        assert!(p.request.is_err());
        let v = press("somebody_elses_button", "x");
        let Interaction::Button(p) = from_json(v).unwrap() else {
            panic!()
        };
        assert!(p.request.unwrap_err().contains("not an ecs-why button"));
        let other = json!({"type": "shortcut", "user": {"id": "U1"}});
        assert_eq!(
            from_json(other).unwrap(),
            Interaction::Other("shortcut".into())
        );
    }

    #[test]
    fn what_the_typed_event_drops_is_still_read() {
        // A link button that is not ours: acked quietly, as before.
        let mut v = press("somebody_elses_link", "x");
        v["actions"][0]["url"] = json!("https://example.com");
        let Interaction::Button(p) = from_json(v).unwrap() else {
            panic!()
        };
        assert!(p.is_link);
        // The container's thread wins over the message's.
        let mut v = press(FollowUp::WhoStopped.action_id(), &reference().encode());
        v["container"]["thread_ts"] = json!("100.000");
        let Interaction::Button(p) = from_json(v).unwrap() else {
            panic!()
        };
        assert_eq!(p.thread_ts.as_deref(), Some("100.000"));
        // Interaction types slack-morphism does not model are acked, not refused.
        assert_eq!(
            from_json(json!({"type": "interactive_message"})).unwrap(),
            Interaction::Other("interactive_message".into())
        );
        assert!(from_json(json!({"type": "block_actions"})).is_err());
    }
}
