//! `--format json`: a [`Diagnosis`] as the JSON object DESIGN.md promises.
//!
//! The shape is a contract that scripts and checks outside the repo rely on, so it is
//! built field by field here rather than derived from the Rust types (which may grow or
//! rename fields). Required keys: `task` {`arn`, `cluster`, `group`, `task_definition`,
//! `stop_code`, `stopped_reason`, `started_at`, `stopped_at`, `containers` [{`name`,
//! `exit_code`, `reason`}]}, `category`, `title`, `summary`, `evidence`, `fixes`,
//! `findings` [{`kind`, `detail`, `container`, `line`}], `stopped_by` {`arn`, `type`,
//! `source_ip`, `user_agent`, `time`} or null, `notes`. Extra keys (`headline`, `region`,
//! `reason`, `reason_layers`, `console_url`, `confidence`, `proof`, `ruled_out`,
//! `unchecked`, `key_change`, `probes`, ...) are allowed. Times are RFC 3339 in UTC.

use crate::diagnose::{Diagnosis, Finding, TaskSummary};
use crate::evidence::{ProbeResults, StoppedBy};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::io;

/// The `--format json` object for one diagnosis.
pub fn to_json(d: &Diagnosis) -> Value {
    serde_json::to_value(Answer::of(d)).unwrap_or(Value::Null)
}

/// Write the `--format json` object for one diagnosis to `out` (one line, no newline),
/// without building it as a tree first.
pub fn write_json(out: &mut impl io::Write, d: &Diagnosis) -> io::Result<()> {
    serde_json::to_writer(out, &Answer::of(d)).map_err(io::Error::from)
}

/// The object, borrowed from the diagnosis. Keys are declared in sorted order, the order
/// a JSON tree holds them in, so writing it directly or through [`to_json`] gives the
/// same text. Text that may quote logs or AWS is redacted here; the task's reasons and
/// the headline were redacted when the diagnosis was made.
#[derive(Serialize)]
struct Answer<'a> {
    category: &'static str,
    confidence: &'static str,
    console_url: &'a Option<String>,
    evidence: Vec<Cow<'a, str>>,
    findings: Vec<FindingView<'a>>,
    fixes: &'a [String],
    headline: &'a str,
    key_change: &'a Option<String>,
    notes: Vec<&'a str>,
    probes: Option<&'a ProbeResults>,
    proof: Vec<Cow<'a, str>>,
    reason_layers: Option<LayersView<'a>>,
    ruled_out: Vec<Cow<'a, str>>,
    stopped_by: Option<StoppedByView<'a>>,
    summary: Cow<'a, str>,
    task: TaskView<'a>,
    title: &'a str,
    unchecked: &'a [String],
}

/// The telling reason read by its layers, outermost first.
#[derive(Serialize)]
struct LayersView<'a> {
    container: &'a Option<String>,
    layers: Vec<Cow<'a, str>>,
}

#[derive(Serialize)]
struct TaskView<'a> {
    arn: &'a str,
    cluster: &'a str,
    containers: Vec<ContainerView<'a>>,
    group: &'a Option<String>,
    region: &'a Option<String>,
    started_at: Option<String>,
    stop_code: Option<&'a str>,
    stopped_at: Option<String>,
    stopped_reason: &'a Option<String>,
    task_definition: &'a str,
}

#[derive(Serialize)]
struct ContainerView<'a> {
    exit_code: Option<i32>,
    name: &'a str,
    reason: &'a Option<String>,
}

#[derive(Serialize)]
struct FindingView<'a> {
    container: &'a Option<String>,
    detail: Cow<'a, str>,
    kind: &'static str,
    line: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct StoppedByView<'a> {
    arn: &'a Option<String>,
    event_id: &'a Option<String>,
    reason: Option<Cow<'a, str>>,
    source_ip: &'a Option<String>,
    time: Option<String>,
    #[serde(rename = "type")]
    identity_type: &'a Option<String>,
    user_agent: &'a Option<String>,
}

impl<'a> Answer<'a> {
    fn of(d: &'a Diagnosis) -> Answer<'a> {
        let redacted_all = |lines: &'a [String]| lines.iter().map(|l| redact(l)).collect();
        Answer {
            category: d.category.as_str(),
            confidence: confidence_word(d),
            console_url: &d.console_url,
            evidence: redacted_all(&d.evidence),
            findings: d.findings.iter().map(FindingView::of).collect(),
            fixes: &d.fixes,
            headline: &d.headline,
            key_change: &d.key_change,
            notes: d.notes.iter().map(|n| n.text.as_str()).collect(),
            probes: d.probes.as_ref(),
            proof: redacted_all(&d.proof),
            reason_layers: d.reason_layers.as_ref().map(|l| LayersView {
                container: &l.container,
                layers: redacted_all(&l.layers),
            }),
            ruled_out: redacted_all(&d.ruled_out),
            stopped_by: d.stopped_by.as_ref().map(StoppedByView::of),
            summary: redact(&d.summary),
            task: TaskView::of(&d.task),
            title: &d.title,
            unchecked: &d.unchecked,
        }
    }
}

impl<'a> TaskView<'a> {
    fn of(t: &'a TaskSummary) -> TaskView<'a> {
        TaskView {
            arn: &t.arn,
            cluster: &t.cluster,
            containers: t
                .containers
                .iter()
                .map(|c| ContainerView {
                    exit_code: c.exit_code,
                    name: &c.name,
                    reason: &c.reason,
                })
                .collect(),
            group: &t.group,
            region: &t.region,
            started_at: t.started_at.as_ref().map(time),
            stop_code: t.stop_code.as_ref().map(|c| c.as_str()),
            stopped_at: t.stopped_at.as_ref().map(time),
            stopped_reason: &t.stopped_reason,
            task_definition: &t.task_definition,
        }
    }
}

impl<'a> FindingView<'a> {
    fn of(f: &'a Finding) -> FindingView<'a> {
        FindingView {
            container: &f.container,
            detail: redact(&f.detail),
            kind: f.kind.as_str(),
            line: f.line.as_deref().map(redact),
        }
    }
}

impl<'a> StoppedByView<'a> {
    fn of(s: &'a StoppedBy) -> StoppedByView<'a> {
        StoppedByView {
            arn: &s.arn,
            event_id: &s.event_id,
            reason: s.reason.as_deref().map(redact),
            source_ip: &s.source_ip,
            time: s.time.as_ref().map(time),
            identity_type: &s.identity_type,
            user_agent: &s.user_agent,
        }
    }
}

fn redact(text: &str) -> Cow<'_, str> {
    crate::redact::redact(text)
}

/// `confirmed` or `likely`.
fn confidence_word(d: &Diagnosis) -> &'static str {
    match d.confidence {
        crate::diagnose::Confidence::Confirmed => "confirmed",
        crate::diagnose::Confidence::Likely => "likely",
    }
}

/// `confirmed` or `likely`.
pub fn confidence(d: &Diagnosis) -> String {
    confidence_word(d).to_string()
}

/// The catalog id as its contract string (`out-of-memory`).
pub fn category(d: &Diagnosis) -> String {
    d.category.as_str().to_string()
}

/// A time as RFC 3339 in UTC (`2024-05-01T12:00:00Z`), fractions only when present.
pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A finding's kind as its contract string (`missing-env-var`).
pub fn finding_kind(f: &Finding) -> String {
    f.kind.as_str().to_string()
}
