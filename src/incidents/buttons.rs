//! Acknowledge and Mute on an alert's parent card.
//!
//! Acknowledge records who pressed it and when; Mute 1 h keeps counting the incident's
//! stops but stops posting them until the hour is over. Either way the parent is
//! updated in place to say so. The incident is looked up by the key the button carries
//! and must belong to the channel the button was pressed in, so a button cannot reach
//! another channel's incident.

use super::{self as incident, stored_parent};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::slack_api::Poster;
use crate::state::{self, StateStore};
use std::time::Duration;

/// How long Mute lasts.
pub const MUTE_FOR: Duration = Duration::from_secs(3600);

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
    let updated = match kind {
        FollowUp::Acknowledge => state.acknowledge(key, user, now).await,
        FollowUp::Mute => state.mute(key, now + state::secs(MUTE_FOR)).await,
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
