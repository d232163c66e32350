//! ecs-why: explains why an Amazon ECS task stopped.
//!
//! Data flows one way: a [`task_ref::Target`] parsed at the edge, [`gather`] turns AWS
//! answers into [`evidence::Evidence`], [`diagnose`] turns evidence into a
//! [`diagnose::Diagnosis`] without I/O, and [`render`] prints it for a terminal, as JSON,
//! or as a Slack message.

pub mod actions;
pub mod alerts;
pub mod arn;
pub mod aws;
pub mod config;
pub mod diagnose;
pub mod evidence;
pub mod follow_up;
pub mod gather;
pub mod healthcheck;
pub mod incidents;
pub mod input;
pub mod investigate;
pub mod metrics;
pub mod output;
pub mod redact;
pub mod render;
pub mod serve;
pub mod shutdown;
pub mod single_flight;
pub mod slack;
pub mod slack_api;
pub mod state;
pub mod task_ref;
pub mod telemetry;
pub mod text;
pub mod time;
pub mod values;
