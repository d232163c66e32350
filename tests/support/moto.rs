//! Runs moto's server (`./.venv/bin/moto_server`) on a free loopback port for a test,
//! seeds it with tests/moto/seed_ecs.py, and kills it on drop.
//!
//! The venv comes from `scripts/test-env`. Without it the test fails with a message
//! saying so: a missing moto must never turn into silently skipped tests.
#![allow(dead_code)]

use aws_config::retry::RetryConfig;
use aws_config::{Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
    /// Start moto on a port the kernel picks and wait until it says where it listens
    /// (up to 30 s).
    ///
    /// moto binds port 0 itself and prints the port: picking a free port first and
    /// handing it over would leave a window in which another socket (even the readiness
    /// probe's own ephemeral port) takes it, and the test would talk to nothing.
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// [`Moto::start`] with environment variables for moto itself (such as
    /// `MOTO_ECS_SERVICE_RUNNING`, the running count of the services it creates).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let server = venv().join("bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: run scripts/test-env first (it installs moto[server] into ./.venv)",
            server.display()
        );
        // moto's own server, with DynamoDB's conditional writes atomic as in DynamoDB
        // (see the launcher's doc string).
        let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_server.py");
        let mut child = Command::new(venv().join("bin/python"))
            .arg(&launcher)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", server.display()));
        let stderr = child.stderr.take().expect("moto's stderr is piped");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        // Reads the startup banner for the port, then keeps draining the request log so
        // moto never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut banner = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = listening_port(&line) {
                    let _ = port_tx.send(Ok(port));
                } else if banner.len() < 4_000 {
                    banner.push_str(&line);
                    banner.push('\n');
                }
            }
            let _ = port_tx.send(Err(banner));
        });
        let port = match port_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(port)) => port,
            Ok(Err(banner)) => {
                panic!("moto_server exited at start; run scripts/test-env again:\n{banner}")
            }
            Err(_) => panic!("moto_server did not say where it listens within 30 s"),
        };
        Moto { child, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Run tests/moto/`script` against this server; what it printed, as JSON.
    pub fn run_seed(&self, script: &str) -> serde_json::Value {
        let python = venv().join("bin/python");
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/moto")
            .join(script);
        let output = Command::new(&python)
            .arg(&path)
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
            "{script} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{script} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Run tests/moto/seed_ecs.py against this server.
    pub fn seed(&self) -> Seeded {
        serde_json::from_value(self.run_seed("seed_ecs.py"))
            .unwrap_or_else(|e| panic!("seed_ecs.py printed another shape: {e}"))
    }

    /// An SDK configuration pointing at this server with static test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        ecs_why::aws::loader()
            .region(Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .load()
            .await
    }
}

/// The port in werkzeug's " * Running on http://127.0.0.1:PORT" line.
fn listening_port(line: &str) -> Option<u16> {
    let address = line.split("Running on http://127.0.0.1:").nth(1)?;
    let digits: String = address.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
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

/// An ECR repository `name` holding one single-platform image per tag in `tags`.
pub async fn create_ecr_images(config: &SdkConfig, name: &str, tags: &[&str]) {
    let ecr = aws_sdk_ecr::Client::new(config);
    ecr.create_repository()
        .repository_name(name)
        .send()
        .await
        .expect("moto creates the ECR repository");
    for (n, tag) in tags.iter().enumerate() {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1000 + n,
                "digest": format!("sha256:{:064x}", n + 1)
            },
            "layers": []
        });
        ecr.put_image()
            .repository_name(name)
            .image_tag(*tag)
            .image_manifest(manifest.to_string())
            .image_manifest_media_type("application/vnd.docker.distribution.manifest.v2+json")
            .send()
            .await
            .expect("moto stores the image");
    }
}
