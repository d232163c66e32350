//! Credentials for reading another account: STS AssumeRole, with a failure that names
//! the role and what STS answered ([`AssumeRoleFailed`]) instead of a generic "no
//! credentials".

use super::failure::{aws_failure, AssumeRoleFailed};
use aws_config::SdkConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::error::SdkError;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use std::error::Error;

/// `base` with its credentials replaced by those of `role_arn`, assumed with `base`'s
/// credentials, region and endpoint (and refreshed before they expire).
pub async fn assuming(base: &SdkConfig, role_arn: &str) -> SdkConfig {
    let base = &crate::aws::with_https_client(base);
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("ecs-why")
        .configure(base)
        .build()
        .await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(NamedRole {
            role_arn: role_arn.to_string(),
            provider,
        }))
        .build()
}

/// An AssumeRole provider whose errors say which role and why.
#[derive(Debug)]
struct NamedRole {
    role_arn: String,
    provider: aws_config::sts::AssumeRoleProvider,
}

impl ProvideCredentials for NamedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.provider.provide_credentials().await.map_err(|err| {
                CredentialsError::provider_error(AssumeRoleFailed {
                    role_arn: self.role_arn.clone(),
                    reason: reason(&err),
                })
            })
        })
    }
}

/// What STS answered, or why it could not be asked.
fn reason(err: &CredentialsError) -> String {
    let mut current: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(sts) = e.downcast_ref::<SdkError<AssumeRoleError>>() {
            let failure = aws_failure(sts);
            return match failure.code {
                Some(_) => format!("STS answered {}", failure.message),
                None => failure.message,
            };
        }
        current = e.source();
    }
    match err {
        CredentialsError::CredentialsNotLoaded(_) => {
            "the bot's own AWS credentials, needed to call STS AssumeRole, were not found"
                .to_string()
        }
        _ => format!("STS AssumeRole did not succeed ({err})"),
    }
}
