//! A stand-in diagnosis engine for the Slack tests and the storm benchmark: no AWS,
//! just a small card per target, so what is measured and asserted is the Slack side.
//!
//! Every target gets a card (`card for ID`) and two thread replies (`log tail of ID`,
//! `stopped by of ID`) after an adjustable delay; [`DENIED_TASK`] fails with IAM's
//! access denied and its fix. Follow-up buttons answer `ACTION_ID for TASK_ARN`. The
//! engine counts diagnoses and records follow-ups. Alerts (a task from an event) get
//! the real pure diagnosis and card of the task alone, after the same delay.
//! Used as `support::fake_engine` by tests and through `#[path]` by the benchmark.
#![allow(dead_code)]

use ecs_why::diagnose::diagnose;
use ecs_why::evidence::{Evidence, Task};
use ecs_why::follow_up::{ButtonRef, FollowUp};
use ecs_why::render::blocks;
use ecs_why::slack::engine::Alerted;
use ecs_why::slack::{Answer, Engine, EngineError, EngineErrorKind};
use ecs_why::task_ref::{Target, TaskRef};
use futures::future::BoxFuture;
use slack_morphism::prelude::SlackMessageContent;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The task id whose diagnosis IAM refuses.
pub const DENIED_TASK: &str = "dead0000000000000000000000000000";

/// Answers every target with a small card and two thread replies.
#[derive(Default)]
pub struct FakeEngine {
    /// Diagnoses run (after coalescing).
    pub diagnoses: AtomicUsize,
    /// Follow-up buttons answered, in order.
    pub follow_ups: Mutex<Vec<FollowUp>>,
    /// How long each diagnosis takes.
    pub delay: Mutex<Duration>,
}

impl FakeEngine {
    /// An engine whose every diagnosis takes `delay`.
    pub fn with_delay(delay: Duration) -> FakeEngine {
        FakeEngine {
            delay: Mutex::new(delay),
            ..FakeEngine::default()
        }
    }

    /// Diagnoses run so far.
    pub fn diagnoses(&self) -> usize {
        self.diagnoses.load(Ordering::SeqCst)
    }
}

fn text(s: String) -> SlackMessageContent {
    SlackMessageContent::new().with_text(s)
}

/// An alert diagnosed from the event's task alone (no task definition, no logs), with
/// the real pure diagnosis and card.
pub fn alert_from_task_alone(task: &Task) -> Alerted {
    let diagnosis = diagnose(&Evidence {
        task: task.clone(),
        ..Evidence::default()
    });
    Alerted {
        answer: Answer {
            task_arn: task.arn.clone(),
            card: blocks::card(&diagnosis),
            details: Vec::new(),
            to_confirm: None,
        },
        diagnosis,
    }
}

fn task_id(target: &Target) -> String {
    match &target.task {
        TaskRef::Task { task_id } => task_id.clone(),
        TaskRef::Service { service } => service.clone(),
    }
}

impl Engine for FakeEngine {
    fn diagnose_stopped<'a>(
        &'a self,
        task: &'a Task,
        _role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Alerted, EngineError>> {
        Box::pin(async move {
            let delay = *self.delay.lock().expect("not poisoned");
            tokio::time::sleep(delay).await;
            self.diagnoses.fetch_add(1, Ordering::SeqCst);
            Ok(alert_from_task_alone(task))
        })
    }

    fn diagnose<'a>(
        &'a self,
        target: &'a Target,
        _role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Answer, EngineError>> {
        Box::pin(async move {
            let delay = *self.delay.lock().expect("not poisoned");
            tokio::time::sleep(delay).await;
            self.diagnoses.fetch_add(1, Ordering::SeqCst);
            let id = task_id(target);
            if id == DENIED_TASK {
                return Err(EngineError {
                    kind: EngineErrorKind::AccessDenied,
                    message: "ecs:DescribeTasks is not allowed for role ecs-why; add it to the task role (deploy/iam-policy.json)".into(),
                });
            }
            Ok(Answer {
                task_arn: format!("arn:aws:ecs:eu-west-1:123456789012:task/prod/{id}"),
                card: text(format!("card for {id}")),
                details: vec![
                    text(format!("log tail of {id}")),
                    text(format!("stopped by of {id}")),
                ],
                to_confirm: None,
            })
        })
    }

    fn follow_up<'a>(
        &'a self,
        kind: FollowUp,
        button: &'a ButtonRef,
        _role_arn: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<SlackMessageContent>, EngineError>> {
        Box::pin(async move {
            self.follow_ups.lock().expect("not poisoned").push(kind);
            Ok(vec![text(format!(
                "{} for {}",
                kind.action_id(),
                button.task_arn
            ))])
        })
    }
}
