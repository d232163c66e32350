//! `container-exited-success`: the blamed essential container finished with exit code 0.

use super::meaning::Meaning;
use super::wording::describe_command;
use super::{Facts, Verdict};
use crate::diagnose::CauseId;

pub fn recognise(f: &Facts) -> Option<Verdict> {
    let container = f.blamed_container?;
    if container.exit_code != Some(0) {
        return None;
    }
    let kind = if f.task.service_name().is_some() {
        "A service expects its essential containers to keep running, so this repeats as a restart loop."
    } else {
        "For a one-off job this is the normal end."
    };
    let mut verdict = Verdict::new(
        CauseId::ContainerExitedSuccess,
        format!(
            "{}: essential container `{}` finished with exit code 0, and ECS stops a task when an essential container exits. {kind}",
            f.subject(),
            container.name
        ),
    );
    if let Some(command) = f.blamed_definition.and_then(describe_command) {
        verdict = verdict.evidence(command);
    }
    Some(verdict.general_fixes())
}

fn headline(f: &Facts) -> Option<String> {
    f.blamed_container.map(|c| {
        if f.task.service_name().is_some() {
            format!(
                "`{}` exited 0, but a service expects it to keep running",
                c.name
            )
        } else {
            format!("`{}` finished (exit 0)", c.name)
        }
    })
}

pub const MEANING: Meaning = Meaning {
    headline,
    ..Meaning::PLAIN
};
