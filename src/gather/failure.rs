//! A failed AWS call turned into a sentence for a person, and its detail for the log.
//!
//! What a person reads names what happened: the AWS error code and message, the HTTP
//! status when AWS (or something in the way) answered with no readable AWS answer, a
//! reset or refused connection, a role that could not be assumed, and the request id.
//! It is never the SDK's debug rendering, which can include the raw response body (task
//! overrides with environment values, tokens). The full detail goes to the log, through
//! [`crate::redact`] like every log line; the sentence passes through it too, as a last
//! guard.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_ecs::error::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::error::Error;

/// What kind of failure an AWS call had, for notes and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Denied,
    NotFound,
    ClusterNotFound,
    InvalidInput,
    Throttled,
    Credentials,
    Timeout,
    Network,
    /// AWS (or a proxy in the way) answered with a 5xx status.
    ServerError,
    Other,
}

/// A failed AWS call, reduced to what messages need.
#[derive(Debug, Clone)]
pub struct AwsFailure {
    pub kind: FailureKind,
    pub code: Option<String>,
    /// A sentence for a person: redacted, never a debug dump of the response.
    pub message: String,
}

/// A role that could not be assumed: the role's ARN and what STS answered. The
/// credentials provider of a gatherer with a role returns this as its error's source,
/// so [`aws_failure`] can name the role.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not assume the role {role_arn}: {reason}")]
pub struct AssumeRoleFailed {
    pub role_arn: String,
    pub reason: String,
}

/// The one wording of a call IAM refused: `access denied to ACTION; add ACTION to
/// ecs-why's task role (deploy/iam-policy.json)`, whatever was being read.
pub fn denied(action: &str) -> String {
    format!(
        "access denied to {action}; add {action} to ecs-why's task role (deploy/iam-policy.json)"
    )
}

/// Response headers that carry the request id, by service family.
const REQUEST_ID_HEADERS: [&str; 3] = ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"];

/// Classify any SDK error, log its detail (redacted) and word it for a person.
pub fn aws_failure<E>(err: &SdkError<E, HttpResponse>) -> AwsFailure
where
    E: ProvideErrorMetadata + Error + 'static,
{
    tracing::debug!(
        detail = %crate::redact::redact(&DisplayErrorContext(err).to_string()),
        "an AWS call failed"
    );
    let mut failure = classify(err);
    let request_id = err
        .raw_response()
        .and_then(request_id)
        .or_else(|| service_request_id(err));
    if let Some(id) = request_id {
        failure.message = format!("{} (request id {id})", failure.message);
    }
    failure.message = crate::redact::redact(&failure.message).into_owned();
    failure
}

fn classify<E>(err: &SdkError<E, HttpResponse>) -> AwsFailure
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            service_failure(service.err(), status)
        }
        SdkError::ResponseError(response) => unreadable(response.raw().status().as_u16()),
        SdkError::TimeoutError(_) => AwsFailure {
            kind: FailureKind::Timeout,
            code: None,
            message: "AWS did not answer in time; check the network and the region".into(),
        },
        _ => connection_failure(err),
    }
}

/// AWS answered with an error it could describe: its code and message.
fn service_failure(inner: &impl ProvideErrorMetadata, status: u16) -> AwsFailure {
    let code = inner.code().map(str::to_string);
    let kind = match code.as_deref().unwrap_or_default() {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedException" => FailureKind::Denied,
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch" => FailureKind::Credentials,
        "ResourceNotFoundException" | "TaskDefinitionNotFoundException" => FailureKind::NotFound,
        "ClusterNotFoundException" => FailureKind::ClusterNotFound,
        "InvalidParameterException" | "InvalidParameterValueException" => FailureKind::InvalidInput,
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "LimitExceededException" => FailureKind::Throttled,
        _ if status == 429 => FailureKind::Throttled,
        _ if status >= 500 => FailureKind::ServerError,
        _ => FailureKind::Other,
    };
    let said = match (&code, inner.message().filter(|m| !m.trim().is_empty())) {
        (Some(code), Some(message)) if message.contains(code.as_str()) => message.to_string(),
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => format!("AWS answered HTTP {status} {code}"),
        (None, Some(message)) => format!("AWS answered HTTP {status}: {message}"),
        (None, None) => format!("AWS answered HTTP {status} with no error code"),
    };
    let message = if kind == FailureKind::Credentials {
        credentials_message(Some(&said))
    } else {
        said
    };
    AwsFailure {
        kind,
        code,
        message,
    }
}

/// AWS, or something between it and the bot, answered with a body that is not an AWS
/// answer (an HTML error page, truncated or malformed JSON).
fn unreadable(status: u16) -> AwsFailure {
    let (kind, message) = match status {
        429 => (
            FailureKind::Throttled,
            "AWS answered HTTP 429 (too many requests)".to_string(),
        ),
        500..=599 => (
            FailureKind::ServerError,
            format!(
                "AWS answered HTTP {status} with a page that is not an AWS answer (AWS had a \
                 problem, or a proxy or load balancer is in the way); ask again shortly"
            ),
        ),
        _ => (
            FailureKind::Other,
            format!(
                "AWS answered HTTP {status} with a body that is not a valid AWS answer (a \
                 proxy in the way, or AWS_ENDPOINT_URL pointing elsewhere?)"
            ),
        ),
    };
    AwsFailure {
        kind,
        code: None,
        message,
    }
}

/// No answer at all: credentials that could not be loaded or a role that could not be
/// assumed, a reset, refused or timed-out connection, or a request not sent.
fn connection_failure<E>(err: &SdkError<E, HttpResponse>) -> AwsFailure
where
    E: Error + 'static,
{
    let failure = |kind, message: String| AwsFailure {
        kind,
        code: None,
        message,
    };
    if let Some(role) = find_source::<AssumeRoleFailed>(err) {
        return failure(FailureKind::Credentials, role.to_string());
    }
    if let Some(credentials) = find_source::<CredentialsError>(err) {
        let message = match credentials {
            CredentialsError::CredentialsNotLoaded(_) => credentials_message(None),
            CredentialsError::ProviderTimedOut(_) => {
                "loading the AWS credentials timed out (the instance, task or SSO credential \
                 endpoint did not answer); check the network and the task role"
                    .to_string()
            }
            _ => format!("the AWS credentials could not be loaded ({credentials})"),
        };
        return failure(FailureKind::Credentials, message);
    }
    // No credentials provider at all: the SDK says so in words, not with a type.
    if mentions_credentials(err) {
        return failure(FailureKind::Credentials, credentials_message(None));
    }
    if let Some(io) = find_source::<std::io::Error>(err) {
        use std::io::ErrorKind;
        let what = match io.kind() {
            ErrorKind::ConnectionReset => Some("the connection to AWS was reset"),
            ErrorKind::ConnectionRefused => Some("the AWS endpoint refused the connection"),
            ErrorKind::ConnectionAborted => Some("the connection to AWS was aborted"),
            ErrorKind::TimedOut => Some("connecting to AWS timed out"),
            ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe => {
                Some("the connection to AWS closed before the answer was complete")
            }
            _ => None,
        };
        if let Some(what) = what {
            let kind = if io.kind() == ErrorKind::TimedOut {
                FailureKind::Timeout
            } else {
                FailureKind::Network
            };
            return failure(
                kind,
                format!("{what}; check the network, the region and AWS_ENDPOINT_URL"),
            );
        }
    }
    match err {
        SdkError::DispatchFailure(dispatch) if dispatch.is_timeout() => failure(
            FailureKind::Timeout,
            "connecting to AWS timed out; check the network, the region and AWS_ENDPOINT_URL"
                .into(),
        ),
        SdkError::DispatchFailure(_) => failure(
            FailureKind::Network,
            "could not reach AWS (the connection failed); check the network, the region and \
             AWS_ENDPOINT_URL"
                .into(),
        ),
        _ => failure(
            FailureKind::Other,
            "the request to AWS could not be made; see the log for the detail".into(),
        ),
    }
}

/// The first error of type `T` in `err`'s chain of sources.
fn find_source<'e, T: Error + 'static>(err: &'e (dyn Error + 'static)) -> Option<&'e T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// True when an error of the chain (its own message, never a response dump) is about
/// credentials.
fn mentions_credentials(err: &(dyn Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.to_string().to_ascii_lowercase().contains("credential") {
            return true;
        }
        current = e.source();
    }
    false
}

fn request_id(response: &HttpResponse) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|name| response.headers().get(*name))
        .filter(|id| is_request_id(id))
        .map(str::to_string)
}

/// The request id an error body carried (awsQuery services such as STS put it there).
fn service_request_id<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    let SdkError::ServiceError(service) = err else {
        return None;
    };
    service
        .err()
        .meta()
        .extra("aws_request_id")
        .filter(|id| is_request_id(id))
        .map(str::to_string)
}

/// Request ids are short tokens of letters, digits and dashes; anything else in the
/// header is not shown.
fn is_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'=' || b == b'/' || b == b'+')
}

pub(super) fn credentials_message(detail: Option<&str>) -> String {
    let advice = "set AWS_PROFILE (and run `aws sso login` for SSO), or AWS_ACCESS_KEY_ID \
         and AWS_SECRET_ACCESS_KEY, or run with an instance or task role";
    match detail {
        Some(detail) => format!("AWS refused the credentials ({detail}): {advice}"),
        None => format!("no AWS credentials found: {advice}"),
    }
}
