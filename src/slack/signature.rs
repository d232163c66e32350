//! Slack request signatures, checked once for every Slack route by an axum middleware
//! ([`require_signature`]) before the handler parses anything.
//!
//! Slack signs `v0:{timestamp}:{body}` with the app's signing secret (HMAC-SHA256) and
//! sends `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=HEX`. The comparison
//! and the five-minute window (either way, so a captured request cannot be replayed
//! later nor one dated ahead be kept for later) are slack-morphism's
//! [`SlackEventSignatureVerifier`]. This module adds what the verifier leaves to its
//! caller: reading the headers, and the answer a refused request gets: 400 for a
//! malformed one, 401 for one Slack did not sign, with a body saying which. A refused
//! request causes no work.
//!
//! A signature is valid for five minutes, so a captured request could be sent again
//! within them. Every accepted signature is remembered for that window in the shared
//! state store ([`crate::state`]; DynamoDB when replicas share a table), and a request
//! whose signature was already seen is answered 200 with an empty body and does nothing.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};
use std::sync::Arc;
use std::time::Duration;

/// How long a signature is remembered: Slack's five-minute window, plus a minute for
/// clocks that disagree.
const REPLAY_WINDOW: Duration = Duration::from_secs(360);

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
    pub fn status(self) -> StatusCode {
        match self {
            SignatureError::MissingHeaders | SignatureError::BadTimestamp => {
                StatusCode::BAD_REQUEST
            }
            SignatureError::Stale | SignatureError::Mismatch | SignatureError::NoSecret => {
                StatusCode::UNAUTHORIZED
            }
        }
    }
}

/// The signing secret's verifier; without a secret (Socket Mode only) every HTTP
/// request is refused.
#[derive(Clone)]
pub struct SignatureCheck {
    verifier: Option<SlackEventSignatureVerifier>,
    seen: Option<Arc<dyn crate::state::StateStore>>,
}

impl SignatureCheck {
    pub fn new(signing_secret: Option<&SecretString>) -> SignatureCheck {
        SignatureCheck {
            verifier: signing_secret.map(|secret| {
                SlackEventSignatureVerifier::new(&SlackSigningSecret::new(
                    secret.expose_secret().to_string(),
                ))
            }),
            seen: None,
        }
    }

    /// Remember accepted signatures in `state`, so a replayed request does nothing.
    pub fn with_replay_guard(mut self, state: Arc<dyn crate::state::StateStore>) -> Self {
        self.seen = Some(state);
        self
    }

    /// True unless this signature was already accepted within the window. A store
    /// failure lets the request through (answering twice beats never answering).
    async fn first_use(&self, headers: &HeaderMap) -> bool {
        let Some(seen) = &self.seen else {
            return true;
        };
        let Some(signature) = headers
            .get(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER)
            .and_then(|v| v.to_str().ok())
        else {
            return true;
        };
        match seen
            .first_time(&format!("signature#{}", signature.trim()), REPLAY_WINDOW)
            .await
        {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, "could not check for a replayed request; accepting it");
                true
            }
        }
    }

    /// Verify one request against the clock.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let verifier = self.verifier.as_ref().ok_or(SignatureError::NoSecret)?;
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            return Err(SignatureError::MissingHeaders);
        };
        let timestamp = timestamp.trim();
        if timestamp.parse::<i64>().is_err() {
            return Err(SignatureError::BadTimestamp);
        }
        // Slack's bodies are UTF-8 (form-encoded or JSON); any other bytes cannot match.
        let body = String::from_utf8_lossy(body);
        verifier
            .verify(signature.trim(), &body, timestamp)
            .map_err(|e| match e {
                SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => {
                    SignatureError::Stale
                }
                SlackEventSignatureVerifierError::AbsentSignatureError(_) => {
                    SignatureError::MissingHeaders
                }
                SlackEventSignatureVerifierError::WrongSignatureError(_)
                | SlackEventSignatureVerifierError::CryptoInitError(_) => SignatureError::Mismatch,
            })
    }

    fn verify_headers(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        self.verify(
            header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
            header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
            body,
        )
    }
}

/// Middleware for the Slack routes: reads the body (within the router's body limit:
/// 413 beyond it), verifies the signature, and passes the request on only if Slack
/// signed it.
pub async fn require_signature(
    State(check): State<SignatureCheck>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    if let Err(e) = check.verify_headers(&parts.headers, &body) {
        tracing::warn!(error = %e, "refused a request that Slack did not sign");
        return (e.status(), e.to_string()).into_response();
    }
    if !check.first_use(&parts.headers).await {
        tracing::warn!("ignored a replayed request (its signature was already used)");
        return StatusCode::OK.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Sign as Slack does (test-only: the bot never signs).
    fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(format!("v0:{timestamp}:").as_bytes());
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("v0={hex}")
    }

    fn check(secret: &str) -> SignatureCheck {
        SignatureCheck::new(Some(&SecretString::from(secret)))
    }

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    }

    #[test]
    fn accepts_slacks_documented_example() {
        // From Slack's "Verifying requests from Slack" page.
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert_eq!(sign(secret, 1531420618, body), sig);
        // The verifier checks the timestamp only once the signature matched: the
        // example's signature is accepted, and its 2018 timestamp is refused as old.
        assert_eq!(
            check(secret).verify(Some("1531420618"), Some(sig), body),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            check("another secret").verify(Some("1531420618"), Some(sig), body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_forged_stale_and_malformed() {
        let body = b"text=why";
        let now = now();
        let ts = now.to_string();
        let good = sign("secret", now, body);
        assert_eq!(check("secret").verify(Some(&ts), Some(&good), body), Ok(()));
        assert_eq!(
            check("other").verify(Some(&ts), Some(&good), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check("secret").verify(Some(&ts), Some(&good), b"text=evil"),
            Err(SignatureError::Mismatch)
        );
        for skew in [-301, 301] {
            let when = now + skew;
            let sig = sign("secret", when, body);
            assert_eq!(
                check("secret").verify(Some(&when.to_string()), Some(&sig), body),
                Err(SignatureError::Stale),
                "{skew} s from now"
            );
        }
        assert_eq!(
            check("secret").verify(None, Some(&good), body),
            Err(SignatureError::MissingHeaders)
        );
        assert_eq!(
            check("secret").verify(Some("yesterday"), Some(&good), body),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check("secret").verify(Some(&ts), Some("v0=zz"), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            SignatureCheck::new(None).verify(Some(&ts), Some(&good), body),
            Err(SignatureError::NoSecret)
        );
        assert_eq!(SignatureError::BadTimestamp.status(), 400);
        assert_eq!(SignatureError::Stale.status(), 401);
        assert_eq!(SignatureError::NoSecret.status(), 401);
    }
}
