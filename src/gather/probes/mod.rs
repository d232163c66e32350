//! Read-only probes: run the checks the rules asked for ([`CheckRequest`]) against the
//! account. Nothing here knows causes: a request says what to check.
//!
//! Each probe module decides from the evidence and its request whether it has anything
//! to check (`applies`) and, if so, makes its read-only calls (`run`) and returns what it
//! found as [`ProbeResults`]: checks that confirm or rule out the cause, and sentences
//! for what it could not check (naming the IAM action that was denied). The applicable
//! probes run concurrently, each bounded by [`PROBE_TIME_LIMIT`]; a probe that fails or
//! runs out of time becomes an `unchecked` sentence, never an error. Nothing here reads
//! a secret's or parameter's value, nor shows an environment variable's value.
//!
//! The probes by request:
//! - image pull failures: the ECR repository, tag or digest and the newest push
//!   ([`image`]), the image's platforms against the task's architecture, whether the
//!   execution role may pull ([`permissions`]), whether the subnet reaches ECR ([`network`]);
//! - secrets and registry credentials: each `valueFrom` exists, is not scheduled for
//!   deletion, and the execution role may read and decrypt it ([`secrets`]);
//! - a missing awslogs group ([`log_group`]);
//! - ELB health checks: the target group's check and the targets' health against the
//!   container's start time and the service's grace period ([`load_balancer`]);
//! - out of memory: the memory graph of the minutes before the stop ([`memory`]);
//! - every service task: what changed in the task definition since the previous
//!   deployment or revision, and the deployment that started the task ([`changes`]).

pub mod changes;
pub mod image;
pub mod load_balancer;
pub mod log_group;
pub mod memory;
pub mod network;
pub mod permissions;
pub mod secrets;

use super::failure::{AwsFailure, FailureKind};
use crate::evidence::probes::CheckRequest;
use crate::evidence::{Evidence, ProbeResults};
use aws_config::{Region, SdkConfig};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The longest a probe may take; past it, what it was checking is listed as unchecked.
pub const PROBE_TIME_LIMIT: Duration = Duration::from_secs(6);

/// What a probe reads: the evidence the diagnosis rests on, and the check asked for.
#[derive(Clone, Copy)]
pub struct ProbeInput<'a> {
    pub evidence: &'a Evidence,
    pub request: &'a CheckRequest,
}

/// The SDK clients the probes use, for one region.
#[derive(Clone)]
pub struct ProbeClients {
    /// The configuration the clients came from, for a client of another region (a
    /// secret's ARN may name one).
    pub config: SdkConfig,
    pub region: Option<String>,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub iam: aws_sdk_iam::Client,
    /// EC2 Query calls signed here: `aws-sdk-ec2` costs more build time than its
    /// three calls are worth.
    pub ec2: super::ec2::Ec2Client,
    pub secrets_manager: aws_sdk_secretsmanager::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl ProbeClients {
    /// Clients from `config` (its endpoint settings, per-service ones included), in
    /// `region` when given.
    pub fn new(config: &SdkConfig, region: Option<&str>) -> ProbeClients {
        let region = region.map(|r| Region::new(r.to_string()));
        let region = region.as_ref();
        ProbeClients {
            config: config.clone(),
            region: region.or(config.region()).map(|r| r.to_string()),
            ecs: counted_client!(aws_sdk_ecs, config, region),
            ecr: counted_client!(aws_sdk_ecr, config, region),
            // IAM is global: its endpoint is the same from every region.
            iam: counted_client!(aws_sdk_iam, config, region),
            ec2: super::ec2::Ec2Client::new(config, region.map(|r| r.as_ref())),
            secrets_manager: counted_client!(aws_sdk_secretsmanager, config, region),
            ssm: counted_client!(aws_sdk_ssm, config, region),
            logs: counted_client!(aws_sdk_cloudwatchlogs, config, region),
            elb: counted_client!(aws_sdk_elasticloadbalancingv2, config, region),
            cloudwatch: counted_client!(aws_sdk_cloudwatch, config, region),
        }
    }

    /// The clients of `region`: these when it is theirs, else new ones (a secret's or a
    /// log group's ARN may name another region than the task's).
    pub fn in_region(&self, region: &str) -> std::borrow::Cow<'_, ProbeClients> {
        if self.region.as_deref() == Some(region) {
            std::borrow::Cow::Borrowed(self)
        } else {
            std::borrow::Cow::Owned(ProbeClients::new(&self.config, Some(region)))
        }
    }
}

type ProbeFuture<'a> = Pin<Box<dyn Future<Output = ProbeResults> + Send + 'a>>;

/// One probe: the request it answers, its name (for "timed out" sentences) and its run,
/// when it applies.
struct Probe<'a> {
    request: &'a CheckRequest,
    checking: &'static str,
    run: ProbeFuture<'a>,
}

/// Run every requested check that the evidence allows, concurrently, and gather what
/// they found in the order they were asked for.
pub async fn run_all(
    clients: &ProbeClients,
    evidence: &Evidence,
    requests: &[CheckRequest],
) -> ProbeResults {
    let mut results = ProbeResults::default();
    for (_, found) in run_each(clients, evidence, requests).await {
        results.merge(found);
    }
    results
}

/// Run every requested check that the evidence allows, concurrently: what each request
/// found (nothing, for one the evidence does not allow), in the order asked.
pub async fn run_each(
    clients: &ProbeClients,
    evidence: &Evidence,
    requests: &[CheckRequest],
) -> Vec<(CheckRequest, ProbeResults)> {
    let mut probes: Vec<Probe<'_>> = Vec::new();
    for request in requests {
        let input = ProbeInput { evidence, request };
        macro_rules! probe {
            ($module:ident, $checking:expr) => {
                if $module::applies(input) {
                    probes.push(Probe {
                        request,
                        checking: $checking,
                        run: Box::pin($module::run(clients, input)),
                    });
                }
            };
        }
        match request {
            CheckRequest::ImagePull | CheckRequest::ImagePlatforms { .. } => {
                probe!(image, "the image in ECR")
            }
            CheckRequest::SubnetEgress { .. } => probe!(network, "the subnet's route to ECR"),
            CheckRequest::Secrets { .. } => probe!(secrets, "the secrets and parameters"),
            CheckRequest::LogGroup => probe!(log_group, "the log group"),
            CheckRequest::TargetHealth => {
                probe!(load_balancer, "the target group's health check")
            }
            CheckRequest::MemoryBeforeStop => probe!(memory, "the memory graph"),
            CheckRequest::DefinitionChanges => {
                probe!(changes, "what changed since the previous deployment")
            }
        }
    }

    let bounded = probes.into_iter().map(|probe| async move {
        let found = match tokio::time::timeout(PROBE_TIME_LIMIT, probe.run).await {
            Ok(found) => found,
            Err(_) => ProbeResults {
                unchecked: vec![format!(
                    "{} was not checked: AWS did not answer within {} s.",
                    capitalised(probe.checking),
                    PROBE_TIME_LIMIT.as_secs()
                )],
                ..ProbeResults::default()
            },
        };
        (probe.request, found)
    });
    let ran = futures::future::join_all(bounded).await;
    requests
        .iter()
        .map(|request| {
            let found = ran.iter().filter(|(asked, _)| *asked == request).fold(
                ProbeResults::default(),
                |mut all, (_, found)| {
                    all.merge(found.clone());
                    all
                },
            );
            (request.clone(), found)
        })
        .collect()
}

/// A sentence for what a failed call left unchecked: `what` is the check (`the tag
/// v1.4.2 in ECR repository orders`), `action` the IAM action the call needs.
pub fn unchecked(what: &str, action: &str, failure: &AwsFailure) -> String {
    match failure.kind {
        FailureKind::Denied => format!("Could not check {what}: {}.", super::denied(action)),
        FailureKind::Timeout | FailureKind::Network => format!(
            "Could not check {what}: {action} did not answer ({}).",
            failure.message
        ),
        _ => format!(
            "Could not check {what}: {action} failed: {}",
            failure.message
        ),
    }
}

/// Results holding only one unchecked sentence.
pub fn only_unchecked(sentence: String) -> ProbeResults {
    ProbeResults {
        unchecked: vec![sentence],
        ..ProbeResults::default()
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_denied_call_names_the_action_and_where_to_grant_it() {
        let failure = AwsFailure {
            kind: FailureKind::Denied,
            code: Some("AccessDeniedException".into()),
            message: "not authorized".into(),
        };
        let sentence = unchecked(
            "the tag v2 in ECR repository web",
            "ecr:DescribeImages",
            &failure,
        );
        assert!(
            sentence.contains("access denied to ecr:DescribeImages"),
            "{sentence}"
        );
        assert!(sentence.contains("deploy/iam-policy.json"), "{sentence}");
    }
}
