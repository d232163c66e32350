//! What the probes' results mean for the answer: **Confirmed** with the proof, or
//! **Likely** with what could not be checked, and the one task-definition change that
//! explains the cause ("DATABASE_URL was removed in web:42").
//!
//! Pure, like the rest of the diagnosis: it reads the probes' results on the evidence.

use super::super::findings::{DetailedFinding, FindingValues};
use super::super::{CauseId, Confidence};
use crate::evidence::probes::{
    ChangeKind, ChangedField, CheckOutcome, DefinitionChange, ProbeResults,
};
use crate::evidence::StoppedBy;

/// The probes' verdict on the cause, for the diagnosis.
pub struct Probed {
    pub confidence: Confidence,
    pub proof: Vec<String>,
    pub ruled_out: Vec<String>,
    pub context: Vec<String>,
    pub unchecked: Vec<String>,
    pub key_change: Option<String>,
}

/// Judge `probes` (None: they did not run) for cause `id` and its findings; a change of
/// one of `key_changes` (the cause's telling fields) explains it. A StopTask call
/// CloudTrail recorded (`stopped_by`) proves a stop by a person on its own.
pub fn judge(
    id: CauseId,
    key_changes: &[ChangedField],
    findings: &[DetailedFinding],
    probes: Option<&ProbeResults>,
    stopped_by: Option<&StoppedBy>,
) -> Probed {
    let recorded_stop = stopped_by
        .filter(|_| id == CauseId::StoppedByUser)
        .and_then(|by| {
            let who = by.who()?;
            let at = by
                .time
                .map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_default();
            Some(format!("CloudTrail recorded StopTask by {who}{at}"))
        });
    let Some(probes) = probes else {
        return Probed {
            confidence: if recorded_stop.is_some() {
                Confidence::Confirmed
            } else {
                Confidence::Likely
            },
            proof: recorded_stop.into_iter().collect(),
            ruled_out: Vec::new(),
            context: Vec::new(),
            unchecked: Vec::new(),
            key_change: None,
        };
    };
    let of = |outcome: CheckOutcome| -> Vec<String> {
        probes
            .checks
            .iter()
            .filter(|c| c.outcome == outcome)
            .map(|c| c.detail.clone())
            .collect()
    };
    let mut proof: Vec<String> = recorded_stop.into_iter().collect();
    proof.extend(of(CheckOutcome::Confirms));
    let key = key_change(key_changes, findings, probes);
    let key_change = key.map(|(sentence, corroborates)| {
        // A removed variable the logs say is missing is proof, not only a clue.
        if corroborates {
            proof.push(sentence.clone());
        }
        sentence
    });
    Probed {
        confidence: if proof.is_empty() {
            Confidence::Likely
        } else {
            Confidence::Confirmed
        },
        proof,
        ruled_out: of(CheckOutcome::RulesOut),
        context: of(CheckOutcome::Context),
        unchecked: probes.unchecked.clone(),
        key_change,
    }
}

/// The change of the task definition that explains the cause (a missing variable the
/// logs name, else the first of `fields` that changed), in words, and whether the
/// evidence independently points at it (then it proves the cause).
fn key_change(
    fields: &[ChangedField],
    findings: &[DetailedFinding],
    probes: &ProbeResults,
) -> Option<(String, bool)> {
    let changes = probes.changes.as_ref()?;
    let in_revision = |change: &DefinitionChange| format!("{} in {}", change.detail, changes.to);
    // A variable the logs say is missing, removed from the task definition.
    for finding in findings {
        if let FindingValues::MissingEnvVar { name, .. } = &finding.values {
            let removed = changes.changes.iter().find(|c| {
                c.kind == ChangeKind::Removed
                    && c.field.is_variable()
                    && c.name.as_deref().is_some_and(|n| same_variable(n, name))
            });
            if let Some(change) = removed {
                return Some((in_revision(change), true));
            }
        }
    }
    fields.iter().find_map(|field| {
        changes
            .changes
            .iter()
            .find(|c| c.field == *field)
            .map(|c| (in_revision(c), false))
    })
}

/// `DATABASE_URL` and `spring.datasource.url` style names compare loosely: Spring
/// reads `SPRING_DATASOURCE_URL` for `spring.datasource.url`.
fn same_variable(defined: &str, wanted: &str) -> bool {
    let norm = |s: &str| s.replace(['.', '-'], "_").to_ascii_uppercase();
    norm(defined) == norm(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::findings::{Finding, FindingKind, VariableDefinition};
    use crate::evidence::probes::{Check, CheckId, DefinitionChanges};

    /// [`judge`] with the cause's own telling fields.
    fn judged(
        id: CauseId,
        findings: &[DetailedFinding],
        probes: Option<&ProbeResults>,
        stopped_by: Option<&StoppedBy>,
    ) -> Probed {
        let key_changes = crate::diagnose::rules::meaning_of(id).key_changes;
        judge(id, key_changes, findings, probes, stopped_by)
    }

    fn missing(name: &str) -> DetailedFinding {
        DetailedFinding {
            finding: Finding {
                kind: FindingKind::MissingEnvVar,
                detail: format!("`{name}` is not set"),
                container: Some("web".into()),
                line: None,
            },
            values: FindingValues::MissingEnvVar {
                name: name.into(),
                definition: VariableDefinition::Unchecked,
            },
        }
    }

    fn removed(name: &str) -> DefinitionChange {
        DefinitionChange {
            container: Some("web".into()),
            field: ChangedField::Environment,
            kind: ChangeKind::Removed,
            name: Some(name.into()),
            detail: format!("{name} was removed"),
        }
    }

    fn with_changes(changes: Vec<DefinitionChange>) -> ProbeResults {
        ProbeResults {
            changes: Some(DefinitionChanges {
                to: "web:42".into(),
                from: "web:41".into(),
                basis: "previous deployment".into(),
                changes,
            }),
            ..ProbeResults::default()
        }
    }

    #[test]
    fn a_stop_cloudtrail_recorded_is_confirmed_without_probes() {
        let by = StoppedBy {
            arn: Some("arn:aws:sts::123456789012:assumed-role/OpsAdmin/jane.doe".into()),
            time: "2026-11-21T10:00:00Z".parse().ok(),
            ..StoppedBy::default()
        };
        let judged = judged(CauseId::StoppedByUser, &[], None, Some(&by));
        assert_eq!(judged.confidence, Confidence::Confirmed);
        assert_eq!(
            judged.proof,
            vec!["CloudTrail recorded StopTask by jane.doe (OpsAdmin) at 2026-11-21 10:00:00 UTC"]
        );
    }

    #[test]
    fn without_probes_the_cause_is_likely() {
        let judged = judged(CauseId::OutOfMemory, &[], None, None);
        assert_eq!(judged.confidence, Confidence::Likely);
    }

    #[test]
    fn a_confirming_check_makes_it_confirmed_with_its_detail_as_proof() {
        let probes = ProbeResults {
            checks: vec![
                Check::new(CheckId::EcrImage, CheckOutcome::Confirms, "no tag v2"),
                Check::new(
                    CheckId::PullPermission,
                    CheckOutcome::RulesOut,
                    "role may pull",
                ),
            ],
            unchecked: vec!["Could not check the subnet".into()],
            ..ProbeResults::default()
        };
        let judged = judged(CauseId::ImagePullFailed, &[], Some(&probes), None);
        assert_eq!(judged.confidence, Confidence::Confirmed);
        assert_eq!(judged.proof, vec!["no tag v2"]);
        assert_eq!(judged.ruled_out, vec!["role may pull"]);
        assert_eq!(judged.unchecked, vec!["Could not check the subnet"]);
    }

    #[test]
    fn only_ruled_out_suspects_leave_it_likely() {
        let probes = ProbeResults {
            checks: vec![Check::new(
                CheckId::EcrImage,
                CheckOutcome::RulesOut,
                "tag exists",
            )],
            ..ProbeResults::default()
        };
        let judged = judged(CauseId::ImagePullFailed, &[], Some(&probes), None);
        assert_eq!(judged.confidence, Confidence::Likely);
    }

    #[test]
    fn a_removed_variable_the_logs_miss_is_the_key_change_and_proof() {
        let probes = with_changes(vec![removed("LOG_LEVEL"), removed("DATABASE_URL")]);
        let judged = judged(
            CauseId::ContainerExitedAppError,
            &[missing("DATABASE_URL")],
            Some(&probes),
            None,
        );
        assert_eq!(
            judged.key_change.as_deref(),
            Some("DATABASE_URL was removed in web:42")
        );
        assert_eq!(judged.confidence, Confidence::Confirmed);
    }

    #[test]
    fn a_memory_cut_explains_an_out_of_memory_stop_but_does_not_prove_it() {
        let cut = DefinitionChange {
            container: None,
            field: ChangedField::Memory,
            kind: ChangeKind::Changed,
            name: None,
            detail: "memory 1,024 → 512 MiB".into(),
        };
        let judged = judged(
            CauseId::OutOfMemory,
            &[],
            Some(&with_changes(vec![cut])),
            None,
        );
        assert_eq!(
            judged.key_change.as_deref(),
            Some("memory 1,024 → 512 MiB in web:42")
        );
        assert_eq!(judged.confidence, Confidence::Likely);
    }

    #[test]
    fn a_change_unrelated_to_the_cause_is_not_put_on_the_card() {
        let judged = judged(
            CauseId::SpotInterruption,
            &[],
            Some(&with_changes(vec![removed("DATABASE_URL")])),
            None,
        );
        assert_eq!(judged.key_change, None);
    }
}
