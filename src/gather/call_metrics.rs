//! Counting AWS calls for `/metrics`, once, for every SDK client.
//!
//! [`CountCalls`] is an SDK interceptor registered on every client [`super::Gatherer`]
//! builds. After each operation (its retries included) it reads the service and
//! operation names the SDK stores in the config bag and calls
//! [`crate::metrics::aws_call`]: `ecs_why_aws_calls_total{service,operation}` and, for
//! failures, `ecs_why_aws_errors_total`. Labels are the short lower-case service name
//! (`ecs`, `logs`, `cloudtrail`, `sts`) and the API operation (`DescribeTasks`).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::borrow::Cow;

/// The interceptor that counts every AWS call and every failed one.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountCalls;

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "ecs-why AWS call metrics"
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            let ok = matches!(context.output_or_error(), Some(Ok(_)));
            crate::metrics::aws_call(&service_label(metadata.service()), metadata.name(), ok);
        }
        Ok(())
    }
}

/// The metric label for an SDK service name (`"CloudWatch Logs"` is `logs`).
fn service_label(service: &str) -> Cow<'_, str> {
    match service {
        "ECS" => Cow::Borrowed("ecs"),
        "CloudWatch Logs" => Cow::Borrowed("logs"),
        "CloudTrail" => Cow::Borrowed("cloudtrail"),
        "STS" => Cow::Borrowed("sts"),
        other => Cow::Owned(other.to_ascii_lowercase().replace(' ', "")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_labels_are_short_and_lower_case() {
        assert_eq!(service_label("ECS"), "ecs");
        assert_eq!(service_label("CloudWatch Logs"), "logs");
        assert_eq!(service_label("CloudTrail"), "cloudtrail");
        assert_eq!(service_label("STS"), "sts");
        assert_eq!(service_label("DynamoDB"), "dynamodb");
    }
}
