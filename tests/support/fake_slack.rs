//! A fake Slack Web API for tests: records every call and answers like Slack does.
//!
//! Point the bot at it with `SLACK_API_URL = fake.api_url()`. It answers `auth.test`,
//! `chat.postMessage` (each post gets a new `ts`), `chat.update`, `chat.postEphemeral`,
//! `chat.getPermalink` (a link built from the channel and ts), `conversations.history`
//! (the messages posted, with their metadata), `response_url` posts
//! under `/response/...`, and the files upload v2 flow (`files.getUploadURLExternal`,
//! the bytes to `/upload/...`, `files.completeUploadExternal`); [`FakeSlack::socket_mode_at`] makes `apps.connections.open`
//! hand out a WebSocket URL for Socket Mode tests. Tests can make a channel answer `not_in_channel`, a method
//! answer 429 with `Retry-After` a few times first, `chat.postMessage` or
//! `chat.getPermalink` fail, or `auth.test` refuse the token a few times first.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{body_partial_json, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub struct FakeSlack {
    pub server: MockServer,
    /// Every message posted, as the channel's history holds it (with its ts).
    history: Arc<Mutex<Vec<Value>>>,
    /// How long chat.postMessage takes to answer (the message is posted at once).
    post_delay_ms: Arc<AtomicU64>,
}

/// Answers chat.postMessage with the channel it was given and a fresh ts, and keeps
/// the message in the channel's history.
struct PostMessage {
    next: AtomicU64,
    history: Arc<Mutex<Vec<Value>>>,
    delay_ms: Arc<AtomicU64>,
}

impl Respond for PostMessage {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let channel = body["channel"].as_str().unwrap_or("C0").to_string();
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let ts = format!("1700000000.{n:06}");
        let mut stored = body.clone();
        stored["ts"] = json!(ts);
        // On Slack a ts is the time of posting; here the ts is fixed for the tests'
        // sake, so the history filters on when it arrived.
        stored["posted_at"] = json!(now());
        self.history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(stored);
        ResponseTemplate::new(200)
            .set_body_json(json!({
                "ok": true, "channel": channel, "ts": ts,
                "message": {"ts": ts, "text": body["text"].clone()}
            }))
            .set_delay(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)))
    }
}

/// Answers conversations.history (a GET): the channel's top-level messages newer than
/// `oldest`, newest first, with their metadata when `include_all_metadata` is set.
struct History {
    history: Arc<Mutex<Vec<Value>>>,
}

impl Respond for History {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: std::collections::HashMap<String, String> =
            request.url.query_pairs().into_owned().collect();
        let channel = query.get("channel").cloned().unwrap_or_default();
        let oldest: f64 = query
            .get("oldest")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0.0);
        let metadata = query.get("include_all_metadata").map(String::as_str) == Some("true");
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let messages: Vec<Value> = history
            .iter()
            .rev()
            .filter(|m| m["channel"] == channel.as_str())
            .filter(|m| m.get("thread_ts").is_none_or(Value::is_null))
            .filter(|m| m["posted_at"].as_f64().is_some_and(|t| t >= oldest))
            .map(|m| {
                let mut shown = json!({"type": "message", "ts": m["ts"], "text": m["text"],
                                       "bot_id": "BBOT", "user": "UBOT"});
                if metadata && !m["metadata"].is_null() {
                    shown["metadata"] = m["metadata"].clone();
                }
                shown
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "messages": messages, "has_more": false
        }))
    }
}

/// The permalink of a message: `https://example.slack.com/archives/{channel}/p{ts}`.
pub fn permalink(channel: &str, ts: &str) -> String {
    format!(
        "https://example.slack.com/archives/{channel}/p{}",
        ts.replace('.', "")
    )
}

/// Answers chat.getPermalink (a GET with `channel` and `message_ts` in the query).
struct GetPermalink;

impl Respond for GetPermalink {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: std::collections::HashMap<String, String> =
            request.url.query_pairs().into_owned().collect();
        let channel = query.get("channel").cloned().unwrap_or_default();
        let ts = query.get("message_ts").cloned().unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "channel": channel, "permalink": permalink(&channel, &ts)
        }))
    }
}

/// Echoes chat.update's channel and ts.
struct Update;

impl Respond for Update {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "channel": body["channel"].clone(), "ts": body["ts"].clone(),
            "message": {"text": body["text"].clone()}
        }))
    }
}

/// Answers files.getUploadURLExternal (a GET with `filename` and `length`) with an
/// upload URL on this server and a new file id.
struct GetUploadUrl {
    base: String,
    next: AtomicU64,
}

impl Respond for GetUploadUrl {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let id = format!("F{n:04}");
        ResponseTemplate::new(200).set_body_json(json!({
            "ok": true, "upload_url": format!("{}/{id}", self.base), "file_id": id
        }))
    }
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let server = MockServer::start().await;
        let history = Arc::new(Mutex::new(Vec::new()));
        let post_delay_ms = Arc::new(AtomicU64::new(0));
        Mock::given(path("/api/auth.test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true, "url": "https://example.slack.com/", "team": "Example",
                "user": "ecs-why", "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT"
            })))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/chat.postMessage"))
            .respond_with(PostMessage {
                next: AtomicU64::new(100),
                history: history.clone(),
                delay_ms: post_delay_ms.clone(),
            })
            .mount(&server)
            .await;
        Mock::given(path("/api/conversations.history"))
            .respond_with(History {
                history: history.clone(),
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/chat.update"))
            .respond_with(Update)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/chat.postEphemeral"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": true, "message_ts": "1700000000.999999"})),
            )
            .mount(&server)
            .await;
        Mock::given(path("/api/chat.getPermalink"))
            .respond_with(GetPermalink)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex("^/response/.*"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server)
            .await;
        // Files upload v2: an upload URL on this server, the bytes, then the share.
        let upload_base = format!("{}/upload", server.uri());
        Mock::given(path("/api/files.getUploadURLExternal"))
            .respond_with(GetUploadUrl {
                base: upload_base,
                next: AtomicU64::new(1),
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex("^/upload/.*"))
            .respond_with(ResponseTemplate::new(200).set_body_string("OK"))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/files.completeUploadExternal"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "ok": true, "files": [{"id": "F0001", "title": "shared"}]
            })))
            .mount(&server)
            .await;
        FakeSlack {
            server,
            history,
            post_delay_ms,
        }
    }

    /// Messages Slack accepted (chat.postMessage answered ok, not 429), in order, each
    /// the request's body with its `ts`.
    pub fn posted(&self) -> Vec<Value> {
        self.history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// From now on chat.postMessage posts at once but answers only after `delay` (a
    /// slow Slack, or a poster killed before it learns its message's ts).
    pub fn delay_posts(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.post_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// `usergroups.users.list` of `group` answers `members`.
    pub async fn usergroup(&self, group: &str, members: &[&str]) {
        Mock::given(path("/api/usergroups.users.list"))
            .and(wiremock::matchers::query_param("usergroup", group))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": true, "users": members})),
            )
            .mount(&self.server)
            .await;
    }

    /// The next `times` calls of `api_method` answer 429 with `Retry-After: seconds`.
    pub async fn rate_limit_for(&self, api_method: &str, seconds: u64, times: u64) {
        Mock::given(method("POST"))
            .and(path(format!("/api/{api_method}")))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", seconds.to_string().as_str())
                    .set_body_json(json!({"ok": false, "error": "ratelimited"})),
            )
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// The bytes of every file uploaded through the v2 flow, with the upload's path.
    pub async fn uploaded_files(&self) -> Vec<(String, Vec<u8>)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path().starts_with("/upload/"))
            .map(|r| (r.url.path().to_string(), r.body.clone()))
            .collect()
    }

    /// The value for `SLACK_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.server.uri())
    }

    /// A `response_url` that lands here.
    pub fn response_url(&self, id: &str) -> String {
        format!("{}/response/{id}", self.server.uri())
    }

    /// The next `times` calls of `auth.test` answer `invalid_auth` (a bad bot token).
    pub async fn auth_fails(&self, times: u64) {
        Mock::given(path("/api/auth.test"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": "invalid_auth"})),
            )
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// `apps.connections.open` (Socket Mode) answers `{"ok": true, "url": ws_url}`, as
    /// Slack does with the `wss://` URL the app should connect to.
    pub async fn socket_mode_at(&self, ws_url: &str) {
        Mock::given(method("POST"))
            .and(path("/api/apps.connections.open"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": true, "url": ws_url})),
            )
            .mount(&self.server)
            .await;
    }

    /// `apps.connections.open` answers `{"ok": false, "error": error}` (a wrong or
    /// non-app-level token).
    pub async fn socket_mode_refused(&self, error: &str) {
        Mock::given(method("POST"))
            .and(path("/api/apps.connections.open"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": error})),
            )
            .mount(&self.server)
            .await;
    }

    /// The `Authorization` header of every call to `api_method`.
    pub async fn authorizations(&self, api_method: &str) -> Vec<String> {
        let wanted = format!("/api/{api_method}");
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == wanted)
            .map(|r| {
                r.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// Posts to `channel` answer `not_in_channel`.
    pub async fn not_in_channel(&self, channel: &str) {
        Mock::given(method("POST"))
            .and(path("/api/chat.postMessage"))
            .and(body_partial_json(json!({ "channel": channel })))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": "not_in_channel"})),
            )
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// The next `times` posts of a message answer `internal_error` (Slack had a bad
    /// moment; not a rate limit, so the bot does not retry by itself).
    pub async fn post_fails(&self, times: u64) {
        Mock::given(method("POST"))
            .and(path("/api/chat.postMessage"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": "internal_error"})),
            )
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Every `chat.getPermalink` answers `message_not_found`.
    pub async fn permalink_fails(&self) {
        Mock::given(path("/api/chat.getPermalink"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ok": false, "error": "message_not_found"})),
            )
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// The next `times` calls of `api_method` answer 429 with `Retry-After: 1`.
    pub async fn rate_limit(&self, api_method: &str, times: u64) {
        Mock::given(method("POST"))
            .and(path(format!("/api/{api_method}")))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("Retry-After", "1")
                    .set_body_json(json!({"ok": false, "error": "ratelimited"})),
            )
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Bodies of every call to `api_method` (e.g. `chat.postMessage`), or to
    /// `response_url`s when `api_method` is `response`. A call without a body (a GET
    /// such as `chat.getPermalink`) gives its query parameters as an object.
    pub async fn calls(&self, api_method: &str) -> Vec<Value> {
        let prefix = if api_method == "response" {
            "/response/".to_string()
        } else {
            format!("/api/{api_method}")
        };
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path().starts_with(&prefix))
            .map(|r| body_of(&r))
            .collect()
    }

    /// Wait until at least `n` calls of `api_method` arrived (or panic after `timeout`).
    pub async fn wait_for(&self, api_method: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let calls = self.calls(api_method).await;
            if calls.len() >= n {
                return calls;
            }
            if start.elapsed() > timeout {
                panic!(
                    "expected {n} calls to {api_method} within {timeout:?}, got {}: {calls:#?}",
                    calls.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every Web API call so far, as `(method, body)`.
    pub async fn all_calls(&self) -> Vec<(String, Value)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let body = body_of(&r);
                (r.url.path().to_string(), body)
            })
            .collect()
    }
}

/// A request's JSON body, or its query parameters when it has no body.
fn body_of(request: &Request) -> Value {
    if request.body.is_empty() {
        let query: serde_json::Map<String, Value> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Value::Object(query);
    }
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

/// A fresh `trigger_id`, as Slack gives every command and press: two requests are
/// never byte-identical, so none is mistaken for a replay.
pub fn trigger_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}.{}",
        NEXT.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    )
}

/// Now, in Unix seconds: what Slack puts in `X-Slack-Request-Timestamp`.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

/// A form body (`application/x-www-form-urlencoded`), as Slack posts commands and presses.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Sign a request body as Slack does: `v0=` + hex(HMAC-SHA256(secret, "v0:{ts}:{body}")).
/// Goes in `X-Slack-Signature`, with `ts` in `X-Slack-Request-Timestamp`.
pub fn sign(secret: &str, ts: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v0={hex}")
}
