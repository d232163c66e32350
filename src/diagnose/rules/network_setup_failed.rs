//! `network-setup-failed`: ECS could not create or attach the task's network interface.

use super::meaning::Meaning;
use super::{Facts, Verdict};
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::evidence::probes::{CheckRequest, Reach};
use regex::Regex;
use std::sync::LazyLock;

/// Reason wording about the task's ENI or its network setup.
static NETWORK_INTERFACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\beni\b|network interface|failed to set ?up network|cni plugin|free (?:ip )?addresses|insufficientfreeaddresses|networkinterface|containernetworkingerror|container resource provisioning|cni configuration")
        .expect("valid eni regex")
});

/// The subnet ran out of addresses: both words ("There are not enough free addresses in
/// subnet", `InsufficientFreeAddressesInSubnet`).
const NO_FREE_ADDRESSES: [&str; 2] = ["free", "address"];

pub fn recognise(f: &Facts) -> Option<Verdict> {
    if !NETWORK_INTERFACE.is_match(&f.all_reasons_lowercase) {
        return None;
    }
    let mut verdict = Verdict::new(
        CauseId::NetworkSetupFailed,
        format!(
            "{} could not start: ECS could not set up its network interface: \"{}\".",
            f.subject(),
            quotable(f.telling_reason())
        ),
    );
    if NO_FREE_ADDRESSES.iter().all(|word| f.reasons_mention(word)) {
        verdict = verdict.fix(format!(
            "The subnet ran out of IP addresses: check with `aws ec2 describe-subnets --region {}` (AvailableIpAddressCount) and add subnets or larger ones to the service's network configuration.",
            f.region()
        ));
    }
    // On EC2 the agent sets up the namespace with its CNI plugins, on the instance.
    if !f.on_fargate() && f.reasons_mention_any(AGENT_NETWORK_SETUP) {
        verdict = verdict.fix(
            "The ECS agent could not set up the task's network namespace on its instance: read the agent's logs in `/var/log/ecs/` on that instance, and restart the agent or replace the instance if it repeats.",
        );
    }
    Some(verdict.general_fixes())
}

/// The agent's words for a network namespace it could not set up (EC2).
const AGENT_NETWORK_SETUP: &[&str] = &[
    "containernetworkingerror",
    "container resource provisioning",
    "cni plugin",
];

static SUBNET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"subnet-[0-9a-f]+").expect("valid subnet regex"));

fn headline(f: &Facts) -> Option<String> {
    if let Some(subnet) = SUBNET.find(f.telling_reason()) {
        if f.reasons_mention("free addresses") {
            return Some(format!(
                "subnet {} has no free IP addresses",
                subnet.as_str()
            ));
        }
    }
    f.reasons_mention("timeout waiting for network interface")
        .then(|| "network interface provisioning timed out".to_string())
}

/// Where the subnet routes is worth showing, but a network interface that could not be
/// set up is not explained by it: context, not proof.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| {
        vec![CheckRequest::SubnetEgress {
            reach: Reach::TaskServices,
            proves: false,
        }]
    },
    key_changes: &[],
};
