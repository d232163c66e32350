//! `ecs-why serve` as an operator runs it: the real binary, a clean environment, a fake
//! Slack Web API (wiremock) and a fake AWS endpoint, all on loopback.
//!
//! Covers what issue 4 asks of the binary: readiness, SIGTERM while a diagnosis is in
//! flight (the card still arrives, exit 0 inside ECS's stop timeout, late commands are
//! refused or told to retry rather than lost), `/metrics` as Prometheus text whose
//! counters move after a command, and configuration errors (exit 2, one line naming the
//! variable).

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::fake_aws::FakeAws;
use support::fake_slack::{form, now, FakeSlack};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const CLUSTER: &str = "prod";

/// A running `ecs-why serve` and the fakes it talks to. Dropping it kills the child.
struct Served {
    child: Child,
    base: String,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
    slack: FakeSlack,
    aws: FakeAws,
    http: reqwest::Client,
}

impl Drop for Served {
    fn drop(&mut self) {
        // Only if a test failed before the process exited; kills this child only.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The environment `serve` gets: nothing inherited but PATH.
fn base_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-why"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Task `n` in `prod`: `web` killed for memory (exit 137), with a log tail.
fn add_task(aws: &FakeAws, n: u32) -> String {
    aws.add_stopped_task(
        CLUSTER,
        n,
        "EssentialContainerExited",
        137,
        &[
            "starting web",
            "java.lang.OutOfMemoryError: Java heap space",
        ],
    )
}

impl Served {
    /// Start the fakes (every AWS call delayed by `latency`) and the binary; wait for
    /// `/healthz`.
    async fn start(latency: Duration) -> Served {
        Served::start_with(latency, &[]).await
    }

    /// [`Served::start`] with more environment variables for the binary.
    async fn start_with(latency: Duration, extra: &[(&str, String)]) -> Served {
        Served::start_limited(latency, extra, None).await
    }

    /// [`Served::start_with`], the binary limited to `open_files` descriptors (soft and
    /// hard, so it cannot raise them) when given.
    async fn start_limited(
        latency: Duration,
        extra: &[(&str, String)],
        open_files: Option<u64>,
    ) -> Served {
        let slack = FakeSlack::start().await;
        let aws = FakeAws::start().await;
        aws.set_latency(latency);
        let log_dir = tempfile::tempdir().expect("a temporary directory");
        let log = log_dir.path().join("serve.log");
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let mut command = base_command();
        aws.configure_command(&mut command)
            .env("SLACK_SIGNING_SECRET", SECRET)
            .env("SLACK_BOT_TOKEN", "xoxb-test")
            .env("SLACK_API_URL", slack.api_url())
            .env("ECS_WHY_LISTEN", "127.0.0.1:0")
            .env("ECS_WHY_DEFAULT_CLUSTER", CLUSTER)
            .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .stderr(stderr);
        if let Some(limit) = open_files {
            limit_open_files(&mut command, limit);
        }
        let child = command.spawn().expect("start ecs-why serve");
        let addr = support::serve_log::listening_addr(&log, Duration::from_secs(20)).await;
        let served = Served {
            child,
            base: format!("http://{addr}"),
            log,
            _log_dir: log_dir,
            slack,
            aws,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        };
        served
            .until(Duration::from_secs(20), "/healthz answers", || async {
                served.get("/healthz").await.is_some_and(|(s, _)| s == 200)
            })
            .await;
        served
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll `check` every 50 ms until it holds; panic with the server's logs after `limit`.
    async fn until<F, Fut>(&self, limit: Duration, what: &str, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let logs = || self.logs();
        support::wait::until(limit, Duration::from_millis(50), what, logs, check).await
    }

    /// `GET path`: status and body, or `None` when the server did not answer.
    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// A slash command signed as Slack signs it; `Err` when the server did not answer.
    async fn command(&self, text: &str, user: &str) -> Result<(u16, Value), reqwest::Error> {
        let body = form(&[
            ("team_id", "T1"),
            ("channel_id", "C1"),
            ("channel_name", "ops"),
            ("user_id", user),
            ("command", "/ecs"),
            ("text", text),
            ("response_url", &self.slack.response_url(user)),
            ("trigger_id", &support::fake_slack::trigger_id()),
        ]);
        let ts = now();
        let r = self
            .http
            .post(format!("{}/slack/commands", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(ts, &body))
            .body(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    async fn metrics(&self) -> Prometheus {
        let (status, body) = self.get("/metrics").await.expect("/metrics answers");
        assert_eq!(status, 200, "{body}");
        Prometheus::parse(&body)
    }

    /// Wait for the process to exit, up to `limit`.
    async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "still running {limit:?} after SIGTERM\n--- serve's log ---\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Start `command` with at most `limit` open files, soft and hard.
fn limit_open_files(command: &mut Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches only the child's limits.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// Signed with this test's secret, as Slack signs.
fn sign(ts: i64, body: &str) -> String {
    support::fake_slack::sign(SECRET, ts, body)
}

fn posts_mentioning(posts: &[Value], needle: &str) -> usize {
    posts
        .iter()
        .filter(|p| p.to_string().contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_diagnosis_still_posts_the_card_and_exits_0() {
    // Each AWS call takes 1.5 s, so the diagnosis (three calls in a row) is in flight
    // when SIGTERM arrives.
    let mut served = Served::start(Duration::from_millis(1500)).await;
    let id = add_task(&served.aws, 1);
    let late_id = add_task(&served.aws, 2);

    served
        .until(Duration::from_secs(20), "/readyz answers 200", || async {
            served.get("/readyz").await.is_some_and(|(s, _)| s == 200)
        })
        .await;
    assert!(served.aws.calls("GetCallerIdentity") >= 1);

    let (status, ack) = served
        .command(&format!("why {id}"), "U1")
        .await
        .expect("the command is acked");
    assert_eq!(status, 200, "{ack}");
    assert!(
        ack["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Looking at"),
        "{ack}"
    );

    // Stop it once AWS has been asked and before the card exists.
    served
        .until(Duration::from_secs(10), "DescribeTasks called", || async {
            served.aws.calls("DescribeTasks") >= 1
        })
        .await;
    assert!(served.slack.calls("chat.postMessage").await.is_empty());
    let pid = served.child.id().to_string();
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(kill.success());

    // A command arriving now is refused (the listener is closed, so Slack shows the
    // user an error and the load balancer sends the next one to another task) or told
    // to retry; if it slipped in before the signal was handled, it must be answered.
    served
        .until(Duration::from_secs(10), "serve saw SIGTERM", || async {
            served.logs().contains("finishing work in flight")
        })
        .await;
    let late = served.command(&format!("why {late_id}"), "U2").await;
    let late_accepted = match &late {
        Err(e) if e.is_connect() => false,
        Ok((200, ack)) if ack.to_string().contains("restarting") => false,
        Ok((200, ack)) if ack.to_string().contains("Looking at") => true,
        other => panic!("a command after SIGTERM got {other:?}"),
    };

    let status = served.exit_within(Duration::from_secs(30)).await;
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "log:\n{}", served.logs());
    assert!(took < Duration::from_secs(25), "exit took {took:?}");

    let posts = served.slack.calls("chat.postMessage").await;
    let cards: Vec<&Value> = posts
        .iter()
        .filter(|p| p.get("thread_ts").is_none())
        .collect();
    assert!(
        cards
            .iter()
            .any(|c| c["channel"] == "C1" && c.to_string().to_lowercase().contains("memory")),
        "the in-flight card reached Slack: {posts:#?}\n--- log ---\n{}",
        served.logs()
    );
    assert!(
        posts_mentioning(&posts, &id) >= 1,
        "the card names the task: {posts:#?}"
    );
    if late_accepted {
        assert!(
            posts_mentioning(&posts, &late_id) >= 1,
            "a command accepted during shutdown was answered: {posts:#?}"
        );
    }
}

/// Prometheus text, parsed: sample values by `name{labels}` and `# TYPE` by name.
struct Prometheus {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    types: HashMap<String, String>,
}

impl Prometheus {
    /// Parses `name{k="v",...} value [timestamp]` lines and `# TYPE name kind`; panics on
    /// anything else that is not blank or `# HELP`.
    fn parse(text: &str) -> Prometheus {
        let mut samples = Vec::new();
        let mut types = HashMap::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = match line.find('}') {
                Some(end) => (&line[..=end], line[end + 1..].trim()),
                None => line.split_once(' ').expect("name value"),
            };
            let value = value.split(' ').next().unwrap_or_default();
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in: {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, parse_labels(labels.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "bad metric name in: {line}"
            );
            samples.push((name.to_string(), labels, value));
        }
        Prometheus { samples, types }
    }

    /// The value of `name` with exactly these labels (0 when absent: an untouched counter).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|(_, _, v)| *v)
            .unwrap_or(0.0)
    }

    /// Sum of `name` over series whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .sum()
    }

    fn has(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| n == name)
    }
}

/// `k="v",k2="v\"2"` into a map (escapes `\\`, `\"` and `\n` undone).
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => break,
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_string(), value);
        rest = after[end..].trim_start_matches(',');
    }
    labels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_prometheus_text_and_move_after_a_command() {
    let served = Served::start(Duration::ZERO).await;
    let id = add_task(&served.aws, 1);
    let answered = [("outcome", "answered")];
    let before = served.metrics().await;
    let answered_before = before.value("ecs_why_commands_total", &answered);

    let (status, ack) = served
        .command(&format!("why {id}"), "U1")
        .await
        .expect("the command is acked");
    assert_eq!(status, 200, "{ack}");
    served
        .slack
        .wait_for("chat.postMessage", 1, Duration::from_secs(20))
        .await;
    served
        .until(
            Duration::from_secs(10),
            "the command is counted",
            || async {
                served
                    .metrics()
                    .await
                    .value("ecs_why_commands_total", &answered)
                    > answered_before
            },
        )
        .await;

    let after = served.metrics().await;
    assert_eq!(
        after.value("ecs_why_commands_total", &answered),
        answered_before + 1.0,
        "exactly one answered command"
    );
    assert_eq!(
        after.sum("ecs_why_commands_total", &[]),
        before.sum("ecs_why_commands_total", &[]) + 1.0,
        "no other outcome moved"
    );
    assert!(
        after.sum(
            "ecs_why_aws_calls_total",
            &[("service", "ecs"), ("operation", "DescribeTasks")]
        ) >= 1.0
    );
    assert!(
        after.sum(
            "ecs_why_aws_calls_total",
            &[("service", "sts"), ("operation", "GetCallerIdentity")]
        ) >= 1.0,
        "the readiness check is an AWS call too"
    );
    assert!(
        after.value(
            "ecs_why_slack_calls_total",
            &[("method", "chat.postMessage")]
        ) >= 1.0
    );
    assert!(after.value("ecs_why_slack_calls_total", &[("method", "auth.test")]) >= 1.0);
    assert_eq!(
        after
            .types
            .get("ecs_why_diagnosis_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        after.value("ecs_why_diagnosis_duration_seconds_count", &[]),
        before.value("ecs_why_diagnosis_duration_seconds_count", &[]) + 1.0
    );
    assert!(after.has("ecs_why_diagnosis_duration_seconds_bucket"));
    assert_eq!(
        after
            .types
            .get("ecs_why_diagnoses_in_flight")
            .map(String::as_str),
        Some("gauge")
    );
    assert_eq!(after.value("ecs_why_diagnoses_in_flight", &[]), 0.0);
    for counter in [
        "ecs_why_commands_total",
        "ecs_why_aws_calls_total",
        "ecs_why_slack_calls_total",
    ] {
        assert_eq!(
            after.types.get(counter).map(String::as_str),
            Some("counter"),
            "{counter}"
        );
    }
}

/// Runs `serve` with `vars` and expects exit 2 with one stderr line naming `variable`.
fn assert_config_error(vars: &[(&str, &str)], variable: &str) {
    let mut command = base_command();
    command
        .env("ECS_WHY_LISTEN", "127.0.0.1:0")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in vars {
        command.env(k, v);
    }
    let output = command.output().expect("run ecs-why serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].starts_with(&format!("ecs-why: {variable}")),
        "names {variable}: {stderr}"
    );
}

#[test]
fn configuration_errors_exit_2_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bad = dir.path().join("ecs-why.toml");
    std::fs::write(&bad, "[channels.C1\ncluster = ").expect("write the bad file");
    let bad = bad.to_string_lossy().into_owned();
    assert_config_error(
        &[
            ("SLACK_SIGNING_SECRET", SECRET),
            ("SLACK_BOT_TOKEN", "xoxb-test"),
            ("ECS_WHY_CONFIG", &bad),
        ],
        "ECS_WHY_CONFIG",
    );
    assert_config_error(&[("SLACK_BOT_TOKEN", "xoxb-test")], "SLACK_SIGNING_SECRET");
}

#[test]
fn a_listen_address_in_use_exits_2_naming_ecs_why_listen_before_calling_slack() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let taken_addr = taken.local_addr().expect("its address").to_string();
    // Stands in for Slack's Web API: any connection to it would be a call to Slack.
    let slack = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let slack_url = format!("http://{}/api", slack.local_addr().expect("its address"));
    assert_config_error(
        &[
            ("SLACK_SIGNING_SECRET", SECRET),
            ("SLACK_BOT_TOKEN", "xoxb-test"),
            ("SLACK_API_URL", &slack_url),
            ("ECS_WHY_LISTEN", &taken_addr),
        ],
        "ECS_WHY_LISTEN",
    );
    slack
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    assert!(
        matches!(slack.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the bot called Slack before finding that it cannot listen"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_is_posted_first_then_updated_with_what_the_probes_confirmed() {
    let moto = support::moto::Moto::start();
    support::moto::create_ecr_images(&moto.sdk_config().await, "web", &["1.4.1"]).await;
    let iam = support::fake_iam::FakeIam::start().await;
    let served = Served::start_with(
        Duration::ZERO,
        &[
            ("AWS_ENDPOINT_URL_ECR", moto.endpoint()),
            ("AWS_ENDPOINT_URL_EC2", moto.endpoint()),
            ("AWS_ENDPOINT_URL_IAM", iam.endpoint()),
        ],
    )
    .await;
    let id = support::fake_aws::canned::task_id(41);
    served
        .aws
        .add_task(support::fake_aws::canned::pull_failed_task(CLUSTER, &id));
    served
        .aws
        .add_task_definition(support::fake_aws::canned::task_definition());

    let (status, _) = served.command(&format!("why {id}"), "U1").await.unwrap();
    assert_eq!(status, 200);
    let posts = served
        .slack
        .wait_for("chat.postMessage", 1, Duration::from_secs(20))
        .await;
    let card = posts[0].to_string();
    assert!(card.contains("likely `image-pull-failed`"), "{card}");
    let updates = served
        .slack
        .wait_for("chat.update", 1, Duration::from_secs(20))
        .await;
    let updated = &updates[0];
    assert_eq!(
        updated["ts"], "1700000000.000100",
        "the card itself is updated"
    );
    let text = updated.to_string();
    assert!(text.contains("confirmed `image-pull-failed`"), "{text}");
    assert!(text.contains("Confirmed in the account"), "{text}");
    assert!(text.contains("1.4.2") && text.contains("1.4.1"), "{text}");
    // The probes' own replies (what was checked) go under the card, like its details.
    let thread = served
        .slack
        .wait_for("chat.postMessage", 2, Duration::from_secs(20))
        .await;
    assert!(
        thread[1..]
            .iter()
            .all(|reply| reply["thread_ts"] == "1700000000.000100"),
        "{thread:#?}"
    );
}

/// Clients that connect and send nothing, more of them than the bot's file descriptors
/// allow, cannot take `/healthz` down (a load balancer would kill a healthy bot), and
/// each is closed within the header time-out rather than held for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_connections_beyond_the_descriptor_limit_leaves_healthz_answering() {
    use tokio::io::AsyncReadExt;
    let served = Served::start_limited(Duration::ZERO, &[], Some(256)).await;
    let logs = served.logs();
    assert!(
        logs.contains("\"max_connections\":192"),
        "the connection cap follows the 256-descriptor limit: {logs}"
    );
    let addr = served.base.trim_start_matches("http://").to_string();
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("the kernel queues the connection"),
        );
    }
    // Long enough for every slot to be held by a client silent for over a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for attempt in 0..3 {
        let (status, body) = served.get("/healthz").await.unwrap_or_else(|| {
            panic!(
                "/healthz did not answer (attempt {attempt})\n{}",
                served.logs()
            )
        });
        assert_eq!(status, 200, "{body}");
    }
    // Every silent client is closed: made room for, or at the 10 s header time-out.
    let mut buf = [0u8; 16];
    let last = silent.last_mut().expect("300 connections");
    let read = tokio::time::timeout(Duration::from_secs(15), last.read(&mut buf))
        .await
        .expect("a connection that sent nothing is closed within the header time-out");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(served.get("/healthz").await.is_some_and(|(s, _)| s == 200));
}
