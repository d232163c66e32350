//! The task's own values, read and shaped: memory limits and a larger valid size, image
//! repository and tag, CPU architectures, fixed host ports, health-check timing, the
//! container definitions of containers, and what the logs and service events say
//! (`logs`). Shared by the diagnosis (for fix steps) and the probes (for their calls).
//!
//! Everything here is a pure lookup over the evidence; nothing guesses a value that the
//! evidence does not hold.

mod image;
pub mod logs;

pub use image::ImageRef;

use crate::evidence::{Container, ContainerDefinition, HealthCheck, Task, TaskDefinition};

/// `x86_64`/`X86_64`/`amd64` -> `X86_64`; `arm64`/`aarch64`/`ARM64` -> `ARM64`.
pub fn normalise_architecture(arch: &str) -> String {
    match arch.to_ascii_lowercase().as_str() {
        "x86_64" | "amd64" | "x86-64" => "X86_64".to_string(),
        "arm64" | "aarch64" => "ARM64".to_string(),
        other => other.to_ascii_uppercase(),
    }
}

/// Fargate task CPU units and the memory sizes (MiB) each allows.
fn fargate_memory_options(cpu: u32) -> Vec<u32> {
    let gib = |range: std::ops::RangeInclusive<u32>, step: usize| {
        range.step_by(step).map(|g| g * 1024).collect::<Vec<_>>()
    };
    match cpu {
        256 => vec![512, 1024, 2048],
        512 => gib(1..=4, 1),
        1024 => gib(2..=8, 1),
        2048 => gib(4..=16, 1),
        4096 => gib(8..=30, 1),
        8192 => gib(16..=60, 4),
        16384 => gib(32..=120, 8),
        _ => Vec::new(),
    }
}

const FARGATE_CPUS: [u32; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// The smallest valid Fargate (cpu, memory) with at least `cpu` units and `memory` MiB.
pub fn fargate_size(cpu: u32, memory: u32) -> Option<(u32, u32)> {
    FARGATE_CPUS.iter().filter(|c| **c >= cpu).find_map(|c| {
        fargate_memory_options(*c)
            .into_iter()
            .find(|m| *m >= memory)
            .map(|m| (*c, m))
    })
}

/// Does the task run on Fargate?
pub fn on_fargate(task: &Task, definition: Option<&TaskDefinition>) -> bool {
    task.launch_type.as_deref() == Some("FARGATE")
        || task
            .capacity_provider
            .as_deref()
            .is_some_and(|p| p.starts_with("FARGATE"))
        || (task.launch_type.is_none()
            && definition.is_some_and(|d| {
                d.requires_compatibilities == ["FARGATE"]
                    || d.requires_compatibilities.iter().all(|c| c == "FARGATE")
                        && !d.requires_compatibilities.is_empty()
            }))
}

/// A positive whole number from one of ECS's string-typed size fields: memory in MiB
/// (`"512"`) or CPU units (`"256"`). Zero, empty or garbage is `None`.
fn parse_mib_or_cpu_units(value: Option<&str>) -> Option<u32> {
    value?.trim().parse().ok().filter(|m| *m > 0)
}

/// Memory facts of one container and its task, in MiB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryLimits {
    pub container: Option<u32>,
    pub task: Option<u32>,
    pub task_cpu: Option<u32>,
}

impl MemoryLimits {
    pub fn of(
        task: &Task,
        definition: Option<&TaskDefinition>,
        container: Option<&Container>,
        container_def: Option<&ContainerDefinition>,
    ) -> MemoryLimits {
        let container_limit = container_def
            .and_then(|d| d.memory)
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| *m > 0)
            .or_else(|| parse_mib_or_cpu_units(container.and_then(|c| c.memory.as_deref())));
        MemoryLimits {
            container: container_limit,
            task: parse_mib_or_cpu_units(task.memory.as_deref())
                .or_else(|| parse_mib_or_cpu_units(definition.and_then(|d| d.memory.as_deref()))),
            task_cpu: parse_mib_or_cpu_units(task.cpu.as_deref())
                .or_else(|| parse_mib_or_cpu_units(definition.and_then(|d| d.cpu.as_deref()))),
        }
    }

    /// "container `app` 512 MiB (hard limit), task 1024 MiB".
    pub fn describe(&self, container: &str) -> Option<String> {
        let parts: Vec<String> = [
            self.container
                .map(|m| format!("container `{container}` {m} MiB (hard limit)")),
            self.task.map(|m| format!("task {m} MiB")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| format!("Memory limit: {}", parts.join(", ")))
    }

    /// A fix step that doubles the binding limit (a valid Fargate size on Fargate).
    pub fn raise_fix(
        &self,
        container: &str,
        fargate: bool,
        family: Option<&str>,
    ) -> Option<String> {
        let revision = family
            .map(|f| format!(" in a new revision of task definition `{f}`"))
            .unwrap_or_default();
        let binding_is_container = match (self.container, self.task) {
            (Some(c), Some(t)) => c < t,
            (Some(_), None) => true,
            _ => false,
        };
        if binding_is_container {
            let current = self.container?;
            let wanted = current.saturating_mul(2);
            let mut fix = format!(
                "Raise the memory limit of container `{container}` from {current} MiB to {wanted} MiB{revision}"
            );
            if let (true, Some(task)) = (fargate, self.task) {
                if wanted > task {
                    if let Some((cpu, memory)) = fargate_size(self.task_cpu.unwrap_or(256), wanted)
                    {
                        fix.push_str(&format!(
                            ", and the task size from {task} MiB to {memory} MiB (Fargate: cpu {cpu})"
                        ));
                    }
                }
            }
            return Some(fix + ".");
        }
        let current = self.task?;
        let wanted = current.saturating_mul(2);
        if fargate {
            let cpu = self.task_cpu.unwrap_or(256);
            let (new_cpu, memory) = fargate_size(cpu, wanted)?;
            let cpu_note = if new_cpu != cpu {
                format!(", which needs cpu {new_cpu} instead of {cpu}")
            } else {
                format!(" with cpu {cpu}")
            };
            Some(format!(
                "Raise the task memory from {current} MiB to {memory} MiB (a valid Fargate size{cpu_note}){revision}."
            ))
        } else {
            Some(format!(
                "Raise the task memory from {current} MiB to {wanted} MiB{revision}."
            ))
        }
    }
}

/// The container definition named `name`.
pub fn container_definition<'a>(
    definition: &'a TaskDefinition,
    name: &str,
) -> Option<&'a ContainerDefinition> {
    definition.containers.iter().find(|c| c.name == name)
}

/// Is the container essential? Without a task definition, assume so.
pub fn is_essential(definition: Option<&TaskDefinition>, container: &Container) -> bool {
    definition
        .and_then(|d| container_definition(d, &container.name))
        .and_then(|c| c.essential)
        .unwrap_or(true)
}

/// The non-zero host ports the given container definitions map, as written.
pub fn fixed_host_ports<'a>(
    containers: impl IntoIterator<Item = &'a ContainerDefinition>,
) -> Vec<String> {
    containers
        .into_iter()
        .flat_map(|c| c.port_mappings.iter())
        .filter_map(|m| m.host_port)
        .filter(|p| *p != 0)
        .map(|p| p.to_string())
        .collect()
}

/// ECS's health-check defaults: interval 30 s, timeout 5 s, 3 retries.
const DEFAULT_INTERVAL: i32 = 30;
const DEFAULT_TIMEOUT: i32 = 5;
const DEFAULT_RETRIES: i32 = 3;

/// A health check's timing, with ECS's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheckTiming {
    pub interval: i32,
    pub timeout: i32,
    pub retries: i32,
}

impl HealthCheckTiming {
    pub fn of(check: &HealthCheck) -> HealthCheckTiming {
        HealthCheckTiming {
            interval: check.interval.unwrap_or(DEFAULT_INTERVAL),
            timeout: check.timeout.unwrap_or(DEFAULT_TIMEOUT),
            retries: check.retries.unwrap_or(DEFAULT_RETRIES),
        }
    }

    /// Seconds the check may fail in a row before the container is UNHEALTHY.
    pub fn failure_budget(&self) -> i32 {
        self.interval.saturating_mul(self.retries)
    }

    /// A `startPeriod` to suggest: twice the failure budget (at least 60 s), at most
    /// ECS's maximum of 300 s.
    pub fn suggested_start_period(&self) -> i32 {
        self.failure_budget().max(60).saturating_mul(2).min(300)
    }
}

/// "`CMD-SHELL curl -f http://localhost/ || exit 1` every 30 s, timeout 5 s, 3 retries, startPeriod none".
pub fn describe_health_check(check: &HealthCheck) -> String {
    let timing = HealthCheckTiming::of(check);
    let start = match check.start_period {
        Some(p) if p > 0 => format!("{p} s"),
        _ => "not set".to_string(),
    };
    format!(
        "`{}` every {} s, timeout {} s, {} retries, startPeriod {start}",
        check.command.join(" "),
        timing.interval,
        timing.timeout,
        timing.retries,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_sizes_round_up() {
        assert_eq!(fargate_size(256, 1024), Some((256, 1024)));
        assert_eq!(fargate_size(256, 3000), Some((512, 3072)));
        assert_eq!(fargate_size(1024, 4096), Some((1024, 4096)));
        assert_eq!(fargate_size(4096, 32768), Some((8192, 32768)));
        assert_eq!(fargate_size(16384, 200_000), None);
    }

    #[test]
    fn memory_fix_doubles_the_binding_limit() {
        let limits = MemoryLimits {
            container: None,
            task: Some(512),
            task_cpu: Some(256),
        };
        let fix = limits.raise_fix("app", true, Some("orders")).unwrap();
        assert!(fix.contains("from 512 MiB to 1024 MiB"), "{fix}");
        let limits = MemoryLimits {
            container: Some(2048),
            task: Some(2048),
            task_cpu: Some(256),
        };
        let fix = limits.raise_fix("app", true, None).unwrap();
        assert!(
            fix.contains("to 4096 MiB") && fix.contains("cpu 512"),
            "{fix}"
        );
        let limits = MemoryLimits {
            container: Some(300),
            task: None,
            task_cpu: None,
        };
        let fix = limits.raise_fix("app", false, None).unwrap();
        assert!(
            fix.contains("container `app` from 300 MiB to 600 MiB"),
            "{fix}"
        );
    }
}
