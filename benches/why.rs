//! Benchmark of the `why` path against the local fake AWS with L ms of latency on every
//! call. First the gathering in process: total/L, the number of sequential round trips
//! on the critical path (targets: at most 3.3 cold, 2.3 with the task definition
//! cached). Then the whole `ecs-why why` process, as a user runs it, on a crashed
//! service task, without and with the probes: its time at no latency (the process's own
//! work: start, configuration, clients, the answer) and the round trips it waits for at
//! L, ((time at L) - (time at 0)) / L (target: 3, the evidence's DescribeTasks ->
//! DescribeTaskDefinition -> GetLogEvents, with the probes too).
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

        // The whole process, as a user runs it: a crashed task of service `web`, whose
        // what-changed check applies (its previous revision web:6 is on the fake).
        let crashed = canned::task_id(20_000);
        let mut task = canned::task(CLUSTER, &crashed, "EssentialContainerExited", 1);
        task["group"] = "service:web".into();
        task["startedBy"] = "ecs-svc/2".into();
        fake.add_task(task);
        fake.add_service(CLUSTER, "web", &[]);
        let mut previous = canned::task_definition();
        previous["revision"] = 6.into();
        previous["taskDefinitionArn"] = canned::task_definition_arn("web:6").into();
        fake.add_task_definition(previous);
        fake.add_log_lines(
            canned::LOG_GROUP,
            &canned::log_stream(&crashed),
            1_714_557_000_000,
            &lines,
        );
        println!("ecs-why why (the binary, {runs} runs each, median):");
        for probes in [false, true] {
            fake.set_latency(Duration::ZERO);
            let at_zero = median(process_runs(&fake, &crashed, probes, runs));
            fake.set_latency(latency);
            let at_l = median(process_runs(&fake, &crashed, probes, runs));
            let trips = (at_l.as_secs_f64() - at_zero.as_secs_f64()) / latency.as_secs_f64();
            let verdict = if trips <= 3.3 { "ok" } else { "OVER TARGET" };
            println!(
                "{:<44} at 0 ms {:>6.1} ms  at L {:>7.1} ms  round trips {trips:>4.2}  (target <= 3.3) {verdict}",
                if probes { "  with probes" } else { "  --no-probes" },
                at_zero.as_secs_f64() * 1000.0,
                at_l.as_secs_f64() * 1000.0,
            );
        }
    });
}

/// Wall times of `runs` runs of `ecs-why why ID --cluster bench` against `fake`.
fn process_runs(fake: &FakeAws, id: &str, probes: bool, runs: usize) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ecs-why"));
            command
                .args(["why", id, "--cluster", CLUSTER, "--format", "json"])
                .env_clear()
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            if !probes {
                command.arg("--no-probes");
            }
            fake.configure_command(&mut command);
            let start = Instant::now();
            let status = command.status().expect("run ecs-why why");
            let took = start.elapsed();
            assert!(status.success(), "ecs-why why failed: {status}");
            took
        })
        .collect()
}
