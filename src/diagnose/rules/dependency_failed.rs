//! A container the ECS agent never started because a container it depends on
//! (`dependsOn`) failed: `CannotStartContainerError: dependency graph: failed to resolve
//! container ordering dependency [migrate(img) (STOPPED->STOPPED) - Exit: 1] for target
//! [app(img) (NONE->RUNNING)] as dependency did not exit successfully.` The agent stops
//! the waiting container (exit code 143) with that reason.
//!
//! Not a cause of its own, and never "the container could not be created": the cause is
//! what happened to the dependency. [`read`] says what the reason tells (which
//! container, how it failed); [`Facts`] blames the dependency when it exited, so the
//! exit-code rules read it; [`recognise`] speaks only when nothing else can (a
//! dependency the task does not list, one that timed out or never started), and
//! [`explain`] adds the line that ties the waiting container to its dependency.

use super::verdict::catalog_general_fixes;
use super::{Facts, Verdict};
use crate::diagnose::layers::ReasonChain;
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use regex::Regex;
use std::sync::LazyLock;

/// The agent's step for container ordering.
pub const STEP: &str = "dependency graph";

/// How the dependency failed, by the agent's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyHow {
    /// It exited, not successfully ("did not exit successfully", or `Exit: N` not 0).
    Exited,
    /// It could not start ("because dependency will never start").
    NeverStarts,
    /// It did not reach its condition within `startTimeout` ("has timed out").
    TimedOut,
    /// The task definition has no such container ("does not exist").
    Missing,
    /// The reason does not say (cut short).
    Unclear,
}

/// What a `dependency graph` reason says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyStop {
    /// The container depended on.
    pub dependency: String,
    /// The container that waited for it, when the reason names it.
    pub target: Option<String>,
    /// The dependency's exit code, when the reason gives it.
    pub exit_code: Option<i32>,
    pub how: DependencyHow,
}

static DEPENDENCY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)dependency \[\s*([^\s(\]]+)").expect("valid dependency regex")
});
static TARGET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)for target \[\s*([^\s(\]]+)").expect("valid target regex"));
static EXIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)dependency \[[^\]]*?exit:\s*(-?\d+)").expect("valid exit regex")
});

/// What a reason says of a dependency, when it is a `dependency graph` reason.
pub fn read(chain: &ReasonChain) -> Option<DependencyStop> {
    if !chain.has_step(STEP) {
        return None;
    }
    let text = chain.message();
    let dependency = DEPENDENCY.captures(text)?.get(1)?.as_str().to_string();
    let target = TARGET
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    let exit_code = EXIT
        .captures(text)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok());
    let lower = text.to_lowercase();
    let how = if lower.contains("did not exit successfully") || exit_code.is_some_and(|c| c != 0) {
        DependencyHow::Exited
    } else if lower.contains("will never start") {
        DependencyHow::NeverStarts
    } else if lower.contains("has timed out") {
        DependencyHow::TimedOut
    } else if lower.contains("does not exist") {
        DependencyHow::Missing
    } else {
        DependencyHow::Unclear
    };
    Some(DependencyStop {
        dependency,
        target,
        exit_code,
        how,
    })
}

/// The verdict when nothing else can give one: a dependency the task does not list, one
/// that timed out, never started for a reason no rule knows, or is not in the task
/// definition. A dependency that exited and is listed is left to the exit-code rules.
pub fn recognise(f: &Facts) -> Option<Verdict> {
    let stop = f.dependency.as_ref()?;
    let dependency = stop.dependency.as_str();
    let target = waiting(f, stop);
    let subject = f.subject();
    let family = f.family().unwrap_or("the task definition");
    match stop.how {
        DependencyHow::Missing => Some(
            Verdict::new(
                CauseId::ContainerCreateFailed,
                format!("{subject}: container `{target}` could not be started: its `dependsOn` names `{dependency}`, which is not a container of the task definition."),
            )
            .fix(format!("Fix the `dependsOn` of `{target}` in `{family}`: name a container of the task definition (names are case-sensitive), then deploy the new revision.")),
        ),
        DependencyHow::Exited => {
            let listed = f
                .task
                .containers
                .iter()
                .any(|c| c.name == dependency && c.exit_code.is_some());
            if listed {
                return None;
            }
            let code = stop
                .exit_code
                .map(|c| format!(" with code {c}"))
                .unwrap_or_default();
            Some(
                Verdict::new(
                    CauseId::ContainerExitedAppError,
                    format!("{subject}: container `{dependency}` exited{code}, so `{target}`, which depends on it (`dependsOn`), was never started."),
                )
                .fix(format!("Read the last log lines of `{dependency}` for the error: it is the container that failed."))
                .fixes(catalog_general_fixes(CauseId::ContainerExitedAppError).into_iter().skip(1)),
            )
        }
        DependencyHow::TimedOut if has_health_check(f, dependency) => Some(
            Verdict::new(
                CauseId::ContainerHealthCheckFailed,
                format!("{subject}: container `{dependency}` did not become HEALTHY before the `startTimeout` of `{target}` ran out, so `{target}`, which depends on it, was never started."),
            )
            .fix(format!("Run the health check of `{dependency}` by hand inside it, and give it a `startPeriod` long enough to boot."))
            .fix(format!("Raise the `startTimeout` of `{target}` if `{dependency}` needs longer to become healthy.")),
        ),
        DependencyHow::TimedOut => Some(unknown(
            format!("{subject}: container `{target}` was not started: `{dependency}`, which it depends on (`dependsOn`), did not reach its condition before the `startTimeout` of `{target}` ran out."),
        )
        .fix(format!("Read the logs of `{dependency}` around the start, and raise the `startTimeout` of `{target}` if it needs longer."))),
        DependencyHow::NeverStarts | DependencyHow::Unclear => {
            let own = f
                .task
                .containers
                .iter()
                .find(|c| c.name == dependency)
                .and_then(|c| c.reason.as_deref())
                .filter(|r| !r.is_empty())
                .map(|r| format!(" (its reason: \"{}\")", quotable(r)))
                .unwrap_or_default();
            Some(unknown(
                format!("{subject}: container `{target}` was not started because `{dependency}`, which it depends on (`dependsOn`), could not start{own}."),
            ))
        }
    }
}

/// The line that ties the waiting container to its dependency, on a verdict another
/// rule gave (the dependency's exit code or its own reason).
pub fn explain(f: &Facts, verdict: Verdict) -> Verdict {
    let Some(stop) = f.dependency.as_ref() else {
        return verdict;
    };
    // This rule's own verdict already says it.
    if recognise(f).is_some_and(|own| own.summary == verdict.summary) {
        return verdict;
    }
    let what = match stop.how {
        DependencyHow::Exited => match stop.exit_code {
            Some(code) => format!("exited with {code}"),
            None => "exited with an error".to_string(),
        },
        DependencyHow::NeverStarts => "could not start".to_string(),
        DependencyHow::TimedOut => "did not reach its condition in time".to_string(),
        DependencyHow::Missing | DependencyHow::Unclear => return verdict,
    };
    let target = waiting(f, stop);
    verdict.evidence(format!(
        "`{target}` was never started: it depends on `{}` (`dependsOn`), which {what}, and the ECS agent stopped it (CannotStartContainerError: dependency graph)",
        stop.dependency
    ))
}

/// The waiting container's name.
fn waiting<'a>(f: &Facts<'a>, stop: &'a DependencyStop) -> &'a str {
    stop.target
        .as_deref()
        .or(f.telling_container().map(|c| c.name.as_str()))
        .unwrap_or("a container")
}

fn has_health_check(f: &Facts, name: &str) -> bool {
    f.container_definitions()
        .any(|d| d.name == name && d.health_check.is_some())
        || f.task
            .containers
            .iter()
            .any(|c| c.name == name && c.health_status.as_deref() == Some("UNHEALTHY"))
}

/// `other`, with what is known said plainly.
fn unknown(summary: String) -> Verdict {
    Verdict::new(
        CauseId::Other,
        format!("{summary} ecs-why does not know why, so it does not guess."),
    )
    .fixes(catalog_general_fixes(CauseId::Other))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(reason: &str) -> Option<DependencyStop> {
        read(&ReasonChain::parse(reason))
    }

    #[test]
    fn the_agents_four_terminal_dependency_errors_are_told_apart() {
        let exited = stop("CannotStartContainerError: dependency graph: failed to resolve container ordering dependency [migrate(web:v9) (STOPPED->STOPPED) - Exit: 1] for target [app(web:v9) (NONE->RUNNING)] as dependency did not exit successfully.").expect("read");
        assert_eq!(exited.dependency, "migrate");
        assert_eq!(exited.target.as_deref(), Some("app"));
        assert_eq!(exited.exit_code, Some(1));
        assert_eq!(exited.how, DependencyHow::Exited);
        let never = stop("CannotStartContainerError: dependency graph: failed to resolve container ordering dependency [envoy(img) (STOPPED->RUNNING)] for target [app(img) (NONE->RUNNING)] because dependency will never start").expect("read");
        assert_eq!(never.how, DependencyHow::NeverStarts);
        let late = stop("CannotStartContainerError: dependency graph: container ordering dependency [db(img) (RUNNING->RUNNING)] for target [app(img) (NONE->RUNNING)] has timed out.").expect("read");
        assert_eq!(late.how, DependencyHow::TimedOut);
        let missing = stop("CannotStartContainerError: dependency graph: container ordering dependency [init] for target [app(img) (NONE->RUNNING)] does not exist.").expect("read");
        assert_eq!(
            (missing.dependency.as_str(), missing.how),
            ("init", DependencyHow::Missing)
        );
        // Cut short, as the console shows it: the exit code still says it exited.
        let cut = stop("CannotStartContainerError:  dependency graph: failed to resolve container ordering dependency  [container-1(public.ecr.aws/u5s6c6g2/just-sleep) (STOPPED->RUNNING) -  Exit: 1] for target [container-2(public.ecr.aws/u5s6c6g2/just-sleep)  (NONE->RUNNING...").expect("read");
        assert_eq!(
            (cut.dependency.as_str(), cut.how),
            ("container-1", DependencyHow::Exited)
        );
        assert_eq!(
            stop(
                "CannotStartContainerError: Error response from daemon: port is already allocated"
            ),
            None
        );
    }
}
