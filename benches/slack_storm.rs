//! An incident storm: 200 concurrent signed `/ecs why` commands against the real server.
//!
//! Runs the bot on a loopback port with a fake Slack Web API and a fake engine that
//! takes 50 ms per diagnosis (standing in for AWS), fires 200 signed slash commands at
//! once (200 users, 200 different tasks), and prints the ack latency p50/p99 as the
//! asker's client saw it, how many cards reached Slack, and the process's peak memory
//! (VmHWM; it includes the fake Slack and the HTTP client, so it over-counts the bot).
//!
//! `cargo bench --bench slack_storm` (add `-- --quick` for a smaller run).

#[path = "../tests/support/fake_slack.rs"]
mod fake_slack;

use ecs_why::follow_up::{ButtonRef, FollowUp};
use ecs_why::slack::{self, Answer, Engine, EngineError, Settings};
use ecs_why::task_ref::{Target, TaskRef};
use fake_slack::FakeSlack;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use slack_morphism::prelude::SlackMessageContent;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "bench-signing-secret";
const AWS_LATENCY: Duration = Duration::from_millis(50);

struct SlowEngine;

impl Engine for SlowEngine {
    fn diagnose<'a>(
        &'a self,
        target: &'a Target,
        _role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Answer, EngineError>> {
        Box::pin(async move {
            tokio::time::sleep(AWS_LATENCY).await;
            let id = match &target.task {
                TaskRef::Task { task_id } => task_id.clone(),
                TaskRef::Service { service } => service.clone(),
            };
            Ok(Answer {
                task_arn: format!("arn:aws:ecs:eu-west-1:123456789012:task/prod/{id}"),
                card: SlackMessageContent::new().with_text(format!("card for {id}")),
                details: vec![SlackMessageContent::new().with_text(format!("logs of {id}"))],
            })
        })
    }

    fn follow_up<'a>(
        &'a self,
        _kind: FollowUp,
        _button: &'a ButtonRef,
        _role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SlackMessageContent>, EngineError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn sign(ts: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v0={hex}")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = if quick { 50 } else { 200 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(storm(n));
}

async fn storm(n: usize) {
    let fake = FakeSlack::start().await;
    let vars: HashMap<&str, String> = HashMap::from([
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
        ("SLACK_BOT_TOKEN", "xoxb-bench".to_string()),
        ("SLACK_API_URL", fake.api_url()),
        ("ECS_WHY_LISTEN", "127.0.0.1:0".to_string()),
        ("ECS_WHY_DEFAULT_CLUSTER", "prod".to_string()),
        ("AWS_REGION", "eu-west-1".to_string()),
    ]);
    let settings = Settings::from_vars(|k| vars.get(k).cloned()).expect("bench settings");
    let app = slack::build_with_engine(settings, Arc::new(SlowEngine))
        .await
        .expect("the bot starts");
    let base = format!("http://127.0.0.1:{}/slack/commands", app.port());
    let shutdown = app.shutdown();
    tokio::spawn(app.run());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n)
        .build()
        .expect("an HTTP client");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let requests: Vec<(String, String)> = (0..n)
        .map(|i| {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("team_id", "T1")
                .append_pair("channel_id", &format!("C{}", i % 20))
                .append_pair("user_id", &format!("U{i}"))
                .append_pair("command", "/ecs")
                .append_pair("text", &format!("why {i:032x}"))
                .append_pair("response_url", &fake.response_url(&i.to_string()))
                .finish();
            let signature = sign(now, &body);
            (body, signature)
        })
        .collect();

    let started = Instant::now();
    let sends = requests.into_iter().map(|(body, signature)| {
        let client = client.clone();
        let url = base.clone();
        async move {
            let t = Instant::now();
            let response = client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-slack-request-timestamp", now.to_string())
                .header("x-slack-signature", signature)
                .body(body)
                .send()
                .await;
            let ok = matches!(&response, Ok(r) if r.status().is_success());
            (t.elapsed(), ok)
        }
    });
    let results = futures::future::join_all(sends).await;
    let all_acked = started.elapsed();
    let acked = results.iter().filter(|(_, ok)| *ok).count();
    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();

    // Wait for every card (a post without thread_ts), up to 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut cards = 0;
    while Instant::now() < deadline {
        let posts = fake.calls("chat.postMessage").await;
        cards = posts
            .iter()
            .filter(|p| p.get("thread_ts").is_none())
            .count();
        if cards >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_posted = started.elapsed();
    shutdown.drain(Duration::from_secs(5)).await;

    println!(
        "slack_storm: {n} concurrent signed /ecs why commands, {} ms simulated AWS per diagnosis",
        AWS_LATENCY.as_millis()
    );
    println!("  acked (HTTP 200):     {acked}/{n}");
    println!(
        "  ack latency p50:      {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "  ack latency p99:      {:.1} ms",
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  ack latency max:      {:.1} ms",
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  all acked after:      {:.1} ms",
        all_acked.as_secs_f64() * 1e3
    );
    println!("  cards posted:         {cards}/{n}");
    println!(
        "  all cards after:      {:.1} ms",
        all_posted.as_secs_f64() * 1e3
    );
    match peak_memory_kib() {
        Some(kib) => println!(
            "  peak memory (VmHWM):  {:.1} MiB (bot + fake Slack + client in one process)",
            kib as f64 / 1024.0
        ),
        None => println!("  peak memory:          unavailable (no /proc/self/status)"),
    }
}
