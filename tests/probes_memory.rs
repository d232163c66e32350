//! The memory probe and the memory graph it feeds: a climb to the limit confirms the
//! out-of-memory cause with its figures, a cluster without Container Insights gets the
//! sentence that says how to turn it on, a denied call names the IAM action, and the PNG
//! and the sparkline show the series against the limit.
//!
//! CloudWatch's SDK speaks the Smithy RPC v2 CBOR protocol, which moto's server (5.2.5)
//! does not answer (it returns 404 for `/service/.../operation/GetMetricData`), so the
//! probe talks to [`FakeCloudWatch`] below: a loopback GetMetricData that answers in
//! CBOR with the series stored for the task's dimensions.

mod support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, DurationRound, Utc};
use ecs_why::diagnose::CauseId;
use ecs_why::evidence::probes::{CheckId, CheckOutcome, MemoryPoint, MemorySeries, ProbeResults};
use ecs_why::evidence::{Container, Evidence, Task};
use ecs_why::render::memory_graph;
use std::sync::{Arc, Mutex};

const CLUSTER: &str = "prod";
const TASK_ID: &str = "0123456789abcdef0123456789abcdef";

/// A stopped time a few minutes ago, on a whole minute (so each minute holds one point).
fn recent_stop() -> DateTime<Utc> {
    (Utc::now() - Duration::minutes(2))
        .duration_trunc(Duration::minutes(1))
        .expect("truncating to a minute")
}

/// An out-of-memory stop of a 1,024 MiB task of cluster `prod`.
fn oom_evidence(stopped_at: DateTime<Utc>) -> Evidence {
    Evidence {
        task: Task {
            arn: format!("arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/{TASK_ID}"),
            cluster: format!("arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}"),
            group: Some("service:web".into()),
            task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:42".into(),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            memory: Some("1024".into()),
            started_at: Some(stopped_at - Duration::hours(3)),
            stopped_at: Some(stopped_at),
            containers: vec![Container {
                name: "web".into(),
                exit_code: Some(137),
                reason: Some("OutOfMemoryError: Container killed due to memory usage".into()),
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The climbing series of the task, one point a minute for the 30 minutes before the stop.
fn climb() -> Vec<f64> {
    (0..30)
        .map(|i| 310.0 + (1019.0 - 310.0) * (i as f64 / 29.0).powf(1.6))
        .collect()
}

/// What the fake CloudWatch holds and was asked.
#[derive(Default)]
struct Shared {
    /// Container Insights' MemoryUtilized of task TASK_ID in cluster CLUSTER: (epoch
    /// seconds, MiB).
    task_memory: Mutex<Vec<(i64, f64)>>,
    /// AWS/ECS MemoryUtilization of service `web` in cluster CLUSTER: (epoch seconds, %).
    service_memory: Mutex<Vec<(i64, f64)>>,
    deny: Mutex<bool>,
    calls: Mutex<usize>,
}

/// A loopback CloudWatch that answers GetMetricData (RPC v2 CBOR) for the task's series.
struct FakeCloudWatch {
    endpoint: String,
    shared: Arc<Shared>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// `values` as (epoch seconds, value), one a minute, ending a minute before `stopped_at`.
fn minutely(stopped_at: DateTime<Utc>, values: &[f64]) -> Vec<(i64, f64)> {
    let count = values.len() as i64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                (stopped_at - Duration::minutes(count - i as i64)).timestamp(),
                *v,
            )
        })
        .collect()
}

impl FakeCloudWatch {
    async fn start() -> FakeCloudWatch {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let (addr, shutdown) = support::loopback::serve(app, "the fake CloudWatch").await;
        FakeCloudWatch {
            endpoint: format!("http://{addr}"),
            shared,
            _shutdown: shutdown,
        }
    }

    /// Store the task's memory, one point a minute ending a minute before `stopped_at`.
    fn put_task_memory(&self, stopped_at: DateTime<Utc>, values: &[f64]) {
        *self.shared.task_memory.lock().unwrap() = minutely(stopped_at, values);
    }

    /// Store the service's memory percentage, one point a minute ending a minute before
    /// `stopped_at`.
    fn put_service_memory(&self, stopped_at: DateTime<Utc>, values: &[f64]) {
        *self.shared.service_memory.lock().unwrap() = minutely(stopped_at, values);
    }

    fn deny(&self) {
        *self.shared.deny.lock().unwrap() = true;
    }

    fn calls(&self) -> usize {
        *self.shared.calls.lock().unwrap()
    }

    async fn sdk_config(&self) -> aws_config::SdkConfig {
        ecs_why::aws::loader()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "testing", "testing", None, None, "fake",
            ))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await
    }
}

async fn answer(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    *shared.calls.lock().unwrap() += 1;
    let cbor = |status: StatusCode, body: Vec<u8>| {
        (
            status,
            [
                ("smithy-protocol", "rpc-v2-cbor"),
                ("content-type", "application/cbor"),
            ],
            body,
        )
            .into_response()
    };
    if headers.get("smithy-protocol").and_then(|v| v.to_str().ok()) != Some("rpc-v2-cbor") {
        return (StatusCode::NOT_FOUND, "only RPC v2 CBOR is faked").into_response();
    }
    if *shared.deny.lock().unwrap() {
        let mut out = Vec::new();
        cbor_map(&mut out, 2);
        cbor_text(&mut out, "__type");
        cbor_text(&mut out, "AccessDenied");
        cbor_text(&mut out, "message");
        cbor_text(&mut out, "User: arn:aws:sts::123456789012:assumed-role/ecs-why/bot is not authorized to perform: cloudwatch:GetMetricData");
        return cbor(StatusCode::FORBIDDEN, out);
    }
    // CBOR carries text as plain UTF-8, so the queries' ids, metrics and dimensions are
    // visible in the body. Like CloudWatch, which matches a dimension set exactly, the
    // task's series answers only the query with the set it was published under:
    // ClusterName, TaskDefinitionFamily and TaskId (what enhanced observability
    // publishes); the query by ClusterName and TaskId alone gets no points.
    let asked = |text: &str| body.windows(text.len()).any(|w| w == text.as_bytes());
    let asked_id = |id: &str| {
        let mut encoded = Vec::new();
        cbor_text(&mut encoded, id);
        body.windows(encoded.len()).any(|w| w == encoded.as_slice())
    };
    let task_asked = asked("ECS/ContainerInsights")
        && asked("MemoryUtilized")
        && asked("TaskDefinitionFamily")
        && asked(TASK_ID)
        && asked(CLUSTER);
    let service_asked =
        asked("AWS/ECS") && asked("MemoryUtilization") && asked("ServiceName") && asked("web");
    let points_of = |id: &str| match id {
        "task_family" if task_asked => shared.task_memory.lock().unwrap().clone(),
        "service" if service_asked => shared.service_memory.lock().unwrap().clone(),
        _ => Vec::new(),
    };
    let ids: Vec<&str> = ["task", "task_family", "service"]
        .into_iter()
        .filter(|id| asked_id(id))
        .collect();
    let mut out = Vec::new();
    cbor_map(&mut out, 2);
    cbor_text(&mut out, "MetricDataResults");
    cbor_head(&mut out, 4, ids.len() as u64);
    for id in ids {
        let points = points_of(id);
        cbor_map(&mut out, 4);
        cbor_text(&mut out, "Id");
        cbor_text(&mut out, id);
        cbor_text(&mut out, "Timestamps");
        cbor_head(&mut out, 4, points.len() as u64);
        for (at, _) in &points {
            cbor_head(&mut out, 6, 1);
            cbor_head(&mut out, 0, *at as u64);
        }
        cbor_text(&mut out, "Values");
        cbor_head(&mut out, 4, points.len() as u64);
        for (_, value) in &points {
            out.push(0xfb);
            out.extend_from_slice(&value.to_be_bytes());
        }
        cbor_text(&mut out, "StatusCode");
        cbor_text(&mut out, "Complete");
    }
    cbor_text(&mut out, "Messages");
    cbor_head(&mut out, 4, 0);
    cbor(StatusCode::OK, out)
}

/// A CBOR item head: major type and length or value (RFC 8949 §3).
fn cbor_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    if n < 24 {
        out.push(major | n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[major | 24, n as u8]);
    } else if n < 0x1_0000 {
        out.push(major | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n < 0x1_0000_0000 {
        out.push(major | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn cbor_map(out: &mut Vec<u8>, pairs: u64) {
    cbor_head(out, 5, pairs);
}

async fn probe(config: &aws_config::SdkConfig, evidence: &Evidence) -> ProbeResults {
    support::probe_results::probe(config, evidence, Some(CauseId::OutOfMemory)).await
}

#[tokio::test]
async fn a_climb_to_the_limit_confirms_the_out_of_memory_stop_with_its_figures() {
    let cloudwatch = FakeCloudWatch::start().await;
    let stopped_at = recent_stop();
    cloudwatch.put_task_memory(stopped_at, &climb());

    let found = probe(&cloudwatch.sdk_config().await, &oom_evidence(stopped_at)).await;

    let check = found
        .checks
        .iter()
        .find(|c| c.probe == CheckId::Memory)
        .unwrap_or_else(|| panic!("no memory check in {found:?}"));
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{check:?}");
    assert_eq!(
        check.detail,
        "memory climbed from 310 MiB to 1,019 MiB of 1,024 MiB in the 30 minutes before the stop"
    );
    let series = found.memory.expect("the series for the graph");
    assert_eq!(series.unit, "MiB");
    assert_eq!(series.limit, Some(1024.0));
    assert_eq!(series.points.len(), 30);
    assert!(found.unchecked.is_empty(), "{:?}", found.unchecked);
    assert_eq!(
        cloudwatch.calls(),
        1,
        "both series come from one GetMetricData call"
    );
}

#[tokio::test]
async fn a_cluster_without_container_insights_says_how_to_turn_it_on() {
    let cloudwatch = FakeCloudWatch::start().await;

    let found = probe(&cloudwatch.sdk_config().await, &oom_evidence(recent_stop())).await;

    assert!(found.memory.is_none());
    assert!(found.checks.iter().all(|c| c.probe != CheckId::Memory));
    assert!(
        found.unchecked.iter().any(|s| s
            == "Container Insights is off for cluster prod: turn it on (aws ecs update-cluster-settings --cluster prod --settings name=containerInsights,value=enhanced) to get the memory graph."),
        "{:?}",
        found.unchecked
    );
}

#[tokio::test]
async fn without_the_task_series_the_service_percentage_is_used() {
    let cloudwatch = FakeCloudWatch::start().await;
    let stopped_at = recent_stop();
    let percentages: Vec<f64> = climb().iter().map(|mib| mib / 1024.0 * 100.0).collect();
    cloudwatch.put_service_memory(stopped_at, &percentages);

    let found = probe(&cloudwatch.sdk_config().await, &oom_evidence(stopped_at)).await;

    let series = found.memory.as_ref().expect("the service's series");
    assert_eq!(
        (series.unit.as_str(), series.limit),
        ("Percent", Some(100.0))
    );
    let check = &found.checks[0];
    assert_eq!(check.outcome, CheckOutcome::Confirms, "{check:?}");
    assert_eq!(
        check.detail,
        "memory climbed from 30 % to 100 % of the limit (AWS/ECS MemoryUtilization (service average)) in the 30 minutes before the stop"
    );
}

#[tokio::test]
async fn a_denied_metric_call_names_the_iam_action() {
    let cloudwatch = FakeCloudWatch::start().await;
    cloudwatch.deny();

    let found = probe(&cloudwatch.sdk_config().await, &oom_evidence(recent_stop())).await;

    assert!(found.memory.is_none());
    assert_eq!(
        found.unchecked,
        vec![format!("Could not check the memory of task {TASK_ID} before it stopped: access denied to cloudwatch:GetMetricData; add cloudwatch:GetMetricData to ecs-why's task role (deploy/iam-policy.json).")]
    );
}

fn series(limit: Option<f64>) -> MemorySeries {
    let stopped_at = DateTime::parse_from_rfc3339("2026-11-20T14:30:00Z")
        .expect("a fixed time")
        .with_timezone(&Utc);
    let values = climb();
    let count = values.len() as i64;
    MemorySeries {
        source: "Container Insights MemoryUtilized (task)".into(),
        unit: "MiB".into(),
        points: values
            .iter()
            .enumerate()
            .map(|(i, value)| MemoryPoint {
                at: stopped_at - Duration::minutes(count - i as i64),
                value: *value,
            })
            .collect(),
        limit,
        stopped_at: Some(stopped_at),
    }
}

/// The image's RGB pixels, its width and its height.
fn decode(bytes: &[u8]) -> (Vec<u8>, u32, u32) {
    let decoder = png::Decoder::new(bytes);
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("a PNG frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    pixels.truncate(info.buffer_size());
    (pixels, info.width, info.height)
}

/// The rows holding the limit line's red, with how many red pixels each holds.
fn red_rows(pixels: &[u8], width: u32) -> Vec<(usize, usize)> {
    let red = memory_graph::LIMIT_RED;
    pixels
        .chunks(width as usize * 3)
        .enumerate()
        .map(|(row, line)| {
            let count = line
                .chunks(3)
                .filter(|p| p[0] == red.0 && p[1] == red.1 && p[2] == red.2)
                .count();
            (row, count)
        })
        .filter(|(_, count)| *count > 0)
        .collect()
}

#[test]
fn the_graph_is_an_800_by_320_png_with_the_limit_drawn_as_a_red_line_near_the_top() {
    let bytes =
        memory_graph::png(&series(Some(1024.0)), "web: memory before the stop").expect("a graph");
    let (pixels, width, height) = decode(&bytes);
    assert_eq!((width, height), (800, 320));

    // The limit is the top ninth of the value axis; the plot area spans roughly rows
    // 40 to 270, so the line sits in the band of rows 45 to 90, across most of the width.
    let rows = red_rows(&pixels, width);
    let line = rows
        .iter()
        .find(|(_, count)| *count > 500)
        .unwrap_or_else(|| panic!("no red line across the graph: {rows:?}"));
    assert!((45..90).contains(&line.0), "limit line at row {}", line.0);
}

#[test]
fn without_a_limit_the_graph_has_no_red() {
    let bytes = memory_graph::png(&series(None), "web").expect("a graph");
    let (pixels, width, _) = decode(&bytes);
    assert!(red_rows(&pixels, width).is_empty());
}

#[test]
fn an_empty_series_is_an_error_that_says_so() {
    let empty = MemorySeries::default();
    let err = memory_graph::png(&empty, "web").expect_err("nothing to draw");
    assert_eq!(err.to_string(), "the memory series has no points to draw");
}

#[test]
fn the_sparkline_rises_to_the_limit_with_its_figures() {
    let line = memory_graph::sparkline(&series(Some(1024.0)));
    assert_eq!(
        line,
        "▃▃▃▃▃▃▄▄▄▄▄▄▄▄▅▅▅▅▅▆▆▆▆▆▇▇▇▇██ 310 → 1,019 MiB of 1,024 MiB (30 min)",
    );
}

/// The recorded out-of-memory case whose probes carry a memory climb, and the graph the
/// bot shares for it (the same title the bot gives it).
fn recorded_case_graph() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases/out-of-memory--memory-climb-probed.json");
    let text = std::fs::read_to_string(&path).expect("the recorded case");
    let evidence: Evidence = serde_json::from_str(&text).expect("an evidence bundle");
    let series = evidence
        .probes
        .and_then(|p| p.memory)
        .expect("the case carries a memory series");
    memory_graph::png(
        &series,
        "Memory of task 0f3c2a9b8e7d4c6a9b1e2d3c4f5a6b7c before it stopped",
    )
    .expect("a graph")
}

/// examples/memory-graph.png is the recorded case's graph as the bot draws it today.
#[test]
fn the_committed_example_is_the_recorded_cases_graph() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/memory-graph.png");
    let committed = std::fs::read(&path).expect("examples/memory-graph.png");
    assert!(
        committed == recorded_case_graph(),
        "examples/memory-graph.png is stale: regenerate it with \
         `cargo test --test probes_memory -- --ignored write_example`"
    );
}

/// Writes examples/memory-graph.png from the recorded case (run on purpose:
/// `cargo test --test probes_memory -- --ignored write_example`).
#[test]
#[ignore]
fn write_example_memory_graph_png() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/memory-graph.png");
    std::fs::write(&path, recorded_case_graph()).expect("writing examples/memory-graph.png");
}
