//! The Slack bot end to end: the real server on a loopback port, requests signed as
//! Slack signs them, and a fake Slack Web API recording what the bot posts.
//!
//! Most tests use a fake investigator (`support::fake_investigator::FakeInvestigator`) to pin down the Slack
//! behaviour: signatures, acks, cards and threads, buttons, mentions, fallbacks, rate
//! limits, coalescing and Socket Mode dispatch. The `end_to_end` tests run the real
//! investigator (`Gatherer` -> `diagnose` -> `render::blocks`) against the local fake AWS.

mod support;

use ecs_why::follow_up::{ButtonRef, FollowUp};
use ecs_why::investigate::{Investigate, Investigator};
use ecs_why::slack::{self, Settings};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fake_aws::{canned, FakeAws, Fault};
use support::fake_investigator::{marker, FakeInvestigator, DENIED_TASK};
use support::fake_slack::{form, now, sign, FakeSlack};
use support::test_app::{Defaults, TestApp, SECRET};

const TASK: &str = "0123456789abcdef0123456789abcdef";
const WAIT: Duration = Duration::from_secs(5);

/// The shared test app, with this file's fake investigator at hand.
struct App {
    inner: TestApp,
    engine: Arc<FakeInvestigator>,
}

impl std::ops::Deref for App {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.inner
    }
}

async fn spawn_app_with(tune: impl FnOnce(&mut Settings)) -> App {
    let engine = Arc::new(FakeInvestigator::default());
    spawn_app_around(engine.clone(), engine, tune).await
}

async fn spawn_app_around(
    investigator: Arc<dyn Investigate>,
    fake_engine: Arc<FakeInvestigator>,
    tune: impl FnOnce(&mut Settings),
) -> App {
    spawn_app_on(
        FakeSlack::start().await,
        investigator,
        fake_engine,
        None,
        tune,
    )
    .await
}

/// The app against an already started fake Slack; with `aws`, readiness also waits for
/// those credentials to pass STS GetCallerIdentity (as `serve` does).
async fn spawn_app_on(
    fake: FakeSlack,
    investigator: Arc<dyn Investigate>,
    fake_engine: Arc<FakeInvestigator>,
    aws: Option<ecs_why::gather::Gatherer>,
    tune: impl FnOnce(&mut Settings),
) -> App {
    let inner =
        support::test_app::spawn_on(fake, investigator, Defaults::default(), aws, tune).await;
    App {
        inner,
        engine: fake_engine,
    }
}

async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

impl App {
    async fn post_signed(
        &self,
        route: &str,
        content_type: &str,
        body: String,
        ts: i64,
        secret: &str,
    ) -> reqwest::Response {
        self.post_signed_at(route, content_type, body, ts, secret)
            .await
    }

    fn command_body(&self, text: &str, user: &str, channel: &str) -> String {
        form(&[
            ("token", "deprecated"),
            ("team_id", "T1"),
            ("channel_id", channel),
            ("channel_name", "ops"),
            ("user_id", user),
            ("command", "/ecs"),
            ("text", text),
            (
                "response_url",
                &self.fake.response_url(&format!("{user}-{channel}")),
            ),
            ("trigger_id", &support::fake_slack::trigger_id()),
        ])
    }

    async fn command_as(&self, text: &str, user: &str, channel: &str) -> reqwest::Response {
        let body = self.command_body(text, user, channel);
        self.post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body,
            now(),
            SECRET,
        )
        .await
    }

    async fn command(&self, text: &str) -> Value {
        let response = self.command_as(text, "U1", "C1").await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn press(&self, action_id: &str, value: &str) -> reqwest::Response {
        let payload = json!({
            "type": "block_actions",
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "trigger_id": support::fake_slack::trigger_id(),
            "user": {"id": "U1"},
            "channel": {"id": "C1"},
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1"},
            "message": {"ts": "1700000000.000100", "text": "card"},
            "response_url": self.fake.response_url("press"),
            "actions": [{"action_id": action_id, "value": value, "type": "button", "block_id": "b"}]
        });
        let body = form(&[("payload", &payload.to_string())]);
        self.post_signed(
            "/slack/interactivity",
            "application/x-www-form-urlencoded",
            body,
            now(),
            SECRET,
        )
        .await
    }

    async fn event(&self, event: Value, retry: Option<&str>) -> reqwest::Response {
        let body = event.to_string();
        let ts = now();
        let mut request = self
            .http
            .post(format!("{}/slack/events", self.base))
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SECRET, ts, &body))
            .body(body);
        if let Some(n) = retry {
            request = request
                .header("x-slack-retry-num", n)
                .header("x-slack-retry-reason", "http_timeout");
        }
        request.send().await.unwrap()
    }
}

fn button() -> ButtonRef {
    ButtonRef {
        region: "eu-west-1".into(),
        cluster: "prod".into(),
        task_arn: format!("arn:aws:ecs:eu-west-1:123456789012:task/prod/{TASK}"),
        container: Some("web".into()),
        page_token: Some("f/123".into()),
        incident: None,
        mute: None,
    }
}

fn mention(event_id: &str, text: &str, thread_ts: Option<&str>) -> Value {
    let mut event = json!({
        "type": "app_mention", "user": "U2", "channel": "C7", "text": text,
        "ts": "1700000500.000200", "event_ts": "1700000500.000200"
    });
    if let Some(t) = thread_ts {
        event["thread_ts"] = json!(t);
    }
    json!({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
           "event_id": event_id, "event_time": 1700000500, "event": event})
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn forged_and_stale_signatures_are_refused_and_nothing_happens() {
    let app = spawn_app().await;
    let body = app.command_body(&format!("why {TASK}"), "U1", "C1");
    let forged = app
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body.clone(),
            now(),
            "not-the-secret",
        )
        .await;
    assert_eq!(forged.status(), 401);
    let stale = app
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body.clone(),
            now() - 301,
            SECRET,
        )
        .await;
    assert_eq!(stale.status(), 401);
    let unsigned = app
        .http
        .post(format!("{}/slack/commands", app.base))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 400);
    // A body altered after signing.
    let ts = now();
    let tampered = app
        .http
        .post(format!("{}/slack/events", app.base))
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SECRET, ts, "{}"))
        .body(mention("Ev0", &format!("<@UBOT> why {TASK}"), None).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    for route in ["/slack/interactivity", "/slack/events"] {
        let r = app
            .post_signed(route, "application/json", "{}".into(), now(), "wrong")
            .await;
        assert_eq!(r.status(), 401, "{route}");
    }
    settle().await;
    assert_eq!(app.engine.diagnoses.load(Ordering::SeqCst), 0);
    assert!(app.fake.calls("chat.postMessage").await.is_empty());
    assert!(app.fake.calls("response").await.is_empty());
}

#[tokio::test]
async fn why_acks_at_once_then_posts_the_card_and_threads_the_details() {
    let app = spawn_app().await;
    *app.engine.delay.lock().unwrap() = Duration::from_millis(800);
    let started = Instant::now();
    let ack = app.command(&format!("why {TASK}")).await;
    let ack_time = started.elapsed();
    assert!(
        ack_time < Duration::from_millis(500),
        "ack took {ack_time:?}"
    );
    assert_eq!(ack["response_type"], "ephemeral");
    let ack_text = ack["text"].as_str().unwrap();
    assert!(ack_text.starts_with("Looking at task"), "{ack_text}");
    assert!(
        ack_text.contains("prod") && ack_text.contains("eu-west-1"),
        "channel defaults applied: {ack_text}"
    );

    let posts = app.fake.wait_for("chat.postMessage", 3, WAIT).await;
    let card = &posts[0];
    assert_eq!(card["channel"], "C1");
    assert_eq!(card["text"], format!("card for {TASK}"));
    assert!(
        card.get("thread_ts").is_none(),
        "the card goes in the channel"
    );
    let card_ts = "1700000000.000100";
    for reply in &posts[1..] {
        assert_eq!(reply["channel"], "C1");
        assert_eq!(
            reply["thread_ts"], card_ts,
            "details are thread replies: {reply}"
        );
    }
    assert!(
        posts[1]
            .to_string()
            .contains(&format!("log tail of {TASK}")),
        "the first reply is the log tail: {}",
        posts[1]
    );
}

#[tokio::test]
async fn every_button() {
    let app = spawn_app().await;
    let value = button().encode();
    for kind in [
        FollowUp::MoreLogs,
        FollowUp::WhoStopped,
        FollowUp::TaskDefinition,
        FollowUp::ServiceEvents,
    ] {
        let r = app.press(kind.action_id(), &value).await;
        assert_eq!(r.status(), 200);
    }
    let posts = app.fake.wait_for("chat.postMessage", 4, WAIT).await;
    for kind in [
        FollowUp::MoreLogs,
        FollowUp::WhoStopped,
        FollowUp::TaskDefinition,
        FollowUp::ServiceEvents,
    ] {
        let found = marker(kind, &button().task_arn);
        let post = posts
            .iter()
            .find(|p| p.to_string().contains(&found))
            .unwrap_or_else(|| panic!("no answer for {kind:?}: {posts:#?}"));
        assert_eq!(
            post["thread_ts"], "1700000000.000100",
            "answers go in the card's thread"
        );
        assert_eq!(post["channel"], "C1");
    }

    // Re-run updates the card in place.
    assert_eq!(
        app.press(FollowUp::Rerun.action_id(), &value)
            .await
            .status(),
        200
    );
    let updates = app.fake.wait_for("chat.update", 1, WAIT).await;
    assert_eq!(updates[0]["ts"], "1700000000.000100");
    assert_eq!(updates[0]["channel"], "C1");
    assert_eq!(updates[0]["text"], format!("card for {TASK}"));

    // Open in console is a link: ack, nothing else.
    let before = app.fake.all_calls().await.len();
    assert_eq!(
        app.press(FollowUp::OpenConsole.action_id(), "")
            .await
            .status(),
        200
    );
    settle().await;
    assert_eq!(app.fake.all_calls().await.len(), before);

    // A tampered value: an ephemeral error, no AWS work.
    let follow_ups = app.engine.follow_ups.lock().unwrap().len();
    let r = app
        .press(
            FollowUp::WhoStopped.action_id(),
            r#"{"r":"eu-west-1","c":"prod<!channel>","t":"x"}"#,
        )
        .await;
    assert_eq!(r.status(), 200);
    let responses = app.fake.wait_for("response", 1, WAIT).await;
    assert_eq!(responses[0]["response_type"], "ephemeral");
    assert!(
        responses[0]["text"]
            .as_str()
            .unwrap()
            .contains("could not be used"),
        "{}",
        responses[0]
    );
    assert_eq!(app.engine.follow_ups.lock().unwrap().len(), follow_ups);
}

#[tokio::test]
async fn a_mention_in_a_thread_is_answered_in_that_thread() {
    let app = spawn_app().await;
    let r = app
        .event(
            mention(
                "Ev1",
                &format!("<@UBOT> why {TASK}"),
                Some("1699999999.000001"),
            ),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let posts = app.fake.wait_for("chat.postMessage", 3, WAIT).await;
    for post in &posts {
        assert_eq!(post["channel"], "C7");
        assert_eq!(post["thread_ts"], "1699999999.000001", "{post}");
    }
    // Slack retries the same event: it is not answered twice.
    let r = app
        .event(
            mention(
                "Ev1",
                &format!("<@UBOT> why {TASK}"),
                Some("1699999999.000001"),
            ),
            Some("1"),
        )
        .await;
    assert_eq!(r.status(), 200);
    settle().await;
    assert_eq!(app.fake.calls("chat.postMessage").await.len(), 3);
    assert_eq!(app.engine.diagnoses.load(Ordering::SeqCst), 1);

    // Not in a thread: the answer starts a thread under the mention.
    app.event(
        mention("Ev2", "<@UBOT> why 11111111111111111111111111111111", None),
        None,
    )
    .await;
    let posts = app.fake.wait_for("chat.postMessage", 6, WAIT).await;
    assert!(posts[3..]
        .iter()
        .all(|p| p["thread_ts"] == "1700000500.000200"));

    // Bots' own messages are ignored.
    let mut from_bot = mention("Ev3", &format!("<@UBOT> why {TASK}"), None);
    from_bot["event"]["bot_id"] = json!("BBOT");
    app.event(from_bot, None).await;
    settle().await;
    assert_eq!(app.fake.calls("chat.postMessage").await.len(), 6);
}

/// The body limit holds before the signature is even checked: 413, and no work.
#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let app = spawn_app().await;
    let text = "x".repeat(300 * 1024);
    let body = app.command_body(&text, "U1", "C1");
    let r = app
        .post_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body,
            now(),
            SECRET,
        )
        .await;
    assert_eq!(r.status(), 413);
    settle().await;
    assert!(app.fake.calls("response").await.is_empty());
    assert!(app.fake.calls("chat.postMessage").await.is_empty());
}

#[tokio::test]
async fn url_verification_answers_the_challenge() {
    let app = spawn_app().await;
    let r = app
        .event(json!({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}), None)
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

#[tokio::test]
async fn not_in_channel_falls_back_to_response_url_with_an_invite_hint() {
    let app = spawn_app().await;
    app.fake.not_in_channel("CPRIVATE").await;
    let r = app
        .command_as(&format!("why {TASK}"), "U1", "CPRIVATE")
        .await;
    assert_eq!(r.status(), 200);
    let responses = app.fake.wait_for("response", 2, WAIT).await;
    assert_eq!(responses[0]["response_type"], "in_channel");
    assert_eq!(responses[0]["text"], format!("card for {TASK}"));
    assert_eq!(responses[1]["response_type"], "ephemeral");
    assert!(responses[1]["text"]
        .as_str()
        .unwrap()
        .contains("/invite @ecs-why"));
}

#[tokio::test]
async fn rate_limited_posts_are_retried_after_retry_after() {
    let app = spawn_app().await;
    app.fake.rate_limit("chat.postMessage", 1).await;
    let started = Instant::now();
    app.command(&format!("why {TASK}")).await;
    let posts = app.fake.wait_for("chat.postMessage", 4, WAIT).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    // The refused attempt and its retry carry the same card.
    assert_eq!(posts[0]["text"], posts[1]["text"]);
    assert_eq!(posts[1]["text"], format!("card for {TASK}"));
    assert!(posts[2..].iter().all(|p| p["thread_ts"].is_string()));
}

#[tokio::test]
async fn bad_input_is_answered_clearly() {
    let app = spawn_app().await;
    let empty = app.command("").await;
    assert!(empty["text"].as_str().unwrap().contains("/ecs why TASK"));
    assert_eq!(empty["response_type"], "ephemeral");
    let help = app.command("help").await;
    assert_eq!(help["text"], empty["text"]);

    let garbage = app.command("frobnicate <!channel>").await;
    let text = garbage["text"].as_str().unwrap();
    assert!(
        text.contains("is not a command") && text.contains("/ecs why TASK"),
        "{text}"
    );

    let no_task = app.command("why").await;
    assert!(no_task["text"].as_str().unwrap().contains("needs a task"));

    let huge = app.command(&"x".repeat(5000)).await;
    assert!(huge["text"].as_str().unwrap().contains("5000 characters"));

    let not_a_task = app.command("why <!channel> <@U999>").await;
    let text = not_a_task["text"].as_str().unwrap();
    assert!(
        !text.contains("<!channel>") && !text.contains("<@U999>"),
        "user input is escaped: {text}"
    );

    settle().await;
    assert_eq!(app.engine.diagnoses.load(Ordering::SeqCst), 0);
    assert!(app.fake.calls("chat.postMessage").await.is_empty());
}

#[tokio::test]
async fn aws_errors_reach_the_asker_with_the_fix() {
    let app = spawn_app().await;
    app.command(&format!("why {DENIED_TASK}")).await;
    let responses = app.fake.wait_for("response", 1, WAIT).await;
    assert_eq!(responses[0]["response_type"], "ephemeral");
    let text = responses[0]["text"].as_str().unwrap();
    assert!(
        text.contains("ecs:DescribeTasks") && text.contains("deploy/iam-policy.json"),
        "{text}"
    );
    assert!(app.fake.calls("chat.postMessage").await.is_empty());
}

/// `(user, channel)` pairs all asking `why TASK` at once; every ack must be 200.
async fn ask_together(app: &App, askers: &[(String, String)]) {
    let asks = askers.iter().map(|(user, channel)| async move {
        app.command_as(&format!("why {TASK}"), user, channel).await
    });
    for r in futures::future::join_all(asks).await {
        assert_eq!(r.status(), 200);
    }
}

fn askers(n: usize, channel: &str) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("U{channel}{i}"), channel.to_string()))
        .collect()
}

/// Cards: posts in a channel rather than in a thread.
fn cards(posts: &[Value]) -> Vec<&Value> {
    posts
        .iter()
        .filter(|p| p.get("thread_ts").is_none())
        .collect()
}

#[tokio::test]
async fn a_storm_in_one_channel_posts_one_card_and_points_everyone_else_at_it() {
    let app = spawn_app().await;
    *app.engine.delay.lock().unwrap() = Duration::from_millis(300);
    let n = 8;
    ask_together(&app, &askers(n, "C1")).await;

    let pointers = app.fake.wait_for("response", n - 1, WAIT).await;
    app.fake.wait_for("chat.postMessage", 3, WAIT).await;
    settle().await;
    assert_eq!(app.engine.diagnoses.load(Ordering::SeqCst), 1);
    let posts = app.fake.calls("chat.postMessage").await;
    let cards = cards(&posts);
    assert_eq!(cards.len(), 1, "one card in the channel: {posts:#?}");
    assert_eq!(cards[0]["channel"], "C1");
    assert_eq!(posts.len(), 3, "the card and its two thread replies, once");
    let link = support::fake_slack::permalink("C1", "1700000000.000100");
    assert_eq!(app.fake.calls("response").await.len(), n - 1);
    for pointer in &pointers {
        assert_eq!(pointer["response_type"], "ephemeral");
        let text = pointer["text"].as_str().unwrap();
        assert!(text.contains(&link), "points at the card: {text}");
        assert!(
            text.contains("answered just above in this channel"),
            "{text}"
        );
    }
    assert_eq!(
        app.fake.calls("chat.getPermalink").await.len(),
        1,
        "the permalink is looked up once and shared"
    );
}

#[tokio::test]
async fn a_storm_across_two_channels_posts_one_card_in_each() {
    let app = spawn_app().await;
    *app.engine.delay.lock().unwrap() = Duration::from_millis(300);
    let mut everyone = askers(4, "C1");
    everyone.extend(askers(4, "C2"));
    ask_together(&app, &everyone).await;

    let pointers = app.fake.wait_for("response", 6, WAIT).await;
    app.fake.wait_for("chat.postMessage", 6, WAIT).await;
    settle().await;
    assert_eq!(app.engine.diagnoses.load(Ordering::SeqCst), 1);
    let posts = app.fake.calls("chat.postMessage").await;
    let cards = cards(&posts);
    let mut channels: Vec<&str> = cards
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    channels.sort();
    assert_eq!(channels, ["C1", "C2"], "one card per channel: {posts:#?}");
    assert_eq!(app.fake.calls("response").await.len(), 6);
    for channel in ["C1", "C2"] {
        // The fake's permalinks name the channel: each pointer links to its own channel.
        let link = support::fake_slack::permalink(channel, "");
        let pointing = pointers
            .iter()
            .filter(|p| p["text"].as_str().unwrap().contains(&link))
            .count();
        assert_eq!(pointing, 3, "the other askers in {channel} see its card");
    }
}

#[tokio::test]
async fn when_the_card_cannot_be_posted_the_next_asker_posts_it() {
    let app = spawn_app().await;
    *app.engine.delay.lock().unwrap() = Duration::from_millis(300);
    app.fake.post_fails(1).await;
    let n = 4;
    ask_together(&app, &askers(n, "C1")).await;

    // The first asker is told the post failed; the next posts the card; the rest are
    // pointed at it. Nobody is left without an answer.
    let responses = app.fake.wait_for("response", n - 1, WAIT).await;
    app.fake.wait_for("chat.postMessage", 4, WAIT).await;
    settle().await;
    let texts: Vec<&str> = responses
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), n - 1, "{texts:#?}");
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.contains("could not post the card"))
            .count(),
        1,
        "{texts:#?}"
    );
    let link = support::fake_slack::permalink("C1", "1700000000.000100");
    assert_eq!(
        texts.iter().filter(|t| t.contains(&link)).count(),
        n - 2,
        "{texts:#?}"
    );
    let posts = app.fake.calls("chat.postMessage").await;
    assert_eq!(cards(&posts).len(), 2, "the failed attempt and the card");
    assert_eq!(posts.len(), 4, "and the card's two thread replies");
    assert_eq!(app.engine.diagnoses.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn not_in_channel_storm_answers_once_through_response_url_and_points_the_rest() {
    let app = spawn_app().await;
    *app.engine.delay.lock().unwrap() = Duration::from_millis(300);
    app.fake.not_in_channel("CPRIVATE").await;
    ask_together(&app, &askers(3, "CPRIVATE")).await;
    // The first asker: the card in the channel through response_url, and the invite
    // hint; the other two: a pointer each.
    app.fake.wait_for("response", 4, WAIT).await;
    settle().await;
    let responses = app.fake.calls("response").await;
    assert_eq!(responses.len(), 4, "{responses:#?}");
    let in_channel: Vec<&Value> = responses
        .iter()
        .filter(|r| r["response_type"] == "in_channel")
        .collect();
    assert_eq!(in_channel.len(), 1, "one card: {responses:#?}");
    assert_eq!(in_channel[0]["text"], format!("card for {TASK}"));
    let pointers = responses
        .iter()
        .filter(|r| {
            r["text"]
                .as_str()
                .unwrap()
                .contains("answered just above in this channel")
        })
        .count();
    assert_eq!(pointers, 2, "{responses:#?}");
    assert_eq!(
        app.fake.calls("chat.postMessage").await.len(),
        1,
        "one refused attempt"
    );
}

#[tokio::test]
async fn without_a_permalink_the_pointer_says_where_in_words() {
    let app = spawn_app().await;
    *app.engine.delay.lock().unwrap() = Duration::from_millis(300);
    app.fake.permalink_fails().await;
    ask_together(&app, &askers(3, "C1")).await;
    let pointers = app.fake.wait_for("response", 2, WAIT).await;
    for pointer in &pointers {
        let text = pointer["text"].as_str().unwrap();
        assert!(
            text.contains("answered just above in this channel"),
            "{text}"
        );
        assert!(!text.contains("https://"), "no link to give: {text}");
    }
    settle().await;
    assert_eq!(cards(&app.fake.calls("chat.postMessage").await).len(), 1);
}

#[tokio::test]
async fn one_user_asking_too_often_is_told_to_wait() {
    let app = spawn_app_with(|s| s.limits.per_user_per_minute = 2).await;
    app.command(&format!("why {TASK}")).await;
    app.command(&format!("why {TASK}")).await;
    let third = app.command(&format!("why {TASK}")).await;
    assert!(
        third["text"].as_str().unwrap().contains("please wait"),
        "{third}"
    );
    // Another user is not affected.
    let r = app.command_as(&format!("why {TASK}"), "U2", "C1").await;
    let body: Value = r.json().await.unwrap();
    assert!(body["text"].as_str().unwrap().starts_with("Looking at"));
}

#[tokio::test]
async fn socket_mode_envelopes_use_the_same_handlers() {
    let app = spawn_app().await;
    let envelope = json!({
        "envelope_id": "e1",
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "team_id": "T1", "channel_id": "C5", "channel_name": "ops", "user_id": "U5",
            "command": "/ecs", "text": format!("why {TASK}"),
            "response_url": app.fake.response_url("socket"), "trigger_id": "1.2"
        }
    });
    let ack = slack::socket_mode::dispatch_envelope(&app.bot, &envelope.to_string())
        .unwrap()
        .unwrap();
    let ack = serde_json::to_value(&ack).unwrap();
    assert!(ack["text"].as_str().unwrap().starts_with("Looking at task"));
    let posts = app.fake.wait_for("chat.postMessage", 3, WAIT).await;
    assert_eq!(posts[0]["channel"], "C5");

    let event = json!({"envelope_id": "e2", "type": "events_api", "retry_attempt": 0,
                       "payload": mention("EvS", &format!("<@UBOT> why {TASK}"), Some("1.5"))});
    assert_eq!(
        slack::socket_mode::dispatch_envelope(&app.bot, &event.to_string()).unwrap(),
        None
    );
    let posts = app.fake.wait_for("chat.postMessage", 6, WAIT).await;
    assert!(posts[3..].iter().all(|p| p["thread_ts"] == "1.5"));

    let press = json!({"envelope_id": "e3", "type": "interactive", "payload": {
        "type": "block_actions", "team": {"id": "T1"}, "api_app_id": "A1", "trigger_id": "1.2",
        "user": {"id": "U5"}, "channel": {"id": "C5"},
        "container": {"type": "message", "message_ts": "9.9"}, "response_url": app.fake.response_url("sp"),
        "actions": [{"action_id": FollowUp::ServiceEvents.action_id(), "type": "button",
                     "value": button().encode()}]}});
    slack::socket_mode::dispatch_envelope(&app.bot, &press.to_string()).unwrap();
    let posts = app.fake.wait_for("chat.postMessage", 7, WAIT).await;
    assert_eq!(posts[6]["thread_ts"], "9.9");
    assert!(slack::socket_mode::dispatch_envelope(&app.bot, "not json").is_err());
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let start = Instant::now();
    loop {
        let r = app
            .http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "never ready: {}",
            r.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl App {
    /// `GET /readyz`: the status and the body.
    async fn readyz(&self) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Poll `/readyz` until `done(status, body)`, or panic after `limit`.
    async fn readyz_until(&self, limit: Duration, done: impl Fn(u16, &str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let (status, body) = self.readyz().await;
            if done(status, &body) {
                return body;
            }
            assert!(start.elapsed() < limit, "readyz stuck at {status}: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn readiness_waits_for_both_the_slack_token_and_the_aws_credentials() {
    let aws = FakeAws::start().await;
    aws.fail("GetCallerIdentity", Fault::InvalidCredentials);
    let fake = FakeSlack::start().await;
    // auth.test refuses twice, so the Slack check passes after its 1 s and 2 s retries.
    fake.auth_fails(2).await;
    let gatherer = ecs_why::gather::Gatherer::from_sdk_config(&aws.sdk_config().await);
    let engine = Arc::new(FakeInvestigator::default());
    let app = spawn_app_on(fake, engine.clone(), engine, Some(gatherer), |_| {}).await;

    let (status, body) = app.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("slack:"), "names the Slack check: {body}");
    assert!(body.contains("aws:"), "names the AWS check: {body}");

    // Slack verified, AWS still refused: not ready, and only AWS is named, with the fix.
    let body = app
        .readyz_until(Duration::from_secs(15), |_, body| !body.contains("slack:"))
        .await;
    assert!(body.starts_with("not ready: aws:"), "{body}");
    assert!(body.contains("GetCallerIdentity"), "{body}");
    assert!(
        body.contains("AWS_ACCESS_KEY_ID"),
        "says how to fix it: {body}"
    );
    assert_eq!(app.readyz().await.0, 503);

    aws.heal("GetCallerIdentity");
    let body = app
        .readyz_until(Duration::from_secs(20), |status, _| status == 200)
        .await;
    assert_eq!(body, "ready");
    assert!(aws.calls("GetCallerIdentity") >= 2, "the AWS check retried");
}

#[tokio::test]
async fn in_flight_work_is_drained_on_shutdown_and_new_commands_are_told_to_retry() {
    let app = spawn_app().await;
    *app.engine.delay.lock().unwrap() = Duration::from_millis(300);
    app.command(&format!("why {TASK}")).await;
    assert!(app.shutdown.in_flight() >= 1);
    app.shutdown.begin();
    // Socket Mode can still deliver while HTTP has stopped accepting.
    let envelope = json!({"type": "slash_commands", "payload": {
        "team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/ecs",
        "text": format!("why {TASK}"), "response_url": app.fake.response_url("late"),
        "trigger_id": "1.2"}});
    let ack = slack::socket_mode::dispatch_envelope(&app.bot, &envelope.to_string())
        .unwrap()
        .unwrap();
    let ack = serde_json::to_value(&ack).unwrap();
    assert!(
        ack["text"].as_str().unwrap().contains("restarting"),
        "{ack}"
    );
    let drained = app.shutdown.drain(WAIT).await;
    assert!(
        matches!(drained, ecs_why::shutdown::Drained::Complete { .. }),
        "{drained:?}"
    );
    assert_eq!(
        app.fake.calls("chat.postMessage").await.len(),
        3,
        "the card and its thread were posted"
    );
}

#[tokio::test]
async fn metrics_count_commands_and_slack_calls() {
    let app = spawn_app().await;
    app.command("help").await;
    app.command(&format!("why {TASK}")).await;
    app.fake.wait_for("chat.postMessage", 3, WAIT).await;
    settle().await;
    let r = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    for needle in [
        "ecs_why_commands_total{outcome=\"help\"}",
        "ecs_why_commands_total{outcome=\"answered\"}",
        "ecs_why_slack_calls_total{method=\"chat.postMessage\"}",
        "ecs_why_diagnosis_duration_seconds_bucket",
    ] {
        assert!(body.contains(needle), "{needle} missing from:\n{body}");
    }
}

/// The Socket Mode listener hands us slack-morphism's typed events; they are read
/// straight into the bot's own requests. Check that keeps what we need.
#[tokio::test]
async fn socket_mode_typed_events_reach_the_same_handlers() {
    use slack_morphism::prelude::{
        SlackCommandEvent, SlackInteractionEvent, SlackPushEventCallback,
    };
    let app = spawn_app().await;
    let command: SlackCommandEvent = serde_json::from_value(json!({
        "team_id": "T1", "channel_id": "C8", "user_id": "U8", "command": "/ecs",
        "text": format!("why {TASK}"), "response_url": app.fake.response_url("typed"), "trigger_id": "1.2"
    }))
    .unwrap();
    let ack = slack::socket_mode::command(&app.bot, command);
    let ack = serde_json::to_value(&ack).unwrap();
    assert!(ack["text"].as_str().unwrap().starts_with("Looking at"));
    app.fake.wait_for("chat.postMessage", 3, WAIT).await;

    let press: SlackInteractionEvent = serde_json::from_value(json!({
        "type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U8"},
        "api_app_id": "A1", "channel": {"id": "C8"},
        "container": {"type": "message", "message_ts": "4.4", "channel_id": "C8", "is_ephemeral": false},
        "response_url": app.fake.response_url("typed-press"), "trigger_id": "1.2",
        "actions": [{"action_id": FollowUp::TaskDefinition.action_id(), "block_id": "b",
                     "type": "button", "value": button().encode(), "action_ts": "5.5"}]
    }))
    .unwrap();
    slack::socket_mode::interaction(&app.bot, &press).unwrap();
    let posts = app.fake.wait_for("chat.postMessage", 4, WAIT).await;
    assert_eq!(posts[3]["thread_ts"], "4.4");

    let push: SlackPushEventCallback =
        serde_json::from_value(mention("EvT", &format!("<@UBOT> why {TASK}"), Some("6.6")))
            .unwrap();
    slack::socket_mode::push_event(&app.bot, &push, None);
    let posts = app.fake.wait_for("chat.postMessage", 7, WAIT).await;
    assert!(
        posts[4..].iter().all(|p| p["thread_ts"] == "6.6"),
        "{posts:#?}"
    );
}

// ---------------------------------------------------------------------------
// End to end: the real engine against the fake AWS endpoint.
// ---------------------------------------------------------------------------

const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A fake AWS with task 1 in cluster `prod`: `web` killed for memory (exit 137), a log
/// line that tries to ping the channel and leaks an AWS secret key, a StopTask call.
async fn fake_aws() -> (FakeAws, String) {
    let aws = FakeAws::start().await;
    let id = aws.add_stopped_task(
        "prod",
        1,
        "EssentialContainerExited",
        137,
        &[
            "starting web 1.4.2",
            "<!channel> <@U0ADMIN> click <https://evil.example|here>",
            &format!("aws_secret_access_key={SECRET_KEY}"),
            "java.lang.OutOfMemoryError: Java heap space",
        ],
    );
    (aws, id)
}

async fn spawn_real_app(aws: &FakeAws) -> App {
    let gatherer = ecs_why::gather::Gatherer::from_sdk_config(&aws.sdk_config().await);
    let engine = Arc::new(Investigator::from_gatherer(
        gatherer.with_recent_stops(true),
    ));
    spawn_app_around(engine, Arc::new(FakeInvestigator::default()), |s| {
        s.region = Some(canned_region());
    })
    .await
}

fn canned_region() -> String {
    support::fake_aws::REGION.to_string()
}

#[tokio::test]
async fn end_to_end_card_and_thread_from_the_real_engine() {
    let (aws, id) = fake_aws().await;
    let app = spawn_real_app(&aws).await;
    let ack = app.command(&format!("why {id}")).await;
    assert!(ack["text"].as_str().unwrap().contains("prod"), "{ack}");

    let posts = app
        .fake
        .wait_for("chat.postMessage", 3, Duration::from_secs(20))
        .await;
    let card = &posts[0];
    assert_eq!(card["channel"], "C1");
    assert!(card.get("thread_ts").is_none());
    let blocks = card["blocks"].as_array().expect("the card has blocks");
    assert!(!blocks.is_empty());
    let card_text = card.to_string();
    assert!(
        card_text.contains("ecs_why_rerun"),
        "the card has follow-up buttons"
    );
    assert!(
        card_text.to_lowercase().contains("memory"),
        "out of memory is the cause: {card_text}"
    );
    for reply in &posts[1..] {
        assert_eq!(reply["thread_ts"], "1700000000.000100");
    }
    settle().await;
    let everything = serde_json::to_string(&app.fake.calls("chat.postMessage").await).unwrap();
    assert!(
        everything.contains("OutOfMemoryError"),
        "the log tail is in the thread"
    );
    assert!(
        !everything.contains("<!channel>"),
        "a log line cannot ping the channel"
    );
    assert!(
        !everything.contains("<@U0ADMIN>"),
        "a log line cannot mention a user"
    );
    assert!(
        !everything.contains("<https://evil.example"),
        "a log line cannot forge a link"
    );
    assert!(
        !everything.contains(SECRET_KEY),
        "the secret key is redacted"
    );
    assert!(
        !everything.contains("hunter2"),
        "environment values never reach Slack"
    );
}

#[tokio::test]
async fn end_to_end_buttons_with_the_real_engine() {
    let (aws, id) = fake_aws().await;
    aws.add_cloudtrail_event(canned::stop_task_event(
        &id,
        "prod",
        "deploy",
        canned::STOPPED_AT - 2.0,
    ));
    let app = spawn_real_app(&aws).await;
    let reference = ButtonRef {
        region: canned_region(),
        cluster: "prod".into(),
        task_arn: canned::task_arn("prod", &id),
        container: Some("web".into()),
        page_token: None,
        incident: None,
        mute: None,
    };
    let value = reference.encode();
    let kinds = [
        FollowUp::MoreLogs,
        FollowUp::WhoStopped,
        FollowUp::TaskDefinition,
        FollowUp::ServiceEvents,
    ];
    for (n, kind) in kinds.iter().enumerate() {
        assert_eq!(app.press(kind.action_id(), &value).await.status(), 200);
        app.fake
            .wait_for("chat.postMessage", n + 1, Duration::from_secs(20))
            .await;
    }
    let posts = app.fake.calls("chat.postMessage").await;
    assert!(
        posts.iter().all(|p| p["thread_ts"] == "1700000000.000100"),
        "{posts:#?}"
    );
    let all = serde_json::to_string(&posts).unwrap();
    assert!(all.contains("web:7"), "task definition summary: {all}");
    assert!(
        all.contains("API_TOKEN") && !all.contains("hunter2"),
        "secret names, never values"
    );
    assert!(
        app.fake.calls("response").await.is_empty(),
        "no errors: {:?}",
        app.fake.calls("response").await
    );

    assert_eq!(
        app.press(FollowUp::Rerun.action_id(), &value)
            .await
            .status(),
        200
    );
    let updates = app
        .fake
        .wait_for("chat.update", 1, Duration::from_secs(20))
        .await;
    assert!(updates[0]["blocks"].is_array());
}

#[tokio::test]
async fn end_to_end_access_denied_reaches_the_asker_with_the_fix() {
    let (aws, id) = fake_aws().await;
    aws.fail("DescribeTasks", Fault::AccessDenied);
    let app = spawn_real_app(&aws).await;
    app.command(&format!("why {id}")).await;
    let responses = app
        .fake
        .wait_for("response", 1, Duration::from_secs(20))
        .await;
    assert_eq!(responses[0]["response_type"], "ephemeral");
    let text = responses[0]["text"].as_str().unwrap();
    assert!(text.contains("ecs:DescribeTasks"), "{text}");
    assert!(app.fake.calls("chat.postMessage").await.is_empty());
}

/// The manifest asks for exactly the scopes the bot needs, and wires every route.
#[test]
fn manifest_has_only_the_needed_scopes_and_every_route() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.yml")).unwrap();
    let lines: Vec<&str> = manifest.lines().collect();
    let bot = lines
        .iter()
        .position(|l| l.trim() == "bot:")
        .expect("oauth_config.scopes.bot");
    let scopes: Vec<&str> = lines[bot + 1..]
        .iter()
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start().trim_start_matches("- ").trim())
        .collect();
    assert_eq!(
        scopes,
        [
            "commands",
            "chat:write",
            "app_mentions:read",
            "channels:read",
            "groups:read",
            "files:write",
            "channels:history",
            "groups:history",
            "usergroups:read"
        ]
    );
    for needle in [
        "command: /ecs",
        "usage_hint:",
        "/slack/commands",
        "/slack/events",
        "/slack/interactivity",
        "- app_mention",
        "socket_mode_enabled:",
    ] {
        assert!(manifest.contains(needle), "{needle}");
    }
}

/// Keeps what a subscriber writes, to read back the JSON log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Issue 4: a request id per command, carried into every AWS and Slack call. The SDKs'
/// own events are logged inside the command's `request` span, so each carries its id.
#[tokio::test]
async fn the_request_id_reaches_the_aws_and_slack_calls() {
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_span_list(true)
        .with_env_filter("info,aws_smithy_runtime=debug,slack_morphism=debug")
        .with_writer(out.clone())
        .finish();
    // A current-thread runtime: the bot's background jobs run on this thread too.
    let _guard = tracing::subscriber::set_default(subscriber);
    let (aws, id) = fake_aws().await;
    let app = spawn_real_app(&aws).await;
    app.command(&format!("why {id}")).await;
    app.fake
        .wait_for("chat.postMessage", 3, Duration::from_secs(20))
        .await;
    settle().await;

    let text = String::from_utf8_lossy(&out.0.lock().unwrap()).into_owned();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let request_id = |e: &Value| {
        e["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find_map(|s| s["request_id"].as_str()))
            .map(str::to_string)
    };
    let command_ids: Vec<String> = events
        .iter()
        .filter(|e| e["fields"]["message"] == "slash command")
        .filter_map(request_id)
        .collect();
    assert_eq!(command_ids.len(), 1, "one command, one id:\n{text}");
    let wanted = Some(command_ids[0].clone());
    let of = |target: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["target"].as_str().is_some_and(|t| t.starts_with(target)))
            .collect()
    };
    // Only the diagnosis calls AWS here, so every AWS event is inside the command.
    let aws_events = of("aws_smithy_runtime");
    assert!(!aws_events.is_empty(), "no AWS SDK events logged:\n{text}");
    for event in &aws_events {
        assert_eq!(
            request_id(event),
            wanted,
            "AWS event outside the request: {event}"
        );
    }
    // Slack: the posts carry it; auth.test (the readiness check) belongs to no request.
    let slack_ids: Vec<Option<String>> =
        of("slack_morphism").iter().map(|e| request_id(e)).collect();
    assert!(
        slack_ids.contains(&wanted),
        "no Slack event in the request:\n{text}"
    );
    assert!(
        slack_ids.iter().all(|id| id.is_none() || *id == wanted),
        "{slack_ids:?}"
    );
}

#[tokio::test]
async fn the_card_notifies_with_the_cause_re_runs_visibly_and_threads_only_what_applies() {
    let (aws, id) = fake_aws().await;
    let app = spawn_real_app(&aws).await;
    app.command(&format!("why {id}")).await;
    let posts = app
        .fake
        .wait_for("chat.postMessage", 3, Duration::from_secs(20))
        .await;
    // The notification names the task's family (a standalone task) and the cause, not a
    // task id.
    let card = &posts[0];
    let notification = card["text"].as_str().unwrap_or_default();
    assert!(notification.starts_with("web: "), "{notification}");
    assert!(!notification.contains(&id), "{notification}");
    assert_eq!(
        card["blocks"][0]["text"]["text"].as_str(),
        Some(notification),
        "the header says the same"
    );
    settle().await;
    // The task stopped on its own: no "who stopped it" reply, and no button for it.
    let everything = serde_json::to_string(&app.fake.calls("chat.postMessage").await).unwrap();
    assert!(
        !everything.contains("no CloudTrail look-up was made"),
        "{everything}"
    );
    assert!(!card.to_string().contains(FollowUp::WhoStopped.action_id()));

    let reference = ButtonRef {
        region: canned_region(),
        cluster: "prod".into(),
        task_arn: canned::task_arn("prod", &id),
        container: None,
        page_token: None,
        incident: None,
        mute: None,
    };
    assert_eq!(
        app.press(FollowUp::Rerun.action_id(), &reference.encode())
            .await
            .status(),
        200
    );
    // Three updates of the card: the probes' verdict on the first answer, the re-run,
    // and the probes' verdict on the re-run, which keeps its stamp.
    let updates = app
        .fake
        .wait_for("chat.update", 3, Duration::from_secs(20))
        .await;
    let stamped: Vec<String> = updates
        .iter()
        .map(Value::to_string)
        .filter(|u| u.contains("re-checked <!date^") && u.contains("by <@U1>"))
        .collect();
    assert_eq!(stamped.len(), 2, "{updates:#?}");
    assert!(
        updates.iter().all(|u| u["ts"] == "1700000000.000100"),
        "only the card is updated: {updates:#?}"
    );
}

#[tokio::test]
async fn a_crash_looping_service_task_says_how_many_stopped_the_same_way() {
    let aws = FakeAws::start().await;
    aws.add_cluster("prod");
    aws.add_task_definition(canned::task_definition());
    aws.add_service("prod", "checkout", &[]);
    for (n, exit) in [(50u32, 1), (51, 1), (52, 137), (53, 1)] {
        let mut task = canned::task(
            "prod",
            &canned::task_id(n),
            "EssentialContainerExited",
            exit,
        );
        task["group"] = "service:checkout".into();
        task["stoppedAt"] = (canned::STOPPED_AT - f64::from(53 - n) * 60.0).into();
        aws.add_task(task);
    }
    let app = spawn_real_app(&aws).await;
    app.command(&format!("why {}", canned::task_id(53))).await;
    let posts = app
        .fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(20))
        .await;
    let card = &posts[0];
    assert!(
        card["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("checkout: "),
        "{card}"
    );
    assert!(
        card.to_string()
            .contains("3 of the last 4 tasks stopped the same way"),
        "{card}"
    );
}
