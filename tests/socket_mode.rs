//! Socket Mode end to end, over a real WebSocket on loopback.
//!
//! The real `ecs-why serve` binary runs with `SLACK_APP_TOKEN` set and a clean
//! environment. The fake Slack Web API (wiremock) answers `apps.connections.open` with
//! the `ws://` URL of a small WebSocket server this test runs, playing Slack's side of
//! Socket Mode: `hello`, then a `slash_commands` envelope and an `events_api` envelope
//! (an `app_mention` in a thread). The test checks what Slack would see: each envelope
//! acknowledged over the socket by its `envelope_id` (the slash command's ack carrying
//! the "Looking at…" message), the diagnosis card from the real engine over the fake
//! AWS posted with `chat.postMessage`, a button press (`interactive`) acked and acted
//! on, and the mention answered in its thread. A second test sends `disconnect`, as Slack
//! does every few hours, and checks the bot reconnects, keeps answering, and answers a
//! redelivered event only once.

mod support;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fake_aws::{canned, FakeAws};
use support::fake_slack::FakeSlack;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const CLUSTER: &str = "prod";
/// Long enough for a cold start and the real engine; everything normally takes < 2 s.
const WAIT: Duration = Duration::from_secs(20);

/// Slack's side of the WebSocket. Every connection gets `hello`, then whatever the test
/// sends on it (by connection index, in order of connecting; slack-morphism opens a
/// second connection a few seconds after the first, and a new one after `disconnect`).
/// Every text frame the bot sends comes back to the test with its connection's index.
struct FakeSocket {
    url: String,
    senders: Arc<Mutex<Vec<mpsc::UnboundedSender<String>>>>,
    closed: Arc<Mutex<Vec<usize>>>,
    incoming: mpsc::UnboundedReceiver<(usize, Value)>,
}

impl FakeSocket {
    async fn start() -> FakeSocket {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the WebSocket");
        let port = listener.local_addr().expect("a local address").port();
        let senders: Arc<Mutex<Vec<mpsc::UnboundedSender<String>>>> = Arc::default();
        let closed: Arc<Mutex<Vec<usize>>> = Arc::default();
        let (from_bot, incoming) = mpsc::unbounded_channel();
        let (accepted, ended) = (senders.clone(), closed.clone());
        // Ends with the test's runtime, like every connection task below.
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (to_bot, script) = mpsc::unbounded_channel();
                let index = {
                    let mut senders = accepted.lock().expect("not poisoned");
                    senders.push(to_bot);
                    senders.len() - 1
                };
                let (from_bot, ended) = (from_bot.clone(), ended.clone());
                tokio::spawn(async move {
                    serve_connection(stream, index, script, from_bot).await;
                    ended.lock().expect("not poisoned").push(index);
                });
            }
        });
        FakeSocket {
            url: format!("ws://127.0.0.1:{port}/link/?ticket=test-ticket&app_id=A1"),
            senders,
            closed,
            incoming,
        }
    }

    /// How many connections the bot has opened so far.
    fn connections(&self) -> usize {
        self.senders.lock().expect("not poisoned").len()
    }

    fn is_closed(&self, index: usize) -> bool {
        self.closed.lock().expect("not poisoned").contains(&index)
    }

    /// Send `frame` to the bot on connection `index`.
    fn send_on(&self, index: usize, frame: Value) {
        self.senders.lock().expect("not poisoned")[index]
            .send(frame.to_string())
            .expect("the connection is open");
    }

    /// The next frame from the bot that names `envelope_id` (other frames are skipped),
    /// with the index of the connection it came on.
    async fn ack_of(&mut self, envelope_id: &str, served: &Served) -> (usize, Value) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.incoming.recv()).await {
                Ok(Some((index, frame))) if frame["envelope_id"] == envelope_id => {
                    return (index, frame)
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => panic!(
                    "no ack for envelope {envelope_id} within {WAIT:?}\n--- serve's log ---\n{}",
                    served.logs()
                ),
            }
        }
    }
}

/// One WebSocket connection: `hello`, then what the test sends on it, while every text
/// frame from the bot goes to the test. Ends when either side closes.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    index: usize,
    mut script: mpsc::UnboundedReceiver<String>,
    from_bot: mpsc::UnboundedSender<(usize, Value)>,
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
            Some(frame) = script.recv() => {
                if ws.send(Message::text(frame)).await.is_err() {
                    return;
                }
            }
            received = ws.next() => match received {
                Some(Ok(Message::Text(text))) => {
                    let value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|_| json!({"unparsed": text.as_str()}));
                    let _ = from_bot.send((index, value));
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
    /// `127.0.0.1:PORT`, as `serve` logged it.
    addr: String,
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
    async fn start(slack: &FakeSlack, aws: &FakeAws) -> Served {
        let log_dir = tempfile::tempdir().expect("a temporary directory");
        let log = log_dir.path().join("serve.log");
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-why"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        let child = aws
            .configure_command(&mut command)
            .env("SLACK_APP_TOKEN", "xapp-test")
            .env("SLACK_BOT_TOKEN", "xoxb-test")
            .env("SLACK_API_URL", slack.api_url())
            .env("ECS_WHY_LISTEN", "127.0.0.1:0")
            .env("ECS_WHY_DEFAULT_CLUSTER", CLUSTER)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start ecs-why serve");
        let addr = support::serve_log::listening_addr(&log, Duration::from_secs(20)).await;
        Served {
            child,
            addr,
            log,
            _log_dir: log_dir,
        }
    }

    /// `GET /readyz`: the status and body, once the server answers at all.
    async fn readiness(&self) -> Option<(u16, String)> {
        let response = reqwest::get(format!("http://{}/readyz", self.addr))
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.unwrap_or_default()))
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll `check` every 50 ms until it gives a value; panic with the logs after WAIT.
    async fn until<T, F, Fut>(&self, what: &str, check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let logs = || self.logs();
        support::wait::until_some(WAIT, Duration::from_millis(50), what, logs, check).await
    }
}

/// Task 1 in `prod`: `web` killed for memory (exit 137), with a log tail.
fn add_task(aws: &FakeAws) -> String {
    aws.add_stopped_task(
        CLUSTER,
        1,
        "EssentialContainerExited",
        137,
        &[
            "starting web 1.4.2",
            "java.lang.OutOfMemoryError: Java heap space",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_over_a_websocket_acks_envelopes_and_answers() {
    let slack = FakeSlack::start().await;
    let aws = FakeAws::start().await;
    let id = add_task(&aws);
    let task_arn = canned::task_arn(CLUSTER, &id);
    let mut socket = FakeSocket::start().await;
    slack.socket_mode_at(&socket.url).await;
    let served = Served::start(&slack, &aws).await;

    // The bot asks for the WebSocket URL with the app-level token and connects.
    served
        .until("the bot connects to the WebSocket", || async {
            (socket.connections() >= 1).then_some(())
        })
        .await;
    let opened = slack.authorizations("apps.connections.open").await;
    assert!(
        opened.iter().all(|a| a == "Bearer xapp-test"),
        "apps.connections.open uses the app-level token: {opened:?}"
    );

    // `/ecs why <task arn>` in channel C1.
    socket.send_on(0, json!({
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
    let (on, ack) = socket.ack_of("env-command-1", &served).await;
    assert_eq!(on, 0, "acked on the connection it came on");
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
    // "Re-run diagnosis" pressed on the card: a bare ack, then the card updated in place.
    let rerun = card["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["elements"].as_array().into_iter().flatten())
        .find(|e| e["action_id"] == "ecs_why_rerun")
        .cloned()
        .expect("the card has a re-run button");
    socket.send_on(0, json!({
        "envelope_id": "env-press-1",
        "type": "interactive",
        "accepts_response_payload": false,
        "payload": {
            "type": "block_actions", "team": {"id": "T1", "domain": "example"},
            "user": {"id": "U1", "name": "oncall"}, "api_app_id": "A1", "token": "legacy",
            "channel": {"id": "C1", "name": "ops"},
            "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1", "is_ephemeral": false},
            "response_url": slack.response_url("socket-press"), "trigger_id": "1.2.3",
            "actions": [{"action_id": "ecs_why_rerun", "block_id": "actions", "type": "button",
                         "value": rerun["value"].clone(), "action_ts": "1700000450.000001"}]
        }
    }));
    let (_, ack) = socket.ack_of("env-press-1", &served).await;
    assert_eq!(ack, json!({"envelope_id": "env-press-1"}), "{ack}");
    let updated = served
        .until("the card is updated in place", || async {
            slack.calls("chat.update").await.into_iter().next()
        })
        .await;
    assert_eq!(updated["channel"], "C1", "{updated}");
    assert_eq!(updated["ts"], "1700000000.000100", "{updated}");

    let posted_with = slack.authorizations("chat.postMessage").await;
    assert!(
        posted_with.iter().all(|a| a == "Bearer xoxb-test"),
        "posts use the bot token: {posted_with:?}"
    );

    // `@ecs-why why <task>` in a thread of channel C7.
    socket.send_on(0, json!({
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
    let (_, ack) = socket.ack_of("env-event-1", &served).await;
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

/// An `app_mention` of task 1 in a thread of channel C7, as an `events_api` envelope.
fn mention_envelope(envelope_id: &str, event_id: &str, retry: u32, id: &str) -> Value {
    json!({
        "envelope_id": envelope_id,
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": retry,
        "retry_reason": if retry > 0 { "timeout" } else { "" },
        "payload": {
            "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": event_id, "event_time": 1700000500,
            "event": {
                "type": "app_mention", "user": "U2", "channel": "C7",
                "text": format!("<@UBOT> why {id}"),
                "ts": "1700000500.000200", "event_ts": "1700000500.000200",
                "thread_ts": "1700000400.000100"
            }
        }
    })
}

/// Posts in C7's thread that are diagnosis cards (they carry the re-run button).
async fn cards_in_thread(slack: &FakeSlack) -> usize {
    slack
        .calls("chat.postMessage")
        .await
        .into_iter()
        .filter(|p| p["channel"] == "C7" && p["thread_ts"] == "1700000400.000100")
        .filter(|p| p.to_string().contains("ecs_why_rerun"))
        .count()
}

/// Slack asks clients to reconnect (`disconnect`, e.g. `refresh_requested`) every few
/// hours and redelivers events it thinks were not acked. The bot opens a new
/// connection, keeps answering on it, and answers a redelivered event only once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_reconnects_after_disconnect_and_answers_a_redelivery_once() {
    let slack = FakeSlack::start().await;
    let aws = FakeAws::start().await;
    let id = add_task(&aws);
    let mut socket = FakeSocket::start().await;
    slack.socket_mode_at(&socket.url).await;
    let served = Served::start(&slack, &aws).await;
    served
        .until("the bot connects to the WebSocket", || async {
            (socket.connections() >= 1).then_some(())
        })
        .await;

    socket.send_on(0, mention_envelope("env-a", "Ev0REDELIVER", 0, &id));
    socket.ack_of("env-a", &served).await;
    served
        .until(
            "the mention is answered with a card in its thread",
            || async { (cards_in_thread(&slack).await == 1).then_some(()) },
        )
        .await;

    // Slack asks for a reconnect: the bot closes this connection and opens another.
    let before = socket.connections();
    let opens = slack.calls("apps.connections.open").await.len();
    socket.send_on(
        0,
        json!({"type": "disconnect", "reason": "refresh_requested",
               "debug_info": {"host": "applink-test"}}),
    );
    let fresh = served
        .until("the bot reconnects after disconnect", || async {
            let now = socket.connections();
            (now > before).then(|| now - 1)
        })
        .await;
    served
        .until("the old connection is closed", || async {
            socket.is_closed(0).then_some(())
        })
        .await;
    assert!(
        slack.calls("apps.connections.open").await.len() > opens,
        "the new connection asked apps.connections.open for a fresh URL"
    );

    // The same event redelivered on the new connection: acked, not answered again.
    socket.send_on(fresh, mention_envelope("env-b", "Ev0REDELIVER", 1, &id));
    let (on, ack) = socket.ack_of("env-b", &served).await;
    assert_eq!(on, fresh);
    assert_eq!(ack, json!({"envelope_id": "env-b"}));
    served
        .until("the bot recognises the redelivery", || async {
            let logs = served.logs();
            (logs.contains("event already handled") && logs.contains("Ev0REDELIVER")).then_some(())
        })
        .await;

    // A new command on the new connection is answered as usual.
    socket.send_on(
        fresh,
        json!({
            "envelope_id": "env-c", "type": "slash_commands", "accepts_response_payload": true,
            "payload": {
                "team_id": "T1", "channel_id": "C1", "user_id": "U1", "command": "/ecs",
                "text": format!("why {id}"),
                "response_url": slack.response_url("after-reconnect"), "trigger_id": "1.2.3"
            }
        }),
    );
    let (on, ack) = socket.ack_of("env-c", &served).await;
    assert_eq!(on, fresh);
    assert!(
        ack["payload"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Looking at")),
        "{ack}"
    );
    served
        .until("the card is posted in C1", || async {
            slack
                .calls("chat.postMessage")
                .await
                .into_iter()
                .find(|p| p["channel"] == "C1" && p.get("thread_ts").is_none())
        })
        .await;
    assert_eq!(
        cards_in_thread(&slack).await,
        1,
        "the redelivered mention was not answered twice"
    );
    let looking: Vec<Value> = slack
        .calls("chat.postEphemeral")
        .await
        .into_iter()
        .filter(|p| p["channel"] == "C7")
        .collect();
    assert_eq!(
        looking.len(),
        1,
        "one \"Looking at\" for the mention: {looking:#?}"
    );
}

/// A token Slack refuses is reported at start-up, naming SLACK_APP_TOKEN and the fix;
/// a good one is confirmed once each connection says hello.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_app_token_is_reported_with_the_fix() {
    let slack = FakeSlack::start().await;
    let aws = FakeAws::start().await;
    slack.socket_mode_refused("invalid_auth").await;
    let served = Served::start(&slack, &aws).await;
    served
        .until("the refusal is logged with the fix", || async {
            served
                .logs()
                .lines()
                .find(|l| {
                    l.contains("Slack refused SLACK_APP_TOKEN")
                        && l.contains("invalid_auth")
                        && l.contains("connections:write")
                })
                .map(str::to_string)
        })
        .await;
    let (status, body) = served.until("/readyz answers", || served.readiness()).await;
    assert_eq!(status, 503, "not ready with a refused app token: {body}");
    assert!(
        body.contains("SLACK_APP_TOKEN") && body.contains("connections:write"),
        "{body}"
    );

    let slack = FakeSlack::start().await;
    let socket = FakeSocket::start().await;
    slack.socket_mode_at(&socket.url).await;
    let served = Served::start(&slack, &aws).await;
    served
        .until("the connection is logged", || async {
            served
                .logs()
                .contains("Socket Mode connected")
                .then_some(())
        })
        .await;
    assert!(!served.logs().contains("refused SLACK_APP_TOKEN"));
    served
        .until(
            "/readyz says ready once Socket Mode is connected",
            || async {
                served
                    .readiness()
                    .await
                    .filter(|(status, _)| *status == 200)
            },
        )
        .await;
}
