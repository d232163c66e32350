//! Roll back and Restart from the card, end to end: moto's ECS (a service `web` that
//! runs web:2 after web:1, and a stopped task of its deployment), STS and DynamoDB; the
//! real `ecs-why serve` (two replicas sharing one state table) receiving signed presses;
//! a fake Slack recording what is posted. Every refused press changes nothing; an
//! allowed one rolls back exactly once, even pressed twice on two replicas at once; the
//! thread says who did what and how it went, and the card's buttons give way to that.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::alerts_world::{find_button, until, Replica};
use support::fake_aws::FakeAws;
use support::fake_slack::{self, FakeSlack};
use support::moto::{create_queue, create_state_table, Moto};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const CHANNEL: &str = "C0PROD";
const OTHER_CHANNEL: &str = "C0OTHER";
const TABLE: &str = "ecs-why-state";
const ROLL_BACK: &str = "ecs_why_roll_back";
const RESTART: &str = "ecs_why_restart";
const ACTIONS: &str = "[actions]\nrole_arn = \"arn:aws:iam::123456789012:role/ecs-why-operate\"\nallowed = [\"U0ALICE\", \"S0ONCALL\"]\nchannels = [\"C0PROD\"]\nsettle = \"1s\"\n";

/// moto with the seeded service, CloudTrail on the local fake, a fake Slack, and the
/// configuration the replicas share.
struct Stage {
    moto: Moto,
    cloudtrail: FakeAws,
    slack: FakeSlack,
    dir: tempfile::TempDir,
    seeded: Value,
    queue_url: Option<String>,
}

impl Stage {
    async fn start(config: &str, with_alerts: bool) -> Stage {
        // The services moto creates run all their tasks: deployments say COMPLETED.
        let moto = Moto::start_with_env(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
        let seeded = moto.run_seed("seed_service.py");
        let sdk = moto.sdk_config().await;
        create_state_table(&sdk, TABLE).await;
        let queue_url = if with_alerts {
            Some(create_queue(&sdk, "ecs-why-events").await)
        } else {
            None
        };
        let slack = FakeSlack::start().await;
        slack.usergroup("S0ONCALL", &["U0BOB"]).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("ecs-why.toml"), config).expect("write the config");
        Stage {
            moto,
            cloudtrail: FakeAws::start().await,
            slack,
            dir,
            seeded,
            queue_url,
        }
    }

    fn seeded(&self, field: &str) -> String {
        self.seeded[field].as_str().unwrap_or_default().to_string()
    }

    async fn replica(&self, name: &str) -> Replica {
        let log = self.dir.path().join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ecs-why"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env("AWS_ENDPOINT_URL_CLOUDTRAIL", self.cloudtrail.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/ecs-why-test")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/ecs-why-test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ECS_WHY_STATE_TABLE", TABLE)
            .env("ECS_WHY_CONFIG", self.dir.path().join("ecs-why.toml"))
            .env("SLACK_SIGNING_SECRET", SECRET)
            .env("SLACK_BOT_TOKEN", "xoxb-test")
            .env("SLACK_API_URL", self.slack.api_url())
            .env("ECS_WHY_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr);
        if let Some(queue) = &self.queue_url {
            command.env("ECS_WHY_EVENTS_QUEUE_URL", queue);
        }
        let child = command.spawn().expect("start ecs-why serve");
        let addr = support::serve_log::listening_addr(&log, Duration::from_secs(20)).await;
        Replica {
            child,
            log,
            base: format!("http://{addr}"),
        }
    }

    async fn post_signed(&self, replica: &Replica, route: &str, body: String) -> u16 {
        let now = fake_slack::now();
        reqwest::Client::new()
            .post(format!("{}{route}", replica.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", now.to_string())
            .header("x-slack-signature", fake_slack::sign(SECRET, now, &body))
            .body(body)
            .send()
            .await
            .expect("the request reaches the replica")
            .status()
            .as_u16()
    }

    /// `/ecs why <task>` in the actions channel.
    async fn ask(&self, replica: &Replica, task: &str) {
        let body = fake_slack::form(&[
            ("team_id", "T1"),
            ("channel_id", CHANNEL),
            ("channel_name", "prod"),
            ("user_id", "U0ALICE"),
            ("command", "/ecs"),
            ("text", &format!("why {task}")),
            ("response_url", &self.slack.response_url("ask")),
            ("trigger_id", &fake_slack::trigger_id()),
        ]);
        assert_eq!(
            self.post_signed(replica, "/slack/commands", body).await,
            200
        );
    }

    /// `user` presses the button `action_id` carrying `value` on `card` (posted at
    /// `ts`) in `channel`; private answers go to the response URL `reply`.
    #[allow(clippy::too_many_arguments)]
    async fn press(
        &self,
        replica: &Replica,
        action_id: &str,
        value: &str,
        user: &str,
        channel: &str,
        card: &Value,
        reply: &str,
    ) -> u16 {
        let ts = card["ts"].as_str().unwrap_or_default();
        let payload = json!({
            "type": "block_actions", "team": {"id": "T1"}, "api_app_id": "A1",
            "trigger_id": fake_slack::trigger_id(),
            "user": {"id": user}, "channel": {"id": channel},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "message": {"ts": ts, "text": card["text"], "blocks": card["blocks"]},
            "response_url": self.slack.response_url(reply),
            "actions": [{"action_id": action_id, "value": value, "type": "button", "block_id": "b"}]
        });
        let body = fake_slack::form(&[("payload", &payload.to_string())]);
        self.post_signed(replica, "/slack/interactivity", body)
            .await
    }

    /// What the presser who answers at `reply` was told privately.
    async fn told(&self, reply: &str) -> String {
        let path = format!("/response/{reply}");
        self.slack
            .all_calls()
            .await
            .into_iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, body)| body["text"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn wait_told(&self, reply: &str, logs: &impl Fn() -> String) -> String {
        until(
            Duration::from_secs(20),
            &format!("an answer to {reply}"),
            logs,
            || async { !self.told(reply).await.is_empty() },
        )
        .await;
        self.told(reply).await
    }

    /// Wait (at most `seconds`) for a thread reply containing `text`.
    async fn wait_line(&self, text: &str, seconds: u64, logs: &impl Fn() -> String) {
        let what = format!("a thread line with {text}");
        until(Duration::from_secs(seconds), &what, logs, || async {
            self.thread_lines().iter().any(|l| l.contains(text))
        })
        .await;
    }

    /// Thread replies in the actions channel.
    fn thread_lines(&self) -> Vec<String> {
        self.slack
            .posted()
            .into_iter()
            .filter(|p| p["channel"] == CHANNEL && p.get("thread_ts").is_some_and(|t| !t.is_null()))
            .map(|p| p["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// `family:revision` the service runs, as moto says.
    async fn service_runs(&self) -> String {
        let ecs = aws_sdk_ecs::Client::new(&self.moto.sdk_config().await);
        let services = ecs
            .describe_services()
            .cluster("prod")
            .services("web")
            .send()
            .await
            .expect("moto describes the service");
        let arn = services.services()[0]
            .task_definition()
            .unwrap_or_default()
            .to_string();
        arn.rsplit('/').next().unwrap_or_default().to_string()
    }

    /// The newest version of the card at `ts`: its last update, else as posted.
    async fn card_now(&self, posted: &Value) -> Value {
        let ts = posted["ts"].clone();
        let updates = self.slack.calls("chat.update").await;
        match updates.into_iter().rfind(|u| u["ts"] == ts) {
            Some(mut update) => {
                update["ts"] = ts;
                update
            }
            None => posted.clone(),
        }
    }
}

/// The sum of `ecs_why_actions_total{action=…,outcome=…}` over `replicas`.
async fn actions_total(replicas: &[&Replica], action: &str, outcome: &str) -> u64 {
    let wanted = format!("ecs_why_actions_total{{action=\"{action}\",outcome=\"{outcome}\"}}");
    let mut total = 0;
    for replica in replicas {
        let text = reqwest::get(format!("{}/metrics", replica.base))
            .await
            .expect("metrics")
            .text()
            .await
            .unwrap_or_default();
        total += text
            .lines()
            .filter(|l| l.starts_with(&wanted))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}

/// Wait for the card with action buttons posted in the channel; then let the probes'
/// update land, and return the card as it is now.
async fn card_with_actions(stage: &Stage, logs: &impl Fn() -> String) -> Value {
    until(
        Duration::from_secs(30),
        "a card with action buttons",
        logs,
        || async {
            stage
                .slack
                .posted()
                .iter()
                .any(|p| p["channel"] == CHANNEL && find_button(p, ROLL_BACK).is_some())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let posted = stage
        .slack
        .posted()
        .into_iter()
        .find(|p| p["channel"] == CHANNEL && find_button(p, ROLL_BACK).is_some())
        .expect("the card");
    stage.card_now(&posted).await
}

#[tokio::test]
async fn an_allowed_press_rolls_back_once_and_the_thread_says_how_it_went() {
    let stage = Stage::start(ACTIONS, false).await;
    let a = stage.replica("a").await;
    let b = stage.replica("b").await;
    let logs = || format!("== a\n{}\n== b\n{}", a.logs(), b.logs());
    stage.ask(&a, &stage.seeded("task_arn")).await;
    let card = card_with_actions(&stage, &logs).await;

    // The card offers both actions, each behind a confirm dialog naming the change.
    let text = card.to_string();
    assert!(text.contains("Roll back to web:1"), "{text}");
    assert!(text.contains("Restart service"), "{text}");
    assert!(
        text.contains("web in prod (123456789012): web:2 → web:1 (the previous revision)."),
        "{text}"
    );
    let buttons = card["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .count();
    assert!(buttons <= 4, "the card keeps its button limit: {text}");
    let roll_back = find_button(&card, ROLL_BACK).unwrap();
    let restart = find_button(&card, RESTART).unwrap();
    assert_eq!(
        roll_back.len(),
        32,
        "the button carries an opaque id only: {roll_back}"
    );

    // Refused, each with a private reason, and nothing changes.
    stage
        .press(
            &a,
            ROLL_BACK,
            &roll_back,
            "U0MALLORY",
            CHANNEL,
            &card,
            "mallory",
        )
        .await;
    let told = stage.wait_told("mallory", &logs).await;
    assert!(told.contains("allow-list"), "{told}");
    stage
        .press(
            &a,
            ROLL_BACK,
            &roll_back,
            "U0ALICE",
            OTHER_CHANNEL,
            &card,
            "elsewhere",
        )
        .await;
    let told = stage.wait_told("elsewhere", &logs).await;
    assert!(told.contains("not on in this channel"), "{told}");
    let invented = "0123456789abcdef0123456789abcdef";
    stage
        .press(
            &a, ROLL_BACK, invented, "U0ALICE", CHANNEL, &card, "invented",
        )
        .await;
    let told = stage.wait_told("invented", &logs).await;
    assert!(told.contains("not an action ecs-why offered"), "{told}");
    // A restart's offer under the rollback's action id: the offer says what it does.
    stage
        .press(
            &a, ROLL_BACK, &restart, "U0ALICE", CHANNEL, &card, "swapped",
        )
        .await;
    let told = stage.wait_told("swapped", &logs).await;
    assert!(told.contains("not an action ecs-why offered"), "{told}");
    let tampered = json!({"cluster": "prod", "service": "web", "to": "web:1"}).to_string();
    stage
        .press(
            &a, ROLL_BACK, &tampered, "U0ALICE", CHANNEL, &card, "tampered",
        )
        .await;
    let told = stage.wait_told("tampered", &logs).await;
    assert!(told.contains("carries no offer"), "{told}");
    assert_eq!(
        stage.service_runs().await,
        "web:2",
        "a refused press changes nothing"
    );
    assert!(stage.thread_lines().iter().all(|l| !l.contains("rolled")));

    // Two allowed people press at once on two replicas (Bob through the user group).
    let (bob, alice) = tokio::join!(
        stage.press(&a, ROLL_BACK, &roll_back, "U0BOB", CHANNEL, &card, "bob"),
        stage.press(&b, ROLL_BACK, &roll_back, "U0ALICE", CHANNEL, &card, "alice"),
    );
    assert_eq!((bob, alice), (200, 200));
    stage
        .wait_line("rolled *web* back to `web:1`", 30, &logs)
        .await;
    let loser = if stage.told("bob").await.is_empty() {
        "alice"
    } else {
        "bob"
    };
    let told = stage.wait_told(loser, &logs).await;
    assert!(
        told.contains("started this rollback"),
        "the second presser is told who: {told}"
    );
    assert_eq!(stage.service_runs().await, "web:1");

    // The outcome, in the thread and on the card.
    stage.wait_line("rollback complete", 60, &logs).await;
    let lines = stage.thread_lines();
    let started: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("rolled *web*"))
        .collect();
    assert_eq!(started.len(), 1, "one rollback: {lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("rollback complete: 2 of 2 tasks running web:1, steady for 1 s")),
        "{lines:#?}"
    );
    let shown = stage.card_now(&card).await.to_string();
    assert!(shown.contains("rollback complete"), "{shown}");
    assert!(
        !shown.contains(ROLL_BACK) && !shown.contains(RESTART),
        "{shown}"
    );

    // The same press again later: refused, with who did it.
    stage
        .press(
            &b, ROLL_BACK, &roll_back, "U0ALICE", CHANNEL, &card, "again",
        )
        .await;
    let told = stage.wait_told("again", &logs).await;
    assert!(told.contains("ran this rollback at <!date^"), "{told}");
    assert_eq!(
        stage
            .thread_lines()
            .iter()
            .filter(|l| l.contains("rolled *web*"))
            .count(),
        1
    );

    // One write session, named after the person; counted once.
    let all = logs();
    assert!(
        all.contains("assumed-role/ecs-why-operate/slack-U0"),
        "{all}"
    );
    assert_eq!(actions_total(&[&a, &b], "rollback", "started").await, 1);
    assert_eq!(actions_total(&[&a, &b], "rollback", "completed").await, 1);
    assert!(actions_total(&[&a, &b], "rollback", "refused").await >= 5);
}

/// The stopped task as EventBridge delivers it.
fn stopped_event(stage: &Stage) -> String {
    let task = stage.seeded("task_arn");
    json!({
        "version": "0", "id": "event-1", "detail-type": "ECS Task State Change",
        "source": "aws.ecs", "account": "123456789012", "time": "2026-12-07T10:00:00Z",
        "region": "us-east-1", "resources": [task],
        "detail": {
            "taskArn": task,
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "taskDefinitionArn": stage.seeded("second"),
            "group": "service:web",
            "startedBy": stage.seeded("deployment"),
            "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
            "stopCode": "EssentialContainerExited",
            "stoppedReason": "Essential container in task exited",
            "stoppedAt": "2026-12-07T09:59:00Z",
            "containers": [{"name": "web", "exitCode": 1, "lastStatus": "STOPPED"}]
        }
    })
    .to_string()
}

#[tokio::test]
async fn an_alert_card_restarts_its_service_and_keeps_the_outcome() {
    let config = format!("[[alerts]]\nchannel = \"{CHANNEL}\"\ncluster = \"prod\"\n\n{ACTIONS}");
    let stage = Stage::start(&config, true).await;
    let a = stage.replica("a").await;
    let logs = || a.logs();
    let sqs = aws_sdk_sqs::Client::new(&stage.moto.sdk_config().await);
    sqs.send_message()
        .queue_url(stage.queue_url.clone().unwrap_or_default())
        .message_body(stopped_event(&stage))
        .send()
        .await
        .expect("moto takes the event");
    let card = card_with_actions(&stage, &logs).await;
    let text = card.to_string();
    assert!(
        text.contains("ecs_why_acknowledge"),
        "an alert card: {text}"
    );
    let restart = find_button(&card, RESTART).expect("a restart button");
    stage
        .press(&a, RESTART, &restart, "U0ALICE", CHANNEL, &card, "alice")
        .await;
    stage.wait_line("restart complete", 60, &logs).await;
    let lines = stage.thread_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("<@U0ALICE> restarted *web* (`web:2`)")),
        "{lines:#?}"
    );
    // The incident's card keeps the outcome (its stored copy changed too), without the
    // action buttons, and still with Acknowledge.
    let shown = stage.card_now(&card).await.to_string();
    assert!(shown.contains("restart complete"), "{shown}");
    assert!(!shown.contains(RESTART), "{shown}");
    assert!(shown.contains("ecs_why_acknowledge"), "{shown}");
    assert_eq!(
        stage.service_runs().await,
        "web:2",
        "a restart keeps the revision"
    );
    assert!(told_nothing(&stage, "alice").await);
}

async fn told_nothing(stage: &Stage, reply: &str) -> bool {
    stage.told(reply).await.is_empty()
}

#[tokio::test]
async fn without_actions_no_card_has_an_action_button() {
    let stage = Stage::start("", false).await;
    let a = stage.replica("a").await;
    let logs = || a.logs();
    stage.ask(&a, &stage.seeded("task_arn")).await;
    until(Duration::from_secs(30), "the card", &logs, || async {
        stage.slack.posted().iter().any(|p| p["channel"] == CHANNEL)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for call in stage.slack.all_calls().await {
        let text = call.1.to_string();
        assert!(
            !text.contains(ROLL_BACK) && !text.contains(RESTART),
            "{text}"
        );
    }
    let card = stage.slack.posted()[0].clone();
    let forged = "0123456789abcdef0123456789abcdef";
    stage
        .press(&a, ROLL_BACK, forged, "U0ALICE", CHANNEL, &card, "forged")
        .await;
    let told = stage.wait_told("forged", &logs).await;
    assert!(told.contains("actions are off"), "{told}");
    assert_eq!(stage.service_runs().await, "web:2");
}

#[tokio::test]
async fn a_replica_killed_while_it_watches_has_its_action_finished_by_another() {
    // A long settle keeps the first replica watching when it is killed.
    let config = ACTIONS.replace("settle = \"1s\"", "settle = \"20s\"");
    let stage = Stage::start(&config, false).await;
    let a = stage.replica("a").await;
    let b = stage.replica("b").await;
    let logs = || format!("== a\n{}\n== b\n{}", a.logs(), b.logs());
    stage.ask(&a, &stage.seeded("task_arn")).await;
    let card = card_with_actions(&stage, &logs).await;
    let roll_back = find_button(&card, ROLL_BACK).unwrap();
    stage
        .press(
            &a, ROLL_BACK, &roll_back, "U0ALICE", CHANNEL, &card, "alice",
        )
        .await;
    stage
        .wait_line("rolled *web* back to `web:1`", 30, &logs)
        .await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &a.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success(), "SIGKILL the replica");
    assert!(
        stage
            .thread_lines()
            .iter()
            .all(|l| !l.contains("rollback complete")),
        "killed mid-watch"
    );

    // While its hold lasts, the action is still Alice's.
    stage
        .press(
            &b,
            ROLL_BACK,
            &roll_back,
            "U0BOB",
            CHANNEL,
            &card,
            "bob-early",
        )
        .await;
    let told = stage.wait_told("bob-early", &logs).await;
    assert!(told.contains("<@U0ALICE> started this rollback"), "{told}");

    // Then, with nobody pressing, the other replica's sweep takes it over once the hold
    // runs out: no second UpdateService, the outcome is told once.
    stage.wait_line("is watched again", 90, &logs).await;
    stage.wait_line("rollback complete", 90, &logs).await;
    let lines = stage.thread_lines();
    assert!(
        lines.iter().any(|l| l.contains(
            "<@U0ALICE>'s rollback of *web* is watched again (the replica doing it went away)"
        )),
        "{lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("rolled *web*")).count(),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("rollback complete"))
            .count(),
        1,
        "{lines:#?}"
    );
    assert_eq!(stage.service_runs().await, "web:1");
    assert_eq!(actions_total(&[&b], "rollback", "started").await, 0);
    assert_eq!(actions_total(&[&b], "rollback", "resumed").await, 1);
}
