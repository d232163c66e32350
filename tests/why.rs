//! Integration tests of the `why` path's gathering: `Gatherer` against moto's server
//! (ECS and Logs as AWS's API shapes them) and against the local fake AWS (CloudTrail,
//! exit codes, stop codes, injected faults and call counts). Loopback only.

mod support;

use ecs_why::evidence::StopLookup;
use ecs_why::gather::{GatherError, Gatherer};
use ecs_why::task_ref::{Target, TaskRef};
use std::time::Duration;
use support::fake_aws::{canned, FakeAws, Fault};
use support::moto::Moto;

const CLUSTER: &str = "prod";

fn task_target(id: &str, cluster: &str) -> Target {
    Target {
        task: TaskRef::Task {
            task_id: id.to_string(),
        },
        cluster: Some(cluster.to_string()),
        region: None,
        account: None,
    }
}

/// A fake with task `n` (stop code, exit code) and its task definition and logs.
async fn fake_with_task(n: u32, stop_code: &str, exit_code: i32) -> (FakeAws, String) {
    let fake = FakeAws::start().await;
    let id = canned::task_id(n);
    fake.add_task(canned::task(CLUSTER, &id, stop_code, exit_code));
    fake.add_task_definition(canned::task_definition());
    let mut lines: Vec<String> = (0..70).map(|i| format!("GET /health 200 ({i})")).collect();
    lines.push("db: postgres://app:hunter2@db.internal/app password=hunter2".into());
    lines.push("using key AKIAIOSFODNN7EXAMPLE".into());
    lines.push("KeyError: 'PAYMENTS_URL'".into());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    fake.add_log_lines(
        canned::LOG_GROUP,
        &canned::log_stream(&id),
        1_714_557_000_000,
        &lines,
    );
    (fake, id)
}

async fn gatherer(fake: &FakeAws) -> Gatherer {
    Gatherer::from_sdk_config(&fake.sdk_config().await)
}

#[tokio::test]
async fn moto_ecs_and_logs_give_task_definition_and_redacted_logs() {
    let moto = Moto::start();
    let seeded = moto.seed();
    let gatherer = Gatherer::from_sdk_config(&moto.sdk_config().await);

    let evidence = gatherer
        .gather(&task_target(&seeded.task_id, &seeded.cluster))
        .await
        .expect("moto knows the seeded task");
    assert_eq!(evidence.task.arn, seeded.task_arn);
    assert_eq!(
        evidence.task.stopped_reason.as_deref(),
        Some("Scaled down by the seed script")
    );
    assert_eq!(evidence.task.region.as_deref(), Some("us-east-1"));
    let definition = evidence.task_definition.as_ref().expect("task definition");
    assert_eq!(definition.arn, seeded.task_definition_arn);
    let web = &definition.containers[0];
    assert_eq!(web.environment_names, vec!["DB_PASSWORD".to_string()]);
    assert_eq!(web.secrets[0].name, "API_KEY");
    let logs = &evidence.logs[0];
    assert_eq!(logs.log_stream.as_deref(), Some(seeded.log_stream.as_str()));
    assert_eq!(logs.lines.len(), 50, "the last 50 lines");
    assert_eq!(
        logs.lines.last().map(|l| l.message.as_str()),
        Some("Error: connect ECONNREFUSED 10.0.3.4:5432")
    );
    let json = serde_json::to_string(&evidence).expect("evidence serialises");
    assert!(
        !json.contains("plain-text-secret-value"),
        "env values never stored"
    );
    assert!(!json.contains("AKIAIOSFODNN7EXAMPLE"), "log lines redacted");
    assert!(evidence.notes.is_empty(), "{:?}", evidence.notes);
    assert_eq!(evidence.stop_lookup, StopLookup::NotAttempted);

    // "More logs" pages back from the token.
    let older = gatherer
        .more_logs(&seeded.task_arn, "web", logs.next_token.as_deref())
        .await
        .expect("older page");
    assert_eq!(older.lines.len(), 12);
    assert_eq!(older.lines[0].message, "request 0 served in 3ms");
    assert_eq!(
        older.next_token, None,
        "the start of the stream: nothing older"
    );

    // A task ECS forgot: MISSING says what to do; with the archive it is explained.
    let forgotten = task_target(&seeded.archived_task_id, &seeded.cluster);
    let err = gatherer.gather(&forgotten).await.expect_err("MISSING");
    assert!(matches!(err, GatherError::TaskMissing(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("about an hour") && text.contains("ECS_WHY_ARCHIVE_LOG_GROUP"),
        "{text}"
    );

    let archived = gatherer
        .clone()
        .with_archive_log_group(Some(seeded.archive_group.clone()))
        .gather(&forgotten)
        .await
        .expect("explained from the archive");
    assert_eq!(archived.task.containers[0].exit_code, Some(137));
    assert_eq!(
        archived.task.stop_code,
        Some("EssentialContainerExited".into())
    );
    assert!(archived.task_definition.is_some());
    assert!(
        archived
            .notes
            .iter()
            .any(|n| n.text.contains(&seeded.archive_group)),
        "{:?}",
        archived.notes
    );
}

#[tokio::test]
async fn fake_evidence_has_exit_codes_logs_and_no_secret_values() {
    let (fake, id) = fake_with_task(1, "EssentialContainerExited", 137).await;
    let evidence = gatherer(&fake)
        .await
        .gather(&task_target(&id, CLUSTER))
        .await
        .expect("gathered");
    assert_eq!(
        evidence.task.stop_code,
        Some("EssentialContainerExited".into())
    );
    assert_eq!(evidence.task.containers[0].exit_code, Some(137));
    assert!(evidence.task.containers[0]
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("OutOfMemoryError"));
    assert_eq!(evidence.logs[0].lines.len(), 50);
    assert_eq!(
        evidence.logs[0].lines.last().map(|l| l.message.as_str()),
        Some("KeyError: 'PAYMENTS_URL'")
    );
    let definition = evidence.task_definition.as_ref().expect("definition");
    assert_eq!(
        definition.containers[0].environment_names,
        ["DATABASE_URL", "LOG_LEVEL"]
    );
    let json = serde_json::to_string(&evidence).expect("serialises");
    assert!(
        !json.contains("hunter2"),
        "no secret from env or logs: {json}"
    );
    assert!(!json.contains("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(evidence.stop_lookup, StopLookup::NotAttempted);
    assert_eq!(
        fake.calls("LookupEvents"),
        0,
        "CloudTrail only for UserInitiated"
    );
    assert_eq!(
        fake.calls("DescribeServices"),
        0,
        "standalone task: no service"
    );
    assert!(evidence.notes.is_empty(), "{:?}", evidence.notes);
}

#[tokio::test]
async fn secondary_failures_become_notes_naming_the_iam_action() {
    let (fake, id) = fake_with_task(2, "UserInitiated", 143).await;
    fake.fail("GetLogEvents", Fault::AccessDenied);
    fake.fail("LookupEvents", Fault::Throttling);
    let evidence = gatherer(&fake)
        .await
        .gather(&task_target(&id, CLUSTER))
        .await
        .expect("still answers");
    assert!(evidence.logs.is_empty());
    assert_eq!(evidence.stop_lookup, StopLookup::Failed);
    let notes = evidence
        .notes
        .iter()
        .map(|n| n.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        notes.contains("logs:GetLogEvents") && notes.contains("deploy/iam-policy.json"),
        "{notes}"
    );
    assert!(
        notes.contains("cloudtrail:LookupEvents") && notes.contains("throttled"),
        "{notes}"
    );

    fake.fail("GetLogEvents", Fault::ResourceNotFound);
    fake.fail("LookupEvents", Fault::AccessDenied);
    let evidence = gatherer(&fake)
        .await
        .gather(&task_target(&id, CLUSTER))
        .await
        .expect("still answers");
    let notes = evidence
        .notes
        .iter()
        .map(|n| n.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        notes.contains("does not exist") && notes.contains(canned::LOG_GROUP),
        "{notes}"
    );
    assert!(
        notes.contains("access denied to cloudtrail:LookupEvents"),
        "{notes}"
    );
}

#[tokio::test]
async fn describe_tasks_failures_are_errors_that_say_what_to_do() {
    let (fake, _id) = fake_with_task(3, "EssentialContainerExited", 1).await;
    let g = gatherer(&fake).await;

    let err = g
        .gather(&task_target(&canned::task_id(999), CLUSTER))
        .await
        .expect_err("missing");
    assert!(matches!(err, GatherError::TaskMissing(_)) && err.is_bad_input());
    assert!(err.to_string().contains("about an hour"), "{err}");

    let err = g
        .gather(&task_target(&canned::task_id(3), "nope"))
        .await
        .expect_err("no cluster");
    assert!(matches!(err, GatherError::BadInput(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("`nope`") && text.contains("us-east-1") && text.contains("--cluster"),
        "{text}"
    );

    fake.fail("DescribeTasks", Fault::AccessDenied);
    let err = g
        .gather(&task_target(&canned::task_id(3), CLUSTER))
        .await
        .expect_err("denied");
    assert!(matches!(err, GatherError::AccessDenied(_)), "{err:?}");
    assert!(err.to_string().contains("ecs:DescribeTasks"), "{err}");
}

#[tokio::test]
async fn service_reference_picks_the_newest_stopped_task_and_events() {
    let fake = FakeAws::start().await;
    fake.add_task_definition(canned::task_definition());
    fake.add_service(
        CLUSTER,
        "checkout",
        &[
            (
                canned::STOPPED_AT - 600.0,
                "(service checkout) has reached a steady state.",
            ),
            (
                canned::STOPPED_AT,
                "(service checkout) has stopped 1 running tasks: (task x).",
            ),
        ],
    );
    for (n, offset) in [(10u32, -300.0), (11, 0.0), (12, -60.0)] {
        let mut task = canned::task(CLUSTER, &canned::task_id(n), "EssentialContainerExited", 1);
        task["group"] = "service:checkout".into();
        task["stoppedAt"] = (canned::STOPPED_AT + offset).into();
        fake.add_task(task);
    }
    let target = Target {
        task: TaskRef::Service {
            service: "checkout".into(),
        },
        cluster: Some(CLUSTER.into()),
        region: None,
        account: None,
    };
    let evidence = gatherer(&fake)
        .await
        .gather(&target)
        .await
        .expect("gathered");
    assert!(
        evidence.task.arn.ends_with(&canned::task_id(11)),
        "{}",
        evidence.task.arn
    );
    assert_eq!(evidence.service_events.len(), 2);
    assert!(
        evidence.service_events[0]
            .message
            .contains("stopped 1 running tasks"),
        "newest first"
    );
    assert_eq!(fake.calls("DescribeServices"), 1, "events fetched once");
    // Logs are missing for these tasks: a note, not a failure.
    assert!(
        evidence.notes.iter().any(|n| n.text.contains("not found")),
        "{:?}",
        evidence.notes
    );

    let err = gatherer(&fake)
        .await
        .gather(&Target {
            task: TaskRef::Service {
                service: "ghost".into(),
            },
            ..target
        })
        .await
        .expect_err("unknown service");
    assert!(
        err.is_bad_input() && err.to_string().contains("ghost"),
        "{err}"
    );
}

#[tokio::test]
async fn cached_task_definition_saves_a_call() {
    let (fake, id) = fake_with_task(4, "EssentialContainerExited", 1).await;
    let g = gatherer(&fake).await;
    g.gather(&task_target(&id, CLUSTER)).await.expect("first");
    g.gather(&task_target(&id, CLUSTER)).await.expect("second");
    assert_eq!(fake.calls("DescribeTasks"), 2);
    assert_eq!(
        fake.calls("DescribeTaskDefinition"),
        1,
        "immutable: cached by ARN"
    );
    assert_eq!(fake.calls("GetLogEvents"), 2);
    assert_eq!(g.cached_task_definitions(), 1);
}

#[tokio::test]
async fn a_failed_task_definition_read_is_not_cached() {
    let (fake, id) = fake_with_task(5, "EssentialContainerExited", 1).await;
    let g = gatherer(&fake).await;
    fake.fail("DescribeTaskDefinition", Fault::AccessDenied);
    let first = g.gather(&task_target(&id, CLUSTER)).await.expect("first");
    assert!(first.task_definition.is_none());
    assert_eq!(g.cached_task_definitions(), 0);
    fake.heal("DescribeTaskDefinition");
    let second = g.gather(&task_target(&id, CLUSTER)).await.expect("second");
    assert!(second.task_definition.is_some(), "asked again once healed");
    assert_eq!(fake.calls("DescribeTaskDefinition"), 2);
    assert_eq!(g.cached_task_definitions(), 1);
}

#[tokio::test]
async fn cloudtrail_finds_who_stopped_by_id_or_arn() {
    let fake = FakeAws::start().await;
    fake.add_task_definition(canned::task_definition());
    let by_id = canned::task_id(20);
    let by_arn = canned::task_id(21);
    let nobody = canned::task_id(22);
    for id in [&by_id, &by_arn, &nobody] {
        fake.add_task(canned::task(CLUSTER, id, "UserInitiated", 143));
    }
    let at = canned::STOPPED_AT - 3.0;
    fake.add_cloudtrail_event(canned::stop_task_event(&by_id, CLUSTER, "bad deploy", at));
    fake.add_cloudtrail_event(canned::stop_task_event(
        &canned::task_arn(CLUSTER, &by_arn),
        CLUSTER,
        "rollback",
        at,
    ));
    // Outside the window, and a different task: neither matches.
    fake.add_cloudtrail_event(canned::stop_task_event(
        &nobody,
        CLUSTER,
        "too early",
        at - 3600.0,
    ));
    fake.add_cloudtrail_event(canned::stop_task_event(
        &canned::task_id(99),
        CLUSTER,
        "other",
        at,
    ));
    let g = gatherer(&fake).await;

    let evidence = g
        .gather(&task_target(&by_id, CLUSTER))
        .await
        .expect("gathered");
    let StopLookup::Found(who) = &evidence.stop_lookup else {
        panic!("expected a match, got {:?}", evidence.stop_lookup);
    };
    assert_eq!(who.reason.as_deref(), Some("bad deploy"));
    assert_eq!(
        who.arn.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/Admin/alice")
    );
    assert_eq!(who.identity_type.as_deref(), Some("AssumedRole"));
    assert_eq!(who.source_ip.as_deref(), Some("203.0.113.7"));
    assert!(who.time.is_some() && who.user_agent.is_some());

    let evidence = g
        .gather(&task_target(&by_arn, CLUSTER))
        .await
        .expect("gathered");
    assert!(
        matches!(&evidence.stop_lookup, StopLookup::Found(w) if w.reason.as_deref() == Some("rollback"))
    );

    let evidence = g
        .gather(&task_target(&nobody, CLUSTER))
        .await
        .expect("gathered");
    assert_eq!(evidence.stop_lookup, StopLookup::NotFoundYet);
}

#[tokio::test]
async fn concurrent_lookups_of_one_task_share_one_cloudtrail_call() {
    let (fake, id) = fake_with_task(30, "UserInitiated", 143).await;
    fake.add_cloudtrail_event(canned::stop_task_event(
        &id,
        CLUSTER,
        "cleanup",
        canned::STOPPED_AT - 2.0,
    ));
    let g = gatherer(&fake).await;
    let evidence = g
        .gather(&task_target(&id, CLUSTER))
        .await
        .expect("gathered");
    fake.reset_calls();
    fake.set_latency(Duration::from_millis(200));
    let task = evidence.task.clone();
    let answers = futures::future::join_all((0..5).map(|_| g.who_stopped(&task))).await;
    assert_eq!(fake.calls("LookupEvents"), 1, "five asks, one call");
    for (lookup, notes) in &answers {
        assert!(matches!(lookup, StopLookup::Found(w) if w.reason.as_deref() == Some("cleanup")));
        assert!(notes.is_empty());
    }
    // Once finished, a new ask makes a new call (CloudTrail may have caught up).
    g.who_stopped(&task).await;
    assert_eq!(fake.calls("LookupEvents"), 2);
}

#[tokio::test]
async fn concurrent_tasks_of_one_revision_share_one_task_definition_call() {
    let fake = FakeAws::start().await;
    fake.add_task_definition(canned::task_definition());
    let ids: Vec<String> = (40..48).map(canned::task_id).collect();
    for id in &ids {
        fake.add_task(canned::task(CLUSTER, id, "EssentialContainerExited", 1));
    }
    fake.set_latency(Duration::from_millis(100));
    let g = gatherer(&fake).await;
    let targets: Vec<Target> = ids.iter().map(|id| task_target(id, CLUSTER)).collect();
    let results = futures::future::join_all(targets.iter().map(|t| g.gather(t))).await;
    for result in results {
        let evidence = result.expect("gathered");
        assert!(evidence.task_definition.is_some());
    }
    assert_eq!(
        fake.calls("DescribeTaskDefinition"),
        1,
        "eight tasks of web:7 at once, one DescribeTaskDefinition"
    );
}

#[tokio::test]
async fn missing_credentials_and_timeouts_say_what_to_do() {
    let (fake, id) = fake_with_task(40, "EssentialContainerExited", 1).await;
    let no_credentials = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(fake.endpoint())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let err = Gatherer::from_sdk_config(&no_credentials)
        .gather(&task_target(&id, CLUSTER))
        .await
        .expect_err("no credentials");
    let text = err.to_string();
    assert!(
        text.contains("credentials") && text.contains("AWS_PROFILE"),
        "{text}"
    );

    let impatient = fake
        .sdk_config()
        .await
        .into_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(200))
                .build(),
        )
        .build();
    fake.set_latency(Duration::from_secs(2));
    let err = Gatherer::from_sdk_config(&impatient)
        .gather(&task_target(&id, CLUSTER))
        .await
        .expect_err("timed out");
    assert!(matches!(err, GatherError::Aws(_)), "{err:?}");
    assert!(err.to_string().contains("did not answer in time"), "{err}");
}

/// A service `checkout` whose tasks 30..35 stopped: four with exit 1, one with 137.
fn fake_service_with_stops(fake: &FakeAws) {
    fake.add_task_definition(canned::task_definition());
    fake.add_service(CLUSTER, "checkout", &[]);
    for (n, exit) in [(30u32, 1), (31, 1), (32, 137), (33, 1), (34, 1)] {
        let mut task = canned::task(
            CLUSTER,
            &canned::task_id(n),
            "EssentialContainerExited",
            exit,
        );
        task["group"] = "service:checkout".into();
        task["stoppedAt"] = (canned::STOPPED_AT - f64::from(34 - n) * 60.0).into();
        fake.add_task(task);
    }
    // Another service's stop is not counted.
    let mut other = canned::task(CLUSTER, &canned::task_id(40), "EssentialContainerExited", 1);
    other["group"] = "service:payments".into();
    fake.add_task(other);
}

#[tokio::test]
async fn a_service_task_comes_with_its_services_recent_stops_beside_the_other_calls() {
    let fake = FakeAws::start().await;
    fake_service_with_stops(&fake);
    // The CLI does not show them: no extra calls.
    let cli = gatherer(&fake)
        .await
        .gather(&task_target(&canned::task_id(34), CLUSTER))
        .await
        .expect("gathered");
    assert_eq!(cli.recent_stops, None);
    assert_eq!(fake.calls("ListTasks"), 0);
    assert_eq!(fake.calls("DescribeTasks"), 1);
    fake.reset_calls();

    // The bot's card counts them.
    let evidence = gatherer(&fake)
        .await
        .with_recent_stops(true)
        .gather(&task_target(&canned::task_id(34), CLUSTER))
        .await
        .expect("gathered");
    let recent = evidence.recent_stops.expect("recent stops gathered");
    assert_eq!(recent.tasks.len(), 5, "{recent:?}");
    assert!(
        recent.tasks[0].arn.ends_with(&canned::task_id(34)),
        "newest first"
    );
    // One ListTasks and one DescribeTasks besides the task's own DescribeTasks.
    assert_eq!(fake.calls("ListTasks"), 1);
    assert_eq!(fake.calls("DescribeTasks"), 2);
    let diagnosis = ecs_why::diagnose::diagnose(&ecs_why::evidence::Evidence {
        recent_stops: Some(recent),
        ..evidence
    });
    assert_eq!(
        diagnosis.same_way,
        Some(ecs_why::diagnose::SameWay { same: 4, of: 5 })
    );

    // Asked by service name, the stops come with the calls that found the task.
    fake.reset_calls();
    let by_service = gatherer(&fake)
        .await
        .gather(&Target {
            task: TaskRef::Service {
                service: "checkout".into(),
            },
            cluster: Some(CLUSTER.into()),
            region: None,
            account: None,
        })
        .await
        .expect("gathered");
    assert_eq!(by_service.recent_stops.map(|r| r.tasks.len()), Some(5));
    assert_eq!(fake.calls("ListTasks"), 1);
    assert_eq!(fake.calls("DescribeTasks"), 1);
}

#[tokio::test]
async fn standalone_tasks_and_alerts_gather_no_recent_stops() {
    let (fake, id) = fake_with_task(41, "EssentialContainerExited", 1).await;
    let g = gatherer(&fake).await.with_recent_stops(true);
    let evidence = g
        .gather(&task_target(&id, CLUSTER))
        .await
        .expect("gathered");
    assert_eq!(evidence.recent_stops, None);
    assert_eq!(fake.calls("ListTasks"), 0);

    let fake = FakeAws::start().await;
    fake_service_with_stops(&fake);
    let task = gatherer(&fake)
        .await
        .with_recent_stops(true)
        .gather(&task_target(&canned::task_id(34), CLUSTER))
        .await
        .expect("gathered")
        .task;
    fake.reset_calls();
    let alerted = gatherer(&fake)
        .await
        .with_recent_stops(true)
        .gather_stopped(task)
        .await;
    assert_eq!(alerted.recent_stops, None);
    assert_eq!(fake.calls("ListTasks") + fake.calls("DescribeTasks"), 0);
}

#[tokio::test]
async fn a_tail_that_is_the_whole_stream_offers_no_older_lines() {
    let fake = FakeAws::start().await;
    let id = canned::task_id(42);
    fake.add_task(canned::task(CLUSTER, &id, "EssentialContainerExited", 1));
    fake.add_task_definition(canned::task_definition());
    fake.add_log_lines(
        canned::LOG_GROUP,
        &canned::log_stream(&id),
        1_714_557_000_000,
        &["starting", "KeyError: 'PAYMENTS_URL'"],
    );
    let evidence = gatherer(&fake)
        .await
        .gather(&task_target(&id, CLUSTER))
        .await
        .expect("gathered");
    assert_eq!(evidence.logs[0].lines.len(), 2);
    assert_eq!(evidence.logs[0].next_token, None);
}

/// The checks that need no logs (here: what changed since the previous revision) start
/// as soon as the task, its task definition and its service are known, and confirming
/// reuses what they found instead of asking again.
#[tokio::test]
async fn checks_that_need_no_logs_run_once_beside_the_gather() {
    use ecs_why::investigate::{Access, Investigator, Subject};
    let fake = FakeAws::start().await;
    let id = canned::task_id(70);
    fake.add_cluster(CLUSTER);
    fake.add_task_definition(canned::task_definition());
    let mut previous = canned::task_definition();
    previous["revision"] = 6.into();
    previous["taskDefinitionArn"] = canned::task_definition_arn("web:6").into();
    previous["containerDefinitions"][0]["image"] =
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.1".into();
    fake.add_task_definition(previous);
    let mut task = canned::task(CLUSTER, &id, "EssentialContainerExited", 1);
    task["group"] = "service:web".into();
    fake.add_task(task);
    fake.add_service(CLUSTER, "web", &[]);
    fake.add_log_lines(
        canned::LOG_GROUP,
        &canned::log_stream(&id),
        (canned::STOPPED_AT as i64 - 30) * 1000,
        &["panic: connection refused"],
    );
    let investigator =
        Investigator::from_gatherer(Gatherer::from_sdk_config(&fake.sdk_config().await));

    let confirmed = investigator
        .investigate_confirmed(&Subject::Named(task_target(&id, CLUSTER)), &Access::own())
        .await
        .expect("investigated");

    let changes = confirmed
        .diagnosis
        .probes
        .as_ref()
        .and_then(|p| p.changes.as_ref())
        .expect("what changed was checked");
    assert_eq!(
        (changes.from.as_str(), changes.to.as_str()),
        ("web:6", "web:7")
    );
    assert_eq!(
        fake.calls("DescribeTaskDefinition"),
        3,
        "the task's own, then the two the comparison reads, once: not again when confirming"
    );
}
