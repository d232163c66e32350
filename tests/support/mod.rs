//! Shared helpers for integration tests: a fake AWS endpoint and a moto server.
#![allow(dead_code)]

pub mod fake_aws;
pub mod moto;
