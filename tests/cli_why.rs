//! `ecs-why why` as a user runs it: the real binary, the standard credential chain and
//! `AWS_ENDPOINT_URL` pointing at a local fake AWS on loopback.

mod support;

use serde_json::Value;
use std::process::{Command, Output};
use support::fake_aws::{canned, FakeAws, Fault};

const CLUSTER: &str = "prod";

/// Run the binary with only the environment a user on a laptop would have, pointed at
/// the fake, with static credentials and no config files or instance metadata.
async fn why(fake: &FakeAws, args: &[&str]) -> Output {
    why_with(fake, args, &[]).await
}

/// [`why`] with more environment variables (another endpoint for one service).
async fn why_with(fake: &FakeAws, args: &[&str], extra: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ecs-why"));
    command
        .arg("why")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    fake.configure_command(&mut command)
        .env("AWS_MAX_ATTEMPTS", "1")
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())));
    tokio::task::spawn_blocking(move || command.output().expect("the ecs-why binary runs"))
        .await
        .expect("the binary's runner finishes")
}

fn answer(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

async fn fake_with(n: u32, stop_code: &str, exit_code: i32, lines: &[&str]) -> (FakeAws, String) {
    let fake = FakeAws::start().await;
    let id = fake.add_stopped_task(CLUSTER, n, stop_code, exit_code, lines);
    (fake, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn explains_an_oom_kill_by_arn_with_logs_and_no_secret_values() {
    let (fake, id) = fake_with(
        1,
        "EssentialContainerExited",
        137,
        &[
            "connecting to postgres://app:hunter2@db.internal/app",
            "java.lang.OutOfMemoryError: Java heap space",
        ],
    )
    .await;
    let arn = canned::task_arn(CLUSTER, &id);
    let output = why(&fake, &[&arn, "--format", "json"]).await;
    let answer = answer(&output);
    assert_eq!(answer["category"], "out-of-memory");
    assert_eq!(answer["task"]["arn"], arn.as_str());
    assert_eq!(answer["task"]["containers"][0]["exit_code"], 137);
    let kinds: Vec<&str> = answer["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(kinds.contains(&"oom-in-logs"), "{kinds:?}");
    let everything = String::from_utf8_lossy(&output.stdout);
    assert!(
        !everything.contains("hunter2"),
        "a password reached the output"
    );
    assert_eq!(fake.calls("DescribeTasks"), 1);
    assert_eq!(fake.calls("DescribeTaskDefinition"), 1);
    assert_eq!(fake.calls("GetLogEvents"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn names_who_stopped_a_task_from_cloudtrail_with_a_bare_id_and_cluster() {
    let (fake, id) = fake_with(2, "UserInitiated", 143, &["shutting down"]).await;
    fake.add_cloudtrail_event(canned::stop_task_event(
        &id,
        CLUSTER,
        "rolling back bad config",
        canned::STOPPED_AT - 3.0,
    ));
    let answer = answer(&why(&fake, &[&id, "--cluster", CLUSTER, "--format", "json"]).await);
    assert_eq!(answer["category"], "stopped-by-user");
    let who = &answer["stopped_by"];
    assert_eq!(
        who["arn"],
        "arn:aws:sts::123456789012:assumed-role/Admin/alice"
    );
    assert_eq!(who["type"], "AssumedRole");
    assert_eq!(who["source_ip"], "203.0.113.7");
    assert_eq!(who["user_agent"], "aws-cli/2.15.0");
    assert!(who["time"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_that_is_denied_becomes_a_note_not_a_failure() {
    let (fake, id) = fake_with(3, "EssentialContainerExited", 1, &["boom"]).await;
    fake.fail("GetLogEvents", Fault::AccessDenied);
    let arn = canned::task_arn(CLUSTER, &id);
    let output = why(&fake, &[&arn, "--format", "text"]).await;
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("logs:GetLogEvents"), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour when piped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_ecs_no_longer_knows_exits_2_and_says_why() {
    let (fake, _) = fake_with(4, "EssentialContainerExited", 1, &[]).await;
    let missing = canned::task_arn(CLUSTER, &canned::task_id(999));
    let output = why(&fake, &[&missing]).await;
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("hour"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_cluster_exits_2_and_names_it() {
    let (fake, id) = fake_with(5, "EssentialContainerExited", 1, &[]).await;
    let output = why(&fake, &[&id, "--cluster", "no-such-cluster"]).await;
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("no-such-cluster"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_region_anywhere_exits_2_and_says_how_to_give_one() {
    let output = tokio::task::spawn_blocking(|| {
        Command::new(env!("CARGO_BIN_EXE_ecs-why"))
            .args(["why", &canned::task_id(6), "--cluster", CLUSTER])
            .env_clear()
            .env("AWS_ACCESS_KEY_ID", "AKIDFAKEFAKEFAKE")
            .env("AWS_SECRET_ACCESS_KEY", "fake-secret")
            .env("AWS_CONFIG_FILE", "/nonexistent/ecs-why-test")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/ecs-why-test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("the ecs-why binary runs")
    })
    .await
    .expect("the binary's runner finishes");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("--region") && err.contains("AWS_REGION"),
        "{err}"
    );
}

/// A pull failure of `web:1.4.2` where the ECR repository (moto) has only 1.4.1; IAM
/// simulation (moto lacks it) on a local fake. Returns what the CLI needs running.
async fn pull_failure() -> (
    FakeAws,
    support::moto::Moto,
    support::fake_iam::FakeIam,
    String,
) {
    let fake = FakeAws::start().await;
    let id = canned::task_id(31);
    fake.add_task(canned::pull_failed_task(CLUSTER, &id));
    fake.add_task_definition(canned::task_definition());
    let moto = support::moto::Moto::start();
    support::moto::create_ecr_images(&moto.sdk_config().await, "web", &["1.4.1"]).await;
    let iam = support::fake_iam::FakeIam::start().await;
    // The execution role may pull: the missing tag is the one thing wrong.
    let role = format!(
        "arn:aws:iam::{}:role/web-execution",
        support::fake_aws::ACCOUNT
    );
    for action in [
        "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ] {
        iam.grant(&role, action, "*");
    }
    (fake, moto, iam, id)
}

async fn why_with_probes(
    fake: &FakeAws,
    moto: &support::moto::Moto,
    iam: &support::fake_iam::FakeIam,
    args: &[&str],
) -> Output {
    // What moto serves goes to moto, IAM's simulation to the fake: the way an operator
    // points one service elsewhere.
    let endpoints = [
        ("AWS_ENDPOINT_URL_ECR", moto.endpoint()),
        ("AWS_ENDPOINT_URL_EC2", moto.endpoint()),
        ("AWS_ENDPOINT_URL_IAM", iam.endpoint()),
    ];
    why_with(fake, args, &endpoints).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_probes_confirm_a_missing_tag_and_no_probes_leaves_it_likely() {
    let (fake, moto, iam, id) = pull_failure().await;
    let arn = canned::task_arn(CLUSTER, &id);

    let probed = answer(&why_with_probes(&fake, &moto, &iam, &[&arn, "--format", "json"]).await);
    assert_eq!(probed["category"], "image-pull-failed");
    assert_eq!(probed["confidence"], "confirmed", "{probed:#}");
    let proof = probed["proof"].to_string();
    assert!(
        proof.contains("1.4.2") && proof.contains("1.4.1"),
        "{proof}"
    );

    let text = why_with_probes(&fake, &moto, &iam, &[&arn]).await;
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("Confirmed cause"), "{text}");
    assert!(text.contains("Proof (checked in the account)"), "{text}");

    let simulations_before = iam.asked().len();
    let unprobed = answer(
        &why_with_probes(
            &fake,
            &moto,
            &iam,
            &[&arn, "--format", "json", "--no-probes"],
        )
        .await,
    );
    assert_eq!(unprobed["confidence"], "likely");
    assert_eq!(unprobed["probes"], Value::Null);
    assert_eq!(
        iam.asked().len(),
        simulations_before,
        "--no-probes made no probe call"
    );
}
