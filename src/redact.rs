//! Secret redaction: PLACEHOLDER until the real module (another branch) is merged.
//!
//! Only what `gather` needs to compile and its tests need to pass: AWS access key ids and
//! `password=`/`token=`/`secret=` pairs. The real module replaces this file whole.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

static PATTERNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|((?:password|passwd|token|secret)\s*[=:]\s*)[^\s&,;]+",
    )
    .expect("valid regex")
});

/// Replace secrets in one log line with `[REDACTED]`.
pub fn redact(line: &str) -> Cow<'_, str> {
    PATTERNS.replace_all(line, |caps: &regex::Captures<'_>| {
        format!("{}[REDACTED]", caps.get(1).map_or("", |m| m.as_str()))
    })
}
