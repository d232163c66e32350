//! The production [`Engine`]: `Gatherer` for AWS, `diagnose` for the cause, and
//! `render::blocks` for the card, its thread replies and the follow-up answers.
//!
//! Until the gather and render modules land, this engine answers every request with
//! a clear "not available in this build" message instead of panicking.

use super::config::Settings;
use super::engine::{Answer, Engine, EngineError, FailureKind};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::task_ref::Target;
use futures::future::BoxFuture;
use slack_morphism::prelude::SlackMessageContent;

/// Diagnoses against AWS with the standard credential chain.
pub struct AwsEngine {}

impl AwsEngine {
    pub async fn new(_settings: &Settings) -> AwsEngine {
        AwsEngine {}
    }
}

fn unavailable() -> EngineError {
    EngineError {
        kind: FailureKind::Aws,
        message: "this build of ecs-why has no AWS engine yet; upgrade to a release that includes gather and render".into(),
    }
}

impl Engine for AwsEngine {
    fn diagnose<'a>(
        &'a self,
        _target: &'a Target,
        _role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Answer, EngineError>> {
        Box::pin(async { Err(unavailable()) })
    }

    fn follow_up<'a>(
        &'a self,
        _kind: FollowUp,
        _button: &'a ButtonRef,
        _role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SlackMessageContent>, EngineError>> {
        Box::pin(async { Err(unavailable()) })
    }
}
