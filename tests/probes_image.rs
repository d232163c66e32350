//! The image-pull probes against moto's ECR and EC2 (IAM's policy simulation on the fake
//! IAM): a missing tag, repository or architecture confirms the pull failure with the
//! account's own values; an existing image, a granted role or a subnet that reaches ECR
//! rules its suspect out; a call ecs-why may not make becomes a sentence naming the
//! action. Loopback only.

mod support;

use aws_config::SdkConfig;
use chrono::{TimeZone, Utc};
use ecs_why::diagnose::{diagnose, CauseId};
use ecs_why::evidence::probes::{CheckId, CheckOutcome};
use ecs_why::evidence::{
    Container, ContainerDefinition, Evidence, ProbeResults, Task, TaskDefinition,
};
use ecs_why::gather::Gatherer;
use support::ec2::Ec2;
use support::fake_aws::{FakeAws, Fault};
use support::fake_iam::{with_iam_endpoint, FakeIam};
use support::moto::Moto;
use support::probe_results::{checks_of, only_check, probe};

const ACCOUNT: &str = "123456789012";
const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const EXECUTION_ROLE: &str = "arn:aws:iam::123456789012:role/web-execution";
const REPOSITORY_ARN: &str = "arn:aws:ecr:us-east-1:123456789012:repository/web";

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// moto for ECR and EC2, the fake IAM for SimulatePrincipalPolicy.
struct Account {
    moto: Moto,
    iam: FakeIam,
}

impl Account {
    async fn start() -> Account {
        Account {
            moto: Moto::start(),
            iam: FakeIam::start().await,
        }
    }

    async fn config(&self) -> SdkConfig {
        with_iam_endpoint(&self.moto.sdk_config().await, &self.iam.endpoint())
    }

    async fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.moto.sdk_config().await)
    }

    async fn ec2(&self) -> Ec2 {
        Ec2::new(&self.moto.sdk_config().await)
    }

    /// Diagnose `evidence` and run the probes against this account.
    async fn probe(&self, evidence: &Evidence) -> ProbeResults {
        probe(&self.config().await, evidence, None).await
    }

    /// Let the execution role log in to ECR and pull from `web`.
    fn grant_pull(&self) {
        self.iam
            .grant(EXECUTION_ROLE, "ecr:GetAuthorizationToken", "*");
        self.iam
            .grant(EXECUTION_ROLE, "ecr:BatchGetImage", REPOSITORY_ARN);
        self.iam
            .grant(EXECUTION_ROLE, "ecr:GetDownloadUrlForLayer", REPOSITORY_ARN);
    }
}

/// A single-platform Docker manifest; `seed` makes each one (and so its digest) distinct.
fn docker_manifest(seed: &str) -> String {
    let digest = format!("sha256:{:0>64}", seed);
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"{digest}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":3370706,"digest":"{digest}"}}]}}"#
    )
}

/// An OCI index listing `platforms` (`(os, architecture)`) and a build attestation.
fn oci_index(platforms: &[(&str, &str)]) -> String {
    let mut manifests: Vec<String> = platforms
        .iter()
        .enumerate()
        .map(|(i, (os, architecture))| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1000,"digest":"sha256:{:0>64}","platform":{{"architecture":"{architecture}","os":"{os}"}}}}"#,
                i + 1
            )
        })
        .collect();
    manifests.push(
        r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"digest":"sha256:ffff000000000000000000000000000000000000000000000000000000000000","platform":{"architecture":"unknown","os":"unknown"}}"#.to_string(),
    );
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        manifests.join(",")
    )
}

async fn create_repository(ecr: &aws_sdk_ecr::Client, name: &str) {
    ecr.create_repository()
        .repository_name(name)
        .send()
        .await
        .expect("moto creates the repository");
}

async fn push(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    tag: &str,
    manifest: &str,
    media_type: &str,
) {
    ecr.put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_manifest(manifest)
        .image_manifest_media_type(media_type)
        .send()
        .await
        .expect("moto stores the image");
}

/// A Fargate task of `image` that could not be pulled, with an execution role and the
/// CPU architecture `architecture` (`None`: no runtimePlatform).
fn pull_failure(image: &str, architecture: Option<&str>) -> Evidence {
    let reason = format!(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
    );
    Evidence {
        task: Task {
            arn: format!(
                "arn:aws:ecs:us-east-1:{ACCOUNT}:task/prod/0123456789abcdef0123456789abcdef"
            ),
            cluster: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"),
            group: Some("service:web".into()),
            task_definition: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:42"),
            stop_code: Some("TaskFailedToStart".into()),
            stopped_reason: Some(reason.clone()),
            launch_type: Some("FARGATE".into()),
            stopped_at: Some(Utc.with_ymd_and_hms(2026, 11, 20, 14, 2, 0).unwrap()),
            containers: vec![Container {
                name: "web".into(),
                image: Some(image.into()),
                reason: Some(reason),
                last_status: Some("STOPPED".into()),
                ..Container::default()
            }],
            ..Task::default()
        },
        task_definition: Some(TaskDefinition {
            arn: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:42"),
            family: "web".into(),
            revision: 42,
            network_mode: Some("awsvpc".into()),
            requires_compatibilities: vec!["FARGATE".into()],
            cpu_architecture: architecture.map(str::to_string),
            execution_role_arn: Some(EXECUTION_ROLE.into()),
            containers: vec![ContainerDefinition {
                name: "web".into(),
                image: image.into(),
                essential: Some(true),
                ..ContainerDefinition::default()
            }],
            ..TaskDefinition::default()
        }),
        ..Evidence::default()
    }
}

#[tokio::test]
async fn a_missing_tag_confirms_and_names_the_newest_push() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    push(
        &ecr,
        "web",
        "v1.4.1",
        &docker_manifest("a1"),
        DOCKER_MANIFEST,
    )
    .await;
    account.grant_pull();
    let evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);
    assert_eq!(diagnose(&evidence).category, CauseId::ImagePullFailed);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::EcrImage);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert!(
        check
            .detail
            .starts_with("ECR repository web has no tag v1.4.2 (newest push "),
        "{}",
        check.detail
    );
    assert!(check.detail.ends_with(" UTC: v1.4.1)"), "{}", check.detail);
    assert!(
        checks_of(&results, CheckId::ImageArchitecture).is_empty(),
        "no manifest to read for a missing tag: {results:#?}"
    );
}

#[tokio::test]
async fn an_existing_tag_rules_the_image_out_with_its_push_time() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    push(
        &ecr,
        "web",
        "v1.4.2",
        &docker_manifest("b2"),
        DOCKER_MANIFEST,
    )
    .await;
    account.grant_pull();
    let mut evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);
    // Pushed (by moto, now) before the task stopped: it was there to pull.
    evidence.task.stopped_at = Some(Utc::now() + chrono::Duration::hours(1));

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::EcrImage);
    assert_eq!(check.outcome, CheckOutcome::RulesOut, "{results:#?}");
    assert!(
        check
            .detail
            .starts_with("web:v1.4.2 exists in ECR, pushed "),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn a_tag_pushed_after_the_task_stopped_is_shown_as_pushed_too_late() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    push(
        &ecr,
        "web",
        "v1.4.2",
        &docker_manifest("c3"),
        DOCKER_MANIFEST,
    )
    .await;
    account.grant_pull();
    let evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::EcrImage);
    assert_eq!(check.outcome, CheckOutcome::Context, "{results:#?}");
    assert!(
        check.detail.contains(
            "after the task stopped (2026-11-20 14:02 UTC): the tag likely named no image"
        ),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn a_missing_repository_confirms_with_account_and_region() {
    let account = Account::start().await;
    account.grant_pull();
    let evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::EcrImage);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert_eq!(
        check.detail,
        "no ECR repository web in 123456789012 us-east-1"
    );
}

#[tokio::test]
async fn an_index_without_the_task_architecture_confirms() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    push(
        &ecr,
        "web",
        "v2",
        &oci_index(&[("linux", "amd64")]),
        OCI_INDEX,
    )
    .await;
    account.grant_pull();
    let mut evidence = pull_failure(&format!("{REGISTRY}/web:v2"), Some("ARM64"));
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): no matching manifest for linux/arm64/v8 in the manifest list entries";
    evidence.task.stopped_reason = Some(reason.into());
    evidence.task.containers[0].reason = Some(reason.into());
    assert_eq!(diagnose(&evidence).category, CauseId::ImagePullFailed);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::ImageArchitecture);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert_eq!(
        check.detail,
        "web:v2 is built for linux/amd64 only; the task runs ARM64 (runtimePlatform)"
    );
}

#[tokio::test]
async fn an_index_with_the_task_architecture_rules_it_out() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    let index = oci_index(&[("linux", "amd64"), ("linux", "arm64")]);
    push(&ecr, "web", "v2", &index, OCI_INDEX).await;
    account.grant_pull();
    let evidence = pull_failure(&format!("{REGISTRY}/web:v2"), Some("ARM64"));

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::ImageArchitecture);
    assert_eq!(check.outcome, CheckOutcome::RulesOut, "{results:#?}");
    assert_eq!(
        check.detail,
        "web:v2 has a linux/arm64 image for the task's ARM64 (runtimePlatform)"
    );
}

#[tokio::test]
async fn an_execution_role_that_may_not_pull_confirms_and_names_the_action() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    push(
        &ecr,
        "web",
        "v1.4.2",
        &docker_manifest("d4"),
        DOCKER_MANIFEST,
    )
    .await;
    account
        .iam
        .grant(EXECUTION_ROLE, "ecr:GetAuthorizationToken", "*");
    account
        .iam
        .grant(EXECUTION_ROLE, "ecr:GetDownloadUrlForLayer", REPOSITORY_ARN);
    let evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::PullPermission);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert_eq!(
        check.detail,
        format!("role web-execution may not pull the image from ECR: ecr:BatchGetImage on {REPOSITORY_ARN} (implicitDeny) denied")
    );
}

#[tokio::test]
async fn an_execution_role_that_may_pull_is_ruled_out() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    push(
        &ecr,
        "web",
        "v1.4.2",
        &docker_manifest("e5"),
        DOCKER_MANIFEST,
    )
    .await;
    account.grant_pull();
    let evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::PullPermission);
    assert_eq!(check.outcome, CheckOutcome::RulesOut, "{results:#?}");
    assert!(
        check.detail.contains("ecr:GetAuthorizationToken")
            && check.detail.contains("ecr:BatchGetImage")
            && check.detail.contains("ecr:GetDownloadUrlForLayer"),
        "{}",
        check.detail
    );
    let asked = account.iam.asked();
    assert!(
        asked
            .iter()
            .any(|(role, actions, resources)| role == EXECUTION_ROLE
                && actions.contains(&"ecr:BatchGetImage".to_string())
                && resources == &vec![REPOSITORY_ARN.to_string()]),
        "the pull is simulated on the repository's ARN: {asked:?}"
    );
}

#[tokio::test]
async fn a_fargate_task_without_an_execution_role_confirms() {
    let account = Account::start().await;
    let mut evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);
    if let Some(definition) = evidence.task_definition.as_mut() {
        definition.execution_role_arn = None;
    }

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::PullPermission);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert_eq!(
        check.detail,
        "the task definition has no execution role, so ECS cannot log in to ECR"
    );
}

#[tokio::test]
async fn a_denied_policy_simulation_is_unchecked_and_names_the_action() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    push(
        &ecr,
        "web",
        "v1.4.2",
        &docker_manifest("f6"),
        DOCKER_MANIFEST,
    )
    .await;
    account.iam.deny_caller();
    let evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);

    let results = account.probe(&evidence).await;

    assert!(
        checks_of(&results, CheckId::PullPermission).is_empty(),
        "{results:#?}"
    );
    let sentence = results
        .unchecked
        .iter()
        .find(|s| s.contains("iam:SimulatePrincipalPolicy"))
        .unwrap_or_else(|| panic!("an unchecked sentence naming the action: {results:#?}"));
    assert!(sentence.contains("access denied"), "{sentence}");
    assert!(sentence.contains("role web-execution"), "{sentence}");
}

#[tokio::test]
async fn an_image_outside_ecr_is_named_as_unchecked() {
    let account = Account::start().await;
    let evidence = pull_failure("docker.io/acme/web:v1.4.2", None);

    let results = account.probe(&evidence).await;

    assert!(
        checks_of(&results, CheckId::EcrImage).is_empty(),
        "{results:#?}"
    );
    assert!(
        results.unchecked.iter().any(|s| s
            == "Could not check whether docker.io/acme/web:v1.4.2 (container web) exists: ecs-why looks only into private ECR repositories."),
        "{results:#?}"
    );
}

/// A VPC and a subnet in it with no route table of its own: the VPC's main table (only
/// its local route) applies. Returns (VPC, subnet, main route table).
async fn private_subnet(ec2: &Ec2) -> (String, String, String) {
    let vpc = ec2.create_vpc("10.0.0.0/16").await;
    let subnet = ec2.create_subnet(&vpc, "10.0.1.0/24").await;
    let main = ec2.main_route_table(&vpc).await;
    (vpc, subnet, main)
}

/// A pull failure of an ECR image by a task in `subnet`.
fn pull_failure_in(subnet: &str) -> Evidence {
    let mut evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);
    let reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to do request: Head https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/web/manifests/v1.4.2: dial tcp 52.0.0.1:443: i/o timeout";
    evidence.task.stopped_reason = Some(reason.into());
    evidence.task.containers[0].reason = Some(reason.into());
    evidence.task.subnet_id = Some(subnet.into());
    evidence
}

#[tokio::test]
async fn a_subnet_with_no_route_and_no_endpoints_confirms() {
    let account = Account::start().await;
    let (vpc, subnet, main) = private_subnet(&account.ec2().await).await;
    let evidence = pull_failure_in(&subnet);
    assert_eq!(diagnose(&evidence).category, CauseId::ImagePullFailed);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::SubnetEgress);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert_eq!(
        check.detail,
        format!("subnet {subnet} ({vpc}) has no route to the internet (route table {main}: no 0.0.0.0/0 via a NAT or internet gateway) and no VPC endpoint for ecr.api, ecr.dkr, s3: the task cannot reach ECR")
    );
}

#[tokio::test]
async fn a_subnet_routed_through_a_nat_gateway_rules_the_network_out() {
    let account = Account::start().await;
    let ec2 = account.ec2().await;
    let (vpc, subnet, _) = private_subnet(&ec2).await;
    let table = ec2.create_route_table(&vpc).await;
    ec2.associate_route_table(&table, &subnet).await;
    let nat = ec2.create_nat_gateway(&subnet).await;
    ec2.default_route(&table, ("NatGatewayId", &nat)).await;
    let evidence = pull_failure_in(&subnet);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::SubnetEgress);
    assert_eq!(check.outcome, CheckOutcome::RulesOut, "{results:#?}");
    assert_eq!(
        check.detail,
        format!("subnet {subnet} ({vpc}) reaches the internet via {nat} (route table {table})")
    );
}

#[tokio::test]
async fn an_internet_gateway_route_names_the_public_ip_the_task_needs() {
    let account = Account::start().await;
    let ec2 = account.ec2().await;
    let (vpc, subnet, main) = private_subnet(&ec2).await;
    let gateway = ec2.attach_new_internet_gateway(&vpc).await;
    ec2.default_route(&main, ("GatewayId", &gateway)).await;
    let evidence = pull_failure_in(&subnet);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::SubnetEgress);
    assert_eq!(check.outcome, CheckOutcome::Context, "{results:#?}");
    assert!(
        check
            .detail
            .contains(&format!("internet gateway {gateway}"))
            && check.detail.contains("assignPublicIp ENABLED"),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn ecr_and_s3_endpoints_in_the_vpc_rule_the_network_out() {
    let account = Account::start().await;
    let ec2 = account.ec2().await;
    let (vpc, subnet, main) = private_subnet(&ec2).await;
    let mut ids = Vec::new();
    for service in ["ecr.api", "ecr.dkr"] {
        ids.push(ec2.interface_endpoint(&vpc, service, &subnet).await);
    }
    ids.push(ec2.gateway_endpoint(&vpc, "s3", &main).await);
    let evidence = pull_failure_in(&subnet);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::SubnetEgress);
    assert_eq!(check.outcome, CheckOutcome::RulesOut, "{results:#?}");
    assert_eq!(
        check.detail,
        format!(
            "subnet {subnet} ({vpc}) reaches ECR through VPC endpoints ({})",
            ids.join(", ")
        )
    );
}

#[tokio::test]
async fn a_missing_s3_gateway_endpoint_is_named() {
    let account = Account::start().await;
    let ec2 = account.ec2().await;
    let (vpc, subnet, _) = private_subnet(&ec2).await;
    for service in ["ecr.api", "ecr.dkr"] {
        ec2.interface_endpoint(&vpc, service, &subnet).await;
    }
    let evidence = pull_failure_in(&subnet);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::SubnetEgress);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert!(
        check
            .detail
            .ends_with("and no VPC endpoint for s3: the task cannot reach ECR"),
        "{}",
        check.detail
    );
}

/// ECR and EC2 on the fake AWS (which can refuse a call), IAM on the fake IAM.
async fn probe_refused(evidence: &Evidence, refused: &[&str]) -> ProbeResults {
    let aws = FakeAws::start().await;
    for operation in refused {
        aws.fail(operation, Fault::AccessDenied);
    }
    let iam = FakeIam::start().await;
    iam.grant(EXECUTION_ROLE, "ecr:GetAuthorizationToken", "*");
    let config = with_iam_endpoint(&aws.sdk_config().await, &iam.endpoint());
    probe(&config, evidence, None).await
}

#[tokio::test]
async fn ecr_calls_ecs_why_may_not_make_are_unchecked_and_named() {
    let evidence = pull_failure(&format!("{REGISTRY}/web:v1.4.2"), None);

    let results = probe_refused(&evidence, &["DescribeImages", "BatchGetImage"]).await;

    assert!(
        checks_of(&results, CheckId::EcrImage).is_empty(),
        "{results:#?}"
    );
    for action in ["ecr:DescribeImages", "ecr:BatchGetImage"] {
        assert!(
            results
                .unchecked
                .iter()
                .any(|s| s.contains(&format!("access denied to {action}"))),
            "an unchecked sentence naming {action}: {results:#?}"
        );
    }
}

#[tokio::test]
async fn an_ec2_call_ecs_why_may_not_make_is_unchecked_and_named() {
    let evidence = pull_failure_in("subnet-0abc");

    let results = probe_refused(&evidence, &["DescribeRouteTables"]).await;

    assert!(
        checks_of(&results, CheckId::SubnetEgress).is_empty(),
        "{results:#?}"
    );
    assert!(
        results.unchecked.iter().any(|s| s.starts_with(
            "Could not check whether subnet subnet-0abc reaches its image registry: "
        ) && s.contains("ec2:DescribeRouteTables")),
        "{results:#?}"
    );
}

#[tokio::test]
async fn a_binary_of_the_wrong_architecture_checks_only_the_platforms() {
    let account = Account::start().await;
    let ecr = account.ecr().await;
    create_repository(&ecr, "web").await;
    push(
        &ecr,
        "web",
        "v2",
        &oci_index(&[("linux", "amd64")]),
        OCI_INDEX,
    )
    .await;
    let mut evidence = pull_failure(&format!("{REGISTRY}/web:v2"), Some("ARM64"));
    evidence.task.stop_code = Some("EssentialContainerExited".into());
    evidence.task.stopped_reason = Some("Essential container in task exited".into());
    evidence.task.containers[0].reason = None;
    evidence.task.containers[0].exit_code = Some(255);
    evidence.logs = vec![ecs_why::evidence::ContainerLogs {
        container: "web".into(),
        lines: vec![ecs_why::evidence::LogLine {
            timestamp: None,
            message: "exec /app/server: exec format error".into(),
        }],
        ..Default::default()
    }];
    let diagnosis = diagnose(&evidence);
    assert_ne!(diagnosis.category, CauseId::ImagePullFailed);
    assert!(
        diagnosis
            .findings
            .iter()
            .any(|f| f.kind == ecs_why::diagnose::findings::FindingKind::WrongCpuArchitecture),
        "{:?}",
        diagnosis.findings
    );

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::ImageArchitecture);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert!(
        checks_of(&results, CheckId::EcrImage).is_empty()
            && checks_of(&results, CheckId::PullPermission).is_empty()
            && checks_of(&results, CheckId::SubnetEgress).is_empty(),
        "the image was pulled: only its platforms are in question: {results:#?}"
    );
}

#[tokio::test]
async fn a_secret_fetch_that_timed_out_names_the_missing_secrets_and_logs_endpoints() {
    let account = Account::start().await;
    let ec2 = account.ec2().await;
    let (vpc, subnet, main) = private_subnet(&ec2).await;
    for service in ["ecr.api", "ecr.dkr"] {
        ec2.interface_endpoint(&vpc, service, &subnet).await;
    }
    ec2.gateway_endpoint(&vpc, "s3", &main).await;
    let mut evidence = pull_failure_in(&subnet);
    let reason = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 5 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf from secrets manager: RequestCanceled: request context canceled caused by: context deadline exceeded";
    evidence.task.stopped_reason = Some(reason.into());
    evidence.task.containers[0].reason = None;
    if let Some(definition) = evidence.task_definition.as_mut() {
        let web = &mut definition.containers[0];
        web.secrets = vec![ecs_why::evidence::SecretRef {
            name: "DATABASE_URL".into(),
            value_from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf".into(),
        }];
        web.log_configuration = Some(ecs_why::evidence::LogConfiguration {
            log_driver: "awslogs".into(),
            options: [("awslogs-group".to_string(), "/ecs/web".to_string())].into(),
        });
    }
    assert_eq!(diagnose(&evidence).category, CauseId::SecretsOrRegistryAuth);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::SubnetEgress);
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{results:#?}");
    assert!(
        check.detail.ends_with(
            "and no VPC endpoint for secretsmanager, logs: the task cannot reach Secrets Manager and CloudWatch Logs"
        ),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn for_a_network_interface_failure_the_route_is_only_context() {
    let account = Account::start().await;
    let (_, subnet, _) = private_subnet(&account.ec2().await).await;
    let mut evidence = pull_failure_in(&subnet);
    let reason = "Timeout waiting for network interface provisioning to complete.";
    evidence.task.stopped_reason = Some(reason.into());
    evidence.task.containers[0].reason = None;
    assert_eq!(diagnose(&evidence).category, CauseId::NetworkSetupFailed);

    let results = account.probe(&evidence).await;

    let check = only_check(&results, CheckId::SubnetEgress);
    assert_eq!(check.outcome, CheckOutcome::Context, "{results:#?}");
    assert!(
        check.detail.contains("has no route to the internet"),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn the_image_and_subnet_probes_cost_one_round_trip() {
    let latency = std::time::Duration::from_millis(500);
    let aws = FakeAws::start().await;
    aws.set_latency(latency);
    let iam = FakeIam::start().await;
    let config = with_iam_endpoint(&aws.sdk_config().await, &iam.endpoint());
    let gatherer = Gatherer::from_sdk_config(&config);
    let evidence = pull_failure_in("subnet-0abc");
    let diagnosis = diagnose(&evidence);

    let started = std::time::Instant::now();
    let results = gatherer.probe(&evidence, &diagnosis.checks).await;
    let took = started.elapsed();

    // Seven calls (three to ECR, four to EC2) at 500 ms each: in one round trip they
    // take 500 ms; a second one in sequence would take 1 s.
    let calls = aws.calls_by_operation();
    for operation in [
        "DescribeImages",
        "BatchGetImage",
        "DescribeSubnets",
        "DescribeRouteTables",
        "DescribeVpcEndpoints",
    ] {
        assert!(
            calls.contains_key(operation),
            "{operation} was not called: {calls:?}"
        );
    }
    assert!(
        took < latency * 2,
        "the probes took {took:?}: more than one round trip of {latency:?} ({calls:?}, {results:#?})"
    );
}

#[tokio::test]
async fn a_task_that_crashed_makes_no_ecr_or_ec2_call() {
    let aws = FakeAws::start().await;
    let iam = FakeIam::start().await;
    let config = with_iam_endpoint(&aws.sdk_config().await, &iam.endpoint());
    let mut evidence = pull_failure_in("subnet-0abc");
    evidence.task.stop_code = Some("EssentialContainerExited".into());
    evidence.task.stopped_reason = Some("Essential container in task exited".into());
    evidence.task.containers[0].reason = None;
    evidence.task.containers[0].exit_code = Some(1);
    let diagnosis = diagnose(&evidence);
    assert_ne!(diagnosis.category, CauseId::ImagePullFailed);

    let results = probe(&config, &evidence, Some(diagnosis.category)).await;

    let calls = aws.calls_by_operation();
    for operation in [
        "DescribeImages",
        "BatchGetImage",
        "DescribeSubnets",
        "DescribeRouteTables",
        "DescribeVpcEndpoints",
    ] {
        assert!(!calls.contains_key(operation), "{operation}: {calls:?}");
    }
    assert!(iam.asked().is_empty(), "{:?}", iam.asked());
    for probe in [
        CheckId::EcrImage,
        CheckId::ImageArchitecture,
        CheckId::PullPermission,
        CheckId::SubnetEgress,
    ] {
        assert!(checks_of(&results, probe).is_empty(), "{results:#?}");
    }
}
