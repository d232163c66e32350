//! CPU architecture: an "exec format error" in the logs, or a task that ran on another
//! architecture than its task definition asks for.

use super::{Described, DetailedFinding, FindingValues};
use crate::evidence::{Evidence, TaskDefinition};
use crate::values::normalise_architecture;

/// What an "exec format error" means for this task definition.
pub fn exec_format_error(definition: Option<&TaskDefinition>) -> Described {
    let wanted = definition
        .and_then(|d| d.cpu_architecture.as_deref())
        .map(normalise_architecture);
    let platform = wanted
        .clone()
        .unwrap_or_else(|| "X86_64 (the default: no runtimePlatform set)".to_string());
    Described {
        values: FindingValues::WrongCpuArchitecture { wanted, ran: None },
        detail: format!(
            "exec format error: the image's binary was built for another CPU architecture than the task's {platform}: build a multi-architecture image or set runtimePlatform.cpuArchitecture to match"
        ),
    }
}

/// The task definition asks for one CPU architecture and the task ran on another.
pub fn mismatch(evidence: &Evidence, definition: &TaskDefinition) -> Option<DetailedFinding> {
    let wanted = normalise_architecture(definition.cpu_architecture.as_deref()?);
    let ran = normalise_architecture(evidence.task.cpu_architecture.as_deref()?);
    (wanted != ran).then(|| {
        DetailedFinding::new(
            Described {
                detail: format!(
                    "The task definition asks for {wanted} (runtimePlatform) but the task ran on {ran}"
                ),
                values: FindingValues::WrongCpuArchitecture {
                    wanted: Some(wanted.clone()),
                    ran: Some(ran),
                },
            },
            None,
            Some(format!("runtimePlatform.cpuArchitecture: {wanted}")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_are_normalised() {
        assert_eq!(normalise_architecture("amd64"), "X86_64");
        assert_eq!(normalise_architecture("aarch64"), "ARM64");
        assert_eq!(normalise_architecture("riscv64"), "RISCV64");
    }
}
