//! The image probes: does the image the task could not pull exist in ECR, is it built
//! for the task's CPU architecture, and may the execution role pull it?
//!
//! For each ECR image of the containers that failed (at most [`MAX_IMAGES`]) three
//! read-only ECR calls run at once: `DescribeImages` for the tag or digest,
//! `DescribeImages` of the repository (only for the newest push, named when the tag is
//! missing) and `BatchGetImage` (the manifest, whose index lists the platforms). IAM's
//! policy simulation of the execution role runs beside them, so the whole probe is one
//! round trip. Images outside ECR (Docker Hub, ghcr.io) cannot be looked up: they get
//! one sentence saying so.

use super::permissions::{permission_check, simulate, Decision};
use super::{unchecked, ProbeClients, ProbeInput};
use crate::evidence::probes::{Check, CheckId, CheckOutcome, CheckRequest};
use crate::evidence::{Evidence, ProbeResults};
use crate::gather::ecs::to_chrono;
use crate::gather::failure::aws_failure;
use crate::values::{normalise_architecture, ImageRef};
use aws_sdk_ecr::types::{DescribeImagesFilter, ImageIdentifier, TagStatus};
use chrono::{DateTime, Utc};

/// The most images one probe looks up (a task has few containers; this bounds a
/// pathological one).
const MAX_IMAGES: usize = 5;

/// Manifest types BatchGetImage may answer with: an index (multi-platform) or a single
/// image's manifest, Docker's and OCI's.
const ACCEPTED_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
];

/// The IAM actions ECS needs to pull from ECR with the execution role.
const PULL_ACTIONS: [&str; 2] = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];
const LOGIN_ACTION: &str = "ecr:GetAuthorizationToken";

/// Whether this probe has anything to check: a pull failure or a wrong-architecture
/// finding, and an image to look up.
pub fn applies(input: ProbeInput<'_>) -> bool {
    scope(input).is_some_and(|scope| !failing_images(input, scope).is_empty())
}

/// Run the probe's read-only calls.
pub async fn run(clients: &ProbeClients, input: ProbeInput<'_>) -> ProbeResults {
    let Some(scope) = scope(input) else {
        return ProbeResults::default();
    };
    let images = failing_images(input, scope);
    let (in_ecr, elsewhere): (Vec<_>, Vec<_>) = images
        .into_iter()
        .partition(|image| image.ecr_repository().is_some());

    let mut results = ProbeResults::default();
    if let Some(sentence) = not_in_ecr(&elsewhere, scope) {
        results.unchecked.push(sentence);
    }
    if in_ecr.is_empty() {
        return results;
    }
    let platform = TaskPlatform::of(input.evidence);
    let lookups = futures::future::join_all(
        in_ecr
            .iter()
            .map(|image| look_up(clients, image, scope, &platform, input.evidence)),
    );
    let pull = async {
        if scope == Scope::PullFailure {
            Some(pull_permission(clients, input.evidence, &in_ecr).await)
        } else {
            None
        }
    };
    let (found, pull) = tokio::join!(lookups, pull);
    for found in found {
        results.merge(found);
    }
    if let Some(pull) = pull {
        results.merge(pull);
    }
    results
}

/// Which checks apply: all of them for a failed pull; only the architecture when the
/// image was pulled but its binary did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    PullFailure,
    ArchitectureOnly,
}

fn scope(input: ProbeInput<'_>) -> Option<Scope> {
    match input.request {
        CheckRequest::ImagePull => Some(Scope::PullFailure),
        CheckRequest::ImagePlatforms { .. } => Some(Scope::ArchitectureOnly),
        _ => None,
    }
}

/// A container's image, parsed.
#[derive(Debug, Clone)]
struct ContainerImage {
    container: String,
    image: ImageRef,
}

/// An image's place in ECR.
struct EcrRepository<'a> {
    account: &'a str,
    region: &'a str,
    name: &'a str,
}

impl ContainerImage {
    /// Account, region and repository when the image is in ECR (a 12-digit account in
    /// `ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn]`).
    fn ecr_repository(&self) -> Option<EcrRepository<'_>> {
        let (account, region) = self.image.ecr.as_ref()?;
        let host = self.image.full.split('/').next().unwrap_or_default();
        let amazon = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
        (amazon && account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())).then_some(
            EcrRepository {
                account,
                region,
                name: &self.image.repository,
            },
        )
    }

    /// `web:v1.4.2`, or `web@sha256:0123456789ab` for a digest.
    fn short_name(&self) -> String {
        match (&self.image.digest, self.tag()) {
            (Some(digest), _) => format!("{}@{}", self.image.repository, short_digest(digest)),
            (None, tag) => format!("{}:{}", self.image.repository, tag.unwrap_or("latest")),
        }
    }

    /// The tag ECS pulled (`latest` when the image names none), unless it names a digest.
    fn tag(&self) -> Option<&str> {
        if self.image.digest.is_some() {
            None
        } else {
            Some(self.image.tag.as_deref().unwrap_or("latest"))
        }
    }

    fn identifier(&self) -> ImageIdentifier {
        match &self.image.digest {
            Some(digest) => ImageIdentifier::builder().image_digest(digest).build(),
            None => ImageIdentifier::builder()
                .image_tag(self.tag().unwrap_or("latest"))
                .build(),
        }
    }
}

impl EcrRepository<'_> {
    fn arn(&self) -> String {
        let partition = match self.region.split('-').next() {
            Some("cn") => "aws-cn",
            _ if self.region.starts_with("us-gov-") => "aws-us-gov",
            _ => "aws",
        };
        format!(
            "arn:{partition}:ecr:{}:{}:repository/{}",
            self.region, self.account, self.name
        )
    }
}

/// The images of the containers whose pull failed (their own reason, or the task's
/// stopped reason, names a pull or the image), else of every container; for the
/// architecture, the containers the finding names. One entry per distinct image.
fn failing_images(input: ProbeInput<'_>, scope: Scope) -> Vec<ContainerImage> {
    let task = &input.evidence.task;
    let all: Vec<(&str, &str)> = match &input.evidence.task_definition {
        Some(definition) => definition
            .containers
            .iter()
            .map(|c| (c.name.as_str(), c.image.as_str()))
            .collect(),
        None => (task.containers.iter())
            .filter_map(|c| Some((c.name.as_str(), c.image.as_deref()?)))
            .collect(),
    };
    let stopped_reason = task.stopped_reason.as_deref().unwrap_or_default();
    let stopped_reason = stopped_reason.to_ascii_lowercase();
    let failed = |&&(name, image): &&(&str, &str)| match scope {
        Scope::PullFailure => {
            task.containers.iter().any(|c| {
                c.name == name
                    && (c.reason.as_deref())
                        .is_some_and(|r| r.to_ascii_lowercase().contains("pull"))
            }) || stopped_reason.contains(&image.to_ascii_lowercase())
        }
        Scope::ArchitectureOnly => matches!(
            input.request,
            CheckRequest::ImagePlatforms { containers } if containers.iter().any(|c| c == name)
        ),
    };
    let all: Vec<(&str, &str)> = all
        .into_iter()
        .filter(|(_, i)| !i.trim().is_empty())
        .collect();
    let named: Vec<&(&str, &str)> = all.iter().filter(failed).collect();
    let chosen = if named.is_empty() {
        all.iter().collect()
    } else {
        named
    };
    let mut images: Vec<ContainerImage> = Vec::new();
    for (container, image) in chosen {
        if images.len() < MAX_IMAGES && !images.iter().any(|known| known.image.full == *image) {
            images.push(ContainerImage {
                container: container.to_string(),
                image: ImageRef::parse(image),
            });
        }
    }
    images
}

/// One sentence for the images that are not in ECR: their registry cannot be asked.
fn not_in_ecr(images: &[ContainerImage], scope: Scope) -> Option<String> {
    if images.is_empty() {
        return None;
    }
    let named: Vec<String> = images
        .iter()
        .map(|i| format!("{} (container {})", i.image.full, i.container))
        .collect();
    let named = named.join(", ");
    let what = match (scope, images.len()) {
        (Scope::PullFailure, 1) => format!("whether {named} exists"),
        (Scope::PullFailure, _) => format!("whether {named} exist"),
        (Scope::ArchitectureOnly, _) => format!("the platforms of {named}"),
    };
    Some(format!(
        "Could not check {what}: ecs-why looks only into private ECR repositories."
    ))
}

/// The CPU architecture (and OS) the task runs on, in the manifest's words, and where
/// that came from.
struct TaskPlatform {
    /// `amd64` or `arm64` (the manifest's `platform.architecture`).
    architecture: String,
    /// `linux` or `windows`.
    os: &'static str,
    /// `ARM64 (runtimePlatform)`, for sentences.
    described: String,
}

impl TaskPlatform {
    fn of(evidence: &Evidence) -> TaskPlatform {
        let definition = evidence.task_definition.as_ref();
        let (wanted, source) = match definition.and_then(|d| d.cpu_architecture.as_deref()) {
            Some(arch) => (normalise_architecture(arch), "runtimePlatform"),
            None => match evidence.task.cpu_architecture.as_deref() {
                Some(arch) => (normalise_architecture(arch), "the instance it ran on"),
                None => ("X86_64".to_string(), "the default: no runtimePlatform"),
            },
        };
        let architecture = match wanted.as_str() {
            "X86_64" => "amd64".to_string(),
            "ARM64" => "arm64".to_string(),
            other => other.to_ascii_lowercase(),
        };
        let windows = definition
            .and_then(|d| d.operating_system_family.as_deref())
            .is_some_and(|family| family.to_ascii_uppercase().starts_with("WINDOWS"));
        TaskPlatform {
            architecture,
            os: if windows { "windows" } else { "linux" },
            described: format!("{wanted} ({source})"),
        }
    }
}

/// The three ECR calls for one image, at once, and what they show.
async fn look_up(
    clients: &ProbeClients,
    image: &ContainerImage,
    scope: Scope,
    platform: &TaskPlatform,
    evidence: &Evidence,
) -> ProbeResults {
    let Some(repository) = image.ecr_repository() else {
        return ProbeResults::default();
    };
    let clients = clients.in_region(repository.region);
    let ecr = &clients.ecr;
    let this_image = ecr
        .describe_images()
        .registry_id(repository.account)
        .repository_name(repository.name)
        .image_ids(image.identifier())
        .send();
    let newest = ecr
        .describe_images()
        .registry_id(repository.account)
        .repository_name(repository.name)
        .filter(
            DescribeImagesFilter::builder()
                .tag_status(TagStatus::Tagged)
                .build(),
        )
        .max_results(1000)
        .send();
    let manifest = ecr
        .batch_get_image()
        .registry_id(repository.account)
        .repository_name(repository.name)
        .image_ids(image.identifier())
        .set_accepted_media_types(Some(
            ACCEPTED_MEDIA_TYPES.iter().map(|t| t.to_string()).collect(),
        ))
        .send();

    // All three at once: the manifest is read even when the tag may be missing, so the
    // probe costs one round trip either way.
    let describe = async {
        match scope {
            Scope::PullFailure => Some(tokio::join!(this_image, newest)),
            Scope::ArchitectureOnly => None,
        }
    };
    let (described, manifest) = tokio::join!(describe, manifest);

    let mut results = ProbeResults::default();
    let mut exists = true;
    if let Some((this_image, newest)) = described {
        // `Some(None)`: the repository holds no tagged image; `None`: not known.
        let newest = newest.ok().map(|out| newest_push(out.image_details()));
        match this_image {
            Ok(out) => {
                let pushed_at = out
                    .image_details()
                    .first()
                    .and_then(|d| d.image_pushed_at())
                    .and_then(to_chrono);
                results
                    .checks
                    .push(image_exists(image, pushed_at, evidence));
            }
            Err(err) => {
                let service = err.as_service_error();
                if service.is_some_and(|e| e.is_repository_not_found_exception()) {
                    results.checks.push(no_repository(&repository));
                    exists = false;
                } else if service.is_some_and(|e| e.is_image_not_found_exception()) {
                    results.checks.push(no_image(image, newest));
                    exists = false;
                } else {
                    results.unchecked.push(unchecked(
                        &format!("whether {} exists in ECR", image.short_name()),
                        "ecr:DescribeImages",
                        &aws_failure(&err),
                    ));
                }
            }
        }
    }
    if !exists {
        return results;
    }
    match manifest {
        Ok(out) => {
            let found = out.images().first().and_then(|found| {
                Some((found.image_manifest()?, found.image_manifest_media_type()))
            });
            if let Some((manifest, media_type)) = found {
                match architecture_check(image, manifest, media_type, platform) {
                    Ok(check) => results.checks.push(check),
                    Err(sentence) if scope == Scope::ArchitectureOnly => {
                        results.unchecked.push(sentence)
                    }
                    // An image of one platform pulls whatever its architecture: for a
                    // failed pull it is no suspect.
                    Err(_) => {}
                }
            }
        }
        Err(err) => results.unchecked.push(unchecked(
            &format!("the platforms {} is built for", image.short_name()),
            "ecr:BatchGetImage",
            &aws_failure(&err),
        )),
    }
    results
}

/// The newest tagged push on the repository's first page: its time and tag.
fn newest_push(details: &[aws_sdk_ecr::types::ImageDetail]) -> Option<(DateTime<Utc>, String)> {
    details
        .iter()
        .filter_map(|detail| {
            let pushed_at = to_chrono(detail.image_pushed_at()?)?;
            let tag = detail.image_tags().first()?.clone();
            Some((pushed_at, tag))
        })
        .max_by_key(|(pushed_at, _)| *pushed_at)
}

fn no_repository(repository: &EcrRepository<'_>) -> Check {
    Check::new(
        CheckId::EcrImage,
        CheckOutcome::Confirms,
        format!(
            "no ECR repository {} in {} {}",
            repository.name, repository.account, repository.region
        ),
    )
}

fn no_image(image: &ContainerImage, newest: Option<Option<(DateTime<Utc>, String)>>) -> Check {
    let missing = match (image.tag(), &image.image.digest) {
        (Some(tag), _) => format!("tag {tag}"),
        (None, Some(digest)) => format!("image {}", short_digest(digest)),
        (None, None) => "image".to_string(),
    };
    let newest = match newest {
        Some(Some((pushed_at, tag))) => format!(" (newest push {}: {tag})", when(pushed_at)),
        Some(None) => " (it holds no tagged image)".to_string(),
        None => String::new(),
    };
    Check::new(
        CheckId::EcrImage,
        CheckOutcome::Confirms,
        format!(
            "ECR repository {} has no {missing}{newest}",
            image.image.repository
        ),
    )
}

/// The image exists. Pushed after the task stopped, it was not there when ECS pulled: a
/// digest proves that; a tag may have named an older image then (tags move).
fn image_exists(
    image: &ContainerImage,
    pushed_at: Option<DateTime<Utc>>,
    evidence: &Evidence,
) -> Check {
    let name = image.short_name();
    let pulled_before = evidence.task.stopped_at.or(evidence.task.stopping_at);
    let Some(pushed_at) = pushed_at else {
        return Check::new(
            CheckId::EcrImage,
            CheckOutcome::RulesOut,
            format!("{name} exists in ECR"),
        );
    };
    match pulled_before {
        Some(stopped_at) if pushed_at > stopped_at => {
            let (outcome, then) = match image.tag() {
                None => (CheckOutcome::Confirms, "it did not exist when ECS pulled"),
                Some(_) => (
                    CheckOutcome::Context,
                    "the tag likely named no image when ECS pulled",
                ),
            };
            Check::new(
                CheckId::EcrImage,
                outcome,
                format!(
                    "{name} exists in ECR now but was pushed {}, after the task stopped ({}): {then}",
                    when(pushed_at),
                    when(stopped_at)
                ),
            )
        }
        _ => Check::new(
            CheckId::EcrImage,
            CheckOutcome::RulesOut,
            format!("{name} exists in ECR, pushed {}", when(pushed_at)),
        ),
    }
}

/// The platforms an image index lists against the task's. `Err` is the sentence for a
/// single-platform manifest (its architecture is in the image config, not read) or one
/// that could not be read.
fn architecture_check(
    image: &ContainerImage,
    manifest: &str,
    media_type: Option<&str>,
    platform: &TaskPlatform,
) -> Result<Check, String> {
    let name = image.short_name();
    let document: serde_json::Value = serde_json::from_str(manifest).map_err(|_| {
        format!("Could not check the platforms of {name}: its manifest is not JSON.")
    })?;
    let media_type = media_type
        .or_else(|| document.get("mediaType").and_then(|t| t.as_str()))
        .unwrap_or_default();
    let Some(entries) = document.get("manifests").and_then(|m| m.as_array()) else {
        return Err(format!(
            "Could not check the architecture of {name}: it is a single-platform image ({}) whose architecture is in its image config, which ecs-why does not read.",
            if media_type.is_empty() { "no media type" } else { media_type }
        ));
    };
    let platforms: Vec<(String, String, Option<String>)> = entries
        .iter()
        .filter_map(|entry| {
            let platform = entry.get("platform")?;
            let architecture = platform.get("architecture")?.as_str()?.to_string();
            let os = platform.get("os")?.as_str()?.to_string();
            let variant = platform
                .get("variant")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            // Build attestations are listed as unknown/unknown: no platform.
            (architecture != "unknown" && os != "unknown").then_some((os, architecture, variant))
        })
        .collect();
    let shown: Vec<String> = platforms
        .iter()
        .map(|(os, architecture, variant)| match variant {
            Some(variant) => format!("{os}/{architecture}/{variant}"),
            None => format!("{os}/{architecture}"),
        })
        .collect();
    let matching = platforms.iter().position(|(os, architecture, _)| {
        os == platform.os && architecture == &platform.architecture
    });
    Ok(match matching {
        Some(index) => Check::new(
            CheckId::ImageArchitecture,
            CheckOutcome::RulesOut,
            format!(
                "{name} has a {} image for the task's {}",
                shown[index], platform.described
            ),
        ),
        None if shown.is_empty() => Check::new(
            CheckId::ImageArchitecture,
            CheckOutcome::Confirms,
            format!(
                "{name}'s index lists no platform; the task runs {}",
                platform.described
            ),
        ),
        None => Check::new(
            CheckId::ImageArchitecture,
            CheckOutcome::Confirms,
            format!(
                "{name} is built for {} only; the task runs {}",
                shown.join(", "),
                platform.described
            ),
        ),
    })
}

/// May the execution role log in to ECR and pull from each repository? Two
/// simulations at once: the login on `*`, the pull on the repositories.
async fn pull_permission(
    clients: &ProbeClients,
    evidence: &Evidence,
    images: &[ContainerImage],
) -> ProbeResults {
    let definition = evidence.task_definition.as_ref();
    let Some(role_arn) = definition.and_then(|d| d.execution_role_arn.as_deref()) else {
        return no_execution_role(evidence);
    };
    let mut repositories: Vec<String> = images
        .iter()
        .filter_map(|image| Some(image.ecr_repository()?.arn()))
        .collect();
    repositories.sort();
    repositories.dedup();
    let (login, pull) = tokio::join!(
        simulate(&clients.iam, role_arn, &[LOGIN_ACTION], &[]),
        simulate(&clients.iam, role_arn, &PULL_ACTIONS, &repositories)
    );
    let mut results = ProbeResults::default();
    let mut decisions: Vec<Decision> = Vec::new();
    for answer in [login, pull] {
        match answer {
            Ok(found) => decisions.extend(found),
            // Both simulations fail alike (the same action is denied to ecs-why): one
            // sentence says it.
            Err(sentence) => {
                if results.unchecked.is_empty() {
                    results.unchecked.push(sentence);
                }
            }
        }
    }
    if !decisions.is_empty() {
        results.checks.push(permission_check(
            CheckId::PullPermission,
            role_arn,
            "pull the image from ECR",
            &decisions,
        ));
    }
    results
}

/// Without an execution role, Fargate cannot log in to ECR; on EC2 the container
/// instance's role pulls instead (not checked here).
fn no_execution_role(evidence: &Evidence) -> ProbeResults {
    let (outcome, detail) = if evidence.task.launch_type.as_deref() == Some("EC2") {
        (CheckOutcome::Context, "the task definition has no execution role, so the container instance's role pulls from ECR (not checked)")
    } else {
        (
            CheckOutcome::Confirms,
            "the task definition has no execution role, so ECS cannot log in to ECR",
        )
    };
    ProbeResults {
        checks: vec![Check::new(CheckId::PullPermission, outcome, detail)],
        ..ProbeResults::default()
    }
}

/// `sha256:0123456789ab`: enough of a digest to recognise it.
fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => {
            format!("{algorithm}:{}", hex.chars().take(12).collect::<String>())
        }
        None => digest.chars().take(19).collect(),
    }
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> ContainerImage {
        ContainerImage {
            container: "web".into(),
            image: ImageRef::parse(text),
        }
    }

    fn arm64() -> TaskPlatform {
        TaskPlatform {
            architecture: "arm64".into(),
            os: "linux",
            described: "ARM64 (runtimePlatform)".into(),
        }
    }

    #[test]
    fn only_amazon_hosts_with_an_account_are_ecr() {
        let ecr = image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:v2");
        let repository = ecr.ecr_repository().expect("an ECR image");
        assert_eq!(
            repository.arn(),
            "arn:aws:ecr:eu-west-1:123456789012:repository/team/web"
        );
        let china = image("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web:v2");
        assert_eq!(
            china.ecr_repository().map(|r| r.arn()).as_deref(),
            Some("arn:aws-cn:ecr:cn-north-1:123456789012:repository/web")
        );
        assert!(image("nginx:1.27").ecr_repository().is_none());
        assert!(image("ghcr.io/acme/web:v2").ecr_repository().is_none());
    }

    #[test]
    fn a_single_platform_manifest_is_not_guessed() {
        let manifest = r#"{"schemaVersion":2,"config":{"digest":"sha256:c"},"layers":[]}"#;
        let sentence = architecture_check(
            &image("web:v2"),
            manifest,
            Some("application/vnd.docker.distribution.manifest.v2+json"),
            &arm64(),
        )
        .expect_err("one platform: not checked");
        assert!(sentence.contains("image config"), "{sentence}");
    }

    #[test]
    fn digests_are_shortened_for_sentences() {
        let pinned =
            image("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:0123456789abcdef0123");
        assert_eq!(pinned.short_name(), "web@sha256:0123456789ab");
        assert_eq!(pinned.tag(), None);
        assert_eq!(image("web").tag(), Some("latest"));
    }
}
