//! The catalog of causes: one entry per way an ECS task can stop.
//!
//! Ids are a contract (the `category` field of `--format json`); see DESIGN.md.
//! [`CauseId`] is the one list of ids: its variants give the kebab-case strings (serde
//! and strum derive them from the same names), [`CauseId::ALL`] and the count.
//! [`CATALOG`] is the single table: the rules pick an id, and everything a reader sees
//! about the cause in general (title, meaning, general fixes) comes from there.

mod entries;

pub use entries::{fixes, CATALOG};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use strum::{EnumCount, IntoStaticStr, VariantArray};

/// A catalog id. Serialises, displays and parses as the kebab-case id string.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    EnumCount,
    IntoStaticStr,
    VariantArray,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum CauseId {
    ImagePullFailed,
    SecretsOrRegistryAuth,
    NetworkSetupFailed,
    ContainerExitedAppError,
    ContainerExitedSuccess,
    ContainerKilledSigkill,
    OutOfMemory,
    Segfault,
    EntrypointFailed,
    ContainerHealthCheckFailed,
    ElbHealthCheckFailed,
    StoppedByUser,
    ScalingEvent,
    DeploymentReplaced,
    InfrastructureMaintenance,
    SpotInterruption,
    InstanceUnhealthyOrTerminated,
    InsufficientResourcesPlacement,
    TaskLimitQuota,
    ContainerCreateFailed,
    DockerTimeout,
    InternalError,
    Other,
}

impl CauseId {
    /// Every id, in catalog order.
    pub const ALL: &'static [CauseId] = <CauseId as VariantArray>::VARIANTS;

    /// The kebab-case id, exactly as in DESIGN.md and `--format json`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// This id's catalog entry.
    pub fn cause(self) -> &'static Cause {
        Cause::get(self)
    }
}

/// A string that is not a catalog id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCauseId(pub String);

impl fmt::Display for UnknownCauseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = CauseId::ALL.iter().map(|id| id.as_str()).collect();
        write!(
            f,
            "unknown cause `{}`: the known causes are {}",
            self.0,
            known.join(", ")
        )
    }
}

impl std::error::Error for UnknownCauseId {}

impl FromStr for CauseId {
    type Err = UnknownCauseId;

    /// Parse a kebab-case id; anything else is an error naming the known ids.
    fn from_str(id: &str) -> Result<CauseId, UnknownCauseId> {
        CauseId::ALL
            .iter()
            .copied()
            .find(|cause| cause.as_str() == id)
            .ok_or_else(|| UnknownCauseId(id.to_string()))
    }
}

/// One cause: what it is called, what it means, and the general way to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cause {
    pub id: CauseId,
    pub title: &'static str,
    pub meaning: &'static str,
    pub general_fixes: &'static [&'static str],
}

impl Cause {
    /// The catalog entry for `id`: the table is in id order (checked when compiling).
    pub fn get(id: CauseId) -> &'static Cause {
        &CATALOG[id as usize]
    }

    /// Every cause, in catalog order (for `ecs-why causes`).
    pub fn all() -> impl Iterator<Item = &'static Cause> {
        CATALOG.iter()
    }
}

/// `CATALOG[i]` is the entry of the `i`-th id, so [`Cause::get`] is a plain index.
const _: () = {
    let mut index = 0;
    while index < CATALOG.len() {
        assert!(
            CATALOG[index].id as usize == index,
            "CATALOG must list the causes in CauseId order"
        );
        index += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_has_exactly_one_entry() {
        for &id in CauseId::ALL {
            assert_eq!(CATALOG.iter().filter(|c| c.id == id).count(), 1, "{id}");
            assert_eq!(Cause::get(id).id, id);
        }
        assert_eq!(CATALOG.len(), CauseId::ALL.len());
    }

    #[test]
    fn as_str_matches_serde_display_and_parse() {
        for &id in CauseId::ALL {
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
            assert_eq!(id.to_string(), id.as_str());
            assert_eq!(id.as_str().parse::<CauseId>(), Ok(id));
        }
    }

    #[test]
    fn unknown_ids_are_an_error_naming_the_known_ones() {
        let error = "out-of-memroy".parse::<CauseId>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`out-of-memroy`"), "{message}");
        assert!(
            message.contains("out-of-memory") && message.contains("other"),
            "{message}"
        );
        assert!("".parse::<CauseId>().is_err());
        assert!("Other".parse::<CauseId>().is_err());
    }

    #[test]
    fn entries_are_filled_in() {
        for cause in Cause::all() {
            assert!(!cause.title.is_empty() && !cause.meaning.is_empty());
            assert!(!cause.general_fixes.is_empty(), "{}", cause.id);
        }
    }

    #[test]
    fn named_fixes_are_in_their_causes_lists() {
        let cases = [
            (CauseId::SpotInterruption, fixes::SPOT_HANDLE_SIGTERM),
            (CauseId::OutOfMemory, fixes::OOM_FIND_LEAK),
            (CauseId::OutOfMemory, fixes::OOM_WATCH_METRIC),
            (CauseId::EntrypointFailed, fixes::ENTRYPOINT_CHECK_COMMAND),
            (CauseId::EntrypointFailed, fixes::ENTRYPOINT_MAKE_EXECUTABLE),
            (
                CauseId::ContainerHealthCheckFailed,
                fixes::HEALTH_CHECK_PORT_AND_TIMEOUT,
            ),
            (CauseId::StoppedByUser, fixes::USER_STOP_CHECK_AUTOMATION),
            (CauseId::TaskLimitQuota, fixes::QUOTA_SPREAD_WORKLOADS),
        ];
        for (id, fix) in cases {
            assert!(Cause::get(id).general_fixes.contains(&fix), "{id}: {fix}");
        }
    }
}
