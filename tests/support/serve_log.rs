//! Where an `ecs-why serve` child listens, read from its JSON log: tests start it with
//! `ECS_WHY_LISTEN=127.0.0.1:0` so the kernel picks the port at bind time, instead of
//! picking a "free" port first and leaving a window in which another socket takes it.

use std::path::Path;
use std::time::Duration;

/// The message `serve` logs once it is bound, with the address in `addr`.
const LISTENING: &str = "ecs-why is listening";

/// Wait up to `limit` for the "ecs-why is listening" line in `log` and return its
/// address (`127.0.0.1:PORT`); panic with the log so far when it does not come.
pub async fn listening_addr(log: &Path, limit: Duration) -> String {
    let read = || std::fs::read_to_string(log).unwrap_or_default();
    super::wait::until_some(
        limit,
        Duration::from_millis(20),
        "ecs-why serve says where it listens",
        read,
        || {
            let found = read()
                .lines()
                .filter(|line| line.contains(LISTENING))
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .find_map(|entry| entry["addr"].as_str().map(str::to_string));
            std::future::ready(found)
        },
    )
    .await
}
