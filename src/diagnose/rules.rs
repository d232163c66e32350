//! Rules: map the evidence to exactly one catalog category.
//!
//! The rules are tried in order and the first that recognises the task wins: reason texts
//! of start failures and infrastructure events first (they are the most specific), then
//! health checks, people and the service scheduler, then the blamed container's exit
//! code, and `other` last. Each rule returns a [`Verdict`]: the category plus a summary,
//! evidence and fixes written with the task's own values.

use super::findings::{self, container_definition, quote, Finding, FindingKind};
use super::values::{describe_health_check, on_fargate, ImageRef, MemoryLimits};
use super::{Cause, CauseId, ContainerSummary, Diagnosis, TaskSummary};
use crate::evidence::{
    Container, ContainerDefinition, Evidence, ServiceEvent, StopLookup, Task, TaskDefinition,
};
use chrono::Duration;
use regex::Regex;
use std::sync::LazyLock;

/// What one rule concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub id: CauseId,
    pub summary: String,
    pub evidence: Vec<String>,
    pub fixes: Vec<String>,
}

impl Verdict {
    fn new(id: CauseId, summary: String) -> Verdict {
        Verdict {
            id,
            summary,
            evidence: Vec::new(),
            fixes: Vec::new(),
        }
    }

    fn evidence(mut self, line: impl Into<String>) -> Verdict {
        self.evidence.push(line.into());
        self
    }

    fn fix(mut self, step: impl Into<String>) -> Verdict {
        self.fixes.push(step.into());
        self
    }

    fn fixes<I: IntoIterator<Item = String>>(mut self, steps: I) -> Verdict {
        self.fixes.extend(steps);
        self
    }
}

/// Everything the rules look at, read once.
pub struct Facts<'a> {
    pub task: &'a Task,
    pub definition: Option<&'a TaskDefinition>,
    pub findings: &'a [Finding],
    pub service_events: &'a [ServiceEvent],
    pub lookup: &'a StopLookup,
    pub stop_code: &'a str,
    pub reason: &'a str,
    /// Stopped reason and every container reason, lower-cased, one per line.
    pub reasons: String,
    /// The container to blame, if any.
    pub blamed: Option<&'a Container>,
    pub blamed_def: Option<&'a ContainerDefinition>,
}

impl<'a> Facts<'a> {
    pub fn new(evidence: &'a Evidence, findings: &'a [Finding]) -> Facts<'a> {
        let task = &evidence.task;
        let definition = evidence.task_definition.as_ref();
        let mut reasons = task.stopped_reason.clone().unwrap_or_default();
        for reason in task.containers.iter().filter_map(|c| c.reason.as_deref()) {
            reasons.push('\n');
            reasons.push_str(reason);
        }
        let blamed = blame(task, definition);
        Facts {
            task,
            definition,
            findings,
            service_events: &evidence.service_events,
            lookup: &evidence.stop_lookup,
            stop_code: task.stop_code.as_deref().unwrap_or_default(),
            reason: task.stopped_reason.as_deref().unwrap_or_default(),
            reasons: reasons.to_lowercase(),
            blamed,
            blamed_def: blamed
                .and_then(|c| definition.and_then(|d| container_definition(d, &c.name))),
        }
    }

    fn mentions(&self, needle: &str) -> bool {
        self.reasons.contains(needle)
    }

    fn mentions_any(&self, needles: &[&str]) -> bool {
        needles.iter().any(|n| self.reasons.contains(n))
    }

    /// "Task `ID` of service `svc`".
    fn subject(&self) -> String {
        match self.task.service_name() {
            Some(service) => format!("Task `{}` of service `{service}`", self.task.id()),
            None => format!("Task `{}`", self.task.id()),
        }
    }

    fn family(&self) -> Option<&str> {
        self.definition
            .map(|d| d.family.as_str())
            .filter(|f| !f.is_empty())
    }

    fn execution_role(&self) -> Option<&str> {
        self.definition?.execution_role_arn.as_deref()
    }

    fn fargate(&self) -> bool {
        on_fargate(self.task, self.definition)
    }

    fn region(&self) -> &str {
        self.task.region().unwrap_or("REGION")
    }

    fn findings_of(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }

    /// The container a start failure's reason names, else the blamed one.
    fn container_mentioning(&self, needles: &[&str]) -> Option<&'a Container> {
        self.task
            .containers
            .iter()
            .find(|c| {
                c.reason
                    .as_deref()
                    .map(str::to_lowercase)
                    .is_some_and(|r| needles.iter().any(|n| r.contains(n)))
            })
            .or(self.blamed)
    }

    fn definition_of(&self, container: &Container) -> Option<&'a ContainerDefinition> {
        self.definition
            .and_then(|d| container_definition(d, &container.name))
    }

    /// "the task execution role `arn`" or a note that there is none.
    fn execution_role_phrase(&self) -> String {
        match self.execution_role() {
            Some(arn) => format!("the task execution role `{arn}`"),
            None if self.definition.is_some() => {
                "a task execution role (the task definition has none: add `executionRoleArn`)"
                    .to_string()
            }
            None => "the task execution role".to_string(),
        }
    }
}

/// Is the container essential? Without a task definition, assume so.
fn is_essential(definition: Option<&TaskDefinition>, container: &Container) -> bool {
    definition
        .and_then(|d| container_definition(d, &container.name))
        .and_then(|c| c.essential)
        .unwrap_or(true)
}

/// Pick the container to blame: an essential one that exited non-zero or has a reason,
/// preferring real failures over the SIGTERM/SIGKILL that follow another's exit.
fn blame<'a>(task: &'a Task, definition: Option<&TaskDefinition>) -> Option<&'a Container> {
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

/// Diagnose one task.
pub fn diagnose(evidence: &Evidence) -> Diagnosis {
    let findings = findings::scan(evidence);
    let facts = Facts::new(evidence, &findings);
    let verdict = classify(&facts);
    let cause = Cause::get(verdict.id);
    let mut lines = base_evidence(&facts);
    lines.extend(verdict.evidence);
    let mut fixes = verdict.fixes;
    if fixes.is_empty() {
        fixes.extend(cause.general_fixes.iter().map(|f| f.to_string()));
    }
    if let Some((line, fix)) = killed_during_orderly_stop(&facts, verdict.id) {
        lines.push(line);
        fixes.push(fix);
    }
    let stopped_by = match &evidence.stop_lookup {
        StopLookup::Found(who) => Some(who.clone()),
        _ => None,
    };
    let title = if has_not_stopped(&evidence.task) {
        NOT_STOPPED_TITLE
    } else {
        cause.title
    };
    Diagnosis {
        task: summarize_task(&evidence.task),
        category: verdict.id,
        title: title.to_string(),
        summary: verdict.summary,
        evidence: dedupe(lines),
        fixes: dedupe(fixes),
        findings,
        stopped_by,
        notes: notes(evidence),
        console_url: console_url(&evidence.task),
    }
}

/// A stop ECS asked for (scale-in, deployment, user, Spot, maintenance) sends SIGTERM,
/// waits `stopTimeout`, then sends SIGKILL. A container that exits 137 in such a stop
/// ignored SIGTERM: the stop itself is normal, the unclean shutdown is not.
fn killed_during_orderly_stop(f: &Facts, category: CauseId) -> Option<(String, String)> {
    let orderly = matches!(
        category,
        CauseId::ScalingEvent
            | CauseId::DeploymentReplaced
            | CauseId::StoppedByUser
            | CauseId::SpotInterruption
            | CauseId::InfrastructureMaintenance
    );
    if !orderly {
        return None;
    }
    let killed: Vec<&str> = f
        .task
        .containers
        .iter()
        .filter(|c| c.exit_code == Some(137))
        .map(|c| c.name.as_str())
        .collect();
    let first = *killed.first()?;
    let waited = match (f.task.stopping_at, f.task.stopped_at) {
        (Some(stopping), Some(stopped)) if stopped > stopping => {
            format!(
                " ({} s from stopping to stopped)",
                (stopped - stopping).num_seconds()
            )
        }
        _ => String::new(),
    };
    let names = killed
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some((
        format!("{names} exited with 137 (SIGKILL) during this stop: it did not exit after SIGTERM within its stopTimeout{waited}"),
        format!("The stop was orderly, but `{first}` was killed rather than shutting down: handle SIGTERM (exec form or `initProcessEnabled` if it runs under a shell) and exit within `stopTimeout`, so in-flight requests are not cut off."),
    ))
}

fn dedupe(lines: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    lines
        .into_iter()
        .filter(|l| seen.insert(l.clone()))
        .collect()
}

/// The rules, in order. The first that recognises the task decides.
const RULES: &[fn(&Facts) -> Option<Verdict>] = &[
    not_stopped,
    spot_interruption,
    infrastructure_maintenance,
    instance_unhealthy_or_terminated,
    task_limit_quota,
    insufficient_resources,
    secrets_or_registry_auth,
    network_setup,
    image_pull,
    exec_format_error_reason,
    out_of_memory_reason,
    container_create,
    docker_timeout,
    internal_error,
    elb_health_check,
    container_health_check,
    stopped_by_user,
    service_scheduler,
    exit_code,
];

/// Title of a task that has not stopped (category `other`: nothing stopped it).
const NOT_STOPPED_TITLE: &str = "The task has not stopped";

/// Is the task still running or starting, with nothing asking it to stop?
fn has_not_stopped(task: &Task) -> bool {
    let last = task.last_status.as_deref().unwrap_or("STOPPED");
    let desired = task.desired_status.as_deref().unwrap_or_default();
    last != "STOPPED"
        && desired != "STOPPED"
        && task.stopped_at.is_none()
        && task.stop_code.as_deref().unwrap_or_default().is_empty()
}

/// A RUNNING or PENDING task: say so plainly rather than "stopped for no reason".
fn not_stopped(f: &Facts) -> Option<Verdict> {
    if !has_not_stopped(f.task) {
        return None;
    }
    let last = f.task.last_status.as_deref().unwrap_or_default();
    let desired = f
        .task
        .desired_status
        .as_deref()
        .map(|d| format!(" (desired status {d})"))
        .unwrap_or_default();
    let mut verdict = Verdict::new(
        CauseId::Other,
        format!(
            "{} has not stopped: its last status is {last}{desired}, so there is no stop to explain yet.",
            f.subject()
        ),
    )
    .evidence(format!("Last status: {last}"));
    if matches!(last, "PROVISIONING" | "PENDING" | "ACTIVATING") {
        verdict = verdict.fix(
            "It is still starting: if it stays in this state, read the service's events (`aws ecs describe-services`) for placement, image pull or network problems.",
        );
    }
    Some(verdict.fix(format!(
        "Run `ecs-why why {}` again once it has stopped (ECS keeps stopped tasks about an hour).",
        f.task.arn
    )))
}

/// The verdict of the first rule that applies, else `other`.
pub fn classify(facts: &Facts) -> Verdict {
    RULES
        .iter()
        .find_map(|rule| rule(facts))
        .unwrap_or_else(|| other(facts))
}

/// Stop code, stopped reason and each container's exit code and reason, quoted.
fn base_evidence(facts: &Facts) -> Vec<String> {
    let mut lines = Vec::new();
    if !facts.stop_code.is_empty() {
        lines.push(format!("Stop code: {}", facts.stop_code));
    }
    if !facts.reason.is_empty() {
        lines.push(format!("Stopped reason: \"{}\"", quote(facts.reason)));
    }
    for container in &facts.task.containers {
        let mut line = format!("Container `{}`", container.name);
        if !is_essential(facts.definition, container) {
            line.push_str(" (not essential)");
        }
        match container.exit_code {
            Some(code) => line.push_str(&format!(" exited with code {code}")),
            None => line.push_str(" has no exit code"),
        }
        if let Some(reason) = container.reason.as_deref().filter(|r| !r.is_empty()) {
            line.push_str(&format!(": \"{}\"", quote(reason)));
        }
        if let Some(health) = container
            .health_status
            .as_deref()
            .filter(|h| *h != "UNKNOWN")
        {
            line.push_str(&format!(" (health {health})"));
        }
        lines.push(line);
    }
    lines
}

fn summarize_task(task: &Task) -> TaskSummary {
    TaskSummary {
        arn: task.arn.clone(),
        cluster: task.cluster.clone(),
        group: task.group.clone(),
        task_definition: task.task_definition.clone(),
        region: task.region().map(str::to_string),
        stop_code: task.stop_code.clone(),
        stopped_reason: task.stopped_reason.as_deref().map(redacted),
        started_at: task.started_at,
        stopped_at: task.stopped_at,
        containers: task
            .containers
            .iter()
            .map(|c| ContainerSummary {
                name: c.name.clone(),
                exit_code: c.exit_code,
                reason: c.reason.as_deref().map(redacted),
            })
            .collect(),
    }
}

/// Reason texts in full (the JSON contract carries them whole), with secrets removed.
fn redacted(text: &str) -> String {
    crate::redact::redact(text).into_owned()
}

/// The task's page in the ECS console, when region and cluster are known.
pub fn console_url(task: &Task) -> Option<String> {
    let region = task.region()?;
    let cluster = task.cluster_name();
    if cluster.is_empty() || task.arn.is_empty() {
        return None;
    }
    Some(format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{}/configuration?region={region}",
        task.id()
    ))
}

/// The evidence's notes, plus what the CloudTrail look-up could not say.
fn notes(evidence: &Evidence) -> Vec<String> {
    let mut notes = evidence.notes.clone();
    let user_stop = evidence.task.stop_code.as_deref() == Some("UserInitiated");
    match &evidence.stop_lookup {
        StopLookup::NotFoundYet if user_stop => notes.push(
            "CloudTrail has no StopTask event for this task yet: CloudTrail delivers events 5 to 15 minutes late, so look again in a few minutes.".to_string(),
        ),
        StopLookup::NotAttempted if user_stop => notes.push(
            "Who called StopTask was not looked up: run `ecs-why why` with AWS access, or search CloudTrail for EventName=StopTask around the stop time.".to_string(),
        ),
        _ => {}
    }
    let task = &evidence.task;
    if let (Some(last), Some("STOPPED")) =
        (task.last_status.as_deref(), task.desired_status.as_deref())
    {
        if last != "STOPPED" {
            notes.push(format!(
                "The task is still stopping (last status {last}): exit codes and reasons may not be final yet."
            ));
        }
    }
    notes
}

// ---------------------------------------------------------------------------------------
// Infrastructure
// ---------------------------------------------------------------------------------------

fn spot_interruption(f: &Facts) -> Option<Verdict> {
    let spot = f.stop_code == "SpotInterruption"
        || f.mentions_any(&[
            "spot task was interrupted",
            "spot interruption",
            "spot instance interruption",
        ]);
    if !spot {
        return None;
    }
    let provider = f
        .task
        .capacity_provider
        .as_deref()
        .map(|p| format!(" (capacity provider `{p}`)"))
        .unwrap_or_default();
    let mut verdict = Verdict::new(
        CauseId::SpotInterruption,
        format!(
            "{} ran on Spot capacity{provider} and AWS reclaimed it with a two-minute warning.",
            f.subject()
        ),
    );
    if let Some(service) = f.task.service_name() {
        verdict = verdict.fix(format!(
            "Give service `{service}` a capacity provider strategy that mixes on-demand and Spot, e.g. `FARGATE` base 1 weight 1 and `FARGATE_SPOT` weight 3, so interruptions never take every task."
        ));
    }
    Some(verdict.fixes(general(CauseId::SpotInterruption).into_iter().skip(1)))
}

fn infrastructure_maintenance(f: &Facts) -> Option<Verdict> {
    let maintenance = f.stop_code == "TerminationNotice"
        || f.mentions_any(&[
            "performing maintenance",
            "task retirement",
            "scheduled for retirement",
            "is being retired",
        ]);
    if !maintenance {
        return None;
    }
    let replacement = if f.task.service_name().is_some() {
        " Its service starts a replacement by itself."
    } else {
        " It was a standalone task: run it again if its work was not finished."
    };
    Some(
        Verdict::new(
            CauseId::InfrastructureMaintenance,
            format!(
                "{} was stopped by AWS to maintain the infrastructure it ran on.{replacement}",
                f.subject()
            ),
        )
        .fixes(general(CauseId::InfrastructureMaintenance)),
    )
}

static INSTANCE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bi-[0-9a-f]{8,17}\b").expect("valid instance id regex"));

fn instance_unhealthy_or_terminated(f: &Facts) -> Option<Verdict> {
    let host_gone = f.mentions("host ec2 (instance")
        || (f.mentions("container instance")
            && f.mentions_any(&[
                "draining",
                "unhealthy",
                "deregist",
                "terminat",
                "stopped",
                "disconnected",
            ]))
        || (f.mentions("instance i-") && f.mentions_any(&["terminated", "stopped"]));
    if !host_gone {
        return None;
    }
    let instance = INSTANCE_ID
        .find(f.reason)
        .map(|m| m.as_str().to_string())
        .or_else(|| f.task.container_instance_arn.clone())
        .unwrap_or_else(|| "its container instance".to_string());
    let mut verdict = Verdict::new(
        CauseId::InstanceUnhealthyOrTerminated,
        format!(
            "{} stopped because its host `{instance}` was stopped, terminated, drained or became unhealthy.",
            f.subject()
        ),
    );
    if let Some(arn) = &f.task.container_instance_arn {
        verdict = verdict.evidence(format!("Container instance: `{arn}`"));
    }
    if instance.starts_with("i-") {
        verdict = verdict.fix(format!(
            "See why `{instance}` went away: `aws autoscaling describe-scaling-activities --region {}` and `aws ec2 describe-instance-status --instance-ids {instance}`.",
            f.region()
        ));
    }
    Some(verdict.fixes(general(CauseId::InstanceUnhealthyOrTerminated)))
}

fn task_limit_quota(f: &Facts) -> Option<Verdict> {
    let quota = f.mentions_any(&[
        "reached the limit on the number of",
        "limitexceeded",
        "limit exceeded",
        "service quota",
    ]);
    if !quota {
        return None;
    }
    let service = if f.fargate() { "fargate" } else { "ecs" };
    Some(
        Verdict::new(
            CauseId::TaskLimitQuota,
            format!(
                "{} could not run because the account reached a quota in {}: \"{}\".",
                f.subject(),
                f.region(),
                quote(f.reason)
            ),
        )
        .fix(format!(
            "Check the quota and request an increase: `aws service-quotas list-service-quotas --service-code {service} --region {}`.",
            f.region()
        ))
        .fixes(general(CauseId::TaskLimitQuota).into_iter().skip(1)),
    )
}

static PLACEMENT_RESOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)RESOURCE:(MEMORY|CPU|PORTS|ENI|GPU)").expect("valid resource regex")
});

fn insufficient_resources(f: &Facts) -> Option<Verdict> {
    let placement = f.mentions_any(&[
        "resource:memory",
        "resource:cpu",
        "resource:ports",
        "resource:eni",
        "resource:gpu",
        "no container instances were found",
        "unable to place",
        "insufficient memory",
        "insufficient cpu",
        "capacity is unavailable at this time",
        "memberof",
        "required attributes",
    ]);
    if !placement {
        return None;
    }
    let resource = PLACEMENT_RESOURCE
        .captures(f.reason)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_uppercase());
    let what = match resource.as_deref() {
        Some("MEMORY") => "free memory",
        Some("CPU") => "free CPU",
        Some("PORTS") => "the host ports it needs free",
        Some("ENI") => "a free network interface (ENI) slot",
        Some("GPU") => "a free GPU",
        _ => "room for it",
    };
    let mut verdict = Verdict::new(
        CauseId::InsufficientResourcesPlacement,
        format!(
            "{} could not be placed: no container instance in cluster `{}` had {what}.",
            f.subject(),
            f.task.cluster_name()
        ),
    );
    if let (Some(cpu), Some(memory)) = (f.task.cpu.as_deref(), f.task.memory.as_deref()) {
        verdict = verdict.evidence(format!("Task size: cpu {cpu}, memory {memory} MiB"));
    }
    match resource.as_deref() {
        Some("PORTS") => {
            let ports = fixed_host_ports(f.definition);
            if !ports.is_empty() {
                verdict = verdict.fix(format!(
                    "The task maps fixed host port(s) {}: only one such task fits per instance. Use `hostPort: 0` (dynamic ports) in bridge mode, or awsvpc.",
                    ports.join(", ")
                ));
            }
        }
        Some("ENI") => {
            verdict = verdict.fix(
                "Turn on ENI trunking (`aws ecs put-account-setting --name awsvpcTrunking --value enabled`) or use instance types with more ENIs.",
            );
        }
        _ => {}
    }
    Some(verdict.fixes(general(CauseId::InsufficientResourcesPlacement)))
}

fn fixed_host_ports(definition: Option<&TaskDefinition>) -> Vec<String> {
    definition
        .map(|d| {
            d.containers
                .iter()
                .flat_map(|c| c.port_mappings.iter())
                .filter_map(|m| m.host_port)
                .filter(|p| *p != 0)
                .map(|p| p.to_string())
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Start failures
// ---------------------------------------------------------------------------------------

static NOT_AUTHORIZED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"is not authorized to perform:? ([\w-]+:\w+)(?: on resource:? ([^\s,]+))?")
        .expect("valid not-authorized regex")
});
static SECRET_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"arn:aws[\w-]*:(?:secretsmanager|ssm|kms|s3):[^\s,'\x22)]+")
        .expect("valid arn regex")
});

fn secrets_or_registry_auth(f: &Facts) -> Option<Verdict> {
    let init = f.mentions("resourceinitializationerror") || f.mentions("fetching secret data");
    let about_secrets = f.mentions_any(&[
        "secret",
        "ssm",
        "parameter",
        "kms",
        "registry auth",
        "ecr",
        "getauthorizationtoken",
        "env file",
        "environment file",
        "asm",
    ]);
    if !(init && about_secrets) || f.mentions("failed to configure eni") {
        return None;
    }
    let role = f.execution_role_phrase();
    let mut verdict = Verdict::new(
        CauseId::SecretsOrRegistryAuth,
        format!(
            "{} could not start: ECS could not fetch the secrets or registry credentials of its task definition with {role}.",
            f.subject()
        ),
    );
    for (container, secret) in f
        .definition
        .into_iter()
        .flat_map(|d| d.containers.iter())
        .flat_map(|c| c.secrets.iter().map(move |s| (c, s)))
    {
        verdict = verdict.evidence(format!(
            "Secret `{}` of `{}` comes from `{}`",
            secret.name, container.name, secret.value_from
        ));
    }
    for container in f.definition.into_iter().flat_map(|d| d.containers.iter()) {
        if let Some(credentials) = &container.repository_credentials {
            verdict = verdict.evidence(format!(
                "Registry credentials of `{}` come from `{credentials}`",
                container.name
            ));
        }
    }
    let named: Vec<String> = SECRET_ARN
        .find_iter(f.reason)
        .map(|m| format!("`{}`", m.as_str().trim_end_matches('.')))
        .collect();
    let named = if named.is_empty() {
        "the referenced secrets and parameters".to_string()
    } else {
        named.join(", ")
    };
    if let Some(caps) = NOT_AUTHORIZED.captures(f.reason) {
        let action = caps.get(1).map_or("", |m| m.as_str());
        let resource = caps
            .get(2)
            .map_or(named.clone(), |m| format!("`{}`", m.as_str()));
        verdict = verdict.fix(format!(
            "Allow `{action}` on {resource} in the policy of {role}."
        ));
    } else if f.mentions_any(&["accessdenied", "not authorized", "access denied"]) {
        verdict = verdict.fix(format!(
            "Allow `secretsmanager:GetSecretValue`, `ssm:GetParameters` and (for customer-managed keys) `kms:Decrypt` on {named} in the policy of {role}."
        ));
    }
    if f.mentions("kms") {
        verdict = verdict.fix(format!(
            "Allow `kms:Decrypt` on the secret's KMS key for {role}, and let the role use it in the key policy."
        ));
    }
    if f.mentions_any(&[
        "resourcenotfound",
        "parameternotfound",
        "invalid parameters",
        "not found",
        "does not exist",
    ]) {
        verdict = verdict.fix(format!(
            "Check that each of {named} exists in {} and in this account; the task definition must name them exactly (full ARN for Secrets Manager, including the suffix, or the parameter name).",
            f.region()
        ));
    }
    if f.mentions_any(&["registry auth", "getauthorizationtoken", "ecr"]) && !f.mentions("secret") {
        verdict = verdict.fix(format!(
            "Allow `ecr:GetAuthorizationToken` (resource `*`) for {role}."
        ));
    }
    if let Some(credentials) = f
        .definition
        .into_iter()
        .flat_map(|d| d.containers.iter())
        .find_map(|c| c.repository_credentials.as_deref())
    {
        if f.mentions("registry auth") || f.mentions("repositorycredentials") {
            verdict = verdict.fix(format!(
                "The private registry credentials come from `{credentials}`: allow `secretsmanager:GetSecretValue` on it for {role}, and check it holds `username` and `password` keys."
            ));
        }
    }
    // Not "retried": ECS says "service call has been retried N time(s)" before every
    // error, an AccessDenied or a missing secret as much as a timeout.
    if f.mentions_any(&[
        "i/o timeout",
        "context deadline exceeded",
        "dial tcp",
        "timeout",
    ]) {
        verdict = verdict.fix(format!(
            "The call to the AWS endpoint timed out: from a private subnet add a NAT gateway or VPC endpoints (`com.amazonaws.{r}.secretsmanager`, `com.amazonaws.{r}.ssm`, `com.amazonaws.{r}.ecr.api`, `com.amazonaws.{r}.kms`); in a public subnet on Fargate set `assignPublicIp: ENABLED`.",
            r = f.region()
        ));
    }
    if f.mentions_any(&["env file", "environment file", "s3"]) {
        verdict = verdict.fix(format!(
            "Allow `s3:GetObject` (and `s3:GetBucketLocation`) on the environment files for {role}."
        ));
    }
    if verdict.fixes.is_empty() {
        verdict = verdict.fixes(general(CauseId::SecretsOrRegistryAuth));
    }
    Some(verdict)
}

fn network_setup(f: &Facts) -> Option<Verdict> {
    static ENI: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\beni\b|network interface|failed to set ?up network|cni plugin|free (?:ip )?addresses|insufficientfreeaddresses|networkinterface")
            .expect("valid eni regex")
    });
    if !ENI.is_match(&f.reasons) {
        return None;
    }
    let verdict = Verdict::new(
        CauseId::NetworkSetupFailed,
        format!(
            "{} could not start: ECS could not set up its network interface: \"{}\".",
            f.subject(),
            quote(f.reason)
        ),
    );
    let subnet_fix = if f.mentions_any(&["free", "address"]) {
        vec![format!(
            "The subnet ran out of IP addresses: check with `aws ec2 describe-subnets --region {}` (AvailableIpAddressCount) and add subnets or larger ones to the service's network configuration.",
            f.region()
        )]
    } else {
        Vec::new()
    };
    Some(
        verdict
            .fixes(subnet_fix)
            .fixes(general(CauseId::NetworkSetupFailed)),
    )
}

fn image_pull(f: &Facts) -> Option<Verdict> {
    const PULL: &[&str] = &[
        "cannotpullcontainererror",
        "pull image manifest",
        "failed to pull",
        "pull access denied",
        "error pulling image",
        "pulling image",
        "failed to resolve ref",
        "pull image",
    ];
    if !f.mentions_any(PULL) {
        return None;
    }
    let container = f.container_mentioning(&["pull"]);
    let image_text = container
        .and_then(|c| c.image.clone())
        .or_else(|| {
            container
                .and_then(|c| f.definition_of(c))
                .map(|d| d.image.clone())
        })
        .unwrap_or_default();
    let name = container.map_or("the container", |c| c.name.as_str());
    let image = ImageRef::parse(&image_text);
    let shown = if image_text.is_empty() {
        "its image".to_string()
    } else {
        format!("`{image_text}`")
    };
    let role = f.execution_role_phrase();
    let (why, fixes): (&str, Vec<String>) = if f.mentions("no space left on device") {
        (
            "the host ran out of disk space while pulling",
            vec![if f.fargate() {
                "Raise the task's `ephemeralStorage.sizeInGiB` (21 to 200 GiB on Fargate), or make the image smaller.".to_string()
            } else {
                "Free disk space on the container instance (lower `ECS_IMAGE_CLEANUP_INTERVAL` / `ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION`), or give instances a larger root or data volume.".to_string()
            }],
        )
    } else if f.mentions("toomanyrequests") {
        (
            "Docker Hub refused the pull: its anonymous pull rate limit was reached",
            vec![
                "Copy the image to Amazon ECR (or use ECR pull-through cache) instead of pulling from Docker Hub anonymously.".to_string(),
                "Or authenticate to Docker Hub with `repositoryCredentials` in the container definition.".to_string(),
            ],
        )
    } else if f.mentions_any(&[
        "access denied",
        "accessdenied",
        "403",
        "forbidden",
        "unauthorized",
        "401",
        "not authorized",
        "denied",
    ]) {
        (
            "the registry refused access",
            vec![if image.ecr.is_some() {
                format!("Allow `ecr:GetAuthorizationToken`, `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer` for {role} (attach AmazonECSTaskExecutionRolePolicy), and check the repository policy when the image is in another account.")
            } else {
                "Give the container `repositoryCredentials` (a Secrets Manager secret with `username` and `password`) for the private registry, readable by the execution role.".to_string()
            }],
        )
    } else if f.mentions_any(&[
        "not found",
        "manifest unknown",
        "does not exist",
        "name unknown",
        "no such image",
        "notfound",
    ]) {
        (
            "the repository or tag does not exist",
            vec![
                format!("Check that {shown} exists: `{}`.", image.check_command()),
                "Fix the image tag in the task definition (or push it) and deploy a new revision; pin tags your pipeline actually pushes.".to_string(),
            ],
        )
    } else if f.mentions_any(&[
        "i/o timeout",
        "context deadline exceeded",
        "timeout",
        "dial tcp",
        "no route",
        "connection reset",
        "request canceled",
        "network is unreachable",
    ]) {
        (
            "the registry could not be reached from the task's network",
            vec![format!(
                "From a private subnet, add a NAT gateway or the VPC endpoints `com.amazonaws.{r}.ecr.api`, `com.amazonaws.{r}.ecr.dkr` and the S3 gateway endpoint (plus `logs` for awslogs); in a public subnet on Fargate set `assignPublicIp: ENABLED`.",
                r = f.region()
            ), "Check that the task's security group allows outbound HTTPS (443).".to_string()],
        )
    } else {
        ("the pull failed", general(CauseId::ImagePullFailed))
    };
    let mut verdict = Verdict::new(
        CauseId::ImagePullFailed,
        format!(
            "{} could not start: pulling {shown} for container `{name}` failed because {why}.",
            f.subject()
        ),
    )
    .fixes(fixes);
    if let Some(tag) = &image.tag {
        verdict = verdict.evidence(format!(
            "Image: repository `{}`, tag `{tag}`",
            image.repository
        ));
    }
    Some(verdict)
}

fn exec_format_error_reason(f: &Facts) -> Option<Verdict> {
    if f.mentions("exec format error") {
        let container = f.container_mentioning(&["exec format error"]);
        return Some(entrypoint_arch_verdict(f, container));
    }
    if !f.mentions_any(&[
        "executable file not found",
        "exec: \"",
        "permission denied: unknown",
    ]) {
        return None;
    }
    let container = f.container_mentioning(&["exec:", "executable file not found"])?;
    let reason = container.reason.as_deref().unwrap_or(f.reason);
    let mut verdict = Verdict::new(
        CauseId::EntrypointFailed,
        format!(
            "{}: container `{}` could not start its program: \"{}\".",
            f.subject(),
            container.name,
            quote(reason)
        ),
    );
    if let Some(line) = f.definition_of(container).and_then(describe_command) {
        verdict = verdict.evidence(line);
    }
    Some(verdict.fixes(general(CauseId::EntrypointFailed).into_iter().take(2)))
}

/// An "exec format error": the image was built for another CPU architecture.
fn entrypoint_arch_verdict(f: &Facts, container: Option<&Container>) -> Verdict {
    let name = container.map_or("the container", |c| c.name.as_str());
    let wanted = f
        .definition
        .and_then(|d| d.cpu_architecture.as_deref())
        .or(f.task.cpu_architecture.as_deref())
        .map(findings::normalise_architecture)
        .unwrap_or_else(|| "X86_64 (default)".to_string());
    let image = container
        .and_then(|c| c.image.as_deref())
        .map(|i| format!(" `{i}`"))
        .unwrap_or_default();
    Verdict::new(
        CauseId::EntrypointFailed,
        format!(
            "{}: container `{name}` could not run its program (exec format error): the image{image} was built for another CPU architecture than the task's {wanted}.",
            f.subject()
        ),
    )
    .fix(format!(
        "Build the image for {wanted} (`docker buildx build --platform {} ...`) or a multi-architecture image, or set `runtimePlatform.cpuArchitecture` to the image's architecture.",
        if wanted.starts_with("ARM64") { "linux/arm64" } else { "linux/amd64" }
    ))
}

fn out_of_memory_reason(f: &Facts) -> Option<Verdict> {
    if !f.mentions("outofmemory") {
        return None;
    }
    let container = f.container_mentioning(&["outofmemory"]);
    Some(out_of_memory_verdict(f, container))
}

/// Out of memory, with the limits and a larger valid size.
fn out_of_memory_verdict(f: &Facts, container: Option<&Container>) -> Verdict {
    let name = container.map_or("the container", |c| c.name.as_str());
    let def = container.and_then(|c| f.definition_of(c));
    let limits = MemoryLimits::of(f.task, f.definition, container, def);
    let limit_text = limits
        .container
        .or(limits.task)
        .map(|m| format!(" of {m} MiB"))
        .unwrap_or_default();
    let mut verdict = Verdict::new(
        CauseId::OutOfMemory,
        format!(
            "{}: container `{name}` used more than its memory limit{limit_text} and was killed (out of memory).",
            f.subject()
        ),
    );
    if let Some(line) = limits.describe(name) {
        verdict = verdict.evidence(line);
    }
    if let Some(fix) = limits.raise_fix(name, f.fargate(), f.family()) {
        verdict = verdict.fix(fix);
    }
    verdict.fixes(general(CauseId::OutOfMemory).into_iter().skip(1))
}

fn container_create(f: &Facts) -> Option<Verdict> {
    const CREATE: &[&str] = &[
        "cannotcreatecontainererror",
        "cannotstartcontainererror",
        "cannotinspectcontainererror",
        "containerruntimeerror",
        "resourceinitializationerror",
        "failed to validate logger args",
        "address already in use",
        "port is already allocated",
    ];
    if !f.mentions_any(CREATE) {
        return None;
    }
    let container = f.container_mentioning(&["cannot", "error", "address already in use"]);
    let name = container.map_or("a container", |c| c.name.as_str());
    let verdict = Verdict::new(
        CauseId::ContainerCreateFailed,
        format!(
            "{}: the container runtime could not create or start container `{name}`: \"{}\".",
            f.subject(),
            quote(
                container
                    .and_then(|c| c.reason.as_deref())
                    .filter(|r| !r.is_empty())
                    .unwrap_or(f.reason)
            )
        ),
    );
    let fixes = if f.mentions_any(&["address already in use", "port is already allocated"]) {
        let ports = fixed_host_ports(f.definition);
        let mode = f
            .definition
            .and_then(|d| d.network_mode.as_deref())
            .unwrap_or("bridge");
        vec![if ports.is_empty() {
            "A port the container maps is taken on the host: use dynamic host ports (`hostPort: 0`) or awsvpc networking.".to_string()
        } else {
            format!(
                "The task maps fixed host port(s) {} in `{mode}` mode, and another task or process on the instance holds it: use `hostPort: 0` in bridge mode, or awsvpc, or a placement constraint `distinctInstance`.",
                ports.join(", ")
            )
        }]
    } else if f.mentions("logger") || f.mentions("log group") {
        let group = f
            .definition
            .into_iter()
            .flat_map(|d| d.containers.iter())
            .find_map(|c| c.awslogs().map(|(g, _)| g.to_string()));
        vec![match group {
            Some(group) => format!(
                "Create the log group `{group}` (`aws logs create-log-group --log-group-name {group} --region {}`), or set `awslogs-create-group: true` and allow `logs:CreateLogGroup` for {}.",
                f.region(),
                f.execution_role_phrase()
            ),
            None => "Check the container's logConfiguration: the log group must exist and the execution role must be allowed `logs:CreateLogStream` and `logs:PutLogEvents`.".to_string(),
        }]
    } else if f.mentions("efs") {
        vec!["Check the EFS file system's mount targets in the task's subnets, and that their security group allows NFS (TCP 2049) from the task.".to_string()]
    } else {
        general(CauseId::ContainerCreateFailed)
    };
    Some(verdict.fixes(fixes))
}

fn docker_timeout(f: &Facts) -> Option<Verdict> {
    if !f.mentions_any(&[
        "dockertimeouterror",
        "docker timeout",
        "containerruntimetimeouterror",
    ]) {
        return None;
    }
    let host = f
        .task
        .container_instance_arn
        .as_deref()
        .map(|a| format!(" on container instance `{a}`"))
        .unwrap_or_default();
    Some(
        Verdict::new(
            CauseId::DockerTimeout,
            format!(
                "{}: the container runtime{host} did not answer in time.",
                f.subject()
            ),
        )
        .fixes(general(CauseId::DockerTimeout)),
    )
}

fn internal_error(f: &Facts) -> Option<Verdict> {
    if !f.mentions_any(&["internalerror", "internal error"]) {
        return None;
    }
    Some(
        Verdict::new(
            CauseId::InternalError,
            format!(
                "{}: ECS reported an internal error: \"{}\".",
                f.subject(),
                quote(f.reason)
            ),
        )
        .fixes(general(CauseId::InternalError)),
    )
}

// ---------------------------------------------------------------------------------------
// Health checks
// ---------------------------------------------------------------------------------------

static TARGET_GROUP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(target-group ([^)\s]+)\)").expect("valid target group regex"));

fn elb_health_check(f: &Facts) -> Option<Verdict> {
    if !f.mentions("failed elb health checks") {
        return None;
    }
    let target_group = TARGET_GROUP
        .captures(f.reason)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    let tg_text = target_group
        .as_deref()
        .map(|t| format!(" `{t}`"))
        .unwrap_or_default();
    let ports: Vec<String> = f
        .definition
        .into_iter()
        .flat_map(|d| d.containers.iter())
        .flat_map(|c| c.port_mappings.iter().map(move |m| (c, m)))
        .filter_map(|(c, m)| m.container_port.map(|p| format!("`{}` port {p}", c.name)))
        .collect();
    let mut verdict = Verdict::new(
        CauseId::ElbHealthCheckFailed,
        format!(
            "{} failed the health checks of target group{tg_text}, so the service replaced it.",
            f.subject()
        ),
    );
    if !ports.is_empty() {
        verdict = verdict.evidence(format!("Container ports: {}", ports.join(", ")));
    }
    if let Some(tg) = &target_group {
        verdict = verdict.fix(format!(
            "See why targets fail: `aws elbv2 describe-target-health --target-group-arn {tg}` and compare the health-check path, port and matcher (`aws elbv2 describe-target-groups --target-group-arns {tg}`) with what the application serves{}.",
            if ports.is_empty() { String::new() } else { format!(" on {}", ports.join(", ")) }
        ));
    }
    if let Some(service) = f.task.service_name() {
        verdict = verdict.fix(format!(
            "If the application starts slowly, raise `healthCheckGracePeriodSeconds` of service `{service}` (`aws ecs update-service --cluster {} --service {service} --health-check-grace-period-seconds 120`).",
            f.task.cluster_name()
        ));
    }
    verdict = verdict.fix(
        "Allow the load balancer's security group to reach the container port in the task's security group.",
    );
    Some(verdict)
}

fn container_health_check(f: &Facts) -> Option<Verdict> {
    if !findings::health_checks_failed_text(f.reason, f.task) {
        return None;
    }
    let container = f
        .task
        .containers
        .iter()
        .find(|c| c.health_status.as_deref() == Some("UNHEALTHY"))
        .or_else(|| {
            f.task
                .containers
                .iter()
                .find(|c| f.definition_of(c).is_some_and(|d| d.health_check.is_some()))
        })
        .or(f.blamed);
    let name = container.map_or("an essential container", |c| c.name.as_str());
    let check = container
        .and_then(|c| f.definition_of(c))
        .and_then(|d| d.health_check.as_ref());
    let mut verdict = Verdict::new(
        CauseId::ContainerHealthCheckFailed,
        format!(
            "{}: the health check of container `{name}` kept failing, so ECS marked it UNHEALTHY and stopped the task.",
            f.subject()
        ),
    );
    if let Some(check) = check {
        verdict = verdict.evidence(format!(
            "Health check of `{name}`: {}",
            describe_health_check(check)
        ));
        let command = check
            .command
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        verdict = verdict.fix(format!(
            "Run the check by hand inside the container: `aws ecs execute-command --cluster {} --task {} --container {name} --interactive --command \"{}\"` (the tool it calls, e.g. curl or wget, must exist in the image).",
            f.task.cluster_name(),
            f.task.id(),
            command.replace('"', "'")
        ));
        let interval = check.interval.unwrap_or(30);
        let retries = check.retries.unwrap_or(3);
        let wanted = (interval * retries).max(60).saturating_mul(2).min(300);
        match check.start_period {
            Some(p) if p >= wanted / 2 && p > 0 => {}
            Some(p) if p > 0 => {
                verdict = verdict.fix(format!(
                    "Raise `startPeriod` of `{name}` from {p} s to about {wanted} s so the application can boot before failures count."
                ))
            }
            _ => {
                verdict = verdict.fix(format!(
                    "Set `startPeriod` of `{name}` (it has none) to about {wanted} s so the application can boot before failures count."
                ))
            }
        }
    }
    Some(
        verdict.fixes(
            general(CauseId::ContainerHealthCheckFailed)
                .into_iter()
                .skip(2),
        ),
    )
}

// ---------------------------------------------------------------------------------------
// People and the service scheduler
// ---------------------------------------------------------------------------------------

fn stopped_by_user(f: &Facts) -> Option<Verdict> {
    if f.stop_code != "UserInitiated" && !f.reason.starts_with("Task stopped by user") {
        return None;
    }
    let given = if f.reason.is_empty() {
        String::new()
    } else {
        format!(" with the reason \"{}\"", quote(f.reason))
    };
    let summary = match f.lookup {
        StopLookup::Found(who) => {
            let caller = who.arn.as_deref().unwrap_or("an unnamed caller");
            let when = who
                .time
                .map(|t| format!(" at {}", t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
                .unwrap_or_default();
            format!("{} was stopped by `{caller}`{when}{given} (StopTask).", f.subject())
        }
        StopLookup::NotFoundYet => format!(
            "{} was stopped by a StopTask call{given}; CloudTrail has no event naming the caller yet (it can lag ~15 minutes).",
            f.subject()
        ),
        _ => format!(
            "{} was stopped by a StopTask call{given}; the caller was not looked up.",
            f.subject()
        ),
    };
    let mut verdict = Verdict::new(CauseId::StoppedByUser, summary);
    if let StopLookup::Found(who) = f.lookup {
        let mut line = format!(
            "CloudTrail StopTask by `{}`",
            who.arn.as_deref().unwrap_or("?")
        );
        if let Some(kind) = &who.identity_type {
            line.push_str(&format!(" ({kind})"));
        }
        if let Some(ip) = &who.source_ip {
            line.push_str(&format!(" from {ip}"));
        }
        if let Some(agent) = &who.user_agent {
            line.push_str(&format!(" using `{}`", quote(agent)));
        }
        verdict = verdict.evidence(line);
        if let Some(reason) = &who.reason {
            verdict = verdict.evidence(format!("Reason given: \"{}\"", quote(reason)));
        }
        if let Some(caller) = &who.arn {
            verdict = verdict.fix(format!("Ask the owner of `{caller}` why they stopped it."));
        }
    }
    if let Some(service) = f.task.service_name() {
        verdict = verdict.evidence(format!(
            "The task belongs to service `{service}`, which starts a replacement"
        ));
    }
    Some(verdict.fixes(general(CauseId::StoppedByUser).into_iter().skip(1)))
}

static DEPLOYMENT_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ecs-svc/\d+").expect("valid deployment id regex"));

fn service_scheduler(f: &Facts) -> Option<Verdict> {
    let scheduler = f.stop_code == "ServiceSchedulerInitiated"
        || f.mentions("scaling activity initiated by")
        || f.mentions("is being deleted");
    if !scheduler {
        return None;
    }
    let service = f.task.service_name().unwrap_or("its service");
    if f.mentions("is being deleted") {
        return Some(
            Verdict::new(
                CauseId::ScalingEvent,
                format!("{}: service `{service}` is being deleted, so ECS stopped its tasks.", f.subject()),
            )
            .fix("Nothing to fix if the deletion was intended; CloudTrail's DeleteService event names who deleted it."),
        );
    }
    if !f.mentions("scaling activity initiated by") {
        return None;
    }
    let stopping = DEPLOYMENT_ID.find(f.reason).map(|m| m.as_str());
    let own = f
        .task
        .started_by
        .as_deref()
        .filter(|s| s.starts_with("ecs-svc/"));
    let deployment_event = deployment_event(f, own);
    let replaced_by_other = matches!((stopping, own), (Some(s), Some(o)) if s != o);
    if replaced_by_other || deployment_event.is_some() {
        let mut verdict = Verdict::new(
            CauseId::DeploymentReplaced,
            format!(
                "{}: a deployment of service `{service}` replaced it with a newer task (normal operation).",
                f.subject()
            ),
        );
        if let Some(own) = own {
            verdict = verdict.evidence(format!("The task was started by deployment `{own}`"));
        }
        if let Some(event) = deployment_event {
            verdict = verdict.evidence(format!("Service event: \"{}\"", quote(&event.message)));
        }
        return Some(verdict.fix(format!(
            "Nothing to fix if the deployment was intended; see it with `aws ecs describe-services --cluster {} --services {service}` (deployments and events).",
            f.task.cluster_name()
        )));
    }
    let mut verdict = Verdict::new(
        CauseId::ScalingEvent,
        format!(
            "{}: service `{service}` scaled in (its desired count went down), so ECS stopped this task (normal operation).",
            f.subject()
        ),
    );
    if let Some(own) = own {
        verdict = verdict.evidence(format!(
            "The task's own deployment `{own}` scaled down; no other deployment is involved"
        ));
    }
    Some(verdict.fix(format!(
        "Nothing to fix if intended; check the scaling policies and scheduled actions of `{service}`: `aws application-autoscaling describe-scaling-activities --service-namespace ecs --resource-id service/{}/{service}`.",
        f.task.cluster_name()
    )))
}

/// A service event near the stop time that shows a deployment rolling out.
fn deployment_event<'a>(f: &Facts<'a>, own: Option<&str>) -> Option<&'a ServiceEvent> {
    let window = Duration::minutes(15);
    let anchor = f.task.stopping_at.or(f.task.stopped_at);
    f.service_events.iter().find(|event| {
        let near = match (anchor, event.created_at) {
            (Some(anchor), Some(at)) => (at - anchor).abs() <= window,
            _ => true,
        };
        let message = event.message.as_str();
        let other_deployment = DEPLOYMENT_ID
            .find_iter(message)
            .any(|m| own.is_some_and(|o| o != m.as_str()));
        let rolling = message.contains("deployment completed")
            || message.contains("deployment failed")
            || message.contains("rolling back")
            || message.contains("rolled back")
            || message.contains("has started")
            || other_deployment;
        near && rolling
    })
}

// ---------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------

fn exit_code(f: &Facts) -> Option<Verdict> {
    let container = f.blamed?;
    let code = container.exit_code?;
    let wrong_arch = f
        .findings_of(FindingKind::WrongCpuArchitecture)
        .any(|x| x.container.as_deref() == Some(container.name.as_str()));
    Some(match code {
        0 => exited_success(f, container),
        137 if oom_evidence(f, container) => out_of_memory_verdict(f, Some(container)),
        137 => killed_sigkill(f, container),
        139 => segfault(f, container),
        _ if wrong_arch => entrypoint_arch_verdict(f, Some(container)),
        126 | 127 => entrypoint_failed(f, container, code),
        _ => app_error(f, container, code),
    })
}

fn oom_evidence(f: &Facts, container: &Container) -> bool {
    container
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("OutOfMemory"))
        || f.findings_of(FindingKind::OomInLogs)
            .any(|x| x.container.as_deref() == Some(container.name.as_str()))
}

fn exited_success(f: &Facts, container: &Container) -> Verdict {
    let kind = if f.task.service_name().is_some() {
        "A service expects its essential containers to keep running, so this repeats as a restart loop."
    } else {
        "For a one-off job this is the normal end."
    };
    let command = f.blamed_def.and_then(describe_command);
    let mut verdict = Verdict::new(
        CauseId::ContainerExitedSuccess,
        format!(
            "{}: essential container `{}` finished with exit code 0, and ECS stops a task when an essential container exits. {kind}",
            f.subject(),
            container.name
        ),
    );
    if let Some(command) = command {
        verdict = verdict.evidence(command);
    }
    verdict.fixes(general(CauseId::ContainerExitedSuccess))
}

fn killed_sigkill(f: &Facts, container: &Container) -> Verdict {
    let timeout = f.blamed_def.and_then(|d| d.stop_timeout);
    let timeout_text = match timeout {
        Some(t) => format!("its stopTimeout of {t} s"),
        None => "the default stopTimeout of 30 s".to_string(),
    };
    let limits = MemoryLimits::of(f.task, f.definition, Some(container), f.blamed_def);
    let mut verdict = Verdict::new(
        CauseId::ContainerKilledSigkill,
        format!(
            "{}: container `{}` exited with 137 (SIGKILL) and nothing shows it ran out of memory: it most likely ignored SIGTERM and was killed after {timeout_text}.",
            f.subject(),
            container.name
        ),
    );
    if let Some(line) = limits.describe(&container.name) {
        verdict = verdict.evidence(line);
    }
    verdict
        .fix(format!(
            "Handle SIGTERM in `{}` and exit within {timeout_text}; if it runs under a shell (`sh -c`), use the exec form or `exec` so the signal reaches it, or set `initProcessEnabled: true`.",
            container.name
        ))
        .fix(format!(
            "If a clean shutdown needs longer, raise `stopTimeout` of `{}` (now {}; at most 120 s on Fargate).",
            container.name,
            timeout.map_or("30 s by default".to_string(), |t| format!("{t} s"))
        ))
        .fix("If memory was near the limit, check the MemoryUtilization metric: not every OOM kill is reported as such.")
}

fn segfault(f: &Facts, container: &Container) -> Verdict {
    Verdict::new(
        CauseId::Segfault,
        format!(
            "{}: container `{}` crashed with a segmentation fault (exit code 139).",
            f.subject(),
            container.name
        ),
    )
    .fixes(image_line(container))
    .fixes(general(CauseId::Segfault))
}

fn image_line(container: &Container) -> Vec<String> {
    container
        .image
        .as_deref()
        .map(|i| format!("Reproduce with the same image: `docker run --rm -it {i}`."))
        .into_iter()
        .collect()
}

fn entrypoint_failed(f: &Facts, container: &Container, code: i32) -> Verdict {
    let why = if code == 126 {
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
    if let Some(line) = f.blamed_def.and_then(describe_command) {
        verdict = verdict.evidence(line);
    }
    verdict.fixes(general(CauseId::EntrypointFailed).into_iter().take(2))
}

/// "Entry point `X`, command `Y`" with only the parts the task definition sets.
fn describe_command(def: &ContainerDefinition) -> Option<String> {
    let parts: Vec<String> = [("Entry point", &def.entry_point), ("command", &def.command)]
        .into_iter()
        .filter(|(_, words)| !words.is_empty())
        .map(|(label, words)| format!("{label} `{}`", words.join(" ")))
        .collect();
    (!parts.is_empty()).then(|| {
        let line = parts.join(", ");
        let mut chars = line.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => line,
        }
    })
}

/// `text` with its first letter in lower case, to embed it in a sentence. An acronym
/// or a name in capitals ("AWS denied ...", "KMS ...") is left as it is.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    let second_is_upper = text.chars().nth(1).is_some_and(char::is_uppercase);
    match chars.next() {
        Some(first) if first != '`' && !second_is_upper => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

/// `text` ending with a full stop, so another sentence can follow it.
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

fn app_error(f: &Facts, container: &Container, code: i32) -> Verdict {
    let how = match code {
        143 => "exited with 143 (it received SIGTERM from inside the task, e.g. a process manager or a dependency exiting)".to_string(),
        255 => "exited with 255 (a fatal error, often an exception or `exit(-1)`)".to_string(),
        134 => "aborted (exit code 134, SIGABRT)".to_string(),
        code => format!("exited with code {code}"),
    };
    let first = f.findings.iter().find(|x| {
        x.container.as_deref() == Some(container.name.as_str())
            && x.kind != FindingKind::NoLogConfiguration
    });
    let because = first
        .map(|x| {
            format!(
                " The logs show: {}.",
                lowercase_first(x.detail.trim_end_matches('.'))
            )
        })
        .unwrap_or_default();
    let mut verdict = Verdict::new(
        CauseId::ContainerExitedAppError,
        format!(
            "{}: essential container `{}` {how}.{because}",
            f.subject(),
            container.name
        ),
    );
    verdict = verdict.fixes(app_error_fixes(f, container));
    verdict.fixes(general(CauseId::ContainerExitedAppError))
}

/// Fix steps named by the findings of an application error.
fn app_error_fixes(f: &Facts, container: &Container) -> Vec<String> {
    let family = f.family().unwrap_or("the task definition");
    let mut fixes = Vec::new();
    for finding in f.findings {
        match finding.kind {
            FindingKind::MissingEnvVar => {
                let name = finding.detail.split('`').nth(1).unwrap_or("the variable");
                if finding.detail.contains("does not define it") {
                    let variable = if name.contains('.') {
                        format!("`{}` (the environment form of `{name}`)", findings::env_form(name))
                    } else {
                        format!("`{name}`")
                    };
                    fixes.push(format!(
                        "Add {variable} to the `environment` (or, if it is sensitive, `secrets`) of container `{}` in a new revision of `{family}`, then deploy it.",
                        container.name
                    ));
                } else {
                    fixes.push(format!(
                        "`{name}` is defined in `{family}` but the application still reads it as missing: check its value (not empty, right secret key) and the name's spelling in the code."
                    ));
                }
            }
            FindingKind::DependencyUnreachable => fixes.push(format!(
                "{} Check that the dependency is up, that its address in the configuration is right, and that its security group allows the task's security group.",
                sentence(&finding.detail)
            )),
            FindingKind::PortInUse => fixes.push(sentence(&finding.detail)),
            FindingKind::AwsAccessDenied => fixes.push(sentence(&finding.detail)),
            FindingKind::OomInLogs => {
                let limits = MemoryLimits::of(f.task, f.definition, Some(container), f.blamed_def);
                fixes.extend(limits.raise_fix(&container.name, f.fargate(), f.family()));
            }
            _ => {}
        }
    }
    fixes
}

fn other(f: &Facts) -> Verdict {
    let raw = if f.reason.is_empty() {
        "no stopped reason was reported".to_string()
    } else {
        format!("\"{}\"", quote(f.reason))
    };
    let code = if f.stop_code.is_empty() {
        String::new()
    } else {
        format!(" (stop code {})", f.stop_code)
    };
    Verdict::new(
        CauseId::Other,
        format!("{} stopped{code}: {raw}. ecs-why does not recognise this reason, so it does not guess.", f.subject()),
    )
    .fixes(general(CauseId::Other))
}

/// The catalog's general fixes for `id`.
fn general(id: CauseId) -> Vec<String> {
    Cause::get(id)
        .general_fixes
        .iter()
        .map(|f| f.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{ContainerDefinition, StoppedBy};

    fn task_with(containers: Vec<Container>) -> Task {
        Task {
            arn: "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef"
                .into(),
            cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod".into(),
            group: Some("service:api".into()),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            containers,
            ..Default::default()
        }
    }

    fn container(name: &str, exit_code: Option<i32>) -> Container {
        Container {
            name: name.into(),
            exit_code,
            ..Default::default()
        }
    }

    fn run(task: Task) -> Diagnosis {
        diagnose(&Evidence {
            task,
            ..Default::default()
        })
    }

    #[test]
    fn blame_prefers_a_real_failure_over_the_sigterm_that_followed() {
        let task = task_with(vec![
            container("sidecar", Some(143)),
            container("app", Some(1)),
        ]);
        assert_eq!(blame(&task, None).map(|c| c.name.as_str()), Some("app"));
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
            blame(&task, Some(&definition)).map(|c| c.name.as_str()),
            Some("app")
        );
    }

    #[test]
    fn exit_codes_map_to_categories() {
        let cases = [
            (0, CauseId::ContainerExitedSuccess),
            (1, CauseId::ContainerExitedAppError),
            (126, CauseId::EntrypointFailed),
            (127, CauseId::EntrypointFailed),
            (137, CauseId::ContainerKilledSigkill),
            (139, CauseId::Segfault),
            (143, CauseId::ContainerExitedAppError),
            (255, CauseId::ContainerExitedAppError),
        ];
        for (code, expected) in cases {
            let d = run(task_with(vec![container("app", Some(code))]));
            assert_eq!(d.category, expected, "exit code {code}");
        }
    }

    #[test]
    fn exit_137_with_oom_reason_is_out_of_memory() {
        let mut app = container("app", Some(137));
        app.reason = Some("OutOfMemoryError: Container killed due to memory usage".into());
        assert_eq!(run(task_with(vec![app])).category, CauseId::OutOfMemory);
    }

    #[test]
    fn user_stop_wins_over_the_exit_code_it_caused() {
        let mut task = task_with(vec![container("app", Some(137))]);
        task.stop_code = Some("UserInitiated".into());
        task.stopped_reason = Some("Task stopped by user".into());
        let evidence = Evidence {
            task,
            stop_lookup: StopLookup::Found(StoppedBy {
                arn: Some("arn:aws:iam::123456789012:user/alice".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let d = diagnose(&evidence);
        assert_eq!(d.category, CauseId::StoppedByUser);
        assert!(d.summary.contains("arn:aws:iam::123456789012:user/alice"));
        assert!(d.stopped_by.is_some());
    }

    #[test]
    fn scaling_and_deployment_are_told_apart_by_deployment_id() {
        let mut task = task_with(vec![container("app", Some(143))]);
        task.stop_code = Some("ServiceSchedulerInitiated".into());
        task.started_by = Some("ecs-svc/111".into());
        task.stopped_reason = Some("Scaling activity initiated by (deployment ecs-svc/111)".into());
        assert_eq!(run(task.clone()).category, CauseId::ScalingEvent);
        task.stopped_reason = Some("Scaling activity initiated by (deployment ecs-svc/222)".into());
        assert_eq!(run(task).category, CauseId::DeploymentReplaced);
    }

    #[test]
    fn unknown_reasons_are_other_and_quoted() {
        let mut task = task_with(vec![container("app", None)]);
        task.stop_code = Some("TaskFailedToStart".into());
        task.stopped_reason = Some("Something new from AWS".into());
        let d = run(task);
        assert_eq!(d.category, CauseId::Other);
        assert!(d.summary.contains("Something new from AWS"));
    }

    #[test]
    fn console_url_needs_region_and_cluster() {
        let task = task_with(Vec::new());
        assert_eq!(
            console_url(&task).as_deref(),
            Some("https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/0123456789abcdef0123456789abcdef/configuration?region=eu-west-1")
        );
        assert_eq!(console_url(&Task::default()), None);
    }
}
