//! Incident storms: 200 concurrent signed `/ecs why` commands against the real server.
//!
//! Each scenario runs the bot on a loopback port with a fake Slack Web API, fires 200
//! signed slash commands at once (200 users), and prints what the askers and Slack saw:
//! ack latency p50/p99/max as the asker's client measured it, cards posted and
//! ephemeral replies (pointers to a card posted for someone else in the same channel),
//! the time until every asker had their card or pointer, and peak memory (VmHWM, reset
//! before each scenario through `/proc/self/clear_refs`; it includes the fakes and the
//! HTTP client, so it over-counts the bot).
//!
//! 1. `fake engine`: the tests' stand-in investigator (tests/support/fake_investigator.rs), 50 ms
//!    per diagnosis, a card and two thread replies; 200 tasks.
//! 2. `real engine, 200 tasks`: the production `Investigator` over `Gatherer`, talking to
//!    the local fake AWS (tests/support/fake_aws.rs) with 20 ms added to every call; 200
//!    seeded tasks, so every ask is its own diagnosis. Prints AWS calls per operation.
//! 3. `real engine, 10 tasks`: 200 users ask about 10 tasks from 10 channels (each
//!    channel sees every task twice): coalescing shows as AWS calls against asks, and
//!    one card per task per channel, the other askers pointed at it.
//!
//! The seeded tasks stopped with `EssentialContainerExited` (out of memory), so there is
//! no CloudTrail look-up (that is done for `UserInitiated` stops only and is rate-limited
//! to AWS's 2 per second). Every wait has a deadline and a watchdog ends the process
//! after five minutes, so the bench always terminates.
//!
//! `cargo bench --bench slack_storm` (add `-- --quick` for 50 asks per scenario).

#[path = "../tests/support/fake_aws.rs"]
mod fake_aws;
#[path = "../tests/support/fake_investigator.rs"]
mod fake_investigator;
#[path = "../tests/support/fake_slack.rs"]
mod fake_slack;
#[path = "../tests/support/loopback.rs"]
mod loopback;

use ecs_why::gather::Gatherer;
use ecs_why::investigate::{Investigate, Investigator};
use ecs_why::slack::{self, Settings};
use fake_aws::{canned, FakeAws};
use fake_investigator::FakeInvestigator;
use fake_slack::FakeSlack;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "bench-signing-secret";
const FAKE_ENGINE_LATENCY: Duration = Duration::from_millis(50);
const AWS_LATENCY: Duration = Duration::from_millis(20);
/// How long a scenario may wait for every asker to be answered.
const ANSWER_DEADLINE: Duration = Duration::from_secs(90);
/// The whole bench ends by then, whatever happens.
const WATCHDOG: Duration = Duration::from_secs(300);

/// One ask: who, where, which task.
struct Ask {
    user: String,
    channel: String,
    task: String,
}

/// What a scenario measured.
struct Figures {
    asks: usize,
    acked: usize,
    latencies: Vec<Duration>,
    cards: usize,
    expected_cards: usize,
    thread_replies: usize,
    ephemerals: usize,
    answered: usize,
    all_answered: Option<Duration>,
    peak_kib: Option<u64>,
}

/// Signed with the bench's secret, as Slack signs.
fn sign(ts: i64, body: &str) -> String {
    fake_slack::sign(SECRET, ts, body)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reset VmHWM to the current RSS (Linux), so each scenario reports its own peak.
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: usize = if quick { 50 } else { 200 };
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("slack_storm: still running after {WATCHDOG:?}; giving up");
        std::process::exit(1);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        fake_engine_storm(n).await;
        // 200 tasks: user i asks about task i in channel i % 20.
        real_engine_storm(n, n, 20, |i| i % 20).await;
        // 10 tasks: users 10c..10c+9 (and 100 more on) ask about tasks 0..9 in channel c.
        real_engine_storm(n, 10, 10, |i| (i / 10) % 10).await;
    });
}

async fn fake_engine_storm(n: usize) {
    reset_peak_memory();
    let engine = Arc::new(FakeInvestigator::with_delay(FAKE_ENGINE_LATENCY));
    let asks: Vec<Ask> = (0..n)
        .map(|i| Ask {
            user: format!("U{i}"),
            channel: format!("C{}", i % 20),
            task: format!("{i:032x}"),
        })
        .collect();
    let vars = [("AWS_REGION", "eu-west-1".to_string())];
    // Each card comes with two thread replies.
    let figures = storm(engine.clone(), &vars, asks, n, |posts| posts >= n * 3).await;
    println!(
        "slack_storm [fake engine]: {n} concurrent signed /ecs why commands, {n} users, {n} tasks, 20 channels, {} per diagnosis",
        ms(FAKE_ENGINE_LATENCY)
    );
    print_figures(&figures);
    println!("  diagnoses:            {}", engine.diagnoses());
}

/// `n` asks from `n` users about `tasks` tasks in `channels` channels, against the
/// production engine and the fake AWS.
/// User `i` asks about task `i % tasks` in channel `channel_of(i)`.
async fn real_engine_storm(
    n: usize,
    tasks: usize,
    channels: usize,
    channel_of: impl Fn(usize) -> usize,
) {
    reset_peak_memory();
    let aws = FakeAws::start().await;
    aws.add_task_definition(canned::task_definition());
    let start_ms = (canned::STOPPED_AT as i64 - 30) * 1000;
    let ids: Vec<String> = (0..tasks as u32).map(|i| canned::task_id(i + 1)).collect();
    for id in &ids {
        aws.add_task(canned::task("prod", id, "EssentialContainerExited", 137));
        aws.add_log_lines(
            canned::LOG_GROUP,
            &canned::log_stream(id),
            start_ms,
            &[
                "starting web 1.4.2",
                "connected to db.internal:5432",
                "java.lang.OutOfMemoryError: Java heap space",
            ],
        );
    }
    aws.set_latency(AWS_LATENCY);
    let gatherer = Gatherer::from_sdk_config(&aws.sdk_config().await);
    let engine = Arc::new(Investigator::from_gatherer(
        gatherer.with_recent_stops(true),
    ));
    let asks: Vec<Ask> = (0..n)
        .map(|i| Ask {
            user: format!("U{i}"),
            channel: format!("C{}", channel_of(i)),
            task: ids[i % tasks].clone(),
        })
        .collect();
    let mut places: Vec<(String, String)> = asks
        .iter()
        .map(|a| (a.channel.clone(), a.task.clone()))
        .collect();
    places.sort();
    places.dedup();
    let expected_cards = places.len();
    let vars = [("AWS_REGION", fake_aws::REGION.to_string())];
    let figures = storm(engine, &vars, asks, expected_cards, |_| true).await;
    println!(
        "slack_storm [real engine, {tasks} tasks]: {n} concurrent signed /ecs why commands, {n} users, {tasks} tasks, {channels} channels, Investigator over Gatherer, {} per AWS call",
        ms(AWS_LATENCY)
    );
    print_figures(&figures);
    let by_operation: BTreeMap<String, usize> = aws.calls_by_operation();
    let total: usize = by_operation.values().sum();
    println!(
        "  AWS calls:            {total} for {n} asks ({:.2} per ask)",
        total as f64 / n as f64
    );
    for (operation, calls) in &by_operation {
        println!("    {operation:<24}{calls}");
    }
}

/// Run one storm and measure it. `details_done(posts)` says whether enough thread
/// replies arrived to call the answers complete (the cards are counted regardless).
async fn storm(
    engine: Arc<dyn Investigate>,
    extra_vars: &[(&str, String)],
    asks: Vec<Ask>,
    expected_cards: usize,
    details_done: impl Fn(usize) -> bool,
) -> Figures {
    let n = asks.len();
    let fake = FakeSlack::start().await;
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
        ("SLACK_BOT_TOKEN", "xoxb-bench".to_string()),
        ("SLACK_API_URL", fake.api_url()),
        ("ECS_WHY_LISTEN", "127.0.0.1:0".to_string()),
        ("ECS_WHY_DEFAULT_CLUSTER", "prod".to_string()),
    ]);
    vars.extend(extra_vars.iter().cloned());
    let settings = Settings::from_vars(|k| vars.get(k).cloned()).expect("bench settings");
    let app = slack::build_with(settings, engine)
        .await
        .expect("the bot starts");
    let base = format!("http://127.0.0.1:{}/slack/commands", app.port());
    let shutdown = app.shutdown();
    tokio::spawn(app.run());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let requests: Vec<(String, String)> = asks
        .iter()
        .enumerate()
        .map(|(i, ask)| {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("team_id", "T1")
                .append_pair("channel_id", &ask.channel)
                .append_pair("user_id", &ask.user)
                .append_pair("command", "/ecs")
                .append_pair("text", &format!("why {}", ask.task))
                .append_pair("trigger_id", &fake_slack::trigger_id())
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
    let acked = results.iter().filter(|(_, ok)| *ok).count();
    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();

    // Every asker is answered by a card or an ephemeral reply (a pointer or an error).
    let deadline = Instant::now() + ANSWER_DEADLINE;
    let mut all_answered = None;
    loop {
        let (cards, replies, ephemerals) = count_posts(&fake).await;
        if all_answered.is_none() && cards + ephemerals >= n {
            all_answered = Some(started.elapsed());
        }
        let settled = all_answered.is_some() && details_done(cards + replies);
        if settled || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the last thread replies land, then count what Slack received.
    shutdown.drain(Duration::from_secs(10)).await;
    let (cards, thread_replies, ephemerals) = count_posts(&fake).await;
    Figures {
        asks: n,
        acked,
        latencies,
        cards,
        expected_cards,
        thread_replies,
        ephemerals,
        answered: (cards + ephemerals).min(n),
        all_answered,
        peak_kib: peak_memory_kib(),
    }
}

/// (cards, thread replies, ephemeral replies) Slack has received so far.
async fn count_posts(fake: &FakeSlack) -> (usize, usize, usize) {
    let posts = fake.calls("chat.postMessage").await;
    let cards = posts
        .iter()
        .filter(|p| p.get("thread_ts").is_none())
        .count();
    let ephemerals =
        fake.calls("response").await.len() + fake.calls("chat.postEphemeral").await.len();
    (cards, posts.len() - cards, ephemerals)
}

/// Print one scenario's figures. A storm in which an ask was refused or left unanswered
/// measured nothing worth reporting, so it stops the bench with exit status 1.
fn print_figures(f: &Figures) {
    let n = f.asks;
    println!("  acked (HTTP 200):     {}/{n}", f.acked);
    if f.acked < n || f.all_answered.is_none() {
        eprintln!(
            "slack_storm: {} of {n} asks were acked and {} answered: the figures above are not a storm",
            f.acked, f.answered
        );
        std::process::exit(1);
    }
    println!(
        "  ack latency:          p50 {}, p99 {}, max {}",
        ms(percentile(&f.latencies, 0.50)),
        ms(percentile(&f.latencies, 0.99)),
        ms(f.latencies.last().copied().unwrap_or_default())
    );
    println!(
        "  cards posted:         {} (one per task per channel: {} expected)",
        f.cards, f.expected_cards
    );
    println!("  thread replies:       {}", f.thread_replies);
    println!(
        "  ephemeral replies:    {} (pointers to a card already in the channel, or errors)",
        f.ephemerals
    );
    match f.all_answered {
        Some(t) => println!("  all {n} answered after: {}", ms(t)),
        None => println!(
            "  answered:             only {}/{n} within {ANSWER_DEADLINE:?}",
            f.answered
        ),
    }
    match f.peak_kib {
        Some(kib) => println!(
            "  peak memory (VmHWM):  {:.1} MiB (bot + fakes + client in one process)",
            kib as f64 / 1024.0
        ),
        None => println!("  peak memory:          unavailable (no /proc/self/status)"),
    }
}
