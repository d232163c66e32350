//! What people paste, parsed once at the edge into a [`Target`].
//!
//! Accepted: a task ARN (new format `task/CLUSTER/ID` and old format `task/ID`), a bare
//! task id (32 hex, or the older UUID form), an ECS console URL copied from a browser
//! (new `/ecs/v2/clusters/C/tasks/ID` and old `#/clusters/C/tasks/ID` forms, and service
//! pages), and a service name (meaning: the newest stopped task of that service).
//! Everything downstream works on the parsed value and never re-parses the text.

use crate::arn::{Arn, TaskArn};
use std::fmt;
use url::Url;

/// What to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRef {
    /// A task, known by id (the last segment of its ARN).
    Task { task_id: String },
    /// A service: explain its newest stopped task, with the service's events.
    Service { service: String },
}

/// A parsed reference plus the cluster and region it carried or was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub task: TaskRef,
    /// Cluster name (not ARN), when known.
    pub cluster: Option<String>,
    pub region: Option<String>,
    /// Account id from an ARN, when known.
    pub account: Option<String>,
}

/// Why a reference was refused. Each message says what to paste instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskRefError {
    #[error("no task given: pass a task ARN, a task id, an ECS console URL or a service name")]
    Empty,
    #[error("the reference is too long ({0} characters); paste a task ARN, task id, console URL or service name")]
    TooLong(usize),
    #[error("`{0}` is not a task ARN, task id, ECS console URL or service name")]
    Unrecognised(String),
    #[error("`{0}` is an ARN but not an ECS task ARN (expected arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID)")]
    NotATaskArn(String),
    #[error("the console URL does not point at an ECS task or service: {0}")]
    UnsupportedUrl(String),
    #[error(
        "`{0}` is not a valid cluster name (letters, digits, - and _, up to 255) or cluster ARN"
    )]
    InvalidCluster(String),
    #[error("`{0}` is not an AWS region ecs-why knows; {known}", known = known_regions_like(.0))]
    InvalidRegion(String),
    #[error("the task is in {found} but --{flag} says {given}; drop --{flag} or fix it")]
    Conflict {
        flag: &'static str,
        found: String,
        given: String,
    },
}

/// Longest input worth looking at: console URLs with query strings are a few hundred
/// characters; anything far beyond is not a reference.
const MAX_INPUT: usize = 2048;

impl Target {
    /// Parse what a user pasted. `cluster` and `region` are the values given separately
    /// (flags, Slack words, channel defaults); values inside the reference must agree.
    pub fn parse(
        input: &str,
        cluster: Option<&str>,
        region: Option<&str>,
    ) -> Result<Target, TaskRefError> {
        let mut target = parse_reference(input)?;
        if let Some(given) = cluster.map(str::trim).filter(|c| !c.is_empty()) {
            let given_name = cluster_name(given)?;
            match &target.cluster {
                Some(found) if found != &given_name => {
                    return Err(TaskRefError::Conflict {
                        flag: "cluster",
                        found: found.clone(),
                        given: given_name,
                    })
                }
                _ => target.cluster = Some(given_name),
            }
        }
        if let Some(given) = region.map(str::trim).filter(|r| !r.is_empty()) {
            if !is_region(given) {
                return Err(TaskRefError::InvalidRegion(given.to_string()));
            }
            match &target.region {
                Some(found) if found != given => {
                    return Err(TaskRefError::Conflict {
                        flag: "region",
                        found: found.clone(),
                        given: given.to_string(),
                    })
                }
                _ => target.region = Some(given.to_string()),
            }
        }
        Ok(target)
    }

    /// Fill the cluster and region from defaults where the reference did not carry them.
    pub fn with_defaults(mut self, cluster: Option<&str>, region: Option<&str>) -> Target {
        if self.cluster.is_none() {
            self.cluster = cluster
                .and_then(|c| cluster_name(c).ok())
                .filter(|c| !c.is_empty());
        }
        if self.region.is_none() {
            self.region = region.filter(|r| is_region(r)).map(str::to_string);
        }
        self
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.task {
            TaskRef::Task { task_id } => write!(f, "task {task_id}")?,
            TaskRef::Service { service } => write!(f, "service {service}")?,
        }
        if let Some(cluster) = &self.cluster {
            write!(f, " in cluster {cluster}")?;
        }
        if let Some(region) = &self.region {
            write!(f, " ({region})")?;
        }
        Ok(())
    }
}

fn parse_reference(input: &str) -> Result<Target, TaskRefError> {
    let trimmed = input
        .trim()
        .trim_matches(|c| c == '<' || c == '>' || c == '`' || c == '"' || c == '\'');
    if trimmed.is_empty() {
        return Err(TaskRefError::Empty);
    }
    if trimmed.chars().count() > MAX_INPUT {
        return Err(TaskRefError::TooLong(trimmed.chars().count()));
    }
    if trimmed.starts_with("arn:") {
        return parse_arn(trimmed);
    }
    if trimmed.starts_with("https://") || trimmed.starts_with("http://") {
        return parse_console_url(trimmed);
    }
    if is_task_id(trimmed) {
        return Ok(Target {
            task: TaskRef::Task {
                task_id: trimmed.to_ascii_lowercase(),
            },
            cluster: None,
            region: None,
            account: None,
        });
    }
    let service = trimmed.strip_prefix("service:").unwrap_or(trimmed);
    if is_resource_name(service) {
        return Ok(Target {
            task: TaskRef::Service {
                service: service.to_string(),
            },
            cluster: None,
            region: None,
            account: None,
        });
    }
    Err(TaskRefError::Unrecognised(shorten(trimmed)))
}

/// `arn:PARTITION:ecs:REGION:ACCOUNT:task/CLUSTER/ID` or the old `...:task/ID`.
fn parse_arn(text: &str) -> Result<Target, TaskRefError> {
    let not_task = || TaskRefError::NotATaskArn(shorten(text));
    let arn = Arn::parse(text).ok_or_else(not_task)?;
    if !arn.partition().starts_with("aws") || arn.service() != "ecs" {
        return Err(not_task());
    }
    let region = arn.region().unwrap_or_default();
    if !is_region(region) {
        return Err(TaskRefError::InvalidRegion(region.to_string()));
    }
    let account = arn.account().unwrap_or_default();
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_task());
    }
    let task = TaskArn::parse(text).ok_or_else(not_task)?;
    if !task.cluster().is_none_or(is_resource_name) || !is_task_id(task.task_id()) {
        return Err(not_task());
    }
    Ok(Target {
        task: TaskRef::Task {
            task_id: task.task_id().to_ascii_lowercase(),
        },
        cluster: task.cluster().map(str::to_string),
        region: Some(region.to_string()),
        account: Some(account.to_string()),
    })
}

/// Console URLs, new and old:
/// `https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/C/tasks/ID/configuration?region=eu-west-1`
/// `https://console.aws.amazon.com/ecs/home?region=us-east-1#/clusters/C/tasks/ID/details`
/// `https://.../ecs/v2/clusters/C/services/S/health?region=...`
fn parse_console_url(text: &str) -> Result<Target, TaskRefError> {
    let unsupported = || TaskRefError::UnsupportedUrl(shorten(text));
    let url = Url::parse(text).map_err(|_| unsupported())?;
    let host = url.host_str().unwrap_or_default();
    let is_console = host == "console.aws.amazon.com"
        || host.ends_with(".console.aws.amazon.com")
        || host.ends_with(".console.amazonaws-us-gov.com")
        || host == "console.amazonaws-us-gov.com"
        || host.ends_with(".console.amazonaws.cn");
    if !is_console {
        return Err(unsupported());
    }
    let region_from_query = url
        .query_pairs()
        .find(|(k, _)| k == "region")
        .map(|(_, v)| v.into_owned());
    let region_from_host = host
        .split('.')
        .next()
        .filter(|first| is_region(first))
        .map(str::to_string);
    let region = region_from_query.or(region_from_host);
    if let Some(region) = &region {
        if !is_region(region) {
            return Err(TaskRefError::InvalidRegion(region.clone()));
        }
    }
    // The old console keeps the route in the fragment; the new one in the path.
    let route = match url.fragment() {
        Some(fragment) if fragment.contains("clusters/") => fragment.to_string(),
        _ => url.path().to_string(),
    };
    let segments: Vec<&str> = route.split(['/', '?']).filter(|s| !s.is_empty()).collect();
    let Some(position) = segments.iter().position(|s| *s == "clusters") else {
        return Err(unsupported());
    };
    let rest = &segments[position + 1..];
    let decode = |s: &str| percent_decode(s);
    match rest {
        [cluster, "tasks", id, ..] if is_task_id(id) => Ok(Target {
            task: TaskRef::Task {
                task_id: id.to_ascii_lowercase(),
            },
            cluster: Some(cluster_name(&decode(cluster))?),
            region,
            account: None,
        }),
        [cluster, "services", service, ..] if is_resource_name(&decode(service)) => Ok(Target {
            task: TaskRef::Service {
                service: decode(service),
            },
            cluster: Some(cluster_name(&decode(cluster))?),
            region,
            account: None,
        }),
        _ => Err(unsupported()),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// A cluster name from a name or a cluster ARN.
pub fn cluster_name(input: &str) -> Result<String, TaskRefError> {
    let input = input.trim();
    let name = if input.starts_with("arn:") {
        match Arn::parse(input).and_then(|arn| arn.resource_of_type("cluster")) {
            Some(name) => name,
            None => return Err(TaskRefError::InvalidCluster(shorten(input))),
        }
    } else {
        input
    };
    if is_resource_name(name) {
        Ok(name.to_string())
    } else {
        Err(TaskRefError::InvalidCluster(shorten(input)))
    }
}

/// 32 lowercase-or-uppercase hex digits (current ids) or a UUID (ids before 2018).
pub fn is_task_id(s: &str) -> bool {
    let hex32 = s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let uuid = s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    hex32 || uuid
}

/// ECS cluster and service names: 1 to 255 letters, digits, hyphens and underscores.
pub fn is_resource_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A cluster name or cluster ARN.
pub fn is_cluster(s: &str) -> bool {
    cluster_name(s).is_ok()
}

/// A full ECS task ARN, new or old format.
pub fn is_task_arn(s: &str) -> bool {
    s.starts_with("arn:") && parse_arn(s).is_ok()
}

/// The regions of the AWS SDK's partition data (the `regions` maps of the
/// partitions.json embedded in aws-sdk-ecs 1.157's endpoint resolver, without the
/// `*-global` pseudo-regions). The SDK's own check is a pattern that accepts invented
/// names such as `aa-bbbb-1`, each of which would cost a set of clients.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "cn-north-1",
    "cn-northwest-1",
    "eusc-de-east-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isob-west-1",
    "eu-isoe-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
    "us-gov-east-1",
    "us-gov-west-1",
];

/// An AWS region the SDK knows: `us-east-1`, `eu-central-2`, `us-gov-west-1`.
pub fn is_region(s: &str) -> bool {
    KNOWN_REGIONS.contains(&s)
}

/// The known regions that share `given`'s first word (all of them when none does),
/// for the refusal.
fn known_regions_like(given: &str) -> String {
    let prefix = given.split('-').next().unwrap_or_default();
    let alike: Vec<&str> = KNOWN_REGIONS
        .iter()
        .copied()
        .filter(|r| r.split('-').next() == Some(prefix))
        .collect();
    if alike.is_empty() {
        let mut words: Vec<&str> = KNOWN_REGIONS
            .iter()
            .filter_map(|r| r.split('-').next())
            .collect();
        words.sort_unstable();
        words.dedup();
        format!(
            "known regions start with {} (such as us-east-1, eu-west-1)",
            words.join(", ")
        )
    } else {
        format!("known {prefix}- regions: {}", alike.join(", "))
    }
}

/// What people pasted, cut short for an error message.
fn shorten(s: &str) -> String {
    crate::text::truncate(s, 81).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn task(id: &str, cluster: Option<&str>, region: Option<&str>) -> Target {
        Target {
            task: TaskRef::Task { task_id: id.into() },
            cluster: cluster.map(Into::into),
            region: region.map(Into::into),
            account: None,
        }
    }

    #[test]
    fn new_format_arn() {
        let t = Target::parse(
            &format!("arn:aws:ecs:eu-west-1:123456789012:task/prod-web/{ID}"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(t.task, TaskRef::Task { task_id: ID.into() });
        assert_eq!(t.cluster.as_deref(), Some("prod-web"));
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        assert_eq!(t.account.as_deref(), Some("123456789012"));
    }

    #[test]
    fn old_format_arn_takes_cluster_from_flag() {
        let uuid = "c5cba4eb-5dad-405e-96db-71ef8eefe6a8";
        let t = Target::parse(
            &format!("arn:aws:ecs:us-east-1:123456789012:task/{uuid}"),
            Some("default"),
            None,
        )
        .unwrap();
        assert_eq!(t.cluster.as_deref(), Some("default"));
        assert_eq!(
            t.task,
            TaskRef::Task {
                task_id: uuid.into()
            }
        );
    }

    #[test]
    fn bare_id_and_uppercase() {
        let t = Target::parse(&ID.to_uppercase(), Some("prod"), Some("us-west-2")).unwrap();
        assert_eq!(t, task(ID, Some("prod"), Some("us-west-2")));
    }

    #[test]
    fn new_console_url() {
        let url = format!("https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/{ID}/configuration?region=eu-west-1");
        assert_eq!(
            Target::parse(&url, None, None).unwrap(),
            task(ID, Some("prod"), Some("eu-west-1"))
        );
    }

    #[test]
    fn old_console_url() {
        let url = format!(
            "https://console.aws.amazon.com/ecs/home?region=us-east-1#/clusters/default/tasks/{ID}/details"
        );
        assert_eq!(
            Target::parse(&url, None, None).unwrap(),
            task(ID, Some("default"), Some("us-east-1"))
        );
    }

    #[test]
    fn service_console_url_and_name() {
        let url = "https://us-east-2.console.aws.amazon.com/ecs/v2/clusters/prod/services/checkout-api/health?region=us-east-2";
        let t = Target::parse(url, None, None).unwrap();
        assert_eq!(
            t.task,
            TaskRef::Service {
                service: "checkout-api".into()
            }
        );
        assert_eq!(t.cluster.as_deref(), Some("prod"));
        let t = Target::parse("checkout-api", Some("prod"), None).unwrap();
        assert_eq!(
            t.task,
            TaskRef::Service {
                service: "checkout-api".into()
            }
        );
    }

    #[test]
    fn slack_wraps_urls_in_angle_brackets() {
        let url = format!(
            "<https://console.aws.amazon.com/ecs/v2/clusters/prod/tasks/{ID}?region=us-east-1>"
        );
        assert!(Target::parse(&url, None, None).is_ok());
    }

    #[test]
    fn refusals_name_the_problem() {
        assert_eq!(Target::parse("  ", None, None), Err(TaskRefError::Empty));
        assert!(matches!(
            Target::parse("arn:aws:s3:::bucket", None, None),
            Err(TaskRefError::NotATaskArn(_))
        ));
        assert!(matches!(
            Target::parse("hello world!", None, None),
            Err(TaskRefError::Unrecognised(_))
        ));
        assert!(matches!(
            Target::parse("https://example.com/ecs/v2/clusters/a/tasks/b", None, None),
            Err(TaskRefError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            Target::parse(&"a".repeat(5000), None, None),
            Err(TaskRefError::TooLong(5000))
        ));
        assert!(matches!(
            Target::parse(ID, None, Some("mars")),
            Err(TaskRefError::InvalidRegion(_))
        ));
        assert!(matches!(
            Target::parse(ID, Some("bad cluster"), None),
            Err(TaskRefError::InvalidCluster(_))
        ));
    }

    #[test]
    fn conflicting_flags_are_refused() {
        let arn = format!("arn:aws:ecs:eu-west-1:123456789012:task/prod/{ID}");
        assert!(matches!(
            Target::parse(&arn, Some("staging"), None),
            Err(TaskRefError::Conflict {
                flag: "cluster",
                ..
            })
        ));
        assert!(matches!(
            Target::parse(&arn, None, Some("us-east-1")),
            Err(TaskRefError::Conflict { flag: "region", .. })
        ));
        let cluster_arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
        assert!(Target::parse(&arn, Some(cluster_arn), Some("eu-west-1")).is_ok());
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-5",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-x",
            "us--1",
            "aa-bbbb-1",
            "us-east-9",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn invented_regions_are_refused_naming_the_known_ones() {
        let err = Target::parse(
            "arn:aws:ecs:aa-bbbb-1:123456789012:task/prod/0123456789abcdef0123456789abcdef",
            None,
            None,
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("`aa-bbbb-1`"), "{message}");
        assert!(message.contains("af, ap, ca"), "{message}");
        let err = Target::parse("0123456789abcdef0123456789abcdef", None, Some("eu-east-7"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("known eu- regions: eu-central-1"), "{err}");
        assert!(!err.contains("us-east-1"), "{err}");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics(input in "\\PC{0,300}") {
                let _ = Target::parse(&input, None, None);
            }

            #[test]
            fn arns_round_trip(
                region in proptest::sample::select(KNOWN_REGIONS),
                account in "[0-9]{12}",
                cluster in "[A-Za-z0-9_-]{1,60}",
                id in "[0-9a-f]{32}",
            ) {
                let arn = format!("arn:aws:ecs:{region}:{account}:task/{cluster}/{id}");
                let t = Target::parse(&arn, None, None).unwrap();
                prop_assert_eq!(t.task, TaskRef::Task { task_id: id });
                prop_assert_eq!(t.cluster, Some(cluster));
                prop_assert_eq!(t.region, Some(region.to_string()));
                prop_assert!(is_task_arn(&arn));
            }

            #[test]
            fn console_urls_round_trip(
                region in "(us-east|us-west|eu-west)-[1-2]",
                cluster in "[A-Za-z0-9_-]{1,60}",
                id in "[0-9a-f]{32}",
                tab in "(configuration|logs|details|)",
            ) {
                let url = format!("https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{id}/{tab}?region={region}");
                let t = Target::parse(&url, None, None).unwrap();
                prop_assert_eq!(t.task, TaskRef::Task { task_id: id });
                prop_assert_eq!(t.cluster, Some(cluster));
                prop_assert_eq!(t.region, Some(region));
            }

            #[test]
            fn accepted_services_are_valid_names(input in "[ -~]{1,80}") {
                if let Ok(Target { task: TaskRef::Service { service }, .. }) = Target::parse(&input, None, None) {
                    prop_assert!(is_resource_name(&service));
                }
            }
        }
    }
}
