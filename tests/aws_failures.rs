//! What people are told when AWS fails: a sentence naming the code, the HTTP status, the
//! role or the connection problem, never the SDK's debug dump of the response (which
//! carries whatever the body held: environment values, tokens). The Slack tests run the
//! real server and engine against the fake AWS; the others call the `Gatherer` directly.

mod support;

use ecs_why::gather::{self, Gatherer};
use ecs_why::investigate::Investigator;
use ecs_why::slack::{self, Settings};
use ecs_why::task_ref::Target;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::fake_aws::{canned, FakeAws, Fault, GARBLED_SECRET, GARBLED_TOKEN};
use support::fake_slack::{sign, FakeSlack};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// The real bot around the real engine reading the fake AWS; returns the fake Slack and
/// the bot's base URL.
async fn real_bot(aws: &FakeAws) -> (FakeSlack, String) {
    let fake = FakeSlack::start().await;
    let vars: HashMap<&str, String> = HashMap::from([
        ("SLACK_SIGNING_SECRET", SECRET.to_string()),
        ("SLACK_BOT_TOKEN", "xoxb-test".to_string()),
        ("SLACK_API_URL", fake.api_url()),
        ("ECS_WHY_LISTEN", "127.0.0.1:0".to_string()),
        ("ECS_WHY_DEFAULT_CLUSTER", "prod".to_string()),
        ("AWS_REGION", support::fake_aws::REGION.to_string()),
    ]);
    let settings = Settings::from_vars(|k| vars.get(k).cloned()).unwrap();
    let engine = Investigator::from_gatherer(
        Gatherer::from_sdk_config(&aws.sdk_config().await).with_recent_stops(true),
    );
    let app = slack::build_with(settings, Arc::new(engine)).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    (fake, base)
}

async fn ask(fake: &FakeSlack, base: &str, text: &str) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", "T1")
        .append_pair("channel_id", "C1")
        .append_pair("channel_name", "ops")
        .append_pair("user_id", "U1")
        .append_pair("command", "/ecs")
        .append_pair("text", text)
        .append_pair("response_url", &fake.response_url("U1"))
        .append_pair("trigger_id", "1.2.3")
        .finish();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let response = reqwest::Client::new()
        .post(format!("{base}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SECRET, ts, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Everything the bot sent to Slack, as one string.
async fn everything_sent(fake: &FakeSlack) -> String {
    serde_json::to_string(&fake.all_calls().await).unwrap()
}

async fn asker_is_told(aws: &FakeAws, id: &str) -> String {
    let (fake, base) = real_bot(aws).await;
    ask(&fake, &base, &format!("why {id}")).await;
    let responses = fake.wait_for("response", 1, Duration::from_secs(20)).await;
    let told = responses[0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let sent = everything_sent(&fake).await;
    for secret in [
        GARBLED_SECRET,
        GARBLED_TOKEN,
        "DB_PASSWORD",
        "<html",
        "SdkBody",
    ] {
        assert!(!sent.contains(secret), "`{secret}` reached Slack: {sent}");
    }
    told
}

#[tokio::test]
async fn a_garbled_describe_tasks_answer_never_reaches_slack() {
    let aws = FakeAws::start().await;
    let id = aws.add_stopped_task("prod", 1, "EssentialContainerExited", 1, &["boom"]);
    aws.fail("DescribeTasks", Fault::Garbled);
    let told = asker_is_told(&aws, &id).await;
    assert!(told.contains("HTTP 200"), "{told}");
    assert!(told.contains("not a valid AWS answer"), "{told}");
}

#[tokio::test]
async fn a_proxy_error_page_is_named_by_its_status_and_never_reaches_slack() {
    let aws = FakeAws::start().await;
    let id = aws.add_stopped_task("prod", 2, "EssentialContainerExited", 1, &["boom"]);
    aws.fail("DescribeTasks", Fault::BadGatewayPage);
    let told = asker_is_told(&aws, &id).await;
    assert!(told.contains("HTTP 502"), "{told}");
}

#[tokio::test]
async fn a_garbled_secondary_answer_becomes_a_note_without_the_body() {
    let aws = FakeAws::start().await;
    let id = aws.add_stopped_task("prod", 3, "EssentialContainerExited", 1, &["boom"]);
    aws.fail("GetLogEvents", Fault::Garbled);
    aws.fail("DescribeServices", Fault::BadGatewayPage);
    let gatherer = Gatherer::from_sdk_config(&aws.sdk_config().await);
    let evidence = gatherer
        .gather(&Target::parse(&canned::task_arn("prod", &id), None, None).unwrap())
        .await
        .unwrap();
    let notes = evidence
        .notes
        .iter()
        .map(|n| n.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(notes.contains("HTTP 200"), "{notes}");
    assert!(!notes.contains(GARBLED_SECRET), "{notes}");
}

async fn gather_error(gatherer: &Gatherer, id: &str) -> (String, Duration) {
    let started = Instant::now();
    let target = Target::parse(&canned::task_arn("prod", id), None, None).unwrap();
    let err = gatherer
        .gather(&target)
        .await
        .expect_err("the gather fails");
    (err.to_string(), started.elapsed())
}

#[tokio::test]
async fn a_server_error_is_reported_with_its_code_and_request_id_at_once() {
    let aws = FakeAws::start().await;
    let id = aws.add_stopped_task("prod", 4, "EssentialContainerExited", 1, &[]);
    aws.fail("DescribeTasks", Fault::InternalError);
    let gatherer = Gatherer::from_sdk_config(&aws.sdk_config().await);
    let (message, took) = gather_error(&gatherer, &id).await;
    assert!(message.contains("InternalFailure"), "{message}");
    assert!(
        message.contains("5e1b7c1a-0000-4000-8000-fa15eca11500"),
        "{message}"
    );
    assert!(!message.contains("in time"), "{message}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_reset_connection_is_called_a_reset() {
    // An endpoint that resets every connection as soon as it is made.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // A zero linger makes close send RST (and with zero it never blocks).
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    });
    let aws = FakeAws::start().await;
    let config = aws
        .sdk_config()
        .await
        .into_builder()
        .endpoint_url(endpoint)
        .build();
    let gatherer = Gatherer::from_sdk_config(&config);
    let (message, took) = gather_error(&gatherer, &canned::task_id(5)).await;
    assert!(
        message.contains("reset") || message.contains("closed before the answer"),
        "{message}"
    );
    assert!(!message.contains("in time"), "{message}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_within_the_time_budget() {
    let aws = FakeAws::start().await;
    let id = aws.add_stopped_task("prod", 6, "EssentialContainerExited", 1, &["boom"]);
    aws.fail_times("DescribeTasks", Fault::Throttling, 2);
    let config = aws
        .sdk_config()
        .await
        .into_builder()
        .retry_config(gather::retry_config())
        .build();
    let gatherer = Gatherer::from_sdk_config(&config);
    let target = Target::parse(&canned::task_arn("prod", &id), None, None).unwrap();
    let started = Instant::now();
    let evidence = gatherer
        .gather(&target)
        .await
        .expect("answered after retries");
    assert!(evidence.task.arn.ends_with(&id), "{}", evidence.task.arn);
    assert_eq!(aws.calls("DescribeTasks"), 3);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_named_with_what_sts_answered() {
    let aws = FakeAws::start().await;
    let id = aws.add_stopped_task("prod", 7, "EssentialContainerExited", 1, &[]);
    aws.fail("AssumeRole", Fault::AccessDenied);
    let role = "arn:aws:iam::999999999999:role/ecs-why-read";
    let gatherer = Gatherer::assuming(&aws.sdk_config().await, role).await;
    let (message, _) = gather_error(&gatherer, &id).await;
    assert!(message.contains(role), "{message}");
    assert!(message.contains("AccessDenied"), "{message}");
    assert!(!message.contains("no AWS credentials found"), "{message}");
    assert!(!message.contains("AWS_PROFILE"), "{message}");
}

#[tokio::test]
async fn a_task_in_another_account_is_not_looked_up_in_the_bots_own() {
    let aws = FakeAws::start().await;
    let id = aws.add_stopped_task("prod", 8, "EssentialContainerExited", 1, &[]);
    let (fake, base) = real_bot(&aws).await;
    let elsewhere = format!("arn:aws:ecs:us-east-1:999999999999:task/prod/{id}");
    ask(&fake, &base, &format!("why {elsewhere}")).await;
    let responses = fake.wait_for("response", 1, Duration::from_secs(20)).await;
    let told = responses[0]["text"].as_str().unwrap_or_default();
    assert!(told.contains("account 999999999999"), "{told}");
    assert!(told.contains("role_arn"), "{told}");
    assert_eq!(aws.calls("DescribeTasks"), 0, "nothing was looked up");
    assert!(fake.calls("chat.postMessage").await.is_empty());
}
