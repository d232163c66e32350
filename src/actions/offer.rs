//! What a card may offer, and its buttons.
//!
//! [`possible`] decides from the evidence alone (no AWS call): a task of a service, in a
//! channel with actions on, in an account with a write role. "Restart service" always
//! then; "Roll back to web:41" only when the revision the service ran before the task's
//! deployment is known and differs from the one the service runs now. [`buttons`]
//! renders them with Slack's confirm dialog naming the service, cluster, account and the
//! change; [`fit`] puts them on a card without passing its button limit, dropping
//! follow-ups (from the end) before an action.

use super::{ActionKind, Offer};
use crate::config::actions::ActionSettings;
use crate::config::AccountMap;
use crate::evidence::Evidence;
use crate::follow_up::FollowUp;
use crate::text::truncate;
use serde_json::{json, Value};

/// The offers a card of `evidence` may carry in `channel`, without their ids.
pub fn possible(
    evidence: &Evidence,
    channel: &str,
    incident: Option<&str>,
    actions: &ActionSettings,
    now: i64,
) -> Vec<Offer> {
    let task = &evidence.task;
    let (Some(service), Some(account), Some(region)) = (
        task.service_name(),
        crate::arn::account(&task.arn),
        task.region(),
    ) else {
        return Vec::new();
    };
    if !actions.in_channel(channel) || actions.role_for(account).is_none() {
        return Vec::new();
    }
    // What the service runs now: its PRIMARY deployment's definition, else (service not
    // read) the task's own.
    let current = evidence
        .service
        .as_ref()
        .and_then(|s| {
            s.deployments
                .iter()
                .find(|d| d.status.as_deref() == Some("PRIMARY"))
        })
        .and_then(|d| d.task_definition.clone());
    let from = current
        .clone()
        .unwrap_or_else(|| task.task_definition.clone());
    if from.is_empty() {
        return Vec::new();
    }
    let base = Offer {
        kind: ActionKind::Restart,
        account: account.to_string(),
        region: region.to_string(),
        cluster: task.cluster_name().to_string(),
        service: service.to_string(),
        from,
        to: None,
        basis: None,
        channel: channel.to_string(),
        incident: incident.map(str::to_string),
        offered_at: now,
    };
    let mut offers = Vec::new();
    let target = crate::gather::probes::changes::rollback_target(evidence);
    if let (Some(current), Some((to, basis))) = (current, target) {
        let name = crate::arn::task_definition_name(&to);
        let differs = name != crate::arn::task_definition_name(&current);
        // Never "back" to a revision whose own deployment failed (a task of the
        // circuit breaker's rollback sees the failed deployment as the one before).
        let failed_before = evidence
            .service
            .iter()
            .flat_map(|s| &s.deployments)
            .any(|d| {
                d.rollout_state.as_deref() == Some("FAILED")
                    && d.task_definition
                        .as_deref()
                        .is_some_and(|td| crate::arn::task_definition_name(td) == name)
            });
        if differs && !failed_before {
            offers.push(Offer {
                kind: ActionKind::RollBack,
                to: Some(to),
                basis: Some(basis.to_string()),
                ..base.clone()
            });
        }
    }
    offers.push(base);
    offers
}

/// "web in prod (payments-prod, 210987654321)": how the confirm dialog and the thread
/// name the service.
pub fn where_(offer: &Offer, accounts: &AccountMap) -> String {
    let account = match accounts.get(&offer.account).and_then(|a| a.name.as_deref()) {
        Some(name) => format!("{name}, {}", offer.account),
        None => offer.account.clone(),
    };
    format!("{} in {} ({account})", offer.service, offer.cluster)
}

/// The button of `offer`, carrying only `id`, behind a confirm dialog.
pub fn button(offer: &Offer, id: &str, accounts: &AccountMap) -> Value {
    let place = where_(offer, accounts);
    let (text, title, change, confirm) = match offer.kind {
        ActionKind::RollBack => {
            let to = offer.to_name().unwrap_or("the previous revision");
            let basis = offer
                .basis
                .as_deref()
                .map(|b| format!(" (the {b})"))
                .unwrap_or_default();
            (
                format!("Roll back to {to}"),
                "Roll back the service?".to_string(),
                format!("{place}: {} → {to}{basis}.", offer.from_name()),
                "Roll back",
            )
        }
        ActionKind::Restart => (
            "Restart service".to_string(),
            "Restart the service?".to_string(),
            format!(
                "{place}: a new deployment of {}; ECS replaces the running tasks as the service's deployment settings allow.",
                offer.from_name()
            ),
            "Restart",
        ),
    };
    json!({
        "type": "button",
        "action_id": offer.kind.action_id(),
        "text": {"type": "plain_text", "text": truncate(&text, 75)},
        "value": id,
        "style": "danger",
        "confirm": {
            "title": {"type": "plain_text", "text": title},
            "text": {"type": "plain_text", "text": truncate(&change, 300)},
            "confirm": {"type": "plain_text", "text": confirm},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger"
        }
    })
}

/// Whether a card element is one of the actions' buttons.
pub fn is_action_button(element: &Value) -> bool {
    element
        .get("action_id")
        .and_then(Value::as_str)
        .and_then(ActionKind::from_action_id)
        .is_some()
}

/// A follow-up button (not Acknowledge or Mute, not an action): what gives way first.
fn is_follow_up(element: &Value) -> bool {
    element
        .get("action_id")
        .and_then(Value::as_str)
        .and_then(FollowUp::from_action_id)
        .is_some_and(|f| !matches!(f, FollowUp::Acknowledge | FollowUp::Mute))
}

/// `card` (as JSON) with `actions` after its own buttons (any earlier action buttons
/// replaced), at most `limit` buttons: follow-ups are dropped from the end first.
pub fn fit(card: &mut Value, actions: Vec<Value>, limit: usize) {
    let Some(blocks) = card.get_mut("blocks").and_then(Value::as_array_mut) else {
        return;
    };
    let existing = blocks
        .iter_mut()
        .find(|b| b.get("type").and_then(Value::as_str) == Some("actions"))
        .and_then(|b| b.get_mut("elements"))
        .and_then(Value::as_array_mut);
    let elements = match existing {
        Some(elements) => elements,
        None if actions.is_empty() => return,
        None => {
            blocks.push(json!({"type": "actions", "elements": []}));
            match blocks
                .last_mut()
                .and_then(|b| b.get_mut("elements"))
                .and_then(Value::as_array_mut)
            {
                Some(elements) => elements,
                None => return,
            }
        }
    };
    elements.retain(|e| !is_action_button(e));
    elements.extend(actions);
    while elements.len() > limit {
        match elements.iter().rposition(is_follow_up) {
            Some(at) => {
                elements.remove(at);
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{Deployment, ServiceFacts, Task, TaskDefinition};

    const TD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web";

    fn settings() -> ActionSettings {
        crate::config::actions::parse(
            "[actions]\nrole_arn = \"arn:aws:iam::123456789012:role/ecs-why-operate\"\nallowed = [\"U0ALICE\"]\nchannels = [\"C0PROD\"]\n",
        )
        .unwrap()
        .unwrap()
    }

    fn evidence(primary: &str, active: Option<&str>) -> Evidence {
        let mut deployments = vec![Deployment {
            id: "ecs-svc/2".into(),
            status: Some("PRIMARY".into()),
            task_definition: Some(format!("{TD}:{primary}")),
            ..Deployment::default()
        }];
        if let Some(active) = active {
            deployments.push(Deployment {
                id: "ecs-svc/1".into(),
                status: Some("ACTIVE".into()),
                task_definition: Some(format!("{TD}:{active}")),
                ..Deployment::default()
            });
        }
        Evidence {
            task: Task {
                arn:
                    "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef"
                        .into(),
                cluster: "prod".into(),
                group: Some("service:web".into()),
                task_definition: format!("{TD}:42"),
                started_by: Some("ecs-svc/2".into()),
                ..Task::default()
            },
            task_definition: Some(TaskDefinition {
                arn: format!("{TD}:42"),
                family: "web".into(),
                revision: 42,
                ..TaskDefinition::default()
            }),
            service: Some(ServiceFacts {
                name: "web".into(),
                deployments,
                ..ServiceFacts::default()
            }),
            ..Evidence::default()
        }
    }

    #[test]
    fn a_failing_deployment_offers_the_revision_before_it_and_a_restart() {
        let offers = possible(&evidence("42", Some("41")), "C0PROD", None, &settings(), 0);
        let kinds: Vec<ActionKind> = offers.iter().map(|o| o.kind).collect();
        assert_eq!(kinds, [ActionKind::RollBack, ActionKind::Restart]);
        assert_eq!(offers[0].to_name(), Some("web:41"));
        assert_eq!(offers[0].basis.as_deref(), Some("previous deployment"));
        assert_eq!(offers[0].from_name(), "web:42");
        assert_eq!(
            offers[0].service_key(),
            "acting#123456789012#eu-west-1#prod#web"
        );
    }

    #[test]
    fn no_rollback_to_what_the_service_runs_already() {
        // The circuit breaker rolled back already: the service runs web:41 again, and
        // the failing task was started by the failed deployment of web:42.
        let mut rolled_back = evidence("41", Some("42"));
        rolled_back.task.started_by = Some("ecs-svc/1".into());
        let offers = possible(&rolled_back, "C0PROD", None, &settings(), 0);
        let kinds: Vec<ActionKind> = offers.iter().map(|o| o.kind).collect();
        assert_eq!(kinds, [ActionKind::Restart]);
        // A task of the rollback's own deployment: the deployment before it failed.
        let mut of_the_rollback = evidence("41", Some("42"));
        if let Some(service) = of_the_rollback.service.as_mut() {
            service.deployments[1].rollout_state = Some("FAILED".into());
        }
        of_the_rollback.task.task_definition = format!("{TD}:41");
        let offers = possible(&of_the_rollback, "C0PROD", None, &settings(), 0);
        let kinds: Vec<ActionKind> = offers.iter().map(|o| o.kind).collect();
        assert_eq!(kinds, [ActionKind::Restart]);
    }

    #[test]
    fn nothing_outside_the_channels_the_accounts_or_services() {
        assert!(possible(&evidence("42", Some("41")), "C0OTHER", None, &settings(), 0).is_empty());
        let mut other_account = evidence("42", Some("41"));
        other_account.task.arn = other_account
            .task
            .arn
            .replace("123456789012", "210987654321");
        assert!(possible(&other_account, "C0PROD", None, &settings(), 0).is_empty());
        let mut standalone = evidence("42", Some("41"));
        standalone.task.group = Some("family:web".into());
        assert!(possible(&standalone, "C0PROD", None, &settings(), 0).is_empty());
    }

    #[test]
    fn the_confirm_dialog_names_the_change() {
        let offers = possible(&evidence("42", Some("41")), "C0PROD", None, &settings(), 0);
        let button = button(&offers[0], "abc", &AccountMap::default());
        assert_eq!(button["text"]["text"], "Roll back to web:41");
        assert_eq!(button["value"], "abc");
        assert_eq!(
            button["confirm"]["text"]["text"],
            "web in prod (123456789012): web:42 → web:41 (the previous deployment)."
        );
    }

    #[test]
    fn follow_ups_give_way_to_actions() {
        let follow = |id: &str| json!({"type": "button", "action_id": id});
        let mut card = json!({"blocks": [{"type": "actions", "elements": [
            follow("ecs_why_acknowledge"), follow("ecs_why_mute"),
            follow("ecs_why_more_logs"), follow("ecs_why_rerun"), follow("ecs_why_task_definition"),
        ]}]});
        fit(
            &mut card,
            vec![follow("ecs_why_roll_back"), follow("ecs_why_restart")],
            5,
        );
        let ids: Vec<&str> = card["blocks"][0]["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "ecs_why_acknowledge",
                "ecs_why_mute",
                "ecs_why_more_logs",
                "ecs_why_roll_back",
                "ecs_why_restart"
            ]
        );
    }
}
