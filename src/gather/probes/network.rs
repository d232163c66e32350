//! The subnet probe: can the task's subnet reach ECR (and Secrets Manager, SSM,
//! CloudWatch Logs) at all?
//!
//! A task in a private subnet pulls its image through a NAT gateway, or through VPC
//! endpoints (`ecr.api`, `ecr.dkr` and the S3 gateway endpoint the layers come from).
//! Four read-only EC2 calls run at once, one round trip in all: the subnet (its VPC),
//! the route table associated with it, every main route table (the VPC's main one
//! applies when the subnet has none of its own: the VPC is not known before the first
//! answer, so all main tables are asked for and picked by VPC afterwards), and the VPC
//! endpoints of the services the task needs. Judging the answers is pure ([`judge`]).

use super::{unchecked, ProbeClients, ProbeInput};
use crate::evidence::probes::{Check, CheckId, CheckOutcome, CheckRequest, Reach};
use crate::evidence::{Evidence, ProbeResults};
use crate::gather::ec2::{self, Filter};
use crate::values::ImageRef;

/// Every endpoint service the probe may need, by its name's last part.
const ENDPOINT_SERVICES: [&str; 6] = ["ecr.api", "ecr.dkr", "s3", "secretsmanager", "ssm", "logs"];
/// What ECS needs to pull from ECR without the internet.
const ECR_ENDPOINTS: [&str; 3] = ["ecr.api", "ecr.dkr", "s3"];

/// Whether this probe has anything to check: a subnet egress request for a task whose
/// subnet is known.
pub fn applies(input: ProbeInput<'_>) -> bool {
    request(input).is_some() && subnet_of(input.evidence).is_some()
}

/// What the subnet must reach, and whether reaching nothing proves the cause.
fn request(input: ProbeInput<'_>) -> Option<(Reach, bool)> {
    match input.request {
        CheckRequest::SubnetEgress { reach, proves } => Some((*reach, *proves)),
        _ => None,
    }
}

/// Run the probe's read-only calls.
pub async fn run(clients: &ProbeClients, input: ProbeInput<'_>) -> ProbeResults {
    let Some(subnet) = subnet_of(input.evidence) else {
        return ProbeResults::default();
    };
    let Some(region) = clients.region.as_deref().or(input.evidence.task.region()) else {
        return super::only_unchecked(format!(
            "Could not check whether subnet {subnet} reaches {}: the task's region is not known.",
            reached(input)
        ));
    };
    let ec2 = &clients.ec2;
    let service_names: Vec<String> = ENDPOINT_SERVICES
        .iter()
        .map(|service| format!("com.amazonaws.{region}.{service}"))
        .collect();
    let subnet_ids = [subnet];
    let own_filter = [Filter::new("association.subnet-id", [subnet])];
    let main_filter = [Filter::new("association.main", ["true"])];
    let endpoint_filter = [Filter::new("service-name", service_names)];
    let (subnets, own_table, main_tables, endpoints) = tokio::join!(
        ec2.describe_subnets(&subnet_ids),
        ec2.describe_route_tables(&own_filter),
        ec2.describe_route_tables(&main_filter),
        ec2.describe_vpc_endpoints(&endpoint_filter),
    );

    let mut results = ProbeResults::default();
    let what = format!("whether subnet {subnet} reaches {}", reached(input));
    let own_table = match own_table {
        Ok(tables) => tables.first().map(RouteTable::from),
        Err(failure) => {
            results
                .unchecked
                .push(unchecked(&what, "ec2:DescribeRouteTables", &failure));
            return results;
        }
    };
    let vpc = match subnets {
        Ok(subnets) => subnets.first().and_then(|s| s.vpc_id.clone()),
        Err(failure) if own_table.is_none() => {
            results
                .unchecked
                .push(unchecked(&what, "ec2:DescribeSubnets", &failure));
            return results;
        }
        // The subnet's own route table names its VPC too.
        Err(_) => None,
    };
    let vpc = vpc.or_else(|| own_table.as_ref().and_then(|t| t.vpc_id.clone()));
    let table = match (own_table, main_tables) {
        (Some(table), _) => Some(table),
        (None, Ok(tables)) => tables
            .iter()
            .map(RouteTable::from)
            .find(|t| t.vpc_id.is_some() && t.vpc_id == vpc),
        (None, Err(failure)) => {
            results
                .unchecked
                .push(unchecked(&what, "ec2:DescribeRouteTables", &failure));
            return results;
        }
    };
    let Some(table) = table else {
        results.unchecked.push(format!(
            "Could not check {what}: no route table is associated with it and its VPC's main route table was not found."
        ));
        return results;
    };
    let endpoints = match endpoints {
        Ok(found) => Some(
            found
                .iter()
                .filter_map(|e| Endpoint::from_ec2(e, region))
                .collect::<Vec<_>>(),
        ),
        Err(failure) => {
            let what = format!("the VPC endpoints of subnet {subnet}");
            results
                .unchecked
                .push(unchecked(&what, "ec2:DescribeVpcEndpoints", &failure));
            None
        }
    };
    let place = Place {
        subnet,
        vpc: vpc.as_deref(),
        table: &table,
    };
    let mut check = judge(&place, endpoints.as_deref(), &needed(input));
    // Where the subnet routes does not always explain the cause (a network interface
    // that could not be set up): then it is a fact worth showing, not proof.
    if request(input).is_some_and(|(_, proves)| !proves) {
        check.outcome = CheckOutcome::Context;
    }
    results.checks.push(check);
    results
}

/// The task's subnet, else the first of its service's subnets.
fn subnet_of(evidence: &Evidence) -> Option<&str> {
    evidence
        .task
        .subnet_id
        .as_deref()
        .or_else(|| {
            evidence
                .service
                .as_ref()?
                .subnets
                .first()
                .map(String::as_str)
        })
        .filter(|subnet| !subnet.is_empty())
}

/// The endpoint services the task needs for this cause: ECR's for an ECR image; for a
/// secrets or network failure also Secrets Manager, SSM and Logs as its task
/// definition uses them.
fn needed(input: ProbeInput<'_>) -> Vec<&'static str> {
    let Some(definition) = input.evidence.task_definition.as_ref() else {
        return Vec::new();
    };
    let containers = &definition.containers;
    let mut needed = Vec::new();
    if containers
        .iter()
        .any(|c| ImageRef::parse(&c.image).ecr.is_some())
    {
        needed.extend(ECR_ENDPOINTS);
    }
    if request(input).is_some_and(|(reach, _)| reach == Reach::Registry) {
        return needed;
    }
    let references = containers.iter().flat_map(|c| c.secrets.iter());
    let (mut secrets_manager, mut ssm) = (false, false);
    for reference in references {
        if reference.value_from.contains(":secretsmanager:") {
            secrets_manager = true;
        } else {
            ssm = true;
        }
    }
    secrets_manager |= containers
        .iter()
        .any(|c| c.repository_credentials.is_some());
    if secrets_manager {
        needed.push("secretsmanager");
    }
    if ssm {
        needed.push("ssm");
    }
    if containers.iter().any(|c| c.awslogs().is_some()) {
        needed.push("logs");
    }
    needed
}

/// What the task must reach for this cause, for sentences.
fn reached(input: ProbeInput<'_>) -> &'static str {
    match request(input) {
        Some((Reach::Registry, _)) => "its image registry",
        _ => "the AWS services the task needs",
    }
}

/// A route table, reduced to what the judgement needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: Option<String>,
    /// The `0.0.0.0/0` routes that are not blackholes: their targets (`nat-…`, `igw-…`,
    /// `tgw-…`, `eni-…`).
    pub default_targets: Vec<String>,
}

impl From<&ec2::RouteTable> for RouteTable {
    fn from(table: &ec2::RouteTable) -> RouteTable {
        let default_targets = table
            .routes()
            .iter()
            .filter(|r| r.destination_cidr_block.as_deref() == Some("0.0.0.0/0"))
            .filter(|r| r.state.as_deref() != Some("blackhole"))
            .filter_map(|r| {
                r.nat_gateway_id
                    .as_ref()
                    .or(r.gateway_id.as_ref())
                    .or(r.transit_gateway_id.as_ref())
                    .or(r.network_interface_id.as_ref())
                    .or(r.vpc_peering_connection_id.as_ref())
                    .or(r.instance_id.as_ref())
                    .cloned()
            })
            .collect();
        RouteTable {
            id: table.route_table_id.as_deref().unwrap_or("?").to_string(),
            vpc_id: table.vpc_id.clone(),
            default_targets,
        }
    }
}

/// A VPC endpoint of one of [`ENDPOINT_SERVICES`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoint {
    pub id: String,
    /// `ecr.api`, `s3`, ...: the service name without `com.amazonaws.REGION.`.
    pub service: String,
    pub gateway: bool,
    pub vpc_id: Option<String>,
    /// `available`, and for an interface endpoint private DNS not switched off.
    pub usable: bool,
    pub route_table_ids: Vec<String>,
}

impl Endpoint {
    fn from_ec2(endpoint: &ec2::VpcEndpoint, region: &str) -> Option<Endpoint> {
        let prefix = format!("com.amazonaws.{region}.");
        let service = endpoint
            .service_name
            .as_deref()?
            .strip_prefix(&prefix)?
            .to_string();
        let gateway = endpoint
            .vpc_endpoint_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("gateway"));
        let available = endpoint
            .state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("available"));
        Some(Endpoint {
            id: endpoint
                .vpc_endpoint_id
                .as_deref()
                .unwrap_or("?")
                .to_string(),
            service,
            gateway,
            vpc_id: endpoint.vpc_id.clone(),
            usable: available && (gateway || endpoint.private_dns_enabled != Some(false)),
            route_table_ids: endpoint.route_table_ids().to_vec(),
        })
    }
}

/// Where the task's traffic leaves from.
pub struct Place<'a> {
    pub subnet: &'a str,
    pub vpc: Option<&'a str>,
    pub table: &'a RouteTable,
}

/// Does the subnet reach the services in `needed`? A NAT gateway rules the network out;
/// so do usable endpoints for every needed service; an internet gateway or another
/// target (a transit gateway, a firewall) is context (the public IP, or what lies
/// beyond, is not visible here); no default route and missing endpoints confirm.
/// `endpoints` is `None` when they could not be listed.
pub fn judge(place: &Place<'_>, endpoints: Option<&[Endpoint]>, needed: &[&str]) -> Check {
    let subnet = format!(
        "subnet {} ({})",
        place.subnet,
        place.vpc.unwrap_or("VPC unknown")
    );
    let table = &place.table.id;
    let targets = &place.table.default_targets;
    if let Some(nat) = targets.iter().find(|t| t.starts_with("nat-")) {
        return Check::new(
            CheckId::SubnetEgress,
            CheckOutcome::RulesOut,
            format!("{subnet} reaches the internet via {nat} (route table {table})"),
        );
    }
    let present: Vec<&Endpoint> = needed
        .iter()
        .filter_map(|service| {
            endpoints?
                .iter()
                .find(|e| serves(e, service, place.vpc, table))
        })
        .collect();
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|service| !present.iter().any(|e| e.service == *service))
        .collect();
    if endpoints.is_some() && !needed.is_empty() && missing.is_empty() {
        let ids: Vec<&str> = present.iter().map(|e| e.id.as_str()).collect();
        return Check::new(
            CheckId::SubnetEgress,
            CheckOutcome::RulesOut,
            format!(
                "{subnet} reaches {} through VPC endpoints ({})",
                services_named(needed),
                ids.join(", ")
            ),
        );
    }
    if let Some(igw) = targets.iter().find(|t| t.starts_with("igw-")) {
        return Check::new(
            CheckId::SubnetEgress,
            CheckOutcome::Context,
            format!(
                "{subnet} routes 0.0.0.0/0 to internet gateway {igw} (route table {table}): the task reaches the internet only with a public IP (assignPublicIp ENABLED)"
            ),
        );
    }
    if let Some(other) = targets.first() {
        return Check::new(
            CheckId::SubnetEgress,
            CheckOutcome::Context,
            format!(
                "{subnet} routes 0.0.0.0/0 to {other} (route table {table}), not to a NAT or internet gateway; what lies beyond it was not checked"
            ),
        );
    }
    let no_route = format!(
        "{subnet} has no route to the internet (route table {table}: no 0.0.0.0/0 via a NAT or internet gateway)"
    );
    if endpoints.is_none() && !needed.is_empty() {
        return Check::new(
            CheckId::SubnetEgress,
            CheckOutcome::Context,
            format!("{no_route}; its VPC endpoints were not checked"),
        );
    }
    let detail = if missing.is_empty() {
        format!("{no_route}: the task cannot reach its registry or AWS")
    } else {
        format!(
            "{no_route} and no VPC endpoint for {}: the task cannot reach {}",
            missing.join(", "),
            services_named(&missing)
        )
    };
    Check::new(CheckId::SubnetEgress, CheckOutcome::Confirms, detail)
}

/// A usable endpoint of `service` for this subnet: an interface endpoint in its VPC, or
/// a gateway endpoint on its route table.
fn serves(endpoint: &Endpoint, service: &str, vpc: Option<&str>, table: &str) -> bool {
    endpoint.service == service
        && endpoint.usable
        && vpc.is_some()
        && endpoint.vpc_id.as_deref() == vpc
        && (!endpoint.gateway || endpoint.route_table_ids.iter().any(|t| t == table))
}

/// `ECR, Secrets Manager and CloudWatch Logs` for endpoint services.
fn services_named(services: &[&str]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for service in services {
        let name = match *service {
            "ecr.api" | "ecr.dkr" | "s3" => "ECR",
            "secretsmanager" => "Secrets Manager",
            "ssm" => "SSM Parameter Store",
            "logs" => "CloudWatch Logs",
            other => other,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(targets: &[&str]) -> RouteTable {
        RouteTable {
            id: "rtb-1".into(),
            vpc_id: Some("vpc-1".into()),
            default_targets: targets.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn place(table: &RouteTable) -> Place<'_> {
        Place {
            subnet: "subnet-1",
            vpc: Some("vpc-1"),
            table,
        }
    }

    fn interface(service: &str, vpc: &str) -> Endpoint {
        Endpoint {
            id: format!("vpce-{}", service.replace('.', "")),
            service: service.into(),
            gateway: false,
            vpc_id: Some(vpc.into()),
            usable: true,
            route_table_ids: Vec::new(),
        }
    }

    #[test]
    fn a_blackhole_default_route_counts_as_none() {
        let blackholed = ec2::RouteTable::new(
            "rtb-1",
            "vpc-1",
            vec![ec2::Route {
                destination_cidr_block: Some("0.0.0.0/0".into()),
                nat_gateway_id: Some("nat-0deleted".into()),
                state: Some("blackhole".into()),
                ..ec2::Route::default()
            }],
        );
        let table = RouteTable::from(&blackholed);
        assert!(table.default_targets.is_empty(), "{table:?}");
        let check = judge(&place(&table), Some(&[]), &ECR_ENDPOINTS);
        assert_eq!(check.outcome, CheckOutcome::Confirms);
        assert_eq!(
            check.detail,
            "subnet subnet-1 (vpc-1) has no route to the internet (route table rtb-1: no 0.0.0.0/0 via a NAT or internet gateway) and no VPC endpoint for ecr.api, ecr.dkr, s3: the task cannot reach ECR"
        );
    }

    #[test]
    fn an_endpoint_in_another_vpc_or_a_gateway_on_another_table_does_not_count() {
        let table = table(&[]);
        let mut s3 = interface("s3", "vpc-1");
        s3.gateway = true;
        s3.route_table_ids = vec!["rtb-other".into()];
        let endpoints = [
            interface("ecr.api", "vpc-1"),
            interface("ecr.dkr", "vpc-2"),
            s3,
        ];
        let check = judge(&place(&table), Some(&endpoints), &ECR_ENDPOINTS);
        assert_eq!(check.outcome, CheckOutcome::Confirms);
        assert!(
            check.detail.contains("no VPC endpoint for ecr.dkr, s3:"),
            "{}",
            check.detail
        );
    }

    #[test]
    fn a_transit_gateway_default_route_is_not_called_a_dead_end() {
        let table = table(&["tgw-0abc"]);
        let check = judge(&place(&table), Some(&[]), &ECR_ENDPOINTS);
        assert_eq!(check.outcome, CheckOutcome::Context);
        assert!(check.detail.contains("tgw-0abc"), "{}", check.detail);
    }

    #[test]
    fn missing_secret_endpoints_are_named_by_service() {
        let table = table(&[]);
        let check = judge(&place(&table), Some(&[]), &["secretsmanager", "logs"]);
        assert!(
            check
                .detail
                .ends_with("the task cannot reach Secrets Manager and CloudWatch Logs"),
            "{}",
            check.detail
        );
    }
}
