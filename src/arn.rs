//! Amazon Resource Names, parsed once into their parts.
//!
//! An ARN is `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`. [`Arn`] splits one without
//! copying; [`TaskArn`] reads an ECS task ARN on top of it: the new format
//! `task/CLUSTER/ID` and the old format `task/ID` (no cluster). Everything that needs a
//! piece of an ARN (region, account, cluster, task id, task definition name) asks these
//! types instead of splitting the text by hand. The serialised types keep ARNs as plain
//! strings, so the JSON a user sees is unchanged; these types are views over them.
//!
//! Parsing checks structure only. Whether a region or account id is plausible is the
//! caller's business (see [`crate::task_ref`], which validates what users paste).

use std::fmt;

/// The parts of an ARN, borrowed from the text it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    partition: &'a str,
    service: &'a str,
    region: &'a str,
    account: &'a str,
    resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Split `text` into its six parts; `None` when it is not shaped like an ARN.
    /// Region and account may be empty (IAM and S3 ARNs leave them out); the resource
    /// keeps any further `:` (as in `task-definition/web:7`).
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }

    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub fn partition(&self) -> &'a str {
        self.partition
    }

    /// `ecs`, `iam`, `secretsmanager`, ...
    pub fn service(&self) -> &'a str {
        self.service
    }

    /// The region, when the ARN names one.
    pub fn region(&self) -> Option<&'a str> {
        Some(self.region).filter(|r| !r.is_empty())
    }

    /// The account id, when the ARN names one.
    pub fn account(&self) -> Option<&'a str> {
        Some(self.account).filter(|a| !a.is_empty())
    }

    /// Everything after the account: `task/prod/ID`, `cluster/prod`, ...
    pub fn resource(&self) -> &'a str {
        self.resource
    }

    /// The resource without its `TYPE/` prefix, when it has that type:
    /// `cluster/prod` with `"cluster"` is `prod`.
    pub fn resource_of_type(&self, resource_type: &str) -> Option<&'a str> {
        self.resource
            .strip_prefix(resource_type)?
            .strip_prefix('/')
            .filter(|rest| !rest.is_empty())
    }
}

impl fmt::Display for Arn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

/// An ECS task ARN: `arn:PARTITION:ecs:REGION:ACCOUNT:task/CLUSTER/ID`, or the old
/// `...:task/ID` format that has no cluster in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskArn<'a> {
    arn: Arn<'a>,
    cluster: Option<&'a str>,
    task_id: &'a str,
}

impl<'a> TaskArn<'a> {
    /// `None` unless `text` is an ECS ARN whose resource is `task/ID` or `task/CLUSTER/ID`
    /// with non-empty parts.
    pub fn parse(text: &'a str) -> Option<TaskArn<'a>> {
        let arn = Arn::parse(text)?;
        if arn.service() != "ecs" {
            return None;
        }
        let rest = arn.resource_of_type("task")?;
        let (cluster, task_id) = match rest.split_once('/') {
            None => (None, rest),
            Some((cluster, id)) if !cluster.is_empty() && !id.contains('/') => (Some(cluster), id),
            Some(_) => return None,
        };
        if task_id.is_empty() {
            return None;
        }
        Some(TaskArn {
            arn,
            cluster,
            task_id,
        })
    }

    /// The ARN's parts (region, account, ...).
    pub fn arn(&self) -> &Arn<'a> {
        &self.arn
    }

    /// The cluster name; `None` for the old format.
    pub fn cluster(&self) -> Option<&'a str> {
        self.cluster
    }

    /// The task id: 32 hex digits, or a UUID for tasks started before 2018.
    pub fn task_id(&self) -> &'a str {
        self.task_id
    }
}

/// The last `/`-separated segment of `text`: the name in a resource path or ARN
/// (`cluster/prod` is `prod`), and `text` itself when it has no `/`. For strings that
/// may or may not be ARNs (a cluster given by name or ARN, a task id or ARN).
pub fn last_segment(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

/// The task id in a task ARN; for anything else (a bare id, a recorded value that is
/// not a task ARN), its last `/` segment.
pub fn task_id(task: &str) -> &str {
    TaskArn::parse(task).map_or_else(|| last_segment(task), |arn| arn.task_id())
}

/// The cluster name of a cluster ARN (`...:cluster/prod`); for a name, the name.
pub fn cluster_name(cluster: &str) -> &str {
    Arn::parse(cluster)
        .and_then(|arn| arn.resource_of_type("cluster"))
        .map_or_else(|| last_segment(cluster), last_segment)
}

/// `family:revision` of a task definition ARN (`...:task-definition/web:7`); for
/// anything else, its last `/` segment.
pub fn task_definition_name(task_definition: &str) -> &str {
    Arn::parse(task_definition)
        .and_then(|arn| arn.resource_of_type("task-definition"))
        .map_or_else(|| last_segment(task_definition), last_segment)
}

/// The region named in any ARN.
pub fn region(text: &str) -> Option<&str> {
    Arn::parse(text)?.region()
}

/// The account id named in any ARN.
pub fn account(text: &str) -> Option<&str> {
    Arn::parse(text)?.account()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn new_format_task_arn() {
        let text = format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{ID}");
        let task = TaskArn::parse(&text).expect("a task ARN");
        assert_eq!(task.cluster(), Some("prod"));
        assert_eq!(task.task_id(), ID);
        assert_eq!(task.arn().partition(), "aws");
        assert_eq!(task.arn().service(), "ecs");
        assert_eq!(task.arn().region(), Some("us-east-1"));
        assert_eq!(task.arn().account(), Some("123456789012"));
        assert_eq!(task.arn().resource(), format!("task/prod/{ID}"));
        assert_eq!(task.arn().to_string(), text);
        assert_eq!(task_id(&text), ID);
    }

    #[test]
    fn old_format_task_arn_has_no_cluster() {
        let text = "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task/1a2b3c4d-1111-2222-3333-444455556666";
        let task = TaskArn::parse(text).expect("an old task ARN");
        assert_eq!(task.cluster(), None);
        assert_eq!(task.task_id(), "1a2b3c4d-1111-2222-3333-444455556666");
        assert_eq!(task.arn().partition(), "aws-us-gov");
        assert_eq!(region(text), Some("us-gov-west-1"));
    }

    #[test]
    fn cluster_arn() {
        let text = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod-blue";
        let arn = Arn::parse(text).expect("an ARN");
        assert_eq!(arn.resource_of_type("cluster"), Some("prod-blue"));
        assert_eq!(arn.resource_of_type("task"), None);
        assert!(TaskArn::parse(text).is_none());
        assert_eq!(cluster_name(text), "prod-blue");
        assert_eq!(cluster_name("prod-blue"), "prod-blue");
        assert_eq!(account(text), Some("123456789012"));
    }

    #[test]
    fn task_definition_arn_keeps_its_revision() {
        let text = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
        let arn = Arn::parse(text).expect("an ARN");
        assert_eq!(arn.resource(), "task-definition/web:7");
        assert_eq!(arn.region(), Some("us-east-1"));
        assert_eq!(task_definition_name(text), "web:7");
        assert_eq!(task_definition_name("web:7"), "web:7");
        assert!(TaskArn::parse(text).is_none());
    }

    #[test]
    fn arns_without_region_or_account() {
        let role = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole";
        let arn = Arn::parse(role).expect("an IAM ARN");
        assert_eq!(arn.region(), None);
        assert_eq!(arn.account(), Some("123456789012"));
        assert_eq!(region("arn:aws:s3:::bucket/key"), None);
        assert_eq!(account("arn:aws:s3:::bucket/key"), None);
    }

    #[test]
    fn garbage_is_not_an_arn() {
        for text in [
            "",
            "arn",
            "arn:aws:ecs:us-east-1",
            "arn:aws:ecs:us-east-1:123456789012",
            "urn:aws:ecs:us-east-1:123456789012:task/prod/x",
            ID,
            "web:7",
        ] {
            assert!(Arn::parse(text).is_none(), "{text}");
            assert!(TaskArn::parse(text).is_none(), "{text}");
        }
        for text in [
            "arn:aws:s3:us-east-1:123456789012:task/prod/x",
            "arn:aws:ecs:us-east-1:123456789012:task/",
            "arn:aws:ecs:us-east-1:123456789012:task//x",
            "arn:aws:ecs:us-east-1:123456789012:task/a/b/c",
            "arn:aws:ecs:us-east-1:123456789012:tasks/x",
        ] {
            assert!(TaskArn::parse(text).is_none(), "{text}");
        }
        // Not ARNs, but still answered the way the rest of ecs-why expects.
        assert_eq!(task_id(ID), ID);
        assert_eq!(task_id("a/b/c"), "c");
        assert_eq!(region("not an arn"), None);
    }
}
