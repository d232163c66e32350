//! `ecs-why healthcheck`, the container's health probe, as Docker and ECS run it: the
//! real binary against a running `ecs-why serve`, against a closed port, against a port
//! that never answers, and with a broken ECS_WHY_LISTEN. Healthy is exit 0 and silence;
//! anything else is exit 1 (never 2, which Docker reserves) and one line on stderr.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `ecs-why healthcheck ARGS` with nothing inherited but PATH, plus `env`.
fn healthcheck(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecs-why"))
        .arg("healthcheck")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run ecs-why healthcheck")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `ecs-why serve` whose Slack and AWS are loopback ports where nothing
/// listens: `/healthz` must answer anyway. Dropping it kills the child.
struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start() -> Served {
        let port = free_port();
        let nothing = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_ecs-why"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ECS_WHY_LISTEN", format!("127.0.0.1:{port}"))
            .env("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5")
            .env("SLACK_BOT_TOKEN", "xoxb-test")
            .env("SLACK_API_URL", format!("http://127.0.0.1:{nothing}/api/"))
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{nothing}"))
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ecs-why serve");
        let mut served = Served { child, port };
        // Wait until the port accepts connections, without using the probe under test.
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!("ecs-why serve exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "ecs-why serve did not listen in 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }
}

#[test]
fn a_running_bot_is_healthy_on_the_port_of_ecs_why_listen() {
    let served = Served::start();
    // The task definition's form: 0.0.0.0 is probed on loopback.
    let output = healthcheck(
        &[],
        &[("ECS_WHY_LISTEN", format!("0.0.0.0:{}", served.port))],
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(stderr(&output), "", "a healthy probe is silent");
    assert!(output.stdout.is_empty());

    let url = format!("http://127.0.0.1:{}/healthz", served.port);
    let output = healthcheck(&["--url", &url], &[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
}

#[test]
fn a_route_that_is_not_200_is_unhealthy_and_the_status_is_named() {
    let served = Served::start();
    let url = format!("http://127.0.0.1:{}/no-such-route", served.port);
    let output = healthcheck(&["--url", &url], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(
        message.contains(&url) && message.contains("404") && message.contains("not 200"),
        "{message}"
    );
}

#[test]
fn a_closed_port_is_unhealthy_with_one_line_saying_so() {
    let port = free_port();
    let output = healthcheck(&[], &[("ECS_WHY_LISTEN", format!("127.0.0.1:{port}"))]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(
        message.starts_with(&format!(
            "ecs-why: healthcheck: cannot connect to http://127.0.0.1:{port}/healthz"
        )),
        "{message}"
    );
    assert!(message.contains("is `ecs-why serve` running"), "{message}");
}

#[test]
fn a_port_that_never_answers_fails_within_the_timeout() {
    // Connections land in the backlog and are never accepted, let alone answered.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = silent.local_addr().expect("its address").port();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let started = Instant::now();
    let output = healthcheck(&["--url", &url, "--timeout", "0.5"], &[]);
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let message = stderr(&output);
    assert!(
        message.contains(&format!("{url} did not answer within 0.5 s")),
        "{message}"
    );
    drop(silent);
}

#[test]
fn a_broken_listen_address_is_unhealthy_not_bad_input() {
    let output = healthcheck(&[], &[("ECS_WHY_LISTEN", "localhost".to_string())]);
    assert_eq!(output.status.code(), Some(1), "Docker reserves exit 2");
    let message = stderr(&output);
    assert!(
        message.starts_with("ecs-why: ECS_WHY_LISTEN is not an address:port"),
        "{message}"
    );
}
