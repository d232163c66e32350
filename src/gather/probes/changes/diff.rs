//! The comparison of two task definitions, field by field, in words for a reader.
//!
//! Pure: [`Compared`] holds a definition as the evidence keeps it (environment variable
//! names only) plus a fingerprint of each variable's value, so a changed value can be
//! reported by name without the value ever being kept or shown.

use crate::evidence::probes::{ChangeKind, ChangedField, DefinitionChange};
use crate::evidence::{ContainerDefinition, HealthCheck, PortMapping, TaskDefinition};
use crate::gather::ecs::task_definition_from_sdk;
use crate::text::grouped;
use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// A task definition as the diff reads it: the converted definition (names only) and a
/// fingerprint of each environment variable's value, per container.
#[derive(Clone, Default)]
pub struct Compared {
    pub definition: TaskDefinition,
    /// container → variable → fingerprint of its value (never the value).
    pub env_fingerprints: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Compared {
    /// From DescribeTaskDefinition's answer: values are fingerprinted here and dropped.
    pub fn from_sdk(sdk: &aws_sdk_ecs::types::TaskDefinition) -> Compared {
        let env_fingerprints = sdk
            .container_definitions()
            .iter()
            .map(|c| {
                let values = c
                    .environment()
                    .iter()
                    .filter_map(|kv| {
                        Some((
                            kv.name()?.to_string(),
                            fingerprint(kv.value().unwrap_or_default()),
                        ))
                    })
                    .collect();
                (c.name().unwrap_or_default().to_string(), values)
            })
            .collect();
        Compared {
            definition: task_definition_from_sdk(sdk),
            env_fingerprints,
        }
    }

    fn env(&self, container: &str, name: &str) -> Option<u64> {
        self.env_fingerprints.get(container)?.get(name).copied()
    }
}

/// A value's fingerprint: equal values give equal fingerprints. It lives only for the
/// comparison: never serialised, logged or shown.
pub fn fingerprint(value: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Every difference from `before` to `after`: task-level fields first, then each
/// container of `after` in order, then the containers `after` no longer has.
pub fn diff(before: &Compared, after: &Compared) -> Vec<DefinitionChange> {
    let (old, new) = (&before.definition, &after.definition);
    let mut changes = Vec::new();
    let mut change = |container: Option<&str>,
                      field: ChangedField,
                      kind: ChangeKind,
                      name: Option<&str>,
                      detail: String| {
        changes.push(DefinitionChange {
            container: container.map(str::to_string),
            field,
            kind,
            name: name.map(str::to_string),
            detail,
        });
    };
    let task_number = |v: &Option<String>| v.as_deref().and_then(|v| v.trim().parse::<f64>().ok());
    if task_number(&old.cpu) != task_number(&new.cpu) {
        change(
            None,
            ChangedField::Cpu,
            ChangeKind::Changed,
            None,
            format!(
                "cpu {} units",
                arrow(task_number(&old.cpu), task_number(&new.cpu))
            ),
        );
    }
    if task_number(&old.memory) != task_number(&new.memory) {
        change(
            None,
            ChangedField::Memory,
            ChangeKind::Changed,
            None,
            format!(
                "memory {} MiB",
                arrow(task_number(&old.memory), task_number(&new.memory))
            ),
        );
    }
    let platform = |d: &TaskDefinition| {
        [
            d.operating_system_family.as_deref(),
            d.cpu_architecture.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/")
    };
    if platform(old) != platform(new) {
        change(
            None,
            ChangedField::RuntimePlatform,
            ChangeKind::Changed,
            None,
            format!(
                "runtime platform {} → {}",
                or_unset(&platform(old)),
                or_unset(&platform(new))
            ),
        );
    }

    for container in &new.containers {
        let name = container.name.as_str();
        let Some(was) = old.containers.iter().find(|c| c.name == container.name) else {
            change(
                Some(name),
                ChangedField::Container,
                ChangeKind::Added,
                None,
                format!("container {name} was added"),
            );
            continue;
        };
        let here = Some(name);
        if was.image != container.image {
            change(
                here,
                ChangedField::Image,
                ChangeKind::Changed,
                None,
                format!(
                    "image {} → {}",
                    short_image(&was.image),
                    short_image(&container.image)
                ),
            );
        }
        let number = |v: Option<i32>| v.map(f64::from);
        if was.cpu != container.cpu {
            change(
                here,
                ChangedField::Cpu,
                ChangeKind::Changed,
                None,
                format!(
                    "{name} cpu {} units",
                    arrow(number(was.cpu), number(container.cpu))
                ),
            );
        }
        if was.memory != container.memory {
            change(
                here,
                ChangedField::Memory,
                ChangeKind::Changed,
                None,
                format!(
                    "{name} memory {} MiB",
                    arrow(number(was.memory), number(container.memory))
                ),
            );
        }
        if was.memory_reservation != container.memory_reservation {
            change(
                here,
                ChangedField::MemoryReservation,
                ChangeKind::Changed,
                None,
                format!(
                    "{name} memory reservation {} MiB",
                    arrow(
                        number(was.memory_reservation),
                        number(container.memory_reservation)
                    )
                ),
            );
        }
        if was.command != container.command {
            change(
                here,
                ChangedField::Command,
                ChangeKind::Changed,
                None,
                format!(
                    "command {} → {}",
                    words(&was.command),
                    words(&container.command)
                ),
            );
        }
        if was.entry_point != container.entry_point {
            change(
                here,
                ChangedField::EntryPoint,
                ChangeKind::Changed,
                None,
                format!(
                    "entry point {} → {}",
                    words(&was.entry_point),
                    words(&container.entry_point)
                ),
            );
        }
        if was.health_check != container.health_check {
            change(
                here,
                ChangedField::HealthCheck,
                ChangeKind::Changed,
                None,
                format!(
                    "health check {} → {}",
                    health(was.health_check.as_ref()),
                    health(container.health_check.as_ref())
                ),
            );
        }
        if was.port_mappings != container.port_mappings {
            change(
                here,
                ChangedField::PortMappings,
                ChangeKind::Changed,
                None,
                format!(
                    "port mappings {} → {}",
                    ports(&was.port_mappings),
                    ports(&container.port_mappings)
                ),
            );
        }
        environment_changes(before, after, was, container, &mut change);
        secret_changes(was, container, &mut change);
    }
    for was in &old.containers {
        if !new.containers.iter().any(|c| c.name == was.name) {
            change(
                Some(&was.name),
                ChangedField::Container,
                ChangeKind::Removed,
                None,
                format!("container {} was removed", was.name),
            );
        }
    }
    changes
}

type Record<'a> = dyn FnMut(Option<&str>, ChangedField, ChangeKind, Option<&str>, String) + 'a;

/// Variables added or removed, by name, and those whose value changed (compared by
/// fingerprint; the detail never holds a value).
fn environment_changes(
    before: &Compared,
    after: &Compared,
    was: &ContainerDefinition,
    now: &ContainerDefinition,
    change: &mut Record<'_>,
) {
    let here = Some(now.name.as_str());
    for name in &now.environment_names {
        if !was.environment_names.contains(name) {
            change(
                here,
                ChangedField::Environment,
                ChangeKind::Added,
                Some(name),
                format!("{name} was added"),
            );
        } else if before.env(&was.name, name) != after.env(&now.name, name) {
            change(
                here,
                ChangedField::Environment,
                ChangeKind::Changed,
                Some(name),
                format!("{name}'s value changed"),
            );
        }
    }
    for name in &was.environment_names {
        if !now.environment_names.contains(name) {
            change(
                here,
                ChangedField::Environment,
                ChangeKind::Removed,
                Some(name),
                format!("{name} was removed"),
            );
        }
    }
}

/// Secrets added or removed, by name, and those whose `valueFrom` now points elsewhere.
fn secret_changes(was: &ContainerDefinition, now: &ContainerDefinition, change: &mut Record<'_>) {
    let here = Some(now.name.as_str());
    for secret in &now.secrets {
        match was.secrets.iter().find(|s| s.name == secret.name) {
            None => change(
                here,
                ChangedField::Secrets,
                ChangeKind::Added,
                Some(&secret.name),
                format!("secret {} was added", secret.name),
            ),
            Some(old) if old.value_from != secret.value_from => change(
                here,
                ChangedField::Secrets,
                ChangeKind::Changed,
                Some(&secret.name),
                format!(
                    "secret {} now comes from {} (was {})",
                    secret.name,
                    source_name(&secret.value_from),
                    source_name(&old.value_from)
                ),
            ),
            Some(_) => {}
        }
    }
    for secret in &was.secrets {
        if !now.secrets.iter().any(|s| s.name == secret.name) {
            change(
                here,
                ChangedField::Secrets,
                ChangeKind::Removed,
                Some(&secret.name),
                format!("secret {} was removed", secret.name),
            );
        }
    }
}

/// `1,024 → 512`, with `unset` for a missing side.
fn arrow(old: Option<f64>, new: Option<f64>) -> String {
    let side = |v: Option<f64>| v.map_or_else(|| "unset".to_string(), grouped);
    format!("{} → {}", side(old), side(new))
}

fn or_unset(text: &str) -> &str {
    if text.is_empty() {
        "unset"
    } else {
        text
    }
}

/// The image without its registry host: `web:1.4.2` for
/// `123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2`.
fn short_image(image: &str) -> &str {
    match image.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            rest
        }
        _ => image,
    }
}

/// A command as one redacted line in backticks, or `unset`.
fn words(parts: &[String]) -> String {
    if parts.is_empty() {
        "unset".to_string()
    } else {
        format!("`{}`", crate::redact::redact(&parts.join(" ")))
    }
}

fn health(check: Option<&HealthCheck>) -> String {
    let Some(check) = check else {
        return "unset".to_string();
    };
    let mut text = format!("`{}`", crate::redact::redact(&check.shell_command()));
    let settings: Vec<String> = [
        check.interval.map(|s| format!("every {s} s")),
        check.timeout.map(|s| format!("timeout {s} s")),
        check.retries.map(|n| format!("{n} retries")),
        check.start_period.map(|s| format!("start period {s} s")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !settings.is_empty() {
        text.push_str(&format!(" ({})", settings.join(", ")));
    }
    text
}

fn ports(mappings: &[PortMapping]) -> String {
    if mappings.is_empty() {
        return "none".to_string();
    }
    mappings
        .iter()
        .map(|m| {
            let port = m
                .container_port
                .map_or_else(|| "?".to_string(), |p| p.to_string());
            let protocol = m.protocol.as_deref().unwrap_or("tcp").to_ascii_lowercase();
            match m.host_port {
                Some(host) if Some(host) != m.container_port && host != 0 => {
                    format!("{host}:{port}/{protocol}")
                }
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A secret's or parameter's name from its ARN (`prod/db` from
/// `arn:aws:secretsmanager:...:secret:prod/db-AbCdEf`, `/app/key` from an SSM ARN).
fn source_name(value_from: &str) -> &str {
    if let Some((_, name)) = value_from.split_once(":secret:") {
        return name;
    }
    if let Some((_, name)) = value_from.split_once(":parameter") {
        return name;
    }
    value_from
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::probes::CheckOutcome;
    use crate::evidence::SecretRef;
    use crate::gather::probes::changes::summary;

    /// A one-container definition `web:REVISION` with these variables (name, value).
    fn definition(revision: i32, image: &str, memory: &str, env: &[(&str, &str)]) -> Compared {
        let container = ContainerDefinition {
            name: "web".into(),
            image: image.into(),
            environment_names: env.iter().map(|(name, _)| name.to_string()).collect(),
            ..Default::default()
        };
        Compared {
            definition: TaskDefinition {
                family: "web".into(),
                revision,
                memory: Some(memory.into()),
                containers: vec![container],
                ..Default::default()
            },
            env_fingerprints: BTreeMap::from([(
                "web".to_string(),
                env.iter()
                    .map(|(name, value)| (name.to_string(), fingerprint(value)))
                    .collect(),
            )]),
        }
    }

    fn details(changes: &[DefinitionChange]) -> Vec<&str> {
        changes.iter().map(|c| c.detail.as_str()).collect()
    }

    #[test]
    fn the_image_memory_and_removed_variable_are_listed_in_words() {
        let before = definition(
            41,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.1",
            "1024",
            &[("DATABASE_URL", "postgres://db"), ("MODE", "prod")],
        );
        let after = definition(
            42,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
            "512",
            &[("MODE", "prod")],
        );
        let changes = diff(&before, &after);
        assert_eq!(
            details(&changes),
            [
                "memory 1,024 → 512 MiB",
                "image web:1.4.1 → web:1.4.2",
                "DATABASE_URL was removed"
            ]
        );
        let removed = &changes[2];
        assert_eq!(
            (removed.field, removed.kind, removed.name.as_deref()),
            (
                ChangedField::Environment,
                ChangeKind::Removed,
                Some("DATABASE_URL")
            )
        );
    }

    #[test]
    fn a_changed_value_is_named_without_either_value() {
        let before = definition(41, "web:1", "512", &[("API_KEY", "old-key-value")]);
        let after = definition(42, "web:1", "512", &[("API_KEY", "new-key-value")]);
        let changes = diff(&before, &after);
        assert_eq!(details(&changes), ["API_KEY's value changed"]);
        let shown = format!("{changes:?}");
        assert!(!shown.contains("key-value"), "{shown}");
        assert!(diff(&before, &before).is_empty());
    }

    #[test]
    fn secrets_and_containers_added_or_removed_are_listed() {
        let mut before = definition(41, "web:1", "512", &[]);
        before.definition.containers[0].secrets = vec![SecretRef {
            name: "DB_PASSWORD".into(),
            value_from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"
                .into(),
        }];
        let mut after = definition(42, "web:1", "512", &[]);
        after.definition.containers[0].secrets = vec![SecretRef {
            name: "DB_PASSWORD".into(),
            value_from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-v2-XyZ123"
                .into(),
        }];
        after.definition.containers.push(ContainerDefinition {
            name: "sidecar".into(),
            image: "envoy:1".into(),
            ..Default::default()
        });
        assert_eq!(
            details(&diff(&before, &after)),
            [
                "secret DB_PASSWORD now comes from prod/db-v2-XyZ123 (was prod/db-AbCdEf)",
                "container sidecar was added"
            ]
        );
        assert_eq!(
            details(&diff(&after, &before))[1],
            "container sidecar was removed"
        );
    }

    #[test]
    fn the_summary_counts_and_lists_the_first_changes() {
        let before = definition(
            41,
            "web:1",
            "1024",
            &[("A", "1"), ("B", "1"), ("C", "1"), ("D", "1")],
        );
        let after = definition(42, "web:2", "512", &[]);
        let check = summary(&diff(&before, &after), "web:41", "previous deployment");
        assert_eq!(check.outcome, CheckOutcome::Context);
        assert_eq!(
            check.detail,
            "6 changes since web:41 (previous deployment): memory 1,024 → 512 MiB; image web:1 → web:2; A was removed; B was removed; and 2 more"
        );
    }
}
