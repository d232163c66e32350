//! [`Verdict`]: what one rule concluded (a cause, a summary, evidence and fixes in the
//! task's own values), built step by step.

use crate::diagnose::{Cause, CauseId};

/// What one rule concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub id: CauseId,
    pub summary: String,
    pub evidence: Vec<String>,
    pub fixes: Vec<String>,
}

impl Verdict {
    pub fn new(id: CauseId, summary: String) -> Verdict {
        Verdict {
            id,
            summary,
            evidence: Vec::new(),
            fixes: Vec::new(),
        }
    }

    /// Add a line of evidence.
    pub fn evidence(mut self, line: impl Into<String>) -> Verdict {
        self.evidence.push(line.into());
        self
    }

    /// Add a fix step.
    pub fn fix(mut self, step: impl Into<String>) -> Verdict {
        self.fixes.push(step.into());
        self
    }

    /// Add several fix steps.
    pub fn fixes<I: IntoIterator<Item = String>>(mut self, steps: I) -> Verdict {
        self.fixes.extend(steps);
        self
    }

    /// Add every general fix the catalog lists for this verdict's cause.
    pub fn general_fixes(self) -> Verdict {
        let id = self.id;
        self.fixes(catalog_general_fixes(id))
    }
}

/// The catalog's general fixes for `id`, in the catalog's order.
pub fn catalog_general_fixes(id: CauseId) -> Vec<String> {
    Cause::get(id)
        .general_fixes
        .iter()
        .map(|f| f.to_string())
        .collect()
}
