//! Rendering: the same [`crate::diagnose::Diagnosis`] as terminal text, JSON or a
//! Slack Block Kit message.
//!
//! - [`text::to_text`]: the terminal card (`--format text`);
//! - [`json::to_json`]: the `--format json` contract of DESIGN.md;
//! - [`blocks::card()`] and [`blocks::to_blocks_json`]: the Slack card (`--format blocks`),
//!   plus the thread replies the bot posts under it ([`blocks::log_tail`],
//!   [`blocks::stopped_by`], [`blocks::task_definition`], [`blocks::service_events`]);
//! - [`escape`]: mrkdwn escaping, terminal sanitising and truncation shared by all three.
//!
//! Renderers are pure: no I/O, no clock. Untrusted text is redacted with
//! [`crate::redact::redact`] and escaped for where it is going.

pub mod blocks;
pub mod escape;
pub mod json;
pub mod memory_graph;
pub mod probes;
pub mod text;

pub use blocks::{card, to_blocks_json};

use crate::diagnose::{Diagnosis, FindingKind};

/// `<service>: <headline>` (a standalone task names its family): the card's header, the
/// notification text and the terminal's first line.
pub fn headline_text(d: &Diagnosis) -> String {
    match &d.owner {
        Some(owner) => format!("{owner}: {}", d.headline),
        None => d.headline.clone(),
    }
}

/// A finding's kind in plain words for people (the card and the terminal); the JSON
/// keeps the kind's id (`oom-in-logs`).
pub fn finding_label(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::MissingEnvVar => "Missing environment variable",
        FindingKind::DependencyUnreachable => "Dependency unreachable",
        FindingKind::PortInUse => "Port already in use",
        FindingKind::OomInLogs => "Out of memory in the logs",
        FindingKind::AwsAccessDenied => "AWS access denied",
        FindingKind::WrongCpuArchitecture => "Wrong CPU architecture",
        FindingKind::Crash => "Crash in the logs",
        FindingKind::HealthCheckStartPeriod => "Health check start period too short",
        FindingKind::NoLogConfiguration => "No log configuration",
    }
}
pub use json::to_json;
pub use text::to_text;
