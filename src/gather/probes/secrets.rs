//! Do the task's secrets and parameters exist, and may its execution role read them?
//!
//! For each `secrets[].valueFrom` (and each `repositoryCredentials` secret) of the task
//! definition: Secrets Manager's `DescribeSecret` (missing, scheduled for deletion, or
//! there) or Parameter Store's `DescribeParameters` filtered on the exact name, in the
//! region the reference names; and, at the same time, IAM's policy simulation of
//! `secretsmanager:GetSecretValue` / `ssm:GetParameters` for the execution role. Only
//! metadata is read: never `GetSecretValue` nor `GetParameter(s)`, so no value can reach
//! a check. When a secret is encrypted with a customer KMS key, a second step simulates
//! `kms:Decrypt` on that key.

use super::permissions::{permission_check, simulate};
use super::{unchecked, ProbeClients, ProbeInput};
use crate::arn::Arn;
use crate::evidence::probes::{Check, CheckId, CheckOutcome, CheckRequest};
use crate::evidence::{Evidence, ProbeResults, TaskDefinition};
use crate::gather::failure::{aws_failure, FailureKind};
use chrono::{DateTime, Utc};

/// The most references one diagnosis checks (each is a call).
const MOST_REFERENCES: usize = 10;

/// Where a reference points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    SecretsManager,
    ParameterStore,
}

/// One `valueFrom` (or registry-credentials secret), taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    store: Store,
    /// What the describe call takes: the secret's ARN without the `:json-key:stage:id`
    /// tail (or its name), the parameter's name.
    id: String,
    /// For sentences: the secret's name without its random suffix, the parameter's name.
    name: String,
    region: String,
    partition: String,
    account: String,
    /// The resource the policy simulation asks about.
    arn: String,
    /// The text as the task definition has it, to find it in the stopped reason.
    value_from: String,
}

/// Whether this probe has anything to check for this diagnosis.
pub fn applies(input: ProbeInput<'_>) -> bool {
    let Some(definition) = &input.evidence.task_definition else {
        return false;
    };
    let credentials = definition
        .containers
        .iter()
        .any(|c| c.repository_credentials.is_some());
    let secrets = definition.containers.iter().any(|c| !c.secrets.is_empty());
    match input.request {
        CheckRequest::Secrets {
            registry_only: true,
        } => credentials,
        CheckRequest::Secrets {
            registry_only: false,
        } => credentials || secrets,
        _ => false,
    }
}

/// Run the probe's read-only calls.
pub async fn run(clients: &ProbeClients, input: ProbeInput<'_>) -> ProbeResults {
    let Some(definition) = &input.evidence.task_definition else {
        return ProbeResults::default();
    };
    let task_region = clients
        .region
        .clone()
        .or_else(|| input.evidence.task.region().map(str::to_string))
        .unwrap_or_default();
    let registry_only = matches!(
        input.request,
        CheckRequest::Secrets {
            registry_only: true
        }
    );
    let references = to_check(input.evidence, definition, &task_region, registry_only);
    if references.is_empty() {
        return ProbeResults::default();
    }
    let role = definition.execution_role_arn.as_deref();

    // One round trip: every describe call and the role's simulations at once.
    let describes = futures::future::join_all(references.iter().map(|r| describe(clients, r)));
    let (described, permissions) = tokio::join!(describes, may_read(clients, role, &references));

    let mut results = ProbeResults::default();
    let mut keys = Vec::new();
    for (reference, found) in references.iter().zip(described) {
        match found {
            Ok(found) => {
                results.checks.push(found.check);
                if let Some(key) = found.customer_key {
                    keys.push((reference, key));
                }
            }
            Err(sentence) => results.unchecked.push(sentence),
        }
    }
    for permission in permissions {
        match permission {
            Ok(check) => results.checks.push(check),
            Err(sentence) => results.unchecked.push(sentence),
        }
    }
    // The one extra round trip: which KMS key to ask about is known only once
    // DescribeSecret has answered.
    if let (Some(role), false) = (role, keys.is_empty()) {
        match may_decrypt(clients, role, &keys).await {
            Ok(check) => results.checks.push(check),
            Err(sentence) => results.unchecked.push(sentence),
        }
    }
    results
}

/// The references to check: the ones the stopped reason names, else all of them; at
/// most [`MOST_REFERENCES`], each once.
fn to_check(
    evidence: &Evidence,
    definition: &TaskDefinition,
    task_region: &str,
    registry_only: bool,
) -> Vec<Reference> {
    let partition = Arn::parse(&evidence.task.arn)
        .or_else(|| Arn::parse(&definition.arn))
        .map(|a| a.partition().to_string())
        .unwrap_or_else(|| "aws".to_string());
    let account = [evidence.task.arn.as_str(), definition.arn.as_str()]
        .iter()
        .find_map(|text| Arn::parse(text).and_then(|a| a.account().map(str::to_string)))
        .unwrap_or_default();
    let mut all: Vec<Reference> = Vec::new();
    for container in &definition.containers {
        let secrets = container
            .secrets
            .iter()
            .filter(|_| !registry_only)
            .map(|s| (s.value_from.as_str(), false));
        let credentials = container
            .repository_credentials
            .iter()
            .map(|c| (c.as_str(), true));
        for (value_from, is_credentials) in secrets.chain(credentials) {
            let Some(reference) = parse(
                value_from,
                is_credentials,
                task_region,
                &partition,
                &account,
            ) else {
                continue;
            };
            if !all
                .iter()
                .any(|r| r.id == reference.id && r.region == reference.region)
            {
                all.push(reference);
            }
        }
    }
    let reasons: Vec<&str> = evidence
        .task
        .stopped_reason
        .iter()
        .chain(
            evidence
                .task
                .containers
                .iter()
                .filter_map(|c| c.reason.as_ref()),
        )
        .map(String::as_str)
        .collect();
    let named: Vec<Reference> = all
        .iter()
        .filter(|r| reasons.iter().any(|text| names(text, r)))
        .cloned()
        .collect();
    let mut chosen = if named.is_empty() { all } else { named };
    chosen.truncate(MOST_REFERENCES);
    chosen
}

/// Whether `text` names the reference: its `valueFrom`, its ARN, or its name standing
/// alone (not inside a longer name).
fn names(text: &str, reference: &Reference) -> bool {
    [&reference.value_from, &reference.id, &reference.name]
        .iter()
        .any(|needle| stands_alone(text, needle))
}

/// Whether `needle` occurs in `text` with no name character right before or after it.
fn stands_alone(text: &str, needle: &str) -> bool {
    if needle.len() < 3 {
        return false;
    }
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || "/_.-".contains(c);
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

/// Take a `valueFrom` apart. A bare name is a parameter for `secrets` and a Secrets
/// Manager secret for `repositoryCredentials`, in the task's region.
fn parse(
    value_from: &str,
    is_credentials: bool,
    task_region: &str,
    partition: &str,
    account: &str,
) -> Option<Reference> {
    let value_from = value_from.trim();
    if value_from.is_empty() {
        return None;
    }
    if let Some(arn) = Arn::parse(value_from) {
        let region = arn.region().unwrap_or(task_region).to_string();
        let account = arn.account().unwrap_or(account).to_string();
        let partition = arn.partition().to_string();
        return match arn.service() {
            "secretsmanager" => {
                // secret:NAME-6RANDOM, possibly followed by :json-key:version-stage:version-id
                let full_name = arn.resource().strip_prefix("secret:")?.split(':').next()?;
                let id =
                    format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{full_name}");
                Some(Reference {
                    store: Store::SecretsManager,
                    name: without_random_suffix(full_name).to_string(),
                    arn: id.clone(),
                    id,
                    region,
                    partition,
                    account,
                    value_from: value_from.to_string(),
                })
            }
            "ssm" => {
                let path = arn.resource().strip_prefix("parameter")?;
                // parameter/prod/db is the parameter /prod/db; parameter/db is db.
                let bare = path.strip_prefix('/').unwrap_or(path);
                let name = if bare.contains('/') {
                    format!("/{bare}")
                } else {
                    bare.to_string()
                };
                Some(Reference {
                    store: Store::ParameterStore,
                    id: name.clone(),
                    name,
                    arn: value_from.to_string(),
                    region,
                    partition,
                    account,
                    value_from: value_from.to_string(),
                })
            }
            _ => None,
        };
    }
    let (store, arn) = if is_credentials {
        (
            Store::SecretsManager,
            format!(
                "arn:{partition}:secretsmanager:{task_region}:{account}:secret:{value_from}-??????"
            ),
        )
    } else {
        (
            Store::ParameterStore,
            format!(
                "arn:{partition}:ssm:{task_region}:{account}:parameter/{}",
                value_from.trim_start_matches('/')
            ),
        )
    };
    Some(Reference {
        store,
        id: value_from.to_string(),
        name: value_from.to_string(),
        region: task_region.to_string(),
        partition: partition.to_string(),
        account: account.to_string(),
        arn,
        value_from: value_from.to_string(),
    })
}

/// `prod/db` from `prod/db-AbCdEf`: Secrets Manager adds a dash and six characters.
fn without_random_suffix(full_name: &str) -> &str {
    match full_name.rsplit_once('-') {
        Some((name, suffix))
            if !name.is_empty()
                && suffix.len() == 6
                && suffix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            name
        }
        _ => full_name,
    }
}

/// What a describe call established.
struct Described {
    check: Check,
    /// A customer-managed KMS key the secret is encrypted with.
    customer_key: Option<String>,
}

/// `DescribeSecret` or `DescribeParameters` for one reference; `Err` is the unchecked
/// sentence.
async fn describe(clients: &ProbeClients, reference: &Reference) -> Result<Described, String> {
    // With no region known at all, the clients' own (default) settings decide.
    let clients = if reference.region.is_empty() {
        std::borrow::Cow::Borrowed(clients)
    } else {
        clients.in_region(&reference.region)
    };
    match reference.store {
        Store::SecretsManager => describe_secret(&clients, reference).await,
        Store::ParameterStore => describe_parameter(&clients, reference).await,
    }
}

async fn describe_secret(
    clients: &ProbeClients,
    reference: &Reference,
) -> Result<Described, String> {
    let region = &reference.region;
    let answer = clients
        .secrets_manager
        .describe_secret()
        .secret_id(&reference.id)
        .send()
        .await;
    let secret = match answer {
        Ok(secret) => secret,
        Err(err) => {
            let failure = aws_failure(&err);
            if failure.kind == FailureKind::NotFound {
                return Ok(Described {
                    check: Check::new(
                        CheckId::Secret,
                        CheckOutcome::Confirms,
                        format!("secret {} does not exist in {region}", reference.name),
                    ),
                    customer_key: None,
                });
            }
            return Err(unchecked(
                &format!("secret {} in {region}", reference.name),
                "secretsmanager:DescribeSecret",
                &failure,
            ));
        }
    };
    let name = secret.name().unwrap_or(&reference.name);
    let check = if let Some(deleted) = secret.deleted_date() {
        Check::new(
            CheckId::Secret,
            CheckOutcome::Confirms,
            format!(
                "secret {name} is scheduled for deletion (deleted {})",
                minute(deleted)
            ),
        )
    } else if let Some(changed) = secret.last_changed_date() {
        Check::new(
            CheckId::Secret,
            CheckOutcome::RulesOut,
            format!("secret {name} exists (last changed {})", minute(changed)),
        )
    } else if let Some(created) = secret.created_date() {
        Check::new(
            CheckId::Secret,
            CheckOutcome::RulesOut,
            format!("secret {name} exists (created {})", minute(created)),
        )
    } else {
        Check::new(
            CheckId::Secret,
            CheckOutcome::RulesOut,
            format!("secret {name} exists in {region}"),
        )
    };
    let customer_key = secret
        .kms_key_id()
        .filter(|key| !key.starts_with("alias/aws/"))
        .map(|key| key_arn(key, reference));
    Ok(Described {
        check,
        customer_key,
    })
}

async fn describe_parameter(
    clients: &ProbeClients,
    reference: &Reference,
) -> Result<Described, String> {
    use aws_sdk_ssm::types::ParameterStringFilter;
    let region = &reference.region;
    let what = format!("parameter {} in {region}", reference.name);
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .values(&reference.name)
        .build()
        .map_err(|err| format!("Could not check {what}: {err}"))?;
    let answer = clients
        .ssm
        .describe_parameters()
        .parameter_filters(filter)
        .send()
        .await
        .map_err(|err| unchecked(&what, "ssm:DescribeParameters", &aws_failure(&err)))?;
    let found = answer
        .parameters()
        .iter()
        .find(|p| p.name() == Some(reference.name.as_str()));
    let check = match found {
        None => Check::new(
            CheckId::Secret,
            CheckOutcome::Confirms,
            format!("parameter {} does not exist in {region}", reference.name),
        ),
        Some(parameter) => {
            let mut facts = Vec::new();
            if let Some(kind) = parameter.r#type() {
                facts.push(kind.as_str().to_string());
            }
            if let Some(changed) = parameter.last_modified_date() {
                facts.push(format!("last changed {}", minute(changed)));
            }
            let facts = if facts.is_empty() {
                String::new()
            } else {
                format!(" ({})", facts.join(", "))
            };
            Check::new(
                CheckId::Secret,
                CheckOutcome::RulesOut,
                format!("parameter {} exists{facts}", reference.name),
            )
        }
    };
    // Parameters can name a customer key too; a SecureString's default is alias/aws/ssm.
    let customer_key = found
        .and_then(|p| p.key_id())
        .filter(|key| !key.starts_with("alias/aws/"))
        .map(|key| key_arn(key, reference));
    Ok(Described {
        check,
        customer_key,
    })
}

/// The role's simulations: `secretsmanager:GetSecretValue` on the secrets and
/// `ssm:GetParameters` on the parameters, concurrently. No execution role confirms.
async fn may_read(
    clients: &ProbeClients,
    role: Option<&str>,
    references: &[Reference],
) -> Vec<Result<Check, String>> {
    let Some(role) = role else {
        return vec![Ok(Check::new(
            CheckId::SecretPermission,
            CheckOutcome::Confirms,
            "the task definition has no execution role, which ECS needs to read secrets and registry credentials",
        ))];
    };
    let secrets: Vec<&Reference> = references
        .iter()
        .filter(|r| r.store == Store::SecretsManager)
        .collect();
    let parameters: Vec<&Reference> = references
        .iter()
        .filter(|r| r.store == Store::ParameterStore)
        .collect();
    let (secrets, parameters) = tokio::join!(
        ask(
            clients,
            role,
            &secrets,
            "secretsmanager:GetSecretValue",
            "secret"
        ),
        ask(clients, role, &parameters, "ssm:GetParameters", "parameter"),
    );
    secrets.into_iter().chain(parameters).collect()
}

/// One simulation of `action` on `references` (none when there are none).
async fn ask(
    clients: &ProbeClients,
    role: &str,
    references: &[&Reference],
    action: &str,
    kind: &str,
) -> Option<Result<Check, String>> {
    if references.is_empty() {
        return None;
    }
    let resources: Vec<String> = references.iter().map(|r| r.arn.clone()).collect();
    let what = format!("read {kind} {}", listed(references));
    Some(
        simulate(&clients.iam, role, &[action], &resources)
            .await
            .map(|decisions| permission_check(CheckId::SecretPermission, role, &what, &decisions)),
    )
}

/// `kms:Decrypt` on the customer keys the secrets named.
async fn may_decrypt(
    clients: &ProbeClients,
    role: &str,
    keys: &[(&Reference, String)],
) -> Result<Check, String> {
    let mut resources: Vec<String> = Vec::new();
    for (_, key) in keys {
        if !resources.contains(key) {
            resources.push(key.clone());
        }
    }
    let references: Vec<&Reference> = keys.iter().map(|(r, _)| *r).collect();
    let what = format!("decrypt {} with its KMS key", listed_with_kind(&references));
    let decisions = simulate(&clients.iam, role, &["kms:Decrypt"], &resources).await?;
    Ok(permission_check(
        CheckId::SecretPermission,
        role,
        &what,
        &decisions,
    ))
}

/// `prod/db` or `prod/db, prod/api`.
fn listed(references: &[&Reference]) -> String {
    references
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `secret prod/db`, `parameter /prod/db`, or both kinds listed.
fn listed_with_kind(references: &[&Reference]) -> String {
    references
        .iter()
        .map(|r| match r.store {
            Store::SecretsManager => format!("secret {}", r.name),
            Store::ParameterStore => format!("parameter {}", r.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A KMS key as the simulation wants it: its ARN (a key id or alias of the reference's
/// account and region made into one).
fn key_arn(key: &str, reference: &Reference) -> String {
    if key.starts_with("arn:") {
        return key.to_string();
    }
    let Reference {
        partition,
        region,
        account,
        ..
    } = reference;
    if key.starts_with("alias/") {
        format!("arn:{partition}:kms:{region}:{account}:{key}")
    } else {
        format!("arn:{partition}:kms:{region}:{account}:key/{key}")
    }
}

/// `2026-11-20 14:02 UTC`, the way checks write a time.
pub(super) fn minute(at: &aws_smithy_types::DateTime) -> String {
    DateTime::<Utc>::from_timestamp(at.secs(), 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value_from: &str) -> Reference {
        parse(value_from, false, "us-east-1", "aws", "123456789012").expect("a reference")
    }

    #[test]
    fn a_secret_arn_loses_its_json_key_tail_and_its_random_suffix_in_sentences() {
        let r = parsed(
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf:password:AWSCURRENT:",
        );
        assert_eq!(r.store, Store::SecretsManager);
        assert_eq!(
            r.id,
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf"
        );
        assert_eq!(r.name, "prod/db");
        assert_eq!(r.region, "eu-west-1");
    }

    #[test]
    fn parameter_arns_and_bare_names_become_the_parameters_name_and_arn() {
        let hierarchical = parsed("arn:aws:ssm:us-west-2:123456789012:parameter/prod/db");
        assert_eq!(hierarchical.name, "/prod/db");
        assert_eq!(hierarchical.region, "us-west-2");
        let flat = parsed("arn:aws:ssm:us-east-1:123456789012:parameter/db");
        assert_eq!(flat.name, "db");
        let bare = parsed("/prod/db");
        assert_eq!(bare.store, Store::ParameterStore);
        assert_eq!(
            bare.arn,
            "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db"
        );
        assert_eq!(bare.region, "us-east-1");
    }

    #[test]
    fn a_name_counts_as_named_only_standing_alone() {
        let r = parsed("/prod/db");
        assert!(names("invalid parameters: /prod/db", &r));
        assert!(!names("invalid parameters: /prod/db-replica", &r));
    }

    #[test]
    fn key_ids_and_aliases_become_arns_of_the_secrets_account() {
        let r = parsed("arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf");
        assert_eq!(
            key_arn("1234abcd-12ab-34cd-56ef-1234567890ab", &r),
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        );
        assert_eq!(
            key_arn("alias/orders", &r),
            "arn:aws:kms:eu-west-1:111122223333:alias/orders"
        );
    }

    #[test]
    fn at_most_ten_references_are_checked_each_once() {
        use crate::evidence::{ContainerDefinition, SecretRef, Task};
        let chosen = |numbers: Vec<usize>| {
            let definition = TaskDefinition {
                arn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1".into(),
                containers: vec![ContainerDefinition {
                    secrets: numbers
                        .iter()
                        .map(|n| SecretRef {
                            name: format!("VAR_{n}"),
                            value_from: format!("/prod/p{n}"),
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let evidence = Evidence {
                task: Task {
                    stopped_reason: Some("unable to pull secrets or registry auth".into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            to_check(&evidence, &definition, "us-east-1", false)
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(chosen(vec![1, 2, 1]), vec!["/prod/p1", "/prod/p2"]);
        let many = chosen((0..12).collect());
        assert_eq!(many.len(), MOST_REFERENCES);
        assert_eq!(many[9], "/prod/p9");
    }
}
