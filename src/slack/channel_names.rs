//! Channel names for the routes that carry only a channel's id (mentions), so a channel
//! mapped by name in `ECS_WHY_CONFIG` resolves to the same cluster, region and role on
//! every route.
//!
//! Slash commands and button presses carry the name; the bot learns it from them. A
//! mention in a channel not yet seen is looked up once with `conversations.info`.

use crate::slack_api::Poster;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::{SlackApiConversationsInfoRequest, SlackApiToken};
use std::time::Duration;

/// Channels whose names are kept.
const KEPT: u64 = 10_000;
/// How long a learned name is trusted (channels can be renamed).
const TRUSTED_FOR: Duration = Duration::from_secs(3600);

/// Channel id to name, learned or looked up.
pub struct ChannelNames {
    names: moka::sync::Cache<String, String>,
}

impl Default for ChannelNames {
    fn default() -> Self {
        ChannelNames {
            names: moka::sync::Cache::builder()
                .max_capacity(KEPT)
                .time_to_live(TRUSTED_FOR)
                .build(),
        }
    }
}

impl ChannelNames {
    /// Remember a name Slack sent along with an id.
    pub fn learn(&self, channel_id: &str, name: Option<&str>) {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            self.names.insert(channel_id.to_string(), name.to_string());
        }
    }

    /// The channel's name: learned, else from `conversations.info`. The error says why
    /// it is unknown, for the asker.
    pub async fn name_of(
        &self,
        poster: &Poster,
        token: &SecretString,
        channel_id: &str,
    ) -> Result<String, String> {
        if let Some(name) = self.names.get(channel_id) {
            return Ok(name);
        }
        let token = SlackApiToken::new(token.expose_secret().into());
        let client = poster.client();
        let session = client.open_session(&token);
        let request = SlackApiConversationsInfoRequest::new(channel_id.into());
        let name = session
            .conversations_info(&request)
            .await
            .map_err(|e| format!("Slack's conversations.info failed: {e}"))?
            .channel
            .name
            .ok_or_else(|| "Slack's conversations.info gave no name".to_string())?;
        self.learn(channel_id, Some(&name));
        Ok(name)
    }
}
