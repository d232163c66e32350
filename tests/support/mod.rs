//! Shared helpers for integration tests: a fake AWS endpoint, a moto server, a fake
//! Slack Web API and a fake diagnosis engine for the bot.
#![allow(dead_code)]

pub mod alerts_world;
pub mod delay_proxy;
pub mod ec2;
pub mod endpoints;
pub mod fake_aws;
pub mod fake_iam;
pub mod fake_investigator;
pub mod fake_slack;
pub mod loopback;
pub mod moto;
pub mod probe_results;
pub mod serve_log;
pub mod store_contract;
pub mod test_app;
pub mod wait;
