//! Slack request signatures: checked before any other work on an HTTP request.
//!
//! Slack signs `v0:{timestamp}:{body}` with the app's signing secret (HMAC-SHA256) and
//! sends `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=HEX`. A request older or
//! newer than five minutes is refused, so a captured request cannot be replayed later.
//! The comparison is constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from our clock, in seconds.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Request-Timestamp or X-Slack-Signature header")]
    MissingHeaders,
    #[error("X-Slack-Request-Timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the request timestamp is more than five minutes from now")]
    Stale,
    #[error("X-Slack-Signature does not match the body")]
    Mismatch,
    #[error("no signing secret is configured (Socket Mode); set SLACK_SIGNING_SECRET to accept HTTP requests")]
    NoSecret,
}

impl SignatureError {
    /// Malformed requests are 400; requests that are well formed but not Slack's are 401.
    pub fn is_malformed(self) -> bool {
        matches!(
            self,
            SignatureError::MissingHeaders | SignatureError::BadTimestamp
        )
    }
}

/// Verify one request. `now` is Unix seconds (passed in so tests control the clock).
pub fn verify(
    secret: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let secret = secret.ok_or(SignatureError::NoSecret)?;
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::MissingHeaders);
    };
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(decode_hex)
        .ok_or(SignatureError::Mismatch)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// Sign a body as Slack does (used by tests, the benchmark and the Socket Mode bridge).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_slacks_documented_example() {
        // From Slack's "Verifying requests from Slack" page.
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(
            verify(
                Some(secret),
                Some("1531420618"),
                Some(sig),
                body,
                1531420618
            ),
            Ok(())
        );
        assert_eq!(sign(secret, 1531420618, body), sig);
    }

    #[test]
    fn refuses_forged_stale_and_malformed() {
        let body = b"text=why";
        let now = 1_700_000_000;
        let good = sign("secret", now, body);
        assert_eq!(
            verify(
                Some("secret"),
                Some(&now.to_string()),
                Some(&good),
                body,
                now
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                Some("other"),
                Some(&now.to_string()),
                Some(&good),
                body,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                Some("secret"),
                Some(&now.to_string()),
                Some(&good),
                b"text=evil",
                now
            ),
            Err(SignatureError::Mismatch)
        );
        let old = now - MAX_SKEW_SECS - 1;
        let sig = sign("secret", old, body);
        assert_eq!(
            verify(
                Some("secret"),
                Some(&old.to_string()),
                Some(&sig),
                body,
                now
            ),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some("secret"), None, Some(&good), body, now),
            Err(SignatureError::MissingHeaders)
        );
        assert_eq!(
            verify(Some("secret"), Some("yesterday"), Some(&good), body, now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(
                Some("secret"),
                Some(&now.to_string()),
                Some("v0=zz"),
                body,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(None, Some(&now.to_string()), Some(&good), body, now),
            Err(SignatureError::NoSecret)
        );
    }
}
