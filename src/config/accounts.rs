//! The AWS accounts ecs-why reads, from the `[accounts."<12-digit id>"]` tables of the
//! `ECS_WHY_CONFIG` file: a name to show on every card, and the read role for that
//! account's tasks and events.
//!
//! ```toml
//! [accounts."210987654321"]
//! name = "payments-prod"
//! role_arn = "arn:aws:iam::210987654321:role/ecs-why-read"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;

/// One account's entry, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Shown on cards instead of the id.
    pub name: Option<String>,
    /// The role that reads this account's tasks, events and logs.
    pub role_arn: Option<String>,
}

/// Every `[accounts."…"]` table, by account id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountMap {
    accounts: BTreeMap<String, Account>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    accounts: BTreeMap<String, Account>,
}

impl AccountMap {
    /// The `[accounts]` tables of the file's text; the error names the entry and the fix.
    pub fn parse(text: &str) -> Result<AccountMap, String> {
        let file: File = toml::from_str(text).map_err(|e| {
            format!(
                "{}; expected [accounts.\"ACCOUNT_ID\"] tables with name and role_arn",
                e.message()
            )
        })?;
        for (id, account) in &file.accounts {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "accounts.{id}: `{id}` is not a 12-digit AWS account id; write it quoted, as [accounts.\"123456789012\"]"
                ));
            }
            if let Some(role) = &account.role_arn {
                let in_account = crate::arn::account(role);
                if !(role.starts_with("arn:aws") && role.contains(":role/")) {
                    return Err(format!(
                        "accounts.{id}.role_arn: `{role}` is not an IAM role ARN (arn:aws:iam::{id}:role/NAME)"
                    ));
                }
                if in_account != Some(id.as_str()) {
                    return Err(format!(
                        "accounts.{id}.role_arn: the role is in account {}, but it must be in {id} to read that account's tasks; use arn:aws:iam::{id}:role/NAME",
                        in_account.unwrap_or("unknown")
                    ));
                }
            }
            if account.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(format!(
                    "accounts.{id}.name: empty; give the account a name to show on cards, or leave name out"
                ));
            }
        }
        Ok(AccountMap {
            accounts: file.accounts,
        })
    }

    /// The entry of `account`, if the file has one.
    pub fn get(&self, account: &str) -> Option<&Account> {
        self.accounts.get(account)
    }

    /// The account's name, else its id: how cards name it.
    pub fn display_name<'a>(&'a self, account: &'a str) -> &'a str {
        self.get(account)
            .and_then(|a| a.name.as_deref())
            .unwrap_or(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_has_a_name_and_a_role_in_itself() {
        let map = AccountMap::parse(
            "[accounts.\"210987654321\"]\nname = \"payments-prod\"\nrole_arn = \"arn:aws:iam::210987654321:role/ecs-why-read\"\n",
        )
        .unwrap();
        let account = map.get("210987654321").unwrap();
        assert_eq!(account.name.as_deref(), Some("payments-prod"));
        assert_eq!(map.display_name("210987654321"), "payments-prod");
        assert_eq!(map.display_name("123456789012"), "123456789012");
    }

    #[test]
    fn bad_entries_are_named_with_the_fix() {
        let e = AccountMap::parse("[accounts.prod]\nname = \"x\"\n").unwrap_err();
        assert!(e.contains("12-digit"), "{e}");
        let e = AccountMap::parse(
            "[accounts.\"210987654321\"]\nrole_arn = \"arn:aws:iam::123456789012:role/r\"\n",
        )
        .unwrap_err();
        assert!(e.contains("must be in 210987654321"), "{e}");
        let e = AccountMap::parse("[accounts.\"210987654321\"]\nrole = \"x\"\n").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }
}
