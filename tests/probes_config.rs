//! The secrets, log-group and target-health probes against moto's Secrets Manager, SSM,
//! CloudWatch Logs and ELBv2 (and the fake IAM for policy simulation): what the account
//! shows confirms the cause or rules the suspect out, and no secret's value ever reaches
//! a check.
mod support;

use aws_config::SdkConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use chrono::{DateTime, Duration, Utc};
use ecs_why::diagnose::CauseId;
use ecs_why::evidence::probes::{CheckId, CheckOutcome};
use ecs_why::evidence::{
    Container, ContainerDefinition, ContainerLogs, Evidence, LogConfiguration, LogLine, SecretRef,
    ServiceEvent, ServiceFacts, ServiceLoadBalancer, Task, TaskDefinition,
};
use support::fake_iam::FakeIam;
use support::moto::Moto;
use support::probe_results::{checks_of, only_check, probe};

const ACCOUNT: &str = "123456789012";
const ROLE: &str = "arn:aws:iam::123456789012:role/web-execution";
const TASK_ARN: &str =
    "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef";
const SECRET_VALUE: &str = "s3cr3t-hunter2-value";

/// A task that stopped with `reason`, whose container `app` reads `secrets`.
fn secrets_task(reason: &str, secrets: &[&str]) -> Evidence {
    Evidence {
        task: Task {
            arn: TASK_ARN.into(),
            cluster: "prod".into(),
            task_definition: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:42"),
            region: Some("us-east-1".into()),
            stop_code: Some("TaskFailedToStart".into()),
            stopped_reason: Some(reason.into()),
            containers: vec![Container {
                name: "app".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
        task_definition: Some(TaskDefinition {
            arn: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:42"),
            family: "web".into(),
            revision: 42,
            execution_role_arn: Some(ROLE.into()),
            containers: vec![ContainerDefinition {
                name: "app".into(),
                image: "nginx:1.27".into(),
                secrets: secrets
                    .iter()
                    .enumerate()
                    .map(|(n, value_from)| SecretRef {
                        name: format!("SECRET_{n}"),
                        value_from: value_from.to_string(),
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn secret_failure(value_from: &str) -> String {
    format!(
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret {value_from} from secrets manager"
    )
}

/// moto for everything, the fake IAM for the simulations.
async fn configs() -> (Moto, FakeIam, SdkConfig) {
    let moto = Moto::start();
    let iam = FakeIam::start().await;
    let config = split_endpoints(&moto.sdk_config().await, &moto.endpoint(), &iam.endpoint());
    (moto, iam, config)
}

/// Per-service endpoints: IAM's at the fake, every other service's at moto.
#[derive(Debug)]
struct Endpoints {
    moto: String,
    iam: String,
}

impl LoadServiceConfig for Endpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.profile() != "endpoint_url" {
            return None;
        }
        Some(if key.service_id() == "IAM" {
            self.iam.clone()
        } else {
            self.moto.clone()
        })
    }
}

/// `config` without its one endpoint for all services (which a client takes over any
/// per-service one), with moto's for all but IAM and the fake's for IAM instead.
fn split_endpoints(config: &SdkConfig, moto: &str, iam: &str) -> SdkConfig {
    let mut builder = SdkConfig::builder().service_config(Endpoints {
        moto: moto.to_string(),
        iam: iam.to_string(),
    });
    builder.set_region(config.region().cloned());
    builder.set_credentials_provider(config.credentials_provider());
    builder.set_retry_config(config.retry_config().cloned());
    builder.set_behavior_version(config.behavior_version());
    builder.set_sleep_impl(config.sleep_impl());
    builder.set_time_source(config.time_source());
    builder.set_http_client(config.http_client());
    builder.build()
}

async fn create_secret(config: &SdkConfig, name: &str) -> String {
    aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name(name)
        .secret_string(SECRET_VALUE)
        .send()
        .await
        .expect("moto creates the secret")
        .arn
        .expect("a secret ARN")
}

#[tokio::test]
async fn a_missing_secret_confirms_and_names_it_and_its_region() {
    let (_moto, _iam, config) = configs().await;
    let arn = format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/db-AbCdEf");
    let evidence = secrets_task(&secret_failure(&arn), &[&arn]);
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    let check = only_check(&results, CheckId::Secret);
    assert_eq!(check.outcome, CheckOutcome::Confirms);
    assert_eq!(check.detail, "secret prod/db does not exist in us-east-1");
}

#[tokio::test]
async fn an_existing_secret_rules_out_and_its_value_is_never_shown() {
    let (_moto, iam, config) = configs().await;
    let arn = create_secret(&config, "prod/db").await;
    iam.grant(ROLE, "secretsmanager:GetSecretValue", &arn);
    let json_key = format!("{arn}:password::");
    let evidence = secrets_task(&secret_failure(&json_key), &[&json_key]);
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    let check = only_check(&results, CheckId::Secret);
    assert_eq!(check.outcome, CheckOutcome::RulesOut, "{check:?}");
    assert!(
        check
            .detail
            .starts_with("secret prod/db exists (last changed 20"),
        "{}",
        check.detail
    );
    let permission = only_check(&results, CheckId::SecretPermission);
    assert_eq!(permission.outcome, CheckOutcome::RulesOut, "{permission:?}");
    let everything = serde_json::to_string(&results).expect("results serialise");
    assert!(
        !everything.contains(SECRET_VALUE),
        "a secret's value reached the probe's output: {everything}"
    );
}

#[tokio::test]
async fn a_secret_scheduled_for_deletion_confirms_with_its_date() {
    let (_moto, _iam, config) = configs().await;
    let arn = create_secret(&config, "prod/api").await;
    aws_sdk_secretsmanager::Client::new(&config)
        .delete_secret()
        .secret_id(&arn)
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("moto schedules the deletion");
    let evidence = secrets_task(&secret_failure(&arn), &[&arn]);
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    let check = only_check(&results, CheckId::Secret);
    assert_eq!(check.outcome, CheckOutcome::Confirms);
    assert!(
        check
            .detail
            .starts_with("secret prod/api is scheduled for deletion (deleted 20"),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn a_missing_parameter_confirms_and_an_existing_one_rules_out() {
    let (_moto, _iam, config) = configs().await;
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name("/prod/api-key")
        .value(SECRET_VALUE)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("moto stores the parameter");
    let missing = format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/prod/db");
    let reason = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid parameters: /prod/db";
    let evidence = secrets_task(reason, &[&missing, "/prod/api-key"]);
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    // The reason names /prod/db: that one is checked, the other is not suspected.
    let check = only_check(&results, CheckId::Secret);
    assert_eq!(check.outcome, CheckOutcome::Confirms);
    assert_eq!(
        check.detail,
        "parameter /prod/db does not exist in us-east-1"
    );

    let unnamed = secrets_task(
        "ResourceInitializationError: unable to pull secrets or registry auth",
        &["/prod/api-key"],
    );
    let results = probe(&config, &unnamed, Some(CauseId::SecretsOrRegistryAuth)).await;
    let check = only_check(&results, CheckId::Secret);
    assert_eq!(check.outcome, CheckOutcome::RulesOut, "{check:?}");
    assert!(
        check
            .detail
            .starts_with("parameter /prod/api-key exists (SecureString, last changed 20"),
        "{}",
        check.detail
    );
    let everything = serde_json::to_string(&results).expect("results serialise");
    assert!(!everything.contains(SECRET_VALUE), "{everything}");
}

#[tokio::test]
async fn a_role_denied_get_secret_value_confirms_naming_the_action() {
    let (_moto, iam, config) = configs().await;
    let arn = create_secret(&config, "prod/db").await;
    let evidence = secrets_task(&secret_failure(&arn), &[&arn]);
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    let permission = only_check(&results, CheckId::SecretPermission);
    assert_eq!(permission.outcome, CheckOutcome::Confirms);
    assert_eq!(
        permission.detail,
        format!("role web-execution may not read secret prod/db: secretsmanager:GetSecretValue on {arn} (implicitDeny) denied")
    );
    assert_eq!(
        iam.asked(),
        vec![(
            ROLE.to_string(),
            vec!["secretsmanager:GetSecretValue".to_string()],
            vec![arn.clone()]
        )]
    );
}

#[tokio::test]
async fn the_parameter_permission_is_asked_on_the_parameters_arn() {
    let (_moto, iam, config) = configs().await;
    let parameter_arn = format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/prod/db");
    iam.grant(ROLE, "ssm:GetParameters", &parameter_arn);
    let evidence = secrets_task(
        "ResourceInitializationError: unable to pull secrets or registry auth: invalid parameters: /prod/db",
        &["/prod/db"],
    );
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    let permission = only_check(&results, CheckId::SecretPermission);
    assert_eq!(permission.outcome, CheckOutcome::RulesOut, "{permission:?}");
    assert_eq!(
        permission.detail,
        "role web-execution's policies allow ssm:GetParameters (read parameter /prod/db)"
    );
}

#[tokio::test]
async fn a_customer_kms_key_is_simulated_for_decrypt() {
    let (_moto, iam, config) = configs().await;
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let arn = aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name("prod/orders")
        .kms_key_id(key)
        .secret_string(SECRET_VALUE)
        .send()
        .await
        .expect("moto creates the secret")
        .arn
        .expect("a secret ARN");
    iam.grant(ROLE, "secretsmanager:GetSecretValue", &arn);
    let evidence = secrets_task(&secret_failure(&arn), &[&arn]);
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    let permissions = checks_of(&results, CheckId::SecretPermission);
    let decrypt = permissions
        .iter()
        .find(|c| c.detail.contains("kms:Decrypt"))
        .unwrap_or_else(|| panic!("a kms:Decrypt check in {results:#?}"));
    assert_eq!(decrypt.outcome, CheckOutcome::Confirms);
    assert_eq!(
        decrypt.detail,
        format!("role web-execution may not decrypt secret prod/orders with its KMS key: kms:Decrypt on {key} (implicitDeny) denied")
    );
}

#[tokio::test]
async fn a_task_definition_without_execution_role_confirms() {
    let (_moto, iam, config) = configs().await;
    let arn = create_secret(&config, "prod/db").await;
    let mut evidence = secrets_task(&secret_failure(&arn), &[&arn]);
    if let Some(definition) = evidence.task_definition.as_mut() {
        definition.execution_role_arn = None;
    }
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    let permission = only_check(&results, CheckId::SecretPermission);
    assert_eq!(permission.outcome, CheckOutcome::Confirms);
    assert!(
        permission.detail.contains("no execution role"),
        "{}",
        permission.detail
    );
    assert!(iam.asked().is_empty(), "no role, nothing to simulate");
}

#[tokio::test]
async fn a_denied_simulation_is_unchecked_naming_the_action() {
    let (_moto, iam, config) = configs().await;
    iam.deny_caller();
    let arn = create_secret(&config, "prod/db").await;
    let evidence = secrets_task(&secret_failure(&arn), &[&arn]);
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    assert!(checks_of(&results, CheckId::SecretPermission).is_empty());
    assert!(
        results
            .unchecked
            .iter()
            .any(|s| s.contains("access denied to iam:SimulatePrincipalPolicy")),
        "{:?}",
        results.unchecked
    );
    assert_eq!(
        only_check(&results, CheckId::Secret).outcome,
        CheckOutcome::RulesOut
    );
}

/// A task whose container `app` logs with awslogs to `group`, stopped because the
/// logger could not start.
fn logging_task(group: &str) -> Evidence {
    let mut options = std::collections::BTreeMap::new();
    options.insert("awslogs-group".to_string(), group.to_string());
    options.insert("awslogs-region".to_string(), "us-east-1".to_string());
    options.insert("awslogs-stream-prefix".to_string(), "ecs".to_string());
    Evidence {
        task: Task {
            arn: TASK_ARN.into(),
            cluster: "prod".into(),
            region: Some("us-east-1".into()),
            stop_code: Some("TaskFailedToStart".into()),
            stopped_reason: Some("ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1".into()),
            containers: vec![Container {
                name: "app".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
        task_definition: Some(TaskDefinition {
            arn: format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:42"),
            execution_role_arn: Some(ROLE.into()),
            containers: vec![ContainerDefinition {
                name: "app".into(),
                image: "nginx:1.27".into(),
                log_configuration: Some(LogConfiguration {
                    log_driver: "awslogs".into(),
                    options,
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_missing_log_group_confirms() {
    let (_moto, _iam, config) = configs().await;
    // A group the missing one prefixes must not count as it.
    aws_sdk_cloudwatchlogs::Client::new(&config)
        .create_log_group()
        .log_group_name("/ecs/web-worker")
        .send()
        .await
        .expect("moto creates the log group");
    let evidence = logging_task("/ecs/web");
    let results = probe(&config, &evidence, Some(CauseId::ContainerCreateFailed)).await;
    let check = only_check(&results, CheckId::LogGroup);
    assert_eq!(check.outcome, CheckOutcome::Confirms);
    assert_eq!(
        check.detail,
        "log group /ecs/web does not exist in us-east-1 and awslogs-create-group is not set"
    );
}

#[tokio::test]
async fn an_existing_log_group_rules_out() {
    let (_moto, _iam, config) = configs().await;
    aws_sdk_cloudwatchlogs::Client::new(&config)
        .create_log_group()
        .log_group_name("/ecs/web")
        .send()
        .await
        .expect("moto creates the log group");
    let evidence = logging_task("/ecs/web");
    let results = probe(&config, &evidence, Some(CauseId::ContainerCreateFailed)).await;
    let check = only_check(&results, CheckId::LogGroup);
    assert_eq!(check.outcome, CheckOutcome::RulesOut);
    assert!(
        check
            .detail
            .starts_with("log group /ecs/web exists in us-east-1 (created 20"),
        "{}",
        check.detail
    );
}

/// A target group `web-tg` checking HTTP GET /health for 200, every 30 s, unhealthy
/// after 2 failures, with one registered (healthy, in moto) target; its ARN.
async fn create_target_group(config: &SdkConfig) -> String {
    use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetDescription};
    let vpc = support::ec2::Ec2::new(config)
        .create_vpc("10.0.0.0/16")
        .await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let arn = elb
        .create_target_group()
        .name("web-tg")
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id(vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .health_check_path("/health")
        .health_check_interval_seconds(30)
        .unhealthy_threshold_count(2)
        .matcher(Matcher::builder().http_code("200").build())
        .send()
        .await
        .expect("moto creates the target group")
        .target_groups()
        .first()
        .and_then(|g| g.target_group_arn().map(str::to_string))
        .expect("a target group ARN");
    elb.register_targets()
        .target_group_arn(&arn)
        .targets(
            TargetDescription::builder()
                .id("10.0.1.17")
                .port(8080)
                .build(),
        )
        .send()
        .await
        .expect("moto registers the target");
    arn
}

fn started() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T14:00:00Z")
        .expect("a time")
        .with_timezone(&Utc)
}

/// A service task of `web` that failed the ELB health checks of `target_group`, whose
/// container logged `Listening on :8080` `listening_after` its start.
fn elb_task(
    target_group: &str,
    grace: i32,
    listening_after: Duration,
    events: &[&str],
) -> Evidence {
    Evidence {
        task: Task {
            arn: TASK_ARN.into(),
            cluster: "prod".into(),
            group: Some("service:web".into()),
            region: Some("us-east-1".into()),
            stop_code: Some("ServiceSchedulerInitiated".into()),
            stopped_reason: Some(format!(
                "Task failed ELB health checks in (target-group {target_group})"
            )),
            started_by: Some("ecs-svc/1234567890123456789".into()),
            started_at: Some(started()),
            stopped_at: Some(started() + Duration::seconds(300)),
            containers: vec![Container {
                name: "app".into(),
                exit_code: Some(143),
                ..Default::default()
            }],
            ..Default::default()
        },
        logs: vec![ContainerLogs {
            container: "app".into(),
            lines: vec![
                LogLine {
                    timestamp: Some(started() + Duration::seconds(1)),
                    message: "loading configuration".into(),
                },
                LogLine {
                    timestamp: Some(started() + listening_after),
                    message: "Listening on :8080".into(),
                },
            ],
            ..Default::default()
        }],
        service_events: events
            .iter()
            .map(|message| ServiceEvent {
                created_at: Some(started() + Duration::seconds(200)),
                message: message.to_string(),
            })
            .collect(),
        service: Some(ServiceFacts {
            name: "web".into(),
            health_check_grace_period_seconds: Some(grace),
            load_balancers: vec![ServiceLoadBalancer {
                target_group_arn: Some(target_group.into()),
                container_name: Some("app".into()),
                container_port: Some(8080),
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_404_health_check_confirms_with_the_path_and_the_codes() {
    let (_moto, _iam, config) = configs().await;
    let arn = create_target_group(&config).await;
    let event = format!("(service web) (port 8080) is unhealthy in (target-group {arn}) due to (reason Health checks failed with these codes: [404]).");
    let evidence = elb_task(&arn, 60, Duration::seconds(5), &[&event]);
    let results = probe(&config, &evidence, Some(CauseId::ElbHealthCheckFailed)).await;
    let details: Vec<(CheckOutcome, &str)> = checks_of(&results, CheckId::TargetHealth)
        .iter()
        .map(|c| (c.outcome, c.detail.as_str()))
        .collect();
    assert_eq!(
        details,
        vec![
            (CheckOutcome::Context, "target group web-tg checks HTTP GET /health on port traffic-port, expects 200, every 30 s, unhealthy after 2 failures (60 s)"),
            (CheckOutcome::Context, "target group web-tg now has 1 target: 1 healthy"),
            (CheckOutcome::Confirms, "the check expects 200 on /health and got 404"),
            (CheckOutcome::RulesOut, "starts in ~5 s; grace period 60 s; the check marks it unhealthy after 60 s"),
        ],
        "{results:#?}"
    );
}

#[tokio::test]
async fn a_start_longer_than_the_grace_period_and_the_checks_window_confirms() {
    let (_moto, _iam, config) = configs().await;
    let arn = create_target_group(&config).await;
    let evidence = elb_task(&arn, 0, Duration::seconds(90), &[]);
    let results = probe(&config, &evidence, Some(CauseId::ElbHealthCheckFailed)).await;
    let confirming: Vec<&str> = results.confirming().map(|c| c.detail.as_str()).collect();
    assert_eq!(
        confirming,
        vec!["needs ~90 s to start; grace period 0 s; the check marks it unhealthy after 60 s"],
        "{results:#?}"
    );
}

#[tokio::test]
async fn a_missing_target_group_is_unchecked_not_an_error() {
    let (_moto, _iam, config) = configs().await;
    let arn =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone-tg/6d0ecf831eec9f09";
    let evidence = elb_task(arn, 0, Duration::seconds(5), &[]);
    let results = probe(&config, &evidence, Some(CauseId::ElbHealthCheckFailed)).await;
    assert!(
        checks_of(&results, CheckId::TargetHealth).is_empty(),
        "{results:#?}"
    );
    assert!(
        results
            .unchecked
            .iter()
            .any(|s| s.contains("target group gone-tg")
                && s.contains("elasticloadbalancing:DescribeT")),
        "{:?}",
        results.unchecked
    );
}

#[tokio::test]
async fn a_secret_in_another_region_is_looked_up_in_that_region() {
    let (_moto, _iam, config) = configs().await;
    let ireland = config
        .to_builder()
        .region(aws_config::Region::new("eu-west-1"))
        .build();
    let arn = create_secret(&ireland, "prod/db").await;
    assert!(arn.contains(":eu-west-1:"), "{arn}");
    let evidence = secrets_task(&secret_failure(&arn), &[&arn]);
    let results = probe(&config, &evidence, Some(CauseId::SecretsOrRegistryAuth)).await;
    assert_eq!(
        only_check(&results, CheckId::Secret).outcome,
        CheckOutcome::RulesOut
    );
}

#[tokio::test]
async fn registry_credentials_are_checked_for_an_image_pull_failure() {
    let (_moto, _iam, config) = configs().await;
    let mut evidence = secrets_task(
        "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref registry.example.com/web:1.4.2: unexpected status from HEAD request: 401 Unauthorized",
        &["/prod/not-suspected"],
    );
    if let Some(definition) = evidence.task_definition.as_mut() {
        definition.containers[0].image = "registry.example.com/web:1.4.2".into();
        definition.containers[0].repository_credentials = Some("registry/pull".into());
    }
    let results = probe(&config, &evidence, Some(CauseId::ImagePullFailed)).await;
    // Only the credentials: the container's other secrets play no part in a pull.
    let check = only_check(&results, CheckId::Secret);
    assert_eq!(check.outcome, CheckOutcome::Confirms);
    assert_eq!(
        check.detail,
        "secret registry/pull does not exist in us-east-1"
    );
}

#[tokio::test]
async fn a_missing_log_group_with_create_group_names_the_permission_it_needs() {
    let (_moto, _iam, config) = configs().await;
    let mut evidence = logging_task("/ecs/web");
    if let Some(definition) = evidence.task_definition.as_mut() {
        if let Some(logging) = definition.containers[0].log_configuration.as_mut() {
            logging
                .options
                .insert("awslogs-create-group".into(), "true".into());
        }
    }
    let results = probe(&config, &evidence, Some(CauseId::ContainerCreateFailed)).await;
    let check = only_check(&results, CheckId::LogGroup);
    assert_eq!(check.outcome, CheckOutcome::Confirms);
    assert_eq!(
        check.detail,
        "log group /ecs/web does not exist in us-east-1; awslogs-create-group is set, so the execution role needs logs:CreateLogGroup"
    );
}
