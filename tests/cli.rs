//! The `ecs-why` binary as a user runs it: `explain` on the shipped examples and on
//! every accepted document shape, `causes`, output formats, and exit statuses
//! (0 answered, 2 bad input with one line on stderr).

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn ecs_why(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-why"))
        .args(args)
        .env_remove("ECS_WHY_DEFAULT_CLUSTER")
        .output()
        .expect("the ecs-why binary runs")
}

fn ecs_why_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-why"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ecs-why binary runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("stdin accepts the input");
    child.wait_with_output().expect("ecs-why finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn the_readme_example_explains_an_out_of_memory_kill() {
    let output = ecs_why(&["explain", "examples/out-of-memory.json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("ran out of memory"), "{text}");
    assert!(text.contains("4096 MiB"), "suggests a larger size: {text}");
    assert!(!text.contains('\u{1b}'), "no colour when piped: {text}");
}

#[test]
fn every_example_explains_to_the_expected_category() {
    for (file, category) in [
        ("examples/out-of-memory.json", "out-of-memory"),
        (
            "examples/missing-env-var.json",
            "container-exited-app-error",
        ),
        (
            "examples/describe-tasks-image-pull.json",
            "image-pull-failed",
        ),
        ("examples/task-state-change-scaling.json", "scaling-event"),
    ] {
        let output = ecs_why(&["explain", "--format", "json", file]);
        assert!(output.status.success(), "{file}: {}", stderr(&output));
        let answers = json_lines(&output);
        assert_eq!(answers.len(), 1, "{file}");
        assert_eq!(answers[0]["category"], category, "{file}");
    }
}

#[test]
fn json_output_has_every_contract_field() {
    let output = ecs_why(&[
        "explain",
        "--format",
        "json",
        "examples/missing-env-var.json",
    ]);
    let answer = &json_lines(&output)[0];
    for key in [
        "task",
        "category",
        "title",
        "summary",
        "evidence",
        "fixes",
        "findings",
        "stopped_by",
        "notes",
    ] {
        assert!(answer.get(key).is_some(), "missing {key}: {answer}");
    }
    for key in [
        "arn",
        "cluster",
        "group",
        "task_definition",
        "stop_code",
        "stopped_reason",
        "started_at",
        "stopped_at",
        "containers",
    ] {
        assert!(answer["task"].get(key).is_some(), "missing task.{key}");
    }
    let container = &answer["task"]["containers"][0];
    assert_eq!(container["name"], "app");
    assert_eq!(container["exit_code"], 1);
    assert!(container.get("reason").is_some());
    let finding = answer["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["kind"] == "missing-env-var"))
        .expect("a missing-env-var finding");
    assert!(finding["detail"]
        .as_str()
        .is_some_and(|d| d.contains("DATABASE_URL")));
    assert_eq!(answer["stopped_by"], Value::Null);
}

#[test]
fn several_tasks_give_one_json_object_per_line() {
    let one = std::fs::read_to_string("examples/task-state-change-scaling.json").unwrap();
    let two = std::fs::read_to_string("examples/describe-tasks-image-pull.json").unwrap();
    let compact = |s: &str| serde_json::from_str::<Value>(s).unwrap().to_string();
    let input = format!("{}\n{}\n", compact(&one), compact(&two));
    let output = ecs_why_stdin(&["explain", "--format", "json", "-"], &input);
    assert!(output.status.success(), "{}", stderr(&output));
    let answers = json_lines(&output);
    let categories: Vec<&str> = answers
        .iter()
        .filter_map(|a| a["category"].as_str())
        .collect();
    assert_eq!(categories, ["scaling-event", "image-pull-failed"]);
}

#[test]
fn epoch_second_timestamps_are_accepted() {
    let input = r#"{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef","stopCode":"EssentialContainerExited","stoppedReason":"Essential container in task exited","startedAt":1714663000,"stoppedAt":1714663751.5,"containers":[{"name":"web","exitCode":139}]}"#;
    let output = ecs_why_stdin(&["explain", "--format", "json", "-"], input);
    assert!(output.status.success(), "{}", stderr(&output));
    let answer = &json_lines(&output)[0];
    assert_eq!(answer["category"], "segfault");
    assert_eq!(answer["task"]["stopped_at"], "2024-05-02T15:29:11.500Z");
}

#[test]
fn blocks_format_is_a_slack_message_payload() {
    let output = ecs_why(&[
        "explain",
        "--format",
        "blocks",
        "examples/out-of-memory.json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let payload = &json_lines(&output)[0];
    assert!(payload["text"].as_str().is_some_and(|t| !t.is_empty()));
    let blocks = payload["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks.iter().any(|b| b["type"] == "actions"));
}

#[test]
fn causes_lists_the_whole_catalog() {
    let output = ecs_why(&["causes"]);
    assert!(output.status.success());
    let ids: Vec<String> = stdout(&output)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 23, "{ids:?}");
    for id in [
        "image-pull-failed",
        "out-of-memory",
        "stopped-by-user",
        "other",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id}");
    }
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["explain", "no-such-file.json"],
            None,
            "cannot read no-such-file.json",
        ),
        (vec!["explain", "-"], Some("not json at all"), "not JSON"),
        (
            vec!["explain", "-"],
            Some(r#"{"hello": "world"}"#),
            "is not a task",
        ),
        (
            vec!["explain", "-"],
            Some(r#"{"tasks": [], "failures": [{"arn": "x", "reason": "MISSING"}]}"#),
            "MISSING",
        ),
        (
            vec!["why", "definitely not a task"],
            None,
            "is not a task ARN",
        ),
        (
            vec![
                "why",
                "0123456789abcdef0123456789abcdef",
                "--region",
                "moon-base",
            ],
            None,
            "not an AWS region",
        ),
        (
            vec![
                "why",
                "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef",
                "--cluster",
                "staging",
            ],
            None,
            "drop --cluster",
        ),
    ];
    for (args, input, expected) in cases {
        let output = match input {
            Some(input) => ecs_why_stdin(&args, input),
            None => ecs_why(&args),
        };
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line: {err}"
        );
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
}

#[test]
fn the_readme_catalog_table_lists_every_cause() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    for cause in ecs_why::diagnose::catalog::CATALOG {
        let row = format!("| `{}` | {} |", cause.id.as_str(), cause.title);
        assert!(readme.contains(&row), "README lacks the row: {row}");
    }
}

const RUNNING_WITH_A_FAILURE: &str = r#"{"tasks":[{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef","clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod","lastStatus":"RUNNING","desiredStatus":"RUNNING","createdAt":1715655672.123,"startedAt":1715655680.5,"containers":[{"name":"app","lastStatus":"RUNNING"}]}],"failures":[{"arn":"arn:aws:ecs:us-east-1:123456789012:task/prod/ffffffffffffffffffffffffffffffff","reason":"MISSING"}]}"#;

#[test]
fn a_running_task_is_said_to_have_not_stopped() {
    let output = ecs_why_stdin(
        &["explain", "--format", "json", "-"],
        RUNNING_WITH_A_FAILURE,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let answer = &json_lines(&output)[0];
    assert_eq!(answer["category"], "other");
    assert_eq!(answer["title"], "The task has not stopped");
    let summary = answer["summary"].as_str().expect("summary");
    assert!(
        summary.contains("has not stopped") && summary.contains("RUNNING"),
        "{summary}"
    );
    assert!(!summary.contains("no stopped reason"), "{summary}");
    // The describe-tasks failure next to the task is not dropped.
    let notes = answer["notes"].to_string();
    assert!(
        notes.contains("ffffffffffffffffffffffffffffffff MISSING"),
        "{notes}"
    );
}

#[test]
fn an_event_for_a_task_still_starting_says_so() {
    let event = r#"{"version":"0","id":"x","detail-type":"ECS Task State Change","source":"aws.ecs","account":"123456789012","time":"2024-05-14T03:08:05Z","region":"us-east-1","resources":[],"detail":{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef","clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/prod","lastStatus":"PROVISIONING","desiredStatus":"RUNNING","containers":[]}}"#;
    let output = ecs_why_stdin(&["explain", "-"], event);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("The task has not stopped"), "{text}");
    assert!(text.contains("still starting"), "{text}");
}

#[test]
fn a_task_still_stopping_is_diagnosed_with_a_note() {
    let task = r#"{"taskArn":"arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef","lastStatus":"DEPROVISIONING","desiredStatus":"STOPPED","stopCode":"EssentialContainerExited","stoppedReason":"Essential container in task exited","containers":[{"name":"app","exitCode":1}]}"#;
    let output = ecs_why_stdin(&["explain", "--format", "json", "-"], task);
    let answer = &json_lines(&output)[0];
    assert_eq!(answer["category"], "container-exited-app-error");
    assert!(answer["notes"].to_string().contains("still stopping"));
}

mod no_panics {
    //! Whatever text `explain` is given, reading and diagnosing it returns an answer
    //! or an error, never a panic.
    use ecs_why::diagnose::diagnose;
    use ecs_why::input::read_documents;
    use ecs_why::render::text::to_text;
    use proptest::prelude::*;

    /// JSON-ish fragments that steer the generator towards the shapes `explain` reads.
    fn jsonish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(",".to_string()),
            Just(":".to_string()),
            Just("\"tasks\"".to_string()),
            Just("\"failures\"".to_string()),
            Just("\"detail\"".to_string()),
            Just("\"detail-type\"".to_string()),
            Just("\"ECS Task State Change\"".to_string()),
            Just("\"taskArn\"".to_string()),
            Just("\"containers\"".to_string()),
            Just("\"exitCode\"".to_string()),
            Just("\"stoppedAt\"".to_string()),
            Just("\"lastStatus\"".to_string()),
            Just("\"task\"".to_string()),
            Just("null".to_string()),
            Just("137".to_string()),
            Just("-1e400".to_string()),
            Just("1715655685.25".to_string()),
            Just("\"2024-05-14T03:08:05Z\"".to_string()),
            "\"[^\"\\\\]{0,12}\"",
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn explain_never_panics(text in jsonish()) {
            if let Ok(all) = read_documents("fuzz", &text) {
                for evidence in all {
                    let _ = to_text(&diagnose(&evidence), false);
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = read_documents("fuzz", &text);
        }
    }
}
