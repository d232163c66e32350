//! Guarantees of `ecs-why serve` that an attacker or a restart would test: no asker is
//! left in silence at shutdown, idle connections cannot starve the server, and every
//! route resolves a channel to the same cluster, region and role.

mod support;

use ecs_why::follow_up::{ButtonRef, FollowUp};
use ecs_why::investigate::{
    Access, FollowUpFound, Investigate, InvestigateError, Investigation, Subject,
};
use ecs_why::slack::{self, Settings};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fake_investigator::FakeInvestigator;
use support::fake_slack::{form, now, sign, FakeSlack};
use support::test_app::{Defaults, TestApp, SECRET};

/// This file's app: tasks default to `default-cluster` in us-east-2.
async fn spawn_app(
    investigator: Arc<dyn Investigate>,
    tune: impl FnOnce(&mut Settings),
) -> TestApp {
    let defaults = Defaults {
        cluster: "default-cluster",
        region: "us-east-2",
    };
    support::test_app::spawn(investigator, defaults, tune).await
}

fn task(n: u32) -> String {
    format!("{n:032x}")
}

fn texts(responses: &[Value]) -> Vec<String> {
    responses
        .iter()
        .map(|r| r["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Shutdown: nobody waits in silence.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn on_shutdown_queued_askers_are_told_at_once_and_the_running_one_is_answered() {
    let engine = Arc::new(FakeInvestigator::with_delay(Duration::from_millis(1500)));
    let app = spawn_app(engine.clone(), |s| s.limits.max_in_flight = 1).await;
    for n in 1..=4 {
        app.command_in(&format!("why {}", task(n)), &format!("U{n}"), ("C1", "ops"))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let began = Instant::now();
    app.shutdown.begin();
    let responses = app
        .fake
        .wait_for("response", 3, Duration::from_secs(5))
        .await;
    assert!(
        began.elapsed() < Duration::from_millis(1000),
        "the queued askers were told at once, not after the running one: {:?}",
        began.elapsed()
    );
    for text in texts(&responses) {
        assert!(text.contains("ask again"), "{text}");
    }
    let drained = app.shutdown.drain(Duration::from_secs(5)).await;
    assert!(
        matches!(drained, ecs_why::shutdown::Drained::Complete { .. }),
        "{drained:?}"
    );
    let posts = app.fake.calls("chat.postMessage").await;
    assert_eq!(
        posts.len(),
        3,
        "the running diagnosis posted its card and thread"
    );
    assert_eq!(engine.diagnoses(), 1, "queued diagnoses never started");
}

#[tokio::test]
async fn on_shutdown_work_past_the_answer_limit_tells_its_asker_to_ask_again() {
    let engine = Arc::new(FakeInvestigator::with_delay(Duration::from_secs(30)));
    let app = spawn_app(engine, |_| {}).await;
    app.shutdown.set_answer_limit(Duration::from_millis(200));
    app.command_in(&format!("why {}", task(9)), "U1", ("C1", "ops"))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.shutdown.begin();
    let drained = app.shutdown.drain(Duration::from_secs(5)).await;
    assert!(
        matches!(drained, ecs_why::shutdown::Drained::Complete { .. }),
        "{drained:?}"
    );
    let told = texts(&app.fake.calls("response").await);
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("ask again"), "{told:?}");
}

// ---------------------------------------------------------------------------
// Channel mapping: every route resolves a channel the same way.
// ---------------------------------------------------------------------------

/// What the engine was asked for: (diagnose or action id, cluster, region, role).
type Seen = (String, Option<String>, Option<String>, Option<String>);

/// Records the target and role of every investigation and follow-up.
#[derive(Default)]
struct RecordingInvestigator {
    seen: Mutex<Vec<Seen>>,
}

impl RecordingInvestigator {
    fn record(&self, what: &str, cluster: Option<&str>, region: Option<&str>, role: Option<&str>) {
        self.seen.lock().unwrap().push((
            what.to_string(),
            cluster.map(str::to_string),
            region.map(str::to_string),
            role.map(str::to_string),
        ));
    }

    async fn wait_for(
        &self,
        n: usize,
    ) -> Vec<(String, Option<String>, Option<String>, Option<String>)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if seen.len() >= n || Instant::now() > deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Investigate for RecordingInvestigator {
    fn investigate<'a>(
        &'a self,
        subject: &'a Subject,
        access: &'a Access,
    ) -> BoxFuture<'a, Result<Investigation, InvestigateError>> {
        Box::pin(async move {
            let role = access.role_arn.as_deref();
            match subject {
                Subject::Stopped(task) => {
                    self.record("alert", Some(&task.cluster), task.region.as_deref(), role);
                    Ok(support::fake_investigator::alert_from_task_alone(task))
                }
                Subject::Named(target) => {
                    self.record(
                        "diagnose",
                        target.cluster.as_deref(),
                        target.region.as_deref(),
                        role,
                    );
                    Ok(support::fake_investigator::small_investigation(
                        "0123456789abcdef0123456789abcdef",
                    ))
                }
            }
        })
    }

    fn confirm<'a>(
        &'a self,
        _investigation: &'a Investigation,
        _access: &'a Access,
    ) -> BoxFuture<'a, Option<Investigation>> {
        Box::pin(async { None })
    }

    fn follow_up<'a>(
        &'a self,
        kind: FollowUp,
        button: &'a ButtonRef,
        access: &'a Access,
    ) -> BoxFuture<'a, Result<FollowUpFound, InvestigateError>> {
        Box::pin(async move {
            self.record(
                kind.action_id(),
                Some(&button.cluster),
                Some(&button.region),
                access.role_arn.as_deref(),
            );
            Ok(FollowUpFound::ServiceEvents(Vec::new()))
        })
    }
}

const MAPPED_ROLE: &str = "arn:aws:iam::210987654321:role/ecs-why-read";

fn map_channel_by_name(settings: &mut Settings) {
    settings.channels = ecs_why::config::ChannelMap::parse(&format!(
        "[channels.payments]\ncluster = \"pay\"\nregion = \"eu-west-1\"\nrole_arn = \"{MAPPED_ROLE}\"\n"
    ))
    .unwrap();
}

#[tokio::test]
async fn a_channel_mapped_by_name_gets_its_role_from_the_command_and_every_button() {
    let engine = Arc::new(RecordingInvestigator::default());
    let app = spawn_app(engine.clone(), map_channel_by_name).await;
    let channel = ("C0PAYMENTS", "payments");
    app.command_in(&format!("why {}", task(1)), "U1", channel)
        .await;
    let button = ButtonRef {
        region: "eu-west-1".into(),
        cluster: "pay".into(),
        task_arn: format!("arn:aws:ecs:eu-west-1:210987654321:task/pay/{}", task(1)),
        container: Some("web".into()),
        page_token: None,
        incident: None,
        mute: None,
    };
    for kind in [
        FollowUp::TaskDefinition,
        FollowUp::WhoStopped,
        FollowUp::MoreLogs,
        FollowUp::ServiceEvents,
        FollowUp::Rerun,
    ] {
        app.press_in(kind, &button, channel).await;
    }
    let seen = engine.wait_for(6).await;
    assert_eq!(seen.len(), 6, "{seen:#?}");
    for (what, cluster, region, role) in &seen {
        assert_eq!(role.as_deref(), Some(MAPPED_ROLE), "{what}: {seen:#?}");
        assert_eq!(cluster.as_deref(), Some("pay"), "{what}");
        assert_eq!(region.as_deref(), Some("eu-west-1"), "{what}");
    }
}

#[tokio::test]
async fn a_mention_in_a_channel_mapped_by_name_uses_its_cluster_region_and_role() {
    use wiremock::matchers::path;
    use wiremock::{Mock, ResponseTemplate};
    let engine = Arc::new(RecordingInvestigator::default());
    let app = spawn_app(engine.clone(), map_channel_by_name).await;
    Mock::given(path("/api/conversations.info"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "channel": {"id": "C0PAYMENTS", "created": 1700000000, "name": "payments"}
        })))
        .mount(&app.fake.server)
        .await;
    app.mention_in(&format!("<@UBOT> why {}", task(2)), "C0PAYMENTS")
        .await;
    let seen = engine.wait_for(1).await;
    assert_eq!(
        seen,
        vec![(
            "diagnose".to_string(),
            Some("pay".to_string()),
            Some("eu-west-1".to_string()),
            Some(MAPPED_ROLE.to_string())
        )]
    );
}

#[tokio::test]
async fn a_mention_whose_channel_name_cannot_be_found_runs_nothing_with_the_bots_own_role() {
    let engine = Arc::new(RecordingInvestigator::default());
    let app = spawn_app(engine.clone(), map_channel_by_name).await;
    // The fake Slack has no conversations.info: the look-up fails.
    app.mention_in(&format!("<@UBOT> why {}", task(3)), "C0ELSEWHERE")
        .await;
    let told = app
        .fake
        .wait_for("chat.postEphemeral", 1, Duration::from_secs(5))
        .await;
    let text = told[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("[channels.C0ELSEWHERE]"), "{text}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(engine.seen.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// Connections: idle clients cannot hold the server.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn idle_connections_are_closed_and_cannot_starve_healthz() {
    use tokio::io::AsyncReadExt;
    let fake = FakeSlack::start().await;
    let vars: HashMap<&str, String> = HashMap::from([
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
        ("SLACK_BOT_TOKEN", "xoxb-test".to_string()),
        ("SLACK_API_URL", fake.api_url()),
        ("ECS_WHY_LISTEN", "127.0.0.1:0".to_string()),
    ]);
    let settings = Settings::from_vars(|k| vars.get(k).cloned()).unwrap();
    let app = slack::build_with(settings, Arc::new(FakeInvestigator::default()))
        .await
        .unwrap()
        .with_connection_limits(slack::connections::ConnectionLimits {
            header_read_timeout: Duration::from_millis(300),
            // Longer than the test: a silent client must be closed by the header
            // time-out, which counts from the connection, not from its first byte.
            idle_timeout: Duration::from_secs(60),
            max_connections: 8,
        });
    let addr = app.local_addr();
    tokio::spawn(app.run());

    // More silent clients than the server takes at once.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let started = Instant::now();
    let health = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("/healthz answers while silent clients wait");
    assert_eq!(health.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // A client that never sends a byte is disconnected, the last one too.
    let mut buf = [0u8; 64];
    let last = idle.last_mut().expect("20 connections");
    let read = tokio::time::timeout(Duration::from_secs(3), last.read(&mut buf))
        .await
        .expect("the server closes a silent connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn a_task_arn_in_another_account_uses_the_role_mapped_in_that_account() {
    let engine = Arc::new(RecordingInvestigator::default());
    let app = spawn_app(engine.clone(), map_channel_by_name).await;
    // Asked from an unmapped channel: the ARN's account has a mapped role.
    let arn = format!("arn:aws:ecs:eu-west-1:210987654321:task/pay/{}", task(4));
    app.command_in(&format!("why {arn}"), "U1", ("C0OTHER", "general"))
        .await;
    let seen = engine.wait_for(1).await;
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].3.as_deref(), Some(MAPPED_ROLE), "{seen:#?}");
}

// ---------------------------------------------------------------------------
// Replays: a captured request sent again within Slack's window does nothing.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_replayed_command_is_answered_empty_and_posts_nothing_more() {
    let engine = Arc::new(FakeInvestigator::default());
    let app = spawn_app(engine.clone(), |_| {}).await;
    let body = form(&[
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("channel_name", "ops"),
        ("user_id", "U1"),
        ("command", "/ecs"),
        ("text", &format!("why {}", task(1))),
        ("response_url", &app.fake.response_url("U1")),
        ("trigger_id", &support::fake_slack::trigger_id()),
    ]);
    let ts = now();
    let signature = sign(SECRET, ts, &body);
    let send = || {
        app.http
            .post(format!("{}/slack/commands", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature.clone())
            .body(body.clone())
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.text().await.unwrap().contains("Looking at"));
    app.fake
        .wait_for("chat.postMessage", 3, Duration::from_secs(5))
        .await;
    // Eleven seconds later the card's sharing window is over: without the guard the
    // replay would post a second card.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let replay = send().await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.text().await.unwrap(), "", "a replay gets no answer");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(engine.diagnoses(), 1, "the replay ran nothing");
    let cards = app.fake.calls("chat.postMessage").await;
    assert_eq!(
        cards.len(),
        3,
        "one card and its two thread replies: {cards:#?}"
    );
}
