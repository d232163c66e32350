//! [`headline`]: the specific cause in a few words, from this task's own evidence and
//! without the service's name (`ELB health check GET / got 404`, `DATABASE_URL is not
//! set`). The cause's title when the evidence names nothing more specific.

use super::from_logs::checked_container;
use super::stop_story::{stop_request, stop_timeout, SIGKILL_EXIT};
use crate::diagnose::findings::{FindingValues, VariableDefinition};
use crate::diagnose::rules::Facts;
use crate::diagnose::values::logs::{elb_status_codes, elb_timed_out, last_line, last_request};
use crate::diagnose::values::{ImageRef, MemoryLimits};
use crate::diagnose::CauseId;
use crate::evidence::{Container, Evidence, StopLookup};
use regex::Regex;
use std::sync::LazyLock;

/// Headlines are cut to this many characters.
pub const MAX_HEADLINE_CHARS: usize = 80;
/// Values quoted inside a headline are cut to this many characters.
const MAX_VALUE_CHARS: usize = 48;
/// ECS's wording of a StopTask without a reason of the caller's.
const DEFAULT_USER_STOP_REASON: &str = "Task stopped by user";

static DEPLOYMENT_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ecs-svc/\d+").expect("valid deployment id regex"));
static SUBNET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"subnet-[0-9a-f]+").expect("valid subnet regex"));
static INSTANCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bi-[0-9a-f]{8,}\b").expect("valid instance regex"));
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:secret:([\w/+=.@-]+)|invalid parameters: (\S+))").expect("valid secret regex")
});

/// The headline of a diagnosis of category `id`, or `title` when nothing is more specific.
pub fn headline(id: CauseId, f: &Facts, evidence: &Evidence, title: &str) -> String {
    let specific = match id {
        CauseId::ElbHealthCheckFailed => elb(f, evidence),
        CauseId::OutOfMemory => out_of_memory(f),
        CauseId::ContainerKilledSigkill => sigkill(f, evidence),
        CauseId::ContainerExitedAppError => app_error(f),
        CauseId::ContainerExitedSuccess => f.blamed_container.map(|c| {
            if f.task.service_name().is_some() {
                format!(
                    "`{}` exited 0, but a service expects it to keep running",
                    c.name
                )
            } else {
                format!("`{}` finished (exit 0)", c.name)
            }
        }),
        CauseId::ContainerHealthCheckFailed => health_check(f),
        CauseId::Segfault => f
            .blamed_container
            .map(|c| format!("`{}` crashed with a segmentation fault (exit 139)", c.name)),
        CauseId::StoppedByUser => stopped_by_user(f),
        CauseId::ScalingEvent if f.reasons_mention("is being deleted") => {
            Some("the service is being deleted".to_string())
        }
        CauseId::ScalingEvent => Some("the service scaled in (desired count lowered)".to_string()),
        CauseId::DeploymentReplaced => DEPLOYMENT_ID
            .find(f.stopped_reason)
            .map(|m| format!("replaced by deployment {}", m.as_str())),
        CauseId::SpotInterruption => Some(match f.task.capacity_provider.as_deref() {
            Some(p) => format!("Spot capacity reclaimed by AWS ({p})"),
            None => "Spot capacity reclaimed by AWS".to_string(),
        }),
        CauseId::ImagePullFailed => image_pull(f),
        CauseId::SecretsOrRegistryAuth => secrets(f),
        CauseId::NetworkSetupFailed => network(f),
        CauseId::EntrypointFailed => entrypoint(f),
        CauseId::InsufficientResourcesPlacement => placement(f),
        CauseId::InstanceUnhealthyOrTerminated => instance(f),
        CauseId::ContainerCreateFailed => create_failed(f),
        CauseId::TaskLimitQuota => f
            .task
            .region()
            .map(|r| format!("task quota of the account reached in {r}")),
        CauseId::InfrastructureMaintenance => {
            Some("AWS retired the task for infrastructure maintenance".to_string())
        }
        CauseId::DockerTimeout => f
            .reasons_mention("timed out after")
            .then(|| "the container runtime timed out starting the container".to_string()),
        CauseId::Other if !f.stopped_reason.is_empty() => {
            Some(format!("\"{}\"", cut(f.stopped_reason)))
        }
        CauseId::InternalError | CauseId::Other => None,
    };
    let text = specific.unwrap_or_else(|| title.to_string());
    let text = crate::redact::redact(&text).into_owned();
    crate::text::truncate(&text, MAX_HEADLINE_CHARS).into_owned()
}

/// A value cut to fit a headline.
fn cut(value: &str) -> String {
    crate::text::truncate(value.trim(), MAX_VALUE_CHARS).into_owned()
}

fn elb(f: &Facts, evidence: &Evidence) -> Option<String> {
    let container = checked_container(f).or(f.blamed_container);
    let request = container.and_then(|c| last_request(evidence, &c.name));
    let codes = elb_status_codes(f.service_events).map(|(codes, _)| codes);
    match (request, codes) {
        (Some(r), Some(codes)) if codes.contains(&r.status) => Some(format!(
            "ELB health check {} {} got {}",
            r.method,
            cut(&r.path),
            r.status
        )),
        (_, Some(codes)) => Some(format!(
            "ELB health checks got HTTP {}",
            codes
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (Some(r), None) => Some(format!(
            "ELB health check {} {} got {}",
            r.method,
            cut(&r.path),
            r.status
        )),
        (None, None) if elb_timed_out(f.service_events).is_some() => {
            Some("ELB health checks timed out".to_string())
        }
        (None, None) => container
            .and_then(|c| last_line(evidence, &c.name))
            .map(|l| format!("ELB health checks failed; last log: \"{}\"", cut(l))),
    }
}

fn out_of_memory(f: &Facts) -> Option<String> {
    let container = f
        .container_whose_reason(crate::diagnose::rules::says_out_of_memory)
        .or(f.blamed_container)?;
    let reason_said = container
        .reason
        .as_deref()
        .is_some_and(crate::diagnose::rules::says_out_of_memory)
        || crate::diagnose::rules::says_out_of_memory(f.stopped_reason);
    let exit = container
        .exit_code
        .map(|c| format!(" (exit {c})"))
        .unwrap_or_default();
    if reason_said {
        let limits = MemoryLimits::of(
            f.task,
            f.task_definition,
            Some(container),
            f.definition_of(container),
        );
        return Some(match limits.container.or(limits.task) {
            Some(limit) => format!("`{}` killed at its {limit} MiB limit{exit}", container.name),
            None => format!(
                "`{}` killed for exceeding its memory limit{exit}",
                container.name
            ),
        });
    }
    let line = f
        .findings
        .iter()
        .find(|x| x.is_about(&container.name) && matches!(x.values, FindingValues::OomInLogs))
        .and_then(|x| x.finding.line.as_deref())?;
    let what = if line.contains("java.lang.OutOfMemoryError: Java heap space") {
        "Java heap exhausted"
    } else if line.contains("java.lang.OutOfMemoryError") {
        "JVM out of memory"
    } else if line.contains("JavaScript heap out of memory") {
        "Node.js heap exhausted"
    } else if line.contains("fatal error: runtime: out of memory") {
        "Go runtime out of memory"
    } else if line.contains("MemoryError") {
        "Python MemoryError"
    } else {
        "the process ran out of memory"
    };
    Some(format!("{what}{exit}"))
}

fn sigkill(f: &Facts, evidence: &Evidence) -> Option<String> {
    let container = f.blamed_container?;
    if container.exit_code != Some(SIGKILL_EXIT) {
        return None;
    }
    Some(match stop_request(f, evidence, container) {
        Some(_) => format!(
            "`{}` killed {} s after a stop request (exit 137)",
            container.name,
            stop_timeout(f, container).0
        ),
        None => format!(
            "`{}` killed with SIGKILL, no stop request (exit 137)",
            container.name
        ),
    })
}

fn app_error(f: &Facts) -> Option<String> {
    let container = f.blamed_container?;
    let about = |x: &&crate::diagnose::findings::DetailedFinding| x.is_about(&container.name);
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

fn health_check(f: &Facts) -> Option<String> {
    let container = f
        .task
        .containers
        .iter()
        .find(|c| c.health_status.as_deref() == Some("UNHEALTHY"))
        .or(f.blamed_container)?;
    let check = f.definition_of(container)?.health_check.as_ref()?;
    let command = check.shell_command();
    let command = command.trim_end_matches("|| exit 1").trim_end();
    Some(format!(
        "`{}` health check failed: {}",
        container.name,
        cut(command)
    ))
}

fn stopped_by_user(f: &Facts) -> Option<String> {
    let StopLookup::Found(who) = f.stop_lookup else {
        return Some("stopped by a StopTask call".to_string());
    };
    let caller = who.who().unwrap_or_else(|| "an unnamed caller".to_string());
    let reason = who
        .reason
        .as_deref()
        .or(Some(f.stopped_reason))
        .map(str::trim)
        .filter(|r| !r.is_empty() && !r.starts_with(DEFAULT_USER_STOP_REASON));
    Some(match reason {
        Some(r) => format!("stopped by {caller}: \"{}\"", cut(r)),
        None => format!("stopped by {caller} (StopTask)"),
    })
}

/// The image of the container a start failure names, as `repository:tag`.
fn image_of(container: Option<&Container>, f: &Facts) -> Option<String> {
    let container = container?;
    let image = container
        .image
        .clone()
        .or_else(|| f.definition_of(container).map(|d| d.image.clone()))
        .filter(|i| !i.is_empty())?;
    let image = ImageRef::parse(&image);
    Some(match image.tag {
        Some(tag) => format!("{}:{tag}", image.repository),
        None => image.repository,
    })
}

fn image_pull(f: &Facts) -> Option<String> {
    let image = image_of(f.container_mentioning(&["cannotpull"]), f)?;
    let image = cut(&image);
    Some(
        if f.reasons_mention_any(&["not found", "does not exist", "name unknown"]) {
            format!("image {image} not found")
        } else if f.reasons_mention_any(&["429", "toomanyrequests", "rate limit"]) {
            format!("pull rate limit reached pulling {image}")
        } else if f.reasons_mention_any(&["403", "denied", "unauthorized"]) {
            format!("registry refused access to {image}")
        } else if f.reasons_mention("no space left") {
            format!("no disk space left to pull {image}")
        } else if f.reasons_mention_any(&["timeout", "i/o timeout", "dial tcp"]) {
            format!("registry unreachable pulling {image}")
        } else {
            format!("cannot pull {image}")
        },
    )
}

fn secrets(f: &Facts) -> Option<String> {
    let timed_out = f.reasons_mention_any(&["timeout", "dial tcp", "send request failed"]);
    let named = SECRET.captures(f.stopped_reason).and_then(|c| {
        c.get(1).or(c.get(2)).map(|m| {
            cut(without_secret_suffix(
                m.as_str().trim_end_matches(['.', ':']),
            ))
        })
    });
    Some(match named {
        Some(name) if f.reasons_mention("kms") => format!("cannot decrypt secret {name} (KMS)"),
        Some(name) if f.reasons_mention("invalid parameters") => {
            format!("SSM parameter {name} not found")
        }
        Some(name) if f.reasons_mention("get registry auth") => {
            format!("cannot fetch registry credentials {name}")
        }
        Some(name) => format!("cannot fetch secret {name}"),
        None if timed_out => "AWS endpoint unreachable fetching secrets".to_string(),
        None => return None,
    })
}

/// `prod/orders/db` from `prod/orders/db-AbCdEf`: Secrets Manager's six-character suffix.
fn without_secret_suffix(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, suffix))
            if suffix.len() == 6 && suffix.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            base
        }
        _ => name,
    }
}

fn network(f: &Facts) -> Option<String> {
    if let Some(subnet) = SUBNET.find(f.stopped_reason) {
        if f.reasons_mention("free addresses") {
            return Some(format!(
                "subnet {} has no free IP addresses",
                subnet.as_str()
            ));
        }
    }
    f.reasons_mention("timeout waiting for network interface")
        .then(|| "network interface provisioning timed out".to_string())
}

fn entrypoint(f: &Facts) -> Option<String> {
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
    let program = program.map(|p| cut(p))?;
    Some(match container.exit_code {
        Some(126) => format!("{program} is not executable (exit 126)"),
        Some(127) => format!("{program}: command not found (exit 127)"),
        _ => format!("{program} not found in the image"),
    })
}

fn placement(f: &Facts) -> Option<String> {
    let what = if f.reasons_mention("resource:memory") {
        "free memory"
    } else if f.reasons_mention("resource:cpu") {
        "free CPU"
    } else if f.reasons_mention("resource:ports") {
        "the host ports it needs free"
    } else {
        return None;
    };
    Some(format!("no container instance had {what}"))
}

fn instance(f: &Facts) -> Option<String> {
    if let Some(id) = INSTANCE.find(f.stopped_reason) {
        if f.reasons_mention("terminated") {
            return Some(format!("host {} terminated", id.as_str()));
        }
        return Some(format!("host {} went away", id.as_str()));
    }
    f.reasons_mention("draining")
        .then(|| "its container instance was draining".to_string())
}

fn create_failed(f: &Facts) -> Option<String> {
    if f.reasons_mention("log group does not exist") {
        let group = f
            .container_definitions()
            .filter_map(|d| d.log_configuration.as_ref())
            .find_map(|l| l.options.get("awslogs-group"));
        return Some(match group {
            Some(g) => format!("log group {} does not exist", cut(g)),
            None => "its log group does not exist".to_string(),
        });
    }
    if f.reasons_mention_any(&["port is already allocated", "address already in use"]) {
        return Some("a host port it maps is already taken".to_string());
    }
    if f.reasons_mention("mount") {
        return Some("a volume could not be mounted".to_string());
    }
    None
}
