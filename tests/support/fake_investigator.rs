//! A stand-in investigator for the Slack tests and the storm benchmark: no AWS, just a
//! small real investigation per target, so what is measured and asserted is the Slack
//! side.
//!
//! Every target is answered, after an adjustable delay, with a task whose card says
//! `card for ID` and whose thread gets two details: a log tail holding `log tail of ID`
//! and a "who stopped it" reply. [`DENIED_TASK`] fails with IAM's access denied and its
//! fix. A follow-up button finds data marked `ACTION_ID for TASK_ARN` ([`marker`]). The
//! investigator counts investigations and records follow-ups. Alerts (a task from an
//! event) get the real pure diagnosis of the task alone, after the same delay.
//! Used as `support::fake_investigator` by tests and through `#[path]` by the benchmark.
#![allow(dead_code)]

use ecs_why::diagnose::diagnose;
use ecs_why::evidence::{
    ContainerLogs, Evidence, LogLine, ServiceEvent, StopLookup, StoppedBy, Task, TaskDefinition,
};
use ecs_why::follow_up::{ButtonRef, FollowUp};
use ecs_why::investigate::{
    Access, ErrorKind, FollowUpFound, Investigate, InvestigateError, Investigation, Subject,
};
use ecs_why::task_ref::{Target, TaskRef};
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The task id whose investigation IAM refuses.
pub const DENIED_TASK: &str = "dead0000000000000000000000000000";

/// Answers every target with a small investigation.
#[derive(Default)]
pub struct FakeInvestigator {
    /// Investigations run (after coalescing).
    pub diagnoses: AtomicUsize,
    /// Follow-up buttons answered, in order.
    pub follow_ups: Mutex<Vec<FollowUp>>,
    /// How long each investigation takes.
    pub delay: Mutex<Duration>,
}

impl FakeInvestigator {
    /// An investigator whose every investigation takes `delay`.
    pub fn with_delay(delay: Duration) -> FakeInvestigator {
        FakeInvestigator {
            delay: Mutex::new(delay),
            ..FakeInvestigator::default()
        }
    }

    /// Investigations run so far.
    pub fn diagnoses(&self) -> usize {
        self.diagnoses.load(Ordering::SeqCst)
    }

    async fn wait(&self) {
        let delay = *self.delay.lock().expect("not poisoned");
        tokio::time::sleep(delay).await;
        self.diagnoses.fetch_add(1, Ordering::SeqCst);
    }
}

/// What a follow-up of `kind` on `task_arn` finds, written into its data.
pub fn marker(kind: FollowUp, task_arn: &str) -> String {
    format!("{} for {task_arn}", kind.action_id())
}

/// An alert investigated from the event's task alone (no task definition, no logs),
/// with the real pure diagnosis.
pub fn alert_from_task_alone(task: &Task) -> Investigation {
    Investigation::of(Evidence {
        task: task.clone(),
        ..Evidence::default()
    })
}

/// Task `id` in `prod`, its container `app` exited 1, with a log line and a lookup of
/// who stopped it; its card's text is `card for ID`.
pub fn small_investigation(id: &str) -> Investigation {
    let arn = format!("arn:aws:ecs:eu-west-1:123456789012:task/prod/{id}");
    let evidence = Evidence {
        task: Task {
            arn: arn.clone(),
            cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod".into(),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            containers: vec![ecs_why::evidence::Container {
                name: "app".into(),
                exit_code: Some(1),
                ..Default::default()
            }],
            ..Task::default()
        },
        logs: vec![ContainerLogs {
            container: "app".into(),
            lines: vec![LogLine {
                timestamp: None,
                message: format!("log tail of {id}"),
            }],
            ..ContainerLogs::default()
        }],
        stop_lookup: StopLookup::NotFoundYet,
        ..Evidence::default()
    };
    let mut diagnosis = diagnose(&evidence);
    diagnosis.headline = format!("card for {id}");
    diagnosis.owner = None;
    Investigation {
        evidence: Arc::new(evidence),
        diagnosis: Arc::new(diagnosis),
        early: None,
    }
}

fn task_id(target: &Target) -> String {
    match &target.task {
        TaskRef::Task { task_id } => task_id.clone(),
        TaskRef::Service { service } => service.clone(),
    }
}

impl Investigate for FakeInvestigator {
    fn investigate<'a>(
        &'a self,
        subject: &'a Subject,
        _access: &'a Access,
    ) -> BoxFuture<'a, Result<Investigation, InvestigateError>> {
        Box::pin(async move {
            self.wait().await;
            let target = match subject {
                Subject::Stopped(task) => return Ok(alert_from_task_alone(task)),
                Subject::Named(target) => target,
            };
            let id = task_id(target);
            if id == DENIED_TASK {
                return Err(InvestigateError {
                    kind: ErrorKind::AccessDenied,
                    message: "ecs:DescribeTasks is not allowed for role ecs-why; add it to the task role (deploy/iam-policy.json)".into(),
                });
            }
            Ok(small_investigation(&id))
        })
    }

    fn confirm<'a>(
        &'a self,
        _investigation: &'a Investigation,
        _access: &'a Access,
    ) -> BoxFuture<'a, Option<Investigation>> {
        Box::pin(async { None })
    }

    fn follow_up<'a>(
        &'a self,
        kind: FollowUp,
        button: &'a ButtonRef,
        _access: &'a Access,
    ) -> BoxFuture<'a, Result<FollowUpFound, InvestigateError>> {
        Box::pin(async move {
            self.follow_ups.lock().expect("not poisoned").push(kind);
            let marker = marker(kind, &button.task_arn);
            Ok(match kind {
                FollowUp::MoreLogs => FollowUpFound::LogPage(ContainerLogs {
                    container: "app".into(),
                    lines: vec![LogLine {
                        timestamp: None,
                        message: marker,
                    }],
                    ..ContainerLogs::default()
                }),
                FollowUp::ServiceEvents => FollowUpFound::ServiceEvents(vec![ServiceEvent {
                    created_at: None,
                    message: marker,
                }]),
                _ => {
                    let mut now = small_investigation("0123456789abcdef0123456789abcdef");
                    let evidence = Arc::make_mut(&mut now.evidence);
                    evidence.stop_lookup = StopLookup::Found(StoppedBy {
                        arn: Some(format!("arn:aws:iam::123456789012:user/{marker}")),
                        ..StoppedBy::default()
                    });
                    evidence.task_definition = Some(TaskDefinition {
                        family: marker,
                        revision: 1,
                        ..TaskDefinition::default()
                    });
                    FollowUpFound::Now(now)
                }
            })
        })
    }
}
