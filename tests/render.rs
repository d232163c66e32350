//! Renderer tests: snapshots of the terminal card and the Slack card for hand-built
//! diagnoses, the `--format json` contract's keys, mrkdwn escaping of hostile text, and
//! Block Kit limits on pathological input (10k-character reasons, 500 findings, 5,000
//! log lines). When `tests/cases/` exists, every recorded case is diagnosed and its
//! messages checked against the limits too.

use chrono::{DateTime, Utc};
use ecs_why::diagnose::{
    CauseId, Confidence, ContainerSummary, Diagnosis, Finding, FindingKind, TaskSummary,
};
use ecs_why::evidence::{
    ContainerDefinition, ContainerLogs, Evidence, HealthCheck, LogConfiguration, LogLine,
    PortMapping, SecretRef, ServiceEvent, StopLookup, StoppedBy, TaskDefinition,
};
use ecs_why::follow_up::{ButtonRef, FollowUp};
use ecs_why::render::blocks::{self, limit_violations, limit_violations_json, limits};
use ecs_why::render::{to_blocks_json, to_json, to_text};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const TASK_ARN: &str =
    "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef";
const CLUSTER_ARN: &str = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test timestamp")
}

fn oom() -> Diagnosis {
    Diagnosis {
        task: TaskSummary {
            arn: TASK_ARN.into(),
            cluster: CLUSTER_ARN.into(),
            group: Some("service:api".into()),
            task_definition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:42".into(),
            region: Some("eu-west-1".into()),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            started_at: Some(at("2024-05-01T12:00:00Z")),
            stopped_at: Some(at("2024-05-01T12:03:12Z")),
            containers: vec![
                ContainerSummary {
                    name: "web".into(),
                    exit_code: Some(137),
                    reason: Some(
                        "OutOfMemoryError: Container killed due to memory usage".into(),
                    ),
                },
                ContainerSummary {
                    name: "log-router".into(),
                    exit_code: Some(0),
                    reason: None,
                },
            ],
        },
        category: CauseId::OutOfMemory,
        title: "Out of memory: `web` was killed at its 512 MiB limit".into(),
        headline: "`web` killed at its 512 MiB limit (exit 137)".into(),
        summary: "The container `web` used more memory than its hard limit of 512 MiB, so \
                  the kernel killed it (exit code 137) and ECS stopped the task because \
                  the container is essential."
            .into(),
        evidence: vec![
            "container web: exit code 137".into(),
            "container web: reason \"OutOfMemoryError: Container killed due to memory usage\""
                .into(),
            "task definition: web memory = 512 MiB (hard limit)".into(),
        ],
        fixes: vec![
            "Raise `web`'s memory limit from 512 MiB to 1024 MiB in task definition api:42 \
             and redeploy the service."
                .into(),
            "If memory grows without bound, look for a leak: compare memory use across \
             deployments in Container Insights."
                .into(),
        ],
        findings: vec![Finding {
            kind: FindingKind::OomInLogs,
            detail: "the JVM reported running out of heap".into(),
            container: Some("web".into()),
            line: Some("java.lang.OutOfMemoryError: Java heap space".into()),
        }],
        stopped_by: None,
        notes: vec!["Logs of `log-router` were not read: it exited cleanly.".into()],
        console_url: Some(
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/0123456789abcdef0123456789abcdef/configuration"
                .into(),
        ),
        confidence: Confidence::Likely,
        proof: vec![],
        ruled_out: vec![],
        context: vec![],
        unchecked: vec![],
        key_change: None,
        probes: None,
        checks: Vec::new(),
        owner: Some("api".into()),
        same_way: None,
        reason_layers: None,
    }
}

fn stopped_by_user() -> Diagnosis {
    Diagnosis {
        task: TaskSummary {
            arn: TASK_ARN.into(),
            cluster: "prod".into(),
            group: Some("family:batch".into()),
            task_definition: "arn:aws:ecs:eu-west-1:123456789012:task-definition/batch:7".into(),
            region: None,
            stop_code: Some("UserInitiated".into()),
            stopped_reason: Some("Task stopped by user".into()),
            started_at: Some(at("2024-05-01T10:00:00Z")),
            stopped_at: Some(at("2024-05-01T12:05:00Z")),
            containers: vec![ContainerSummary {
                name: "batch".into(),
                exit_code: Some(143),
                reason: None,
            }],
        },
        category: CauseId::StoppedByUser,
        title: "Stopped by a StopTask call".into(),
        headline: "Stopped by a StopTask call".into(),
        summary: "Someone called StopTask on this task; ECS sent SIGTERM and the container \
                  exited with 143."
            .into(),
        evidence: vec!["stop code UserInitiated".into()],
        fixes: vec!["Ask the caller below why they stopped it.".into()],
        findings: vec![],
        stopped_by: Some(StoppedBy {
            arn: Some("arn:aws:sts::123456789012:assumed-role/Admin/alice".into()),
            identity_type: Some("AssumedRole".into()),
            source_ip: Some("203.0.113.7".into()),
            user_agent: Some("aws-cli/2.15.0 Python/3.11".into()),
            time: Some(at("2024-05-01T12:04:58Z")),
            reason: Some("stuck job".into()),
            event_id: Some("e1b2c3".into()),
        }),
        notes: vec![],
        console_url: None,
        confidence: Confidence::Likely,
        proof: vec![],
        ruled_out: vec![],
        context: vec![],
        unchecked: vec![],
        key_change: None,
        probes: None,
        checks: Vec::new(),
        owner: Some("batch".into()),
        same_way: None,
        reason_layers: None,
    }
}

const HOSTILE: &str = "<!channel> <!here> <@U1> <http://evil.example|click me> & more";

fn hostile() -> Diagnosis {
    let mut d = oom();
    d.title = format!("Crash: {HOSTILE}");
    d.headline = format!("Crash: {HOSTILE}");
    d.summary = HOSTILE.into();
    d.task.stopped_reason = Some(HOSTILE.into());
    d.task.containers[0].name = "web<!channel>".into();
    d.task.containers[0].reason = Some(HOSTILE.into());
    d.evidence = vec![HOSTILE.into()];
    d.fixes = vec![HOSTILE.into()];
    d.findings = vec![Finding {
        kind: FindingKind::Crash,
        detail: HOSTILE.into(),
        container: Some("<@U1>".into()),
        line: Some(format!("panic: {HOSTILE} ``` `")),
    }];
    d.notes = vec![HOSTILE.into()];
    d.stopped_by = Some(StoppedBy {
        arn: Some("<@U1>".into()),
        identity_type: Some("<!channel>".into()),
        source_ip: Some("<!here>".into()),
        user_agent: Some(HOSTILE.into()),
        time: None,
        reason: Some(HOSTILE.into()),
        event_id: None,
    });
    d
}

fn pathological() -> Diagnosis {
    let mut d = oom();
    let long = "x".repeat(10_000);
    d.title = format!("Title {long}");
    d.headline = format!("Headline {long}");
    d.summary = format!("Summary {long}");
    d.task.stopped_reason = Some(format!("Reason {long}"));
    d.task.containers = (0..60)
        .map(|i| ContainerSummary {
            name: format!("container-{i}"),
            exit_code: Some(i),
            reason: Some(format!("reason <{i}> {long}")),
        })
        .collect();
    d.evidence = (0..1000)
        .map(|i| format!("evidence {i} <&> {long}"))
        .collect();
    d.fixes = (0..200).map(|i| format!("fix {i} {long}")).collect();
    d.findings = (0..500)
        .map(|i| Finding {
            kind: FindingKind::MissingEnvVar,
            detail: format!("`VAR_{i}` is not set <!channel>"),
            container: Some(format!("c{i}")),
            line: Some(format!("KeyError: 'VAR_{i}' {long}")),
        })
        .collect();
    d.notes = (0..50).map(|i| format!("note {i} {long}").into()).collect();
    d.stopped_by = Some(StoppedBy {
        arn: Some(long.clone()),
        reason: Some(long.clone()),
        user_agent: Some(long.clone()),
        ..StoppedBy::default()
    });
    d
}

fn target() -> ButtonRef {
    ButtonRef {
        region: "eu-west-1".into(),
        cluster: "prod".into(),
        task_arn: TASK_ARN.into(),
        container: None,
        page_token: None,
        incident: None,
        mute: None,
    }
}

fn logs(lines: usize, line: impl Fn(usize) -> String) -> ContainerLogs {
    ContainerLogs {
        container: "web".into(),
        log_group: Some("/ecs/api".into()),
        log_stream: Some("ecs/web/0123456789abcdef0123456789abcdef".into()),
        lines: (0..lines)
            .map(|i| LogLine {
                timestamp: Some(at("2024-05-01T12:03:00Z") + chrono::Duration::seconds(i as i64)),
                message: line(i),
            })
            .collect(),
        next_token: Some("b/38123456789012345678901234567890".into()),
    }
}

fn task_definition() -> TaskDefinition {
    TaskDefinition {
        arn: "arn:aws:ecs:eu-west-1:123456789012:task-definition/api:42".into(),
        family: "api".into(),
        revision: 42,
        network_mode: Some("awsvpc".into()),
        requires_compatibilities: vec!["FARGATE".into()],
        cpu: Some("256".into()),
        memory: Some("512".into()),
        cpu_architecture: Some("ARM64".into()),
        operating_system_family: Some("LINUX".into()),
        execution_role_arn: Some("arn:aws:iam::123456789012:role/ecsTaskExecutionRole".into()),
        task_role_arn: None,
        containers: vec![ContainerDefinition {
            name: "web".into(),
            image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:1.4.2".into(),
            essential: Some(true),
            cpu: None,
            memory: Some(512),
            memory_reservation: None,
            port_mappings: vec![PortMapping {
                container_port: Some(8080),
                host_port: Some(8080),
                protocol: Some("tcp".into()),
            }],
            health_check: Some(HealthCheck {
                command: vec![
                    "CMD-SHELL".into(),
                    "curl -f http://localhost:8080/health || exit 1".into(),
                ],
                interval: Some(30),
                timeout: Some(5),
                retries: Some(3),
                start_period: None,
            }),
            environment_names: vec!["RUST_LOG".into(), "PORT".into()],
            secrets: vec![SecretRef {
                name: "DATABASE_URL".into(),
                value_from: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf".into(),
            }],
            environment_files: vec![],
            log_configuration: Some(LogConfiguration {
                log_driver: "awslogs".into(),
                options: BTreeMap::from([
                    ("awslogs-group".into(), "/ecs/api".into()),
                    ("awslogs-region".into(), "eu-west-1".into()),
                    ("awslogs-stream-prefix".into(), "ecs".into()),
                    ("splunk-token".into(), "should-not-appear".into()),
                ]),
            }),
            ..ContainerDefinition::default()
        }],
    }
}

fn assert_within_limits(what: &str, content: &slack_morphism::prelude::SlackMessageContent) {
    let problems = limit_violations(content);
    assert!(problems.is_empty(), "{what}: {problems:#?}");
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

#[test]
fn text_snapshots() {
    insta::assert_snapshot!("text_oom", to_text(&oom(), false));
    insta::assert_snapshot!("text_stopped_by_user", to_text(&stopped_by_user(), false));
}

#[test]
fn blocks_snapshots() {
    insta::assert_json_snapshot!("blocks_oom", to_blocks_json(&oom()));
    insta::assert_json_snapshot!("blocks_stopped_by_user", to_blocks_json(&stopped_by_user()));
}

#[test]
fn json_snapshot() {
    insta::assert_json_snapshot!("json_oom", to_json(&oom()));
}

#[test]
fn thread_reply_snapshots() {
    let t = target();
    insta::assert_json_snapshot!(
        "thread_logs",
        blocks::log_tail(&logs(3, |i| format!("line {i}")), Some(&t))
    );
    insta::assert_json_snapshot!(
        "thread_stopped_by",
        blocks::stopped_by(
            &StopLookup::Found(stopped_by_user().stopped_by.expect("fixture")),
            Some(&t)
        )
    );
    insta::assert_json_snapshot!(
        "thread_task_definition",
        blocks::task_definition(&task_definition())
    );
    insta::assert_json_snapshot!(
        "thread_service_events",
        blocks::service_events(&[
            ServiceEvent {
                created_at: Some(at("2024-05-01T12:03:30Z")),
                message: "(service api) has started 1 tasks: (task 0123).".into(),
            },
            ServiceEvent {
                created_at: Some(at("2024-05-01T12:03:20Z")),
                message: "(service api) has stopped 1 running tasks: (task 0123).".into(),
            },
        ])
    );
}

// ---------------------------------------------------------------------------
// The JSON contract
// ---------------------------------------------------------------------------

#[test]
fn json_has_the_contract_keys() {
    for d in [oom(), stopped_by_user()] {
        let v = to_json(&d);
        let top = keys(&v);
        let required = set(&[
            "task",
            "category",
            "title",
            "summary",
            "evidence",
            "fixes",
            "findings",
            "stopped_by",
            "notes",
        ]);
        assert!(top.is_superset(&required), "{top:?}");
        assert!(
            top.difference(&required).all(|k| [
                "console_url",
                "headline",
                "confidence",
                "proof",
                "ruled_out",
                "unchecked",
                "key_change",
                "probes",
                "reason_layers",
            ]
            .contains(&k.as_str())),
            "unexpected top-level keys: {top:?}"
        );
        let task = &v["task"];
        assert!(keys(task).is_superset(&set(&[
            "arn",
            "cluster",
            "group",
            "task_definition",
            "stop_code",
            "stopped_reason",
            "started_at",
            "stopped_at",
            "containers",
        ])));
        for c in task["containers"].as_array().expect("containers array") {
            assert_eq!(keys(c), set(&["name", "exit_code", "reason"]));
        }
        for f in v["findings"].as_array().expect("findings array") {
            assert_eq!(keys(f), set(&["kind", "detail", "container", "line"]));
        }
        assert!(v["evidence"].is_array() && v["fixes"].is_array() && v["notes"].is_array());
        assert!(v["category"].is_string());
    }
    let oom = to_json(&oom());
    assert_eq!(oom["category"], "out-of-memory");
    assert_eq!(oom["findings"][0]["kind"], "oom-in-logs");
    assert_eq!(oom["task"]["started_at"], "2024-05-01T12:00:00Z");
    assert_eq!(oom["task"]["containers"][0]["exit_code"], 137);
    assert!(oom["stopped_by"].is_null());

    let user = to_json(&stopped_by_user());
    let by = &user["stopped_by"];
    assert!(keys(by).is_superset(&set(&["arn", "type", "source_ip", "user_agent", "time"])));
    assert_eq!(by["type"], "AssumedRole");
    assert_eq!(by["time"], "2024-05-01T12:04:58Z");
    assert_eq!(by["reason"], "stuck job");
    assert_eq!(user["category"], "stopped-by-user");
}

// ---------------------------------------------------------------------------
// Escaping
// ---------------------------------------------------------------------------

fn assert_neutralised(what: &str, payload: &str) {
    for raw in ["<!channel>", "<!here>", "<@U1>", "<http://evil", "web<!"] {
        assert!(
            !payload.contains(raw),
            "{what}: `{raw}` arrived unescaped in {payload}"
        );
    }
}

#[test]
fn untrusted_text_is_escaped_in_blocks() {
    let d = hostile();
    let card = serde_json::to_string(&to_blocks_json(&d)).expect("serialises");
    assert_neutralised("card", &card);
    assert!(card.contains("&lt;!channel&gt;"));
    assert!(card.contains("&lt;@U1&gt;"));
    assert!(card.contains("&amp; more"));
    assert_within_limits("hostile card", &blocks::card(&d));

    let log = logs(3, |_| HOSTILE.to_string());
    let replies = blocks::log_tail(&log, Some(&target()));
    let replies = serde_json::to_string(&replies).expect("serialises");
    assert_neutralised("log tail", &replies);

    let by = blocks::stopped_by(
        &StopLookup::Found(d.stopped_by.clone().expect("fixture")),
        None,
    );
    assert_neutralised(
        "stopped by",
        &serde_json::to_string(&by).expect("serialises"),
    );

    let events = blocks::service_events(&[ServiceEvent {
        created_at: None,
        message: HOSTILE.into(),
    }]);
    assert_neutralised(
        "events",
        &serde_json::to_string(&events).expect("serialises"),
    );

    let mut td = task_definition();
    td.containers[0].name = "<!channel>".into();
    td.containers[0].image = "<@U1>".into();
    td.containers[0].environment_names = vec!["<!here>".into()];
    let td = blocks::task_definition(&td);
    let td = serde_json::to_string(&td).expect("serialises");
    assert_neutralised("task definition", &td);
}

#[test]
fn mrkdwn_text_is_verbatim() {
    // verbatim stops Slack from auto-linking bare URLs and names in untrusted text.
    let card = to_blocks_json(&hostile());
    let text = serde_json::to_string(&card).expect("serialises");
    assert!(!text.contains("\"verbatim\":false"));
    assert!(text.contains("\"verbatim\":true"));
}

#[test]
fn log_lines_cannot_close_the_code_block() {
    let replies = blocks::log_tail(&logs(2, |_| "``` <!channel> ```".into()), None);
    for m in &replies {
        for b in m.blocks.as_deref().unwrap_or_default() {
            let v = serde_json::to_value(b).expect("serialises");
            if let Some(text) = v["text"]["text"].as_str() {
                if text.starts_with("```") {
                    assert_eq!(text.matches("```").count(), 2, "{text}");
                }
            }
        }
    }
}

#[test]
fn terminal_text_neutralises_escape_sequences() {
    let mut d = oom();
    d.task.stopped_reason = Some("boom \x1b]0;pwned\x07 \x1b[2J".into());
    let text = to_text(&d, false);
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.contains("\\x1b"));
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

#[test]
fn pathological_card_stays_within_limits() {
    let d = pathological();
    let card = blocks::card(&d);
    assert_within_limits("pathological card", &card);
    let v = to_blocks_json(&d);
    assert!(limit_violations_json(&v).is_empty());
    let header = &v["blocks"][0];
    assert_eq!(header["type"], "header");
    let title = header["text"]["text"].as_str().expect("header text");
    assert!(title.chars().count() <= limits::HEADER_TEXT);
    assert!(title.ends_with('…'));
    // The buttons survive the squeeze.
    let last = v["blocks"]
        .as_array()
        .and_then(|b| b.last())
        .expect("blocks");
    assert_eq!(last["type"], "actions");
    // Long lists say what was left out.
    let all = serde_json::to_string(&v).expect("serialises");
    assert!(all.contains("more findings"));
}

#[test]
fn pathological_text_is_complete_and_wrapped() {
    let text = to_text(&pathological(), false);
    assert!(text.contains("VAR_499"));
    // Lines wrap within 100 columns; only URLs (kept whole to stay clickable) may not.
    for line in text.lines().filter(|l| !l.starts_with("https://")) {
        let n = line.chars().count();
        assert!(
            n <= 100,
            "line of {n} characters: {}",
            line.chars().take(120).collect::<String>()
        );
    }
}

#[test]
fn text_colour_only_when_asked() {
    assert!(!to_text(&oom(), false).contains('\x1b'));
    assert!(to_text(&oom(), true).contains("\x1b["));
}

#[test]
fn five_thousand_log_lines_split_within_limits() {
    let log = logs(5000, |i| {
        format!("2024-05-01 INFO request {i} handled in 12ms path=/api/v1/items/{i} <ok>")
    });
    let replies = blocks::log_tail(&log, Some(&target()));
    assert!(!replies.is_empty());
    assert!(replies.len() <= blocks::MAX_LOG_MESSAGES);
    for (i, m) in replies.iter().enumerate() {
        assert_within_limits(&format!("log reply {i}"), m);
    }
    let all = serde_json::to_string(&replies).expect("serialises");
    // The newest line is kept; the oldest are left out and counted.
    assert!(all.contains("request 4999 "));
    assert!(!all.contains("request 0 "));
    assert!(all.contains("earlier lines left out"));
    // The last reply pages further back.
    let last = serde_json::to_value(replies.last().expect("a reply")).expect("serialises");
    let actions = last["blocks"]
        .as_array()
        .and_then(|b| b.last())
        .expect("blocks");
    assert_eq!(actions["type"], "actions");
    let button = &actions["elements"][0];
    assert_eq!(button["action_id"], FollowUp::MoreLogs.action_id());
    let r = ButtonRef::decode(button["value"].as_str().expect("value")).expect("valid ref");
    assert_eq!(r.container.as_deref(), Some("web"));
    assert_eq!(r.page_token, log.next_token);
}

#[test]
fn huge_log_lines_are_cut() {
    let log = logs(20, |_| "<".repeat(20_000));
    for (i, m) in blocks::log_tail(&log, None).iter().enumerate() {
        assert_within_limits(&format!("huge line reply {i}"), m);
    }
    let empty = ContainerLogs {
        container: "web".into(),
        ..ContainerLogs::default()
    };
    let replies = blocks::log_tail(&empty, Some(&target()));
    assert_eq!(replies.len(), 1);
    assert_within_limits("empty logs", &replies[0]);
}

#[test]
fn big_task_definition_and_many_events_stay_within_limits() {
    let mut td = task_definition();
    let c = td.containers[0].clone();
    td.containers = (0..60)
        .map(|i| ContainerDefinition {
            name: format!("c{i}"),
            environment_names: (0..200).map(|j| format!("VARIABLE_NUMBER_{j}")).collect(),
            ..c.clone()
        })
        .collect();
    let m = blocks::task_definition(&td);
    assert_within_limits("task definition", &m);
    let text = serde_json::to_string(&m).expect("serialises");
    assert!(
        !text.contains("should-not-appear"),
        "log option secret shown"
    );
    assert!(!text.contains("secretsmanager"), "secret source shown");

    let events: Vec<ServiceEvent> = (0..50)
        .map(|i| ServiceEvent {
            created_at: Some(at("2024-05-01T12:00:00Z")),
            message: format!("event {i} {}", "y".repeat(1000)),
        })
        .collect();
    let m = blocks::service_events(&events);
    assert_within_limits("service events", &m);
    let text = serde_json::to_string(&m).expect("serialises");
    assert!(text.contains("event 9 ") && !text.contains("event 10 "));
}

#[test]
fn task_definition_shows_names_not_values() {
    let text =
        serde_json::to_string(&blocks::task_definition(&task_definition())).expect("serialises");
    for shown in [
        "DATABASE_URL",
        "RUST_LOG",
        "api:1.4.2",
        "awsvpc",
        "/ecs/api",
        "8080",
    ] {
        assert!(text.contains(shown), "{shown} missing");
    }
    assert!(text.contains("start period none"));
    assert!(!text.contains("should-not-appear"));
}

// ---------------------------------------------------------------------------
// Buttons
// ---------------------------------------------------------------------------

fn buttons(v: &Value) -> Vec<Value> {
    v["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn card_buttons_carry_valid_references() {
    let v = to_blocks_json(&oom());
    let ids: Vec<String> = buttons(&v)
        .iter()
        .map(|b| b["action_id"].as_str().unwrap_or_default().to_string())
        .collect();
    // Nobody stopped it: no "Who stopped it"; at most four, the most useful first.
    let expected: Vec<String> = [
        FollowUp::MoreLogs,
        FollowUp::ServiceEvents,
        FollowUp::Rerun,
        FollowUp::TaskDefinition,
    ]
    .iter()
    .map(|f| f.action_id().to_string())
    .collect();
    assert_eq!(ids, expected);
    for b in buttons(&v) {
        match b["value"].as_str() {
            Some(value) => {
                let r = ButtonRef::decode(value).expect("valid reference");
                assert_eq!(r.task_arn, TASK_ARN);
                assert_eq!(r.region, "eu-west-1");
            }
            None => assert!(b["url"].as_str().is_some_and(|u| u.starts_with("https://"))),
        }
    }
    let more_logs = ButtonRef::decode(buttons(&v)[0]["value"].as_str().expect("value"))
        .expect("valid reference");
    assert_eq!(more_logs.container.as_deref(), Some("web"));

    // A standalone task has no service events button and no console button without a URL;
    // the region comes from the task ARN.
    let v = to_blocks_json(&stopped_by_user());
    let ids: Vec<String> = buttons(&v)
        .iter()
        .map(|b| b["action_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!ids.contains(&FollowUp::ServiceEvents.action_id().to_string()));
    assert!(!ids.contains(&FollowUp::OpenConsole.action_id().to_string()));
    assert!(ids.contains(&FollowUp::Rerun.action_id().to_string()));
}

#[test]
fn not_in_cloudtrail_yet_offers_to_look_again() {
    let m = blocks::stopped_by(&StopLookup::NotFoundYet, Some(&target()));
    assert_within_limits("not found yet", &m);
    let v = serde_json::to_value(&m).expect("serialises");
    let text = v.to_string();
    assert!(text.contains("5 to 15 minutes"));
    assert_eq!(
        buttons(&v)[0]["action_id"],
        FollowUp::WhoStopped.action_id()
    );
    for lookup in [StopLookup::Failed, StopLookup::NotAttempted] {
        assert_within_limits("lookup", &blocks::stopped_by(&lookup, None));
    }
}

// ---------------------------------------------------------------------------
// Recorded cases (tests/cases/*.json, from the diagnosis work)
// ---------------------------------------------------------------------------

/// A case file is a recorded Evidence bundle, or an object with an `evidence` key.
fn load_case(path: &Path) -> Evidence {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let evidence = match value.get("evidence") {
        Some(e) => e.clone(),
        None => value,
    };
    serde_json::from_value(evidence).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every recorded case, diagnosed and rendered in every format, stays within Block Kit
/// limits and keeps the JSON contract. Does nothing until `tests/cases/` exists.
#[test]
fn recorded_cases_render_within_limits() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no {}: skipping recorded cases", dir.display());
        return;
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path.display().to_string();
        let evidence = load_case(&path);
        let d = ecs_why::diagnose::diagnose(&evidence);

        let v = to_blocks_json(&d);
        let problems = limit_violations_json(&v);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
        assert_within_limits(&name, &blocks::card(&d));

        let json = to_json(&d);
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
            assert!(json.get(key).is_some(), "{name}: no `{key}` in JSON");
        }
        assert!(!to_text(&d, false).is_empty());

        let target = blocks::button_ref(&d.task);
        for logs in &evidence.logs {
            for m in blocks::log_tail(logs, target.as_ref()) {
                assert_within_limits(&format!("{name} logs"), &m);
            }
        }
        assert_within_limits(
            &format!("{name} stopped by"),
            &blocks::stopped_by(&evidence.stop_lookup, target.as_ref()),
        );
        if let Some(td) = &evidence.task_definition {
            assert_within_limits(
                &format!("{name} task definition"),
                &blocks::task_definition(td),
            );
        }
        assert_within_limits(
            &format!("{name} service events"),
            &blocks::service_events(&evidence.service_events),
        );
    }
}

#[test]
fn bidirectional_controls_from_aws_never_reach_the_card_or_the_terminal() {
    const RLO: char = '\u{202E}';
    let mut d = oom();
    d.task.stopped_reason = Some(format!("Essential container {RLO}exe.gpj{RLO} exited"));
    d.task.containers[0].reason = Some(format!("OutOfMemoryError {RLO}lleh"));
    d.evidence.push(format!("Stopped reason: \"{RLO}exe.gpj\""));
    d.title = format!("web: {RLO}killed");
    let card = serde_json::to_string(&to_blocks_json(&d)).expect("serialises");
    assert!(!card.contains(RLO), "the card carries U+202E: {card}");
    assert!(card.contains("exe.gpj"), "the text around it stays: {card}");
    let text = to_text(&d, false);
    assert!(
        !text.contains(RLO),
        "the terminal text carries U+202E: {text}"
    );
    assert!(
        text.contains("\\u{202e}exe.gpj"),
        "shown as an escape: {text}"
    );
}
