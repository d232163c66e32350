//! Rules: map the evidence to exactly one catalog category.

use super::Diagnosis;
use crate::evidence::Evidence;

pub fn diagnose(_evidence: &Evidence) -> Diagnosis {
    todo!("rules")
}
