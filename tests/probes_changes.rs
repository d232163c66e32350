//! The "what changed" probe against moto's ECS: a service task of web:42 is compared
//! with web:41 (moto keeps one deployment per service, so the "previous revision" basis
//! comes through moto, and the "previous deployment" basis and the rollback story through
//! a service whose deployments are written by hand). Removed variables are named, changed
//! values say so, and no value appears anywhere in what the probe returns.

mod support;

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, NetworkMode, PortMapping,
};
use chrono::{Duration, Utc};
use ecs_why::evidence::probes::{ChangeKind, CheckId, CheckOutcome, ProbeResults};
use ecs_why::evidence::{Container, Deployment, Evidence, ServiceEvent, ServiceFacts, Task};
use ecs_why::gather::ecs;
use support::moto::Moto;

const CLUSTER: &str = "prod";
const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
/// Values the definitions hold that must never come out of the probe.
const DATABASE_URL: &str = "postgres://app:hunter2@db.internal/orders";
const OLD_API_KEY: &str = "sk-live-0ld0ld0ld0ld";
const NEW_API_KEY: &str = "sk-live-n3wn3wn3wn3w";

/// Register `web` with this image, memory and environment; returns its ARN.
async fn register(
    client: &aws_sdk_ecs::Client,
    tag: &str,
    memory_mib: i32,
    env: &[(&str, &str)],
) -> String {
    let mut container = ContainerDefinition::builder()
        .name("web")
        .image(format!("{REGISTRY}/web:{tag}"))
        .essential(true)
        .port_mappings(PortMapping::builder().container_port(8080).build());
    for (name, value) in env {
        container =
            container.environment(KeyValuePair::builder().name(*name).value(*value).build());
    }
    client
        .register_task_definition()
        .family("web")
        .requires_compatibilities(Compatibility::Fargate)
        .network_mode(NetworkMode::Awsvpc)
        .cpu("512")
        .memory(memory_mib.to_string())
        .container_definitions(container.build())
        .send()
        .await
        .expect("moto registers the task definition")
        .task_definition()
        .and_then(|d| d.task_definition_arn())
        .expect("a task definition ARN")
        .to_string()
}

/// web:40 (an older image), web:41 (with DATABASE_URL) and web:42 (without it, a new
/// image, half the memory and a new API key); returns the three ARNs.
async fn register_revisions(client: &aws_sdk_ecs::Client) -> [String; 3] {
    // Revisions 1 to 39: a service's history, so the ones compared carry real numbers.
    for _ in 1..40 {
        register(client, "1.0.0", 1024, &[]).await;
    }
    let web40 = register(client, "1.3.9", 1024, &[("API_KEY", OLD_API_KEY)]).await;
    let web41 = register(
        client,
        "1.4.1",
        1024,
        &[
            ("DATABASE_URL", DATABASE_URL),
            ("API_KEY", OLD_API_KEY),
            ("MODE", "prod"),
        ],
    )
    .await;
    let web42 = register(
        client,
        "1.4.2",
        512,
        &[("API_KEY", NEW_API_KEY), ("MODE", "prod")],
    )
    .await;
    [web40, web41, web42]
}

/// A task of service `web` started by `deployment` that exited with code 1.
fn stopped_task(task_definition: &str, deployment: &str) -> Task {
    let stopped_at = Utc::now() - Duration::minutes(3);
    Task {
        arn: format!(
            "arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/0123456789abcdef0123456789abcdef"
        ),
        cluster: CLUSTER.into(),
        group: Some("service:web".into()),
        task_definition: task_definition.into(),
        started_by: Some(deployment.into()),
        stop_code: Some("EssentialContainerExited".into()),
        stopped_reason: Some("Essential container in task exited".into()),
        started_at: Some(stopped_at - Duration::minutes(2)),
        stopped_at: Some(stopped_at),
        containers: vec![Container {
            name: "web".into(),
            exit_code: Some(1),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn probe(config: &aws_config::SdkConfig, evidence: &Evidence) -> ProbeResults {
    support::probe_results::probe(config, evidence, None).await
}

/// No value of any variable, old or new, anywhere in the results.
fn assert_no_values(found: &ProbeResults) {
    let everything = format!(
        "{found:?} {}",
        serde_json::to_string(found).expect("serialisable")
    );
    for value in [DATABASE_URL, OLD_API_KEY, NEW_API_KEY, "hunter2"] {
        assert!(
            !everything.contains(value),
            "a variable's value leaked: {everything}"
        );
    }
}

#[tokio::test]
async fn a_service_task_lists_what_changed_since_the_previous_revision_without_values() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let client = aws_sdk_ecs::Client::new(&config);
    client
        .create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .expect("moto creates the cluster");
    let [_, _, web42] = register_revisions(&client).await;
    client
        .create_service()
        .cluster(CLUSTER)
        .service_name("web")
        .task_definition("web:42")
        .desired_count(1)
        .send()
        .await
        .expect("moto creates the service");
    // The service and the definition as the gatherer reads them (names only).
    let (service_events, service) = ecs::describe_service(&client, CLUSTER, "web", 10)
        .await
        .expect("moto describes the service");
    let deployment = service
        .deployments
        .first()
        .expect("moto's one deployment")
        .id
        .clone();
    let definition = ecs::describe_task_definition(&client, &web42)
        .await
        .expect("moto describes web:42");
    let evidence = Evidence {
        task: stopped_task(&web42, &deployment),
        task_definition: Some(definition),
        service: Some(service),
        service_events,
        ..Default::default()
    };

    let found = probe(&config, &evidence).await;

    assert!(found.unchecked.is_empty(), "{:?}", found.unchecked);
    let changes = found.changes.as_ref().expect("the definitions compared");
    assert_eq!(
        (
            changes.from.as_str(),
            changes.to.as_str(),
            changes.basis.as_str()
        ),
        ("web:41", "web:42", "previous revision")
    );
    let details: Vec<&str> = changes.changes.iter().map(|c| c.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "memory 1,024 → 512 MiB",
            "image web:1.4.1 → web:1.4.2",
            "API_KEY's value changed",
            "DATABASE_URL was removed",
        ]
    );
    let removed = &changes.changes[3];
    assert_eq!(
        (removed.kind, removed.name.as_deref()),
        (ChangeKind::Removed, Some("DATABASE_URL"))
    );
    let check = found
        .checks
        .iter()
        .find(|c| c.probe == CheckId::DefinitionChange)
        .expect("the summary check");
    assert_eq!(check.outcome, CheckOutcome::Context);
    assert!(
        check
            .detail
            .starts_with("4 changes since web:41 (previous revision): memory 1,024 → 512 MiB; "),
        "{}",
        check.detail
    );
    let story = found.deployment.as_ref().expect("the deployment story");
    assert_eq!(story.id, deployment);
    assert_eq!(story.status.as_deref(), Some("PRIMARY"));
    assert_eq!(story.task_definition.as_deref(), Some("web:42"));
    assert!(!story.rolled_back);
    assert_no_values(&found);
}

#[tokio::test]
async fn a_rolled_back_deployment_is_compared_with_the_deployment_before_it() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let client = aws_sdk_ecs::Client::new(&config);
    let [web40, _, web42] = register_revisions(&client).await;
    let definition = ecs::describe_task_definition(&client, &web42)
        .await
        .expect("moto describes web:42");
    let old_began = Utc::now() - Duration::hours(26);
    let new_began = Utc::now() - Duration::hours(2);
    let evidence = Evidence {
        task: stopped_task(&web42, "ecs-svc/2222"),
        task_definition: Some(definition),
        service: Some(ServiceFacts {
            name: "web".into(),
            circuit_breaker: Some(true),
            circuit_breaker_rollback: Some(true),
            deployments: vec![
                Deployment {
                    id: "ecs-svc/2222".into(),
                    status: Some("ACTIVE".into()),
                    task_definition: Some(web42.clone()),
                    created_at: Some(new_began),
                    rollout_state: Some("FAILED".into()),
                    rollout_state_reason: Some(
                        "ECS deployment circuit breaker: tasks failed to start.".into(),
                    ),
                    failed_tasks: Some(6),
                    running_count: Some(0),
                    desired_count: Some(2),
                    ..Default::default()
                },
                Deployment {
                    id: "ecs-svc/1111".into(),
                    status: Some("PRIMARY".into()),
                    task_definition: Some(web40),
                    created_at: Some(old_began),
                    rollout_state: Some("COMPLETED".into()),
                    running_count: Some(2),
                    desired_count: Some(2),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }),
        service_events: vec![ServiceEvent {
            created_at: Some(new_began + Duration::minutes(20)),
            message: "(service web) rolling back to deployment ecs-svc/1111.".into(),
        }],
        ..Default::default()
    };

    let found = probe(&config, &evidence).await;

    let changes = found.changes.as_ref().expect("the definitions compared");
    assert_eq!(
        (changes.from.as_str(), changes.basis.as_str()),
        ("web:40", "previous deployment")
    );
    let details: Vec<&str> = changes.changes.iter().map(|c| c.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "memory 1,024 → 512 MiB",
            "image web:1.3.9 → web:1.4.2",
            "API_KEY's value changed",
            "MODE was added",
        ]
    );
    let story = found.deployment.as_ref().expect("the deployment story");
    assert!(story.rolled_back, "{story:?}");
    assert_eq!(story.rollout_state.as_deref(), Some("FAILED"));
    assert_eq!(story.failed_tasks, Some(6));
    let previous = story.previous.as_ref().expect("the deployment before it");
    assert_eq!(previous.id, "ecs-svc/1111");
    assert_eq!(previous.task_definition.as_deref(), Some("web:40"));
    assert_eq!(previous.ran_for_seconds, Some(24 * 3600));
    assert_no_values(&found);
}

#[tokio::test]
async fn a_previous_revision_that_cannot_be_described_is_left_unchecked_with_the_action() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let client = aws_sdk_ecs::Client::new(&config);
    // The task ran web:3, whose previous revision web:2 is not in the account (only web:1
    // was registered here), so the comparison cannot be made.
    let web1 = register(&client, "1.0.0", 512, &[]).await;
    let mut definition = ecs::describe_task_definition(&client, &web1)
        .await
        .expect("moto describes web:1");
    definition.revision = 3;
    let web3 = web1.replace("web:1", "web:3");
    let evidence = Evidence {
        task: stopped_task(&web3, "ecs-svc/3333"),
        task_definition: Some(definition),
        service: Some(ServiceFacts {
            name: "web".into(),
            ..Default::default()
        }),
        ..Default::default()
    };

    let found = probe(&config, &evidence).await;

    assert!(found.changes.is_none());
    assert_eq!(found.unchecked.len(), 1, "{:?}", found.unchecked);
    assert!(
        found.unchecked[0].starts_with(
            "Could not check what changed between web:2 and web:3: ecs:DescribeTaskDefinition"
        ),
        "{}",
        found.unchecked[0]
    );
}
