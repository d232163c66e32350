//! Settings of `ecs-why serve`, read once from the environment at start, and the
//! `ECS_WHY_CONFIG` file: channels, accounts and alert routes ([`routes`]).
//!
//! The variable names are a contract (DESIGN.md). Each error names the variable and says
//! how to set it, so a misconfigured deployment stops with one useful line. The optional
//! `ECS_WHY_CONFIG` file maps Slack channels to a default cluster, region and role:
//!
//! ```toml
//! [channels.C0123456789]          # channel id (or name, without #)
//! cluster = "prod"
//! region = "eu-west-1"
//! role_arn = "arn:aws:iam::123456789012:role/ecs-why-read"   # optional
//! ```

pub mod accounts;
pub mod actions;
pub mod routes;

pub use accounts::{Account, AccountMap};

use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Default Slack Web API base.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:3000";

/// Everything the bot needs to run. The secret and the tokens are [`SecretString`]s:
/// `{:?}` prints `[REDACTED]` for them, and reading one takes an explicit
/// `expose_secret()`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Signs every HTTP request from Slack. Absent only in Socket Mode, where HTTP Slack
    /// routes then refuse every request.
    pub signing_secret: Option<SecretString>,
    /// `xoxb-` bot token for the Web API.
    pub bot_token: SecretString,
    /// `xapp-` app-level token: Socket Mode when set.
    pub app_token: Option<SecretString>,
    /// Web API base without trailing slash.
    pub api_url: String,
    pub listen: SocketAddr,
    pub default_cluster: Option<String>,
    pub region: Option<String>,
    pub channels: ChannelMap,
    /// `[accounts."…"]`: each account's name and read role.
    pub accounts: AccountMap,
    /// Log group archiving "ECS Task State Change" events (the deploy stack creates it).
    pub archive_log_group: Option<String>,
    pub limits: Limits,
    /// Stopped-task alerts (`ECS_WHY_EVENTS_QUEUE_URL`, `[[alerts]]`).
    pub alerts: AlertSettings,
    /// DynamoDB table shared by replicas (`ECS_WHY_STATE_TABLE`); `None`: in memory.
    pub state_table: Option<String>,
    /// `[actions]`: Roll back and Restart from the card; `None`: off, no write call.
    pub actions: Option<actions::ActionSettings>,
}

/// Stopped-task alerts: where the events come from and which channel hears of what.
#[derive(Debug, Clone, Default)]
pub struct AlertSettings {
    /// The SQS queue EventBridge delivers "ECS Task State Change" events to; alerts are
    /// on when it is set.
    pub queue_url: Option<String>,
    pub routes: Vec<routes::AlertRoute>,
}

/// Bounds that keep an incident storm from becoming an outage of its own.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Diagnoses running against AWS at once; more wait their turn.
    pub max_in_flight: usize,
    /// Identical requests within this window share one diagnosis.
    pub coalesce_window: Duration,
    /// Requests one user may make per minute.
    pub per_user_per_minute: u32,
    /// Times a Slack call is retried after 429 before giving up.
    pub max_slack_retries: u32,
    /// Longest Retry-After honoured per attempt.
    pub max_retry_after: Duration,
    /// Gap between two alert posts in one channel (Slack allows about one a second).
    pub alert_spacing: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_in_flight: 16,
            coalesce_window: Duration::from_secs(10),
            per_user_per_minute: 10,
            max_slack_retries: 8,
            max_retry_after: Duration::from_secs(60),
            alert_spacing: Duration::from_secs(1),
        }
    }
}

/// Per-channel defaults from `ECS_WHY_CONFIG`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelMap {
    channels: BTreeMap<String, ChannelDefaults>,
}

/// Where a channel's tasks run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDefaults {
    pub cluster: Option<String>,
    pub region: Option<String>,
    pub role_arn: Option<String>,
}

/// A configuration problem, naming the variable and the fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is not set: {1}")]
    Missing(&'static str, &'static str),
    #[error("{0} is not valid ({1}): {2}")]
    Invalid(&'static str, String, &'static str),
    #[error("ECS_WHY_CONFIG: cannot read {path}: {reason}; point ECS_WHY_CONFIG at a readable TOML file or unset it")]
    Unreadable { path: String, reason: String },
    #[error("ECS_WHY_CONFIG: {path} is not valid: {reason}")]
    BadFile { path: String, reason: String },
}

impl Settings {
    /// Read the settings from the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// Read the settings through `var` (the environment in production, a map in tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let app_token = get("SLACK_APP_TOKEN");
        if let Some(token) = &app_token {
            if !token.starts_with("xapp-") {
                return Err(ConfigError::Invalid(
                    "SLACK_APP_TOKEN",
                    "it does not start with xapp-".into(),
                    "create an app-level token with the connections:write scope under Basic Information > App-Level Tokens",
                ));
            }
        }
        let signing_secret = get("SLACK_SIGNING_SECRET");
        if signing_secret.is_none() && app_token.is_none() {
            return Err(ConfigError::Missing(
                "SLACK_SIGNING_SECRET",
                "copy the Signing Secret from your Slack app's Basic Information page (or set SLACK_APP_TOKEN for Socket Mode)",
            ));
        }
        let bot_token = get("SLACK_BOT_TOKEN").ok_or(ConfigError::Missing(
            "SLACK_BOT_TOKEN",
            "copy the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth & Permissions page",
        ))?;
        if !bot_token.starts_with("xoxb-") {
            return Err(ConfigError::Invalid(
                "SLACK_BOT_TOKEN",
                "it does not start with xoxb-".into(),
                "use the Bot User OAuth Token from OAuth & Permissions, not a user or app token",
            ));
        }
        let api_url = get("SLACK_API_URL").unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let parsed = url::Url::parse(&api_url).map_err(|e| {
            ConfigError::Invalid(
                "SLACK_API_URL",
                e.to_string(),
                "set it to a URL such as https://slack.com/api, or unset it",
            )
        })?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(ConfigError::Invalid(
                "SLACK_API_URL",
                format!("scheme {}", parsed.scheme()),
                "use an https:// (or, for tests, http://) URL",
            ));
        }
        let api_url = api_url.trim_end_matches('/').to_string();

        let listen_text = get("ECS_WHY_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_text.parse().map_err(|_| {
            ConfigError::Invalid(
                "ECS_WHY_LISTEN",
                format!("`{listen_text}` is not an address"),
                "use IP:PORT such as 0.0.0.0:3000",
            )
        })?;

        let default_cluster = match get("ECS_WHY_DEFAULT_CLUSTER") {
            Some(c) => Some(crate::task_ref::cluster_name(&c).map_err(|e| {
                ConfigError::Invalid(
                    "ECS_WHY_DEFAULT_CLUSTER",
                    e.to_string(),
                    "use a cluster name or cluster ARN",
                )
            })?),
            None => None,
        };
        let region = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION"));
        if let Some(r) = &region {
            if !crate::task_ref::is_region(r) {
                return Err(ConfigError::Invalid(
                    "AWS_REGION",
                    format!("`{r}` is not a region name"),
                    "use a region such as us-east-1",
                ));
            }
        }
        let (channels, accounts, routes, actions) = match get("ECS_WHY_CONFIG") {
            Some(path) => load_config(Path::new(&path))?,
            None => (
                ChannelMap::default(),
                AccountMap::default(),
                Vec::new(),
                None,
            ),
        };
        let queue_url = get("ECS_WHY_EVENTS_QUEUE_URL");
        if let Some(url) = &queue_url {
            if url::Url::parse(url).is_err() {
                return Err(ConfigError::Invalid(
                    "ECS_WHY_EVENTS_QUEUE_URL",
                    format!("`{url}` is not a URL"),
                    "use the queue's URL, such as https://sqs.eu-west-1.amazonaws.com/123456789012/ecs-why-events",
                ));
            }
            if routes.is_empty() {
                return Err(ConfigError::Missing(
                    "[[alerts]] in ECS_WHY_CONFIG",
                    "ECS_WHY_EVENTS_QUEUE_URL is set, so add at least one [[alerts]] entry with channel = \"C...\" naming the channel to alert (or unset the queue URL)",
                ));
            }
        }
        Ok(Settings {
            signing_secret: signing_secret.map(SecretString::from),
            bot_token: SecretString::from(bot_token),
            app_token: app_token.map(SecretString::from),
            api_url,
            listen,
            default_cluster,
            region,
            channels,
            accounts,
            archive_log_group: get("ECS_WHY_ARCHIVE_LOG_GROUP"),
            limits: Limits::default(),
            alerts: AlertSettings { queue_url, routes },
            state_table: get("ECS_WHY_STATE_TABLE"),
            actions,
        })
    }

    /// Cluster, region and role for a channel: the channel's mapping, else the defaults.
    pub fn defaults_for(&self, channel_id: &str, channel_name: Option<&str>) -> ChannelDefaults {
        let mapped = self.channels.get(channel_id, channel_name);
        ChannelDefaults {
            cluster: mapped
                .and_then(|m| m.cluster.clone())
                .or_else(|| self.default_cluster.clone()),
            region: mapped
                .and_then(|m| m.region.clone())
                .or_else(|| self.region.clone()),
            role_arn: mapped.and_then(|m| m.role_arn.clone()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    channels: BTreeMap<String, ChannelDefaults>,
    /// Checked by [`routes::parse`].
    #[serde(default)]
    #[allow(dead_code)]
    alerts: Vec<toml::Value>,
    /// Checked by [`AccountMap::parse`].
    #[serde(default)]
    #[allow(dead_code)]
    accounts: toml::Table,
    /// Checked by [`actions::parse`].
    #[serde(default)]
    #[allow(dead_code)]
    actions: toml::Table,
}

/// The file's channel mappings, accounts, alert routes and actions.
type ConfigTables = (
    ChannelMap,
    AccountMap,
    Vec<routes::AlertRoute>,
    Option<actions::ActionSettings>,
);

/// Read the TOML file named by `ECS_WHY_CONFIG` once, and validate its channel
/// mappings, its accounts and its `[[alerts]]` routes.
fn load_config(path: &Path) -> Result<ConfigTables, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let bad_file = |reason| ConfigError::BadFile {
        path: path.display().to_string(),
        reason,
    };
    let channels = ChannelMap::parse(&text).map_err(bad_file)?;
    let accounts = AccountMap::parse(&text).map_err(bad_file)?;
    let routes = routes::parse(&text).map_err(bad_file)?;
    let actions = actions::parse(&text).map_err(bad_file)?;
    Ok((channels, accounts, routes, actions))
}

impl ChannelMap {
    /// Parse the file's text; the error says which entry is wrong and how.
    pub fn parse(text: &str) -> Result<ChannelMap, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            format!(
                "{}; expected [channels.CHANNEL_ID] tables with cluster, region and role_arn",
                e.message()
            )
        })?;
        for (channel, d) in &file.channels {
            if let Some(cluster) = &d.cluster {
                crate::task_ref::cluster_name(cluster)
                    .map_err(|e| format!("channels.{channel}.cluster: {e}"))?;
            }
            if let Some(region) = &d.region {
                if !crate::task_ref::is_region(region) {
                    return Err(format!(
                        "channels.{channel}.region: `{region}` is not a region name like us-east-1"
                    ));
                }
            }
            if let Some(role) = &d.role_arn {
                if !(role.starts_with("arn:aws") && role.contains(":role/")) {
                    return Err(format!(
                        "channels.{channel}.role_arn: `{role}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
                    ));
                }
            }
        }
        let channels = file
            .channels
            .into_iter()
            .map(|(k, mut v)| {
                v.cluster = v
                    .cluster
                    .and_then(|c| crate::task_ref::cluster_name(&c).ok());
                (k.trim_start_matches('#').to_string(), v)
            })
            .collect();
        Ok(ChannelMap { channels })
    }

    /// True when `channel_id` has no mapping of its own but some channels are mapped by
    /// name: the channel's name must be known before its defaults are.
    pub fn needs_name(&self, channel_id: &str) -> bool {
        !self.channels.contains_key(channel_id)
            && self.channels.keys().any(|key| !is_channel_id(key))
    }

    /// A role mapped (for any channel) in `account`, to read a task an ARN places there.
    pub fn role_in_account(&self, account: &str) -> Option<&str> {
        self.channels
            .values()
            .filter_map(|d| d.role_arn.as_deref())
            .find(|role| crate::arn::account(role) == Some(account))
    }

    /// The mapping for a channel, by id first, then by name.
    pub fn get(&self, channel_id: &str, channel_name: Option<&str>) -> Option<&ChannelDefaults> {
        self.channels
            .get(channel_id)
            .or_else(|| channel_name.and_then(|name| self.channels.get(name)))
    }
}

/// A Slack channel id (`C0123ABCD`, `G…` for old private channels), not a name: names
/// are lower case.
fn is_channel_id(key: &str) -> bool {
    key.len() >= 8
        && key.starts_with(['C', 'G', 'D'])
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn minimal_http_settings() {
        let s = Settings::from_vars(vars(&[
            ("SLACK_SIGNING_SECRET", "s"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
        ]))
        .unwrap();
        assert_eq!(s.api_url, DEFAULT_API_URL);
        assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
        assert!(s.app_token.is_none());
    }

    #[test]
    fn errors_name_the_variable() {
        let e = Settings::from_vars(vars(&[("SLACK_BOT_TOKEN", "xoxb-1")])).unwrap_err();
        assert!(e.to_string().starts_with("SLACK_SIGNING_SECRET is not set"));
        let e = Settings::from_vars(vars(&[("SLACK_SIGNING_SECRET", "s")])).unwrap_err();
        assert!(e.to_string().starts_with("SLACK_BOT_TOKEN is not set"));
        let e = Settings::from_vars(vars(&[
            ("SLACK_SIGNING_SECRET", "s"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("ECS_WHY_LISTEN", "nope"),
        ]))
        .unwrap_err();
        assert!(e.to_string().starts_with("ECS_WHY_LISTEN is not valid"));
        let e = Settings::from_vars(vars(&[
            ("SLACK_SIGNING_SECRET", "s"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("ECS_WHY_CONFIG", "/nonexistent/ecs-why.toml"),
        ]))
        .unwrap_err();
        assert!(e.to_string().starts_with("ECS_WHY_CONFIG: cannot read"));
    }

    #[test]
    fn printing_settings_shows_no_secret_or_token() {
        let s = Settings::from_vars(vars(&[
            ("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5"),
            ("SLACK_BOT_TOKEN", "xoxb-1234-secret-bot-token"),
            ("SLACK_APP_TOKEN", "xapp-1-secret-app-token"),
        ]))
        .unwrap();
        let printed = format!("{s:?}");
        for secret in [
            "8f742231b10e8888abcd99yyyzzz85a5",
            "xoxb-1234-secret-bot-token",
            "xapp-1-secret-app-token",
            "secret-bot",
            "secret-app",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
        assert!(printed.contains("REDACTED"), "{printed}");
        let printed = format!("{s:#?}");
        assert!(!printed.contains("xoxb-1234"), "{printed}");
    }

    #[test]
    fn socket_mode_needs_no_signing_secret() {
        let s = Settings::from_vars(vars(&[
            ("SLACK_APP_TOKEN", "xapp-1"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
        ]))
        .unwrap();
        assert!(s.signing_secret.is_none());
    }

    #[test]
    fn channel_map_and_defaults() {
        let map = ChannelMap::parse(
            r##"
            [channels.C1]
            cluster = "prod"
            region = "eu-west-1"
            role_arn = "arn:aws:iam::123456789012:role/read"
            [channels."#ops"]
            cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/ops"
            "##,
        )
        .unwrap();
        let mut s = Settings::from_vars(vars(&[
            ("SLACK_SIGNING_SECRET", "s"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("ECS_WHY_DEFAULT_CLUSTER", "default"),
            ("AWS_REGION", "us-east-2"),
        ]))
        .unwrap();
        s.channels = map;
        let d = s.defaults_for("C1", None);
        assert_eq!(d.cluster.as_deref(), Some("prod"));
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        assert!(d.role_arn.is_some());
        let d = s.defaults_for("C9", Some("ops"));
        assert_eq!(d.cluster.as_deref(), Some("ops"));
        assert_eq!(d.region.as_deref(), Some("us-east-2"));
        let d = s.defaults_for("C9", None);
        assert_eq!(d.cluster.as_deref(), Some("default"));
    }

    #[test]
    fn bad_channel_entries_are_named() {
        let e = ChannelMap::parse("[channels.C1]\nregion = \"mars\"\n").unwrap_err();
        assert!(e.contains("channels.C1.region"), "{e}");
        let e = ChannelMap::parse("[channels.C1]\nclustr = \"x\"\n").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
