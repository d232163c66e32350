//! Which channel hears about which stopped task: the `[[alerts]]` tables of the
//! `ECS_WHY_CONFIG` file.
//!
//! ```toml
//! [[alerts]]
//! channel = "C0ONCALL"      # required
//! cluster = "prod"          # optional; glob on the cluster name
//! service = "web*"          # optional; glob on the service name
//! ignore = ["deployment-replaced", "scaling-event", "container-exited-success"]  # the default
//! ```
//!
//! Every matching entry gets the alert; a task no entry matches is not announced. A bad
//! entry stops the start with one line naming the entry and the fix.

use crate::diagnose::CauseId;
use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use std::collections::BTreeSet;

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
    ignore: BTreeSet<CauseId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    channel: Option<String>,
    cluster: Option<String>,
    service: Option<String>,
    ignore: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct FileSpec {
    #[serde(default)]
    alerts: Vec<toml::Value>,
}

impl AlertRoute {
    /// Whether a stopped task of `cluster` (name) and `service` (name, if a service
    /// task) goes to this route's channel at all.
    pub fn matches(&self, cluster: &str, service: Option<&str>) -> bool {
        let cluster_ok = self.cluster.as_ref().is_none_or(|g| g.is_match(cluster));
        let service_ok = match (&self.service, service) {
            (None, _) => true,
            (Some(glob), Some(service)) => glob.is_match(service),
            (Some(_), None) => false,
        };
        cluster_ok && service_ok
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
            "{name}: {}; an entry has channel (required), cluster, service and ignore",
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
        ignore,
    })
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
        assert!(routes[0].matches("prod-eu", Some("web-api")));
        assert!(!routes[0].matches("staging", Some("web-api")));
        assert!(!routes[0].matches("prod", Some("worker")));
        assert!(
            !routes[0].matches("prod", None),
            "a service glob never matches a standalone task"
        );
        assert!(routes[1].matches("anything", None));
        assert!(routes[1].ignores(CauseId::DeploymentReplaced));
        assert!(routes[1].ignores(CauseId::ContainerExitedSuccess));
        assert!(!routes[1].ignores(CauseId::OutOfMemory));
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
