//! Unreachable dependencies: a refused connection, a name that does not resolve, a
//! timeout or no route, with the host (and port) the line names.

use super::{Described, FindingValues};
use regex::Regex;
use std::sync::LazyLock;

static DEPENDENCY_FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?P<refused>ECONNREFUSED|connection refused|could not connect to server)|",
        r"(?P<dns>ENOTFOUND|Name or service not known|no such host|Temporary failure in name resolution|EAI_AGAIN)|",
        r"(?P<timeout>ETIMEDOUT|i/o timeout|(?:connect|connection|dial tcp|request to)\b.{0,120}\b(?:timed out|timeout))|",
        r"(?P<unreachable>EHOSTUNREACH|No route to host)"
    ))
    .expect("valid dependency regex")
});

static TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"ENOTFOUND\s+(?P<name>[\w.\-]+)|lookup\s+(?P<lookup>[\w.\-]+)|host\s+"(?P<quoted>[^"]+)"|"#,
        r"(?P<hostport>\b(?:\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z][\w\-]*(?:\.[\w\-]+)*|\[[0-9a-fA-F:]+\]):\d{2,5})\b"
    ))
    .expect("valid target regex")
});

/// The host (and port) a connection failure names, if any.
fn connection_target(line: &str) -> Option<String> {
    TARGET.captures_iter(line).find_map(|c| {
        ["name", "lookup", "quoted", "hostport"]
            .iter()
            .find_map(|group| c.name(group))
            .map(|m| m.as_str().to_string())
            .filter(|t| !t.starts_with("http") && !t.starts_with("Error"))
    })
}

/// "Could not reach `db:5432` (connection refused)".
pub fn dependency_unreachable(line: &str) -> Option<Described> {
    let caps = DEPENDENCY_FAILURE.captures(line)?;
    let how = if caps.name("refused").is_some() {
        "connection refused: nothing listens there, or it is not up yet"
    } else if caps.name("dns").is_some() {
        "the name does not resolve: check the host name and the VPC's DNS / service discovery"
    } else if caps.name("timeout").is_some() {
        "timed out: check security groups, network ACLs and routes between the task and it"
    } else {
        "no route to host: check the subnet's routes and network ACLs"
    };
    let target = connection_target(line);
    let detail = match &target {
        Some(target) => format!("Could not reach `{target}` ({how})"),
        None => format!("Could not reach a dependency ({how})"),
    };
    Some(Described {
        values: FindingValues::DependencyUnreachable { target },
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(line: &str) -> String {
        dependency_unreachable(line)
            .expect("a dependency failure")
            .detail
    }

    #[test]
    fn unreachable_dependencies_name_the_target() {
        let found = detail("Error: connect ECONNREFUSED 10.0.1.5:5432");
        assert!(found.contains("`10.0.1.5:5432`") && found.contains("refused"));
        let found = detail("getaddrinfo ENOTFOUND db.internal");
        assert!(found.contains("`db.internal`") && found.contains("resolve"));
        let found = detail("dial tcp redis.cache.local:6379: i/o timeout");
        assert!(found.contains("redis.cache.local:6379") && found.contains("timed out"));
        let found = detail("psql: could not connect to server: Connection refused");
        assert!(found.contains("refused"));
        assert!(dependency_unreachable("request took 12ms").is_none());
        assert_eq!(
            dependency_unreachable("getaddrinfo ENOTFOUND db.internal").map(|d| d.values),
            Some(FindingValues::DependencyUnreachable {
                target: Some("db.internal".into())
            })
        );
    }
}
