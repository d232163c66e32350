//! Runs moto's server (`./.venv/bin/moto_server`) on a free loopback port for a test,
//! seeds it with tests/moto/seed_ecs.py, and kills it on drop.
//!
//! The venv comes from `scripts/test-env`. Without it the test fails with a message
//! saying so: a missing moto must never turn into silently skipped tests.
#![allow(dead_code)]

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    port: u16,
}

/// What `seed_ecs.py` created.
#[derive(Debug, serde::Deserialize)]
pub struct Seeded {
    pub cluster: String,
    pub task_arn: String,
    pub task_id: String,
    pub task_definition_arn: String,
    pub log_group: String,
    pub log_stream: String,
    pub archive_group: String,
    pub archived_task_id: String,
}

fn venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv")
}

impl Moto {
    /// Start moto and wait until it answers (up to 30 s).
    pub fn start() -> Moto {
        let server = venv().join("bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: run scripts/test-env first (it installs moto[server] into ./.venv)",
            server.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", server.display()));
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start ({status}); run scripts/test-env again");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Run tests/moto/seed_ecs.py against this server.
    pub fn seed(&self) -> Seeded {
        let python = venv().join("bin/python");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/moto/seed_ecs.py");
        let output = Command::new(&python)
            .arg(&script)
            .arg(self.endpoint())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "could not run {}: {e}; run scripts/test-env",
                    python.display()
                )
            });
        assert!(
            output.status.success(),
            "seed_ecs.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "seed_ecs.py printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// An SDK configuration pointing at this server with static test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Create the state table the way the deploy stack does (String key `pk`, on demand).
pub async fn create_state_table(config: &SdkConfig, table: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let client = aws_sdk_dynamodb::Client::new(config);
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .expect("moto creates the state table");
}

/// Create an SQS queue named `name`; returns its URL.
pub async fn create_queue(config: &SdkConfig, name: &str) -> String {
    aws_sdk_sqs::Client::new(config)
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("moto creates the queue")
        .queue_url
        .expect("a queue URL")
}
