//! Socket Mode end to end, over a real WebSocket on loopback.
//!
//! The real `ecs-why serve` binary runs with `SLACK_APP_TOKEN` set and a clean
//! environment. The fake Slack Web API (wiremock) answers `apps.connections.open` with
//! the `ws://` URL of a small WebSocket server this test runs, playing Slack's side of
//! Socket Mode: `hello`, then a `slash_commands` envelope and an `events_api` envelope
//! (an `app_mention` in a thread). The test checks what Slack would see: each envelope
//! acknowledged over the socket by its `envelope_id` (the slash command's ack carrying
//! the "Looking at…" message), the diagnosis card from the real engine over the fake
//! AWS posted with `chat.postMessage`, and the mention answered in its thread.

mod support;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fake_aws::{canned, FakeAws, REGION};
use support::fake_slack::FakeSlack;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const CLUSTER: &str = "prod";
/// Long enough for a cold start and the real engine; everything normally takes < 2 s.
const WAIT: Duration = Duration::from_secs(20);

/// Slack's side of the WebSocket. The first connection gets `hello` and then whatever
/// the test sends; later ones (slack-morphism opens a second connection after a few
/// seconds) get only `hello`. Every text frame the bot sends comes back to the test.
struct FakeSocket {
    url: String,
    outgoing: mpsc::UnboundedSender<String>,
    incoming: mpsc::UnboundedReceiver<Value>,
    connections: Arc<AtomicUsize>,
}

impl FakeSocket {
    async fn start() -> FakeSocket {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the WebSocket");
        let port = listener.local_addr().expect("a local address").port();
        let (outgoing, to_first) = mpsc::unbounded_channel::<String>();
        let to_first = Arc::new(Mutex::new(Some(to_first)));
        let (from_bot, incoming) = mpsc::unbounded_channel::<Value>();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        // Ends with the test's runtime, like every connection task below.
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = counter.fetch_add(1, Ordering::SeqCst);
                let script = to_first.lock().expect("not poisoned").take();
                let from_bot = from_bot.clone();
                tokio::spawn(serve_connection(stream, index, script, from_bot));
            }
        });
        FakeSocket {
            url: format!("ws://127.0.0.1:{port}/link/?ticket=test-ticket&app_id=A1"),
            outgoing,
            incoming,
            connections,
        }
    }

    fn send(&self, frame: Value) {
        self.outgoing
            .send(frame.to_string())
            .expect("the WebSocket server is running");
    }

    /// The next frame from the bot that names `envelope_id` (other frames are skipped).
    async fn ack_of(&mut self, envelope_id: &str, served: &Served) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.incoming.recv()).await {
                Ok(Some(frame)) if frame["envelope_id"] == envelope_id => return frame,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => panic!(
                    "no ack for envelope {envelope_id} within {WAIT:?}\n--- serve's log ---\n{}",
                    served.logs()
                ),
            }
        }
    }
}

/// One WebSocket connection: `hello`, then the script (first connection only), while
/// every text frame from the bot goes to the test. Ends when either side closes.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    index: usize,
    mut script: Option<mpsc::UnboundedReceiver<String>>,
    from_bot: mpsc::UnboundedSender<Value>,
) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let hello = json!({
        "type": "hello", "num_connections": index + 1,
        "connection_info": {"app_id": "A1"},
        "debug_info": {"host": "applink-test", "build_number": 1, "approximate_connection_time": 18060}
    });
    if ws.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            Some(frame) = async { match script.as_mut() { Some(rx) => rx.recv().await, None => None } } => {
                if ws.send(Message::text(frame)).await.is_err() {
                    return;
                }
            }
            received = ws.next() => match received {
                Some(Ok(Message::Text(text))) => {
                    let value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|_| json!({"unparsed": text.as_str()}));
                    let _ = from_bot.send(value);
                }
                // Pings are answered by tungstenite itself.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            }
        }
    }
}

/// A running `ecs-why serve` in Socket Mode. Dropping it kills the child.
struct Served {
    child: Child,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        // Kills this child only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Start the binary against the fakes, with nothing inherited but PATH.
    fn start(slack: &FakeSlack, aws: &FakeAws) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log_dir = tempfile::tempdir().expect("a temporary directory");
        let log = log_dir.path().join("serve.log");
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ecs-why"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SLACK_APP_TOKEN", "xapp-test")
            .env("SLACK_BOT_TOKEN", "xoxb-test")
            .env("SLACK_API_URL", slack.api_url())
            .env("ECS_WHY_LISTEN", format!("127.0.0.1:{port}"))
            .env("ECS_WHY_DEFAULT_CLUSTER", CLUSTER)
            .env("AWS_ENDPOINT_URL", aws.endpoint())
            .env("AWS_ACCESS_KEY_ID", "AKIDFAKEFAKEFAKE")
            .env("AWS_SECRET_ACCESS_KEY", "fake-secret")
            .env("AWS_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start ecs-why serve");
        Served {
            child,
            log,
            _log_dir: log_dir,
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll `check` every 50 ms until it gives a value; panic with the logs after WAIT.
    async fn until<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let start = Instant::now();
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(
                start.elapsed() < WAIT,
                "not within {WAIT:?}: {what}\n--- serve's log ---\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Task 1 in `prod`: `web` killed for memory (exit 137), with a log tail.
fn add_task(aws: &FakeAws) -> String {
    let id = canned::task_id(1);
    aws.add_cluster(CLUSTER);
    aws.add_task(canned::task(CLUSTER, &id, "EssentialContainerExited", 137));
    aws.add_task_definition(canned::task_definition());
    aws.add_log_lines(
        canned::LOG_GROUP,
        &canned::log_stream(&id),
        (canned::STOPPED_AT as i64 - 30) * 1000,
        &[
            "starting web 1.4.2",
            "java.lang.OutOfMemoryError: Java heap space",
        ],
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_over_a_websocket_acks_envelopes_and_answers() {
    let slack = FakeSlack::start().await;
    let aws = FakeAws::start().await;
    let id = add_task(&aws);
    let task_arn = canned::task_arn(CLUSTER, &id);
    let mut socket = FakeSocket::start().await;
    slack.socket_mode_at(&socket.url).await;
    let served = Served::start(&slack, &aws);

    // The bot asks for the WebSocket URL with the app-level token and connects.
    served
        .until("the bot connects to the WebSocket", || async {
            (socket.connections.load(Ordering::SeqCst) >= 1).then_some(())
        })
        .await;
    let opened = slack.authorizations("apps.connections.open").await;
    assert!(
        opened.iter().all(|a| a == "Bearer xapp-test"),
        "apps.connections.open uses the app-level token: {opened:?}"
    );

    // `/ecs why <task arn>` in channel C1.
    socket.send(json!({
        "envelope_id": "env-command-1",
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "token": "legacy-verification-token", "team_id": "T1", "team_domain": "example",
            "channel_id": "C1", "channel_name": "ops", "user_id": "U1", "user_name": "oncall",
            "command": "/ecs", "text": format!("why {task_arn}"), "api_app_id": "A1",
            "is_enterprise_install": "false",
            "response_url": slack.response_url("socket-command"), "trigger_id": "13345224609.738474920.8088930838d88f008e0"
        }
    }));
    let ack = socket.ack_of("env-command-1", &served).await;
    let looking = ack["payload"]["text"].as_str().unwrap_or_default();
    assert!(
        looking.starts_with("Looking at") && looking.contains(&id),
        "the ack tells the asker the bot is looking at the task: {ack}"
    );
    assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");

    // The card, from the real engine over the fake AWS, in the channel; details in its thread.
    let card = served
        .until("the card is posted in C1", || async {
            slack
                .calls("chat.postMessage")
                .await
                .into_iter()
                .find(|p| p["channel"] == "C1" && p.get("thread_ts").is_none())
        })
        .await;
    let card_text = card.to_string();
    assert!(
        card_text.to_lowercase().contains("memory"),
        "out of memory is the cause: {card_text}"
    );
    assert!(
        card_text.contains("ecs_why_rerun"),
        "the card has follow-up buttons"
    );
    served
        .until("the details are posted in the card's thread", || async {
            slack
                .calls("chat.postMessage")
                .await
                .into_iter()
                .find(|p| p["channel"] == "C1" && p["thread_ts"] == "1700000000.000100")
        })
        .await;
    let posted_with = slack.authorizations("chat.postMessage").await;
    assert!(
        posted_with.iter().all(|a| a == "Bearer xoxb-test"),
        "posts use the bot token: {posted_with:?}"
    );

    // `@ecs-why why <task>` in a thread of channel C7.
    socket.send(json!({
        "envelope_id": "env-event-1",
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": {
            "token": "legacy-verification-token", "team_id": "T1", "api_app_id": "A1",
            "type": "event_callback", "event_id": "Ev0SOCKET1", "event_time": 1700000500,
            "authorizations": [{"enterprise_id": null, "team_id": "T1", "user_id": "UBOT", "is_bot": true, "is_enterprise_install": false}],
            "is_ext_shared_channel": false, "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
            "event": {
                "type": "app_mention", "user": "U2", "channel": "C7",
                "text": format!("<@UBOT> why {id}"),
                "ts": "1700000500.000200", "event_ts": "1700000500.000200",
                "thread_ts": "1700000400.000100", "team": "T1"
            }
        }
    }));
    let ack = socket.ack_of("env-event-1", &served).await;
    assert_eq!(
        ack,
        json!({"envelope_id": "env-event-1"}),
        "an events_api envelope is acked with its id alone"
    );
    let reply = served
        .until("the mention is answered in its thread", || async {
            slack
                .calls("chat.postMessage")
                .await
                .into_iter()
                .find(|p| p["channel"] == "C7")
        })
        .await;
    assert_eq!(reply["thread_ts"], "1700000400.000100", "{reply}");
    assert!(
        reply.to_string().to_lowercase().contains("memory"),
        "{reply}"
    );
    let posts = slack.calls("chat.postMessage").await;
    assert!(
        posts
            .iter()
            .filter(|p| p["channel"] == "C7")
            .all(|p| p["thread_ts"] == "1700000400.000100"),
        "everything about the mention stays in its thread: {posts:#?}"
    );
}
