//! Stop reasons kept as data, one JSON object a line: the task's `reason`, a
//! `container_reason` or several `containers`, the `stop_code`, an `exit_code`, the
//! catalog id it must get as `expected`, and its `source`.
//!
//! - `tests/corpus/stop_reasons.jsonl`: real reasons pasted in public issue trackers
//!   (the URL, and when it was `pasted`);
//! - `tests/corpus/agent_errors.jsonl`: the source, not the samples: one line (or more)
//!   for every error type the ECS agent names (`kind: agent-error`, the line of
//!   `aws/amazon-ecs-agent` that defines it), for the agent's other reason texts
//!   (`agent-text`), for the stopped reasons AWS documents (`aws-doc`, the page), and
//!   for AWS's texts seen in the wild but not in its pages (`aws-text`).
//!
//! Every line becomes an Evidence bundle with only what the reason shows (a task
//! definition only to say which containers are essential, no logs) and is diagnosed;
//! each test prints its accuracy and every miss, then asserts that none missed. A
//! reason knowingly left unrecognised says `other` as its expected id.

use ecs_why::diagnose::diagnose;
use ecs_why::evidence::Evidence;
use serde_json::{json, Value};
use std::path::Path;

fn corpus(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1))
        })
        .collect()
}

/// The Evidence a line describes: the task and its containers, nothing else.
fn evidence_of(line: &Value) -> Evidence {
    let containers: Vec<Value> = match line["containers"].as_array() {
        Some(many) => many.clone(),
        None => vec![json!({
            "name": "app",
            "exit_code": line["exit_code"],
            "reason": line["container_reason"],
        })],
    };
    let definitions: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c["name"], "essential": c["essential"].as_bool().unwrap_or(true)}))
        .collect();
    let task_containers: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c["name"], "exit_code": c["exit_code"], "reason": c["reason"]}))
        .collect();
    let document = json!({
        "task": {
            "arn": "arn:aws:ecs:us-east-1:123456789012:task/prod/0f3c2a9b8e7d4c6a9b1e2d3c4f5a6b7c",
            "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "group": "service:web",
            "stop_code": line["stop_code"],
            "stopped_reason": line["reason"],
            "last_status": "STOPPED",
            "desired_status": "STOPPED",
            "containers": task_containers,
        },
        "task_definition": {"family": "web", "containers": definitions},
    });
    serde_json::from_value(document).expect("a corpus line makes an Evidence bundle")
}

/// Diagnose every line of `file`; print the accuracy and the misses; return the misses.
fn misses_in(file: &str, at_least: usize) -> Vec<String> {
    let lines = corpus(file);
    assert!(lines.len() >= at_least, "{file} has {} lines", lines.len());
    let mut misses = Vec::new();
    for line in &lines {
        let expected = line["expected"].as_str().expect("expected id");
        let diagnosis = diagnose(&evidence_of(line));
        let got = diagnosis.category.as_str();
        if got != expected {
            let name = line["name"]
                .as_str()
                .or(line["source"].as_str())
                .unwrap_or("?");
            misses.push(format!(
                "{name}: expected {expected}, got {got}: {}",
                diagnosis.headline
            ));
        }
    }
    let right = lines.len() - misses.len();
    println!(
        "{file}: {right} of {} right ({:.0} %)",
        lines.len(),
        100.0 * right as f64 / lines.len() as f64
    );
    for miss in &misses {
        println!("  miss: {miss}");
    }
    misses
}

#[test]
fn real_pasted_reasons_get_their_cause() {
    let misses = misses_in("stop_reasons.jsonl", 40);
    assert!(
        misses.is_empty(),
        "{} misses:\n{}",
        misses.len(),
        misses.join("\n")
    );
}

#[test]
fn every_agent_error_type_and_documented_reason_gets_its_cause() {
    let misses = misses_in("agent_errors.jsonl", 100);
    assert!(
        misses.is_empty(),
        "{} misses:\n{}",
        misses.len(),
        misses.join("\n")
    );
}
