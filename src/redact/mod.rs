//! Secret redaction for every line of text that may leave the process.
//!
//! Log lines and AWS reason texts are untrusted: they can carry access keys, passwords in
//! connection strings, bearer tokens and the like. [`redact`] replaces those before
//! anything reaches Slack, a terminal or JSON, in three passes:
//!
//! 1. A line that is nothing but key material (a PEM body line) is replaced whole, by
//!    `[REDACTED KEY MATERIAL]`.
//! 2. [`rules`]: known formats (`AKIA...`, `ghp_...`, JWTs, PEM blocks ...) become a
//!    marker naming the kind (`[REDACTED GITHUB TOKEN]`); labelled values (`password=`,
//!    `Authorization:`, `user:pass@` in a URL) become `[REDACTED]` beside their label.
//! 3. [`entropy`]: any remaining token that looks like random base64, with no prefix or
//!    label at all (`AKIA... / wJalrXUtnFEMI/K7MDENG/...`), becomes
//!    `[REDACTED AWS SECRET KEY]` or `[REDACTED HIGH-ENTROPY STRING]`. Ids, SHAs,
//!    digests, ARNs, paths and identifiers are left alone.
//!
//! It is idempotent (redacting twice gives the same text) and cheap: the rules only run
//! on a line holding one of their trigger substrings, and then only those a first
//! `RegexSet` pass finds; the entropy pass is one scan of the bytes; and a line with
//! nothing to redact is returned borrowed, with no allocation.

mod entropy;
mod rules;

use std::borrow::Cow;

/// What a labelled secret is replaced with (the label beside it says what it was).
pub const REDACTED: &str = "[REDACTED]";

/// What a line of bare key material is replaced with.
const KEY_MATERIAL: &str = "[REDACTED KEY MATERIAL]";

/// Replace secrets in `line` with markers. Borrowed when nothing was replaced.
pub fn redact(line: &str) -> Cow<'_, str> {
    if is_key_material(line) {
        return Cow::Borrowed(KEY_MATERIAL);
    }
    let text = if rules::TRIGGER.is_match(line) {
        rules::apply(line)
    } else {
        Cow::Borrowed(line)
    };
    entropy::redact_tokens(text)
}

/// A line that is nothing but a base64 run of PEM width, mixing upper case, lower case
/// and digits: the body of a private key or certificate, which CloudWatch Logs delivers
/// one line per event, away from its `BEGIN` marker. Hex digests (no upper case) and
/// words do not qualify.
fn is_key_material(line: &str) -> bool {
    let line = line.trim();
    if !(40..=100).contains(&line.len()) {
        return false;
    }
    let base64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let bytes = line.as_bytes();
    bytes.iter().all(|&b| base64(b))
        && bytes.iter().any(u8::is_ascii_uppercase)
        && bytes.iter().any(u8::is_ascii_lowercase)
        && bytes.iter().any(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests;
