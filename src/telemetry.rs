//! Logging for operators: one `tracing` subscriber for the whole process, and request ids.
//!
//! In a container (stderr is not a terminal) every event is one JSON object per line, so
//! CloudWatch Logs Insights can filter on fields; in a terminal the same events are
//! human-readable. `RUST_LOG` chooses what is logged (default `info`). Logs go to stderr,
//! keeping stdout for the CLI's own output (`--format json`).
//!
//! Each Slack command gets a [`request_id`]; run its work inside [`request_span`] so the id
//! appears on every event logged while handling it, including the AWS and Slack calls:
//!
//! ```no_run
//! use tracing::Instrument;
//! # async fn diagnose() {}
//! # async fn example() {
//! ecs_why::telemetry::init(ecs_why::telemetry::json_by_default());
//! let id = ecs_why::telemetry::request_id();
//! diagnose().instrument(ecs_why::telemetry::request_span(&id)).await;
//! # }
//! ```

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The filter used when `RUST_LOG` is unset or cannot be parsed.
pub const DEFAULT_FILTER: &str = "info";

/// True when logs should be JSON: stderr is not a terminal (a container, a pipe, a file).
pub fn json_by_default() -> bool {
    !std::io::stderr().is_terminal()
}

/// Installs the process-wide subscriber writing to stderr: JSON lines when `json`,
/// human-readable text otherwise (pass [`json_by_default`] unless told otherwise).
///
/// Honours `RUST_LOG` (an [`EnvFilter`] directive such as `info,ecs_why=debug`); an unset
/// or invalid value means [`DEFAULT_FILTER`], and an invalid one is reported once. Calling
/// it again (tests, or a library user who installed their own subscriber) changes
/// nothing.
pub fn init(json: bool) {
    let raw = std::env::var("RUST_LOG").ok();
    let (filter, bad_directive) = filter_from(raw.as_deref());
    let installed =
        tracing::subscriber::set_global_default(subscriber(json, filter, std::io::stderr)).is_ok();
    if installed {
        if let Some(error) = bad_directive {
            tracing::warn!(%error, "RUST_LOG is not a valid filter; logging at {DEFAULT_FILTER}");
        }
    }
}

/// Builds the filter from a `RUST_LOG` value; returns the parse error when it was invalid.
fn filter_from(raw: Option<&str>) -> (EnvFilter, Option<String>) {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => (EnvFilter::new(DEFAULT_FILTER), None),
        Some(directives) => match EnvFilter::try_new(directives) {
            Ok(filter) => (filter, None),
            Err(error) => (EnvFilter::new(DEFAULT_FILTER), Some(error.to_string())),
        },
    }
}

/// The subscriber [`init`] installs, with the writer left open so tests can capture it.
fn subscriber<W>(
    json: bool,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync + 'static>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        // One object per line: timestamp, level, target, message and fields at the top
        // level, and the enclosing spans (with their request_id) under "spans".
        Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true)
                .finish(),
        )
    } else {
        Box::new(builder.with_ansi(std::io::stderr().is_terminal()).finish())
    }
}

/// A span that tags everything logged inside it with `request_id`.
pub fn request_span(request_id: &str) -> tracing::Span {
    tracing::info_span!("request", request_id = %request_id)
}

/// A short id for one request (16 lowercase hex digits), unique within the process and
/// unlikely to repeat across processes: a per-process seed from the clock and the process
/// id, plus a counter, through a bijective mixer (so no two calls in a process collide).
pub fn request_id() -> String {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        mix(nanos ^ (u64::from(std::process::id()) << 32))
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}", mix(seed.wrapping_add(n)))
}

/// splitmix64's finaliser: a bijection on u64 that scatters consecutive inputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A writer that keeps everything written to it, for reading back in a test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("writer lock")).into_owned()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("writer lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn request_ids_are_short_hex_and_distinct() {
        let ids: Vec<String> = (0..10_000).map(|_| request_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 16, "{id}");
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
        let distinct: HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn mix_scatters_neighbours() {
        assert_ne!(mix(1) >> 48, mix(2) >> 48);
    }

    #[test]
    fn json_lines_carry_the_request_id_of_the_enclosing_span() {
        let out = Captured::default();
        let sub = subscriber(true, EnvFilter::new("info"), out.clone());
        tracing::subscriber::with_default(sub, || {
            let _enter = request_span("abc123").entered();
            tracing::info!(service = "ecs", operation = "DescribeTasks", "aws call");
            tracing::debug!("filtered out at info");
        });
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let event: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON line");
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["message"], "aws call");
        assert_eq!(event["service"], "ecs");
        assert_eq!(event["spans"][0]["request_id"], "abc123");
    }

    #[test]
    fn text_format_is_not_json() {
        let out = Captured::default();
        let sub = subscriber(false, EnvFilter::new("info"), out.clone());
        tracing::subscriber::with_default(sub, || {
            let _enter = request_span("r1").entered();
            tracing::info!("hello");
        });
        let text = out.text();
        assert!(text.contains("hello"), "{text}");
        assert!(text.contains("request_id=r1"), "{text}");
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
    }

    #[test]
    fn rust_log_is_honoured_and_bad_values_fall_back_to_info() {
        let (filter, bad) = filter_from(Some("warn"));
        assert!(bad.is_none());
        assert_eq!(filter.to_string(), "warn");

        let (filter, bad) = filter_from(None);
        assert!(bad.is_none());
        assert_eq!(filter.to_string(), DEFAULT_FILTER);

        let (filter, bad) = filter_from(Some("  "));
        assert!(bad.is_none());
        assert_eq!(filter.to_string(), DEFAULT_FILTER);

        let (filter, bad) = filter_from(Some("ecs_why=notalevel"));
        assert!(bad.is_some());
        assert_eq!(filter.to_string(), DEFAULT_FILTER);
    }

    #[test]
    fn init_twice_is_harmless() {
        init(true);
        init(false);
    }
}
