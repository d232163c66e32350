//! Benchmark: `explain` throughput over a JSON Lines file of 100,000 tasks on one core.
//!
//! Builds the file in memory from varied task shapes (OOM, app errors, image pulls,
//! health checks, user stops, scaling), then times the whole offline pipeline the CLI
//! runs: read documents -> diagnose -> JSON output. Prints tasks per second (target:
//! at least 20,000 on one core). Then the same file through the binary, as a user runs
//! `ecs-why explain --format json FILE > out`: the whole process, reading the file and
//! writing the answers included (target: at least 30,000 tasks per second).
//! Run with `cargo bench --bench explain`.

use ecs_why::input::read_documents;
use ecs_why::output::{write_all, Format};
use std::time::Instant;

const TASKS: usize = 100_000;

const SHAPES: &[(&str, &str, &str, i64)] = &[
    ("EssentialContainerExited", "Essential container in task exited", "OutOfMemoryError: Container killed due to memory usage", 137),
    ("EssentialContainerExited", "Essential container in task exited", "", 1),
    ("TaskFailedToStart", "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2: not found", "", -1),
    ("ServiceSchedulerInitiated", "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/abc)", "", 143),
    ("UserInitiated", "Task stopped by user", "", 143),
    ("ServiceSchedulerInitiated", "Scaling activity initiated by (deployment ecs-svc/8646900195280463695)", "", 0),
    ("EssentialContainerExited", "Essential container in task exited", "", 139),
    ("TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: AccessDeniedException", "", -1),
    ("SpotInterruption", "Your Spot Task was interrupted.", "", 143),
    ("EssentialContainerExited", "Essential container in task exited", "", 127),
];

fn task_line(index: usize) -> String {
    let (stop_code, reason, container_reason, exit_code) = SHAPES[index % SHAPES.len()];
    let exit = if exit_code < 0 {
        String::new()
    } else {
        format!(r#","exitCode":{exit_code}"#)
    };
    let container_reason = if container_reason.is_empty() {
        String::new()
    } else {
        format!(r#","reason":"{container_reason}""#)
    };
    format!(
        concat!(
            r#"{{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/prod/{id:032x}","#,
            r#""clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod","#,
            r#""group":"service:web","taskDefinitionArn":"arn:aws:ecs:us-east-1:123456789012:task-definition/web:42","#,
            r#""launchType":"FARGATE","cpu":"256","memory":"512","lastStatus":"STOPPED","desiredStatus":"STOPPED","#,
            r#""stopCode":"{stop_code}","stoppedReason":"{reason}","#,
            r#""startedAt":"2024-05-02T14:19:34.52Z","stoppingAt":"2024-05-02T15:28:04.974Z","stoppedAt":1714663751.177,"#,
            r#""containers":[{{"name":"web","image":"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2","lastStatus":"STOPPED"{exit}{container_reason}}}]}}"#
        ),
        id = index,
        stop_code = stop_code,
        reason = reason,
        exit = exit,
        container_reason = container_reason,
    )
}

fn main() {
    let mut file = String::with_capacity(TASKS * 1_000);
    for index in 0..TASKS {
        file.push_str(&task_line(index));
        file.push('\n');
    }
    let megabytes = file.len() as f64 / 1e6;

    // One warm-up pass, then the measured pass (single thread: one core).
    for pass in 0..2 {
        let started = Instant::now();
        let evidence = match read_documents("bench.jsonl", &file) {
            Ok(evidence) => evidence,
            Err(error) => {
                eprintln!("benchmark input was refused: {error}");
                std::process::exit(1);
            }
        };
        let parsed = started.elapsed();
        let mut sink = Vec::with_capacity(TASKS * 1_500);
        if let Err(error) = write_all(&mut sink, &evidence, Format::Json, false) {
            eprintln!("benchmark output failed: {error}");
            std::process::exit(1);
        }
        let total = started.elapsed();
        // The two halves of the output step, measured apart for the report.
        let diagnosed_at = Instant::now();
        let diagnoses: Vec<_> = evidence.iter().map(ecs_why::diagnose::diagnose).collect();
        let diagnose_only = diagnosed_at.elapsed();
        let rendered_at = Instant::now();
        let rendered: usize = diagnoses
            .iter()
            .map(|d| ecs_why::render::json::to_json(d).to_string().len())
            .sum();
        let render_only = rendered_at.elapsed();
        if pass == 1 {
            let rate = TASKS as f64 / total.as_secs_f64();
            println!(
                "explain: {TASKS} tasks ({megabytes:.1} MB JSON Lines) in {:.2} s",
                total.as_secs_f64()
            );
            println!("  read documents: {:.2} s", parsed.as_secs_f64());
            println!(
                "  diagnose + JSON output: {:.2} s",
                (total - parsed).as_secs_f64()
            );
            println!(
                "    diagnose alone: {:.2} s; JSON rendering alone: {:.2} s ({:.1} MB)",
                diagnose_only.as_secs_f64(),
                render_only.as_secs_f64(),
                rendered as f64 / 1e6
            );
            println!("  throughput: {rate:.0} tasks/s on one core (target >= 20000)");
            println!("  output: {:.1} MB", sink.len() as f64 / 1e6);
        }
    }
    whole_process(&file);
}

/// `ecs-why explain --format json FILE` on the same tasks, its output to a file: the
/// median of three runs, the first one a warm-up of the page cache.
fn whole_process(file: &str) {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            eprintln!("no temporary directory for the process run: {error}");
            std::process::exit(1);
        }
    };
    let input = dir.path().join("tasks.jsonl");
    let output = dir.path().join("answers.jsonl");
    if let Err(error) = std::fs::write(&input, file) {
        eprintln!("cannot write the benchmark input: {error}");
        std::process::exit(1);
    }
    let mut times = Vec::new();
    for _ in 0..4 {
        let out = match std::fs::File::create(&output) {
            Ok(out) => out,
            Err(error) => {
                eprintln!("cannot create the benchmark output: {error}");
                std::process::exit(1);
            }
        };
        let started = Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_ecs-why"))
            .args(["explain", "--format", "json"])
            .arg(&input)
            .stdout(out)
            .status();
        let took = started.elapsed();
        match status {
            Ok(status) if status.success() => times.push(took),
            other => {
                eprintln!("ecs-why explain failed: {other:?}");
                std::process::exit(1);
            }
        }
    }
    times.remove(0);
    times.sort();
    let median = times[times.len() / 2];
    let written = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    println!(
        "explain, the binary: {TASKS} tasks in {:.2} s (median of 3), {:.0} tasks/s end to end (target >= 30000), {:.1} MB written",
        median.as_secs_f64(),
        TASKS as f64 / median.as_secs_f64(),
        written as f64 / 1e6
    );
}
