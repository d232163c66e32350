//! May a role do what the task needed? IAM `SimulatePrincipalPolicy`, read-only.
//!
//! The simulation evaluates the role's identity policies (and its permissions boundary)
//! for each action on each resource. It does not see resource policies (an ECR
//! repository policy, a KMS key policy) nor SCPs, so an "allowed" answer rules out the
//! role's own policies, not every possible denial; a "denied" answer proves the role's
//! policies lack the action.

use super::unchecked;
use crate::evidence::probes::{Check, CheckId, CheckOutcome};
use crate::gather::failure::aws_failure;

/// The simulator's answer for one action on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: String,
    pub resource: String,
    /// `allowed`, `implicitDeny` or `explicitDeny`, as IAM spells it.
    pub decision: String,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.decision == "allowed"
    }
}

/// Simulate `actions` on `resources` for `role_arn`. `Err` holds the sentence for what
/// could not be checked (the action that was denied to ecs-why, or why the call failed).
pub async fn simulate(
    iam: &aws_sdk_iam::Client,
    role_arn: &str,
    actions: &[&str],
    resources: &[String],
) -> Result<Vec<Decision>, String> {
    let mut request = iam
        .simulate_principal_policy()
        .policy_source_arn(role_arn)
        .set_action_names(Some(actions.iter().map(|a| a.to_string()).collect()));
    if !resources.is_empty() {
        request = request.set_resource_arns(Some(resources.to_vec()));
    }
    let output = request.send().await.map_err(|err| {
        unchecked(
            &format!("whether {} may {}", role_name(role_arn), actions.join(", ")),
            "iam:SimulatePrincipalPolicy",
            &aws_failure(&err),
        )
    })?;
    Ok(output
        .evaluation_results()
        .iter()
        .map(|result| Decision {
            action: result.eval_action_name().to_string(),
            resource: result.eval_resource_name().unwrap_or("*").to_string(),
            decision: result.eval_decision().as_str().to_string(),
        })
        .collect())
}

/// The simulation as one check: `Confirms` naming each denied action (the cause
/// `what` needs), `RulesOut` when the role's policies allow all of them.
pub fn permission_check(
    probe: CheckId,
    role_arn: &str,
    what: &str,
    decisions: &[Decision],
) -> Check {
    let role = role_name(role_arn);
    let denied: Vec<String> = decisions
        .iter()
        .filter(|d| !d.allowed())
        .map(|d| {
            if d.resource == "*" {
                format!("{} ({})", d.action, d.decision)
            } else {
                format!("{} on {} ({})", d.action, d.resource, d.decision)
            }
        })
        .collect();
    if denied.is_empty() {
        let actions: Vec<&str> = decisions.iter().map(|d| d.action.as_str()).collect();
        Check::new(
            probe,
            CheckOutcome::RulesOut,
            format!(
                "{role}'s policies allow {} ({what})",
                dedup(&actions).join(", ")
            ),
        )
    } else {
        Check::new(
            probe,
            CheckOutcome::Confirms,
            format!("{role} may not {what}: {} denied", denied.join(", ")),
        )
    }
}

/// `role/ecsTaskExecutionRole` from its ARN, for sentences.
pub fn role_name(role_arn: &str) -> String {
    match role_arn.split_once(":role/") {
        Some((_, name)) => format!("role {name}"),
        None => role_arn.to_string(),
    }
}

fn dedup<'a>(items: &[&'a str]) -> Vec<&'a str> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(item) {
            seen.push(*item);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(action: &str, resource: &str, decision: &str) -> Decision {
        Decision {
            action: action.into(),
            resource: resource.into(),
            decision: decision.into(),
        }
    }

    #[test]
    fn a_denied_action_confirms_and_is_named_with_its_resource() {
        let check = permission_check(
            CheckId::PullPermission,
            "arn:aws:iam::123456789012:role/web-execution",
            "pull the image",
            &[
                decision("ecr:GetAuthorizationToken", "*", "allowed"),
                decision(
                    "ecr:BatchGetImage",
                    "arn:aws:ecr:us-east-1:123456789012:repository/web",
                    "implicitDeny",
                ),
            ],
        );
        assert_eq!(check.outcome, CheckOutcome::Confirms);
        assert_eq!(
            check.detail,
            "role web-execution may not pull the image: ecr:BatchGetImage on arn:aws:ecr:us-east-1:123456789012:repository/web (implicitDeny) denied"
        );
    }

    #[test]
    fn all_allowed_rules_the_role_out() {
        let check = permission_check(
            CheckId::PullPermission,
            "arn:aws:iam::123456789012:role/web-execution",
            "pull the image",
            &[
                decision("ecr:BatchGetImage", "arn:a", "allowed"),
                decision("ecr:BatchGetImage", "arn:b", "allowed"),
            ],
        );
        assert_eq!(check.outcome, CheckOutcome::RulesOut);
        assert_eq!(
            check.detail,
            "role web-execution's policies allow ecr:BatchGetImage (pull the image)"
        );
    }
}
