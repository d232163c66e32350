//! The write calls of an action, and only they: STS AssumeRole of the write role for
//! this one action (session name `slack-<user id>`, so CloudTrail names the person),
//! then, with those credentials, DescribeServices (is the service still as offered?),
//! DescribeTaskDefinition (does the rollback's revision still exist?), UpdateService,
//! and DescribeServices again while the deployment is watched. The read role of the rest
//! of the bot is never used here, and this module is never used for reading a task.

use super::{ActionKind, Offer};
use crate::evidence::Deployment;
use crate::gather::call_metrics::CountCalls;
use crate::gather::failure::aws_failure;
use aws_credential_types::Credentials;
use aws_sdk_ecs::Client;

/// How long the assumed credentials last: the watch and the settle time fit in it.
const SESSION_SECONDS: i32 = 3600;

/// An ECS client with the write role's credentials for one action.
pub struct WriteSession {
    pub client: Client,
    /// The assumed role's session ARN (`…:assumed-role/ecs-why-operate/slack-U0ALICE`).
    pub assumed: String,
}

/// The service as DescribeServices shows it now.
pub struct ServiceNow {
    /// The task definition (ARN) it runs.
    pub task_definition: String,
    pub deployments: Vec<Deployment>,
}

/// Assume `role_arn` for `user`'s action in `region`; the error says what STS answered.
pub async fn assume(role_arn: &str, user: &str, region: &str) -> Result<WriteSession, String> {
    let base = crate::aws::loader()
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    let sts = aws_sdk_sts::Client::new(&base);
    let session_name = session_name(user);
    let output = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(&session_name)
        .duration_seconds(SESSION_SECONDS)
        .send()
        .await
        .map_err(|e| {
            format!(
                "could not assume the write role {role_arn}: {}; check its trust policy allows the bot's role with session names slack-*",
                aws_failure(&e).message
            )
        })?;
    let (Some(credentials), assumed) = (
        output.credentials(),
        output
            .assumed_role_user()
            .map(|u| u.arn().to_string())
            .unwrap_or_default(),
    ) else {
        return Err(format!("STS gave no credentials for {role_arn}; try again"));
    };
    let credentials = Credentials::new(
        credentials.access_key_id(),
        credentials.secret_access_key(),
        Some(credentials.session_token().to_string()),
        std::time::SystemTime::try_from(*credentials.expiration()).ok(),
        "ecs-why-operate",
    );
    let config = aws_sdk_ecs::config::Builder::from(&base)
        .credentials_provider(credentials)
        .interceptor(CountCalls)
        .build();
    Ok(WriteSession {
        client: Client::from_conf(config),
        assumed,
    })
}

/// `slack-U0ALICE`: what CloudTrail shows as the caller's session.
pub fn session_name(user: &str) -> String {
    let safe: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .take(58)
        .collect();
    format!("slack-{safe}")
}

/// DescribeServices of the offer's service.
pub async fn service_now(session: &WriteSession, offer: &Offer) -> Result<ServiceNow, String> {
    let output = session
        .client
        .describe_services()
        .cluster(&offer.cluster)
        .services(&offer.service)
        .send()
        .await
        .map_err(|e| {
            format!(
                "ecs:DescribeServices of {} failed: {}",
                offer.service,
                aws_failure(&e).message
            )
        })?;
    let Some(service) = output.services().first() else {
        return Err(format!(
            "service {} was not found in cluster {}",
            offer.service, offer.cluster
        ));
    };
    let facts = crate::gather::ecs::service_facts_from_sdk(service);
    Ok(ServiceNow {
        task_definition: service.task_definition().unwrap_or_default().to_string(),
        deployments: facts.deployments,
    })
}

/// Whether the rollback's revision can still be deployed (exists and is ACTIVE).
pub async fn target_deployable(session: &WriteSession, to: &str) -> Result<(), String> {
    let output = session
        .client
        .describe_task_definition()
        .task_definition(to)
        .send()
        .await
        .map_err(|e| {
            format!(
                "{} cannot be read ({}); it may have been deleted",
                crate::arn::task_definition_name(to),
                aws_failure(&e).message
            )
        })?;
    match output.task_definition().and_then(|d| d.status()) {
        Some(status) if status.as_str() != "ACTIVE" => Err(format!(
            "{} is {}, and ECS deploys only ACTIVE revisions",
            crate::arn::task_definition_name(to),
            status.as_str()
        )),
        _ => Ok(()),
    }
}

/// UpdateService as the offer says; returns the id of the deployment it started.
pub async fn update(session: &WriteSession, offer: &Offer) -> Result<String, String> {
    let mut request = session
        .client
        .update_service()
        .cluster(&offer.cluster)
        .service(&offer.service);
    request = match offer.kind {
        ActionKind::RollBack => match &offer.to {
            Some(to) => request.task_definition(to),
            None => return Err("this rollback names no revision".into()),
        },
        ActionKind::Restart => request.force_new_deployment(true),
    };
    let output = request.send().await.map_err(|e| {
        format!(
            "ecs:UpdateService of {} failed: {}",
            offer.service,
            aws_failure(&e).message
        )
    })?;
    let deployment = output
        .service()
        .map(crate::gather::ecs::service_facts_from_sdk)
        .and_then(|facts| {
            facts
                .deployments
                .into_iter()
                .find(|d| d.status.as_deref() == Some("PRIMARY"))
        })
        .map(|d| d.id)
        .unwrap_or_default();
    Ok(deployment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_names_the_slack_user() {
        assert_eq!(session_name("U0ALICE"), "slack-U0ALICE");
        assert_eq!(session_name("U0<b>"), "slack-U0b");
        assert!(session_name(&"U".repeat(100)).len() <= 64);
    }
}
