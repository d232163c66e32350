//! An incident's life across replicas, end to end (moto's SQS and DynamoDB, the local
//! fake AWS, a fake Slack, real `ecs-why serve` processes; every event delivered
//! twice): nothing lost and no parent posted twice when a replica is killed with
//! SIGKILL mid-burst or Slack answers 429 for longer than any lease; a failed
//! deployment in the header; recovered in place; steady-state noise posts nothing; a
//! recurrence links the last incident.

mod support;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use support::alerts_world::*;
use support::fake_aws::REGION;

/// Thread lines that name a stop: the first 8 characters of each task id.
fn stop_lines(thread: &[Value]) -> Vec<String> {
    thread
        .iter()
        .flat_map(|m| {
            let text = m["text"].as_str().unwrap_or_default().to_string();
            text.split("• `")
                .skip(1)
                .map(|rest| rest.chars().take(8).collect::<String>())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every stop `1..=n` is the parent or one line of the thread, exactly once.
fn assert_each_stop_once(parents: &[Value], thread: &[Value], n: u32) {
    let parent_text: Vec<String> = parents.iter().map(Value::to_string).collect();
    let lines = stop_lines(thread);
    for i in 1..=n {
        let short = task_id(i)[..8].to_string();
        let in_lines = lines.iter().filter(|id| **id == short).count();
        let in_parents = parent_text
            .iter()
            .filter(|t| t.contains(&task_id(i)))
            .count();
        assert_eq!(
            in_lines + in_parents,
            1,
            "stop {i} is the parent or a line, once: lines {lines:?}"
        );
    }
}

/// Wait until the crash loop's parent counts its `n` stops and the queue is drained;
/// then there is one parent, and every stop is the parent or one line, once.
async fn all_stops_posted_once(world: &World, logs: &impl Fn() -> String, n: u32) {
    let counted = format!("{n} tasks stopped");
    until(
        Duration::from_secs(150),
        &format!("all {n} stops are counted on the parent"),
        logs,
        || world.updated_with(&counted),
    )
    .await;
    world.drained(Duration::from_secs(60), logs).await;
    let (parents, thread) = world.posts().await;
    assert_eq!(parents.len(), 1, "one parent: {parents:#?}\n{}", logs());
    assert_each_stop_once(&parents, &thread, n);
}

/// A crash loop of `web`: stops 1..=n, exit 1.
fn crash_loop(n: u32) -> Vec<Value> {
    (1..=n)
        .map(|i| event(i, "service:web", "EssentialContainerExited", 1, None))
        .collect()
}

/// An "ECS Service Action" or "ECS Deployment State Change" event for `service` in
/// cluster prod, happening now.
fn service_event(id: &str, detail_type: &str, name: &str, service: &str, reason: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339();
    json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": "aws.ecs",
        "account": "123456789012", "time": now, "region": REGION,
        "resources": [format!("arn:aws:ecs:{REGION}:123456789012:service/prod/{service}")],
        "detail": {
            "eventType": "INFO", "eventName": name,
            "clusterArn": format!("arn:aws:ecs:{REGION}:123456789012:cluster/prod"),
            "deploymentId": "ecs-svc/7000000000000000001",
            "createdAt": now, "updatedAt": now, "reason": reason
        }
    })
}

fn logs_of(replicas: &[&Replica]) -> impl Fn() -> String {
    let logs: Vec<(String, PathBuf)> = replicas
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("replica {i}"), r.log.clone()))
        .collect();
    move || {
        logs.iter()
            .map(|(name, path)| {
                format!(
                    "--- {name} ---\n{}",
                    std::fs::read_to_string(path).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A replica killed with SIGKILL after Slack took its parent but before it learnt the
/// parent's ts, with five more stops counted and waiting: the survivor finds the parent
/// in the channel's history instead of posting a second one, and posts every stop the
/// dead replica had claimed, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_burst_loses_no_stop_and_posts_no_second_parent() {
    let world = World::start().await;
    let mut a = world.replica("a").await;
    world.slack.delay_posts(Duration::from_secs(5));
    let events = crash_loop(6);
    for e in events.iter().chain(events.iter()) {
        world.send(&e.to_string()).await;
    }
    let logs = logs_of(&[&a]);
    until(
        Duration::from_secs(30),
        "replica a posts the parent",
        &logs,
        || async { !world.slack.calls("chat.postMessage").await.is_empty() },
    )
    .await;
    // Let it count the other stops (they wait for the parent's ts), then kill it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.child.kill().expect("SIGKILL replica a");
    let _ = a.child.wait();
    world.slack.delay_posts(Duration::ZERO);
    let b = world.replica("b").await;
    let logs = logs_of(&[&a, &b]);

    all_stops_posted_once(&world, &logs, 6).await;
    assert!(
        logs().contains("the parent was posted by a replica that went away"),
        "{}",
        logs()
    );
}

/// Slack answers the parent's post with 429 and a Retry-After longer than the lease:
/// the poster is alive and keeps its lease, so the other replica waits for its parent
/// instead of posting one of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_answering_429_for_longer_than_the_lease_gets_one_parent() {
    let world = World::start().await;
    world.slack.rate_limit_for("chat.postMessage", 40, 1).await;
    let a = world.replica("a").await;
    let b = world.replica("b").await;
    let logs = logs_of(&[&a, &b]);
    let events = crash_loop(4);
    for e in events.iter().chain(events.iter()) {
        world.send(&e.to_string()).await;
    }
    all_stops_posted_once(&world, &logs, 4).await;
    assert!(
        logs().contains("waiting as Retry-After asks"),
        "Slack's 429 was met: {}",
        logs()
    );
}

/// A crash loop, then its deployment fails (the header and thread say so), then the
/// service is steady: the parent is edited in place to Recovered, its buttons go, the
/// thread says when and after how long, once although every event comes twice. Steady
/// state of a service with no incident posts nothing. The next stop opens a new
/// incident that links the last one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_shows_its_failed_deployment_then_recovers_in_place() {
    let world = World::start().await;
    let replica = world.replica("lifecycle").await;
    let logs = logs_of(&[&replica]);
    let send_twice = |e: Value| {
        let world = &world;
        async move {
            world.send(&e.to_string()).await;
            world.send(&e.to_string()).await;
        }
    };
    for e in crash_loop(3) {
        send_twice(e).await;
    }
    send_twice(service_event(
        "steady-api",
        "ECS Service Action",
        "SERVICE_STEADY_STATE",
        "api",
        "",
    ))
    .await;
    until(
        Duration::from_secs(60),
        "the parent counts 3 stops",
        &logs,
        || world.updated_with("3 tasks stopped"),
    )
    .await;

    send_twice(service_event(
        "deploy-failed",
        "ECS Deployment State Change",
        "SERVICE_DEPLOYMENT_FAILED",
        "web",
        "ECS deployment circuit breaker: tasks failed to start.",
    ))
    .await;
    until(
        Duration::from_secs(30),
        "the header says the deployment failed",
        &logs,
        || world.updated_with("Deployment failed: "),
    )
    .await;

    send_twice(service_event(
        "steady-web",
        "ECS Service Action",
        "SERVICE_STEADY_STATE",
        "web",
        "",
    ))
    .await;
    until(
        Duration::from_secs(30),
        "the parent says Recovered",
        &logs,
        || world.updated_with("Recovered: "),
    )
    .await;
    world.drained(Duration::from_secs(30), &logs).await;

    let (parents, thread) = world.posts().await;
    assert_eq!(parents.len(), 1, "steady api posts nothing: {parents:#?}");
    let thread_text: Vec<String> = thread.iter().map(Value::to_string).collect();
    let count = |needle: &str| thread_text.iter().filter(|t| t.contains(needle)).count();
    assert_eq!(count("Recovered at"), 1, "{thread_text:#?}");
    assert_eq!(
        count("Deployment ecs-svc/7000000000000000001 failed"),
        1,
        "{thread_text:#?}"
    );
    assert!(count("circuit breaker: tasks failed to start") == 1);
    let updates = world.slack.calls("chat.update").await;
    let recovered = updates
        .iter()
        .rev()
        .find(|u| u.to_string().contains("Recovered: "))
        .expect("a Recovered update")
        .to_string();
    assert!(
        recovered.contains("*recovered*") && recovered.contains("3 tasks stopped"),
        "{recovered}"
    );
    assert!(
        !recovered.contains("ecs_why_acknowledge") && !recovered.contains("ecs_why_mute"),
        "Acknowledge and Mute leave a recovered card: {recovered}"
    );
    let parent_ts = updates[0]["ts"]
        .as_str()
        .expect("the parent's ts")
        .to_string();

    // It stops again: a new incident, linking the last one.
    send_twice(event(9, "service:web", "EssentialContainerExited", 1, None)).await;
    until(
        Duration::from_secs(60),
        "a new parent is posted",
        &logs,
        || async { world.posts().await.0.len() == 2 },
    )
    .await;
    let (parents, _) = world.posts().await;
    let recurred = parents[1].to_string();
    let link = support::fake_slack::permalink(CHANNEL, &parent_ts);
    assert!(
        recurred.contains("recurred") && recurred.contains(&link),
        "the new parent links the last incident ({link}): {recurred}"
    );
}

/// An incident nobody acknowledges is escalated once, across two replicas that both
/// sweep: one reply in its thread, also sent to the channel, mentioning the route's
/// user group and user; the card says when.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_incident_is_escalated_once_across_replicas() {
    let world = World::start_with_config(
        "escalate_after = \"1s\"\nescalate_to = [\"S0ONCALL\", \"U0LEAD\"]\n",
    )
    .await;
    let a = world.replica("a").await;
    let b = world.replica("b").await;
    let logs = logs_of(&[&a, &b]);
    for e in crash_loop(2) {
        world.send(&e.to_string()).await;
        world.send(&e.to_string()).await;
    }
    let escalations = || {
        world
            .slack
            .posted()
            .into_iter()
            .filter(|p| p.to_string().contains("<!subteam^S0ONCALL> <@U0LEAD>"))
            .collect::<Vec<Value>>()
    };
    until(
        Duration::from_secs(60),
        "the incident is escalated",
        &logs,
        || async { !escalations().is_empty() },
    )
    .await;
    until(
        Duration::from_secs(30),
        "the card says it was escalated",
        &logs,
        || world.updated_with("escalated at"),
    )
    .await;
    // Both replicas sweep every 15 s: give them two more sweeps each.
    tokio::time::sleep(Duration::from_secs(32)).await;
    let posted = escalations();
    assert_eq!(posted.len(), 1, "once: {posted:#?}\n{}", logs());
    assert_eq!(posted[0]["reply_broadcast"], true, "{}", posted[0]);
    assert!(
        posted[0]["thread_ts"].is_string(),
        "in the incident's thread: {}",
        posted[0]
    );
}

/// Tasks that cannot be placed leave no stopped task: the service's placement failure
/// opens an incident of its own (once, although delivered twice), a later one is a line
/// in its thread, Acknowledge works on its card, and steady state recovers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_that_cannot_be_placed_open_an_incident_that_recovers() {
    let world = World::start().await;
    world.aws.add_service(
        "prod",
        "batch",
        &[(
            1_700_000_000.0,
            "(service batch) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 0123) has insufficient memory available.",
        )],
    );
    let replica = world.replica("placement").await;
    let logs = logs_of(&[&replica]);
    let placement = |id: &str| {
        let mut e = service_event(
            id,
            "ECS Service Action",
            "SERVICE_TASK_PLACEMENT_FAILURE",
            "batch",
            "RESOURCE:MEMORY",
        );
        e["detail"]["eventType"] = json!("ERROR");
        e["detail"]["capacityProviderArns"] = json!([format!(
            "arn:aws:ecs:{REGION}:123456789012:capacity-provider/batch-asg"
        )]);
        e.to_string()
    };
    for _ in 0..2 {
        world.send(&placement("placement-1")).await;
    }
    until(
        Duration::from_secs(60),
        "the placement failure is posted",
        &logs,
        || async { world.posts().await.0.len() == 1 },
    )
    .await;
    world.send(&placement("placement-2")).await;
    until(
        Duration::from_secs(30),
        "the second failure is a line in the thread",
        &logs,
        || async { stop_lines_of(&world.posts().await.1) == 1 },
    )
    .await;
    let (parents, _) = world.posts().await;
    let card = parents[0].to_string();
    assert!(
        card.contains("batch: no capacity to place tasks (RESOURCE:MEMORY)"),
        "{card}"
    );
    assert!(
        card.contains("batch-asg") && card.contains("Add capacity"),
        "{card}"
    );
    assert!(
        card.contains("has insufficient memory available"),
        "the service's events on the card: {card}"
    );
    let ts = parents[0]["ts"]
        .as_str()
        .expect("the parent's ts")
        .to_string();
    let value = find_button(&parents[0], "ecs_why_acknowledge").expect("Acknowledge");
    assert_eq!(
        press(&replica, "ecs_why_acknowledge", &value, &ts, "U0JANE").await,
        200
    );
    until(
        Duration::from_secs(15),
        "the card shows who acknowledged",
        &logs,
        || world.updated_with("acknowledged by <@U0JANE>"),
    )
    .await;

    world
        .send(
            &service_event(
                "steady-batch",
                "ECS Service Action",
                "SERVICE_STEADY_STATE",
                "batch",
                "",
            )
            .to_string(),
        )
        .await;
    until(
        Duration::from_secs(30),
        "the placement incident recovers",
        &logs,
        || world.updated_with("Recovered: batch: no capacity"),
    )
    .await;
    assert_eq!(world.posts().await.0.len(), 1, "one incident");
}

/// Lines of later placement failures in a thread.
fn stop_lines_of(thread: &[Value]) -> usize {
    thread
        .iter()
        .map(|m| {
            m["text"]
                .as_str()
                .unwrap_or_default()
                .matches("SERVICE_TASK_PLACEMENT_FAILURE")
                .count()
        })
        .sum()
}

/// The daily digest at its time, once across two replicas: the incident still open
/// (linked), the one that recovered with how long it took, the top causes, the mute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_digest_is_posted_once_at_its_time() {
    let world = World::start().await;
    let mut first = world.replica("before").await;
    let logs = logs_of(&[&first]);
    // Stops of the last minutes: the digest counts the last 24 hours'.
    let recent = |mut e: Value, minutes_ago: i64| {
        let at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
        e["detail"]["stoppedAt"] = json!(at.to_rfc3339());
        e.to_string()
    };
    for (i, e) in crash_loop(2).into_iter().enumerate() {
        world.send(&recent(e, 10 - i as i64)).await;
    }
    world
        .send(&recent(
            event(7, "service:api", "EssentialContainerExited", 137, None),
            5,
        ))
        .await;
    until(
        Duration::from_secs(60),
        "both incidents are posted",
        &logs,
        || async { world.posts().await.0.len() == 2 },
    )
    .await;
    let (parents, _) = world.posts().await;
    let web = parents
        .iter()
        .find(|p| {
            // Either of its two stops may have opened the incident.
            let card = p.to_string();
            card.contains(&task_id(1)) || card.contains(&task_id(2))
        })
        .expect("the web parent");
    let web_ts = web["ts"].as_str().expect("its ts").to_string();
    // Mute asks privately for how long; "Until recovered" mutes it.
    let mute = find_button(web, "ecs_why_mute").expect("Mute");
    assert_eq!(
        press(&first, "ecs_why_mute", &mute, &web_ts, "U0JANE").await,
        200
    );
    let chooser = world
        .slack
        .wait_for("chat.postEphemeral", 1, Duration::from_secs(15))
        .await;
    let until_recovered = chooser
        .iter()
        .flat_map(|c| c["blocks"].as_array().cloned().unwrap_or_default())
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["text"]["text"] == "Until recovered")
        .and_then(|e| e["value"].as_str().map(str::to_string))
        .expect("an Until recovered choice");
    assert_eq!(
        press(&first, "ecs_why_mute", &until_recovered, &web_ts, "U0JANE").await,
        200
    );
    world
        .send(
            &service_event(
                "steady-api",
                "ECS Service Action",
                "SERVICE_STEADY_STATE",
                "api",
                "",
            )
            .to_string(),
        )
        .await;
    until(
        Duration::from_secs(30),
        "api recovers and web is muted",
        &logs,
        || async {
            world.updated_with("Recovered: ").await
                && world.updated_with("muted until recovered").await
        },
    )
    .await;
    sigterm(&mut first);

    // The digest's time is now (UTC), so the replicas that start with it post it.
    let now = chrono::Utc::now().format("%H:%M").to_string();
    let config = std::fs::read_to_string(&world.config).expect("the configuration");
    std::fs::write(&world.config, format!("{config}digest = \"{now} UTC\"\n"))
        .expect("write the configuration");
    let a = world.replica("a").await;
    let b = world.replica("b").await;
    let logs = logs_of(&[&a, &b]);
    let digests = || {
        world
            .slack
            .posted()
            .into_iter()
            .filter(|p| {
                p["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("daily digest"))
            })
            .collect::<Vec<Value>>()
    };
    until(
        Duration::from_secs(45),
        "the digest is posted",
        &logs,
        || async { !digests().is_empty() },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(32)).await;
    let posted = digests();
    assert_eq!(posted.len(), 1, "once: {posted:#?}\n{}", logs());
    let text = posted[0]["text"].as_str().unwrap_or_default();
    assert!(
        posted[0].get("thread_ts").is_none_or(Value::is_null),
        "in the channel"
    );
    let web_link = support::fake_slack::permalink(CHANNEL, &web_ts);
    assert!(
        text.contains("*Still open* (1)") && text.contains(&web_link),
        "{text}"
    );
    assert!(text.contains("2 tasks stopped"), "{text}");
    assert!(
        text.contains("*Recovered in the last 24 h* (1)") && text.contains("recovered <!date^"),
        "{text}"
    );
    assert!(
        text.contains("`container-exited-app-error` 2") && text.contains("`out-of-memory` 1"),
        "{text}"
    );
    assert!(text.contains("*Mutes in force* (1)"), "{text}");
}

/// A deployment the circuit breaker failed, with no incident open: one is opened from
/// the service's newest stopped task, its header says the deployment failed and its
/// thread gives ECS's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deployment_with_no_incident_opens_one_from_its_newest_stopped_task() {
    let world = World::start().await;
    let id = task_id(30);
    let mut task = support::fake_aws::canned::task("prod", &id, "EssentialContainerExited", 1);
    task["group"] = json!("service:web");
    world.aws.add_task(task);
    world.aws.add_service("prod", "web", &[]);
    let replica = world.replica("deploy").await;
    let logs = logs_of(&[&replica]);
    let failed = service_event(
        "deploy-failed-alone",
        "ECS Deployment State Change",
        "SERVICE_DEPLOYMENT_FAILED",
        "web",
        "ECS deployment circuit breaker: tasks failed to start.",
    )
    .to_string();
    world.send(&failed).await;
    world.send(&failed).await;
    until(
        Duration::from_secs(60),
        "the incident says the deployment failed",
        &logs,
        || world.updated_with("Deployment failed: web"),
    )
    .await;
    world.drained(Duration::from_secs(30), &logs).await;
    // The circuit breaker rolls back: the card says to which revision.
    world.aws.add_deployments(
        "prod",
        "web",
        &[
            (
                "ecs-svc/7000000000000000001",
                "ACTIVE",
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:42",
            ),
            (
                "ecs-svc/6000000000000000009",
                "PRIMARY",
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:41",
            ),
        ],
    );
    let rollback = service_event(
        "rolling-back",
        "ECS Deployment State Change",
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "web",
        "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/6000000000000000009.",
    )
    .to_string();
    world.send(&rollback).await;
    world.send(&rollback).await;
    until(
        Duration::from_secs(30),
        "the card says where it rolled back to",
        &logs,
        || world.updated_with("deployment failed, rolled back to web:41"),
    )
    .await;
    world.drained(Duration::from_secs(30), &logs).await;
    let (parents, thread) = world.posts().await;
    assert_eq!(parents.len(), 1, "{parents:#?}");
    assert!(
        parents[0].to_string().contains(&id),
        "the newest stopped task's card"
    );
    let lines: Vec<String> = thread
        .iter()
        .map(Value::to_string)
        .filter(|t| t.contains("Deployment ecs-svc/7000000000000000001 failed"))
        .collect();
    assert_eq!(lines.len(), 1, "{thread:#?}");
    let rolled: Vec<&Value> = thread
        .iter()
        .filter(|t| t.to_string().contains("Rolling back to web:41"))
        .collect();
    assert_eq!(rolled.len(), 1, "{thread:#?}");
}
