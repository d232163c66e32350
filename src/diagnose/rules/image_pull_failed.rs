//! `image-pull-failed`: the container image could not be pulled. The reason tells why
//! (disk space, Docker Hub's rate limit, access, a missing tag, the network), and the
//! fixes follow from that.

use super::meaning::Meaning;
use super::verdict::catalog_general_fixes;
use super::wording::{cut, image_of};
use super::{Facts, Verdict};
use crate::diagnose::findings::not_authorized;
use crate::diagnose::CauseId;
use crate::evidence::probes::{ChangedField, CheckRequest, Reach};
use crate::values::ImageRef;

const PULL_FAILURE: &[&str] = &[
    "cannotpullcontainererror",
    "cannotpullimagemanifesterror",
    "pull image manifest",
    "failed to pull",
    "pull access denied",
    "error pulling image",
    "pulling image",
    "failed to resolve ref",
    "pull image",
];
/// A container's own reason about the pull names that container.
const PULL: &str = "pull";
const NO_SPACE: &str = "no space left on device";
/// The ECS agent's own reading of the registry's answer (2024 on): "The task can't pull
/// the image. Check whether the image exists." It prefixes Docker's ambiguous "denied:
/// requested access to the resource is denied", which a missing repository answers too,
/// so it outranks the access words below.
const AGENT_SAYS_MISSING: &[&str] = &[
    "check whether the image exists",
    "check that the image exists",
];
const RATE_LIMITED: &str = "toomanyrequests";
const ACCESS_DENIED: &[&str] = &[
    "access denied",
    "accessdenied",
    "403",
    "forbidden",
    "unauthorized",
    "401",
    "not authorized",
    "denied",
];
const NOT_FOUND: &[&str] = &[
    "not found",
    "manifest unknown",
    "does not exist",
    "name unknown",
    "no such image",
    "notfound",
];
const UNREACHABLE: &[&str] = &[
    "i/o timeout",
    "context deadline exceeded",
    "timeout",
    "dial tcp",
    "no route",
    "connection reset",
    "request canceled",
    "network is unreachable",
    "check your network configuration",
    "check your task network configuration",
    "connection issue",
];

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention_any(PULL_FAILURE) {
        return None;
    }
    let container = f.container_mentioning(&[PULL]);
    let image_text = container
        .and_then(|c| c.image.clone())
        .or_else(|| {
            container
                .and_then(|c| f.definition_of(c))
                .map(|d| d.image.clone())
        })
        .unwrap_or_default();
    let name = container.map_or("the container", |c| c.name.as_str());
    let image = ImageRef::parse(&image_text);
    let shown = if image_text.is_empty() {
        "its image".to_string()
    } else {
        format!("`{image_text}`")
    };
    let (why, fixes) = why_and_fixes(f, &image, &shown);
    let mut verdict = Verdict::new(
        CauseId::ImagePullFailed,
        format!(
            "{} could not start: pulling {shown} for container `{name}` failed because {why}.",
            f.subject()
        ),
    )
    .fixes(fixes);
    if let Some(tag) = &image.tag {
        verdict = verdict.evidence(format!(
            "Image: repository `{}`, tag `{tag}`",
            image.repository
        ));
    }
    Some(verdict)
}

/// Why the pull failed (to end "failed because ..."), and the fixes for that.
fn why_and_fixes(f: &Facts, image: &ImageRef, shown: &str) -> (&'static str, Vec<String>) {
    if f.reasons_mention(NO_SPACE) {
        let fix = if f.on_fargate() {
            "Raise the task's `ephemeralStorage.sizeInGiB` (21 to 200 GiB on Fargate), or make the image smaller."
        } else {
            "Free disk space on the container instance (lower `ECS_IMAGE_CLEANUP_INTERVAL` / `ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION`), or give instances a larger root or data volume."
        };
        (
            "the host ran out of disk space while pulling",
            vec![fix.to_string()],
        )
    } else if f.reasons_mention(RATE_LIMITED) {
        (
            "Docker Hub refused the pull: its anonymous pull rate limit was reached",
            vec![
                "Copy the image to Amazon ECR (or use ECR pull-through cache) instead of pulling from Docker Hub anonymously.".to_string(),
                "Or authenticate to Docker Hub with `repositoryCredentials` in the container definition.".to_string(),
            ],
        )
    } else if f.reasons_mention_any(AGENT_SAYS_MISSING) {
        (
            "the registry answered that the repository does not exist or may not be read (ECS: \"Check whether the image exists\")",
            vec![
                format!("Check that {shown} exists: `{}`.", image.check_command()),
                "Fix the repository name in the task definition (a typo in the account, Region or repository gives the same answer) and deploy a new revision.".to_string(),
            ],
        )
    } else if f.reasons_mention_any(ACCESS_DENIED) {
        let denied = std::iter::once(f.stopped_reason)
            .chain(f.task.containers.iter().filter_map(|c| c.reason.as_deref()))
            .find_map(not_authorized);
        let fix = if let Some(denied) = denied {
            let resource = denied
                .resource
                .map(|r| format!(" on `{r}`"))
                .unwrap_or_default();
            format!(
                "Allow `{}`{resource} for {} (with `ecr:GetAuthorizationToken` and `ecr:GetDownloadUrlForLayer`; the managed policy AmazonECSTaskExecutionRolePolicy has them), and check the repository policy when the image is in another account.",
                denied.action,
                f.execution_role_phrase()
            )
        } else if image.ecr.is_some() {
            format!(
                "Allow `ecr:GetAuthorizationToken`, `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer` for {} (attach AmazonECSTaskExecutionRolePolicy), and check the repository policy when the image is in another account.",
                f.execution_role_phrase()
            )
        } else {
            "Give the container `repositoryCredentials` (a Secrets Manager secret with `username` and `password`) for the private registry, readable by the execution role.".to_string()
        };
        ("the registry refused access", vec![fix])
    } else if f.reasons_mention_any(NOT_FOUND) {
        (
            "the repository or tag does not exist",
            vec![
                format!("Check that {shown} exists: `{}`.", image.check_command()),
                "Fix the image tag in the task definition (or push it) and deploy a new revision; pin tags your pipeline actually pushes.".to_string(),
            ],
        )
    } else if f.reasons_mention_any(UNREACHABLE) {
        (
            "the registry could not be reached from the task's network",
            vec![
                format!(
                    "From a private subnet, add a NAT gateway or the VPC endpoints `com.amazonaws.{r}.ecr.api`, `com.amazonaws.{r}.ecr.dkr` and the S3 gateway endpoint (plus `logs` for awslogs); in a public subnet on Fargate set `assignPublicIp: ENABLED`.",
                    r = f.region()
                ),
                "Check that the task's security group allows outbound HTTPS (443).".to_string(),
            ],
        )
    } else {
        (
            "the pull failed",
            catalog_general_fixes(CauseId::ImagePullFailed),
        )
    }
}

/// `image web:v2 not found`, `pull rate limit reached pulling nginx:latest`, ...
fn headline(f: &Facts) -> Option<String> {
    let image = image_of(f.container_mentioning(&["cannotpull"]), f)?;
    let image = cut(&image);
    Some(
        if f.reasons_mention_any(&["not found", "does not exist", "name unknown"]) {
            format!("image {image} not found")
        } else if f.reasons_mention_any(&["429", "toomanyrequests", "rate limit"]) {
            format!("pull rate limit reached pulling {image}")
        } else if f.reasons_mention_any(&["403", "denied", "unauthorized"]) {
            format!("registry refused access to {image}")
        } else if f.reasons_mention("no space left") {
            format!("no disk space left to pull {image}")
        } else if f.reasons_mention_any(&["timeout", "i/o timeout", "dial tcp"]) {
            format!("registry unreachable pulling {image}")
        } else {
            format!("cannot pull {image}")
        },
    )
}

/// The tag in ECR, the role's pull permission, the subnet's way to the registry and the
/// registry credentials: each can prove (or rule out) the failed pull.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| {
        vec![
            CheckRequest::ImagePull,
            CheckRequest::SubnetEgress {
                reach: Reach::Registry,
                proves: true,
            },
            CheckRequest::Secrets {
                registry_only: true,
            },
        ]
    },
    key_changes: &[ChangedField::Image, ChangedField::RuntimePlatform],
};
