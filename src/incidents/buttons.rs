//! Acknowledge and Mute on an alert's parent card.
//!
//! Acknowledge records who pressed it and when. Mute first asks (privately) for how
//! long: 1 h, 4 h or until recovered (at most [`MUTE_AT_MOST`]); the incident's stops
//! are still counted but not posted until then, so a mute always ends. Either way the
//! parent is updated in place to say so. The incident is looked up by the key the button carries
//! and must belong to the channel the button was pressed in, so a button cannot reach
//! another channel's incident.

use super::{self as incident, stored_parent};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::slack_api::Poster;
use crate::state::{self, StateStore};
use std::time::Duration;

/// The longest mute: "until recovered" of an incident that never recovers ends then.
pub const MUTE_AT_MOST: Duration = Duration::from_secs(7 * 86_400);

/// Until when a mute chosen as `choice` (`1h`, `4h`, `recovered`) lasts from `now`, and
/// whether it ends with the recovery.
pub fn mute_until(choice: &str, now: i64) -> Option<(i64, bool)> {
    match choice {
        "1h" => Some((now + 3600, false)),
        "4h" => Some((now + 4 * 3600, false)),
        "recovered" => Some((now + state::secs(MUTE_AT_MOST), true)),
        _ => None,
    }
}

/// The private question a Mute press gets: for how long, as three buttons.
pub fn mute_chooser(button: &ButtonRef) -> slack_morphism::prelude::SlackMessageContent {
    let choice = |value: &str, label: &str| {
        let chosen = ButtonRef {
            mute: Some(value.to_string()),
            ..button.clone()
        };
        serde_json::json!({"type": "button", "action_id": FollowUp::Mute.action_id(),
            "text": {"type": "plain_text", "text": label}, "value": chosen.encode()})
    };
    let content = serde_json::json!({
        "text": "Mute this incident for how long?",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn",
             "text": "Mute this incident for how long? Its stops are still counted on the card, not posted in its thread."}},
            {"type": "actions", "elements": [
                choice("1h", "1 hour"), choice("4h", "4 hours"), choice("recovered", "Until recovered")
            ]}
        ]
    });
    serde_json::from_value(content).unwrap_or_else(|_| {
        slack_morphism::prelude::SlackMessageContent::new()
            .with_text("Mute this incident for how long?".to_string())
    })
}

/// Apply an Acknowledge or Mute press by `user` in `channel`; `Err` is a sentence for
/// the presser.
pub async fn press(
    state: &dyn StateStore,
    poster: &Poster,
    kind: FollowUp,
    button: &ButtonRef,
    user: &str,
    channel: &str,
) -> Result<(), String> {
    let Some(key) = button.incident.as_deref() else {
        return Err("this button does not name an incident; it only works on alert cards".into());
    };
    let unknown = || {
        "this incident is no longer known (incidents are kept a day after their last stop)"
            .to_string()
    };
    let store_failed = |e: state::StateError| format!("{e}");
    let current = state
        .incident(key)
        .await
        .map_err(store_failed)?
        .ok_or_else(unknown)?;
    if current.channel != channel {
        return Err("this button belongs to an alert in another channel".into());
    }
    let now = state::now();
    let updated = match (kind, button.mute.as_deref()) {
        (FollowUp::Acknowledge, _) => state.acknowledge(key, user, now).await,
        (FollowUp::Mute, None) => {
            if current.recovered_at.is_some() {
                return Err("this incident has recovered; there is nothing to mute".into());
            }
            return poster
                .post_ephemeral(channel, user, None, &mute_chooser(button))
                .await
                .map_err(|e| format!("could not ask for how long to mute: {e}"));
        }
        (FollowUp::Mute, Some(choice)) => {
            let Some((until, until_recovered)) = mute_until(choice, now) else {
                return Err(format!(
                    "`{choice}` is not a length of mute this bot offers"
                ));
            };
            state.mute(key, until, until_recovered).await
        }
        _ => return Err("not an alert button".into()),
    }
    .map_err(store_failed)?
    .ok_or_else(unknown)?;
    if let Some((ts, card)) = stored_parent(&updated) {
        poster
            .update(channel, &ts, &incident::parent(&card, &updated, now))
            .await
            .map_err(|e| format!("recorded, but the card could not be updated: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mute_always_ends() {
        assert_eq!(mute_until("1h", 1_000), Some((4_600, false)));
        assert_eq!(mute_until("4h", 1_000), Some((15_400, false)));
        assert_eq!(mute_until("recovered", 0), Some((7 * 86_400, true)));
        assert_eq!(mute_until("forever", 0), None);
    }

    #[test]
    fn the_chooser_offers_three_lengths_that_decode() {
        let button = ButtonRef {
            region: "eu-west-1".into(),
            cluster: "prod".into(),
            task_arn: String::new(),
            container: None,
            page_token: None,
            incident: Some("incident#C1#prod#service:web#x#y".into()),
            mute: None,
        };
        let chooser = serde_json::to_value(mute_chooser(&button)).unwrap();
        let values: Vec<ButtonRef> = chooser["blocks"][1]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| ButtonRef::decode(e["value"].as_str().unwrap()).unwrap())
            .collect();
        let choices: Vec<Option<&str>> = values.iter().map(|v| v.mute.as_deref()).collect();
        assert_eq!(choices, [Some("1h"), Some("4h"), Some("recovered")]);
        assert!(values.iter().all(|v| v.incident == button.incident));
    }
}
