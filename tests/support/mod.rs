//! Shared helpers for integration tests: a fake AWS endpoint, a moto server and a
//! fake Slack Web API.
#![allow(dead_code)]

pub mod fake_aws;
pub mod fake_slack;
pub mod moto;
