//! Secrets recognised by their format or their label: a known token prefix (`ghp_`,
//! `xoxb-`, `AKIA` ...), a PEM block, a password in a URL, an `Authorization` header,
//! a `password=` pair.
//!
//! A secret with a recognisable format is replaced by a marker that names its kind
//! (`[REDACTED GITHUB TOKEN]`); a labelled value by [`REDACTED`] alone, the label kept
//! beside it saying what it was (`password=[REDACTED]`).

use super::entropy;
use super::REDACTED;
use regex::{Captures, Regex, RegexSet};
use std::borrow::Cow;
use std::sync::LazyLock;

/// Substrings without which no rule below can match. Case-insensitive except where a
/// prefix is only a secret in one case (`SK` + hex for Twilio, `AKIA`).
pub(super) static TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i:akia|asia|://|bearer|basic|eyj|xox[a-z]-|xapp-|private key|pass|pwd|token|secret|",
        r"api[_-]?key|auth|key|sig|cookie|credential|gh[pousr]_|github_pat_|[sr]k_(?:live|test)_|",
        r"aiza|glpat-|glsa_|glc_|npm_|sg\.|sk-|hf_|pypi-|dckr_pat_|hvs\.|do[opr]_v1_|",
        r"shp(?:at|ca|pa|ss)_|ya29\.|gocspx-|dapi|pmak-|nrak-|sq0(?:atp|csp)-|lin_api_)|",
        r"\bSK[0-9a-fA-F]{32}\b"
    ))
    .expect("valid trigger regex")
});

/// One rule: a pattern and how to rewrite a match.
pub(super) struct Rule {
    pub(super) pattern: Regex,
    /// Replacement with `$name` groups, as for `Regex::replace_all`.
    pub(super) replacement: &'static str,
}

fn rule(pattern: &str, replacement: &'static str) -> Rule {
    Rule {
        pattern: Regex::new(pattern).expect("valid redaction regex"),
        replacement,
    }
}

/// Keys whose value is a secret in `k=v`, `k: v` and JSON forms, whatever the value.
const SECRET_KEYS: &str = r"(?:password|passwd|pwd|token|secret|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|credentials?)";

/// Formats and labels, applied in this order (earlier rules see the raw text).
pub(super) static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // PEM private key blocks (to the END marker, or the end of the line).
        rule(
            r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)",
            "[REDACTED PRIVATE KEY]",
        ),
        // JSON Web Tokens: header.payload.signature, both first parts base64url JSON.
        rule(
            r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
            "[REDACTED JWT]",
        ),
        rule(
            r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{6,}",
            "[REDACTED SLACK TOKEN]",
        ),
        rule(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
            "[REDACTED GITHUB TOKEN]",
        ),
        rule(
            r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,}",
            "[REDACTED STRIPE KEY]",
        ),
        rule(
            r"\b(?:AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,}|GOCSPX-[0-9A-Za-z_-]{20,})",
            "[REDACTED GOOGLE CREDENTIAL]",
        ),
        rule(r"\bglpat-[0-9A-Za-z_-]{20,}", "[REDACTED GITLAB TOKEN]"),
        rule(
            r"\b(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})",
            "[REDACTED GRAFANA TOKEN]",
        ),
        rule(r"\bnpm_[A-Za-z0-9]{36}", "[REDACTED NPM TOKEN]"),
        rule(r"\bSG\.[\w-]{16,}\.[\w-]{16,}", "[REDACTED SENDGRID KEY]"),
        rule(
            r"\bsk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_-]{20,}",
            "[REDACTED API KEY]",
        ),
        rule(r"\bhf_[A-Za-z0-9]{30,}", "[REDACTED HUGGING FACE TOKEN]"),
        rule(r"\bpypi-[A-Za-z0-9_-]{50,}", "[REDACTED PYPI TOKEN]"),
        rule(r"\bdckr_pat_[A-Za-z0-9_-]{20,}", "[REDACTED DOCKER TOKEN]"),
        rule(r"\bhvs\.[A-Za-z0-9_-]{24,}", "[REDACTED VAULT TOKEN]"),
        rule(
            r"\bdo[opr]_v1_[a-f0-9]{64}",
            "[REDACTED DIGITALOCEAN TOKEN]",
        ),
        rule(
            r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
            "[REDACTED SHOPIFY TOKEN]",
        ),
        rule(r"\bSK[0-9a-fA-F]{32}\b", "[REDACTED TWILIO KEY]"),
        rule(
            r"\b(?:dapi[0-9a-f]{32}|PMAK-[0-9a-f]{24}-[0-9a-f]{34}|NRAK-[A-Z0-9]{27}|sq0(?:atp|csp)-[0-9A-Za-z_-]{22,}|lin_api_[A-Za-z0-9]{40})",
            "[REDACTED API KEY]",
        ),
        rule(
            r"(?P<k>hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+",
            "${k}[REDACTED]",
        ),
        // Azure connection strings and SAS URLs: the key and the signature.
        rule(
            r"(?i)(?P<k>\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|sig)=)[^;\s&'\x22]+",
            "${k}[REDACTED]",
        ),
        // Environment entries as ECS and Kubernetes write them, in task definitions and
        // CloudTrail's RegisterTaskDefinition: a `name` ending in a secret's word
        // (`DB_PASSWORD`, not `TOKEN_TTL_SECONDS`), then its `value`.
        rule(
            r#"(?i)(?P<k>"name"\s*:\s*"[^"]*(?:password|passwd|pwd|secret|token|api[_-]?key|private[_-]?key|credentials?)"\s*,\s*"value"\s*:\s*")[^"]*""#,
            "${k}[REDACTED]\"",
        ),
        // An Authorization header's whole value, whatever the scheme (Token, Digest,
        // AWS4-HMAC-SHA256 ...), and every cookie.
        rule(
            r#"(?i)(?P<k>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest|negotiate|aws4-hmac-sha256)\s+)?)[^\s"',;]+(?:[^\n"']*)"#,
            "${k}[REDACTED]",
        ),
        rule(
            r#"(?i)(?P<k>\b(?:set-)?cookie["']?\s*[:=]\s*["']?)[^\n"']+"#,
            "${k}[REDACTED]",
        ),
        // Secret-named command-line flags: `--password hunter2`, `--db-token=x`.
        rule(
            r"(?i)(?P<k>(?:^|\s)--?[\w-]*(?:password|passwd|token|secret|api-?key)(?:\s+|=))[^\s-][^\s]*",
            "${k}[REDACTED]",
        ),
        // Bearer/Basic credentials outside a header.
        rule(
            r"(?i)(?P<k>\b(?:bearer|basic)\s+)[A-Za-z0-9\-._~+/]{8,}=*",
            "${k}[REDACTED]",
        ),
        // Passwords in URLs: scheme://user:PASS@host
        rule(
            r"(?P<k>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@",
            "${k}[REDACTED]@",
        ),
        // AWS secret access keys labelled as such, in any notation.
        rule(
            r#"(?i)(?P<k>secret[ _-]?(?:access[ _-]?)?key\b[^A-Za-z0-9/+=\n]{1,20})[A-Za-z0-9/+=]{40}\b"#,
            "${k}[REDACTED]",
        ),
        // AWS access key ids (long-term AKIA, temporary ASIA).
        rule(
            r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
            "[REDACTED AWS ACCESS KEY ID]",
        ),
    ]
});

/// `"key": "value"` and `key="value"` with a quoted value (which may contain spaces).
static QUOTED_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)(?P<k>\b[\w.-]*{SECRET_KEYS}["']?\s*[:=]\s*)(?P<q>["'])(?P<v>[^"'\n]*)["']"#
    ))
    .expect("valid quoted pair regex")
});

/// `key=value` and `key: value` with a bare value.
static BARE_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?i)(?P<k>\b[\w.-]*{SECRET_KEYS}["']?\s*[:=]\s*)(?P<v>[^\s"',;&]+)"#
    ))
    .expect("valid bare pair regex")
});

/// A value under a key-like label (`signing_key=`, `X-Auth: `, `API key: `) whose value
/// is only a secret when it looks like one: hex of 32 digits or more, or letters and
/// digits of high entropy. Keys named for what they index (`cache_key`, `partition_key`,
/// `public_key` ...) are left out.
static KEYED_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?P<k>\b(?P<name>[\w.-]*(?:key|signature|sig|auth|api[ _-]key|access[ _-]key))["']?\s*[:=]\s*["']?)(?P<v>[A-Za-z0-9+/_-]{20,}={0,2})"#,
    )
    .expect("valid keyed value regex")
});

/// Key names whose value indexes data rather than unlocking it.
static INDEX_KEY_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:idempotency|cache|partition|sort|routing|dedup\w*|object|primary|foreign|lock|group|row|public|host|ssh)[_-]?key$")
        .expect("valid index key regex")
});

/// Every pattern of [`RULES`], then the pairs, in one set: a line is searched once to
/// learn which of them can match, and only those are run.
static ALL_PATTERNS: LazyLock<RegexSet> = LazyLock::new(|| {
    let rules = RULES.iter().map(|rule| rule.pattern.as_str());
    let pairs = [&QUOTED_PAIR, &BARE_PAIR, &KEYED_VALUE].map(|pattern| pattern.as_str());
    RegexSet::new(rules.chain(pairs)).expect("valid redaction regex set")
});

/// Apply every rule that matches `line`, in order, then the pairs.
pub(super) fn apply(line: &str) -> Cow<'_, str> {
    let matching = ALL_PATTERNS.matches(line);
    if !matching.matched_any() {
        return Cow::Borrowed(line);
    }
    let mut text = Cow::Borrowed(line);
    for (index, rule) in RULES.iter().enumerate() {
        if matching.matched(index) {
            text = replace(text, &rule.pattern, rule.replacement);
        }
    }
    let pairs = RULES.len();
    if matching.matched(pairs) {
        text = replace_pairs(text, &QUOTED_PAIR, true);
    }
    if matching.matched(pairs + 1) {
        text = replace_pairs(text, &BARE_PAIR, false);
    }
    if matching.matched(pairs + 2) {
        text = replace_keyed_values(text);
    }
    text
}

/// Apply one pattern, keeping the text borrowed when it does not match.
fn replace<'a>(text: Cow<'a, str>, pattern: &Regex, replacement: &str) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(s) => pattern.replace_all(s, replacement),
        Cow::Owned(s) => match pattern.replace_all(&s, replacement) {
            Cow::Borrowed(_) => Cow::Owned(s),
            Cow::Owned(replaced) => Cow::Owned(replaced),
        },
    }
}

/// Replace the value of secret-named pairs, leaving empty values, placeholders and ARN
/// segments (`...:secret:NAME`, a reference and not a secret) alone.
fn replace_pairs<'a>(text: Cow<'a, str>, pattern: &Regex, quoted: bool) -> Cow<'a, str> {
    let source: &str = &text;
    let rewrite = |caps: &Captures<'_>| -> String {
        let whole = &caps[0];
        let start = caps.get(0).map_or(0, |m| m.start());
        let value = &caps["v"];
        if value.is_empty()
            || value.starts_with("[REDACTED")
            || is_placeholder(value)
            || source[..start].ends_with(':')
        {
            return whole.to_string();
        }
        let key = &caps["k"];
        if quoted {
            let quote = &caps["q"];
            format!("{key}{quote}{REDACTED}{quote}")
        } else {
            format!("{key}{REDACTED}")
        }
    };
    match pattern.replace_all(source, rewrite) {
        Cow::Owned(replaced) if replaced != source => Cow::Owned(replaced),
        _ => text,
    }
}

/// A value that stands for a secret without being one: `password: YES` in MySQL's
/// "using password: YES", `token=null`, `secret=<none>`, `password=****`, and the words
/// of an error message about one (the agent's "registry credentials: not found").
fn is_placeholder(value: &str) -> bool {
    let value = value.trim_matches(|c: char| matches!(c, '(' | ')' | '<' | '>' | '[' | ']'));
    [
        "yes",
        "no",
        "true",
        "false",
        "null",
        "nil",
        "none",
        "empty",
        "unset",
        "redacted",
        "not",
        "missing",
        "invalid",
        "expired",
        "required",
        "unavailable",
        "undefined",
        "unknown",
        "denied",
    ]
    .iter()
    .any(|word| value.eq_ignore_ascii_case(word))
        || (!value.is_empty() && value.chars().all(|c| c == '*' || c == 'x' || c == 'X'))
}

/// Replace the values of [`KEYED_VALUE`] labels that look like keys.
fn replace_keyed_values(text: Cow<'_, str>) -> Cow<'_, str> {
    let source: &str = &text;
    if !KEYED_VALUE.is_match(source) {
        return text;
    }
    let rewrite = |caps: &Captures<'_>| -> String {
        let value = &caps["v"];
        if INDEX_KEY_NAME.is_match(&caps["name"]) || !looks_like_key(value) {
            return caps[0].to_string();
        }
        format!("{}{REDACTED}", &caps["k"])
    };
    match KEYED_VALUE.replace_all(source, rewrite) {
        Cow::Owned(replaced) if replaced != source => Cow::Owned(replaced),
        _ => text,
    }
}

/// Whether a labelled value has the shape of a key: 32 or more hex digits that are not
/// all alike and not a UUID, or a random-looking run of letters and digits.
fn looks_like_key(value: &str) -> bool {
    let value = value.trim_end_matches('=');
    let bytes = value.as_bytes();
    if bytes.contains(&b'-') && bytes.iter().all(|&b| b == b'-' || b.is_ascii_hexdigit()) {
        return false; // a UUID or another dashed hex id
    }
    let hex = bytes.iter().all(u8::is_ascii_hexdigit)
        && !(bytes.iter().any(u8::is_ascii_lowercase) && bytes.iter().any(u8::is_ascii_uppercase));
    if hex {
        return bytes.len() >= 32
            && entropy::Features::of(bytes).is_some_and(|f| f.entropy >= HEX_KEY_ENTROPY);
    }
    entropy::Features::of(bytes).is_some_and(|f| f.looks_random_when_labelled())
}

/// Bits per character a labelled hex value needs: random hex of 32 digits shows about
/// 3.7 (at most 4); counters, padding and repeated digits far less. detect-secrets uses
/// 3.0 for hex.
const HEX_KEY_ENTROPY: f64 = 3.0;
