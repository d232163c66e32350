//! A fake IAM endpoint for the one call moto does not implement: SimulatePrincipalPolicy
//! (awsQuery: a form-encoded POST answered with XML), on 127.0.0.1.
//!
//! Grants are (role ARN, action, resource or `*`); the simulation says `allowed` for an
//! action on a resource when a grant matches, `implicitDeny` otherwise, one result per
//! action and resource, as IAM does. [`FakeIam::deny_caller`] makes the call itself fail
//! with AccessDenied (ecs-why's own role lacks iam:SimulatePrincipalPolicy).
//! [`with_iam_endpoint`] points an SDK configuration's IAM client at it while every other
//! service keeps its endpoint (moto), the way `AWS_ENDPOINT_URL_IAM` does in production.
#![allow(dead_code)]

use aws_config::SdkConfig;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One simulation asked: (role, actions, resources).
pub type Asked = (String, Vec<String>, Vec<String>);

#[derive(Default)]
struct Shared {
    grants: Mutex<Vec<(String, String, String)>>,
    deny_caller: Mutex<bool>,
    /// Each simulation asked: (role, actions, resources).
    asked: Mutex<Vec<Asked>>,
}

/// The running fake; dropping it stops the server.
pub struct FakeIam {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl FakeIam {
    pub async fn start() -> FakeIam {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(shared.clone());
        let (addr, shutdown) = super::loopback::serve(app, "the fake IAM").await;
        FakeIam {
            addr,
            shared,
            _shutdown: shutdown,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Let `role_arn` do `action` on `resource` (`*` for any).
    pub fn grant(&self, role_arn: &str, action: &str, resource: &str) {
        self.shared.grants.lock().unwrap().push((
            role_arn.to_string(),
            action.to_string(),
            resource.to_string(),
        ));
    }

    /// Answer every simulation with AccessDenied.
    pub fn deny_caller(&self) {
        *self.shared.deny_caller.lock().unwrap() = true;
    }

    /// The simulations asked so far: (role, actions, resources).
    pub fn asked(&self) -> Vec<Asked> {
        self.shared.asked.lock().unwrap().clone()
    }
}

async fn answer(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let value = |key: &str| {
        form.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let members = |prefix: &str| -> Vec<String> {
        let mut found: Vec<(usize, String)> = form
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(prefix)?.parse().ok()?;
                Some((n, v.clone()))
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, v)| v).collect()
    };
    if value("Action") != "SimulatePrincipalPolicy" {
        return error(StatusCode::BAD_REQUEST, "InvalidAction", "not faked");
    }
    if *shared.deny_caller.lock().unwrap() {
        return error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/ecs-why/bot is not authorized to perform: iam:SimulatePrincipalPolicy",
        );
    }
    let role = value("PolicySourceArn");
    let actions = members("ActionNames.member.");
    let resources = members("ResourceArns.member.");
    shared
        .asked
        .lock()
        .unwrap()
        .push((role.clone(), actions.clone(), resources.clone()));
    let grants = shared.grants.lock().unwrap().clone();
    let resources = if resources.is_empty() {
        vec!["*".to_string()]
    } else {
        resources
    };
    let mut results = String::new();
    for action in &actions {
        for resource in &resources {
            let allowed = grants
                .iter()
                .any(|(r, a, res)| r == &role && a == action && (res == "*" || res == resource));
            let decision = if allowed { "allowed" } else { "implicitDeny" };
            results.push_str(&format!(
                "<member><EvalActionName>{action}</EvalActionName><EvalResourceName>{resource}</EvalResourceName><EvalDecision>{decision}</EvalDecision><MatchedStatements/><MissingContextValues/></member>"
            ));
        }
    }
    let xml = format!(
        "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{results}</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>fake-iam-1</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
    );
    (StatusCode::OK, [("content-type", "text/xml")], xml).into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let xml = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fake-iam-err</RequestId></ErrorResponse>"
    );
    (status, [("content-type", "text/xml")], xml).into_response()
}

/// `config` with IAM's endpoint at `endpoint` (every other service unchanged).
pub fn with_iam_endpoint(config: &SdkConfig, endpoint: &str) -> SdkConfig {
    super::endpoints::with_endpoints(config, &[("IAM", endpoint.to_string())])
}
