//! `container-exited-app-error`: the blamed essential container exited with an error
//! code no earlier rule explains. The findings of its logs say why, and name the fixes.

use super::meaning::Meaning;
use super::out_of_memory;
use super::wording::cut;
use super::{catalog_general_fixes, Facts, Verdict};
use crate::diagnose::findings::DetailedFinding;
use crate::diagnose::findings::{env_form, FindingKind, FindingValues, VariableDefinition};
use crate::diagnose::text::{as_sentence, lowercase_first};
use crate::diagnose::CauseId;
use crate::evidence::probes::ChangedField;
use crate::evidence::Container;
use crate::values::is_essential;

/// The last of the exit-code rules: any exit code left is the application's error.
pub fn recognise(f: &Facts) -> Option<Verdict> {
    let container = f.blamed_container?;
    let code = container.exit_code?;
    let how = match code {
        143 => "exited with 143 (it received SIGTERM from inside the task, e.g. a process manager or a dependency exiting)".to_string(),
        255 => "exited with 255 (a fatal error, often an exception or `exit(-1)`)".to_string(),
        134 => "aborted (exit code 134, SIGABRT)".to_string(),
        code => format!("exited with code {code}"),
    };
    let first = f
        .findings
        .iter()
        .find(|x| x.is_about(&container.name) && x.kind() != FindingKind::NoLogConfiguration);
    let mut because = first
        .map(|x| {
            format!(
                " The logs show: {}.",
                lowercase_first(x.finding.detail.trim_end_matches('.'))
            )
        })
        .unwrap_or_default();
    // A runtime's own out-of-memory message, with no memory kill recorded: say so, so
    // that nobody reads it as ECS having killed the container.
    if let Some(said) = out_of_memory::oom_line(f, &container.name)
        .and_then(|line| out_of_memory::no_memory_kill(f, container, line))
    {
        because.push_str(&said);
    }
    // A finding names the fix; the general steps ("read the last log lines", "run the
    // image locally") are only for when none does.
    let mut fixes = fixes_from_findings(f, container);
    if fixes.is_empty() {
        fixes = catalog_general_fixes(CauseId::ContainerExitedAppError);
    }
    let essential = if is_essential(f.task_definition, container) {
        "essential "
    } else {
        ""
    };
    Some(
        Verdict::new(
            CauseId::ContainerExitedAppError,
            format!(
                "{}: {essential}container `{}` {how}.{because}",
                f.subject(),
                container.name
            ),
        )
        .fixes(fixes),
    )
}

/// Fix steps named by the findings of an application error.
fn fixes_from_findings(f: &Facts, container: &Container) -> Vec<String> {
    let family = f.family().unwrap_or("the task definition");
    let mut fixes = Vec::new();
    let mut crash = None;
    for found in f.findings {
        let detail = &found.finding.detail;
        match &found.values {
            FindingValues::MissingEnvVar {
                name,
                definition: VariableDefinition::NotDefined { .. },
            } => {
                let variable = if name.contains('.') {
                    format!("`{}` (the environment form of `{name}`)", env_form(name))
                } else {
                    format!("`{name}`")
                };
                fixes.push(format!(
                    "Add {variable} to the `environment` (or, if it is sensitive, `secrets`) of container `{}` in a new revision of `{family}`, then deploy it.",
                    container.name
                ));
            }
            // Defined, or not checked for want of a task definition.
            FindingValues::MissingEnvVar { name, .. } => fixes.push(format!(
                "`{name}` is defined in `{family}` but the application still reads it as missing: check its value (not empty, right secret key) and the name's spelling in the code."
            )),
            FindingValues::DependencyUnreachable { .. } => fixes.push(format!(
                "{} Check that the dependency is up, that its address in the configuration is right, and that its security group allows the task's security group.",
                as_sentence(detail)
            )),
            FindingValues::PortInUse { .. } | FindingValues::AwsAccessDenied { .. } => {
                fixes.push(as_sentence(detail))
            }
            FindingValues::Crash if found.is_about(&container.name) => crash = Some(format!(
                "Fix what the crash names: {}; the stack trace under it in the log of `{}` gives the file and line.",
                found.finding.line.as_deref().map_or_else(|| detail.clone(), |l| format!("\"{l}\"")),
                container.name
            )),
            // The runtime's heap setting first, more memory second.
            FindingValues::OomInLogs if found.is_about(&container.name) => {
                let line = found.finding.line.as_deref().unwrap_or(detail);
                fixes.extend(out_of_memory::fixes_for_heap_line(f, container, line));
            }
            _ => {}
        }
    }
    // The crash line only names the fix when no more specific finding does.
    if fixes.is_empty() {
        fixes.extend(crash);
    }
    fixes
}

/// What the logs say the application lacked (`DATABASE_URL is not set (exit 1)`), its
/// crash, or its exit code.
fn headline(f: &Facts) -> Option<String> {
    let container = f.blamed_container?;
    let about = |x: &&DetailedFinding| x.is_about(&container.name);
    let specific = f
        .findings
        .iter()
        .filter(about)
        .find_map(|x| match &x.values {
            FindingValues::MissingEnvVar {
                name,
                definition: VariableDefinition::NotDefined { .. },
            } => Some(format!("{} is not set", cut(name))),
            FindingValues::MissingEnvVar { name, .. } => {
                Some(format!("{} is empty or unreadable", cut(name)))
            }
            FindingValues::DependencyUnreachable { target: Some(t) } => {
                Some(format!("cannot reach {}", cut(t)))
            }
            FindingValues::DependencyUnreachable { target: None } => {
                Some("a dependency is unreachable".to_string())
            }
            FindingValues::PortInUse { port: Some(p), .. } => {
                Some(format!("port {} is already in use", cut(p)))
            }
            FindingValues::AwsAccessDenied { denied: Some(d) } => {
                Some(format!("AWS denied {}", cut(&d.action)))
            }
            FindingValues::AwsAccessDenied { denied: None } => {
                Some("AWS denied access".to_string())
            }
            FindingValues::OomInLogs => x
                .finding
                .line
                .as_deref()
                .map(|line| out_of_memory::runtime_words(line).to_string()),
            _ => None,
        });
    let crash = || {
        f.findings
            .iter()
            .filter(about)
            .find(|x| matches!(x.values, FindingValues::Crash))
            .and_then(|x| x.finding.line.as_deref())
            .map(|l| format!("crashed: {}", cut(l)))
    };
    let code = container
        .exit_code
        .map(|c| format!(" (exit {c})"))
        .unwrap_or_default();
    Some(match specific.or_else(crash) {
        Some(what) => format!("{what}{code}"),
        None => format!("`{}` exited with an error{code}", container.name),
    })
}

/// A variable, secret, image or command that changed explains an application error.
pub const MEANING: Meaning = Meaning {
    headline,
    checks: |_| Vec::new(),
    key_changes: &[
        ChangedField::Environment,
        ChangedField::Secrets,
        ChangedField::Image,
        ChangedField::Command,
    ],
};
