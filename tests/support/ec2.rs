//! Setting up a VPC in moto's EC2 for the subnet probe's tests, through the same signed
//! EC2 Query client the probe uses (ecs-why does not build `aws-sdk-ec2`).
#![allow(dead_code)]

use aws_config::SdkConfig;
use ecs_why::gather::ec2::Ec2Client;

/// Write calls against an emulated EC2.
pub struct Ec2 {
    client: Ec2Client,
}

impl Ec2 {
    pub fn new(config: &SdkConfig) -> Ec2 {
        Ec2 {
            client: Ec2Client::new(config, None),
        }
    }

    /// `action` with `params`; the first `<tag>` of the answer.
    async fn call(&self, action: &str, params: &[(&str, &str)], tag: &str) -> String {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let answer = self
            .client
            .call(action, &params)
            .await
            .unwrap_or_else(|e| panic!("moto's EC2 refused {action}: {}", e.message));
        first(&answer, tag).unwrap_or_else(|| panic!("{action} answered no <{tag}>: {answer}"))
    }

    pub async fn create_vpc(&self, cidr: &str) -> String {
        self.call("CreateVpc", &[("CidrBlock", cidr)], "vpcId")
            .await
    }

    pub async fn create_subnet(&self, vpc: &str, cidr: &str) -> String {
        self.call(
            "CreateSubnet",
            &[("VpcId", vpc), ("CidrBlock", cidr)],
            "subnetId",
        )
        .await
    }

    /// The VPC's main route table.
    pub async fn main_route_table(&self, vpc: &str) -> String {
        self.call(
            "DescribeRouteTables",
            &[("Filter.1.Name", "vpc-id"), ("Filter.1.Value.1", vpc)],
            "routeTableId",
        )
        .await
    }

    pub async fn create_route_table(&self, vpc: &str) -> String {
        self.call("CreateRouteTable", &[("VpcId", vpc)], "routeTableId")
            .await
    }

    pub async fn associate_route_table(&self, table: &str, subnet: &str) {
        self.call(
            "AssociateRouteTable",
            &[("RouteTableId", table), ("SubnetId", subnet)],
            "associationId",
        )
        .await;
    }

    /// A NAT gateway in `subnet` with a new elastic IP.
    pub async fn create_nat_gateway(&self, subnet: &str) -> String {
        let allocation = self
            .call("AllocateAddress", &[("Domain", "vpc")], "allocationId")
            .await;
        self.call(
            "CreateNatGateway",
            &[("SubnetId", subnet), ("AllocationId", &allocation)],
            "natGatewayId",
        )
        .await
    }

    /// An internet gateway attached to `vpc`.
    pub async fn attach_new_internet_gateway(&self, vpc: &str) -> String {
        let gateway = self
            .call("CreateInternetGateway", &[], "internetGatewayId")
            .await;
        self.call(
            "AttachInternetGateway",
            &[("InternetGatewayId", &gateway), ("VpcId", vpc)],
            "requestId",
        )
        .await;
        gateway
    }

    /// `0.0.0.0/0` in `table` to `target`: a `NatGatewayId` or a `GatewayId`.
    pub async fn default_route(&self, table: &str, target: (&str, &str)) {
        self.call(
            "CreateRoute",
            &[
                ("RouteTableId", table),
                ("DestinationCidrBlock", "0.0.0.0/0"),
                target,
            ],
            "requestId",
        )
        .await;
    }

    /// An interface endpoint for `com.amazonaws.us-east-1.<service>` in `subnet`.
    pub async fn interface_endpoint(&self, vpc: &str, service: &str, subnet: &str) -> String {
        let name = format!("com.amazonaws.us-east-1.{service}");
        self.call(
            "CreateVpcEndpoint",
            &[
                ("VpcId", vpc),
                ("VpcEndpointType", "Interface"),
                ("ServiceName", &name),
                ("SubnetId.1", subnet),
                ("PrivateDnsEnabled", "true"),
            ],
            "vpcEndpointId",
        )
        .await
    }

    /// A gateway endpoint for `com.amazonaws.us-east-1.<service>` on `table`.
    pub async fn gateway_endpoint(&self, vpc: &str, service: &str, table: &str) -> String {
        let name = format!("com.amazonaws.us-east-1.{service}");
        self.call(
            "CreateVpcEndpoint",
            &[
                ("VpcId", vpc),
                ("VpcEndpointType", "Gateway"),
                ("ServiceName", &name),
                ("RouteTableId.1", table),
            ],
            "vpcEndpointId",
        )
        .await
    }
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn first(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].trim().to_string())
}
