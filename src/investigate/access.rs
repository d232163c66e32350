//! Whose credentials read a task: one resolver for asks (commands, mentions, buttons,
//! Socket Mode) and alerts alike.
//!
//! The task's account (from its ARN, or the event) picks the role first: the role of
//! `[accounts."<id>"]`, else a channel's role that is in that account. Only then the
//! channel's own mapping (by id, else by name). With neither, the bot's own
//! credentials read it; if those are in another account, the investigation says so and
//! how to map a role rather than look in the wrong account.

use crate::config::Settings;

/// The credentials an investigation reads with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Access {
    /// The role to assume; `None`: the bot's own credentials.
    pub role_arn: Option<String>,
    /// The account the task is in, when its ARN or event says.
    pub account: Option<String>,
}

/// Where an ask came from: a channel, by id and (when Slack said) by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel<'a> {
    pub id: &'a str,
    pub name: Option<&'a str>,
}

impl Access {
    /// The bot's own credentials, for a task in an unknown account (the CLI).
    pub fn own() -> Access {
        Access::default()
    }

    /// The role to read a task in `account` (when known) asked about in `channel` (when
    /// there is one): the account's role first, then the channel's.
    pub fn resolve(
        settings: &Settings,
        account: Option<&str>,
        channel: Option<Channel<'_>>,
    ) -> Access {
        let channel_role = channel
            .and_then(|c| settings.channels.get(c.id, c.name))
            .and_then(|mapped| mapped.role_arn.clone());
        let role_arn = match account {
            None => channel_role,
            Some(account) => settings
                .accounts
                .get(account)
                .and_then(|a| a.role_arn.clone())
                .or_else(|| {
                    channel_role
                        .clone()
                        .filter(|role| crate::arn::account(role) == Some(account))
                })
                .or_else(|| {
                    settings
                        .channels
                        .role_in_account(account)
                        .map(str::to_string)
                })
                .or(channel_role),
        };
        Access {
            role_arn,
            account: account.map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const PAYMENTS: &str = "arn:aws:iam::210987654321:role/ecs-why-read";
    const CHANNEL_ROLE: &str = "arn:aws:iam::123456789012:role/ops-read";

    fn settings() -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecs-why.toml");
        std::fs::write(
            &path,
            format!(
                "[channels.C0OPS]\nrole_arn = \"{CHANNEL_ROLE}\"\n[channels.payments]\ncluster = \"pay\"\n\
                 [accounts.\"210987654321\"]\nname = \"payments-prod\"\nrole_arn = \"{PAYMENTS}\"\n"
            ),
        )
        .unwrap();
        let vars: HashMap<&str, String> = HashMap::from([
            ("SLACK_SIGNING_SECRET", "s".to_string()),
            ("SLACK_BOT_TOKEN", "xoxb-1".to_string()),
            ("ECS_WHY_CONFIG", path.display().to_string()),
        ]);
        Settings::from_vars(|k| vars.get(k).cloned()).unwrap()
    }

    fn channel(id: &'static str, name: Option<&'static str>) -> Option<Channel<'static>> {
        Some(Channel { id, name })
    }

    #[test]
    fn the_task_account_picks_the_role_before_the_channel() {
        let s = settings();
        let access = Access::resolve(&s, Some("210987654321"), channel("C0OPS", None));
        assert_eq!(access.role_arn.as_deref(), Some(PAYMENTS));
        assert_eq!(access.account.as_deref(), Some("210987654321"));
    }

    #[test]
    fn without_an_account_role_the_channel_role_reads_its_own_account() {
        let s = settings();
        let access = Access::resolve(&s, Some("123456789012"), channel("C0OPS", None));
        assert_eq!(access.role_arn.as_deref(), Some(CHANNEL_ROLE));
        let access = Access::resolve(&s, None, channel("C0OPS", None));
        assert_eq!(access.role_arn.as_deref(), Some(CHANNEL_ROLE));
    }

    #[test]
    fn an_alert_with_no_channel_reads_with_its_account_role() {
        let s = settings();
        let access = Access::resolve(&s, Some("210987654321"), None);
        assert_eq!(access.role_arn.as_deref(), Some(PAYMENTS));
        assert_eq!(
            Access::resolve(&s, Some("999999999999"), None),
            Access {
                role_arn: None,
                account: Some("999999999999".into()),
            }
        );
    }

    #[test]
    fn a_channel_mapped_by_name_keeps_its_role() {
        let s = settings();
        let access = Access::resolve(&s, None, channel("C0UNKNOWN", Some("payments")));
        assert_eq!(access.role_arn, None, "the payments mapping sets no role");
        let access = Access::resolve(&s, None, channel("C0UNKNOWN", Some("nothing")));
        assert_eq!(access, Access::own());
    }
}
