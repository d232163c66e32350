//! Judging an action's deployment from what DescribeServices says, and the sentences
//! the thread gets. Pure: [`super::run`] reads the service and sleeps.

use super::{ActionKind, Offer};
use crate::evidence::Deployment;
use std::time::Duration;

/// Where the deployment an action started stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still rolling out: "1 of 3 tasks running".
    Rolling { running: i32, desired: i32 },
    /// Every task runs: ECS says the rollout completed (or, without rollout states, the
    /// deployment is the only one and has all its tasks).
    Reached { running: i32, desired: i32 },
    /// ECS gave up on it (the circuit breaker), with its reason.
    Failed(String),
    /// Another deployment replaced it before it finished (someone deployed again).
    Superseded(String),
}

/// Where `deployment_id` stands among `deployments` (as DescribeServices lists them).
pub fn judge(deployments: &[Deployment], deployment_id: &str) -> Progress {
    let Some(ours) = deployments.iter().find(|d| d.id == deployment_id) else {
        let primary = deployments
            .iter()
            .find(|d| d.status.as_deref() == Some("PRIMARY"));
        return Progress::Superseded(match primary {
            Some(p) => format!(
                "deployment {} ({}) replaced it",
                p.id,
                p.task_definition
                    .as_deref()
                    .map(crate::arn::task_definition_name)
                    .unwrap_or("another revision")
            ),
            None => "ECS no longer lists its deployment".to_string(),
        });
    };
    let running = ours.running_count.unwrap_or(0);
    let desired = ours.desired_count.unwrap_or(0);
    match ours.rollout_state.as_deref() {
        Some("FAILED") => Progress::Failed(
            ours.rollout_state_reason
                .clone()
                .unwrap_or_else(|| "ECS marked the deployment FAILED".to_string()),
        ),
        Some("COMPLETED") => Progress::Reached { running, desired },
        Some(_) => Progress::Rolling { running, desired },
        None if deployments.len() == 1 && running >= desired => {
            Progress::Reached { running, desired }
        }
        None => Progress::Rolling { running, desired },
    }
}

/// The thread line that says an action has started.
pub fn started_line(offer: &Offer, user: &str, place: &str, deployment: &str) -> String {
    let deployment = crate::render::escape::mrkdwn(deployment);
    match offer.kind {
        ActionKind::RollBack => format!(
            ":leftwards_arrow_with_hook: <@{user}> rolled *{}* back to `{}` · deployment `{deployment}` · {}",
            crate::render::escape::mrkdwn(&offer.service),
            crate::render::escape::mrkdwn(offer.to_name().unwrap_or("?")),
            crate::render::escape::mrkdwn(place),
        ),
        ActionKind::Restart => format!(
            ":arrows_counterclockwise: <@{user}> restarted *{}* (`{}`) · deployment `{deployment}` · {}",
            crate::render::escape::mrkdwn(&offer.service),
            crate::render::escape::mrkdwn(offer.from_name()),
            crate::render::escape::mrkdwn(place),
        ),
    }
}

/// "3 of 3 tasks running web:41".
fn running_text(offer: &Offer, running: i32, desired: i32) -> String {
    let revision = match offer.kind {
        ActionKind::RollBack => offer.to_name().unwrap_or("the target revision"),
        ActionKind::Restart => offer.from_name(),
    };
    format!("{running} of {desired} tasks running {revision}")
}

/// The outcome line: "rollback complete: 3 of 3 tasks running web:41, steady for 5 min",
/// or why not. `steady`: how long it stayed so before being called done.
pub fn outcome_line(offer: &Offer, last: &Progress, steady: Duration, finished: bool) -> String {
    let what = offer.kind.label();
    let text = match last {
        Progress::Reached { running, desired } if finished => format!(
            ":white_check_mark: {what} complete: {}, steady for {}",
            running_text(offer, *running, *desired),
            human(steady)
        ),
        Progress::Reached { running, desired } => format!(
            ":warning: {what} did not stay steady: {} after it completed; see the service's events",
            running_text(offer, *running, *desired)
        ),
        Progress::Rolling { running, desired } => format!(
            ":hourglass: {what} not finished after {}: {}; follow it in the ECS console",
            human(super::WATCH_AT_MOST),
            running_text(offer, *running, *desired)
        ),
        Progress::Failed(reason) => format!(
            ":x: {what} failed: {}",
            crate::render::escape::mrkdwn(&crate::text::truncate(reason, 500))
        ),
        Progress::Superseded(by) => format!(
            ":twisted_rightwards_arrows: {what} superseded: {}",
            crate::render::escape::mrkdwn(by)
        ),
    };
    text
}

/// The metric outcome of a finished watch.
pub fn outcome_label(last: &Progress, finished: bool) -> &'static str {
    match last {
        Progress::Reached { .. } if finished => "completed",
        Progress::Reached { .. } | Progress::Failed(_) => "failed",
        Progress::Rolling { .. } => "timed_out",
        Progress::Superseded(_) => "superseded",
    }
}

/// "5 min", "90 s".
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, status: &str, rollout: Option<&str>, running: i32) -> Deployment {
        Deployment {
            id: id.into(),
            status: Some(status.into()),
            task_definition: Some("arn:aws:ecs:eu-west-1:1:task-definition/web:41".into()),
            rollout_state: rollout.map(str::to_string),
            rollout_state_reason: Some("tasks failed to start".into()),
            running_count: Some(running),
            desired_count: Some(3),
            ..Deployment::default()
        }
    }

    fn offer() -> Offer {
        Offer {
            kind: ActionKind::RollBack,
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            cluster: "prod".into(),
            service: "web".into(),
            from: "arn:aws:ecs:eu-west-1:1:task-definition/web:42".into(),
            to: Some("arn:aws:ecs:eu-west-1:1:task-definition/web:41".into()),
            basis: Some("previous deployment".into()),
            channel: "C0PROD".into(),
            incident: None,
            offered_at: 0,
        }
    }

    #[test]
    fn every_state_of_the_deployment_is_told() {
        let ours = "ecs-svc/9";
        let rolling = [deployment(ours, "PRIMARY", Some("IN_PROGRESS"), 1)];
        assert_eq!(
            judge(&rolling, ours),
            Progress::Rolling {
                running: 1,
                desired: 3
            }
        );
        let done = [deployment(ours, "PRIMARY", Some("COMPLETED"), 3)];
        assert_eq!(
            judge(&done, ours),
            Progress::Reached {
                running: 3,
                desired: 3
            }
        );
        let failed = [
            deployment("ecs-svc/10", "PRIMARY", Some("IN_PROGRESS"), 0),
            deployment(ours, "ACTIVE", Some("FAILED"), 0),
        ];
        assert_eq!(
            judge(&failed, ours),
            Progress::Failed("tasks failed to start".into())
        );
        let replaced = [deployment("ecs-svc/10", "PRIMARY", Some("IN_PROGRESS"), 0)];
        assert!(
            matches!(judge(&replaced, ours), Progress::Superseded(s) if s.contains("ecs-svc/10"))
        );
    }

    #[test]
    fn the_outcome_says_what_runs() {
        let line = outcome_line(
            &offer(),
            &Progress::Reached {
                running: 3,
                desired: 3,
            },
            Duration::from_secs(300),
            true,
        );
        assert_eq!(
            line,
            ":white_check_mark: rollback complete: 3 of 3 tasks running web:41, steady for 5 min"
        );
        let failed = outcome_line(
            &offer(),
            &Progress::Failed("<!channel> boom".into()),
            Duration::ZERO,
            true,
        );
        assert!(failed.starts_with(":x: rollback failed:"), "{failed}");
        assert!(!failed.contains("<!channel>"), "{failed}");
        assert_eq!(
            outcome_label(&Progress::Failed(String::new()), true),
            "failed"
        );
    }
}
