//! Placeholder: filled in by the memory probe's work (see mod.rs for what it checks).

use super::{ProbeClients, ProbeInput};
use crate::evidence::ProbeResults;

/// Whether this probe has anything to check for this diagnosis.
pub fn applies(_input: ProbeInput<'_>) -> bool {
    false
}

/// Run the probe's read-only calls.
pub async fn run(_clients: &ProbeClients, _input: ProbeInput<'_>) -> ProbeResults {
    ProbeResults::default()
}
