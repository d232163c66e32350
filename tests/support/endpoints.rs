//! Per-service endpoints for an SDK configuration, the way `AWS_ENDPOINT_URL_<SERVICE>`
//! sets them for a process: tests and benchmarks send one service to moto, another to
//! a local fake, and leave the rest where the configuration points.
#![allow(dead_code)]

use aws_config::SdkConfig;
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

/// `config` with `endpoints` (service id, URL) for those services only.
pub fn with_endpoints(config: &SdkConfig, endpoints: &[(&str, String)]) -> SdkConfig {
    let map = endpoints
        .iter()
        .map(|(service, url)| (service.to_string(), url.clone()))
        .collect();
    config
        .to_builder()
        .service_config(ServiceEndpoints(map))
        .build()
}
