//! Gathering: the only module that talks to AWS.
//!
//! It turns SDK output into the plain types of [`crate::evidence`]. DescribeTasks comes
//! first; then the task definition (cached by ARN: they are immutable), the service and
//! CloudTrail run concurrently, and logs as soon as the log configuration is known. Cold,
//! the critical path is three round trips (DescribeTasks, DescribeTaskDefinition,
//! GetLogEvents); two with the task definition cached. For the bot's card a service
//! task's recent stops (ListTasks, DescribeTasks) run beside those; asked by service
//! name, they come with the calls that found the task. A failure of one source becomes a note on the evidence
//! naming the missing IAM action, not an error.

/// A client of the SDK crate `$sdk` from `$config`, in `$region` (an
/// `Option<&Region>`) when given, with the interceptor that counts every call on
/// `/metrics`. Defined before the modules so the probes' clients are built the same way.
macro_rules! counted_client {
    ($sdk:ident, $config:expr, $region:expr) => {{
        let mut builder = $sdk::config::Builder::from($config)
            .interceptor($crate::gather::call_metrics::CountCalls);
        if let Some(region) = $region {
            builder = builder.region(region.clone());
        }
        $sdk::Client::from_conf(builder.build())
    }};
}

pub mod archive;
pub mod call_metrics;
pub mod cloudtrail;
mod credentials;
pub mod ec2;
pub mod ecs;
pub mod failure;
pub mod limits;
pub mod logs;
pub mod probes;
mod task_logs;

use crate::arn;
use crate::evidence::probes::CheckRequest;
use crate::evidence::{
    Evidence, Note, ProbeResults, RecentStops, ServiceEvent, ServiceFacts, StopCode, StopLookup,
    Task, TaskDefinition,
};
use crate::single_flight::SingleFlight;
use crate::task_ref::{Target, TaskRef};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{Region, SdkConfig};
use call_metrics::CountCalls;
pub use failure::{aws_failure, denied, AssumeRoleFailed, AwsFailure, FailureKind};
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Why no evidence could be gathered at all. Failures of secondary sources (logs,
/// CloudTrail, the service) are notes on the evidence instead.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatherError {
    /// Bad input: the user can fix it by changing what they typed.
    #[error("{0}")]
    BadInput(String),
    /// ECS does not know the task (it forgets stopped tasks after about an hour).
    #[error("{0}")]
    TaskMissing(String),
    /// The credentials lack an IAM action; names the action and where to grant it.
    #[error("{0}")]
    AccessDenied(String),
    /// Anything else (network, throttling after retries, AWS errors).
    #[error("{0}")]
    Aws(String),
}

impl GatherError {
    /// True when the user's input was wrong (exit status 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, GatherError::BadInput(_) | GatherError::TaskMissing(_))
    }
}

pub use crate::evidence::SERVICE_EVENTS;
/// Regions (besides the configured one) whose SDK clients are kept.
const REGION_CLIENTS: u64 = 16;
/// Task definitions kept in memory.
const TASK_DEFINITION_CACHE: u64 = 512;
/// CloudTrail look-ups that may be in flight at once (each is dropped when it ends).
const LOOKUPS_IN_FLIGHT: u64 = 1024;
/// Connect and whole-operation timeouts (an operation includes its retries).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
/// Backoff between retries: the first wait is at most this, doubling up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Called once with the evidence so far (task, task definition, service; no logs), while
/// the rest is read: see [`Gatherer::gather_with`].
pub type EarlyLook<'a> = Box<dyn FnOnce(&Evidence) + Send + 'a>;

/// The SDK clients for one region.
struct Clients {
    region: Option<String>,
    ecs: aws_sdk_ecs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    cloudtrail: aws_sdk_cloudtrail::Client,
}

/// Reads tasks, task definitions, logs and CloudTrail for one credential set, in the
/// configured region or any region a target names. Clones share caches and clients.
#[derive(Clone)]
pub struct Gatherer {
    config: SdkConfig,
    /// Clients of other regions than the configured one, a bounded number of them.
    clients: moka::sync::Cache<String, Arc<Clients>>,
    default_clients: Arc<Clients>,
    /// Task definitions by ARN (immutable, so never stale). Concurrent misses for one
    /// ARN share one DescribeTaskDefinition call; failures are not kept.
    task_definitions: Cache<String, TaskDefinition>,
    /// CloudTrail look-ups in flight by task ARN, shared by concurrent asks about one
    /// task. An answer is dropped as soon as it is handed out: CloudTrail may catch up.
    lookups: SingleFlight<String, (StopLookup, Vec<Note>)>,
    archive_log_group: Option<String>,
    /// The probes' clients by region (built on first use: most answers need none).
    probe_clients: moka::sync::Cache<String, Arc<probes::ProbeClients>>,
    /// Count a service task's recent stops when asked by task (ListTasks and
    /// DescribeTasks beside the other calls): on for the bot's card, off for the CLI,
    /// whose output does not show them.
    recent_stops: bool,
}

impl Gatherer {
    /// Standard credential chain (honours `AWS_ENDPOINT_URL` and its per-service forms),
    /// standard retries with backoff and timeouts; `assume_role_arn` reads another
    /// account (a failure to assume it names the role and STS's answer).
    pub async fn from_env(region: Option<&str>, assume_role_arn: Option<&str>) -> Gatherer {
        let mut loader = crate::aws::loader()
            .retry_config(retry_config())
            .timeout_config(timeout_config());
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_string()));
        }
        let base = loader.load().await;
        let config = match assume_role_arn {
            Some(role) => credentials::assuming(&base, role).await,
            None => base,
        };
        Gatherer::from_sdk_config(&config)
    }

    /// `config` (tests point one at a local endpoint) reading as `role_arn`, assumed with
    /// `config`'s own credentials.
    pub async fn assuming(config: &SdkConfig, role_arn: &str) -> Gatherer {
        Gatherer::from_sdk_config(&credentials::assuming(config, role_arn).await)
    }

    /// Use an existing SDK configuration (tests point it at a local endpoint). Retry and
    /// timeout settings are filled in where the configuration has none.
    pub fn from_sdk_config(config: &SdkConfig) -> Gatherer {
        let config = crate::aws::with_https_client(config);
        let mut builder = config.to_builder();
        if config.retry_config().is_none() {
            builder.set_retry_config(Some(retry_config()));
        }
        if config.timeout_config().is_none() {
            builder.set_timeout_config(Some(timeout_config()));
        }
        let config = builder.build();
        let default_clients = Arc::new(build_clients(&config, None));
        Gatherer {
            config,
            clients: moka::sync::Cache::new(REGION_CLIENTS),
            default_clients,
            task_definitions: Cache::new(TASK_DEFINITION_CACHE),
            lookups: SingleFlight::new(LOOKUPS_IN_FLIGHT),
            probe_clients: moka::sync::Cache::new(REGION_CLIENTS),
            archive_log_group: None,
            recent_stops: false,
        }
    }

    /// Gather the recent stops of a service task asked for by its id too (for the card's
    /// "4 of the last 5 tasks stopped the same way"). Asked by service name, they always
    /// come, with the calls that found the task.
    pub fn with_recent_stops(mut self, on: bool) -> Gatherer {
        self.recent_stops = on;
        self
    }

    /// Whether a service task's recent stops are counted (see [`Gatherer::with_recent_stops`]).
    pub fn counts_recent_stops(&self) -> bool {
        self.recent_stops
    }

    /// Name the event-archive log group to read when ECS has forgotten a task.
    pub fn with_archive_log_group(mut self, group: Option<String>) -> Gatherer {
        self.archive_log_group = group.filter(|g| !g.trim().is_empty());
        self
    }

    /// The configured region, if any.
    pub fn region(&self) -> Option<&str> {
        self.config.region().map(|r| r.as_ref())
    }

    /// STS GetCallerIdentity with this gatherer's credentials and endpoint: proves the
    /// credentials work (the call needs no IAM permission). Returns the caller's ARN.
    /// Without a configured region it asks us-east-1, which answers for any account.
    pub async fn caller_identity(&self) -> Result<String, GatherError> {
        let mut builder = aws_sdk_sts::config::Builder::from(&self.config).interceptor(CountCalls);
        if self.config.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        let sts = aws_sdk_sts::Client::from_conf(builder.build());
        let identity = sts.get_caller_identity().send().await.map_err(|err| {
            let failure = aws_failure(&err);
            match failure.kind {
                FailureKind::Credentials => GatherError::AccessDenied(failure.message),
                _ => GatherError::Aws(failure.message),
            }
        })?;
        Ok(identity.arn().unwrap_or("an unnamed identity").to_string())
    }

    /// Number of task definitions held in the cache.
    pub fn cached_task_definitions(&self) -> usize {
        // `iter` sees every insert at once; `entry_count` lags until housekeeping runs.
        self.task_definitions.iter().count()
    }

    fn clients(&self, region: Option<&str>) -> Arc<Clients> {
        let Some(region) = region.filter(|r| Some(*r) != self.region()) else {
            return self.default_clients.clone();
        };
        self.clients.get_with_by_ref(region, || {
            Arc::new(build_clients(&self.config, Some(region)))
        })
    }

    /// Run the read-only checks `requests` asks for (those the evidence allows) in the
    /// task's region. Never fails: what could not be checked is listed in the result.
    pub async fn probe(&self, evidence: &Evidence, requests: &[CheckRequest]) -> ProbeResults {
        let mut results = ProbeResults::default();
        for (_, found) in self.probe_each(evidence, requests).await {
            results.merge(found);
        }
        results
    }

    /// [`Gatherer::probe`], with what each request found apart.
    pub async fn probe_each(
        &self,
        evidence: &Evidence,
        requests: &[CheckRequest],
    ) -> Vec<(CheckRequest, ProbeResults)> {
        let region = evidence
            .task
            .region()
            .or(self.region())
            .unwrap_or_default()
            .to_string();
        let clients = self.probe_clients.get_with_by_ref(&region, || {
            Arc::new(probes::ProbeClients::new(
                &self.config,
                Some(region.as_str()).filter(|r| !r.is_empty()),
            ))
        });
        probes::run_each(&clients, evidence, requests).await
    }

    /// Gather the evidence for one target.
    pub async fn gather(&self, target: &Target) -> Result<Evidence, GatherError> {
        self.gather_with(target, None).await
    }

    /// [`Gatherer::gather`], calling `early` with the evidence so far (the task, its task
    /// definition and its service, no logs yet) as soon as it is known, while the logs are
    /// read: checks that need no more can start then.
    pub async fn gather_with(
        &self,
        target: &Target,
        early: Option<EarlyLook<'_>>,
    ) -> Result<Evidence, GatherError> {
        let clients = self.clients(target.region.as_deref());
        let region = clients.region.clone();
        let cluster = target.cluster.as_deref().unwrap_or("default");
        let mut notes = Vec::new();
        let (task, early_events, listed) = match &target.task {
            TaskRef::Task { task_id } => {
                let task =
                    match ecs::describe_task(&clients.ecs, cluster, task_id, region.as_deref())
                        .await
                    {
                        Err(GatherError::TaskMissing(message)) => {
                            self.task_from_archive(&clients, task_id, message, &mut notes)
                                .await?
                        }
                        other => other?,
                    };
                (task, None, None)
            }
            TaskRef::Service { service } => {
                let (tasks, events) = tokio::join!(
                    ecs::stopped_tasks(&clients.ecs, cluster, service, region.as_deref()),
                    ecs::describe_service(&clients.ecs, cluster, service, SERVICE_EVENTS),
                );
                let tasks = tasks?;
                let newest = tasks
                    .first()
                    .cloned()
                    .ok_or_else(|| ecs::missing(service, cluster))?;
                // The service's other stops came with the same calls.
                (newest, Some(events), Some(ecs::recent_from(&tasks)))
            }
        };

        let service_name = task.service_name().map(str::to_string);
        let service_cluster = cluster_of(&task, cluster).to_string();
        let service = async {
            let events = match early_events {
                Some(events) => events,
                None => match &service_name {
                    Some(name) => {
                        ecs::describe_service(&clients.ecs, &service_cluster, name, SERVICE_EVENTS)
                            .await
                    }
                    None => return (Vec::new(), None, None),
                },
            };
            match events {
                Ok((events, facts)) => (events, Some(facts), None),
                Err(failure) => (
                    Vec::new(),
                    None,
                    Some(Note::unread(ecs::service_note(&failure))),
                ),
            }
        };
        // Runs beside the task definition and logs, so it adds no round trip to the
        // answer's critical path when the task definition is not cached.
        let explained = task.clone();
        let recent = async {
            if listed.is_some() || service_name.is_none() || !self.recent_stops {
                return (listed, None);
            }
            match ecs::recent_stops(
                &clients.ecs,
                &service_cluster,
                &explained,
                region.as_deref(),
            )
            .await
            {
                Ok(recent) => (Some(recent), None),
                Err(err) => (
                    None,
                    Some(Note::unread(format!(
                        "The service's other recent stops were not counted: {err}"
                    ))),
                ),
            }
        };
        Ok(self.around_task(task, service, recent, notes, early).await)
    }

    /// Evidence for a task an EventBridge event already holds (alerts): no DescribeTasks;
    /// the task definition (cached), the log tail, its service's events and settings
    /// (what the what-changed check compares) and, for a person's StopTask, CloudTrail.
    pub async fn gather_stopped(&self, task: Task) -> Evidence {
        let clients = self.clients(task.region());
        let service_name = task.service_name().map(str::to_string);
        let cluster = task.cluster_name().to_string();
        let service = async {
            let Some(name) = &service_name else {
                return (Vec::new(), None, None);
            };
            match ecs::describe_service(&clients.ecs, &cluster, name, SERVICE_EVENTS).await {
                Ok((events, facts)) => (events, Some(facts), None),
                Err(failure) => (
                    Vec::new(),
                    None,
                    Some(Note::unread(ecs::service_note(&failure))),
                ),
            }
        };
        self.around_task(task, service, async { (None, None) }, Vec::new(), None)
            .await
    }

    /// Everything around a known task, fetched concurrently: its task definition and
    /// logs, `service` (its service's events, or none), `recent` (its service's recent
    /// stops, or none), and who stopped it.
    async fn around_task(
        &self,
        task: Task,
        service: impl std::future::Future<
            Output = (Vec<ServiceEvent>, Option<ServiceFacts>, Option<Note>),
        >,
        recent: impl std::future::Future<Output = (Option<RecentStops>, Option<Note>)>,
        mut notes: Vec<Note>,
        early: Option<EarlyLook<'_>>,
    ) -> Evidence {
        let (definition_known, definition_seen) = oneshot::channel();
        let (service_known, service_seen) = oneshot::channel();
        let definition_and_logs = async {
            let mut notes = Vec::new();
            match self.task_definition(&task.task_definition).await {
                Ok(definition) => {
                    let _ = definition_known.send(Some(definition.clone()));
                    let logs = self.logs_for(&task, &definition, &mut notes).await;
                    (Some(definition), logs, notes)
                }
                Err(err) => {
                    let _ = definition_known.send(None);
                    notes.push(Note::unread(format!(
                        "The task definition was not read, so no logs either: {err}"
                    )));
                    (None, Vec::new(), notes)
                }
            }
        };
        let service = async {
            let found = service.await;
            let _ = service_known.send((found.0.clone(), found.1.clone()));
            found
        };
        // The evidence so far, for checks that need neither logs nor CloudTrail.
        let early_look = async {
            let Some(early) = early else {
                return;
            };
            if let (Ok(task_definition), Ok((service_events, service))) =
                tokio::join!(definition_seen, service_seen)
            {
                early(&Evidence {
                    task: task.clone(),
                    task_definition,
                    service_events,
                    service,
                    ..Evidence::default()
                });
            }
        };
        let who = async {
            if task.stop_code == Some(StopCode::UserInitiated) {
                self.who_stopped(&task).await
            } else {
                (StopLookup::NotAttempted, Vec::new())
            }
        };
        let (
            (task_definition, logs, definition_notes),
            (service_events, service_facts, service_note),
            (stop_lookup, who_notes),
            (recent_stops, recent_note),
            (),
        ) = tokio::join!(definition_and_logs, service, who, recent, early_look);
        notes.extend(definition_notes);
        notes.extend(service_note);
        notes.extend(who_notes);
        notes.extend(recent_note);
        Evidence {
            task,
            task_definition,
            logs,
            stop_lookup,
            service_events,
            notes,
            recent_stops,
            service: service_facts,
            probes: None,
        }
    }

    /// DescribeTasks said MISSING: read the task from the event archive, if configured.
    async fn task_from_archive(
        &self,
        clients: &Clients,
        task_id: &str,
        missing: String,
        notes: &mut Vec<Note>,
    ) -> Result<Task, GatherError> {
        let Some(group) = &self.archive_log_group else {
            return Err(GatherError::TaskMissing(missing));
        };
        match logs::search_archive(&clients.logs, group, task_id).await {
            Ok(entries) => match archive::newest_task(&entries, task_id) {
                Some(task) => {
                    notes.push(Note::general(format!(
                        "ECS no longer has this task (it keeps stopped tasks about an hour); \
                         it was read from the event archive log group {group}."
                    )));
                    Ok(task)
                }
                None => Err(GatherError::TaskMissing(format!(
                    "{missing} The event archive {group} has no event for it either."
                ))),
            },
            Err(failure) => {
                let why = match failure.kind {
                    FailureKind::Denied => {
                        format!("{} (log group {group})", denied("logs:FilterLogEvents"))
                    }
                    FailureKind::NotFound => format!(
                        "the log group {group} does not exist; check ECS_WHY_ARCHIVE_LOG_GROUP"
                    ),
                    _ => failure.message,
                };
                Err(GatherError::TaskMissing(format!(
                    "{missing} The event archive could not be read: {why}."
                )))
            }
        }
    }

    /// Who called StopTask on `task`, from CloudTrail. Rate-limited per account and
    /// region; concurrent look-ups of the same task share one call.
    pub async fn who_stopped(&self, task: &Task) -> (StopLookup, Vec<Note>) {
        self.lookups
            .run(&task.arn, async {
                let clients = self.clients(task.region());
                who_stopped_uncached(&clients, task).await
            })
            .await
    }

    /// The task definition `arn`, from the cache or DescribeTaskDefinition.
    pub async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, GatherError> {
        self.task_definitions
            .try_get_with_by_ref(arn, async {
                let clients = self.clients(arn::region(arn));
                ecs::task_definition_named(&clients.ecs, arn).await
            })
            .await
            .map_err(|err| GatherError::clone(&err))
    }

    /// A service as DescribeServices shows it now, in `region` (else the default): its
    /// `limit` most recent events, newest first, and its settings and deployments.
    pub async fn describe_service(
        &self,
        cluster: &str,
        service: &str,
        region: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ServiceEvent>, crate::evidence::ServiceFacts), GatherError> {
        let clients = self.clients(region);
        ecs::describe_service(&clients.ecs, cluster, service, limit)
            .await
            .map_err(|failure| match failure.kind {
                FailureKind::NotFound => GatherError::BadInput(format!(
                    "there is no service `{service}` in cluster {cluster}; check the name, or pass --cluster / --region"
                )),
                _ => ecs::ecs_error(failure, "ecs:DescribeServices", cluster, clients.region.as_deref()),
            })
    }
}

async fn who_stopped_uncached(clients: &Clients, task: &Task) -> (StopLookup, Vec<Note>) {
    let Some(at) = cloudtrail::anchor(task) else {
        return (
            StopLookup::NotAttempted,
            vec![Note::general("Who stopped the task was not looked up: the task has no stoppingAt or stoppedAt time to search CloudTrail around.")],
        );
    };
    let account = arn::account(&task.arn).unwrap_or("unknown");
    let region = task
        .region()
        .or(clients.region.as_deref())
        .unwrap_or("unknown");
    let quota = limits::CloudTrailQuota::new(account, region);
    match cloudtrail::lookup(&clients.cloudtrail, task, at, &quota).await {
        Ok(found) => (found, Vec::new()),
        Err(failure) => (
            StopLookup::Failed,
            vec![Note::unread(cloudtrail::note(&failure))],
        ),
    }
}

/// The cluster to use for follow-up calls: the task's own, else the one given.
fn cluster_of<'a>(task: &'a Task, given: &'a str) -> &'a str {
    if task.cluster.is_empty() {
        given
    } else {
        task.cluster_name()
    }
}

fn arn_target(task_arn: &str) -> Result<Target, GatherError> {
    Target::parse(task_arn, None, None)
        .map_err(|err| GatherError::BadInput(err.to_string()))
        .and_then(|target| match target.task {
            TaskRef::Task { .. } => Ok(target),
            TaskRef::Service { .. } => Err(GatherError::BadInput(format!(
                "`{task_arn}` is not a task ARN"
            ))),
        })
}

/// Standard retries: throttling, 5xx answers and resets are retried with exponential
/// backoff and jitter, all inside [`OPERATION_TIMEOUT`].
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The clients for `region` (the configuration's own when `None`), each counting its
/// calls with [`CountCalls`].
fn build_clients(config: &SdkConfig, region: Option<&str>) -> Clients {
    let region = region.map(|r| Region::new(r.to_string()));
    Clients {
        region: region.as_ref().or(config.region()).map(|r| r.to_string()),
        ecs: counted_client!(aws_sdk_ecs, config, region.as_ref()),
        logs: counted_client!(aws_sdk_cloudwatchlogs, config, region.as_ref()),
        cloudtrail: counted_client!(aws_sdk_cloudtrail, config, region.as_ref()),
    }
}
