//! Benchmark of the `why` path's gathering against the local fake AWS with L ms of
//! latency on every call. Prints total/L: the number of sequential round trips on the
//! critical path (targets: at most 3.3 cold, 2.3 with the task definition cached).
//!
//! Run: `cargo bench --bench why` (BENCH_LATENCY_MS and BENCH_RUNS override the defaults).

#[path = "../tests/support/fake_aws.rs"]
mod fake_aws;
#[path = "../tests/support/loopback.rs"]
mod loopback;

mod support;

use ecs_why::gather::Gatherer;
use fake_aws::{canned, FakeAws};
use std::time::{Duration, Instant};
use support::{env_number, median, target};

const CLUSTER: &str = "bench";

fn report(label: &str, samples: Vec<Duration>, latency: Duration, target: f64) {
    let best = samples.iter().min().copied().unwrap_or_default();
    let median = median(samples);
    let ratio = median.as_secs_f64() / latency.as_secs_f64();
    let verdict = if ratio <= target { "ok" } else { "OVER TARGET" };
    println!(
        "{label:<44} median {:>7.1} ms  best {:>7.1} ms  total/L {ratio:>4.2}  (target <= {target}) {verdict}",
        median.as_secs_f64() * 1000.0,
        best.as_secs_f64() * 1000.0,
    );
}

fn main() {
    let latency = Duration::from_millis(env_number("BENCH_LATENCY_MS", 50));
    let runs = env_number("BENCH_RUNS", 15).max(1) as usize;
    let runtime = support::runtime();
    runtime.block_on(async move {
        let fake = FakeAws::start().await;
        fake.add_task_definition(canned::task_definition());
        let ids: Vec<String> = (0..runs as u32).map(canned::task_id).collect();
        let lines: Vec<String> = (0..200)
            .map(|i| format!("line {i} password=hunter2"))
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        // Each task runs its own task definition revision, so a long-lived gatherer
        // still meets each one cold the first time.
        for (n, id) in ids.iter().enumerate() {
            let revision = format!("web:{}", 100 + n);
            let mut definition = canned::task_definition();
            definition["taskDefinitionArn"] = canned::task_definition_arn(&revision).into();
            fake.add_task_definition(definition);
            let mut task = canned::task(CLUSTER, id, "EssentialContainerExited", 1);
            task["taskDefinitionArn"] = canned::task_definition_arn(&revision).into();
            fake.add_task(task);
            fake.add_log_lines(
                canned::LOG_GROUP,
                &canned::log_stream(id),
                1_714_557_000_000,
                &lines,
            );
        }
        let user_id = canned::task_id(10_000);
        fake.add_task(canned::task(CLUSTER, &user_id, "UserInitiated", 143));
        fake.add_cloudtrail_event(canned::stop_task_event(
            &user_id,
            CLUSTER,
            "bench",
            canned::STOPPED_AT - 2.0,
        ));
        let config = fake.sdk_config().await;

        // One long-lived gatherer, as the bot keeps: its connections are warmed up once
        // (on a task whose definition is not used below), without latency.
        let gatherer = Gatherer::from_sdk_config(&config);
        gatherer
            .gather(&target(CLUSTER, &user_id))
            .await
            .expect("warm-up");
        fake.set_latency(latency);
        println!(
            "ecs-why gather against the fake AWS: L = {} ms per call, {runs} runs each",
            latency.as_millis()
        );

        let mut cold = Vec::new();
        for id in &ids {
            let start = Instant::now();
            gatherer
                .gather(&target(CLUSTER, id))
                .await
                .expect("cold gather");
            cold.push(start.elapsed());
        }
        report(
            "cold (DescribeTasks -> TaskDef -> Logs)",
            cold,
            latency,
            3.3,
        );

        let mut cached = Vec::new();
        for id in &ids {
            let start = Instant::now();
            gatherer
                .gather(&target(CLUSTER, id))
                .await
                .expect("cached gather");
            cached.push(start.elapsed());
        }
        report(
            "task definition cached (DescribeTasks -> Logs)",
            cached,
            latency,
            2.3,
        );

        // A new gatherer per run (a fresh CLI process: new connections, empty cache).
        let mut fresh = Vec::new();
        for id in &ids {
            let gatherer = Gatherer::from_sdk_config(&config);
            let start = Instant::now();
            gatherer
                .gather(&target(CLUSTER, id))
                .await
                .expect("fresh gather");
            fresh.push(start.elapsed());
        }
        report("fresh gatherer each run (CLI-like)", fresh, latency, 3.3);

        // UserInitiated adds CloudTrail, concurrently with the task definition: same path.
        // Runs are spaced so CloudTrail's 2/s rate limit never makes them wait.
        let mut user = Vec::new();
        for _ in 0..runs.min(5) {
            tokio::time::sleep(Duration::from_millis(600)).await;
            let gatherer = Gatherer::from_sdk_config(&config);
            let start = Instant::now();
            let evidence = gatherer
                .gather(&target(CLUSTER, &user_id))
                .await
                .expect("user-initiated gather");
            user.push(start.elapsed());
            assert!(matches!(
                evidence.stop_lookup,
                ecs_why::evidence::StopLookup::Found(_)
            ));
        }
        report("fresh, UserInitiated (+ CloudTrail)", user, latency, 3.3);
    });
}
