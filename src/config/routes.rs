//! Which channel hears about which stopped task: the `[[alerts]]` tables of the
//! `ECS_WHY_CONFIG` file.
//!
//! ```toml
//! [[alerts]]
//! channel = "C0ONCALL"      # required
//! cluster = "prod"          # optional; glob on the cluster name
//! service = "web*"          # optional; glob on the service name
//! account = "2109*"         # optional; glob on the 12-digit account id
//! region = "eu-*"           # optional; glob on the region
//! ignore = ["deployment-replaced", "scaling-event", "container-exited-success"]  # the default
//! escalate_after = "15m"    # optional; "30s", "15m", "1h"
//! escalate_to = ["S0ONCALL", "U0LEAD"]   # user groups and users to mention
//! digest = "09:00 Europe/Berlin"         # optional; a daily summary at that time
//! ```
//!
//! Every matching entry gets the alert; a task no entry matches is not announced. A bad
//! entry stops the start with one line naming the entry and the fix.

use crate::diagnose::CauseId;
use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// Causes not announced unless an entry says otherwise: expected stops.
pub const DEFAULT_IGNORE: [CauseId; 3] = [
    CauseId::DeploymentReplaced,
    CauseId::ScalingEvent,
    CauseId::ContainerExitedSuccess,
];

/// One `[[alerts]]` entry, checked.
#[derive(Debug, Clone)]
pub struct AlertRoute {
    pub channel: String,
    cluster: Option<GlobMatcher>,
    service: Option<GlobMatcher>,
    account: Option<GlobMatcher>,
    region: Option<GlobMatcher>,
    ignore: BTreeSet<CauseId>,
    /// Mention `escalate_to` in the thread of an incident neither acknowledged nor
    /// recovered this long after it opened.
    pub escalate_after: Option<Duration>,
    /// Slack user-group ids (`S…`) and user ids (`U…`, `W…`) to mention.
    pub escalate_to: Vec<String>,
    /// A daily summary in the channel, at this time in this zone.
    pub digest: Option<DigestTime>,
}

/// A time of day in an IANA zone (`09:00 Europe/Berlin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTime {
    pub hour: u32,
    pub minute: u32,
    pub zone: chrono_tz::Tz,
}

/// Where a task or a service is: what a route is matched against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub cluster: &'a str,
    /// `None` for a standalone task.
    pub service: Option<&'a str>,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    channel: Option<String>,
    cluster: Option<String>,
    service: Option<String>,
    account: Option<String>,
    region: Option<String>,
    ignore: Option<Vec<String>>,
    escalate_after: Option<String>,
    escalate_to: Option<Vec<String>>,
    digest: Option<String>,
}

#[derive(Deserialize)]
struct FileSpec {
    #[serde(default)]
    alerts: Vec<toml::Value>,
}

impl AlertRoute {
    /// Whether news from `origin` goes to this route's channel at all. A glob on
    /// something the news does not say (a service of a standalone task, an account an
    /// event does not name) does not match.
    pub fn matches(&self, origin: Origin<'_>) -> bool {
        let glob = |pattern: &Option<GlobMatcher>, value: Option<&str>| match (pattern, value) {
            (None, _) => true,
            (Some(glob), Some(value)) => glob.is_match(value),
            (Some(_), None) => false,
        };
        glob(&self.cluster, Some(origin.cluster))
            && glob(&self.service, origin.service)
            && glob(&self.account, origin.account)
            && glob(&self.region, origin.region)
    }

    /// Whether this route stays silent about `cause`.
    pub fn ignores(&self, cause: CauseId) -> bool {
        self.ignore.contains(&cause)
    }
}

/// Parse the `[[alerts]]` entries of the configuration file's text. The error names the
/// entry (`alerts[2]`, counted from 1) and says how to fix it.
pub fn parse(text: &str) -> Result<Vec<AlertRoute>, String> {
    let file: FileSpec = toml::from_str(text)
        .map_err(|e| format!("{}; [[alerts]] entries are tables", e.message()))?;
    file.alerts
        .into_iter()
        .enumerate()
        .map(|(i, value)| route(i + 1, value))
        .collect()
}

fn route(number: usize, value: toml::Value) -> Result<AlertRoute, String> {
    let name = format!("alerts[{number}]");
    let spec = RouteSpec::deserialize(value).map_err(|e| {
        format!(
            "{name}: {}; an entry has channel (required), cluster, service, account, region, ignore, escalate_after, escalate_to and digest",
            e.message()
        )
    })?;
    let channel = spec
        .channel
        .map(|c| c.trim().trim_start_matches('#').to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            format!("{name}: channel is missing; set channel = \"C0123456789\" (the channel's id)")
        })?;
    if !channel
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{name}.channel: `{channel}` is not a channel id or name; use the id, such as C0123456789"
        ));
    }
    let glob = |field: &str, pattern: Option<String>| -> Result<Option<GlobMatcher>, String> {
        pattern
            .map(|p| {
                Glob::new(p.trim())
                    .map(|g| g.compile_matcher())
                    .map_err(|e| {
                        format!("{name}.{field}: `{p}` is not a valid glob ({e}); use * and ? wildcards, such as \"web*\"")
                    })
            })
            .transpose()
    };
    let cluster = glob("cluster", spec.cluster)?;
    let service = glob("service", spec.service)?;
    let account = glob("account", spec.account)?;
    let region = glob("region", spec.region)?;
    let escalate_after = spec
        .escalate_after
        .as_deref()
        .map(|text| {
            duration(text).ok_or_else(|| {
                format!("{name}.escalate_after: `{text}` is not a duration; write seconds, minutes or hours, such as \"30s\", \"15m\" or \"1h\"")
            })
        })
        .transpose()?;
    let escalate_to: Vec<String> = spec
        .escalate_to
        .unwrap_or_default()
        .into_iter()
        .map(|who| who.trim().to_string())
        .collect();
    if let Some(bad) = escalate_to.iter().find(|who| !is_mentionable(who)) {
        return Err(format!(
            "{name}.escalate_to: `{bad}` is not a Slack user-group id (S…) or user id (U… or W…)"
        ));
    }
    if escalate_after.is_some() == escalate_to.is_empty() {
        return Err(format!(
            "{name}: escalate_after and escalate_to go together; set both (whom to mention after how long) or neither"
        ));
    }
    let digest = spec
        .digest
        .as_deref()
        .map(|text| {
            digest_time(text).ok_or_else(|| {
                format!("{name}.digest: `{text}` is not a time and a zone; write it as \"09:00 Europe/Berlin\" (24-hour time, an IANA zone)")
            })
        })
        .transpose()?;
    let ignore = match spec.ignore {
        None => DEFAULT_IGNORE.into_iter().collect(),
        Some(ids) => ids
            .iter()
            .map(|id| {
                id.parse::<CauseId>()
                    .map_err(|e| format!("{name}.ignore: {e}"))
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(AlertRoute {
        channel,
        cluster,
        service,
        account,
        region,
        ignore,
        escalate_after,
        escalate_to,
        digest,
    })
}

/// `30s`, `15m`, `1h` (a whole number and its unit), not zero.
pub fn duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number: u64 = text[..text.len() - unit.len_utf8()].trim().parse().ok()?;
    let seconds = match unit {
        's' => number,
        'm' => number.checked_mul(60)?,
        'h' => number.checked_mul(3600)?,
        _ => return None,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

/// `09:00 Europe/Berlin`.
fn digest_time(text: &str) -> Option<DigestTime> {
    let (time, zone) = text.trim().split_once(char::is_whitespace)?;
    let (hour, minute) = time.split_once(':')?;
    let hour: u32 = hour.parse().ok()?;
    let minute: u32 = minute.parse().ok()?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let zone: chrono_tz::Tz = zone.trim().parse().ok()?;
    Some(DigestTime { hour, minute, zone })
}

/// A user-group id (`S…`) or a user id (`U…`, `W…`): upper-case letters and digits.
fn is_mentionable(who: &str) -> bool {
    who.len() >= 3
        && who.starts_with(['S', 'U', 'W'])
        && who
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_select_clusters_and_services() {
        let routes = parse(
            r#"
            [[alerts]]
            channel = "C0ONCALL"
            cluster = "prod*"
            service = "web*"

            [[alerts]]
            channel = "C0ALL"
            "#,
        )
        .unwrap();
        let at = |cluster, service| Origin {
            cluster,
            service,
            ..Origin::default()
        };
        assert!(routes[0].matches(at("prod-eu", Some("web-api"))));
        assert!(!routes[0].matches(at("staging", Some("web-api"))));
        assert!(!routes[0].matches(at("prod", Some("worker"))));
        assert!(
            !routes[0].matches(at("prod", None)),
            "a service glob never matches a standalone task"
        );
        assert!(routes[1].matches(at("anything", None)));
        assert!(routes[1].ignores(CauseId::DeploymentReplaced));
        assert!(routes[1].ignores(CauseId::ContainerExitedSuccess));
        assert!(!routes[1].ignores(CauseId::OutOfMemory));
    }

    #[test]
    fn accounts_and_regions_route_too() {
        let routes =
            parse("[[alerts]]\nchannel = \"C0PAY\"\naccount = \"2109*\"\nregion = \"eu-*\"\n")
                .unwrap();
        let origin = |account, region| Origin {
            cluster: "prod",
            service: Some("web"),
            account,
            region,
        };
        assert!(routes[0].matches(origin(Some("210987654321"), Some("eu-west-1"))));
        assert!(!routes[0].matches(origin(Some("123456789012"), Some("eu-west-1"))));
        assert!(!routes[0].matches(origin(Some("210987654321"), Some("us-east-1"))));
        assert!(!routes[0].matches(origin(None, Some("eu-west-1"))));
    }

    #[test]
    fn a_digest_is_a_time_and_an_iana_zone() {
        let routes =
            parse("[[alerts]]\nchannel = \"C1\"\ndigest = \"09:00 Europe/Berlin\"\n").unwrap();
        let digest = routes[0].digest.expect("a digest time");
        assert_eq!((digest.hour, digest.minute), (9, 0));
        assert_eq!(digest.zone, chrono_tz::Europe::Berlin);
        let zone =
            parse("[[alerts]]\nchannel = \"C1\"\ndigest = \"09:00 Mars/Olympus\"\n").unwrap_err();
        assert!(zone.starts_with("alerts[1].digest"), "{zone}");
        let time = parse("[[alerts]]\nchannel = \"C1\"\ndigest = \"25:00 UTC\"\n").unwrap_err();
        assert!(time.starts_with("alerts[1].digest"), "{time}");
    }

    #[test]
    fn escalation_is_read_with_its_units() {
        let routes = parse(
            "[[alerts]]\nchannel = \"C1\"\nescalate_after = \"15m\"\nescalate_to = [\"S0ONCALL\", \"U0LEAD\"]\n",
        )
        .unwrap();
        assert_eq!(routes[0].escalate_after, Some(Duration::from_secs(900)));
        assert_eq!(routes[0].escalate_to, ["S0ONCALL", "U0LEAD"]);
        assert_eq!(duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(duration("0m"), None);
        assert_eq!(duration("15 minutes"), None);
    }

    #[test]
    fn bad_escalations_are_named() {
        let no_whom =
            parse("[[alerts]]\nchannel = \"C1\"\nescalate_after = \"15m\"\n").unwrap_err();
        assert!(no_whom.contains("go together"), "{no_whom}");
        let unit = parse(
            "[[alerts]]\nchannel = \"C1\"\nescalate_after = \"15 min\"\nescalate_to = [\"U1ABC\"]\n",
        )
        .unwrap_err();
        assert!(unit.starts_with("alerts[1].escalate_after"), "{unit}");
        let whom = parse(
            "[[alerts]]\nchannel = \"C1\"\nescalate_after = \"1h\"\nescalate_to = [\"@oncall\"]\n",
        )
        .unwrap_err();
        assert!(whom.starts_with("alerts[1].escalate_to"), "{whom}");
    }

    #[test]
    fn an_explicit_ignore_list_replaces_the_default() {
        let routes = parse("[[alerts]]\nchannel = \"C1\"\nignore = []\n").unwrap();
        assert!(!routes[0].ignores(CauseId::DeploymentReplaced));
        let routes = parse("[[alerts]]\nchannel = \"C1\"\nignore = [\"out-of-memory\"]\n").unwrap();
        assert!(routes[0].ignores(CauseId::OutOfMemory));
        assert!(!routes[0].ignores(CauseId::ScalingEvent));
    }

    #[test]
    fn bad_entries_are_named_with_the_fix() {
        let missing = parse("[[alerts]]\ncluster = \"prod\"\n").unwrap_err();
        assert!(
            missing.starts_with("alerts[1]: channel is missing"),
            "{missing}"
        );
        let glob = parse(
            "[[alerts]]\nchannel = \"C1\"\n[[alerts]]\nchannel = \"C2\"\nservice = \"web[\"\n",
        )
        .unwrap_err();
        assert!(
            glob.starts_with("alerts[2].service: `web[` is not a valid glob"),
            "{glob}"
        );
        let cause = parse("[[alerts]]\nchannel = \"C1\"\nignore = [\"oom\"]\n").unwrap_err();
        assert!(cause.starts_with("alerts[1].ignore:"), "{cause}");
        assert!(
            cause.contains("out-of-memory"),
            "lists the known ids: {cause}"
        );
        let unknown = parse("[[alerts]]\nchannel = \"C1\"\nclusters = \"prod\"\n").unwrap_err();
        assert!(
            unknown.contains("alerts[1]") && unknown.contains("clusters"),
            "{unknown}"
        );
        assert!(parse("").unwrap().is_empty());
    }
}
