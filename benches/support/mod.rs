//! What the round-trip benchmarks share: their settings from the environment, the
//! target they ask about, and the median of their samples.
#![allow(dead_code)]

use ecs_why::task_ref::{Target, TaskRef};
use std::time::Duration;

/// `name` from the environment as a number, else `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Task `id` in `cluster`, as `ecs-why why <id> --cluster <cluster>` asks for it.
pub fn target(cluster: &str, id: &str) -> Target {
    Target {
        task: TaskRef::Task {
            task_id: id.to_string(),
        },
        cluster: Some(cluster.into()),
        region: None,
        account: None,
    }
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The benchmarks' runtime: two workers, like the machine they are measured on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}
