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
use crate::evidence::StoppedBy;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The `--format json` object for one diagnosis.
pub fn to_json(d: &Diagnosis) -> Value {
    json!({
        "task": task(&d.task),
        "category": category(d),
        "title": d.title,
        "headline": redacted(&d.headline),
        "summary": redacted(&d.summary),
        "evidence": d.evidence.iter().map(|e| redacted(e)).collect::<Vec<_>>(),
        "reason_layers": d.reason_layers.as_ref().map_or(Value::Null, |l| json!({
            "container": l.container,
            "layers": l.layers.iter().map(|x| redacted(x)).collect::<Vec<_>>(),
        })),
        "fixes": d.fixes,
        "findings": d.findings.iter().map(finding).collect::<Vec<_>>(),
        "stopped_by": d.stopped_by.as_ref().map_or(Value::Null, stopped_by),
        "notes": d.notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        "console_url": d.console_url,
        "confidence": confidence(d),
        "proof": d.proof.iter().map(|e| redacted(e)).collect::<Vec<_>>(),
        "ruled_out": d.ruled_out.iter().map(|e| redacted(e)).collect::<Vec<_>>(),
        "unchecked": d.unchecked,
        "key_change": d.key_change,
        "probes": d.probes.as_ref().map_or(Value::Null, probes),
    })
}

/// `confirmed` or `likely`.
pub fn confidence(d: &Diagnosis) -> String {
    match serde_json::to_value(d.confidence) {
        Ok(Value::String(s)) => s,
        _ => "likely".to_string(),
    }
}

/// Everything the probes found: each check with its outcome, the task-definition
/// changes (names, never values), the deployment and the memory series.
fn probes(p: &crate::evidence::ProbeResults) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

/// The catalog id as its contract string (`out-of-memory`).
pub fn category(d: &Diagnosis) -> String {
    match serde_json::to_value(d.category) {
        Ok(Value::String(s)) => s,
        _ => "other".to_string(),
    }
}

/// A time as RFC 3339 in UTC (`2024-05-01T12:00:00Z`), fractions only when present.
pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn opt_time(t: &Option<DateTime<Utc>>) -> Value {
    t.as_ref().map_or(Value::Null, |t| Value::String(time(t)))
}

fn redacted(s: &str) -> String {
    crate::redact::redact(s).into_owned()
}

fn task(t: &TaskSummary) -> Value {
    json!({
        "arn": t.arn,
        "cluster": t.cluster,
        "group": t.group,
        "task_definition": t.task_definition,
        "region": t.region,
        "stop_code": t.stop_code,
        "stopped_reason": t.stopped_reason.as_deref().map(redacted),
        "started_at": opt_time(&t.started_at),
        "stopped_at": opt_time(&t.stopped_at),
        "containers": t.containers.iter().map(|c| json!({
            "name": c.name,
            "exit_code": c.exit_code,
            "reason": c.reason.as_deref().map(redacted),
        })).collect::<Vec<_>>(),
    })
}

/// A finding's kind as its contract string (`missing-env-var`).
pub fn finding_kind(f: &Finding) -> String {
    match serde_json::to_value(f.kind) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn finding(f: &Finding) -> Value {
    json!({
        "kind": finding_kind(f),
        "detail": redacted(&f.detail),
        "container": f.container,
        "line": f.line.as_deref().map(redacted),
    })
}

fn stopped_by(s: &StoppedBy) -> Value {
    json!({
        "arn": s.arn,
        "type": s.identity_type,
        "source_ip": s.source_ip,
        "user_agent": s.user_agent,
        "time": opt_time(&s.time),
        "reason": s.reason.as_deref().map(redacted),
        "event_id": s.event_id,
    })
}
