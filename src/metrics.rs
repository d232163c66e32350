//! Prometheus metrics for operators, served as text on `GET /metrics`.
//!
//! [`install`] sets up the process-wide recorder once and returns a [`Metrics`] handle
//! whose [`Metrics::render`] is the body of `/metrics`. Code that does the work records
//! through the free functions here ([`command`], [`button`], [`diagnosis_latency`],
//! [`aws_call`], [`slack_call`], [`diagnosis_in_flight`]), so the metric names and labels
//! live in one place. Every name starts with `ecs_why_`.
//!
//! Label values come from a fixed set chosen in code (an outcome, a Slack method, or an
//! AWS service and operation name the SDK itself supplies), never from what a user typed
//! or a button carried, so one request cannot create unbounded time series. Most are
//! `&'static str`; [`aws_call`] takes the SDK's names, read by an interceptor.

use std::sync::OnceLock;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Slash commands handled, by `outcome`.
pub const COMMANDS: &str = "ecs_why_commands_total";
pub const ALERTS: &str = "ecs_why_alert_events_total";
/// Button presses handled, by `action` and `outcome`.
pub const BUTTONS: &str = "ecs_why_buttons_total";
/// Roll back and Restart presses, by `action` and `outcome`.
pub const ACTIONS: &str = "ecs_why_actions_total";
/// Time from a request to its diagnosis, in seconds (histogram).
pub const DIAGNOSIS_SECONDS: &str = "ecs_why_diagnosis_duration_seconds";
/// AWS API calls made, by `service` and `operation`.
pub const AWS_CALLS: &str = "ecs_why_aws_calls_total";
/// AWS API calls that failed, by `service` and `operation`.
pub const AWS_ERRORS: &str = "ecs_why_aws_errors_total";
/// Slack Web API calls made, by `method`.
pub const SLACK_CALLS: &str = "ecs_why_slack_calls_total";
/// Slack Web API calls that failed, by `method`.
pub const SLACK_ERRORS: &str = "ecs_why_slack_errors_total";
/// Diagnoses running now (gauge).
pub const IN_FLIGHT: &str = "ecs_why_diagnoses_in_flight";

/// Histogram buckets for diagnosis latency, in seconds: Slack users notice past a few
/// seconds, and CloudTrail look-ups with retries can take tens.
const LATENCY_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0];

/// The handle behind `GET /metrics`. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The current values in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        // Without the exporter's HTTP listener nothing else runs upkeep (draining
        // histogram samples into buckets), so do it on each scrape.
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// The `Content-Type` to answer `GET /metrics` with.
    pub const CONTENT_TYPE: &'static str = "text/plain; version=0.0.4; charset=utf-8";
}

/// Installs the Prometheus recorder for the process (once; later calls return the same
/// handle) and describes every metric, so `/metrics` lists them before they first move.
///
/// If some other recorder was installed first, a warning is logged and the handle renders
/// an empty page, since metrics then go to that recorder.
pub fn install() -> Metrics {
    static INSTALLED: OnceLock<Metrics> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let recorder = builder().build_recorder();
            let handle = recorder.handle();
            if let Err(error) = ::metrics::set_global_recorder(recorder) {
                tracing::warn!(%error, "another metrics recorder is installed; /metrics will be empty");
            }
            describe();
            Metrics { handle }
        })
        .clone()
}

fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(DIAGNOSIS_SECONDS.to_string()),
            LATENCY_BUCKETS,
        )
        // Only fails for an empty bucket list; LATENCY_BUCKETS is not empty.
        .unwrap_or_else(|_| PrometheusBuilder::new())
}

fn describe() {
    describe_counter!(COMMANDS, "Slash commands handled, by outcome.");
    describe_counter!(BUTTONS, "Button presses handled, by action and outcome.");
    describe_counter!(
        ACTIONS,
        "Roll back and Restart presses, by action and outcome (refused, started, resumed, not_started, completed, failed, superseded, timed_out)."
    );
    describe_counter!(
        ALERTS,
        "Stopped-task events read from the alert queue, by outcome."
    );
    describe_histogram!(
        DIAGNOSIS_SECONDS,
        ::metrics::Unit::Seconds,
        "Time from request to diagnosis."
    );
    describe_counter!(AWS_CALLS, "AWS API calls, by service and operation.");
    describe_counter!(
        AWS_ERRORS,
        "Failed AWS API calls, by service and operation."
    );
    describe_counter!(SLACK_CALLS, "Slack Web API calls, by method.");
    describe_counter!(SLACK_ERRORS, "Failed Slack Web API calls, by method.");
    describe_gauge!(IN_FLIGHT, "Diagnoses running now.");
}

/// Counts one slash command (or @mention) by how it ended, e.g. `"answered"`,
/// `"bad_input"`, `"aws_error"`, `"rate_limited"`.
pub fn command(outcome: &'static str) {
    counter!(COMMANDS, "outcome" => outcome).increment(1);
}

/// Counts one alert-queue message by how it was settled: `"posted"`, `"recorded"`
/// (duplicate, muted, ignored or unrouted), `"skipped"`, `"poison"`, `"retried"`.
pub fn alert(outcome: &'static str) {
    counter!(ALERTS, "outcome" => outcome).increment(1);
}

/// Counts one button press by its action (`"more_logs"`, `"rerun"`, …) and outcome.
pub fn button(action: &'static str, outcome: &'static str) {
    counter!(BUTTONS, "action" => action, "outcome" => outcome).increment(1);
}

/// Counts one step of a guarded action (`"rollback"`, `"restart"`) by its outcome.
pub fn action(action: &'static str, outcome: &'static str) {
    counter!(ACTIONS, "action" => action, "outcome" => outcome).increment(1);
}

/// Records how long one diagnosis took, in seconds.
pub fn diagnosis_latency(seconds: f64) {
    histogram!(DIAGNOSIS_SECONDS).record(seconds);
}

/// Counts one AWS API call (`"ecs"`, `"DescribeTasks"`), and an error when `!ok`.
pub fn aws_call(service: &str, operation: &str, ok: bool) {
    let labels = [
        ("service", service.to_string()),
        ("operation", operation.to_string()),
    ];
    counter!(AWS_CALLS, &labels).increment(1);
    if !ok {
        counter!(AWS_ERRORS, &labels).increment(1);
    }
}

/// Counts one Slack Web API call (`"chat.postMessage"`), and an error when `!ok`.
pub fn slack_call(method: &'static str, ok: bool) {
    counter!(SLACK_CALLS, "method" => method).increment(1);
    if !ok {
        counter!(SLACK_ERRORS, "method" => method).increment(1);
    }
}

/// Marks one diagnosis as running until the returned guard is dropped (including on an
/// early return, an error or a panic).
#[must_use = "the diagnosis counts as in flight only while the guard lives"]
pub fn diagnosis_in_flight() -> InFlight {
    gauge!(IN_FLIGHT).increment(1.0);
    InFlight { _private: () }
}

/// Guard from [`diagnosis_in_flight`]: decrements the in-flight gauge when dropped.
#[derive(Debug)]
pub struct InFlight {
    _private: (),
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(IN_FLIGHT).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` against a fresh recorder of our own (not the global one, so tests do not
    /// see each other's counts) and returns what `/metrics` would show afterwards.
    fn rendered_after(f: impl FnOnce()) -> String {
        let recorder = builder().build_recorder();
        let metrics = Metrics {
            handle: recorder.handle(),
        };
        ::metrics::with_local_recorder(&recorder, || {
            describe();
            f();
        });
        metrics.render()
    }

    /// The value of the sample `name{labels}` (labels exactly as rendered), if present.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Checks every line against the Prometheus text format: blank, `# HELP`/`# TYPE`
    /// comments, or `name{label="value",...} number`.
    fn assert_prometheus_text(text: &str) {
        let sample_line = regex::Regex::new(
            r#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)( -?[0-9]+)?$"#,
        )
        .expect("valid regex");
        let type_line = regex::Regex::new(
            r"^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$",
        )
        .expect("valid regex");
        for line in text.lines() {
            if line.is_empty() || line.starts_with("# HELP ") {
                continue;
            }
            if line.starts_with("# TYPE ") {
                assert!(type_line.is_match(line), "bad TYPE line: {line}");
                continue;
            }
            assert!(sample_line.is_match(line), "not Prometheus text: {line}");
        }
    }

    #[test]
    fn counters_move_and_render_as_prometheus_text() {
        let text = rendered_after(|| {
            command("answered");
            command("answered");
            command("bad_input");
            button("more_logs", "answered");
            aws_call("ecs", "DescribeTasks", true);
            aws_call("ecs", "DescribeTasks", false);
            slack_call("chat.postMessage", true);
            slack_call("chat.update", false);
            diagnosis_latency(0.3);
            diagnosis_latency(4.0);
        });
        assert_prometheus_text(&text);

        assert_eq!(
            sample(&text, r#"ecs_why_commands_total{outcome="answered"}"#),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, r#"ecs_why_commands_total{outcome="bad_input"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"ecs_why_buttons_total{action="more_logs",outcome="answered"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"ecs_why_aws_calls_total{service="ecs",operation="DescribeTasks"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"ecs_why_aws_errors_total{service="ecs",operation="DescribeTasks"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"ecs_why_slack_calls_total{method="chat.postMessage"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"ecs_why_slack_errors_total{method="chat.postMessage"}"#
            ),
            None
        );
        assert_eq!(
            sample(&text, r#"ecs_why_slack_errors_total{method="chat.update"}"#),
            Some(1.0)
        );

        // A real histogram (buckets), so latencies aggregate across tasks.
        assert!(
            text.contains("# TYPE ecs_why_diagnosis_duration_seconds histogram"),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"ecs_why_diagnosis_duration_seconds_bucket{le="0.5"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"ecs_why_diagnosis_duration_seconds_bucket{le="+Inf"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, "ecs_why_diagnosis_duration_seconds_count"),
            Some(2.0)
        );
        assert!(text.contains("# HELP ecs_why_commands_total"), "{text}");
    }

    #[test]
    fn in_flight_gauge_follows_the_guard() {
        let recorder = builder().build_recorder();
        let metrics = Metrics {
            handle: recorder.handle(),
        };
        let during = ::metrics::with_local_recorder(&recorder, || {
            let first = diagnosis_in_flight();
            let _second = diagnosis_in_flight();
            drop(first);
            metrics.render()
        });
        assert_eq!(sample(&during, IN_FLIGHT), Some(1.0), "{during}");
        // The second guard was dropped when the closure returned.
        assert_eq!(sample(&metrics.render(), IN_FLIGHT), Some(0.0));
    }

    #[test]
    fn global_install_is_idempotent_and_records() {
        let first = install();
        let second = install();
        command("global_install_test");
        let text = second.render();
        assert_prometheus_text(&text);
        assert!(
            sample(
                &text,
                r#"ecs_why_commands_total{outcome="global_install_test"}"#
            )
            .is_some_and(|v| v >= 1.0),
            "{text}"
        );
        assert!(first.render().contains("global_install_test"));
    }
}
