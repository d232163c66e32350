//! `task-limit-quota`: the account reached an ECS or Fargate quota.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;

const QUOTA_REASONS: &[&str] = &[
    "reached the limit on the number of",
    "limitexceeded",
    "limit exceeded",
    "service quota",
];

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !f.reasons_mention_any(QUOTA_REASONS) {
        return None;
    }
    let service_code = if f.on_fargate() { "fargate" } else { "ecs" };
    Some(
        Verdict::new(
            CauseId::TaskLimitQuota,
            format!(
                "{} could not run because the account reached a quota in {}: \"{}\".",
                f.subject(),
                f.region(),
                quotable(f.telling_reason())
            ),
        )
        .fix(format!(
            "Check the quota and request an increase: `aws service-quotas list-service-quotas --service-code {service_code} --region {}`.",
            f.region()
        ))
        .fix(fixes::QUOTA_SPREAD_WORKLOADS),
    )
}

fn headline(f: &Facts) -> Option<String> {
    f.task
        .region()
        .map(|r| format!("task quota of the account reached in {r}"))
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
