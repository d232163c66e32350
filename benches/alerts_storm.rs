//! An alert storm: 1,000 STOPPED events for 50 services, read from SQS by two replicas.
//!
//! Real parts: moto's server for SQS and DynamoDB (`scripts/test-env` installs it), the
//! production `Investigator` over the local fake AWS for ECS and Logs (20 ms per call), two
//! in-process `ecs-why serve` apps (each its own bot, engine, task-definition cache and
//! alert consumer) sharing one queue and one state table, and the fake Slack Web API.
//!
//! The events: 30 services in a crash loop (20 stops each, exit 1), an OOM wave over 10
//! services (25 stops each, exit 137), and 10 services deploying (15 replaced tasks each,
//! silent by default): 1,000 events over 5 clusters, each cluster routed to its own
//! channel. Printed: time until every stop is posted or recorded and the queue is empty,
//! Slack calls per channel per second (peak over any one-second window, both replicas
//! together), parents and thread lines, AWS calls per event by service, and peak memory
//! (VmHWM of the whole process, which also holds the fakes).
//!
//! `cargo bench --bench alerts_storm` (add `-- --quick` for 100 events over 10 services).

#[path = "../tests/support/fake_aws.rs"]
mod fake_aws;
#[path = "../tests/support/fake_slack.rs"]
mod fake_slack;
#[path = "../tests/support/loopback.rs"]
mod loopback;
#[path = "../tests/support/moto.rs"]
mod moto;

use ecs_why::gather::Gatherer;
use ecs_why::investigate::Investigator;
use ecs_why::slack::{self, Settings};
use fake_aws::{canned, FakeAws, REGION};
use fake_slack::FakeSlack;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AWS_LATENCY: Duration = Duration::from_millis(20);
const TABLE: &str = "ecs-why-bench-state";
const WATCHDOG: Duration = Duration::from_secs(900);

/// One stopped task: its service, cluster, stop code, exit code and reason.
struct Stop {
    cluster: String,
    service: String,
    stop_code: &'static str,
    exit_code: i32,
    reason: Option<&'static str>,
}

fn stops(scale: usize) -> Vec<Stop> {
    let mut all = Vec::new();
    let cluster = |s: usize| format!("prod-{}", s % 5);
    // (services, stops each, stop code, exit code, reason)
    let waves: [(usize, usize, &str, i32, Option<&str>); 3] = [
        (30, 20, "EssentialContainerExited", 1, None),
        (10, 25, "EssentialContainerExited", 137, None),
        (
            10,
            15,
            "ServiceSchedulerInitiated",
            0,
            Some("Scaling activity initiated by (deployment ecs-svc/1234567890)"),
        ),
    ];
    let mut service = 0;
    for (services, each, stop_code, exit_code, reason) in waves {
        let services = (services / scale).max(1);
        for _ in 0..services {
            for _ in 0..each {
                all.push(Stop {
                    cluster: cluster(service),
                    service: format!("svc-{service:02}"),
                    stop_code,
                    exit_code,
                    reason,
                });
            }
            service += 1;
        }
    }
    all
}

fn event(n: usize, stop: &Stop) -> Value {
    let id = format!("{:08x}{:024x}", (n as u32).wrapping_mul(2_654_435_761), n);
    let mut task = canned::task(&stop.cluster, &id, stop.stop_code, stop.exit_code);
    task["group"] = json!(format!("service:{}", stop.service));
    if let Some(reason) = stop.reason {
        task["stoppedReason"] = json!(reason);
        task["startedBy"] = json!("ecs-svc/1234567890");
    }
    json!({
        "version": "0", "id": format!("bench-{n}"), "detail-type": "ECS Task State Change",
        "source": "aws.ecs", "account": "123456789012", "time": "2024-05-01T10:00:00Z",
        "region": REGION, "resources": [canned::task_arn(&stop.cluster, &id)], "detail": task,
    })
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("alerts_storm: still running after {WATCHDOG:?}; giving up");
        std::process::exit(1);
    });
    let moto = moto::Moto::start();
    // The state store reads its endpoint the way a deployment does.
    std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", moto.endpoint());
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(storm(&moto, if quick { 10 } else { 1 }));
}

async fn storm(moto: &moto::Moto, scale: usize) {
    let sdk = moto.sdk_config().await;
    moto::create_state_table(&sdk, TABLE).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = moto::create_queue(&sdk, "ecs-why-bench").await;
    let aws = FakeAws::start().await;
    aws.add_task_definition(canned::task_definition());
    aws.set_latency(AWS_LATENCY);
    let slack = FakeSlack::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("alerts.toml");
    let routes: String = (0..5)
        .map(|c| format!("[[alerts]]\nchannel = \"C0PROD{c}\"\ncluster = \"prod-{c}\"\n\n"))
        .collect();
    std::fs::write(&config, routes).expect("write the routes");

    let stops = stops(scale);
    let silent = stops.iter().filter(|s| s.reason.is_some()).count();
    let announced = stops.len() - silent;
    let services: std::collections::BTreeSet<&str> =
        stops.iter().map(|s| s.service.as_str()).collect();
    let noisy_services = stops
        .iter()
        .filter(|s| s.reason.is_none())
        .map(|s| s.service.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();

    for replica in 0..2 {
        let vars: HashMap<&str, String> = HashMap::from([
            ("SLACK_SIGNING_SECRET", "bench".to_string()),
            ("SLACK_BOT_TOKEN", "xoxb-bench".to_string()),
            ("SLACK_API_URL", slack.api_url()),
            ("ECS_WHY_LISTEN", "127.0.0.1:0".to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("ECS_WHY_CONFIG", config.display().to_string()),
            ("ECS_WHY_EVENTS_QUEUE_URL", queue_url.clone()),
            ("ECS_WHY_STATE_TABLE", TABLE.to_string()),
        ]);
        let settings = Settings::from_vars(|k| vars.get(k).cloned()).expect("valid bench settings");
        let gatherer = Gatherer::from_sdk_config(&aws.sdk_config().await);
        let engine = Arc::new(Investigator::from_gatherer(
            gatherer.with_recent_stops(true),
        ));
        let app = slack::build_with(settings, engine)
            .await
            .expect("the app builds");
        ecs_why::serve::start_alerts(&app, Some(ecs_why::alerts::consumer::sqs_client_from(&sdk)))
            .await;
        let _ = replica;
        tokio::spawn(app.run());
    }

    let started = Instant::now();
    for (chunk_index, chunk) in stops.chunks(10).enumerate() {
        let mut batch = sqs.send_message_batch().queue_url(&queue_url);
        for (i, stop) in chunk.iter().enumerate() {
            let n = chunk_index * 10 + i + 1;
            batch = batch.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .message_body(event(n, stop).to_string())
                    .build()
                    .expect("a batch entry"),
            );
        }
        batch.send().await.expect("moto accepts the batch");
    }
    let sent = started.elapsed();

    // Poll Slack: per-channel call counts over time, until every announced stop shows.
    let mut history: Vec<(Instant, BTreeMap<String, usize>)> = Vec::new();
    let mut peak_per_channel_second = 0usize;
    let mut quiet_since: Option<(Instant, usize)> = None;
    // When the first and the last incident's parent card appeared.
    let (mut first_parent, mut all_parents): (Option<Duration>, Option<Duration>) = (None, None);
    let drained = loop {
        let calls = slack.all_calls().await;
        let mut per_channel: BTreeMap<String, usize> = BTreeMap::new();
        let (mut parents, mut lines) = (0usize, 0usize);
        for (path, body) in &calls {
            let method = path.rsplit('/').next().unwrap_or_default();
            if method != "chat.postMessage" && method != "chat.update" {
                continue;
            }
            let channel = body["channel"].as_str().unwrap_or_default().to_string();
            *per_channel.entry(channel).or_default() += 1;
            if method == "chat.postMessage" {
                if body.get("thread_ts").is_none_or(Value::is_null) {
                    parents += 1;
                } else {
                    lines += body["text"]
                        .as_str()
                        .unwrap_or_default()
                        .matches("• `")
                        .count();
                }
            }
        }
        let now = Instant::now();
        if let Some((_, before)) = history
            .iter()
            .rev()
            .find(|(at, _)| now.duration_since(*at) >= Duration::from_secs(1))
        {
            for (channel, count) in &per_channel {
                let delta = count - before.get(channel).copied().unwrap_or(0);
                peak_per_channel_second = peak_per_channel_second.max(delta);
            }
        }
        history.push((now, per_channel));
        if parents > 0 && first_parent.is_none() {
            first_parent = Some(started.elapsed());
        }
        if parents >= noisy_services && all_parents.is_none() {
            all_parents = Some(started.elapsed());
        }
        if parents + lines >= announced {
            break Some((started.elapsed(), parents, lines, calls.len()));
        }
        // Or: the queue is empty and Slack has been quiet for 5 s (a shortfall is then
        // printed, not waited for).
        let calls_now = calls.len();
        match quiet_since {
            Some((since, seen)) if seen == calls_now => {
                if now.duration_since(since) > Duration::from_secs(5)
                    && queue_is_empty(&sqs, &queue_url).await
                {
                    break Some((since.duration_since(started), parents, lines, calls_now));
                }
            }
            _ => quiet_since = Some((now, calls_now)),
        }
        if started.elapsed() > WATCHDOG - Duration::from_secs(60) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let Some((elapsed, parents, lines, slack_calls)) = drained else {
        eprintln!("alerts_storm: not every stop was posted in time");
        std::process::exit(1);
    };
    // Let the last count updates and deletions finish, then read the AWS call counts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let metrics = reqwest_metrics().await;
    println!(
        "alerts_storm: {} STOPPED events for {} services ({} announced, {silent} expected and silent) over 5 clusters/channels, 2 replicas, {} per ECS/Logs call",
        stops.len(),
        services.len(),
        announced,
        format_args!("{} ms", AWS_LATENCY.as_millis())
    );
    println!(
        "  events sent to SQS in:         {:.1} s",
        sent.as_secs_f64()
    );
    println!(
        "  all settled (queue empty) in:  {:.1} s",
        elapsed.as_secs_f64()
    );
    println!(
        "  parents / thread lines:        {parents} / {lines} (incidents expected: {noisy_services}; stops posted {} of {announced})",
        parents + lines
    );
    let (incidents, counted) = recorded(&sdk).await;
    println!("  in the state table:            {incidents} incidents, {counted} stops counted");
    println!("  Slack calls (post + update):   {slack_calls}");
    println!("  peak Slack calls per channel in any 1 s: {peak_per_channel_second}");
    let ecs_logs = aws.total_calls();
    println!(
        "  ECS + Logs calls per event:    {:.2} ({ecs_logs} in all: {:?})",
        ecs_logs as f64 / stops.len() as f64,
        aws.calls_by_operation()
    );
    for (service, calls) in &metrics {
        println!(
            "  {service} calls per event: {:.2} ({calls} in all)",
            *calls as f64 / stops.len() as f64
        );
    }
    let seconds = |d: Option<Duration>| {
        d.map_or("never".to_string(), |d| format!("{:.1} s", d.as_secs_f64()))
    };
    println!(
        "  event to card: first parent {}, every incident's parent {}",
        seconds(first_parent),
        seconds(all_parents)
    );

    // The lifecycle: every service is steady again (the silent ones too: ECS repeats
    // steady state). The incidents' cards are edited to Recovered; the others post nothing.
    let posts_before = slack.calls("chat.postMessage").await.len();
    let dynamodb_before = metrics.get("dynamodb").copied().unwrap_or(0);
    let steady_sent = Instant::now();
    let steady: Vec<String> = services
        .iter()
        .map(|service| {
            let cluster = stops
                .iter()
                .find(|s| s.service == *service)
                .map(|s| s.cluster.clone())
                .unwrap_or_default();
            json!({
                "version": "0", "id": format!("steady-{service}"), "detail-type": "ECS Service Action",
                "source": "aws.ecs", "account": "123456789012", "region": REGION,
                "time": chrono::Utc::now().to_rfc3339(),
                "resources": [format!("arn:aws:ecs:{REGION}:123456789012:service/{cluster}/{service}")],
                "detail": {"eventType": "INFO", "eventName": "SERVICE_STEADY_STATE",
                           "createdAt": chrono::Utc::now().to_rfc3339()}
            })
            .to_string()
        })
        .collect();
    for chunk in steady.chunks(10) {
        let mut batch = sqs.send_message_batch().queue_url(&queue_url);
        for (i, body) in chunk.iter().enumerate() {
            batch = batch.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("s{i}"))
                    .message_body(body)
                    .build()
                    .expect("a batch entry"),
            );
        }
        batch.send().await.expect("moto accepts the batch");
    }
    let recovered_in = loop {
        let updates = slack.calls("chat.update").await;
        let recovered: std::collections::BTreeSet<String> = updates
            .iter()
            .filter(|u| u.to_string().contains("Recovered: "))
            .filter_map(|u| u["ts"].as_str().map(str::to_string))
            .collect();
        if recovered.len() >= noisy_services {
            break Some(steady_sent.elapsed());
        }
        if steady_sent.elapsed() > Duration::from_secs(120) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let recovered_lines = slack
        .calls("chat.postMessage")
        .await
        .iter()
        .skip(posts_before)
        .filter(|p| p.to_string().contains("Recovered at"))
        .count();
    let dynamodb_after = reqwest_metrics()
        .await
        .get("dynamodb")
        .copied()
        .unwrap_or(0);
    println!(
        "  event to Recovered: {} steady-state events ({} with an open incident): every card Recovered in {}; {} Recovered lines, {} other posts",
        steady.len(),
        noisy_services,
        seconds(recovered_in),
        recovered_lines,
        slack.calls("chat.postMessage").await.len() - posts_before - recovered_lines
    );
    println!(
        "  DynamoDB calls per steady-state event: {:.1}",
        (dynamodb_after - dynamodb_before) as f64 / steady.len() as f64
    );
    if let Some(kib) = peak_memory_kib() {
        println!("  peak memory (whole process):   {} MiB", kib / 1024);
    }
}

/// AWS calls by service from this process's metrics (both replicas share the recorder).
async fn reqwest_metrics() -> BTreeMap<String, u64> {
    let text = ecs_why::metrics::install().render();
    let mut by_service = BTreeMap::new();
    for line in text.lines() {
        if !line.starts_with("ecs_why_aws_calls_total{") {
            continue;
        }
        let service = line
            .split("service=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?")
            .to_string();
        let count: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0);
        if service == "sqs" || service == "dynamodb" {
            *by_service.entry(service).or_default() += count as u64;
        }
    }
    by_service
}

async fn queue_is_empty(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> bool {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let Ok(output) = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
    else {
        return false;
    };
    let attributes = output.attributes.unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .all(|name| attributes.get(name).map(String::as_str) == Some("0"))
}

/// Incidents in the state table and the stops they count.
async fn recorded(sdk: &aws_config::SdkConfig) -> (usize, usize) {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let Ok(scan) = dynamodb.scan().table_name(TABLE).send().await else {
        return (0, 0);
    };
    let incidents: Vec<_> = scan
        .items()
        .iter()
        .filter(|item| {
            item.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.starts_with("incident#"))
        })
        .collect();
    let stops = incidents
        .iter()
        .filter_map(|item| item.get("stops")?.as_m().ok().map(|m| m.len()))
        .sum();
    (incidents.len(), stops)
}
