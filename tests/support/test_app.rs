//! The one spawned bot the Slack tests talk to: the real server on a loopback port (port
//! 0), built around any investigator, against a fake Slack Web API, with requests signed
//! as Slack signs them ([`super::fake_slack::sign`]).
#![allow(dead_code)]

use super::fake_slack::{form, now, sign, FakeSlack};
use ecs_why::config::Settings;
use ecs_why::follow_up::{ButtonRef, FollowUp};
use ecs_why::investigate::Investigate;
use ecs_why::slack;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The signing secret every test app is configured with.
pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// A running bot and the fake Slack it posts to.
pub struct TestApp {
    pub base: String,
    pub fake: FakeSlack,
    pub bot: Arc<slack::bot::Bot>,
    pub shutdown: ecs_why::shutdown::Shutdown,
    pub http: reqwest::Client,
}

/// Where tasks are looked for when a command names none: `ECS_WHY_DEFAULT_CLUSTER` and
/// `AWS_REGION`.
#[derive(Clone, Copy)]
pub struct Defaults {
    pub cluster: &'static str,
    pub region: &'static str,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            cluster: "prod",
            region: "eu-west-1",
        }
    }
}

/// Spawn the bot around `investigator` against `fake`, with `defaults` and whatever
/// `tune` changes in the settings; with `aws`, readiness also waits for those
/// credentials to pass STS GetCallerIdentity (as `serve` does).
pub async fn spawn_on(
    fake: FakeSlack,
    investigator: Arc<dyn Investigate>,
    defaults: Defaults,
    aws: Option<ecs_why::gather::Gatherer>,
    tune: impl FnOnce(&mut Settings),
) -> TestApp {
    let vars: HashMap<&str, String> = HashMap::from([
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
        ("SLACK_BOT_TOKEN", "xoxb-test".to_string()),
        ("SLACK_API_URL", fake.api_url()),
        ("ECS_WHY_LISTEN", "127.0.0.1:0".to_string()),
        ("ECS_WHY_DEFAULT_CLUSTER", defaults.cluster.to_string()),
        ("AWS_REGION", defaults.region.to_string()),
    ]);
    let mut settings = Settings::from_vars(|k| vars.get(k).cloned()).expect("test settings");
    tune(&mut settings);
    let app = slack::build_with(settings, investigator)
        .await
        .expect("the app builds");
    if let Some(gatherer) = aws {
        app.verify_aws(gatherer);
    }
    let base = format!("http://127.0.0.1:{}", app.port());
    let bot = app.bot();
    let shutdown = app.shutdown();
    tokio::spawn(app.run());
    TestApp {
        base,
        fake,
        bot,
        shutdown,
        http: reqwest::Client::new(),
    }
}

/// [`spawn_on`] a new fake Slack, without AWS readiness.
pub async fn spawn(
    investigator: Arc<dyn Investigate>,
    defaults: Defaults,
    tune: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_on(FakeSlack::start().await, investigator, defaults, None, tune).await
}

impl TestApp {
    /// POST `body` to `route`, signed with `secret` at `ts`.
    pub async fn post_signed_at(
        &self,
        route: &str,
        content_type: &str,
        body: String,
        ts: i64,
        secret: &str,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{route}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(secret, ts, &body))
            .body(body)
            .send()
            .await
            .expect("the bot answers")
    }

    /// POST `body` to `route`, signed now with the app's secret; the status.
    pub async fn post_signed(&self, route: &str, content_type: &str, body: String) -> u16 {
        self.post_signed_at(route, content_type, body, now(), SECRET)
            .await
            .status()
            .as_u16()
    }

    /// `/ecs TEXT` typed by `user` in `channel` (id, name).
    pub async fn command_in(&self, text: &str, user: &str, channel: (&str, &str)) {
        let body = form(&[
            ("team_id", "T1"),
            ("channel_id", channel.0),
            ("channel_name", channel.1),
            ("user_id", user),
            ("command", "/ecs"),
            ("text", text),
            ("response_url", &self.fake.response_url(user)),
            ("trigger_id", &super::fake_slack::trigger_id()),
        ]);
        let status = self
            .post_signed("/slack/commands", "application/x-www-form-urlencoded", body)
            .await;
        assert_eq!(status, 200);
    }

    /// `@ecs-why TEXT` by U2 in `channel`.
    pub async fn mention_in(&self, text: &str, channel: &str) {
        let body = json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
            "event_id": "Ev1", "event_time": 1700000500,
            "event": {"type": "app_mention", "user": "U2", "channel": channel, "text": text,
                      "ts": "1700000500.000200", "event_ts": "1700000500.000200"}});
        let status = self
            .post_signed("/slack/events", "application/json", body.to_string())
            .await;
        assert_eq!(status, 200);
    }

    /// U3 presses the `kind` button carrying `button` on a card in `channel` (id, name).
    pub async fn press_in(&self, kind: FollowUp, button: &ButtonRef, channel: (&str, &str)) {
        let payload = json!({
            "type": "block_actions", "team": {"id": "T1"}, "api_app_id": "A1",
            "trigger_id": super::fake_slack::trigger_id(), "user": {"id": "U3"},
            "channel": {"id": channel.0, "name": channel.1},
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel.0},
            "message": {"ts": "1700000000.000100", "text": "card"},
            "response_url": self.fake.response_url("press"),
            "actions": [{"action_id": kind.action_id(), "value": button.encode(),
                         "type": "button", "block_id": "b"}]
        });
        let body = form(&[("payload", &payload.to_string())]);
        let status = self
            .post_signed(
                "/slack/interactivity",
                "application/x-www-form-urlencoded",
                body,
            )
            .await;
        assert_eq!(status, 200);
    }
}
