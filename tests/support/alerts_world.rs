//! The world of the alert tests: moto's server for SQS and DynamoDB, the local fake AWS
//! for ECS and Logs, a fake Slack Web API, and `ecs-why serve` processes (replicas)
//! consuming one queue and sharing one state table; EventBridge events to send.
#![allow(dead_code)]

use super::fake_aws::{canned, FakeAws, REGION};
use super::fake_slack::FakeSlack;
use super::moto::{create_queue, create_state_table, Moto};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const CHANNEL: &str = "C0ONCALL";
pub const TABLE: &str = "ecs-why-state";

/// A stopped task of `group` (`service:NAME` or `family:NAME`) as EventBridge delivers it.
pub fn event(n: u32, group: &str, stop_code: &str, exit_code: i32, reason: Option<&str>) -> Value {
    let id = task_id(n);
    let mut task = canned::task("prod", &id, stop_code, exit_code);
    task["group"] = json!(group);
    task["stoppedAt"] = json!(chrono::DateTime::from_timestamp(
        (canned::STOPPED_AT as i64) + i64::from(n) * 30,
        0
    )
    .map(|t| t.to_rfc3339()));
    if let Some(reason) = reason {
        task["stoppedReason"] = json!(reason);
        task["startedBy"] = json!("ecs-svc/1234567890");
    }
    json!({
        "version": "0",
        "id": format!("event-{n}"),
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": "123456789012",
        "time": "2024-05-01T10:00:00Z",
        "region": REGION,
        "resources": [canned::task_arn("prod", &id)],
        "detail": task,
    })
}

/// Task ids that differ in their first 8 characters (what a thread line shows).
pub fn task_id(n: u32) -> String {
    format!("{:08x}{:024x}", n.wrapping_mul(0x0101_0101), n)
}

pub struct Replica {
    pub child: Child,
    pub log: PathBuf,
    pub base: String,
}

impl Replica {
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub struct World {
    pub moto: Moto,
    /// A second moto, for the services a replica reads there (ECR for the probes).
    pub probes: Option<Moto>,
    pub aws: FakeAws,
    pub slack: FakeSlack,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub config: PathBuf,
    pub dir: tempfile::TempDir,
}

impl World {
    pub async fn start() -> World {
        World::start_with_config("").await
    }

    /// A world whose `ECS_WHY_CONFIG` has `more` after its `[[alerts]]` route.
    pub async fn start_with_config(more: &str) -> World {
        let moto = Moto::start();
        let sdk = moto.sdk_config().await;
        create_state_table(&sdk, TABLE).await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue_url = create_queue(&sdk, "ecs-why-events").await;
        let aws = FakeAws::start().await;
        aws.add_cluster("prod");
        aws.add_task_definition(canned::task_definition());
        let slack = FakeSlack::start().await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = dir.path().join("ecs-why.toml");
        std::fs::write(
            &config,
            format!("[[alerts]]\nchannel = \"{CHANNEL}\"\ncluster = \"prod\"\n{more}"),
        )
        .expect("write the configuration");
        World {
            moto,
            probes: None,
            aws,
            slack,
            sqs,
            queue_url,
            config,
            dir,
        }
    }

    pub async fn replica(&self, name: &str) -> Replica {
        self.replica_with(name, &[]).await
    }

    /// A replica with more environment variables (a service's own endpoint, say).
    pub async fn replica_with(&self, name: &str, extra: &[(&str, String)]) -> Replica {
        let log = self.dir.path().join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-why"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = self
            .aws
            .configure_command(&mut command)
            .env("AWS_ENDPOINT_URL_SQS", self.moto.endpoint())
            .env("AWS_ENDPOINT_URL_DYNAMODB", self.moto.endpoint())
            .env("ECS_WHY_EVENTS_QUEUE_URL", &self.queue_url)
            .env("ECS_WHY_STATE_TABLE", TABLE)
            .env("ECS_WHY_CONFIG", &self.config)
            .env("SLACK_SIGNING_SECRET", SECRET)
            .env("SLACK_BOT_TOKEN", "xoxb-test")
            .env("SLACK_API_URL", self.slack.api_url())
            .env("ECS_WHY_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .spawn()
            .expect("start ecs-why serve");
        let addr = super::serve_log::listening_addr(&log, Duration::from_secs(20)).await;
        Replica {
            child,
            log,
            base: format!("http://{addr}"),
        }
    }

    pub async fn send(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .expect("moto accepts the message");
    }

    /// (visible, in flight) messages on the queue.
    pub async fn queue_depth(&self) -> (u64, u64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        let read = |name: A| {
            attributes
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX)
        };
        (
            read(A::ApproximateNumberOfMessages),
            read(A::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Wait (at most `limit`) until the queue has no message left, visible or in flight.
    pub async fn drained(&self, limit: Duration, logs: &impl Fn() -> String) {
        until(limit, "the queue is drained", logs, || async {
            self.queue_depth().await == (0, 0)
        })
        .await;
    }

    /// Whether some chat.update so far contains `text`.
    pub async fn updated_with(&self, text: &str) -> bool {
        self.slack
            .calls("chat.update")
            .await
            .iter()
            .any(|u| u.to_string().contains(text))
    }

    /// Posts Slack accepted in the alert channel: (parents, thread messages).
    pub async fn posts(&self) -> (Vec<Value>, Vec<Value>) {
        let posts: Vec<Value> = self
            .slack
            .posted()
            .into_iter()
            .filter(|p| p["channel"] == CHANNEL)
            .collect();
        posts
            .into_iter()
            .partition(|p| p.get("thread_ts").is_none_or(Value::is_null))
    }
}

pub async fn until<F, Fut>(limit: Duration, what: &str, logs: &impl Fn() -> String, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    super::wait::until(limit, Duration::from_millis(200), what, logs, check).await
}

pub fn sigterm(replica: &mut Replica) -> std::process::ExitStatus {
    let pid = replica.child.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Ok(Some(status)) = replica.child.try_wait() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of the button `action_id` anywhere in a posted message.
pub fn find_button(message: &Value, action_id: &str) -> Option<String> {
    match message {
        Value::Object(map) => {
            if map.get("action_id").and_then(Value::as_str) == Some(action_id) {
                return map.get("value").and_then(Value::as_str).map(str::to_string);
            }
            map.values().find_map(|v| find_button(v, action_id))
        }
        Value::Array(items) => items.iter().find_map(|v| find_button(v, action_id)),
        _ => None,
    }
}

/// An EventBridge event for `task` (as the fake's canned tasks are) in `account`.
pub fn event_for(task: Value, account: &str, n: u32) -> Value {
    let arn = task["taskArn"].as_str().unwrap_or_default().to_string();
    json!({
        "version": "0",
        "id": format!("event-{account}-{n}"),
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": account,
        "time": "2024-05-01T10:00:00Z",
        "region": REGION,
        "resources": [arn],
        "detail": task,
    })
}

/// Press the button `action_id` (its `value`) on the card at `ts` in the alert channel,
/// as `user`, through `replica`'s signed interactivity endpoint; returns the status.
pub async fn press(replica: &Replica, action_id: &str, value: &str, ts: &str, user: &str) -> u16 {
    let payload = json!({
        "type": "block_actions", "team": {"id": "T1"}, "api_app_id": "A1", "trigger_id": "1.2",
        "user": {"id": user}, "channel": {"id": CHANNEL},
        "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL},
        "message": {"ts": ts, "text": "card"},
        "actions": [{"action_id": action_id, "value": value, "type": "button", "block_id": "b"}]
    });
    let body = format!(
        "payload={}",
        url::form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    );
    let now = chrono::Utc::now().timestamp();
    reqwest::Client::new()
        .post(format!("{}/slack/interactivity", replica.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", now.to_string())
        .header(
            "x-slack-signature",
            super::fake_slack::sign(SECRET, now, &body),
        )
        .body(body)
        .send()
        .await
        .expect("the press reaches the replica")
        .status()
        .as_u16()
}
