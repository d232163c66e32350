//! The `[actions]` table of the `ECS_WHY_CONFIG` file: who may roll a service back or
//! restart it from a card, in which channels, and the write role each action assumes.
//! Without the table there is no action button and no write call.
//!
//! ```toml
//! [actions]
//! role_arn = "arn:aws:iam::123456789012:role/ecs-why-operate"  # assumed only for actions
//! allowed  = ["U0ALICE", "S0ONCALL"]   # Slack user ids and user-group ids
//! channels = ["C0PROD"]                # where the buttons appear
//! settle   = "5m"                      # optional: how long a service must stay steady
//!
//! [actions.accounts."210987654321"]    # the write role for another account's services
//! role_arn = "arn:aws:iam::210987654321:role/ecs-why-operate"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a service must stay steady after an action before it is called done.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(300);

/// The checked `[actions]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionSettings {
    /// The write role for services in the role's own account.
    pub role_arn: String,
    /// Write roles for services in other accounts, by account id.
    pub account_roles: BTreeMap<String, String>,
    /// Slack user ids (`U…`, `W…`) and user-group ids (`S…`) who may press.
    pub allowed: Vec<String>,
    /// Channel ids where the buttons appear and are accepted.
    pub channels: Vec<String>,
    pub settle: Duration,
}

impl ActionSettings {
    /// The write role for a service in `account` (`None`: the bot may not change it).
    pub fn role_for(&self, account: &str) -> Option<&str> {
        if let Some(role) = self.account_roles.get(account) {
            return Some(role);
        }
        (crate::arn::account(&self.role_arn) == Some(account)).then_some(self.role_arn.as_str())
    }

    /// Whether the buttons appear (and are accepted) in `channel`.
    pub fn in_channel(&self, channel: &str) -> bool {
        self.channels.iter().any(|c| c == channel)
    }
}

#[derive(Deserialize)]
struct File {
    actions: Option<Spec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    role_arn: String,
    allowed: Vec<String>,
    channels: Vec<String>,
    settle: Option<String>,
    #[serde(default)]
    accounts: BTreeMap<String, AccountRole>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRole {
    role_arn: String,
}

/// The `[actions]` table of the file's text, if any; the error names the key and the fix.
pub fn parse(text: &str) -> Result<Option<ActionSettings>, String> {
    let file: File = toml::from_str(text).map_err(|e| {
        format!(
            "{}; [actions] takes role_arn, allowed, channels, settle and [actions.accounts.\"ID\"] tables with role_arn",
            e.message()
        )
    })?;
    let Some(spec) = file.actions else {
        return Ok(None);
    };
    check_role("actions.role_arn", &spec.role_arn, None)?;
    let mut account_roles = BTreeMap::new();
    for (account, entry) in spec.accounts {
        let key = format!("actions.accounts.{account}.role_arn");
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "actions.accounts.{account}: `{account}` is not a 12-digit AWS account id; write it quoted, as [actions.accounts.\"123456789012\"]"
            ));
        }
        check_role(&key, &entry.role_arn, Some(&account))?;
        account_roles.insert(account, entry.role_arn);
    }
    let allowed: Vec<String> = spec.allowed.iter().map(|a| a.trim().to_string()).collect();
    if allowed.is_empty() {
        return Err("actions.allowed: empty, so nobody could press; list Slack user ids (U…) or user-group ids (S…), or remove [actions]".into());
    }
    if let Some(bad) = allowed.iter().find(|a| !is_slack_id(a, &['U', 'W', 'S'])) {
        return Err(format!(
            "actions.allowed: `{bad}` is not a Slack user id (U…, W…) or user-group id (S…); find ids in a profile's \"Copy member ID\" or the group's page"
        ));
    }
    let channels: Vec<String> = spec.channels.iter().map(|c| c.trim().to_string()).collect();
    if channels.is_empty() {
        return Err("actions.channels: empty, so no card would offer an action; list channel ids (C…, G…), or remove [actions]".into());
    }
    if let Some(bad) = channels.iter().find(|c| !is_slack_id(c, &['C', 'G'])) {
        return Err(format!(
            "actions.channels: `{bad}` is not a channel id (C…, G…); names can be renamed, so actions take ids only (channel details > About)"
        ));
    }
    let settle = match spec.settle.as_deref() {
        None => DEFAULT_SETTLE,
        Some(text) => super::routes::duration(text).ok_or_else(|| {
            format!("actions.settle: `{text}` is not a duration; write seconds, minutes or hours, such as \"30s\" or \"5m\"")
        })?,
    };
    Ok(Some(ActionSettings {
        role_arn: spec.role_arn,
        account_roles,
        allowed,
        channels,
        settle,
    }))
}

fn check_role(key: &str, role: &str, account: Option<&str>) -> Result<(), String> {
    if !(role.starts_with("arn:aws") && role.contains(":role/")) {
        return Err(format!(
            "{key}: `{role}` is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        ));
    }
    if let Some(account) = account {
        if crate::arn::account(role) != Some(account) {
            return Err(format!(
                "{key}: the role is not in account {account}; the write role for a service must be in the service's account"
            ));
        }
    }
    Ok(())
}

/// `U0ALICE`-like: one of `kinds`, then upper-case letters and digits.
fn is_slack_id(id: &str, kinds: &[char]) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| kinds.contains(&c))
        && id.len() >= 3
        && id.len() <= 24
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "[actions]\nrole_arn = \"arn:aws:iam::123456789012:role/ecs-why-operate\"\nallowed = [\"U0ALICE\", \"S0ONCALL\"]\nchannels = [\"C0PROD\"]\n[actions.accounts.\"210987654321\"]\nrole_arn = \"arn:aws:iam::210987654321:role/ecs-why-operate\"\n";

    #[test]
    fn no_table_means_no_actions() {
        assert_eq!(parse("[channels.C1]\ncluster = \"prod\"\n"), Ok(None));
    }

    #[test]
    fn the_write_role_is_chosen_by_the_service_account() {
        let actions = parse(OK).unwrap().unwrap();
        assert_eq!(actions.settle, DEFAULT_SETTLE);
        assert_eq!(
            actions.role_for("123456789012"),
            Some("arn:aws:iam::123456789012:role/ecs-why-operate")
        );
        assert_eq!(
            actions.role_for("210987654321"),
            Some("arn:aws:iam::210987654321:role/ecs-why-operate")
        );
        assert_eq!(actions.role_for("999999999999"), None);
        assert!(actions.in_channel("C0PROD"));
        assert!(!actions.in_channel("C0OTHER"));
    }

    #[test]
    fn bad_entries_say_the_fix() {
        let bad = |from: &str, to: &str| parse(&OK.replace(from, to)).unwrap_err();
        assert!(bad("\"U0ALICE\", \"S0ONCALL\"", "").contains("nobody could press"));
        assert!(bad("U0ALICE", "alice").contains("not a Slack user id"));
        assert!(bad("C0PROD", "prod-alerts").contains("ids only"));
        assert!(
            bad("role/ecs-why-operate\"\nallowed", "user/x\"\nallowed").contains("not an IAM role")
        );
        assert!(bad("210987654321:role", "123456789012:role").contains("not in account"));
        assert!(
            parse(&format!("{OK}\n[actions.extra]\n")).is_err(),
            "unknown keys are refused"
        );
        let settle = parse(&OK.replace(
            "channels = [\"C0PROD\"]",
            "channels = [\"C0PROD\"]\nsettle = \"2s\"",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(settle.settle, Duration::from_secs(2));
    }
}
