//! Alerts end to end: EventBridge events on an SQS queue (moto's server), two
//! `ecs-why serve` processes consuming it and sharing one DynamoDB table (moto too),
//! ECS and Logs on the local fake AWS (per-service endpoint variables), and a fake
//! Slack Web API recording what is posted. Every event is delivered twice.

mod support;

use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use support::alerts_world::*;
use support::fake_aws::{canned, REGION};
use support::moto::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_post_one_parent_per_incident_and_account_for_every_stop_once() {
    let world = World::start().await;
    let mut a = world.replica("a").await;
    let b = world.replica("b").await;
    let (log_a, log_b) = (a.log.clone(), b.log.clone());
    let logs = move || {
        let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        format!("--- a ---\n{}\n--- b ---\n{}", read(&log_a), read(&log_b))
    };

    // web: four OOM kills (one incident); api: two app errors (another); a deployment
    // replacing a task and a job that exited 0 (expected: silent); one poison message.
    let mut events = Vec::new();
    for n in 1..=4 {
        events.push(event(
            n,
            "service:web",
            "EssentialContainerExited",
            137,
            None,
        ));
    }
    for n in 5..=6 {
        events.push(event(n, "service:api", "EssentialContainerExited", 1, None));
    }
    events.push(event(
        7,
        "service:web",
        "ServiceSchedulerInitiated",
        0,
        Some("Scaling activity initiated by (deployment ecs-svc/1234567890)"),
    ));
    events.push(event(
        8,
        "family:nightly",
        "EssentialContainerExited",
        0,
        None,
    ));
    for e in &events {
        world.send(&e.to_string()).await;
    }
    world.send("this is not an EventBridge event").await;
    // SIGTERM one replica mid-burst; every event arrives a second time after it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = sigterm(&mut a);
    assert!(status.success(), "SIGTERM exits 0: {status}\n{}", logs());
    for e in &events {
        world.send(&e.to_string()).await;
    }

    // The queue drains: only the poison message is left, hidden for the dead-letter queue.
    until(
        Duration::from_secs(90),
        "the queue is drained",
        &logs,
        || async { world.queue_depth().await == (0, 1) },
    )
    .await;
    until(
        Duration::from_secs(30),
        "the web parent counts 4 stops",
        &logs,
        || world.updated_with("4 tasks stopped"),
    )
    .await;

    let (parents, thread) = world.posts().await;
    assert_eq!(parents.len(), 2, "one parent per incident: {parents:#?}");
    let parent_text: Vec<String> = parents.iter().map(|p| p.to_string()).collect();
    assert!(parent_text.iter().any(|t| t.contains("out of memory")
        || t.contains("Out of memory")
        || t.contains("memory")));
    assert!(parent_text
        .iter()
        .all(|t| t.contains("ecs_why_acknowledge") && t.contains("ecs_why_mute")));
    let lines: usize = thread
        .iter()
        .map(|m| {
            m["text"]
                .as_str()
                .unwrap_or_default()
                .matches("• `")
                .count()
        })
        .sum();
    assert_eq!(
        lines, 4,
        "3 more web stops and 1 more api stop, once each: {thread:#?}"
    );
    // Every stop is accounted for exactly once: as its incident's parent or as a line.
    let line_ids: Vec<String> = thread
        .iter()
        .flat_map(|m| {
            let text = m["text"].as_str().unwrap_or_default().to_string();
            text.split("• `")
                .skip(1)
                .map(|rest| rest.chars().take(8).collect::<String>())
                .collect::<Vec<_>>()
        })
        .collect();
    for n in 1..=6 {
        let short = task_id(n)[..8].to_string();
        let in_lines = line_ids.iter().filter(|id| **id == short).count();
        let in_parents = parent_text
            .iter()
            .filter(|t| t.contains(&task_id(n)))
            .count();
        assert_eq!(
            in_lines + in_parents,
            1,
            "task {n} is a parent or a line, once: lines {line_ids:?}"
        );
    }
    let updates = world.slack.calls("chat.update").await;
    assert!(
        updates.iter().any(|u| u.to_string().contains("Crash loop")),
        "the repeating incident says crash loop"
    );
    assert_eq!(
        world.aws.calls("DescribeTasks"),
        0,
        "the event holds the task: no DescribeTasks"
    );
    assert!(
        a.logs().contains("alerts: stopped receiving"),
        "{}",
        a.logs()
    );
    // Whichever replica received the poison message logged it with its message id.
    let all_logs = logs();
    assert!(
        all_logs.contains("unreadable message left for the dead-letter queue")
            && all_logs.contains("\"message_id\""),
        "{all_logs}"
    );

    // Acknowledge on the surviving replica updates the parent in place.
    let web_parent = parents
        .iter()
        .find(|p| p.to_string().contains("service:web") || p.to_string().contains("web"))
        .expect("the web parent");
    let value = find_button(web_parent, "ecs_why_acknowledge").expect("an Acknowledge button");
    let parent_ts = updates
        .iter()
        .find(|u| u.to_string().contains("4 tasks stopped"))
        .and_then(|u| u["ts"].as_str())
        .expect("the web parent's ts")
        .to_string();
    assert_eq!(
        press(&b, "ecs_why_acknowledge", &value, &parent_ts, "U0JANE").await,
        200
    );
    until(
        Duration::from_secs(15),
        "the parent shows who acknowledged",
        &logs,
        || world.updated_with("acknowledged by <@U0JANE>"),
    )
    .await;
}

/// An alert goes through the same investigation as an ask: the parent is posted, its
/// thread gets the details an asked card's thread gets (the log tail, the task
/// definition), then the probes run and the parent is updated to Confirmed with their
/// proof (here: the image's tag is not in ECR, checked against moto's ECR).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_confirmed_by_the_probes_and_its_thread_gets_the_details() {
    let mut world = World::start().await;
    let ecr = Moto::start();
    let id = task_id(40);
    world.aws.add_log_lines(
        canned::LOG_GROUP,
        &canned::log_stream(&id),
        (canned::STOPPED_AT as i64 - 30) * 1000,
        &["pulling web:1.4.2"],
    );
    let replica = world
        .replica_with("probing", &[("AWS_ENDPOINT_URL_ECR", ecr.endpoint())])
        .await;
    world.probes = Some(ecr);
    let logs = || replica.logs();
    let task = canned::pull_failed_task("prod", &id);
    world
        .send(&event_for(task, "123456789012", 40).to_string())
        .await;

    until(
        Duration::from_secs(60),
        "the alert's parent is updated to Confirmed",
        &logs,
        || world.updated_with("confirmed"),
    )
    .await;
    let (parents, thread) = world.posts().await;
    assert_eq!(parents.len(), 1, "{parents:#?}");
    let first = parents[0].to_string();
    assert!(first.contains("likely"), "posted first as likely: {first}");
    let updates = world.slack.calls("chat.update").await;
    let confirmed = updates
        .iter()
        .map(Value::to_string)
        .find(|u| u.contains("confirmed"))
        .expect("a Confirmed update");
    assert!(
        confirmed.contains("Confirmed in the account") && confirmed.contains("web"),
        "the update carries the proof: {confirmed}"
    );
    assert!(
        confirmed.contains("ecs_why_acknowledge"),
        "the update keeps the incident's buttons: {confirmed}"
    );
    let thread_text: Vec<String> = thread.iter().map(Value::to_string).collect();
    assert!(
        thread_text.iter().any(|t| t.contains("pulling web:1.4.2")),
        "the log tail is in the alert's thread: {thread_text:#?}"
    );
    assert!(
        thread_text.iter().any(|t| t.contains("web:7")),
        "the task definition is in the alert's thread: {thread_text:#?}"
    );
}

/// An event from another account is read with the role mapped to that account, not the
/// bot's own credentials and not by its channel; its card names the account and region;
/// a route with an account glob gets that account's alerts only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_from_another_account_is_read_with_that_accounts_role() {
    const PAYMENTS: &str = "210987654321";
    const PAYMENTS_CHANNEL: &str = "C0PAYMENTS";
    let role = format!("arn:aws:iam::{PAYMENTS}:role/ecs-why-read");
    let world = World::start_with_config(&format!(
        "[accounts.\"{PAYMENTS}\"]\nname = \"payments-prod\"\nrole_arn = \"{role}\"\n\n\
         [[alerts]]\nchannel = \"{PAYMENTS_CHANNEL}\"\naccount = \"2109*\"\nregion = \"{REGION}\"\n"
    ))
    .await;
    let replica = world.replica("accounts").await;
    let logs = || replica.logs();
    let id = task_id(41);
    let mut task = canned::task("prod", &id, "EssentialContainerExited", 1);
    let arn = format!("arn:aws:ecs:{REGION}:{PAYMENTS}:task/prod/{id}");
    task["taskArn"] = json!(arn);
    world.send(&event_for(task, PAYMENTS, 41).to_string()).await;
    // A task of the bot's own account: the payments route does not get it.
    let own = canned::task("prod", &task_id(42), "EssentialContainerExited", 2);
    world
        .send(&event_for(own, "123456789012", 42).to_string())
        .await;

    let parents_in = |channel: &str| {
        world
            .slack
            .posted()
            .into_iter()
            .filter(|p| p["channel"] == channel && p.get("thread_ts").is_none_or(Value::is_null))
            .map(|p| p.to_string())
            .collect::<Vec<String>>()
    };
    until(
        Duration::from_secs(60),
        "the alerts are posted",
        &logs,
        || async { parents_in(CHANNEL).len() == 2 && parents_in(PAYMENTS_CHANNEL).len() == 1 },
    )
    .await;
    assert_eq!(world.aws.assumed_roles().first(), Some(&role), "{}", logs());
    let keys = world.aws.keys_for("DescribeTaskDefinition");
    assert!(
        keys.iter()
            .any(|k| *k == support::fake_aws::assumed_key(&role)),
        "the task definition was read with the account's role: {keys:?}"
    );
    let payments = &parents_in(PAYMENTS_CHANNEL)[0];
    assert!(
        payments.contains(&task_id(41)) && !payments.contains(&task_id(42)),
        "the account route gets its account's task only: {payments}"
    );
    assert!(
        payments.contains(&format!("payments-prod ({PAYMENTS}) · {REGION}")),
        "the card names the account and region: {payments}"
    );
    let own_card = parents_in(CHANNEL)
        .into_iter()
        .find(|p| p.contains(&task_id(42)))
        .expect("the own account's card");
    assert!(
        own_card.contains(&format!("123456789012 · {REGION}")),
        "{own_card}"
    );
}
