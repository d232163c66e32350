//! Reading what the probes found, for the probe tests: the checks one probe made, and
//! the one check a probe must have made.
#![allow(dead_code)]

use ecs_why::evidence::probes::{Check, ProbeResults};

/// Every check `probe` made, in order.
pub fn checks_of<'a>(results: &'a ProbeResults, probe: &str) -> Vec<&'a Check> {
    results.checks.iter().filter(|c| c.probe == probe).collect()
}

/// The one check `probe` made, failing with everything found when there is not exactly
/// one.
pub fn only_check<'a>(results: &'a ProbeResults, probe: &str) -> &'a Check {
    let found = checks_of(results, probe);
    assert_eq!(found.len(), 1, "one {probe} check expected: {results:#?}");
    found[0]
}
