//! Per-service endpoints for an SDK configuration, the way `AWS_ENDPOINT_URL_<SERVICE>`
//! sets them for a process: tests and benchmarks send one service to moto, another to
//! a local fake, and leave the rest where the configuration points.
#![allow(dead_code)]

use aws_config::SdkConfig;
use aws_types::origin::Origin;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use std::collections::HashMap;

/// Endpoints by service id as the SDK spells it (`ECR`, `IAM`, `EC2`, `CloudWatch`,
/// `Secrets Manager`, `SSM`, `Elastic Load Balancing v2`, `CloudWatch Logs`).
#[derive(Debug)]
struct ServiceEndpoints(HashMap<String, String>);

impl LoadServiceConfig for ServiceEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.profile() != "endpoint_url" {
            return None;
        }
        self.0.get(key.service_id()).cloned()
    }
}

/// `config` with `endpoints` (service id, URL) for those services only; the others keep
/// `config`'s endpoint. A client ignores per-service endpoints when the shared one was
/// set in code (as test configurations set it), so the shared endpoint is marked as
/// coming from `AWS_ENDPOINT_URL`, which is how an operator's process sees it.
pub fn with_endpoints(config: &SdkConfig, endpoints: &[(&str, String)]) -> SdkConfig {
    let map = endpoints
        .iter()
        .map(|(service, url)| (service.to_string(), url.clone()))
        .collect();
    let mut builder = config.to_builder().service_config(ServiceEndpoints(map));
    builder.insert_origin("endpoint_url", Origin::shared_environment_variable());
    builder.build()
}
