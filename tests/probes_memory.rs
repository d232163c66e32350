//! The memory probe against moto's CloudWatch, and the memory graph it feeds: a climb to
//! the limit confirms the out-of-memory cause with its figures, a cluster without
//! Container Insights gets the sentence that says how to turn it on, and the PNG and the
//! sparkline show the series against the limit.

mod support;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{DateTime, Duration, DurationRound, Utc};
use ecs_why::diagnose::{diagnose, CauseId};
use ecs_why::evidence::probes::{CheckOutcome, MemoryPoint, MemorySeries, ProbeResults};
use ecs_why::evidence::{Container, Evidence, Task};
use ecs_why::gather::Gatherer;
use ecs_why::render::memory_graph;
use support::moto::Moto;

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

async fn put_task_memory(
    config: &aws_config::SdkConfig,
    stopped_at: DateTime<Utc>,
    values: &[f64],
) {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(config);
    let count = values.len() as i64;
    let data: Vec<MetricDatum> = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let at = stopped_at - Duration::minutes(count - i as i64);
            MetricDatum::builder()
                .metric_name("MemoryUtilized")
                .dimensions(
                    Dimension::builder()
                        .name("ClusterName")
                        .value(CLUSTER)
                        .build(),
                )
                .dimensions(Dimension::builder().name("TaskId").value(TASK_ID).build())
                .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
                .unit(StandardUnit::Megabytes)
                .value(*value)
                .build()
        })
        .collect();
    cloudwatch
        .put_metric_data()
        .namespace("ECS/ContainerInsights")
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("moto stores the task's memory");
}

async fn probe(config: &aws_config::SdkConfig, evidence: &Evidence) -> ProbeResults {
    let diagnosis = diagnose(evidence);
    assert_eq!(diagnosis.category, CauseId::OutOfMemory);
    Gatherer::from_sdk_config(config)
        .probe(evidence, &diagnosis)
        .await
}

#[tokio::test]
async fn a_climb_to_the_limit_confirms_the_out_of_memory_stop_with_its_figures() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let stopped_at = recent_stop();
    put_task_memory(&config, stopped_at, &climb()).await;

    let found = probe(&config, &oom_evidence(stopped_at)).await;

    let check = found
        .checks
        .iter()
        .find(|c| c.probe == "memory")
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
}

#[tokio::test]
async fn a_cluster_without_container_insights_says_how_to_turn_it_on() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;

    let found = probe(&config, &oom_evidence(recent_stop())).await;

    assert!(found.memory.is_none());
    assert!(found.checks.iter().all(|c| c.probe != "memory"));
    assert!(
        found.unchecked.iter().any(|s| s
            == "Container Insights is off for cluster prod: turn it on (aws ecs update-cluster-settings --cluster prod --settings name=containerInsights,value=enhanced) to get the memory graph."),
        "{:?}",
        found.unchecked
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

/// Writes examples/memory-graph.png from a realistic climb (run on purpose:
/// `cargo test --test probes_memory -- --ignored write_example`).
#[test]
#[ignore]
fn write_example_memory_graph_png() {
    let bytes = memory_graph::png(&series(Some(1024.0)), "web (prod): memory before the stop")
        .expect("a graph");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/memory-graph.png");
    std::fs::write(&path, bytes).expect("writing examples/memory-graph.png");
}
