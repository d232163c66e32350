//! ECS calls (DescribeTasks, ListTasks, DescribeTaskDefinition, DescribeServices) and
//! the conversion of their SDK types into [`crate::evidence`] types.
//!
//! Environment variable values in task definitions are dropped here, at the boundary:
//! only names (and, for secrets, where the value comes from) are kept.

use super::{aws_failure, AwsFailure, FailureKind, GatherError};
use crate::evidence::{
    Container, ContainerDefinition, Deployment, HealthCheck, LogConfiguration, PortMapping,
    RecentStop, RecentStops, SecretRef, ServiceEvent, ServiceFacts, ServiceLoadBalancer, Task,
    TaskDefinition,
};
use aws_sdk_ecs::types::DesiredStatus;
use aws_sdk_ecs::Client;
use chrono::{DateTime, Utc};

/// How long ECS keeps a stopped task, in words for messages.
const RETENTION: &str = "ECS keeps stopped tasks for only about an hour";
/// Recently stopped tasks of a service compared with the explained one (one DescribeTasks).
pub const RECENT_STOPS: usize = 10;

/// DescribeTasks for one task id or ARN in `cluster`.
pub async fn describe_task(
    client: &Client,
    cluster: &str,
    task: &str,
    region: Option<&str>,
) -> Result<Task, GatherError> {
    let mut tasks = describe_tasks(client, cluster, &[task.to_string()], region).await?;
    match tasks.pop() {
        Some(found) => Ok(found),
        None => Err(missing(task, cluster)),
    }
}

/// The message for a task ECS no longer (or never) knew.
pub fn missing(task: &str, cluster: &str) -> GatherError {
    GatherError::TaskMissing(format!(
        "ECS has no task {task} in cluster {cluster}: {RETENTION} after it stops. \
         Check the cluster and region; for older tasks, install the deploy stack's event \
         archive and set ECS_WHY_ARCHIVE_LOG_GROUP so stopped tasks stay explainable."
    ))
}

/// DescribeTasks for up to 100 tasks. Tasks ECS does not know are left out; if none is
/// known at all, the answer is [`GatherError::TaskMissing`].
pub async fn describe_tasks(
    client: &Client,
    cluster: &str,
    tasks: &[String],
    region: Option<&str>,
) -> Result<Vec<Task>, GatherError> {
    let output = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(tasks.to_vec()))
        .send()
        .await
        .map_err(|err| ecs_error(aws_failure(&err), "ecs:DescribeTasks", cluster, region))?;
    let found: Vec<Task> = output.tasks().iter().map(task_from_sdk).collect();
    if found.is_empty() {
        if let Some(failure) = output.failures().first() {
            let reason = failure.reason().unwrap_or("unknown");
            let what = failure
                .arn()
                .unwrap_or_else(|| tasks.first().map_or("", |t| t));
            if reason.eq_ignore_ascii_case("MISSING") {
                return Err(missing(what, cluster));
            }
            return Err(GatherError::Aws(format!(
                "DescribeTasks could not read {what} in cluster {cluster}: {reason}{}",
                failure
                    .detail()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )));
        }
    }
    Ok(found)
}

/// ListTasks for a service's stopped tasks, then DescribeTasks; all of them, newest
/// stopped first (the first is the one to explain, the rest its recent stops).
pub async fn stopped_tasks(
    client: &Client,
    cluster: &str,
    service: &str,
    region: Option<&str>,
) -> Result<Vec<Task>, GatherError> {
    let arns = list_stopped(client, cluster, service)
        .await
        .map_err(|failure| {
            if failure.code.as_deref() == Some("ServiceNotFoundException") {
                return GatherError::BadInput(format!(
                    "there is no service `{service}` in cluster {cluster}{}; check the name, or pass --cluster / --region",
                    region.map(|r| format!(" ({r})")).unwrap_or_default()
                ));
            }
            ecs_error(failure, "ecs:ListTasks", cluster, region)
        })?;
    if arns.is_empty() {
        return Err(GatherError::TaskMissing(format!(
            "service {service} in cluster {cluster} has no stopped tasks that ECS still \
             remembers ({RETENTION}). Paste a task ARN from the service's events, or set \
             ECS_WHY_ARCHIVE_LOG_GROUP to the deploy stack's event archive."
        )));
    }
    let mut tasks = describe_tasks(client, cluster, &arns, region).await?;
    if tasks.is_empty() {
        return Err(missing(service, cluster));
    }
    tasks.sort_by_key(|t| std::cmp::Reverse((t.stopped_at.or(t.stopping_at), t.created_at)));
    Ok(tasks)
}

/// Stopped tasks of a service ECS still lists (up to 100 ARNs, in no particular order).
async fn list_stopped(
    client: &Client,
    cluster: &str,
    service: &str,
) -> Result<Vec<String>, AwsFailure> {
    let output = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .max_results(100)
        .send()
        .await
        .map_err(|err| aws_failure(&err))?;
    Ok(output.task_arns().to_vec())
}

/// How `task`'s service's recently stopped tasks stopped: one ListTasks and one
/// DescribeTasks of the other tasks, so at most [`RECENT_STOPS`] with `task` itself, kept when they
/// belong to the same service (`group`), newest first, `task` included.
pub async fn recent_stops(
    client: &Client,
    cluster: &str,
    task: &Task,
    region: Option<&str>,
) -> Result<RecentStops, GatherError> {
    let Some(service) = task.service_name() else {
        return Ok(RecentStops::default());
    };
    let arns = list_stopped(client, cluster, service)
        .await
        .map_err(|failure| ecs_error(failure, "ecs:ListTasks", cluster, region))?;
    let others: Vec<String> = arns
        .into_iter()
        .filter(|arn| arn != &task.arn)
        .take(RECENT_STOPS - 1)
        .collect();
    let mut tasks = if others.is_empty() {
        Vec::new()
    } else {
        describe_tasks(client, cluster, &others, region).await?
    };
    tasks.retain(|t| t.group == task.group && t.arn != task.arn);
    tasks.push(task.clone());
    Ok(recent_from(&tasks))
}

/// [`RecentStops`] from described tasks, newest first, at most [`RECENT_STOPS`].
pub fn recent_from(tasks: &[Task]) -> RecentStops {
    let mut stops: Vec<RecentStop> = tasks.iter().map(RecentStop::of).collect();
    stops.sort_by_key(|s| std::cmp::Reverse(s.stopped_at));
    stops.truncate(RECENT_STOPS);
    RecentStops { tasks: stops }
}

/// DescribeTaskDefinition, converted (environment values dropped).
pub async fn describe_task_definition(
    client: &Client,
    arn: &str,
) -> Result<TaskDefinition, AwsFailure> {
    let output = client
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|err| aws_failure(&err))?;
    output
        .task_definition()
        .map(task_definition_from_sdk)
        .ok_or_else(|| AwsFailure {
            kind: FailureKind::NotFound,
            code: None,
            message: format!("DescribeTaskDefinition returned no task definition for {arn}"),
        })
}

/// DescribeServices: the service's most recent `limit` events, newest first.
pub async fn service_events(
    client: &Client,
    cluster: &str,
    service: &str,
    limit: usize,
) -> Result<Vec<ServiceEvent>, AwsFailure> {
    describe_service(client, cluster, service, limit)
        .await
        .map(|(events, _)| events)
}

/// DescribeServices: the service's most recent `limit` events, newest first, and the
/// settings the probes need (target groups, grace period, subnets, deployments).
pub async fn describe_service(
    client: &Client,
    cluster: &str,
    service: &str,
    limit: usize,
) -> Result<(Vec<ServiceEvent>, ServiceFacts), AwsFailure> {
    let output = client
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|err| aws_failure(&err))?;
    let Some(found) = output.services().first() else {
        return Err(AwsFailure {
            kind: FailureKind::NotFound,
            code: Some("MISSING".into()),
            message: format!("service {service} not found in cluster {cluster}"),
        });
    };
    let mut events: Vec<ServiceEvent> = found
        .events()
        .iter()
        .map(|e| ServiceEvent {
            created_at: e.created_at().and_then(to_chrono),
            message: e.message().unwrap_or_default().to_string(),
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    events.truncate(limit);
    Ok((events, service_facts_from_sdk(found)))
}

/// The parts of an SDK service the probes read.
pub fn service_facts_from_sdk(s: &aws_sdk_ecs::types::Service) -> ServiceFacts {
    let breaker = s
        .deployment_configuration()
        .and_then(|c| c.deployment_circuit_breaker());
    ServiceFacts {
        name: s.service_name().unwrap_or_default().to_string(),
        health_check_grace_period_seconds: s.health_check_grace_period_seconds(),
        load_balancers: s
            .load_balancers()
            .iter()
            .map(|lb| ServiceLoadBalancer {
                target_group_arn: opt(lb.target_group_arn()),
                container_name: opt(lb.container_name()),
                container_port: lb.container_port(),
            })
            .collect(),
        subnets: s
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .map(|a| a.subnets().to_vec())
            .unwrap_or_default(),
        circuit_breaker: breaker.map(|b| b.enable()),
        circuit_breaker_rollback: breaker.map(|b| b.rollback()),
        deployments: s
            .deployments()
            .iter()
            .map(|d| Deployment {
                id: d.id().unwrap_or_default().to_string(),
                status: opt(d.status()),
                task_definition: opt(d.task_definition()),
                created_at: d.created_at().and_then(to_chrono),
                updated_at: d.updated_at().and_then(to_chrono),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                rollout_state_reason: opt(d.rollout_state_reason()),
                failed_tasks: Some(d.failed_tasks()),
                running_count: Some(d.running_count()),
                desired_count: Some(d.desired_count()),
            })
            .collect(),
    }
}

/// Map a failed ECS call that the whole answer depends on.
pub fn ecs_error(
    failure: AwsFailure,
    action: &str,
    cluster: &str,
    region: Option<&str>,
) -> GatherError {
    let region_text = region.unwrap_or("the configured region");
    match failure.kind {
        FailureKind::ClusterNotFound => GatherError::BadInput(format!(
            "cluster `{cluster}` was not found in {region_text}; pass --cluster NAME and --region REGION (or paste the full task ARN)"
        )),
        FailureKind::InvalidInput => GatherError::BadInput(format!(
            "ECS refused the request for cluster `{cluster}` in {region_text}: {}",
            failure.message
        )),
        FailureKind::Denied => GatherError::AccessDenied(format!(
            "{} (in {region_text}). AWS said: {}",
            super::denied(action),
            failure.message
        )),
        FailureKind::Credentials => GatherError::Aws(failure.message),
        _ => GatherError::Aws(format!(
            "{action} failed in {region_text}: {}",
            failure.message
        )),
    }
}

pub(crate) fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn opt(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// Convert an SDK task.
pub fn task_from_sdk(t: &aws_sdk_ecs::types::Task) -> Task {
    let arn = t.task_arn().unwrap_or_default().to_string();
    let subnet_id = t
        .attachments()
        .iter()
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("subnetId"))
        .and_then(|d| opt(d.value()));
    let mut task = Task {
        subnet_id,
        arn,
        cluster: t.cluster_arn().unwrap_or_default().to_string(),
        group: opt(t.group()),
        task_definition: t.task_definition_arn().unwrap_or_default().to_string(),
        region: None,
        stop_code: t
            .stop_code()
            .map(|c| crate::evidence::StopCode::from(c.as_str())),
        stopped_reason: opt(t.stopped_reason()),
        last_status: opt(t.last_status()),
        desired_status: opt(t.desired_status()),
        health_status: t.health_status().map(|h| h.as_str().to_string()),
        launch_type: t.launch_type().map(|l| l.as_str().to_string()),
        capacity_provider: opt(t.capacity_provider_name()),
        platform_version: opt(t.platform_version()),
        availability_zone: opt(t.availability_zone()),
        started_by: opt(t.started_by()),
        container_instance_arn: opt(t.container_instance_arn()),
        cpu: opt(t.cpu()),
        memory: opt(t.memory()),
        cpu_architecture: t
            .attributes()
            .iter()
            .find(|a| a.name() == "ecs.cpu-architecture")
            .and_then(|a| opt(a.value())),
        created_at: t.created_at().and_then(to_chrono),
        pull_started_at: t.pull_started_at().and_then(to_chrono),
        pull_stopped_at: t.pull_stopped_at().and_then(to_chrono),
        started_at: t.started_at().and_then(to_chrono),
        stopping_at: t.stopping_at().and_then(to_chrono),
        stopped_at: t.stopped_at().and_then(to_chrono),
        execution_stopped_at: t.execution_stopped_at().and_then(to_chrono),
        containers: t
            .containers()
            .iter()
            .map(|c| Container {
                name: c.name().unwrap_or_default().to_string(),
                image: opt(c.image()),
                image_digest: opt(c.image_digest()),
                last_status: opt(c.last_status()),
                exit_code: c.exit_code(),
                reason: opt(c.reason()),
                health_status: c.health_status().map(|h| h.as_str().to_string()),
                memory: opt(c.memory()),
                memory_reservation: opt(c.memory_reservation()),
                cpu: opt(c.cpu()),
            })
            .collect(),
    };
    task.region = task.region().map(str::to_string);
    task
}

/// Convert an SDK task definition, keeping environment variable names only.
pub fn task_definition_from_sdk(d: &aws_sdk_ecs::types::TaskDefinition) -> TaskDefinition {
    TaskDefinition {
        arn: d.task_definition_arn().unwrap_or_default().to_string(),
        family: d.family().unwrap_or_default().to_string(),
        revision: d.revision(),
        network_mode: d.network_mode().map(|m| m.as_str().to_string()),
        requires_compatibilities: d
            .requires_compatibilities()
            .iter()
            .map(|c| c.as_str().to_string())
            .collect(),
        cpu: opt(d.cpu()),
        memory: opt(d.memory()),
        cpu_architecture: d
            .runtime_platform()
            .and_then(|p| p.cpu_architecture())
            .map(|a| a.as_str().to_string()),
        operating_system_family: d
            .runtime_platform()
            .and_then(|p| p.operating_system_family())
            .map(|f| f.as_str().to_string()),
        execution_role_arn: opt(d.execution_role_arn()),
        task_role_arn: opt(d.task_role_arn()),
        containers: d
            .container_definitions()
            .iter()
            .map(container_definition_from_sdk)
            .collect(),
    }
}

fn container_definition_from_sdk(
    c: &aws_sdk_ecs::types::ContainerDefinition,
) -> ContainerDefinition {
    ContainerDefinition {
        name: c.name().unwrap_or_default().to_string(),
        image: c.image().unwrap_or_default().to_string(),
        essential: c.essential(),
        cpu: Some(c.cpu()).filter(|cpu| *cpu != 0),
        memory: c.memory(),
        memory_reservation: c.memory_reservation(),
        port_mappings: c
            .port_mappings()
            .iter()
            .map(|p| PortMapping {
                container_port: p.container_port(),
                host_port: p.host_port(),
                protocol: p.protocol().map(|p| p.as_str().to_string()),
            })
            .collect(),
        health_check: c.health_check().map(|h| HealthCheck {
            command: h.command().to_vec(),
            interval: h.interval(),
            timeout: h.timeout(),
            retries: h.retries(),
            start_period: h.start_period(),
        }),
        // Names only: values may be secrets pasted in plain text.
        environment_names: c
            .environment()
            .iter()
            .filter_map(|kv| kv.name().map(str::to_string))
            .collect(),
        secrets: c
            .secrets()
            .iter()
            .map(|s| SecretRef {
                name: s.name().to_string(),
                value_from: s.value_from().to_string(),
            })
            .collect(),
        environment_files: c
            .environment_files()
            .iter()
            .map(|f| f.value().to_string())
            .collect(),
        log_configuration: c.log_configuration().map(|l| LogConfiguration {
            log_driver: l.log_driver().as_str().to_string(),
            options: l
                .options()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }),
        entry_point: c.entry_point().to_vec(),
        command: c.command().to_vec(),
        stop_timeout: c.stop_timeout(),
        repository_credentials: c
            .repository_credentials()
            .map(|r| r.credentials_parameter().to_string()),
    }
}

/// DescribeTaskDefinition, with failures turned into errors that name the fix.
pub async fn task_definition_named(
    client: &Client,
    arn: &str,
) -> Result<TaskDefinition, GatherError> {
    describe_task_definition(client, arn)
        .await
        .map_err(|failure| match failure.kind {
            FailureKind::Denied => GatherError::AccessDenied(format!(
                "{} (task definition {arn})",
                super::denied("ecs:DescribeTaskDefinition")
            )),
            FailureKind::NotFound | FailureKind::InvalidInput => GatherError::BadInput(format!(
                "task definition {arn} was not found: {}",
                failure.message
            )),
            _ => GatherError::Aws(format!(
                "ecs:DescribeTaskDefinition failed for {arn}: {}",
                failure.message
            )),
        })
}

/// A note for a DescribeServices that failed, naming the IAM action when denied.
pub fn service_note(failure: &AwsFailure) -> String {
    match failure.kind {
        FailureKind::Denied => format!(
            "The service's events were not read: {}.",
            super::denied("ecs:DescribeServices")
        ),
        _ => format!("The service's events were not read: {}", failure.message),
    }
}
