//! EC2's read calls the subnet probe needs, as SigV4-signed EC2 Query requests.
//!
//! `aws-sdk-ec2` is one of the largest crates there is (EC2 has hundreds of operations)
//! and took about half of a cold build, for three calls: `DescribeSubnets`,
//! `DescribeRouteTables` and `DescribeVpcEndpoints`. Here they are form-encoded POSTs to
//! the EC2 endpoint, signed with `aws-sigv4` using the same [`SdkConfig`] as every SDK
//! client: its credential chain (an assumed role included), its region, its retry and
//! timeout settings, and its endpoint settings (`AWS_ENDPOINT_URL_EC2`, then
//! `AWS_ENDPOINT_URL`). The HTTP connector is the one the SDK clients use
//! ([`crate::aws::connector`]). Answers are read with `quick-xml`; a failed call becomes
//! an [`AwsFailure`] like any SDK failure, and every call is counted on `/metrics`.

use super::failure::{AwsFailure, FailureKind};
use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Mutex;

/// The EC2 API version every request names.
const API_VERSION: &str = "2016-11-15";
/// Credentials are fetched again this long before they expire.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);
/// Longest wait for one attempt when the configuration sets none.
const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);

/// A filter of a Describe call: `association.subnet-id` = [`subnet-…`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Filter {
    pub fn new(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
        Filter {
            name: name.to_string(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

/// A subnet, reduced to what the probe reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Subnet {
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
}

/// A route table as EC2 describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteTable {
    pub route_table_id: Option<String>,
    pub vpc_id: Option<String>,
    #[serde(rename = "routeSet")]
    routes: Items<Route>,
}

impl RouteTable {
    /// A route table with these routes, as EC2 would describe it.
    pub fn new(id: &str, vpc_id: &str, routes: Vec<Route>) -> RouteTable {
        RouteTable {
            route_table_id: Some(id.to_string()),
            vpc_id: Some(vpc_id.to_string()),
            routes: Items { item: routes },
        }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes.item
    }
}

/// One route of a route table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Route {
    pub destination_cidr_block: Option<String>,
    /// `active` or `blackhole`.
    pub state: Option<String>,
    pub gateway_id: Option<String>,
    pub nat_gateway_id: Option<String>,
    pub transit_gateway_id: Option<String>,
    pub network_interface_id: Option<String>,
    pub vpc_peering_connection_id: Option<String>,
    pub instance_id: Option<String>,
}

/// A VPC endpoint as EC2 describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VpcEndpoint {
    pub vpc_endpoint_id: Option<String>,
    /// `Interface` or `Gateway` (or `GatewayLoadBalancer`).
    pub vpc_endpoint_type: Option<String>,
    pub vpc_id: Option<String>,
    pub service_name: Option<String>,
    /// `available`, `pending`, ... (EC2 spells it in either case).
    pub state: Option<String>,
    pub private_dns_enabled: Option<bool>,
    #[serde(rename = "routeTableIdSet")]
    route_table_ids: Items<String>,
}

impl VpcEndpoint {
    pub fn route_table_ids(&self) -> &[String] {
        &self.route_table_ids.item
    }
}

/// EC2's `<xSet><item>…</item></xSet>` lists.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
struct Items<T> {
    item: Vec<T>,
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items { item: Vec::new() }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DescribeSubnets {
    subnet_set: Items<Subnet>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DescribeRouteTables {
    route_table_set: Items<RouteTable>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DescribeVpcEndpoints {
    vpc_endpoint_set: Items<VpcEndpoint>,
}

/// EC2's error document: `<Response><Errors><Error><Code>…`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorResponse {
    #[serde(rename = "Errors")]
    errors: ErrorList,
    #[serde(rename = "RequestID")]
    request_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorList {
    #[serde(rename = "Error")]
    error: Vec<ErrorEntry>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorEntry {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

/// Signs and sends EC2 Query requests in one region with one credential set.
#[derive(Clone)]
pub struct Ec2Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: SdkConfig,
    region: Option<String>,
    endpoint: Option<String>,
    connector: aws_smithy_http_client::Connector,
    credentials: Mutex<Option<Credentials>>,
}

impl Ec2Client {
    /// A client of `config`, in `region` when given (else the configuration's).
    pub fn new(config: &SdkConfig, region: Option<&str>) -> Ec2Client {
        let region = region
            .map(str::to_string)
            .or_else(|| config.region().map(|r| r.to_string()));
        Ec2Client {
            inner: Arc::new(Inner {
                endpoint: configured_endpoint(config),
                connector: crate::aws::connector(config),
                config: config.clone(),
                region,
                credentials: Mutex::new(None),
            }),
        }
    }

    /// `DescribeSubnets` for these subnet ids.
    pub async fn describe_subnets(&self, subnet_ids: &[&str]) -> Result<Vec<Subnet>, AwsFailure> {
        let params = numbered("SubnetId", subnet_ids.iter().copied());
        let body = self.call("DescribeSubnets", &params).await?;
        parse::<DescribeSubnets>("DescribeSubnets", &body).map(|out| out.subnet_set.item)
    }

    /// `DescribeRouteTables` with `filters` (the first page, as the probe needs).
    pub async fn describe_route_tables(
        &self,
        filters: &[Filter],
    ) -> Result<Vec<RouteTable>, AwsFailure> {
        let body = self
            .call("DescribeRouteTables", &filter_params(filters))
            .await?;
        parse::<DescribeRouteTables>("DescribeRouteTables", &body)
            .map(|out| out.route_table_set.item)
    }

    /// `DescribeVpcEndpoints` with `filters`.
    pub async fn describe_vpc_endpoints(
        &self,
        filters: &[Filter],
    ) -> Result<Vec<VpcEndpoint>, AwsFailure> {
        let body = self
            .call("DescribeVpcEndpoints", &filter_params(filters))
            .await?;
        parse::<DescribeVpcEndpoints>("DescribeVpcEndpoints", &body)
            .map(|out| out.vpc_endpoint_set.item)
    }

    /// Any EC2 Query action with its parameters; the answer's XML. (The probe uses the
    /// three calls above; the tests use this to set up an emulated VPC.)
    pub async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, AwsFailure> {
        let result = self.call_with_retries(action, params).await;
        crate::metrics::aws_call("ec2", action, result.is_ok());
        if let Err(failure) = &result {
            tracing::debug!(action, detail = %failure.message, "an EC2 call failed");
        }
        result
    }

    async fn call_with_retries(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, AwsFailure> {
        let retry = self
            .inner
            .config
            .retry_config()
            .cloned()
            .unwrap_or_else(RetryConfig::standard);
        let timeouts = self.inner.config.timeout_config();
        let attempt_timeout = timeouts
            .and_then(|t| t.operation_attempt_timeout())
            .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT);
        let operation = async {
            let mut attempt = 1;
            loop {
                let outcome =
                    match tokio::time::timeout(attempt_timeout, self.attempt(action, params)).await
                    {
                        Ok(outcome) => outcome,
                        Err(_) => Err(timed_out()),
                    };
                match outcome {
                    Err(failure) if attempt < retry.max_attempts() && retryable(&failure) => {
                        tokio::time::sleep(backoff(&retry, attempt)).await;
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        };
        match timeouts.and_then(|t| t.operation_timeout()) {
            Some(limit) => tokio::time::timeout(limit, operation)
                .await
                .unwrap_or_else(|_| Err(timed_out())),
            None => operation.await,
        }
    }

    /// One signed request and its answer.
    async fn attempt(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, AwsFailure> {
        let Some(region) = self.inner.region.as_deref() else {
            return Err(AwsFailure {
                kind: FailureKind::InvalidInput,
                code: None,
                message: "no AWS region for EC2; set AWS_REGION".into(),
            });
        };
        let endpoint = match &self.inner.endpoint {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => default_endpoint(region),
        };
        let url = format!("{endpoint}/");
        let body = form_body(action, params);
        let credentials = self.credentials().await?;
        let identity = Identity::from(credentials);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let signing_params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| local_failure(format!("could not sign the EC2 request: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            [("content-type", content_type)].into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| local_failure(format!("could not sign the EC2 request: {e}")))?;
        let (instructions, _signature) = sign(signable, &signing_params)
            .map_err(|e| local_failure(format!("could not sign the EC2 request: {e}")))?
            .into_parts();
        let mut request = http::Request::builder()
            .method("POST")
            .uri(&url)
            .header("content-type", content_type)
            .body(SdkBody::from(body))
            .map_err(|e| local_failure(format!("could not build the EC2 request: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        let request = aws_smithy_runtime_api::http::Request::try_from(request)
            .map_err(|e| local_failure(format!("could not build the EC2 request: {e}")))?;
        let response = self
            .inner
            .connector
            .call(request)
            .await
            .map_err(|e| connection_failure(&e))?;
        let status = response.status().as_u16();
        let bytes = read_body(response.into_body()).await?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(error_answer(status, &text))
        }
    }

    /// The configuration's credentials, kept until shortly before they expire.
    async fn credentials(&self) -> Result<Credentials, AwsFailure> {
        let mut held = self.inner.credentials.lock().await;
        if let Some(credentials) = held.as_ref() {
            let fresh = credentials
                .expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + CREDENTIALS_MARGIN);
            if fresh {
                return Ok(credentials.clone());
            }
        }
        let provider = self
            .inner
            .config
            .credentials_provider()
            .ok_or_else(|| AwsFailure {
                kind: FailureKind::Credentials,
                code: None,
                message: "no AWS credentials are configured; set them as for the AWS CLI".into(),
            })?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| AwsFailure {
                kind: FailureKind::Credentials,
                code: None,
                message: crate::redact::redact(&format!(
                    "no usable AWS credentials: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ))
                .into_owned(),
            })?;
        *held = Some(credentials.clone());
        Ok(credentials)
    }
}

/// The form-encoded body of `action` with `params`.
fn form_body(action: &str, params: &[(String, String)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    form.append_pair("Version", API_VERSION);
    for (name, value) in params {
        form.append_pair(name, value);
    }
    form.finish()
}

/// `Name.1=a&Name.2=b`.
fn numbered<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    values
        .enumerate()
        .map(|(i, value)| (format!("{name}.{}", i + 1), value.to_string()))
        .collect()
}

/// `Filter.1.Name=…&Filter.1.Value.1=…`.
fn filter_params(filters: &[Filter]) -> Vec<(String, String)> {
    let mut params = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        let n = i + 1;
        params.push((format!("Filter.{n}.Name"), filter.name.clone()));
        params.extend(numbered(
            &format!("Filter.{n}.Value"),
            filter.values.iter().map(String::as_str),
        ));
    }
    params
}

fn parse<T: serde::de::DeserializeOwned>(action: &str, xml: &str) -> Result<T, AwsFailure> {
    quick_xml::de::from_str(xml).map_err(|e| AwsFailure {
        kind: FailureKind::Other,
        code: None,
        message: format!("EC2 answered {action} with a document that could not be read ({e})"),
    })
}

/// The endpoint an operator set for EC2: `AWS_ENDPOINT_URL_EC2` (or the profile's
/// `services` section), else `AWS_ENDPOINT_URL`, as the SDK clients resolve it.
fn configured_endpoint(config: &SdkConfig) -> Option<String> {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("EC2")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    config
        .service_config()
        .and_then(|services| services.load_config(key))
        .or_else(|| config.endpoint_url().map(str::to_string))
        .filter(|url| !url.trim().is_empty())
}

/// EC2's public endpoint in `region`.
fn default_endpoint(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("https://ec2.{region}.amazonaws.com.cn")
    } else {
        format!("https://ec2.{region}.amazonaws.com")
    }
}

async fn read_body(body: SdkBody) -> Result<bytes::Bytes, AwsFailure> {
    use http_body_util::BodyExt;
    body.collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| AwsFailure {
            kind: FailureKind::Network,
            code: None,
            message: format!("the connection to EC2 broke while reading its answer ({e})"),
        })
}

/// EC2's error document, or the status alone when it sent none.
fn error_answer(status: u16, text: &str) -> AwsFailure {
    let parsed: Option<ErrorResponse> = quick_xml::de::from_str(text).ok();
    let request_id = parsed.as_ref().and_then(|p| p.request_id.clone());
    let entry = parsed.and_then(|p| p.errors.error.into_iter().next());
    let code = entry.as_ref().and_then(|e| e.code.clone());
    let said = entry.as_ref().and_then(|e| e.message.clone());
    let kind = match code.as_deref().unwrap_or_default() {
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => FailureKind::Denied,
        "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "RequestExpired" => FailureKind::Credentials,
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => FailureKind::Throttled,
        code if code.ends_with(".NotFound") => FailureKind::NotFound,
        code if code.starts_with("InvalidParameter") => FailureKind::InvalidInput,
        _ if status == 429 => FailureKind::Throttled,
        _ if status >= 500 => FailureKind::ServerError,
        _ => FailureKind::Other,
    };
    let mut message = match (&code, said) {
        (Some(code), Some(said)) => format!("{code}: {said}"),
        (Some(code), None) => format!("AWS answered HTTP {status} {code}"),
        (None, _) => format!("AWS answered HTTP {status} with no EC2 error document"),
    };
    if let Some(id) = request_id {
        message = format!("{message} (request id {id})");
    }
    AwsFailure {
        kind,
        code,
        message: crate::redact::redact(&message).into_owned(),
    }
}

fn retryable(failure: &AwsFailure) -> bool {
    matches!(
        failure.kind,
        FailureKind::Throttled
            | FailureKind::ServerError
            | FailureKind::Network
            | FailureKind::Timeout
    )
}

/// Exponential back-off with full jitter, within the configuration's bounds.
fn backoff(retry: &RetryConfig, attempt: u32) -> Duration {
    let base = retry.initial_backoff().as_secs_f64() * 2f64.powi(attempt.saturating_sub(1) as i32);
    let capped = base.min(retry.max_backoff().as_secs_f64());
    let jitter = f64::from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 1000,
    ) / 1000.0;
    Duration::from_secs_f64(capped * jitter)
}

fn timed_out() -> AwsFailure {
    AwsFailure {
        kind: FailureKind::Timeout,
        code: None,
        message: "AWS did not answer in time; check the network and the region".into(),
    }
}

fn local_failure(message: String) -> AwsFailure {
    AwsFailure {
        kind: FailureKind::Other,
        code: None,
        message,
    }
}

fn connection_failure(
    error: &aws_smithy_runtime_api::client::result::ConnectorError,
) -> AwsFailure {
    let kind = if error.is_timeout() {
        FailureKind::Timeout
    } else {
        FailureKind::Network
    };
    AwsFailure {
        kind,
        code: None,
        message: crate::redact::redact(&format!(
            "could not reach EC2: {}",
            aws_smithy_types::error::display::DisplayErrorContext(error)
        ))
        .into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_table_answer_is_read_with_its_routes() {
        let xml = r#"<DescribeRouteTablesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
          <requestId>r-1</requestId>
          <routeTableSet><item>
            <routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId>
            <routeSet>
              <item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId><state>active</state></item>
              <item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><natGatewayId>nat-1</natGatewayId><state>blackhole</state></item>
            </routeSet>
            <associationSet><item><main>true</main></item></associationSet>
          </item></routeTableSet>
        </DescribeRouteTablesResponse>"#;
        let tables = parse::<DescribeRouteTables>("DescribeRouteTables", xml)
            .expect("readable")
            .route_table_set
            .item;
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].vpc_id.as_deref(), Some("vpc-1"));
        assert_eq!(tables[0].routes().len(), 2);
        assert_eq!(
            tables[0].routes()[1].nat_gateway_id.as_deref(),
            Some("nat-1")
        );
        assert_eq!(tables[0].routes()[1].state.as_deref(), Some("blackhole"));
    }

    #[test]
    fn empty_sets_are_empty_lists() {
        let xml = "<DescribeSubnetsResponse><requestId>r</requestId><subnetSet/></DescribeSubnetsResponse>";
        let out = parse::<DescribeSubnets>("DescribeSubnets", xml).expect("readable");
        assert!(out.subnet_set.item.is_empty());
    }

    #[test]
    fn an_endpoint_answer_carries_its_route_tables_and_dns_setting() {
        let xml = r#"<DescribeVpcEndpointsResponse><vpcEndpointSet><item>
            <vpcEndpointId>vpce-1</vpcEndpointId><vpcEndpointType>Gateway</vpcEndpointType>
            <vpcId>vpc-1</vpcId><serviceName>com.amazonaws.eu-west-1.s3</serviceName>
            <state>available</state><privateDnsEnabled>false</privateDnsEnabled>
            <routeTableIdSet><item>rtb-1</item><item>rtb-2</item></routeTableIdSet>
        </item></vpcEndpointSet></DescribeVpcEndpointsResponse>"#;
        let endpoints = parse::<DescribeVpcEndpoints>("DescribeVpcEndpoints", xml)
            .expect("readable")
            .vpc_endpoint_set
            .item;
        assert_eq!(endpoints[0].route_table_ids(), ["rtb-1", "rtb-2"]);
        assert_eq!(endpoints[0].private_dns_enabled, Some(false));
        assert_eq!(endpoints[0].vpc_endpoint_type.as_deref(), Some("Gateway"));
    }

    #[test]
    fn a_denied_call_is_denied_with_its_request_id() {
        let xml = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>abc-123</RequestID></Response>";
        let failure = error_answer(403, xml);
        assert_eq!(failure.kind, FailureKind::Denied);
        assert_eq!(failure.code.as_deref(), Some("UnauthorizedOperation"));
        assert!(
            failure.message.contains("request id abc-123"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn an_unreadable_error_names_the_status() {
        let failure = error_answer(502, "<html>bad gateway</html>");
        assert_eq!(failure.kind, FailureKind::ServerError);
        assert!(failure.message.contains("HTTP 502"), "{}", failure.message);
    }

    #[test]
    fn filters_are_numbered_from_one() {
        let params = filter_params(&[
            Filter::new("association.main", ["true"]),
            Filter::new("service-name", ["a", "b"]),
        ]);
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Filter.1.Name", "association.main"),
                ("Filter.1.Value.1", "true"),
                ("Filter.2.Name", "service-name"),
                ("Filter.2.Value.1", "a"),
                ("Filter.2.Value.2", "b"),
            ]
        );
    }

    #[test]
    fn china_regions_have_their_own_domain() {
        assert_eq!(
            default_endpoint("eu-west-1"),
            "https://ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            default_endpoint("cn-north-1"),
            "https://ec2.cn-north-1.amazonaws.com.cn"
        );
    }
}
