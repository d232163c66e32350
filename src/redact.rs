//! Secret redaction for every line of text that may leave the process.
//!
//! Log lines and AWS reason texts are untrusted: they can carry access keys, passwords in
//! connection strings, bearer tokens and the like. [`redact`] replaces those with
//! `[REDACTED]` before anything reaches Slack, a terminal or JSON. It is idempotent
//! (redacting twice gives the same text) and cheap: a line with no trigger substring is
//! returned borrowed without any pattern being run.

use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Substrings without which no pattern below can match (case-insensitive).
static TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)akia|asia|://|bearer|eyj|xox[a-z]-|xapp-|private key|pass|pwd|token|secret|api[_-]?key|auth|gh[pousr]_|github_pat_|[sr]k_(?:live|test)_|aiza|glpat-|npm_|sg\.|cookie",
    )
    .expect("valid trigger regex")
});

/// One rule: a pattern and how to rewrite a match.
struct Rule {
    pattern: Regex,
    /// Replacement with `$name` groups, as for `Regex::replace_all`.
    replacement: &'static str,
}

fn rule(pattern: &str, replacement: &'static str) -> Rule {
    Rule {
        pattern: Regex::new(pattern).expect("valid redaction regex"),
        replacement,
    }
}

/// Keys whose value is a secret in `k=v`, `k: v` and JSON forms.
const SECRET_KEYS: &str = r"(?:password|passwd|pwd|token|secret|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|credentials?)";

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // PEM private key blocks (to the END marker, or the end of the line).
        rule(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
            "[REDACTED PRIVATE KEY]",
        ),
        // JSON Web Tokens: header.payload.signature, both first parts base64url JSON.
        rule(
            r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
            REDACTED,
        ),
        // Slack tokens.
        rule(r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{6,}", REDACTED),
        // Well-known token formats: GitHub, Stripe, Google API keys, GitLab, npm,
        // SendGrid, Slack incoming webhooks.
        rule(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|AIza[0-9A-Za-z_-]{35}|glpat-[0-9A-Za-z_-]{20,}|npm_[A-Za-z0-9]{36}|SG\.[\w-]{16,}\.[\w-]{16,})",
            REDACTED,
        ),
        rule(
            r"(?P<k>hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+",
            "${k}[REDACTED]",
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
        // Authorization: Bearer/Basic ...
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
        rule(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b", REDACTED),
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

/// Replace secrets in `line` with `[REDACTED]`. Borrowed when nothing was replaced.
pub fn redact(line: &str) -> Cow<'_, str> {
    if is_key_material(line) {
        return Cow::Owned(REDACTED.to_string());
    }
    if !TRIGGER.is_match(line) {
        return Cow::Borrowed(line);
    }
    let mut text = Cow::Borrowed(line);
    for rule in RULES.iter() {
        text = replace(text, &rule.pattern, rule.replacement);
    }
    text = replace_pairs(text, &QUOTED_PAIR, true);
    replace_pairs(text, &BARE_PAIR, false)
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
        if value.is_empty() || value == REDACTED || source[..start].ends_with(':') {
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
        Cow::Borrowed(_) => text,
        Cow::Owned(replaced) => Cow::Owned(replaced),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let once = redact(input);
        assert_eq!(once, expected, "redacting {input:?}");
        assert_eq!(redact(&once), once, "idempotent on {input:?}");
    }

    #[test]
    fn ordinary_text_is_borrowed_and_unchanged() {
        for line in [
            "Listening on 0.0.0.0:8080",
            "GET /health 200 3ms",
            "Connected to database in 12ms",
            "Error: connect ECONNREFUSED 10.0.1.5:5432",
        ] {
            assert!(matches!(redact(line), Cow::Borrowed(_)), "{line}");
        }
    }

    #[test]
    fn triggers_without_secrets_are_not_over_redacted() {
        for line in [
            "FATAL: password authentication failed for user \"app\"",
            "max_tokens=100 temperature=0.2",
            "see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/",
            "the bearer of bad news",
            "Timezone Asia/Tokyo loaded",
            "token refresh scheduled",
            "failed to fetch secret arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
        ] {
            assert_eq!(redact(line), line);
        }
    }

    #[test]
    fn aws_access_key_ids() {
        check(
            "using key AKIAIOSFODNN7EXAMPLE now",
            "using key [REDACTED] now",
        );
        check("ASIAY34FZKBOKMUTVV7A", "[REDACTED]");
    }

    #[test]
    fn aws_secret_keys_when_labelled() {
        check(
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [REDACTED]",
        );
        check(
            r#"{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
            r#"{"SecretAccessKey": "[REDACTED]"}"#,
        );
        check(
            "AWS Secret Access Key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS Secret Access Key: [REDACTED]",
        );
    }

    #[test]
    fn passwords_in_urls() {
        check(
            "connecting to postgres://app:s3cr3t!@db.internal:5432/orders",
            "connecting to postgres://app:[REDACTED]@db.internal:5432/orders",
        );
        check(
            "redis://default:hunter2@cache:6379",
            "redis://default:[REDACTED]@cache:6379",
        );
    }

    #[test]
    fn bearer_tokens() {
        check(
            "Authorization: Bearer abcdef0123456789abcdef",
            "Authorization: Bearer [REDACTED]",
        );
    }

    #[test]
    fn jwts() {
        check(
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end",
            "token [REDACTED] end",
        );
    }

    #[test]
    fn key_value_pairs_in_every_form() {
        check("password=hunter2 user=app", "password=[REDACTED] user=app");
        check("db_passwd: hunter2", "db_passwd: [REDACTED]");
        check("pwd=abc&x=1", "pwd=[REDACTED]&x=1");
        check("token=abc123", "token=[REDACTED]");
        check("client_secret=abc123", "client_secret=[REDACTED]");
        check(
            "api_key=abc123 apikey=def",
            "api_key=[REDACTED] apikey=[REDACTED]",
        );
        check("access_token=abc123", "access_token=[REDACTED]");
        check(
            r#"{"password": "two words", "user": "app"}"#,
            r#"{"password": "[REDACTED]", "user": "app"}"#,
        );
        check(r#"{"apiKey":"k-123"}"#, r#"{"apiKey":"[REDACTED]"}"#);
        check("SECRET='abc def'", "SECRET='[REDACTED]'");
    }

    #[test]
    fn slack_tokens() {
        check(
            "posting with xoxb-1234567890-abcdefghij",
            "posting with [REDACTED]",
        );
        check("xapp-1-A0123-456-abcdef", "[REDACTED]");
        check("xoxp-1234567890-abc", "[REDACTED]");
    }

    #[test]
    fn private_key_blocks() {
        check(
            "key: -----BEGIN RSA PRIVATE KEY-----MIIEow...-----END RSA PRIVATE KEY----- done",
            "key: [REDACTED PRIVATE KEY] done",
        );
        check(
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "[REDACTED PRIVATE KEY]",
        );
    }

    #[test]
    fn well_known_token_formats() {
        check(
            "token ghp_1234567890abcdefghijklmnopqrstuvwxyzAB used",
            "token [REDACTED] used",
        );
        check(
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123",
            "[REDACTED]",
        );
        check(
            "stripe key sk_live_4eC39HqLyjWDarjtT1zdp7dc failed",
            "stripe key [REDACTED] failed",
        );
        check("rk_test_4eC39HqLyjWDarjtT1zdp7dc", "[REDACTED]");
        check(
            "key=AIzaSyA-1234567890abcdefghijklmnopqrstu",
            "key=[REDACTED]",
        );
        check("glpat-abcdefghij1234567890", "[REDACTED]");
        check(
            "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "POST https://hooks.slack.com/services/[REDACTED]",
        );
    }

    #[test]
    fn authorization_headers_and_cookies_of_any_scheme() {
        check(
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "Authorization: Basic [REDACTED]",
        );
        check(
            "authorization=Token abcdef123456",
            "authorization=Token [REDACTED]",
        );
        check(
            r#"headers: {"Authorization": "Digest username=bob, response=abc"}"#,
            r#"headers: {"Authorization": "Digest [REDACTED]"}"#,
        );
        check(
            "Cookie: session=abcdef0123456789; theme=dark",
            "Cookie: [REDACTED]",
        );
    }

    #[test]
    fn passwords_in_urls_without_a_user_and_on_the_command_line() {
        check(
            "connecting to redis://:s3cr3t@cache:6379",
            "connecting to redis://:[REDACTED]@cache:6379",
        );
        check(
            "mysql://user:pw@host:3306/db",
            "mysql://user:[REDACTED]@host:3306/db",
        );
        check(
            "exec mysqldump --password hunter2 --db orders",
            "exec mysqldump --password [REDACTED] --db orders",
        );
        check("run --api-key=abc123", "run --api-key=[REDACTED]");
    }

    #[test]
    fn private_key_bodies_on_lines_of_their_own() {
        check(
            "MIIEpAIBAAKCAQEA7bq2Zr1d9Jx0f3s8XkqLmN4uV5wY6zA7bC8dE9fG0hI1jK2lM3n",
            "[REDACTED]",
        );
        // A hex digest, a word run and a path are not key material.
        for line in [
            "sha256:af296b188c7b7df99ba960ca614439c99cb7cf252ed7bbc23e90cfda59092305",
            "af296b188c7b7df99ba960ca614439c99cb7cf252ed7bbc23e90cfda59092305",
            "GET /api/v1/items/12345/details/summary/overview/latest 200",
        ] {
            assert_eq!(redact(line), line);
        }
    }
}
