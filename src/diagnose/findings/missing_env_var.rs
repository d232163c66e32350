//! Missing environment variables: the variable a log line says is missing, and
//! whether (and where) the task definition defines it.

use super::{Described, FindingValues};
use crate::evidence::{ContainerDefinition, TaskDefinition};
use regex::Regex;
use std::sync::LazyLock;

/// An environment variable name as people write them: upper case with digits and `_`.
const VARIABLE_NAME: &str = r"[A-Z][A-Z0-9_]*[A-Z0-9]";

/// Patterns that capture a missing variable's name in group 1, most specific first.
static MISSING_VAR_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    let var = VARIABLE_NAME;
    [
        // Python: os.environ['X'] / KeyError: 'X'
        format!(r#"os\.environ\[['"]({var})['"]\]"#),
        format!(r"KeyError: '({var})'"),
        // Go envconfig
        format!(r"required key ({var}) missing value"),
        // Spring placeholders (any property name)
        r"Could not resolve placeholder '([A-Za-z0-9_.\-]+)'".to_string(),
        // "Missing required environment variable X", "missing env var: X"
        format!(
            r#"(?i:missing(?: required)? env(?:ironment)?(?: var(?:iable)?)?s?:?)\s*['"`]?({var})"#
        ),
        // "environment variable X is not set / missing / required"
        format!(
            r#"(?i:env(?:ironment)? var(?:iable)?)\s+['"`]?({var})['"`]?\s+(?:is\s+)?(?:not set|not defined|missing|required|undefined|empty)"#
        ),
        // Node: process.env.X with undefined / missing
        format!(r"process\.env\.({var})\b.*(?i:undefined|missing|required|not set|must)"),
        // Rust env::var: "X: environment variable not found" / "failed to read X: ..."
        format!(r"\b({var})\b[^A-Z]*environment variable not found"),
        format!(r"environment variable not found[^A-Z]*\b({var})\b"),
        // "X is not defined", "X is not set", "X must be set", "X is required", "X is missing"
        format!(
            r#"['"`]?\b({var})['"`]?\s+(?:env(?:ironment)? var(?:iable)?\s+)?(?:is not defined|is not set|not set|must be set|must be provided|is required|is missing|is undefined)"#
        ),
        // "missing X env"
        format!(r"(?i:missing)\s+['`]?({var})['`]?\s+(?i:env)"),
    ]
    .iter()
    .map(|p| Regex::new(p).expect("valid missing-variable pattern"))
    .collect()
});

/// Names that match the patterns but are not variables.
const NOT_VARIABLES: &[&str] = &[
    "ERROR", "FATAL", "WARN", "WARNING", "INFO", "DEBUG", "TRACE",
];

/// The name of a missing environment variable mentioned in `line`, if any.
pub fn missing_env_var(line: &str) -> Option<String> {
    MISSING_VAR_PATTERNS
        .iter()
        .filter_map(|p| p.captures(line))
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str())
        .find(|name| !NOT_VARIABLES.contains(name))
        .map(str::to_string)
}

/// Spring's relaxed binding: `spring.datasource.url` is set by `SPRING_DATASOURCE_URL`.
pub fn env_form(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '-')
        .map(|c| {
            if c == '.' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// Whether the task definition defines a variable the application says is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableDefinition {
    /// There was no task definition to check.
    Unchecked,
    /// `task_definition` (`family:revision`) defines it for `container`, `place` says how
    /// ("as an environment variable", "as a secret from `arn`").
    Defined {
        task_definition: String,
        container: String,
        place: String,
    },
    /// `task_definition` does not define it; the environment files may.
    NotDefined {
        task_definition: String,
        environment_files: Vec<String>,
    },
}

impl VariableDefinition {
    /// Look `name` up in `container`'s definition, or in every container's when the
    /// logs' container is not in the task definition.
    pub fn find(
        name: &str,
        definition: Option<&TaskDefinition>,
        container: Option<&ContainerDefinition>,
    ) -> VariableDefinition {
        let Some(definition) = definition else {
            return VariableDefinition::Unchecked;
        };
        let task_definition = format!("{}:{}", definition.family, definition.revision);
        let containers: Vec<&ContainerDefinition> = match container {
            Some(c) => vec![c],
            None => definition.containers.iter().collect(),
        };
        for c in &containers {
            if let Some(place) = where_defined(name, c) {
                return VariableDefinition::Defined {
                    task_definition,
                    container: c.name.clone(),
                    place,
                };
            }
        }
        VariableDefinition::NotDefined {
            task_definition,
            environment_files: containers
                .iter()
                .flat_map(|c| c.environment_files.iter().cloned())
                .collect(),
        }
    }
}

/// Where `container` defines `name`, in words, or `None`.
fn where_defined(name: &str, container: &ContainerDefinition) -> Option<String> {
    let env = env_form(name);
    let matches = |candidate: &str| candidate == name || candidate == env;
    if container.environment_names.iter().any(|n| matches(n)) {
        return Some("as an environment variable".to_string());
    }
    container
        .secrets
        .iter()
        .find(|s| matches(&s.name))
        .map(|s| format!("as a secret from `{}`", s.value_from))
}

/// "`X` is not set (...)", saying whether and where the task definition defines it.
pub fn describe_missing_var(name: &str, definition: &VariableDefinition) -> String {
    match definition {
        VariableDefinition::Unchecked => {
            format!("`{name}` is missing (the task definition could not be read to check it)")
        }
        VariableDefinition::Defined {
            task_definition,
            container,
            place,
        } => format!(
            "`{name}` is missing or empty, although the task definition `{task_definition}` defines it for `{container}` {place}: check its value"
        ),
        VariableDefinition::NotDefined {
            task_definition,
            environment_files,
        } if environment_files.is_empty() => format!(
            "`{name}` is not set: the task definition `{task_definition}` does not define it"
        ),
        VariableDefinition::NotDefined {
            task_definition,
            environment_files,
        } => format!(
            "`{name}` is not set: the task definition `{task_definition}` does not define it directly (check the environment file {})",
            environment_files.join(", ")
        ),
    }
}

/// The finding for a missing variable `name`.
pub fn missing_variable_finding(
    name: String,
    definition: Option<&TaskDefinition>,
    container: Option<&ContainerDefinition>,
) -> Described {
    let defined = VariableDefinition::find(&name, definition, container);
    Described {
        detail: describe_missing_var(&name, &defined),
        values: FindingValues::MissingEnvVar {
            name,
            definition: defined,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::SecretRef;

    #[test]
    fn missing_variables_in_many_languages() {
        let cases = [
            ("KeyError: 'DATABASE_URL'", "DATABASE_URL"),
            ("    url = os.environ['DATABASE_URL']", "DATABASE_URL"),
            ("ReferenceError: API_BASE_URL is not defined", "API_BASE_URL"),
            ("Error: Missing required environment variable REDIS_URL", "REDIS_URL"),
            (
                "throw new Error('process.env.JWT_SECRET is undefined')",
                "JWT_SECRET",
            ),
            (
                "2024/05/01 main.go:22: required key PORT missing value",
                "PORT",
            ),
            (
                "java.lang.IllegalArgumentException: Could not resolve placeholder 'spring.datasource.url' in value \"${spring.datasource.url}\"",
                "spring.datasource.url",
            ),
            (
                "Error: failed to read DATABASE_URL: environment variable not found",
                "DATABASE_URL",
            ),
            (
                "thread 'main' panicked at src/main.rs:4:40: STRIPE_KEY: environment variable not found",
                "STRIPE_KEY",
            ),
            ("FATAL: SECRET_KEY_BASE is not set", "SECRET_KEY_BASE"),
            ("config error: QUEUE_URL must be set", "QUEUE_URL"),
            ("ValueError: S3_BUCKET is required", "S3_BUCKET"),
            ("missing SENTRY_DSN env", "SENTRY_DSN"),
            ("environment variable \"KAFKA_BROKERS\" is not set", "KAFKA_BROKERS"),
        ];
        for (line, name) in cases {
            assert_eq!(missing_env_var(line).as_deref(), Some(name), "{line}");
        }
    }

    #[test]
    fn ordinary_lines_name_no_variable() {
        for line in [
            "ERROR is required here",
            "Field is required",
            "Server started on port 8080",
            "KeyError: 'user_id'",
        ] {
            assert_eq!(missing_env_var(line), None, "{line}");
        }
    }

    #[test]
    fn defined_variables_are_reported_as_defined() {
        let definition = TaskDefinition {
            family: "api".into(),
            revision: 7,
            containers: vec![ContainerDefinition {
                name: "app".into(),
                environment_names: vec!["SPRING_DATASOURCE_URL".into()],
                secrets: vec![SecretRef {
                    name: "DATABASE_URL".into(),
                    value_from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
                        .into(),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let c = definition.containers.first();
        let detail = |name| missing_variable_finding(name, Some(&definition), c).detail;
        let found = detail("DATABASE_URL".into());
        assert!(
            found.contains("defines it") && found.contains("secret"),
            "{found}"
        );
        let found = detail("spring.datasource.url".into());
        assert!(found.contains("as an environment variable"), "{found}");
        let found = detail("REDIS_URL".into());
        assert!(found.contains("does not define it"), "{found}");
        assert!(matches!(
            VariableDefinition::find("REDIS_URL", Some(&definition), c),
            VariableDefinition::NotDefined { .. }
        ));
        assert_eq!(
            VariableDefinition::find("REDIS_URL", None, None),
            VariableDefinition::Unchecked
        );
    }
}
