//! Benchmark of what the read-only probes add to the CLI's answer, in round trips.
//!
//! Every AWS call costs L ms: ECS, CloudWatch Logs and CloudTrail on the local fake AWS
//! (its own latency), ECR, EC2 and CloudWatch on moto's server and IAM's simulation on
//! a local fake, both behind a proxy that holds each request L ms. For each scenario it
//! times the CLI's path cold (a new gatherer per run, as each `ecs-why why` is a new
//! process) without probes and with them, at L and at no latency, and prints the round
//! trips the probes add to the answer: ((with − without) at L − (with − without) at 0) ÷ L,
//! the second term being the local work (moto's own time, the probes' CPU). Target: 1 at
//! most; 0 for a cause whose checks need no logs (they start beside the log read).
//!
//! Run: `cargo bench --bench probes` (BENCH_LATENCY_MS and BENCH_RUNS override the
//! defaults). Needs moto in ./.venv (`scripts/test-env`).

#[path = "../tests/support/delay_proxy.rs"]
mod delay_proxy;
#[path = "../tests/support/ec2.rs"]
mod ec2;
#[path = "../tests/support/endpoints.rs"]
mod endpoints;
#[path = "../tests/support/fake_aws.rs"]
mod fake_aws;
#[path = "../tests/support/fake_iam.rs"]
mod fake_iam;
#[path = "../tests/support/loopback.rs"]
mod loopback;
#[path = "../tests/support/moto.rs"]
mod moto;

mod support;

use aws_config::SdkConfig;
use delay_proxy::DelayProxy;
use ecs_why::gather::Gatherer;
use ecs_why::investigate::{Access, Investigate, Investigator, Subject};
use fake_aws::{canned, FakeAws, ACCOUNT, REGION};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{env_number, median, target};

const CLUSTER: &str = "bench";

/// One answer as the CLI makes it: gather, diagnose, and (with `probes`) confirm.
async fn answer(config: &SdkConfig, id: &str, probes: bool) -> (Duration, String) {
    let mut investigator = Investigator::from_gatherer(Gatherer::from_sdk_config(config));
    if !probes {
        investigator = investigator.without_probes();
    }
    let started = Instant::now();
    let subject = Subject::Named(target(CLUSTER, id));
    let access = Access::own();
    let answered = if probes {
        investigator.investigate_confirmed(&subject, &access).await
    } else {
        investigator.investigate(&subject, &access).await
    };
    let diagnosis = answered.expect("investigated").diagnosis;
    let confidence = ecs_why::render::json::confidence(&diagnosis);
    (started.elapsed(), confidence)
}

/// Medians of the answer without and with probes, over `runs` alternating runs.
async fn timed(config: &SdkConfig, id: &str, runs: usize) -> (Duration, Duration, String) {
    let mut without = Vec::new();
    let mut with = Vec::new();
    let mut confidence = String::new();
    for _ in 0..runs {
        without.push(answer(config, id, false).await.0);
        let (took, said) = answer(config, id, true).await;
        with.push(took);
        confidence = said;
    }
    (median(without), median(with), confidence)
}

/// The scenario at latency L and at none: what the probes add at L, less the local work
/// they add at 0 (moto's and the fakes' own time, the probes' CPU), is round trips × L.
async fn scenario(label: &str, setup: &Latency<'_>, id: &str, runs: usize) {
    setup.set(Duration::ZERO);
    let (without_0, with_0, _) = timed(setup.config, id, runs).await;
    setup.set(setup.latency);
    let (without, with, confidence) = timed(setup.config, id, runs).await;
    let l = setup.latency.as_secs_f64();
    let local = with_0.as_secs_f64() - without_0.as_secs_f64();
    let added = (with.as_secs_f64() - without.as_secs_f64() - local) / l;
    let verdict = if added <= 1.15 { "ok" } else { "OVER TARGET" };
    println!(
        "{label:<34} without {:>6.1} ms  with {:>6.1} ms  local work {:>5.1} ms  probes add {added:>4.2} round trips (target <= 1) {verdict}  [{confidence}]",
        without.as_secs_f64() * 1000.0,
        with.as_secs_f64() * 1000.0,
        local * 1000.0,
    );
}

/// Where the latency is set: the fake AWS and the proxies in front of moto and the fake
/// IAM.
struct Latency<'a> {
    latency: Duration,
    config: &'a SdkConfig,
    aws: &'a FakeAws,
    proxies: [&'a DelayProxy; 2],
}

impl Latency<'_> {
    fn set(&self, latency: Duration) {
        self.aws.set_latency(latency);
        for proxy in self.proxies {
            proxy.set_delay(latency);
        }
    }
}

/// `task` as a service task of `web` in subnet `subnet`, started by deployment `ecs-svc/2`.
fn in_service(mut task: Value, subnet: &str) -> Value {
    task["group"] = json!("service:web");
    task["startedBy"] = json!("ecs-svc/2");
    task["attachments"] = json!([{
        "type": "ElasticNetworkInterface",
        "status": "DELETED",
        "details": [{"name": "subnetId", "value": subnet}]
    }]);
    task
}

/// A subnet in moto whose route table sends 0.0.0.0/0 to an internet gateway.
async fn subnet_with_internet(config: &SdkConfig) -> String {
    let ec2 = ec2::Ec2::new(config);
    let vpc = ec2.create_vpc("10.0.0.0/16").await;
    let subnet = ec2.create_subnet(&vpc, "10.0.1.0/24").await;
    let gateway = ec2.attach_new_internet_gateway(&vpc).await;
    let table = ec2.create_route_table(&vpc).await;
    ec2.default_route(&table, ("GatewayId", &gateway)).await;
    ec2.associate_route_table(&table, &subnet).await;
    subnet
}

fn main() {
    let latency = Duration::from_millis(env_number("BENCH_LATENCY_MS", 50));
    let runs = env_number("BENCH_RUNS", 9).max(1) as usize;
    let runtime = support::runtime();
    runtime.block_on(async move {
        let aws = FakeAws::start().await;
        aws.set_latency(latency);
        let moto = moto::Moto::start();
        let moto_config = moto.sdk_config().await;
        moto::create_ecr_images(&moto_config, "web", &["1.4.1"]).await;
        let subnet = subnet_with_internet(&moto_config).await;
        let iam = fake_iam::FakeIam::start().await;
        let role = format!("arn:aws:iam::{ACCOUNT}:role/web-execution");
        for action in [
            "ecr:GetAuthorizationToken",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        ] {
            iam.grant(&role, action, "*");
        }
        let moto_port = moto.endpoint().rsplit(':').next().unwrap_or_default().to_string();
        let moto_proxy = DelayProxy::start(format!("127.0.0.1:{moto_port}"), latency).await;
        let iam_addr = iam.endpoint().trim_start_matches("http://").to_string();
        let iam_proxy = DelayProxy::start(iam_addr, latency).await;
        let config = endpoints::with_endpoints(
            &aws.sdk_config().await,
            &[
                ("ECR", moto_proxy.endpoint()),
                ("EC2", moto_proxy.endpoint()),
                ("CloudWatch", moto_proxy.endpoint()),
                ("IAM", iam_proxy.endpoint()),
            ],
        );
        aws.add_cluster(CLUSTER);
        aws.add_task_definition(canned::task_definition());
        let mut previous = canned::task_definition();
        previous["revision"] = json!(6);
        previous["taskDefinitionArn"] = json!(canned::task_definition_arn("web:6"));
        previous["containerDefinitions"][0]["image"] =
            json!(format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:1.4.1"));
        aws.add_task_definition(previous);
        aws.add_service(CLUSTER, "web", &[]);

        let pull = canned::task_id(1);
        aws.add_task(in_service(canned::pull_failed_task(CLUSTER, &pull), &subnet));
        let oom = canned::task_id(2);
        aws.add_task(in_service(
            canned::task(CLUSTER, &oom, "EssentialContainerExited", 137),
            &subnet,
        ));
        aws.add_log_lines(
            canned::LOG_GROUP,
            &canned::log_stream(&oom),
            (canned::STOPPED_AT as i64 - 30) * 1000,
            &["java.lang.OutOfMemoryError: Java heap space"],
        );
        let crashed = canned::task_id(3);
        aws.add_task(in_service(
            canned::task(CLUSTER, &crashed, "EssentialContainerExited", 1),
            &subnet,
        ));
        aws.add_log_lines(
            canned::LOG_GROUP,
            &canned::log_stream(&crashed),
            (canned::STOPPED_AT as i64 - 30) * 1000,
            &["KeyError: 'DATABASE_URL'"],
        );
        println!(
            "probes: {} ms per AWS call, {runs} runs each, median; a new investigator per run (the CLI)",
            latency.as_millis()
        );
        let setup = Latency {
            latency,
            config: &config,
            aws: &aws,
            proxies: [&moto_proxy, &iam_proxy],
        };
        scenario("image pull failed (service task)", &setup, &pull, runs).await;
        scenario("out of memory (service task)", &setup, &oom, runs).await;
        // Only what changed applies: it needs the task and its service, not the logs,
        // so it runs beside the log read and should add nothing.
        scenario("crashed (service task)", &setup, &crashed, runs).await;
    });
}
