//! `secrets-or-registry-auth`: ECS could not fetch the task definition's secrets or
//! registry credentials with the task execution role (ResourceInitializationError).
//!
//! The reason says what failed (denied, missing, KMS, timeout, environment files), and
//! each says so with its own fix; more than one may apply.

use super::meaning::Meaning;
use super::wording::cut;
use super::{Facts, Verdict};
use crate::diagnose::findings::not_authorized;
use crate::diagnose::CauseId;
use crate::evidence::probes::{ChangedField, CheckRequest, Reach};
use regex::Regex;
use std::sync::LazyLock;

/// The phrases that say ECS was fetching the task definition's secrets, registry
/// credentials or environment files with the execution role: Fargate's (`unable to pull
/// secrets or registry auth`, `failed to download env files`), the agent's on EC2 (its
/// task resources' words, capitalised as it sends them), and its two registry errors.
/// Phrases, not loose words: a `ResourceInitializationError` about anything else (an
/// EFS mount, a program whose name mentions "secret") is not this.
const FETCHING: &[&str] = &[
    "unable to pull secrets or registry auth",
    "execution resource retrieval failed",
    "unable to retrieve secret",
    "unable to retrieve ecr registry auth",
    "unable to get registry auth",
    "fetching secret data",
    "retrieve the secret",
    "trying to retrieve secret with value",
    "could not find a secretsmanager secretid",
    "secrets manager secret was specified",
    "did not contain json key",
    "ssm secret resource",
    "asm secret resource",
    "asm resource:",
    "asm fetching",
    "task secret data",
    "failed to download env files",
    "unable to download env file",
    "environment file resource",
    "task environment files",
    "credentialspec resource",
    "private registry credentials",
    "cannotpullecrcontainererror",
    "cannotpullcontainerautherror",
];
/// ...and not the network interface (that is `network-setup-failed`).
const ENI_FAILURE: &str = "failed to configure eni";

/// Denied, without an "is not authorized to perform" naming the action.
const DENIED: &[&str] = &["accessdenied", "not authorized", "access denied"];
/// A customer-managed KMS key is involved.
const KMS: &str = "kms";
/// The secret or parameter does not exist.
const MISSING: &[&str] = &[
    "resourcenotfound",
    "parameternotfound",
    "invalid parameters",
    "not found",
    "does not exist",
];
/// The agent's words for a secret Secrets Manager does not have (ResourceNotFoundException).
const AGENT_SAYS_SECRET_MISSING: &str = "check whether the secret exists";
/// Registry credentials (ECR or a private registry), as opposed to a secret.
const REGISTRY: &[&str] = &["registry auth", "getauthorizationtoken", "ecr"];
const SECRET: &str = "secret";
/// Private-registry credentials (`repositoryCredentials`).
const REPOSITORY_CREDENTIALS: &[&str] = &["registry auth", "repositorycredentials"];
/// The call to the AWS endpoint timed out. Not "retried": ECS says "service call has
/// been retried N time(s)" before every error, an AccessDenied or a missing secret as
/// much as a timeout.
const TIMEOUT: &[&str] = &[
    "i/o timeout",
    "context deadline exceeded",
    "dial tcp",
    "timeout",
];
/// Environment files in S3.
const ENVIRONMENT_FILES: &[&str] = &["env file", "environment file", "s3"];

/// The role a refusal names: `User: arn:aws:sts::1:assumed-role/ROLE/SESSION is not
/// authorized ...`.
static ASSUMED_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"assumed-role/(?P<role>[\w+=,.@-]+)/(?P<session>[\w+=,.@-]+)")
        .expect("valid assumed-role regex")
});

static SECRET_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"arn:aws[\w-]*:(?:secretsmanager|ssm|kms|s3):[^\s,'\x22)]+")
        .expect("valid arn regex")
});

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention_any(FETCHING) || f.reasons_mention(ENI_FAILURE) {
        return None;
    }
    let reason = f.telling_reason();
    let role = acting_role(f, reason).unwrap_or_else(|| f.execution_role_phrase());
    let named = named_secrets(reason);
    let env_files = f.reasons_mention_any(&["env file", "environment file"]);
    let missing = if f.reasons_mention(AGENT_SAYS_SECRET_MISSING) && SECRET_ARN.is_match(reason) {
        format!(" Secrets Manager has no secret {named} in {}.", f.region())
    } else {
        String::new()
    };
    let mut verdict = Verdict::new(
        CauseId::SecretsOrRegistryAuth,
        format!(
            "{} could not start: ECS could not fetch the secrets or registry credentials of its task definition with {role}.{missing}",
            f.subject()
        ),
    );
    for container in f.container_definitions() {
        for secret in &container.secrets {
            verdict = verdict.evidence(format!(
                "Secret `{}` of `{}` comes from `{}`",
                secret.name, container.name, secret.value_from
            ));
        }
    }
    for container in f.container_definitions() {
        if let Some(credentials) = &container.repository_credentials {
            verdict = verdict.evidence(format!(
                "Registry credentials of `{}` come from `{credentials}`",
                container.name
            ));
        }
    }
    let denied = not_authorized(reason);
    if let Some(denied) = &denied {
        let resource = denied
            .resource
            .as_ref()
            .map_or(named.clone(), |resource| format!("`{resource}`"));
        verdict = verdict.fix(format!(
            "Allow `{}` on {resource} in the policy of {role}.",
            denied.action
        ));
    } else if f.reasons_mention_any(DENIED) && !env_files {
        verdict = verdict.fix(format!(
            "Allow `secretsmanager:GetSecretValue`, `ssm:GetParameters` and (for customer-managed keys) `kms:Decrypt` on {named} in the policy of {role}."
        ));
    }
    if f.reasons_mention(KMS) {
        verdict = verdict.fix(format!(
            "Allow `kms:Decrypt` on the secret's KMS key for {role}, and let the role use it in the key policy."
        ));
    }
    if f.reasons_mention_any(MISSING) {
        verdict = verdict.fix(format!(
            "Check that each of {named} exists in {} and in this account; the task definition must name them exactly (full ARN for Secrets Manager, including the suffix, or the parameter name).",
            f.region()
        ));
    }
    let token_denied = denied
        .as_ref()
        .is_some_and(|d| d.action.eq_ignore_ascii_case("ecr:GetAuthorizationToken"));
    if f.reasons_mention_any(REGISTRY) && !f.reasons_mention(SECRET) && !token_denied {
        verdict = verdict.fix(format!(
            "Allow `ecr:GetAuthorizationToken` (resource `*`) for {role}."
        ));
    }
    if let Some(credentials) = f
        .container_definitions()
        .find_map(|c| c.repository_credentials.as_deref())
    {
        if f.reasons_mention_any(REPOSITORY_CREDENTIALS) {
            verdict = verdict.fix(format!(
                "The private registry credentials come from `{credentials}`: allow `secretsmanager:GetSecretValue` on it for {role}, and check it holds `username` and `password` keys."
            ));
        }
    }
    let credentials_set = f
        .container_definitions()
        .any(|c| c.repository_credentials.is_some());
    if f.reasons_mention(NO_PRIVATE_REGISTRY_CREDENTIALS) && !credentials_set {
        verdict = verdict.fix(format!(
            "The agent found no credentials for the private registry: give the container `repositoryCredentials` (a Secrets Manager secret with `username` and `password` keys), and allow `secretsmanager:GetSecretValue` on it for {role}."
        ));
    }
    if f.reasons_mention_any(TIMEOUT) {
        verdict = verdict.fix(format!(
            "The call to the AWS endpoint timed out: from a private subnet add a NAT gateway or VPC endpoints (`com.amazonaws.{r}.secretsmanager`, `com.amazonaws.{r}.ssm`, `com.amazonaws.{r}.ecr.api`, `com.amazonaws.{r}.kms`); in a public subnet on Fargate set `assignPublicIp: ENABLED`.",
            r = f.region()
        ));
    }
    if f.reasons_mention_any(ENVIRONMENT_FILES) {
        let files: Vec<String> = f
            .container_definitions()
            .flat_map(|c| c.environment_files.iter())
            .map(|arn| format!("`{arn}`"))
            .collect();
        let files = if files.is_empty() {
            "the environment files".to_string()
        } else {
            files.join(", ")
        };
        verdict = verdict.fix(format!(
            "Allow `s3:GetObject` (and `s3:GetBucketLocation`) on {files} for {role}, and check that each file exists."
        ));
    }
    if verdict.fixes.is_empty() {
        verdict = verdict.general_fixes();
    }
    Some(verdict)
}

/// The agent's words when a container names a private registry image and no
/// credentials for it.
const NO_PRIVATE_REGISTRY_CREDENTIALS: &str = "private registry credentials: not found";

/// The role a refusal names, when it is not the task's execution role: the container
/// instance's role (the agent fetches ECR credentials with it when the task definition
/// has no execution role), or another.
fn acting_role(f: &Facts, reason: &str) -> Option<String> {
    let caps = ASSUMED_ROLE.captures(reason)?;
    let role = caps.name("role")?.as_str();
    let session = caps.name("session").map_or("", |s| s.as_str());
    let execution = f
        .task_definition
        .and_then(|d| d.execution_role_arn.as_deref());
    if execution.is_some_and(|arn| arn.ends_with(&format!("/{role}"))) {
        return None;
    }
    Some(if session.starts_with("i-") {
        format!("the container instance role `{role}` (the agent uses it when the task definition has no execution role)")
    } else {
        format!("the role `{role}`")
    })
}

/// The secret, parameter, key and object ARNs the reason names, quoted, or words that
/// stand for them.
fn named_secrets(reason: &str) -> String {
    let named: Vec<String> = SECRET_ARN
        .find_iter(reason)
        .map(|m| format!("`{}`", m.as_str().trim_end_matches('.')))
        .collect();
    if named.is_empty() {
        "the referenced secrets and parameters".to_string()
    } else {
        named.join(", ")
    }
}

static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:secret:([\w/+=.@-]+)|invalid parameters: (\S+))").expect("valid secret regex")
});

/// `cannot fetch secret prod/orders/db`, `SSM parameter /app/key not found`, ...
fn headline(f: &Facts) -> Option<String> {
    let timed_out = f.reasons_mention_any(&["timeout", "dial tcp", "send request failed"]);
    let named = SECRET_NAME.captures(f.telling_reason()).and_then(|c| {
        c.get(1).or(c.get(2)).map(|m| {
            cut(without_secret_suffix(
                m.as_str().trim_end_matches(['.', ':']),
            ))
        })
    });
    Some(match named {
        Some(name) if f.reasons_mention("kms") => format!("cannot decrypt secret {name} (KMS)"),
        Some(name) if f.reasons_mention("invalid parameters") => {
            format!("SSM parameter {name} not found")
        }
        Some(name) if f.reasons_mention("get registry auth") => {
            format!("cannot fetch registry credentials {name}")
        }
        Some(name) => format!("cannot fetch secret {name}"),
        None if timed_out => "AWS endpoint unreachable fetching secrets".to_string(),
        None => return None,
    })
}

/// `prod/orders/db` from `prod/orders/db-AbCdEf`: Secrets Manager's six-character suffix.
fn without_secret_suffix(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, suffix))
            if suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            base
        }
        _ => name,
    }
}

/// Each secret exists and the role may read it; the subnet reaches Secrets Manager, SSM
/// and the registry.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| {
        vec![
            CheckRequest::SubnetEgress {
                reach: Reach::TaskServices,
                proves: true,
            },
            CheckRequest::Secrets {
                registry_only: false,
            },
        ]
    },
    key_changes: &[ChangedField::Secrets],
};
