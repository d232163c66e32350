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

/// The reason is about fetching something before the containers start (the ECS agent on
/// EC2 says "The task can't retrieve the secret ..." with no ResourceInitializationError
/// in front)...
const INITIALISATION: &[&str] = &[
    "resourceinitializationerror",
    "fetching secret data",
    "unable to pull secrets or registry auth",
    "retrieve the secret",
];
/// ...and what it fetched was a secret, a parameter or registry credentials...
const ABOUT_SECRETS: &[&str] = &[
    "secret",
    "ssm",
    "parameter",
    "kms",
    "registry auth",
    "ecr",
    "getauthorizationtoken",
    "env file",
    "environment file",
    "asm",
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

static SECRET_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"arn:aws[\w-]*:(?:secretsmanager|ssm|kms|s3):[^\s,'\x22)]+")
        .expect("valid arn regex")
});

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let initialisation = f.reasons_mention_any(INITIALISATION);
    if !(initialisation && f.reasons_mention_any(ABOUT_SECRETS)) || f.reasons_mention(ENI_FAILURE) {
        return None;
    }
    let role = f.execution_role_phrase();
    let named = named_secrets(f.stopped_reason);
    let missing =
        if f.reasons_mention(AGENT_SAYS_SECRET_MISSING) && SECRET_ARN.is_match(f.stopped_reason) {
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
    if let Some(denied) = not_authorized(f.stopped_reason) {
        let resource = denied
            .resource
            .map_or(named.clone(), |resource| format!("`{resource}`"));
        verdict = verdict.fix(format!(
            "Allow `{}` on {resource} in the policy of {role}.",
            denied.action
        ));
    } else if f.reasons_mention_any(DENIED) {
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
    if f.reasons_mention_any(REGISTRY) && !f.reasons_mention(SECRET) {
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
    if f.reasons_mention_any(TIMEOUT) {
        verdict = verdict.fix(format!(
            "The call to the AWS endpoint timed out: from a private subnet add a NAT gateway or VPC endpoints (`com.amazonaws.{r}.secretsmanager`, `com.amazonaws.{r}.ssm`, `com.amazonaws.{r}.ecr.api`, `com.amazonaws.{r}.kms`); in a public subnet on Fargate set `assignPublicIp: ENABLED`.",
            r = f.region()
        ));
    }
    if f.reasons_mention_any(ENVIRONMENT_FILES) {
        verdict = verdict.fix(format!(
            "Allow `s3:GetObject` (and `s3:GetBucketLocation`) on the environment files for {role}."
        ));
    }
    if verdict.fixes.is_empty() {
        verdict = verdict.general_fixes();
    }
    Some(verdict)
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
    let named = SECRET_NAME.captures(f.stopped_reason).and_then(|c| {
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
