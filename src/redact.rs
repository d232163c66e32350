//! Secret redaction: PLACEHOLDER until the real module (another branch) is merged.
//!
//! Only what `gather` needs to compile and its tests need to pass: AWS access key ids,
//! passwords in URLs and `password=`/`token=`/`secret=` pairs. The real module replaces
//! this file whole.

use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

static PATTERNS: LazyLock<[(Regex, &str); 3]> = LazyLock::new(|| {
    [
        (r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", "[REDACTED]"),
        (r"(://[^:/\s@]+:)[^@\s]+@", "${1}[REDACTED]@"),
        (
            r"(?i)((?:password|passwd|token|secret)\s*[=:]\s*)[^\s&,;]+",
            "${1}[REDACTED]",
        ),
    ]
    .map(|(pattern, with)| (Regex::new(pattern).expect("valid regex"), with))
});

/// Replace secrets in one log line with `[REDACTED]`.
pub fn redact(line: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(line);
    for (pattern, with) in PATTERNS.iter() {
        if let Cow::Owned(changed) = pattern.replace_all(&out, *with) {
            out = Cow::Owned(changed);
        }
    }
    out
}
