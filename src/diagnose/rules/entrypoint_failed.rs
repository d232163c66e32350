//! `entrypoint-failed`: the container's program could not be run. Recognised from the
//! reason ("exec format error", "executable file not found") before the start-failure
//! rules that would also match it, and from the blamed container's exit code (126, 127,
//! or any failure with a wrong-architecture finding) among the exit-code rules.

use super::meaning::Meaning;
use super::wording::cut;
use super::wording::describe_command;
use super::{Facts, Verdict};
use crate::diagnose::catalog::fixes;
use crate::diagnose::findings::FindingKind;
use crate::diagnose::findings::FindingValues;
use crate::diagnose::layers::ReasonChain;
use crate::diagnose::text::quotable;
use crate::diagnose::CauseId;
use crate::evidence::probes::ChangedField;
use crate::evidence::Container;
use crate::values::normalise_architecture;
use regex::Regex;
use std::sync::LazyLock;

/// The binary was built for another CPU architecture.
const EXEC_FORMAT_ERROR: &str = "exec format error";
/// The runtime could not find or run the program.
const NOT_RUNNABLE: &[&str] = &[
    "executable file not found",
    "exec: \"",
    "exec: \\\"",
    "permission denied: unknown",
];
/// A container's own reason that names the program it could not run.
const NAMES_THE_PROGRAM: &[&str] = &["exec:", "executable file not found"];
const PERMISSION_DENIED: &str = "permission denied";
const NO_SUCH_FILE: &str = "no such file or directory";

/// The program runc could not run: `exec: "/app/start.sh": permission denied`, also with
/// the quotes escaped as older Docker versions print them.
static PROGRAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"exec: \\?"(?P<program>[^"\\]+)\\?""#).expect("valid program regex")
});

/// Exit codes of a command that is not executable (126) or not found (127).
const NOT_EXECUTABLE: i32 = 126;
const NOT_FOUND: i32 = 127;

/// From the reasons: an exec format error, or a program that could not be found or run.
pub fn recognise(f: &Facts) -> Option<Verdict> {
    if f.reasons_mention(EXEC_FORMAT_ERROR) {
        let container = f.container_mentioning(&[EXEC_FORMAT_ERROR]);
        return Some(wrong_architecture(f, container));
    }
    if !f.reasons_mention_any(NOT_RUNNABLE) {
        return None;
    }
    let container = f.container_mentioning(NAMES_THE_PROGRAM)?;
    let reason = container
        .reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(f.telling_reason());
    // Read by layers, quotes unescaped: `exec: "x": ...` whatever the wrappers.
    let cleaned = ReasonChain::parse(reason);
    let mut verdict = Verdict::new(
        CauseId::EntrypointFailed,
        format!(
            "{}: container `{}` could not start its program: \"{}\".",
            f.subject(),
            container.name,
            quotable(cleaned.telling_words())
        ),
    );
    if let Some(line) = f.definition_of(container).and_then(describe_command) {
        verdict = verdict.evidence(line);
    }
    let lowercase = cleaned.cleaned().to_lowercase();
    if let Some(program) = PROGRAM
        .captures(cleaned.cleaned())
        .and_then(|c| c.name("program"))
    {
        let program = program.as_str();
        if lowercase.contains(PERMISSION_DENIED) {
            verdict = verdict.fix(format!(
                "`{program}` is in the image but not executable: `RUN chmod +x {program}` in the Dockerfile (or `COPY --chmod=755`), then push and deploy the new image."
            ));
        } else if lowercase.contains(NO_SUCH_FILE) {
            verdict = verdict.fix(format!(
                "`{program}` (or the interpreter its `#!` line names) is not in the image: check the path and the image's build stage."
            ));
        }
    }
    Some(command_fixes(verdict))
}

/// From the blamed container's exit code. An exit-code rule: it comes after those for
/// 0, 137 and 139, which a wrong-architecture finding must not override.
pub fn recognise_by_exit_code(f: &Facts) -> Option<Verdict> {
    let container = f.blamed_container?;
    let code = container.exit_code?;
    let wrong_architecture_found = f
        .findings_of(FindingKind::WrongCpuArchitecture)
        .any(|x| x.is_about(&container.name));
    if wrong_architecture_found {
        return Some(wrong_architecture(f, Some(container)));
    }
    if code != NOT_EXECUTABLE && code != NOT_FOUND {
        return None;
    }
    let why = if code == NOT_EXECUTABLE {
        "its entry point exists but is not executable (exit code 126)"
    } else {
        "its command was not found in the image (exit code 127)"
    };
    let mut verdict = Verdict::new(
        CauseId::EntrypointFailed,
        format!(
            "{}: container `{}` could not run: {why}.",
            f.subject(),
            container.name
        ),
    );
    if let Some(line) = f.blamed_definition.and_then(describe_command) {
        verdict = verdict.evidence(line);
    }
    Some(command_fixes(verdict))
}

/// The catalog's fixes about the command itself (not the architecture one).
fn command_fixes(verdict: Verdict) -> Verdict {
    verdict
        .fix(fixes::ENTRYPOINT_CHECK_COMMAND)
        .fix(fixes::ENTRYPOINT_MAKE_EXECUTABLE)
}

/// An "exec format error": the image was built for another CPU architecture.
fn wrong_architecture(f: &Facts, container: Option<&Container>) -> Verdict {
    let name = container.map_or("the container", |c| c.name.as_str());
    let wanted = f
        .task_definition
        .and_then(|d| d.cpu_architecture.as_deref())
        .or(f.task.cpu_architecture.as_deref())
        .map(normalise_architecture)
        .unwrap_or_else(|| "X86_64 (default)".to_string());
    let image = container
        .and_then(|c| c.image.as_deref())
        .map(|i| format!(" `{i}`"))
        .unwrap_or_default();
    let platform = if wanted.starts_with("ARM64") {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    Verdict::new(
        CauseId::EntrypointFailed,
        format!(
            "{}: container `{name}` could not run its program (exec format error): the image{image} was built for another CPU architecture than the task's {wanted}.",
            f.subject()
        ),
    )
    .fix(format!(
        "Build the image for {wanted} (`docker buildx build --platform {platform} ...`) or a multi-architecture image, or set `runtimePlatform.cpuArchitecture` to the image's architecture."
    ))
}

/// `/app/server not found in the image`, `image built for another CPU than the task's
/// ARM64`, ...
fn headline(f: &Facts) -> Option<String> {
    let container = f.blamed_container?;
    let def = f.definition_of(container);
    let program = def.and_then(|d| d.entry_point.first().or(d.command.first()));
    let wrong_arch = f.findings.iter().find_map(|x| match &x.values {
        FindingValues::WrongCpuArchitecture { wanted, .. } => Some(wanted.clone()),
        _ => None,
    });
    if let Some(wanted) = wrong_arch {
        return Some(match wanted {
            Some(arch) => format!("image built for another CPU than the task's {arch}"),
            None => "image built for another CPU architecture".to_string(),
        });
    }
    if let Some(named) = named_in_reason(f) {
        return Some(named);
    }
    let program = program.map(|p| cut(p))?;
    Some(match container.exit_code {
        Some(126) => format!("{program} is not executable (exit 126)"),
        Some(127) => format!("{program}: command not found (exit 127)"),
        _ => format!("{program} not found in the image"),
    })
}

/// `/app/start.sh is not executable`, from a reason that names the program runc could
/// not run (`exec: "/app/start.sh": permission denied`).
fn named_in_reason(f: &Facts) -> Option<String> {
    let chain = std::iter::once(f.telling_chain())
        .chain(&f.container_chains)
        .chain(std::iter::once(&f.task_chain))
        .find(|c| PROGRAM.is_match(c.cleaned()))?;
    let program = PROGRAM.captures(chain.cleaned())?.name("program")?.as_str();
    let program = cut(program);
    let words = chain.cleaned().to_lowercase();
    Some(if words.contains(PERMISSION_DENIED) {
        format!("{program} is not executable")
    } else {
        format!("{program} not found in the image")
    })
}

/// A new entry point, command, image or platform explains a program that cannot run.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| Vec::new(),
    key_changes: &[
        ChangedField::EntryPoint,
        ChangedField::Command,
        ChangedField::Image,
        ChangedField::RuntimePlatform,
    ],
};
