//! Guarded actions: Roll back and Restart a service from its card, off unless
//! `[actions]` is configured.
//!
//! A card of a service task, in a channel where actions are on, gets at most one
//! "Roll back to web:41" and one "Restart service" button, each behind Slack's confirm
//! dialog ([`offer`]). What a button does is kept in the state store under an opaque id
//! (an [`Offer`]); the button carries only that id. A press is checked again on the
//! server ([`press`]): the offer exists, the channel has actions on, the presser is
//! allowed (a user-group id means membership), nobody started it before, and no other
//! action on the service is under way. Then the write role is assumed for this one
//! action, with the session name `slack-<user id>` so CloudTrail names the person, and
//! `UpdateService` is called once ([`run`]). The thread says who did what, and the
//! outcome after watching the deployment ([`watch`]); the card's action buttons give way
//! to the action's state ([`card`]).

pub mod card;
pub mod lease;
pub mod offer;
pub mod press;
pub mod run;
pub mod sweep;
pub mod watch;

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a button's offer can be pressed.
pub const OFFER_KEEP: Duration = Duration::from_secs(24 * 3600);
/// The longest an action's deployment is watched before it is reported unfinished.
pub const WATCH_AT_MOST: Duration = Duration::from_secs(15 * 60);

/// The two actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// `UpdateService` to the task definition the service ran before.
    RollBack,
    /// `UpdateService` with `forceNewDeployment`.
    Restart,
}

impl ActionKind {
    pub const ALL: [ActionKind; 2] = [ActionKind::RollBack, ActionKind::Restart];

    /// The Block Kit `action_id` of its button.
    pub fn action_id(self) -> &'static str {
        match self {
            ActionKind::RollBack => "ecs_why_roll_back",
            ActionKind::Restart => "ecs_why_restart",
        }
    }

    pub fn from_action_id(id: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.action_id() == id)
    }

    /// Its name in metrics, the audit log and sentences: `rollback`, `restart`.
    pub fn label(self) -> &'static str {
        match self {
            ActionKind::RollBack => "rollback",
            ActionKind::Restart => "restart",
        }
    }
}

/// What the bot offered on a card: everything a press acts on. Kept in the state store
/// under the button's opaque id, so nothing a press carries can change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub kind: ActionKind,
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub service: String,
    /// The task definition (ARN) the service ran when the offer was made.
    pub from: String,
    /// The task definition (ARN or `family:revision`) a rollback returns to.
    pub to: Option<String>,
    /// Why `to` was chosen: "previous deployment" or "previous revision".
    pub basis: Option<String>,
    /// The channel whose card carries the button.
    pub channel: String,
    /// The alert incident whose parent carries the button, if any.
    pub incident: Option<String>,
    pub offered_at: i64,
}

impl Offer {
    /// `web:42`: the revision the service ran when offered.
    pub fn from_name(&self) -> &str {
        crate::arn::task_definition_name(&self.from)
    }

    /// `web:41`: the revision a rollback returns to.
    pub fn to_name(&self) -> Option<&str> {
        self.to.as_deref().map(crate::arn::task_definition_name)
    }

    /// The key no two actions on one service may hold at once.
    pub fn service_key(&self) -> String {
        format!(
            "acting#{}#{}#{}#{}",
            self.account, self.region, self.cluster, self.service
        )
    }
}

/// The state-store key of an offer.
pub fn offer_key(id: &str) -> String {
    format!("offer#{id}")
}

/// The state-store key that says who started an offer's action.
pub fn started_key(id: &str) -> String {
    format!("started#{id}")
}

/// A new offer id: 128 random bits from the kernel, as 32 hex digits (`None` when the
/// kernel cannot give them: then nothing is offered).
pub fn new_offer_id() -> Option<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `id` has the shape of an offer id (checked before any look-up).
pub fn is_offer_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Who started an action, and when (kept under [`started_key`] and the service key:
/// leased while its replica works on it, kept a day once it is done).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    pub user: String,
    pub at: i64,
    pub kind: ActionKind,
    pub offer: String,
    /// Its outcome was told.
    #[serde(default)]
    pub done: bool,
}

/// The state-store key of an offer's write call: written before UpdateService and again
/// with the deployment it started, so a replica taking over a dead one's action watches
/// that deployment instead of calling again.
pub fn attempt_key(id: &str) -> String {
    format!("attempt#{id}")
}

/// What [`attempt_key`] holds: who pressed, where, and what the call started, so
/// another replica can finish the action if this one goes away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub user: String,
    pub at: i64,
    /// The deployment UpdateService started, once it answered.
    pub deployment: Option<String>,
    pub channel: String,
    pub card_ts: Option<String>,
    pub thread_ts: Option<String>,
    /// The card as pressed (Block Kit JSON), to show the outcome on it.
    pub card: Option<serde_json::Value>,
}

/// The index of the offers whose action is under way (read by every replica's sweep).
pub const RUNNING: &str = "actions#running";

/// How long a replica's hold on an action lasts unless renewed (it renews every third
/// of it while alive): a replica that dies lets go this long after.
pub const ACTION_LEASE: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_ids_are_random_and_checked() {
        let a = new_offer_id().unwrap();
        let b = new_offer_id().unwrap();
        assert_ne!(a, b);
        assert!(is_offer_id(&a), "{a}");
        assert!(!is_offer_id("0123"));
        assert!(!is_offer_id(&a.to_uppercase()));
        assert!(!is_offer_id(&format!("{}\"}}", &a[..30])));
    }

    #[test]
    fn action_ids_round_trip() {
        for kind in ActionKind::ALL {
            assert_eq!(ActionKind::from_action_id(kind.action_id()), Some(kind));
        }
        assert_eq!(ActionKind::from_action_id("ecs_why_rerun"), None);
    }
}
