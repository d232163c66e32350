//! [`Facts`]: everything the rules look at, read once from the evidence, with the
//! questions several rules ask of it (does a reason mention X, which container to
//! blame, what to call the task in a sentence).
//!
//! Every reason is read by its layers ([`ReasonChain`]) once, here. The reason that
//! tells why the task stopped ([`Telling`]) is the task's own, unless it is one of ECS's
//! generic ones ("Essential container in task exited", "Task failed to start"): then a
//! container's is, the blamed container's first, and one that only says a dependency
//! failed (`dependency graph: ...`) last.

use super::dependency_failed::{self, DependencyStop};
use crate::diagnose::findings::{DetailedFinding, FindingKind};
use crate::diagnose::layers::ReasonChain;
use crate::evidence::probes::{CheckId, CheckOutcome};
use crate::evidence::{
    Container, ContainerDefinition, Evidence, ServiceEvent, StopCode, StopLookup, Task,
    TaskDefinition,
};
use crate::values::{container_definition, is_essential, on_fargate};

/// Everything the rules look at, read once.
pub struct Facts<'a> {
    /// The whole evidence, for what the fields below do not hold (the logs).
    pub evidence: &'a Evidence,
    pub task: &'a Task,
    pub task_definition: Option<&'a TaskDefinition>,
    pub findings: &'a [DetailedFinding],
    pub service_events: &'a [ServiceEvent],
    pub stop_lookup: &'a StopLookup,
    /// The task's stop code.
    pub stop_code: Option<&'a StopCode>,
    /// The task's stopped reason as ECS wrote it, or "".
    pub stopped_reason: &'a str,
    /// The stopped reason and every container's reason, cleaned (quotes unescaped, one
    /// apostrophe, single spaces) and lower-cased, one per line.
    pub all_reasons_lowercase: String,
    /// The stopped reason read by its layers.
    pub task_chain: ReasonChain,
    /// Each container's reason read by its layers, in the task's order (an empty chain
    /// for a container without one).
    pub container_chains: Vec<ReasonChain>,
    /// Whose reason tells why the task stopped.
    pub telling: Telling,
    /// What a `dependency graph` reason says: a container the agent did not start
    /// because one it depends on failed.
    pub dependency: Option<DependencyStop>,
    /// The container to blame, if any (see [`blamed_container`]).
    pub blamed_container: Option<&'a Container>,
    /// The blamed container's definition, when the task definition is known.
    pub blamed_definition: Option<&'a ContainerDefinition>,
    /// The memory probe saw the task's memory reach its limit before the stop.
    pub memory_reached_limit: bool,
}

/// Whose reason tells why the task stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Telling {
    /// The task's own stopped reason.
    Task,
    /// The reason of the task's container at this index: the task's says nothing
    /// specific.
    Container(usize),
}

/// ECS's stopped reasons that say nothing of the cause, lower-cased, without the
/// final full stop.
const GENERIC_TASK_REASONS: &[&str] = &[
    "essential container in task exited",
    "task failed to start",
    "taskfailedtostart",
    "task is stopping",
];

/// Does `reason` say nothing of why (empty, or one of ECS's generic reasons)?
pub fn is_generic_reason(reason: &str) -> bool {
    let reason = reason.trim().trim_end_matches('.').to_lowercase();
    reason.is_empty() || GENERIC_TASK_REASONS.contains(&reason.as_str())
}

impl<'a> Facts<'a> {
    pub fn new(evidence: &'a Evidence, findings: &'a [DetailedFinding]) -> Facts<'a> {
        let task = &evidence.task;
        let task_definition = evidence.task_definition.as_ref();
        let task_chain = ReasonChain::parse(task.stopped_reason.as_deref().unwrap_or_default());
        let container_chains: Vec<ReasonChain> = task
            .containers
            .iter()
            .map(|c| ReasonChain::parse(c.reason.as_deref().unwrap_or_default()))
            .collect();
        let mut reasons = task_chain.cleaned().to_string();
        for chain in container_chains.iter().filter(|c| !c.cleaned().is_empty()) {
            reasons.push('\n');
            reasons.push_str(chain.cleaned());
        }
        let mut blamed = blamed_container(task, task_definition);
        let telling = telling(task, &container_chains, blamed);
        let telling_chain = match telling {
            Telling::Task => &task_chain,
            Telling::Container(i) => &container_chains[i],
        };
        let dependency = dependency_failed::read(telling_chain);
        // A container that exited and stopped those depending on it is the one to blame.
        if let Some(failed) = dependency.as_ref().and_then(|d| {
            task.containers
                .iter()
                .find(|c| c.name == d.dependency && c.exit_code.is_some())
        }) {
            blamed = Some(failed);
        }
        Facts {
            evidence,
            task,
            task_definition,
            findings,
            service_events: &evidence.service_events,
            stop_lookup: &evidence.stop_lookup,
            stop_code: task.stop_code.as_ref(),
            stopped_reason: task.stopped_reason.as_deref().unwrap_or_default(),
            all_reasons_lowercase: reasons.to_lowercase(),
            task_chain,
            container_chains,
            telling,
            dependency,
            blamed_container: blamed,
            blamed_definition: blamed
                .and_then(|c| task_definition.and_then(|d| container_definition(d, &c.name))),
            memory_reached_limit: evidence.probes.as_ref().is_some_and(|p| {
                p.checks
                    .iter()
                    .any(|c| c.probe == CheckId::Memory && c.outcome == CheckOutcome::Confirms)
            }),
        }
    }

    /// The reason that tells why the task stopped, as ECS wrote it (or "").
    pub fn telling_reason(&self) -> &'a str {
        match self.telling {
            Telling::Task => self.stopped_reason,
            Telling::Container(i) => self.task.containers[i]
                .reason
                .as_deref()
                .unwrap_or_default(),
        }
    }

    /// [`Facts::telling_reason`] read by its layers.
    pub fn telling_chain(&self) -> &ReasonChain {
        match self.telling {
            Telling::Task => &self.task_chain,
            Telling::Container(i) => &self.container_chains[i],
        }
    }

    /// The container whose reason tells why, when it is a container's.
    pub fn telling_container(&self) -> Option<&'a Container> {
        match self.telling {
            Telling::Task => None,
            Telling::Container(i) => self.task.containers.get(i),
        }
    }

    /// `container`'s reason read by its layers.
    pub fn chain_of(&self, container: &Container) -> Option<&ReasonChain> {
        self.task
            .containers
            .iter()
            .position(|c| std::ptr::eq(c, container))
            .and_then(|i| self.container_chains.get(i))
    }

    /// Does any reason (the task's or a container's) have the code `name`, without
    /// regard to case?
    pub fn any_reason_has_code(&self, name: &str) -> bool {
        std::iter::once(&self.task_chain)
            .chain(&self.container_chains)
            .any(|chain| chain.has_code(name))
    }

    /// Does the stopped reason or a container's reason contain `needle` (lower case)?
    pub fn reasons_mention(&self, needle: &str) -> bool {
        self.all_reasons_lowercase.contains(needle)
    }

    /// Does any reason contain any of `needles` (lower case)?
    pub fn reasons_mention_any(&self, needles: &[&str]) -> bool {
        needles
            .iter()
            .any(|n| self.all_reasons_lowercase.contains(n))
    }

    /// "Task `ID` of service `svc`".
    pub fn subject(&self) -> String {
        match self.task.service_name() {
            Some(service) => format!("Task `{}` of service `{service}`", self.task.id()),
            None => format!("Task `{}`", self.task.id()),
        }
    }

    /// The task definition's family, when known and not empty.
    pub fn family(&self) -> Option<&str> {
        self.task_definition
            .map(|d| d.family.as_str())
            .filter(|f| !f.is_empty())
    }

    pub fn on_fargate(&self) -> bool {
        on_fargate(self.task, self.task_definition)
    }

    /// The task's region, or the placeholder `REGION` for a command to fill in.
    pub fn region(&self) -> &str {
        self.task.region().unwrap_or("REGION")
    }

    /// Every container definition of the task definition (none without one).
    pub fn container_definitions(&self) -> impl Iterator<Item = &'a ContainerDefinition> {
        self.task_definition
            .into_iter()
            .flat_map(|d| d.containers.iter())
    }

    pub fn findings_of(&self, kind: FindingKind) -> impl Iterator<Item = &'a DetailedFinding> {
        self.findings.iter().filter(move |f| f.kind() == kind)
    }

    /// The first container whose reason passes `test`, else the blamed one.
    pub fn container_whose_reason(&self, test: impl Fn(&str) -> bool) -> Option<&'a Container> {
        self.task
            .containers
            .iter()
            .find(|c| c.reason.as_deref().is_some_and(&test))
            .or(self.blamed_container)
    }

    /// The container whose reason mentions one of `needles` (lower case), else the
    /// blamed one.
    pub fn container_mentioning(&self, needles: &[&str]) -> Option<&'a Container> {
        self.container_whose_reason(|reason| {
            let reason = reason.to_lowercase();
            needles.iter().any(|n| reason.contains(n))
        })
    }

    /// The container a load balancer sends health checks to: the first with a port.
    pub fn checked_container(&self) -> Option<&'a Container> {
        let with_port = self
            .container_definitions()
            .find(|d| d.port_mappings.iter().any(|m| m.container_port.is_some()))?;
        self.task
            .containers
            .iter()
            .find(|c| c.name == with_port.name)
    }

    pub fn definition_of(&self, container: &Container) -> Option<&'a ContainerDefinition> {
        self.task_definition
            .and_then(|d| container_definition(d, &container.name))
    }

    /// "the task execution role `arn`" or a note that there is none.
    pub fn execution_role_phrase(&self) -> String {
        let role = self
            .task_definition
            .and_then(|d| d.execution_role_arn.as_deref());
        match role {
            Some(arn) => format!("the task execution role `{arn}`"),
            None if self.task_definition.is_some() => {
                "a task execution role (the task definition has none: add `executionRoleArn`)"
                    .to_string()
            }
            None => "the task execution role".to_string(),
        }
    }
}

/// Whose reason tells why: the task's, unless it is generic; then the container's
/// whose reason is not generic, the blamed one first, one that only says a dependency
/// failed last.
fn telling(task: &Task, chains: &[ReasonChain], blamed: Option<&Container>) -> Telling {
    if !is_generic_reason(task.stopped_reason.as_deref().unwrap_or_default()) {
        return Telling::Task;
    }
    task.containers
        .iter()
        .zip(chains)
        .enumerate()
        .filter(|(_, (c, _))| !is_generic_reason(c.reason.as_deref().unwrap_or_default()))
        .min_by_key(|(i, (c, chain))| {
            let is_blamed = blamed.is_some_and(|b| std::ptr::eq(b, *c));
            (chain.has_step(dependency_failed::STEP), !is_blamed, *i)
        })
        .map_or(Telling::Task, |(i, _)| Telling::Container(i))
}

/// Pick the container to blame: an essential one that exited non-zero or has a reason,
/// preferring real failures over the SIGTERM/SIGKILL that follow another's exit.
pub fn blamed_container<'a>(
    task: &'a Task,
    definition: Option<&TaskDefinition>,
) -> Option<&'a Container> {
    let score = |c: &Container| -> i32 {
        let essential = if is_essential(definition, c) { 0 } else { 20 };
        let exit = match c.exit_code {
            Some(0) => 4,
            Some(143) => 5,
            Some(137) => 3,
            Some(_) => 1,
            None => 6,
        };
        let reason = if c.reason.as_deref().is_some_and(|r| !r.is_empty()) {
            -2
        } else {
            0
        };
        essential + exit + reason
    };
    task.containers.iter().min_by_key(|c| score(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::test_tasks::{container, task_with};

    #[test]
    fn blame_prefers_a_real_failure_over_the_sigterm_that_followed() {
        let task = task_with(vec![
            container("sidecar", Some(143)),
            container("app", Some(1)),
        ]);
        assert_eq!(
            blamed_container(&task, None).map(|c| c.name.as_str()),
            Some("app")
        );
    }

    #[test]
    fn blame_skips_non_essential_containers() {
        let task = task_with(vec![container("init", Some(1)), container("app", Some(0))]);
        let definition = TaskDefinition {
            containers: vec![ContainerDefinition {
                name: "init".into(),
                essential: Some(false),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            blamed_container(&task, Some(&definition)).map(|c| c.name.as_str()),
            Some("app")
        );
    }
}
