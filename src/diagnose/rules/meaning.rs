//! [`Meaning`]: what a cause says beyond its catalog entry, defined in the cause's own
//! rule file (`MEANING`) beside the rule that recognises it. [`super::meaning_of`] is
//! the one place that maps a cause to its file, an exhaustive match, so a new cause
//! cannot be forgotten.

use super::facts::Facts;
use crate::evidence::probes::{ChangedField, CheckRequest};

/// What a cause means for this task, beyond its catalog entry.
pub struct Meaning {
    /// The specific cause in a few words, from this task's own evidence, without the
    /// service's name (`ELB health check GET / got 404`); `None`: the catalog's title.
    pub headline: fn(&Facts) -> Option<String>,
    /// The read-only checks that would confirm (or rule out) the cause.
    pub checks: fn(&Facts) -> Vec<CheckRequest>,
    /// The task-definition changes that would explain the cause, the most telling
    /// first: the first one found goes on the card ("memory 1,024 → 512 MiB in web:42").
    pub key_changes: &'static [ChangedField],
}

impl Meaning {
    /// Nothing beyond the catalog: its title, no check, no telling change.
    pub const PLAIN: Meaning = Meaning {
        headline: |_| None,
        checks: |_| Vec::new(),
        key_changes: &[],
    };
}
