//! A small fake AWS endpoint for tests and benchmarks, on 127.0.0.1.
//!
//! It speaks the awsJson protocol for what moto cannot do: ECS (DescribeTasks,
//! DescribeTaskDefinition, DescribeServices, ListTasks) with any exit codes, stop codes
//! and container reasons; CloudWatch Logs (GetLogEvents, FilterLogEvents); and CloudTrail
//! (LookupEvents); and STS GetCallerIdentity and AssumeRole (awsQuery: a form-encoded
//! POST answered with XML): the bot's readiness check calls the first, and a role mapped
//! for another account is assumed with the second. Every call's access key is recorded,
//! so a test can tell which credentials read what. It serves canned answers, counts
//! calls per operation, can add latency to every call, and can answer an operation with
//! AccessDenied, throttling, not-found or invalid credentials.
//! Used by tests/why.rs, benches/why.rs and benches/slack_storm.rs (via `#[path]`) and
//! the Slack bot's tests.
#![allow(dead_code)]

use aws_config::retry::RetryConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// An answer the fake can give instead of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    AccessDenied,
    Throttling,
    ResourceNotFound,
    /// The credentials are not valid (what STS answers for a bad access key).
    InvalidCredentials,
    /// HTTP 200 with truncated JSON that carries [`GARBLED_SECRET`] as an environment
    /// value of a task override.
    Garbled,
    /// HTTP 502 with a proxy's HTML page that carries [`GARBLED_SECRET`] and
    /// [`GARBLED_TOKEN`].
    BadGatewayPage,
    /// HTTP 500 with an AWS error body (`InternalFailure`).
    InternalError,
}

/// An environment value inside a garbled answer: it must never reach Slack.
pub const GARBLED_SECRET: &str = "env-value-c0rrect-h0rse";
/// A token inside a proxy's error page: it must never reach Slack.
pub const GARBLED_TOKEN: &str = "sessiontoken-QWxhZGRpbjpvcGVuIHNlc2FtZQ";

#[derive(Default)]
struct Data {
    clusters: Vec<String>,
    tasks: Vec<Value>,
    task_definitions: Vec<Value>,
    /// (cluster, service) -> events
    services: BTreeMap<(String, String), Vec<Value>>,
    /// A service's deployments as DescribeServices lists them.
    deployments: BTreeMap<(String, String), Vec<Value>>,
    /// (group, stream) -> (timestamp ms, message)
    logs: BTreeMap<(String, String), Vec<(i64, String)>>,
    cloudtrail: Vec<Value>,
}

#[derive(Default)]
struct Shared {
    data: Mutex<Data>,
    calls: Mutex<HashMap<String, usize>>,
    faults: Mutex<HashMap<String, Fault>>,
    /// Faults that heal by themselves after this many more answers.
    fault_budget: Mutex<HashMap<String, usize>>,
    latency: Mutex<Duration>,
    /// (operation, access key id) of every call, in order.
    keys: Mutex<Vec<(String, String)>>,
    /// The role ARNs AssumeRole was asked for, in order.
    assumed: Mutex<Vec<String>>,
}

/// The running fake. Dropping it stops the server.
pub struct FakeAws {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl FakeAws {
    /// Start on a free loopback port.
    pub async fn start() -> FakeAws {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let (addr, tx) = super::loopback::serve(app, "the fake AWS endpoint").await;
        FakeAws {
            addr,
            shared,
            shutdown: Some(tx),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An SDK configuration pointing every service at this fake, with static test
    /// credentials and no retries (so injected faults show at once).
    pub async fn sdk_config(&self) -> SdkConfig {
        ecs_why::aws::loader()
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new(
                "AKIDFAKEFAKEFAKE",
                "fake-secret",
                None,
                None,
                "fake-aws",
            ))
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .load()
            .await
    }

    /// Latency added to every call before answering.
    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().unwrap() = latency;
    }

    /// Answer `operation` (e.g. "GetLogEvents") with `fault` from now on.
    pub fn fail(&self, operation: &str, fault: Fault) {
        self.shared
            .faults
            .lock()
            .unwrap()
            .insert(operation.to_string(), fault);
    }

    /// Answer `operation` with `fault` for the next `times` calls, then normally.
    pub fn fail_times(&self, operation: &str, fault: Fault, times: usize) {
        self.fail(operation, fault);
        self.shared
            .fault_budget
            .lock()
            .unwrap()
            .insert(operation.to_string(), times);
    }

    pub fn heal(&self, operation: &str) {
        self.shared.faults.lock().unwrap().remove(operation);
    }

    /// Calls received for `operation` (e.g. "DescribeTasks").
    pub fn calls(&self, operation: &str) -> usize {
        self.shared
            .calls
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Calls received so far, by operation (e.g. `{"DescribeTasks": 3}`).
    pub fn calls_by_operation(&self) -> BTreeMap<String, usize> {
        self.shared
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|(op, n)| (op.clone(), *n))
            .collect()
    }

    pub fn total_calls(&self) -> usize {
        self.shared.calls.lock().unwrap().values().sum()
    }

    pub fn reset_calls(&self) {
        self.shared.calls.lock().unwrap().clear();
    }

    pub fn add_cluster(&self, name: &str) {
        let mut data = self.shared.data.lock().unwrap();
        if !data.clusters.iter().any(|c| c == name) {
            data.clusters.push(name.to_string());
        }
    }

    /// A task in ECS's JSON shape (see [`canned::task`]); its cluster is added too.
    pub fn add_task(&self, task: Value) {
        if let Some(cluster) = task["clusterArn"].as_str() {
            self.add_cluster(cluster.rsplit('/').next().unwrap_or(cluster));
        }
        self.shared.data.lock().unwrap().tasks.push(task);
    }

    pub fn add_task_definition(&self, definition: Value) {
        self.shared
            .data
            .lock()
            .unwrap()
            .task_definitions
            .push(definition);
    }

    /// A service and its events as (epoch seconds, message), any order.
    pub fn add_service(&self, cluster: &str, service: &str, events: &[(f64, &str)]) {
        self.add_cluster(cluster);
        let events = events
            .iter()
            .enumerate()
            .map(|(i, (at, message))| json!({"id": format!("ev-{i}"), "createdAt": at, "message": message}))
            .collect();
        self.shared
            .data
            .lock()
            .unwrap()
            .services
            .insert((cluster.to_string(), service.to_string()), events);
    }

    /// The deployments DescribeServices lists for a service added with [`add_service`]:
    /// (id, status, task definition ARN).
    pub fn add_deployments(
        &self,
        cluster: &str,
        service: &str,
        deployments: &[(&str, &str, &str)],
    ) {
        let deployments = deployments
            .iter()
            .map(|(id, status, definition)| {
                json!({"id": id, "status": status, "taskDefinition": definition})
            })
            .collect();
        self.shared
            .data
            .lock()
            .unwrap()
            .deployments
            .insert((cluster.to_string(), service.to_string()), deployments);
    }

    /// Log lines (oldest first), one a second from `start_ms`.
    pub fn add_log_lines(&self, group: &str, stream: &str, start_ms: i64, lines: &[&str]) {
        let mut data = self.shared.data.lock().unwrap();
        let entry = data
            .logs
            .entry((group.to_string(), stream.to_string()))
            .or_default();
        for (i, line) in lines.iter().enumerate() {
            entry.push((start_ms + i as i64 * 1000, line.to_string()));
        }
    }

    /// A CloudTrail event record (the JSON that LookupEvents carries as a string).
    pub fn add_cloudtrail_event(&self, event: Value) {
        self.shared.data.lock().unwrap().cloudtrail.push(event);
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // awsQuery (STS) names the operation in the form body instead of a header.
    let query_action = target.is_empty().then(|| query_action(&body)).flatten();
    let operation = match &query_action {
        Some(action) => action.clone(),
        None => target.rsplit('.').next().unwrap_or_default().to_string(),
    };
    *shared
        .calls
        .lock()
        .unwrap()
        .entry(operation.clone())
        .or_default() += 1;
    if let Some(key) = access_key(&headers) {
        shared.keys.lock().unwrap().push((operation.clone(), key));
    }
    let latency = *shared.latency.lock().unwrap();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = shared.faults.lock().unwrap().get(&operation).copied();
    if fault.is_some() {
        let mut budget = shared.fault_budget.lock().unwrap();
        if let Some(left) = budget.get_mut(&operation) {
            *left = left.saturating_sub(1);
            if *left == 0 {
                budget.remove(&operation);
                shared.faults.lock().unwrap().remove(&operation);
            }
        }
    }
    if query_action.is_some() {
        if fault.is_none() && operation == "AssumeRole" {
            return assume_role(&shared, &body);
        }
        return sts(&operation, fault);
    }
    if let Some(fault) = fault {
        return match fault {
            Fault::AccessDenied => error(
                "AccessDeniedException",
                &format!("User: arn:aws:sts::{ACCOUNT}:assumed-role/ecs-why/test is not authorized to perform: {operation}"),
            ),
            Fault::Throttling => error("ThrottlingException", "Rate exceeded"),
            Fault::ResourceNotFound => error(
                "ResourceNotFoundException",
                "The specified log group does not exist.",
            ),
            Fault::InvalidCredentials => error(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            Fault::Garbled => (
                StatusCode::OK,
                [("content-type", "application/x-amz-json-1.1")],
                format!(
                    "{{\"tasks\":[{{\"taskArn\":\"arn:aws:ecs:{REGION}:{ACCOUNT}:task/prod/x\",\
                     \"overrides\":{{\"containerOverrides\":[{{\"name\":\"web\",\"environment\":\
                     [{{\"name\":\"DB_PASSWORD\",\"value\":\"{GARBLED_SECRET}\"}}]}}]}},\"lastStatus\":"
                ),
            )
                .into_response(),
            Fault::BadGatewayPage => (
                StatusCode::BAD_GATEWAY,
                [("content-type", "text/html")],
                format!(
                    "<html><body><h1>502 Bad Gateway</h1><!-- upstream said: \
                     {{\"value\":\"{GARBLED_SECRET}\"}} session={GARBLED_TOKEN} --></body></html>"
                ),
            )
                .into_response(),
            Fault::InternalError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amzn-requestid", "5e1b7c1a-0000-4000-8000-fa15eca11500"),
                ],
                json!({"__type": "InternalFailure", "message": "We encountered an internal error. Please try again."}).to_string(),
            )
                .into_response(),
        };
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let data = shared.data.lock().unwrap();
    match operation.as_str() {
        "DescribeTasks" => describe_tasks(&data, &request),
        "ListTasks" => list_tasks(&data, &request),
        "DescribeTaskDefinition" => describe_task_definition(&data, &request),
        "DescribeServices" => describe_services(&data, &request),
        "GetLogEvents" => get_log_events(&data, &request),
        "FilterLogEvents" => filter_log_events(&data, &request),
        "LookupEvents" => lookup_events(&data, &request),
        _ => error(
            "UnknownOperationException",
            &format!("the fake AWS does not implement `{target}`"),
        ),
    }
}

/// The access key id a SigV4 `Authorization` header names (`Credential=KEY/...`).
fn access_key(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let after = auth.split("Credential=").nth(1)?;
    Some(after.split('/').next()?.to_string())
}

/// STS AssumeRole: credentials whose access key is `ASIA-<role name>`, so the calls made
/// with them can be told apart.
fn assume_role(shared: &Shared, body: &[u8]) -> Response {
    let role = url::form_urlencoded::parse(body)
        .find(|(key, _)| key == "RoleArn")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    shared.assumed.lock().unwrap().push(role.clone());
    let name = role.rsplit('/').next().unwrap_or("role");
    let account = role.split(':').nth(4).unwrap_or(ACCOUNT);
    (
        StatusCode::OK,
        [("content-type", "text/xml")],
        format!(
            "<AssumeRoleResponse xmlns=\"{STS_XMLNS}\"><AssumeRoleResult><Credentials>\
             <AccessKeyId>{}</AccessKeyId><SecretAccessKey>fake-assumed-secret</SecretAccessKey>\
             <SessionToken>fake-session</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>\
             </Credentials><AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/{name}/ecs-why</Arn>\
             <AssumedRoleId>AROAFAKE:ecs-why</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>\
             <ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata></AssumeRoleResponse>",
            assumed_key(&role)
        ),
    )
        .into_response()
}

/// The access key id of the credentials the fake hands out for `role_arn`.
pub fn assumed_key(role_arn: &str) -> String {
    format!("ASIA-{}", role_arn.rsplit('/').next().unwrap_or("role"))
}

/// `Action` of an awsQuery form body, if the body is one.
fn query_action(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == "Action")
        .map(|(_, value)| value.into_owned())
}

const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// STS over awsQuery: GetCallerIdentity, or the XML error for `fault`.
fn sts(operation: &str, fault: Option<Fault>) -> Response {
    let xml = |status: StatusCode, body: String| {
        (status, [("content-type", "text/xml")], body).into_response()
    };
    let sts_error = |status: StatusCode, code: &str, message: &str| {
        xml(
            status,
            format!(
                "<ErrorResponse xmlns=\"{STS_XMLNS}\"><Error><Type>Sender</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>fake-request</RequestId></ErrorResponse>"
            ),
        )
    };
    if let Some(fault) = fault {
        return match fault {
            Fault::InvalidCredentials => sts_error(
                StatusCode::FORBIDDEN,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
            Fault::AccessDenied => sts_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "User is not authorized to perform this action",
            ),
            Fault::Throttling => sts_error(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded"),
            Fault::ResourceNotFound => sts_error(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "The fake has no resource for this operation",
            ),
            Fault::Garbled | Fault::BadGatewayPage | Fault::InternalError => sts_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "The fake was asked to fail",
            ),
        };
    }
    match operation {
        "GetCallerIdentity" => xml(
            StatusCode::OK,
            format!(
                "<GetCallerIdentityResponse xmlns=\"{STS_XMLNS}\"><GetCallerIdentityResult>\
                 <Arn>arn:aws:sts::{ACCOUNT}:assumed-role/ecs-why/test</Arn>\
                 <UserId>AROAFAKEFAKEFAKE:test</UserId><Account>{ACCOUNT}</Account>\
                 </GetCallerIdentityResult><ResponseMetadata><RequestId>fake-request</RequestId>\
                 </ResponseMetadata></GetCallerIdentityResponse>"
            ),
        ),
        other => sts_error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!("the fake AWS does not implement STS `{other}`"),
        ),
    }
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

fn error(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amzn-errortype", code),
        ],
        json!({"__type": code, "message": message}).to_string(),
    )
        .into_response()
}

fn cluster_param(request: &Value) -> String {
    let cluster = request["cluster"].as_str().unwrap_or("default");
    cluster.rsplit('/').next().unwrap_or(cluster).to_string()
}

fn task_cluster(task: &Value) -> &str {
    let arn = task["clusterArn"].as_str().unwrap_or_default();
    arn.rsplit('/').next().unwrap_or(arn)
}

fn describe_tasks(data: &Data, request: &Value) -> Response {
    let cluster = cluster_param(request);
    if !data.clusters.contains(&cluster) {
        return error("ClusterNotFoundException", "Cluster not found.");
    }
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for wanted in request["tasks"].as_array().into_iter().flatten() {
        let wanted = wanted.as_str().unwrap_or_default();
        let found = data.tasks.iter().find(|t| {
            let arn = t["taskArn"].as_str().unwrap_or_default();
            task_cluster(t) == cluster && (arn == wanted || arn.ends_with(&format!("/{wanted}")))
        });
        match found {
            Some(task) => tasks.push(task.clone()),
            None => failures.push(json!({
                "arn": if wanted.starts_with("arn:") { wanted.to_string() } else { canned::task_arn(&cluster, wanted) },
                "reason": "MISSING"
            })),
        }
    }
    ok(json!({"tasks": tasks, "failures": failures}))
}

fn list_tasks(data: &Data, request: &Value) -> Response {
    let cluster = cluster_param(request);
    if !data.clusters.contains(&cluster) {
        return error("ClusterNotFoundException", "Cluster not found.");
    }
    let service = request["serviceName"].as_str();
    if let Some(service) = service {
        if !data
            .services
            .contains_key(&(cluster.clone(), service.to_string()))
        {
            return error("ServiceNotFoundException", "Service not found.");
        }
    }
    let desired = request["desiredStatus"].as_str();
    let arns: Vec<&str> = data
        .tasks
        .iter()
        .filter(|t| task_cluster(t) == cluster)
        .filter(|t| service.is_none_or(|s| t["group"].as_str() == Some(&format!("service:{s}"))))
        .filter(|t| desired.is_none_or(|d| t["desiredStatus"].as_str() == Some(d)))
        .filter_map(|t| t["taskArn"].as_str())
        .collect();
    ok(json!({"taskArns": arns}))
}

fn describe_task_definition(data: &Data, request: &Value) -> Response {
    let wanted = request["taskDefinition"].as_str().unwrap_or_default();
    let found = data.task_definitions.iter().find(|d| {
        let arn = d["taskDefinitionArn"].as_str().unwrap_or_default();
        arn == wanted || arn.ends_with(&format!("/{wanted}"))
    });
    match found {
        Some(definition) => ok(json!({"taskDefinition": definition})),
        None => error("ClientException", "Unable to describe task definition."),
    }
}

fn describe_services(data: &Data, request: &Value) -> Response {
    let cluster = cluster_param(request);
    if !data.clusters.contains(&cluster) {
        return error("ClusterNotFoundException", "Cluster not found.");
    }
    let mut services = Vec::new();
    let mut failures = Vec::new();
    for wanted in request["services"].as_array().into_iter().flatten() {
        let wanted = wanted.as_str().unwrap_or_default();
        let name = wanted.rsplit('/').next().unwrap_or(wanted);
        match data.services.get(&(cluster.clone(), name.to_string())) {
            Some(events) => services.push(json!({
                "serviceName": name,
                "serviceArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"),
                "status": "ACTIVE",
                "events": events,
                "deployments": data
                    .deployments
                    .get(&(cluster.clone(), name.to_string()))
                    .cloned()
                    .unwrap_or_default(),
            })),
            None => failures.push(json!({"arn": wanted, "reason": "MISSING"})),
        }
    }
    ok(json!({"services": services, "failures": failures}))
}

fn get_log_events(data: &Data, request: &Value) -> Response {
    let group = request["logGroupName"].as_str().unwrap_or_default();
    let stream = request["logStreamName"].as_str().unwrap_or_default();
    if !data.logs.keys().any(|(g, _)| g == group) {
        return error(
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        );
    }
    let Some(events) = data.logs.get(&(group.to_string(), stream.to_string())) else {
        return error(
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        );
    };
    let limit = request["limit"].as_u64().unwrap_or(10_000) as usize;
    // Tokens: "b/N" = the page ending before index N.
    let end = request["nextToken"]
        .as_str()
        .and_then(|t| t.strip_prefix("b/").or_else(|| t.strip_prefix("f/")))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(events.len())
        .min(events.len());
    let start = end.saturating_sub(limit);
    let page: Vec<Value> = events[start..end]
        .iter()
        .map(|(ts, message)| json!({"timestamp": ts, "message": message, "ingestionTime": ts}))
        .collect();
    ok(json!({
        "events": page,
        "nextBackwardToken": format!("b/{start}"),
        "nextForwardToken": format!("f/{end}"),
    }))
}

fn filter_log_events(data: &Data, request: &Value) -> Response {
    let group = request["logGroupName"].as_str().unwrap_or_default();
    if !data.logs.keys().any(|(g, _)| g == group) {
        return error(
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        );
    }
    let term = request["filterPattern"]
        .as_str()
        .unwrap_or_default()
        .trim_matches('"')
        .to_string();
    let events: Vec<Value> = data
        .logs
        .iter()
        .filter(|((g, _), _)| g == group)
        .flat_map(|((_, stream), events)| {
            events
                .iter()
                .filter(|(_, m)| m.contains(&term))
                .map(move |(ts, m)| json!({"logStreamName": stream, "timestamp": ts, "message": m, "eventId": format!("{ts}")}))
        })
        .collect();
    ok(json!({"events": events}))
}

fn lookup_events(data: &Data, request: &Value) -> Response {
    let name = request["LookupAttributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["AttributeKey"] == "EventName")
        .and_then(|a| a["AttributeValue"].as_str());
    let start = request["StartTime"].as_f64().unwrap_or(f64::MIN);
    let end = request["EndTime"].as_f64().unwrap_or(f64::MAX);
    let mut events: Vec<(f64, Value)> = data
        .cloudtrail
        .iter()
        .filter(|e| name.is_none_or(|n| e["eventName"].as_str() == Some(n)))
        .filter_map(|e| {
            let at = chrono::DateTime::parse_from_rfc3339(e["eventTime"].as_str()?).ok()?;
            let at = at.timestamp() as f64;
            (at >= start && at <= end).then(|| {
                (
                    at,
                    json!({
                        "EventId": e["eventID"],
                        "EventName": e["eventName"],
                        "EventTime": at,
                        "Username": e["userIdentity"]["userName"],
                        "CloudTrailEvent": e.to_string(),
                    }),
                )
            })
        })
        .collect();
    events.sort_by(|a, b| b.0.total_cmp(&a.0));
    ok(json!({"Events": events.into_iter().map(|(_, e)| e).collect::<Vec<_>>()}))
}

/// Canned data in the shapes ECS, Logs and CloudTrail use.
pub mod canned {
    use super::{ACCOUNT, REGION};
    use serde_json::{json, Value};

    /// 2024-05-01T10:00:00Z
    pub const STOPPED_AT: f64 = 1_714_557_600.0;
    pub const LOG_GROUP: &str = "/ecs/web";
    pub const TASK_DEFINITION: &str = "web:7";

    pub fn task_arn(cluster: &str, id: &str) -> String {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{id}")
    }

    pub fn task_definition_arn(family_revision: &str) -> String {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family_revision}")
    }

    /// A 32-hex task id made from a small number.
    pub fn task_id(n: u32) -> String {
        format!("{n:032x}")
    }

    /// A stopped task: container `web` exited with `exit_code`, stop code `stop_code`.
    pub fn task(cluster: &str, id: &str, stop_code: &str, exit_code: i32) -> Value {
        json!({
            "taskArn": task_arn(cluster, id),
            "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"),
            "taskDefinitionArn": task_definition_arn(TASK_DEFINITION),
            "group": "family:web",
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "cpu": "256",
            "memory": "512",
            "stopCode": stop_code,
            "stoppedReason": if stop_code == "UserInitiated" { "Task stopped by user" } else { "Essential container in task exited" },
            "createdAt": STOPPED_AT - 120.0,
            "startedAt": STOPPED_AT - 60.0,
            "stoppingAt": STOPPED_AT - 2.0,
            "stoppedAt": STOPPED_AT,
            "containers": [{
                "containerArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:container/{cluster}/{id}/c1"),
                "taskArn": task_arn(cluster, id),
                "name": "web",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
                "lastStatus": "STOPPED",
                "exitCode": exit_code,
                "reason": if exit_code == 137 { Value::from("OutOfMemoryError: Container killed due to memory usage") } else { Value::Null },
                "memory": "512",
            }]
        })
    }

    /// A task that never started: ECS could not pull `web:1.4.2` from ECR (the agent's
    /// words for a tag the repository does not have).
    pub fn pull_failed_task(cluster: &str, id: &str) -> Value {
        let reason = format!(
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:1.4.2: {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:1.4.2: not found"
        );
        let mut task = task(cluster, id, "TaskFailedToStart", 0);
        task["stoppedReason"] = Value::from(reason.clone());
        if let Some(object) = task.as_object_mut() {
            object.remove("startedAt");
        }
        if let Some(container) = task["containers"][0].as_object_mut() {
            container.remove("exitCode");
            container.insert("reason".into(), Value::from(reason));
        }
        task
    }

    /// The task definition `web:7`: awslogs to /ecs/web with prefix `ecs`, a plain
    /// environment variable holding a secret value, and a Secrets Manager secret.
    pub fn task_definition() -> Value {
        json!({
            "taskDefinitionArn": task_definition_arn(TASK_DEFINITION),
            "family": "web",
            "revision": 7,
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "executionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/web-execution"),
            "containerDefinitions": [{
                "name": "web",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
                "essential": true,
                "memory": 512,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [
                    {"name": "DATABASE_URL", "value": "postgres://app:hunter2@db.internal/app"},
                    {"name": "LOG_LEVEL", "value": "info"}
                ],
                "secrets": [{"name": "API_TOKEN", "valueFrom": format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:api-token")}],
                "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:8080/health"], "interval": 30, "timeout": 5, "retries": 3},
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": LOG_GROUP, "awslogs-region": REGION, "awslogs-stream-prefix": "ecs"}}
            }]
        })
    }

    /// The awslogs stream of container `web` in task `id`.
    pub fn log_stream(id: &str) -> String {
        format!("ecs/web/{id}")
    }

    /// A CloudTrail StopTask record; `task_param` is an id or an ARN.
    pub fn stop_task_event(task_param: &str, cluster: &str, reason: &str, at: f64) -> Value {
        let time = chrono::DateTime::from_timestamp(at as i64, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        json!({
            "eventVersion": "1.08",
            "eventID": format!("evt-{task_param}"),
            "eventName": "StopTask",
            "eventSource": "ecs.amazonaws.com",
            "eventTime": time,
            "awsRegion": REGION,
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2.15.0",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"),
                "userName": "alice"
            },
            "requestParameters": {"cluster": cluster, "task": task_param, "reason": reason},
            "responseElements": {}
        })
    }
}

impl FakeAws {
    /// The access keys `operation` was called with, in order.
    pub fn keys_for(&self, operation: &str) -> Vec<String> {
        self.shared
            .keys
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// The role ARNs AssumeRole was asked for.
    pub fn assumed_roles(&self) -> Vec<String> {
        self.shared.assumed.lock().unwrap().clone()
    }
}

impl FakeAws {
    /// Point a child `ecs-why` process at this fake the way a user's shell would: the
    /// endpoint in `AWS_ENDPOINT_URL`, static credentials, the region, and no config
    /// files or instance metadata to fall back on.
    pub fn configure_command<'c>(
        &self,
        command: &'c mut std::process::Command,
    ) -> &'c mut std::process::Command {
        command
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ACCESS_KEY_ID", "AKIDFAKEFAKEFAKE")
            .env("AWS_SECRET_ACCESS_KEY", "fake-secret")
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/nonexistent/ecs-why-test")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/ecs-why-test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
    }
}

impl FakeAws {
    /// Seed task `n` in `cluster` (see [`canned::task`]) with the `web:7` task definition
    /// and `lines` as its container's log tail, ending 30 s before it stopped. Returns
    /// the task id.
    pub fn add_stopped_task(
        &self,
        cluster: &str,
        n: u32,
        stop_code: &str,
        exit_code: i32,
        lines: &[&str],
    ) -> String {
        let id = canned::task_id(n);
        self.add_cluster(cluster);
        self.add_task(canned::task(cluster, &id, stop_code, exit_code));
        self.add_task_definition(canned::task_definition());
        self.add_log_lines(
            canned::LOG_GROUP,
            &canned::log_stream(&id),
            (canned::STOPPED_AT as i64 - 30) * 1000,
            lines,
        );
        id
    }
}
