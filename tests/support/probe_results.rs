//! The probe tests' one way to probe and to read what the probes found: diagnose the
//! evidence and run the checks its diagnosis asks for, then the checks one probe made,
//! or the one check a probe must have made.
#![allow(dead_code)]

use aws_config::SdkConfig;
use ecs_why::diagnose::{diagnose, CauseId};
use ecs_why::evidence::probes::{Check, CheckId, ProbeResults};
use ecs_why::evidence::Evidence;
use ecs_why::gather::Gatherer;

/// Diagnose `evidence` (as `cause`, when one is expected) and run the checks its
/// diagnosis asks for against `config`'s endpoints, as the bot and the CLI do.
pub async fn probe(
    config: &SdkConfig,
    evidence: &Evidence,
    cause: Option<CauseId>,
) -> ProbeResults {
    let diagnosis = diagnose(evidence);
    if let Some(cause) = cause {
        assert_eq!(
            diagnosis.category, cause,
            "the evidence diagnoses as {cause:?}"
        );
    }
    Gatherer::from_sdk_config(config)
        .probe(evidence, &diagnosis.checks)
        .await
}

/// Every check `probe` made, in order.
pub fn checks_of(results: &ProbeResults, probe: CheckId) -> Vec<&Check> {
    results.checks.iter().filter(|c| c.probe == probe).collect()
}

/// The one check `probe` made, failing with everything found when there is not exactly
/// one.
pub fn only_check(results: &ProbeResults, probe: CheckId) -> &Check {
    let found = checks_of(results, probe);
    assert_eq!(found.len(), 1, "one {probe:?} check expected: {results:#?}");
    found[0]
}
