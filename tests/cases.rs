//! Recorded cases: every `tests/cases/<category>--<slug>.json` is an Evidence bundle that
//! must diagnose to `<category>`. A few key cases also pin down findings and fix text,
//! and every case checks that no string it marks as secret (`test_secrets`) reaches the
//! diagnosis.

use ecs_why::diagnose::{diagnose, CauseId, Diagnosis, FindingKind};
use ecs_why::evidence::Evidence;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(cases_dir())
        .expect("tests/cases exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn load(name: &str) -> (Evidence, Diagnosis) {
    let path = cases_dir().join(format!("{name}.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let evidence: Evidence =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let diagnosis = diagnose(&evidence);
    (evidence, diagnosis)
}

/// All text a reader can see in a diagnosis, as one JSON string.
fn all_text(diagnosis: &Diagnosis) -> String {
    serde_json::to_string(diagnosis).expect("diagnosis serialises")
}

fn fixes(diagnosis: &Diagnosis) -> String {
    diagnosis.fixes.join("\n")
}

#[test]
fn every_case_diagnoses_to_its_file_prefix() {
    let mut failures = Vec::new();
    for path in case_files() {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        let (expected, _) = stem.split_once("--").expect("name is <category>--<slug>");
        let (_, diagnosis) = load(stem);
        if diagnosis.category.as_str() != expected {
            failures.push(format!(
                "{stem}: got {} ({})",
                diagnosis.category, diagnosis.summary
            ));
        }
        assert!(!diagnosis.summary.is_empty(), "{stem}: empty summary");
        assert!(!diagnosis.fixes.is_empty(), "{stem}: no fixes");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_catalog_category_has_a_case() {
    let covered: BTreeSet<String> = case_files()
        .iter()
        .filter_map(|p| {
            p.file_stem()?
                .to_str()?
                .split_once("--")
                .map(|(c, _)| c.to_string())
        })
        .collect();
    for id in CauseId::ALL {
        assert!(covered.contains(id.as_str()), "no case for {id}");
    }
}

#[test]
fn no_case_leaks_a_marked_secret() {
    for path in case_files() {
        let text = fs::read_to_string(&path).expect("readable case");
        let raw: serde_json::Value = serde_json::from_str(&text).expect("json");
        let Some(secrets) = raw.get("test_secrets").and_then(|s| s.as_array()) else {
            continue;
        };
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        let (_, diagnosis) = load(stem);
        let shown = all_text(&diagnosis);
        for secret in secrets.iter().filter_map(|s| s.as_str()) {
            assert!(!shown.contains(secret), "{stem} leaks {secret}");
        }
    }
}

#[test]
fn missing_database_url_is_named_and_not_defined() {
    let (_, d) = load("container-exited-app-error--missing-database-url");
    let finding = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::MissingEnvVar)
        .expect("missing-env-var finding");
    assert!(
        finding.detail.contains("`DATABASE_URL`"),
        "{}",
        finding.detail
    );
    assert!(
        finding.detail.contains("does not define it"),
        "{}",
        finding.detail
    );
    assert!(d.summary.contains("DATABASE_URL"), "{}", d.summary);
    assert!(fixes(&d).contains("Add `DATABASE_URL`"), "{}", fixes(&d));
    assert!(d
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::Crash
            && f.line.as_deref() == Some("KeyError: 'DATABASE_URL'")));
}

#[test]
fn missing_variable_defined_as_secret_says_so() {
    let (_, d) = load("container-exited-app-error--missing-var-defined-as-secret");
    let finding = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::MissingEnvVar)
        .expect("missing-env-var finding");
    assert!(finding.detail.contains("`STRIPE_API_KEY`"));
    assert!(finding.detail.contains("defines it"), "{}", finding.detail);
    assert!(fixes(&d).contains("check its value"), "{}", fixes(&d));
}

#[test]
fn spring_placeholder_maps_to_relaxed_env_name() {
    let (_, d) = load("container-exited-app-error--spring-placeholder");
    let finding = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::MissingEnvVar)
        .expect("missing-env-var finding");
    assert!(finding.detail.contains("spring.datasource.url"));
    assert!(finding.detail.contains("does not define it"));
}

#[test]
fn out_of_memory_suggests_a_larger_valid_size() {
    let (_, d) = load("out-of-memory--reason-outofmemoryerror");
    assert!(
        fixes(&d).contains("from 512 MiB to 1024 MiB"),
        "{}",
        fixes(&d)
    );
    let (_, d) = load("out-of-memory--node-heap-ec2");
    assert!(
        fixes(&d).contains("`render` from 768 MiB to 1536 MiB"),
        "{}",
        fixes(&d)
    );
    let (_, d) = load("out-of-memory--java-heap-137");
    assert!(
        fixes(&d).contains("from 2048 MiB to 4096 MiB"),
        "{}",
        fixes(&d)
    );
    assert!(d.findings.iter().any(|f| f.kind == FindingKind::OomInLogs));
}

#[test]
fn exit_137_without_oom_evidence_is_sigkill_with_stop_timeout() {
    let (_, d) = load("container-killed-sigkill--ignored-sigterm");
    assert_eq!(d.category, CauseId::ContainerKilledSigkill);
    assert!(d.summary.contains("stopTimeout of 30 s"), "{}", d.summary);
    assert!(fixes(&d).contains("SIGTERM"));
}

#[test]
fn user_stop_names_the_caller() {
    let (_, d) = load("stopped-by-user--found-cli");
    let who = d.stopped_by.as_ref().expect("stopped_by");
    let arn = who.arn.as_deref().expect("caller arn");
    assert!(d.summary.contains(arn), "{}", d.summary);
    assert!(d.evidence.iter().any(|e| e.contains("203.0.113.42")));
    assert!(d.notes.is_empty());
}

#[test]
fn user_stop_not_found_yet_mentions_cloudtrail_lag() {
    let (_, d) = load("stopped-by-user--not-found-yet");
    assert!(d.stopped_by.is_none());
    assert!(
        d.notes.iter().any(|n| n.contains("15 minutes")),
        "{:?}",
        d.notes
    );
}

#[test]
fn evidence_notes_are_copied() {
    let (e, d) = load("stopped-by-user--lookup-failed");
    for note in &e.notes {
        assert!(d.notes.contains(note));
    }
}

#[test]
fn image_pull_fix_names_image_and_tag() {
    let (_, d) = load("image-pull-failed--tag-not-found");
    assert!(
        fixes(&d).contains(
            "--repository-name orders-api --image-ids imageTag=v2.15.0 --region us-east-1"
        ),
        "{}",
        fixes(&d)
    );
    let (_, d) = load("image-pull-failed--access-denied-403");
    assert!(fixes(&d).contains("arn:aws:iam::123456789012:role/ecsTaskExecutionRole"));
}

#[test]
fn secrets_fix_names_action_and_execution_role() {
    let (_, d) = load("secrets-or-registry-auth--secrets-manager-access-denied");
    let text = fixes(&d);
    assert!(text.contains("`secretsmanager:GetSecretValue`"), "{text}");
    assert!(
        text.contains("arn:aws:iam::123456789012:role/ecsTaskExecutionRole"),
        "{text}"
    );
}

#[test]
fn health_check_fix_uses_command_and_start_period() {
    let (_, d) = load("container-health-check-failed--no-start-period");
    assert!(d
        .evidence
        .iter()
        .any(|e| e.contains("curl -f http://localhost:8080/health")));
    assert!(fixes(&d).contains("startPeriod"), "{}", fixes(&d));
    assert!(d
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::HealthCheckStartPeriod));
}

#[test]
fn access_denied_names_action_and_task_role() {
    let (_, d) = load("container-exited-app-error--s3-access-denied");
    let finding = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::AwsAccessDenied)
        .expect("aws-access-denied finding");
    assert!(finding.detail.contains("`s3:GetObject`"));
    assert!(finding
        .detail
        .contains("arn:aws:iam::123456789012:role/reports-task"));
}

#[test]
fn sidecar_sigterm_does_not_take_the_blame() {
    let (_, d) = load("container-exited-app-error--go-panic-sigterm-sidecar");
    assert!(d.summary.contains("`ledger`"), "{}", d.summary);
    assert!(d.findings.iter().any(|f| f.kind == FindingKind::Crash));
}

#[test]
fn secrets_in_crash_lines_are_redacted_and_mentions_kept_for_escaping() {
    let (_, d) = load("container-exited-app-error--secret-and-mention-in-logs");
    let crash = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Crash)
        .and_then(|f| f.line.as_deref())
        .expect("crash line");
    assert!(crash.contains("postgres://sync:[REDACTED]@"), "{crash}");
    // Escaping is the renderers' job: the diagnosis keeps the text as the log had it.
    assert!(crash.contains("<!channel>"), "{crash}");
}

#[test]
fn rust_and_go_missing_variables_are_named() {
    let (_, d) = load("container-exited-app-error--exit-255-rust-panic");
    assert!(d.summary.contains("`UPSTREAM_URL`"), "{}", d.summary);
    let (_, d) = load("container-exited-app-error--exit-255-go-envconfig");
    assert!(d.summary.contains("`SMTP_PASSWORD`"), "{}", d.summary);
}

#[test]
fn console_url_uses_region_and_cluster() {
    let (_, d) = load("scaling-event--eventbridge-sample");
    assert_eq!(
        d.console_url.as_deref(),
        Some("https://us-east-2.console.aws.amazon.com/ecs/v2/clusters/DemoTrafficGen01-ClusterEB0386A7-sCRgDrfn5BP9/tasks/c50e321c974248dbaf4ae2cfa1662986/configuration?region=us-east-2")
    );
}

#[test]
fn unknown_reason_is_shown_raw_without_a_guess() {
    let (_, d) = load("other--unknown-reason");
    assert!(d.summary.contains("flux capacitor"));
    assert!(d.evidence.iter().any(|e| e.contains("flux capacitor")));
}

#[test]
fn diagnosing_is_deterministic() {
    for path in case_files() {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        let (evidence, first) = load(stem);
        assert_eq!(first, diagnose(&evidence), "{stem}");
    }
}

#[test]
fn orderly_stop_that_ended_in_sigkill_says_sigterm_was_ignored() {
    let (_, d) = load("scaling-event--eventbridge-sample");
    assert_eq!(d.category, CauseId::ScalingEvent);
    assert!(
        d.evidence
            .iter()
            .any(|l| l.contains("`FargateContainer` exited with 137") && l.contains("66 s")),
        "{:?}",
        d.evidence
    );
    assert!(fixes(&d).contains("handle SIGTERM"), "{}", fixes(&d));
    let (_, d) = load("deployment-replaced--new-deployment-id");
    assert!(
        !fixes(&d).contains("handle SIGTERM")
            || d.task.containers.iter().any(|c| c.exit_code == Some(137))
    );
}

#[test]
fn every_fix_and_summary_reads_as_sentences() {
    // Two sentences glued without a full stop ("... not up yet) Check that ...") or a
    // fix that trails off without one read badly at 3 a.m.
    let glued = regex::Regex::new(r"[a-z0-9)`'\x22] [A-Z][a-z]+ (?:that|the|it|a) ").unwrap();
    for path in case_files() {
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("utf-8");
        let (_, diagnosis) = load(stem);
        for text in diagnosis.fixes.iter().chain([&diagnosis.summary]) {
            assert!(
                text.trim_end().ends_with(['.', ')', '`', '"']),
                "{stem}: no full stop: {text}"
            );
            for m in glued.find_iter(text) {
                let word = m.as_str()[2..].split(' ').next().unwrap_or("");
                assert!(
                    !["Check", "Allow", "Add", "Set", "Run", "Make"].contains(&word),
                    "{stem}: sentences glued together: {text}"
                );
            }
        }
    }
}

#[test]
fn acronyms_keep_their_capitals_inside_a_summary() {
    let (_, diagnosis) = load("container-exited-app-error--s3-access-denied");
    assert!(
        diagnosis.summary.contains("The logs show: AWS denied"),
        "{}",
        diagnosis.summary
    );
    assert!(!diagnosis.summary.contains("aWS"));
}

#[test]
fn secrets_fixes_only_blame_the_network_when_the_call_timed_out() {
    for name in [
        "secrets-or-registry-auth--kms-decrypt",
        "secrets-or-registry-auth--secrets-manager-access-denied",
        "secrets-or-registry-auth--ssm-parameter-not-found",
        "secrets-or-registry-auth--repository-credentials",
    ] {
        let (_, diagnosis) = load(name);
        assert!(
            !fixes(&diagnosis).contains("timed out"),
            "{name}: {}",
            fixes(&diagnosis)
        );
    }
    let (_, diagnosis) = load("secrets-or-registry-auth--ecr-auth-timeout");
    assert!(fixes(&diagnosis).contains("timed out"));
}

#[test]
fn a_crash_finding_does_not_repeat_the_line_of_a_specific_finding() {
    for name in [
        "out-of-memory--python-memoryerror-fargate-large",
        "container-exited-app-error--database-connection-refused",
        "container-exited-app-error--s3-access-denied",
        "container-exited-app-error--exit-255-rust-panic",
    ] {
        let (_, diagnosis) = load(name);
        let kinds: Vec<FindingKind> = diagnosis.findings.iter().map(|f| f.kind).collect();
        assert!(!kinds.contains(&FindingKind::Crash), "{name}: {kinds:?}");
        assert!(!kinds.is_empty(), "{name}: the specific finding stays");
    }
    // A crash on a line of its own is still reported.
    let (_, diagnosis) = load("container-exited-app-error--go-panic-sigterm-sidecar");
    assert!(diagnosis
        .findings
        .iter()
        .any(|f| f.kind == FindingKind::Crash));
}

/// Each newer message is read by its innermost cause, and the answer names the value the
/// message gives (the program, the secret, the file system, the volume, the provider).
#[test]
fn wrapped_messages_are_read_by_their_innermost_cause() {
    let expectations: &[(&str, CauseId, &str)] = &[
        (
            "entrypoint-failed--oci-permission-denied",
            CauseId::EntrypointFailed,
            "`RUN chmod +x /app/start.sh`",
        ),
        (
            "out-of-memory--runc-init-oom-killed",
            CauseId::OutOfMemory,
            "from 6 MiB to",
        ),
        (
            "secrets-or-registry-auth--fargate-secret-not-found-prescriptive",
            CauseId::SecretsOrRegistryAuth,
            "`arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/orders/stripe-Zx9Yw8` exists",
        ),
        (
            "container-create-failed--efs-mount-timeout",
            CauseId::ContainerCreateFailed,
            "NFS (TCP 2049)",
        ),
        (
            "container-create-failed--efs-root-directory-missing",
            CauseId::ContainerCreateFailed,
            "EFS file system `fs-e5645f66`",
        ),
        (
            "container-create-failed--efs-dns-unresolved",
            CauseId::ContainerCreateFailed,
            "`fs-0119f8e1c5d26168d`",
        ),
        (
            "container-create-failed--efs-access-denied",
            CauseId::ContainerCreateFailed,
            "`elasticfilesystem:ClientMount`",
        ),
        (
            "container-create-failed--ebs-volume-attach-failed",
            CauseId::ContainerCreateFailed,
            "EBS volume `vol-0a1b2c3d4e5f67890`",
        ),
        (
            "container-create-failed--log-group-network",
            CauseId::ContainerCreateFailed,
            "`com.amazonaws.us-east-1.logs`",
        ),
        (
            "insufficient-resources-placement--capacity-provider-empty",
            CauseId::InsufficientResourcesPlacement,
            "capacity provider `orders-asg-cp`",
        ),
        (
            "image-pull-failed--agent-check-role-permissions",
            CauseId::ImagePullFailed,
            "Allow `ecr:BatchGetImage` on `arn:aws:ecr:us-east-1:123456789012:repository/orders-api`",
        ),
    ];
    for (name, cause, fix) in expectations {
        let (_, diagnosis) = load(name);
        assert_eq!(diagnosis.category, *cause, "{name}: {}", diagnosis.summary);
        assert!(
            fixes(&diagnosis).contains(fix),
            "{name}: {}",
            fixes(&diagnosis)
        );
    }
}

/// ECS's "Check whether the image exists" prefixes Docker's "requested access to the
/// resource is denied": the answer is a missing repository, not a permission to add.
#[test]
fn agent_prescriptive_pull_errors_keep_their_meaning() {
    let (_, missing) = load("image-pull-failed--agent-check-image-exists");
    assert!(
        missing.summary.contains("does not exist"),
        "{}",
        missing.summary
    );
    assert!(
        !fixes(&missing).contains("ecr:BatchGetImage"),
        "{}",
        fixes(&missing)
    );
    let (_, network) = load("image-pull-failed--agent-check-network");
    assert!(
        network.summary.contains("could not be reached"),
        "{}",
        network.summary
    );
}

/// The summaries say what the message says: the runtime's transition and time-out, the
/// secret that is missing, a Fargate InfrastructureHealth stop that is not the task's doing.
#[test]
fn summaries_carry_the_messages_own_values() {
    let (_, timeout) = load("docker-timeout--container-runtime-timeout");
    assert!(
        timeout.summary.contains("`running` within 1m"),
        "{}",
        timeout.summary
    );
    let (_, secret) = load("secrets-or-registry-auth--agent-secret-not-found");
    assert!(
        secret
            .summary
            .contains("no secret `arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/orders/stripe-Zx9Yw8`"),
        "{}",
        secret.summary
    );
    let (_, health) = load("instance-unhealthy-or-terminated--infrastructure-health-stop-code");
    assert!(
        health.summary.contains("InfrastructureHealth"),
        "{}",
        health.summary
    );
    assert!(
        !fixes(&health).contains("Auto Scaling group"),
        "a Fargate task has no Auto Scaling group: {}",
        fixes(&health)
    );
}
