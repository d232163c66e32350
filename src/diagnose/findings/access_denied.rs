//! AWS access denied: an AWS call the application made was refused, with the IAM
//! action and resource when the message names them. [`not_authorized`] is also how the
//! rules read an "is not authorized to perform" in a stopped reason.

use super::{Described, FindingValues};
use crate::evidence::TaskDefinition;
use regex::Regex;
use std::sync::LazyLock;

static NOT_AUTHORIZED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?P<who>arn:aws[\w-]*:(?:sts|iam)::\d{12}:[^\s]+)? is not authorized to perform:? (?P<action>[\w-]+:[\w*]+)(?: on resource:? "?(?P<resource>[^\s,"]+))?"#,
    )
    .expect("valid not-authorized regex")
});
static ACCESS_DENIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bAccessDenied(?:Exception)?\b|\bUnauthorizedOperation\b")
        .expect("valid access-denied regex")
});

/// What an "is not authorized to perform" message names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAuthorized {
    /// The IAM action, e.g. `secretsmanager:GetSecretValue`.
    pub action: String,
    /// The resource ARN, when the message names one.
    pub resource: Option<String>,
}

/// The action (and resource) of the first "X is not authorized to perform: A on
/// resource: R" in `text`.
pub fn not_authorized(text: &str) -> Option<NotAuthorized> {
    let caps = NOT_AUTHORIZED.captures(text)?;
    Some(NotAuthorized {
        action: caps.name("action")?.as_str().to_string(),
        resource: caps.name("resource").map(|r| r.as_str().to_string()),
    })
}

/// "AWS denied `s3:GetObject` on `arn:aws:s3:::bucket/key`: allow it in the policy of
/// the task role `arn`".
pub fn aws_access_denied(line: &str, definition: Option<&TaskDefinition>) -> Option<Described> {
    let role = match definition.and_then(|d| d.task_role_arn.as_deref()) {
        Some(arn) => format!("the task role `{arn}`"),
        None if definition.is_some() => {
            "the task (its task definition has no task role)".to_string()
        }
        None => "the task role".to_string(),
    };
    if let Some(denied) = not_authorized(line) {
        let action = &denied.action;
        let resource = denied
            .resource
            .as_deref()
            .map(|r| format!(" on `{r}`"))
            .unwrap_or_default();
        let detail =
            format!("AWS denied `{action}`{resource}: allow `{action}` in the policy of {role}");
        return Some(Described {
            values: FindingValues::AwsAccessDenied {
                denied: Some(denied),
            },
            detail,
        });
    }
    ACCESS_DENIED.is_match(line).then(|| Described {
        values: FindingValues::AwsAccessDenied { denied: None },
        detail: format!("An AWS call was denied (AccessDenied): check the policy of {role}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_action_and_role() {
        let definition = TaskDefinition {
            task_role_arn: Some("arn:aws:iam::123456789012:role/orders-task".into()),
            ..Default::default()
        };
        let line = "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: User: arn:aws:sts::123456789012:assumed-role/orders-task/abc is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::orders-config/app.yaml";
        let detail = aws_access_denied(line, Some(&definition)).unwrap().detail;
        assert!(detail.contains("`s3:GetObject`"), "{detail}");
        assert!(detail.contains("arn:aws:iam::123456789012:role/orders-task"));
        assert!(detail.contains("arn:aws:s3:::orders-config/app.yaml"));
        assert!(aws_access_denied("all good", None).is_none());
    }

    #[test]
    fn not_authorized_reads_action_and_resource() {
        let reason = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/ecsTaskExecutionRole/0f3c is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/orders/db-AbCdEf because no identity-based policy allows it";
        assert_eq!(
            not_authorized(reason),
            Some(NotAuthorized {
                action: "secretsmanager:GetSecretValue".into(),
                resource: Some(
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/orders/db-AbCdEf"
                        .into()
                ),
            })
        );
        assert_eq!(
            not_authorized("User: role is not authorized to perform: ssm:GetParameters"),
            Some(NotAuthorized {
                action: "ssm:GetParameters".into(),
                resource: None,
            })
        );
        assert_eq!(not_authorized("AccessDenied"), None);
    }
}
