//! The AWS SDK set-up every client of ecs-why shares: one HTTPS stack and the
//! standard credential chain.
//!
//! One TLS crypto provider for the whole binary: rustls with `ring`, the one
//! slack-morphism uses too. The SDK crates' own default client would compile a second
//! (`aws-lc-rs`, a C build) and a legacy hyper 0.14 stack beside it, so they are built
//! without it and get [`https_client`] here. Every SDK configuration ecs-why loads comes
//! from [`loader`] (or passes through [`with_https_client`]), so no client is left
//! without an HTTP client.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpClient};
use std::time::Duration;

/// The connect time-out of [`connector`] when the configuration sets none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTPS client of every SDK client: rustls with `ring`, the system's roots.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The standard configuration chain (environment, profile, container or instance
/// credentials; `AWS_ENDPOINT_URL` and its per-service forms) with ecs-why's HTTPS
/// client. Callers add a region, retries or time-outs as they need.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// `config`, with ecs-why's HTTPS client when it has none (tests build configurations
/// by hand).
pub fn with_https_client(config: &SdkConfig) -> SdkConfig {
    if config.http_client().is_some() {
        return config.clone();
    }
    let mut builder = config.to_builder();
    builder.set_http_client(Some(https_client()));
    builder.build()
}

/// A connector on the same HTTPS stack, for the few calls ecs-why signs itself
/// (EC2's, [`crate::gather::ec2`]), with `config`'s connect time-out.
pub fn connector(config: &SdkConfig) -> aws_smithy_http_client::Connector {
    let connect = config
        .timeout_config()
        .and_then(|t| t.connect_timeout())
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    aws_smithy_http_client::Connector::builder()
        .connector_settings(
            HttpConnectorSettings::builder()
                .connect_timeout(connect)
                .build(),
        )
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build()
}
