//! The Slack card as on-call reads it: a snapshot of every recorded case's card (new
//! cases get theirs automatically), the rules every card keeps (at most four buttons,
//! exactly one primary, "Who stopped it" only for stops a caller made, no warning for
//! logs that are absent by design), and one test per thing the card says: the service
//! and cause in the header and notification, when it ran and stopped, how many of the
//! service's recent stops stopped the same way, each fact once, plain-word findings.
//! `figures` (ignored) prints the card's size over all recorded cases.

use ecs_why::diagnose::{diagnose, Diagnosis};
use ecs_why::evidence::{
    Evidence, LogConfiguration, Note, NoteKind, RecentStop, RecentStops, StopLookup, StoppedBy,
};
use ecs_why::follow_up::{ButtonRef, FollowUp};
use ecs_why::render::blocks::{self, CardFacts, MAX_CARD_BUTTONS};
use ecs_why::render::to_text;
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(name, evidence)` for every recorded case and every example document `explain`
/// reads, sorted by name. A document holding several tasks gives `stem-1`, `stem-2`...
fn recorded() -> Vec<(String, Evidence)> {
    let mut all = Vec::new();
    for dir in ["tests/cases", "examples"] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let documents = ecs_why::input::read_documents(&path.display().to_string(), &text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let many = documents.len() > 1;
            for (i, evidence) in documents.into_iter().enumerate() {
                let name = if many {
                    format!("{stem}-{}", i + 1)
                } else {
                    stem.clone()
                };
                all.push((name, evidence));
            }
        }
    }
    assert!(all.len() >= 60, "recorded cases not found: {}", all.len());
    all
}

fn case(name: &str) -> Evidence {
    recorded()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, e)| e)
        .unwrap_or_else(|| panic!("no recorded case {name}"))
}

/// The card the bot posts for `evidence`, as JSON.
fn card_of(evidence: &Evidence) -> Value {
    let d = diagnose(evidence);
    blocks::to_blocks_json_with(&d, &CardFacts::from_evidence(evidence))
}

fn blocks_of(card: &Value) -> &[Value] {
    card["blocks"].as_array().map_or(&[], Vec::as_slice)
}

fn buttons(card: &Value) -> Vec<&Value> {
    blocks_of(card)
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().into_iter().flatten())
        .collect()
}

fn button_ids(card: &Value) -> Vec<&str> {
    buttons(card)
        .iter()
        .filter_map(|b| b["action_id"].as_str())
        .collect()
}

/// Every text a reader sees on the card (header, sections, fields, context lines).
fn texts(card: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for block in blocks_of(card) {
        if let Some(t) = block["text"]["text"].as_str() {
            out.push(t.to_string());
        }
        for field in block["fields"].as_array().into_iter().flatten() {
            out.extend(field["text"].as_str().map(str::to_string));
        }
        if block["type"] == "context" {
            for e in block["elements"].as_array().into_iter().flatten() {
                out.extend(e["text"].as_str().map(str::to_string));
            }
        }
    }
    out
}

fn all_text(card: &Value) -> String {
    texts(card).join("\n")
}

fn header(card: &Value) -> String {
    blocks_of(card)
        .iter()
        .find(|b| b["type"] == "header")
        .and_then(|b| b["text"]["text"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn is_user_stop(d: &Diagnosis) -> bool {
    d.task.stop_code == Some("UserInitiated".into())
        || d.stopped_by.as_ref().is_some_and(|b| b.arn.is_some())
}

#[test]
fn every_recorded_case_has_a_snapshot_of_its_card() {
    for (name, evidence) in recorded() {
        insta::assert_json_snapshot!(name.as_str(), card_of(&evidence));
    }
}

#[test]
fn every_card_has_at_most_four_buttons_and_one_primary() {
    for (name, evidence) in recorded() {
        let d = diagnose(&evidence);
        let card = card_of(&evidence);
        let all = buttons(&card);
        assert!(
            all.len() <= MAX_CARD_BUTTONS,
            "{name}: {} buttons",
            all.len()
        );
        if !all.is_empty() {
            let primary = all.iter().filter(|b| b["style"] == "primary").count();
            assert_eq!(primary, 1, "{name}: {all:?}");
        }
        let who = button_ids(&card).contains(&FollowUp::WhoStopped.action_id());
        assert_eq!(who, is_user_stop(&d), "{name}: Who stopped it");
        let problems = blocks::limit_violations_json(&card);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
}

#[test]
fn header_and_notification_name_the_service_and_the_specific_cause() {
    let evidence = case("elb-health-check-failed--target-group");
    let d = diagnose(&evidence);
    let card = card_of(&evidence);
    let expected = format!("orders-api: {}", d.headline);
    assert_eq!(header(&card), expected);
    assert_eq!(card["text"], Value::String(expected));
    assert!(!header(&card).contains("task 0f3c"), "{}", header(&card));

    // A standalone task is named by its family.
    let standalone = case("container-exited-success--standalone-migration");
    let d = diagnose(&standalone);
    let family = d
        .task
        .group
        .as_deref()
        .and_then(|g| g.strip_prefix("family:"))
        .expect("a family group");
    assert!(
        header(&card_of(&standalone)).starts_with(&format!("{family}: ")),
        "{}",
        header(&card_of(&standalone))
    );
}

#[test]
fn without_a_group_the_header_names_the_task_definitions_family() {
    let mut evidence = case("container-exited-success--standalone-migration");
    evidence.task.group = None;
    evidence.task.task_definition =
        "arn:aws:ecs:us-east-1:123456789012:task-definition/nightly-report:12".into();
    let card = card_of(&evidence);
    assert!(
        header(&card).starts_with("nightly-report: "),
        "{}",
        header(&card)
    );
}

#[test]
fn the_header_stays_within_block_kits_limit() {
    let mut evidence = case("elb-health-check-failed--target-group");
    evidence.task.group = Some(format!("service:{}", "s".repeat(300)));
    let card = card_of(&evidence);
    assert!(header(&card).chars().count() <= 150);
    assert!(blocks::limit_violations_json(&card).is_empty());
}

#[test]
fn near_the_top_it_says_how_long_it_ran_and_when_it_stopped() {
    let evidence = case("container-exited-app-error--missing-database-url");
    let card = card_of(&evidence);
    let second = &blocks_of(&card)[1];
    assert_eq!(second["type"], "context", "{second}");
    let line = second["elements"][0]["text"].as_str().unwrap_or_default();
    let stopped = evidence.task.stopped_at.expect("stopped").timestamp();
    assert!(line.starts_with("ran 6m 53s · stopped "), "{line}");
    assert!(
        line.contains(&format!("<!date^{stopped}^{{ago}}|2024-05-14 03:08 UTC>")),
        "{line}"
    );
}

/// The case's task and `others` as the service's recent stops.
fn with_recent(mut evidence: Evidence, others: &[(&str, i32)]) -> Evidence {
    let mut tasks = vec![RecentStop::of(&evidence.task)];
    for (n, (code, exit)) in others.iter().enumerate() {
        let mut task = evidence.task.clone();
        task.arn = format!("{}{n}", &task.arn[..task.arn.len() - 1]);
        task.stop_code = Some((*code).into());
        for c in &mut task.containers {
            c.exit_code = Some(*exit);
        }
        tasks.push(RecentStop::of(&task));
    }
    evidence.recent_stops = Some(RecentStops { tasks });
    evidence
}

#[test]
fn a_crash_loop_says_how_many_recent_tasks_stopped_the_same_way() {
    let evidence = case("container-exited-app-error--missing-database-url");
    let exited = "EssentialContainerExited";
    let looping = with_recent(
        evidence.clone(),
        &[(exited, 1), (exited, 1), (exited, 1), (exited, 137)],
    );
    let text = all_text(&card_of(&looping));
    assert!(
        text.contains("4 of the last 5 tasks stopped the same way"),
        "{text}"
    );
    let all_same = with_recent(evidence.clone(), &[(exited, 1), (exited, 1)]);
    assert!(all_text(&card_of(&all_same)).contains("all of the last 3 tasks stopped the same way"));
    let once = with_recent(evidence.clone(), &[("UserInitiated", 0), (exited, 2)]);
    assert!(all_text(&card_of(&once)).contains("the other 2 recent stops were different"));
    // Nothing gathered (standalone, alerts, offline): nothing said.
    assert!(!all_text(&card_of(&evidence)).contains("stopped the same way"));
}

/// ECS repeats a pull error as the container's reason: the card quotes it once. (The
/// `*Evidence*` list is the diagnosis's own, not counted here.)
#[test]
fn the_image_pull_error_is_shown_once() {
    let mut evidence = case("image-pull-failed--tag-not-found");
    let reason = evidence.task.stopped_reason.clone().expect("a reason");
    for c in &mut evidence.task.containers {
        c.reason = Some(reason.clone());
    }
    let card = card_of(&evidence);
    let start: String = reason.chars().take(60).collect();
    let shown = texts(&card)
        .into_iter()
        .filter(|t| !t.starts_with("*Evidence*"))
        .map(|t| t.matches(&start).count())
        .sum::<usize>();
    assert_eq!(shown, 1, "{}", all_text(&card));

    // A container reason that says more is kept.
    evidence.task.containers[0].reason = Some("CannotPullContainerError: other".into());
    assert!(all_text(&card_of(&evidence)).contains("CannotPullContainerError: other"));
}

#[test]
fn the_card_names_the_caller_in_a_few_words_and_the_thread_has_the_arn() {
    let mut evidence = case("stopped-by-user--found-cli");
    let arn =
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_OpsAdmin_4f2a9c1e7b3d5a60/jane.doe";
    if let StopLookup::Found(by) = &mut evidence.stop_lookup {
        by.arn = Some(arn.into());
    } else {
        evidence.stop_lookup = StopLookup::Found(StoppedBy {
            arn: Some(arn.into()),
            ..StoppedBy::default()
        });
    }
    let card = card_of(&evidence);
    let shown = serde_json::to_string(&blocks_of(&card)).expect("serialises");
    assert!(shown.contains("jane.doe (OpsAdmin)"), "{shown}");
    let thread = blocks::stopped_by(&evidence.stop_lookup, None);
    let thread = serde_json::to_string(&thread).expect("serialises");
    assert!(thread.contains(arn), "{thread}");
    assert!(button_ids(&card).contains(&FollowUp::WhoStopped.action_id()));
}

/// A person's stop: the reason they gave once in the header and once in the body, on the
/// card and in the terminal, whether CloudTrail named the caller or not.
#[test]
fn the_reason_a_person_gave_is_said_twice_not_more() {
    let reason = "rolling back bad config";
    let found = case("stopped-by-user--found-cli");
    let mut not_found = found.clone();
    not_found.stop_lookup = StopLookup::NotFoundYet;
    for evidence in [found, not_found] {
        let d = diagnose(&evidence);
        let card = card_of(&evidence);
        assert!(header(&card).contains(reason), "{}", header(&card));
        let body: Vec<String> = texts(&card).into_iter().skip(1).collect();
        let body = body.join("\n");
        assert_eq!(body.matches(reason).count(), 1, "{body}");
        // Words as a reader sees them, the wrapping undone.
        let text = to_text(&d, false);
        let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let (header_lines, _) = text.split_once("What stopped it").expect("sections");
        assert_eq!(flat(header_lines).matches(reason).count(), 1, "{text}");
        assert_eq!(flat(&text).matches(reason).count(), 2, "{text}");
    }
}

fn more_logs_ref(card: &Value) -> Option<ButtonRef> {
    buttons(card)
        .into_iter()
        .find(|b| b["action_id"] == FollowUp::MoreLogs.action_id())
        .and_then(|b| b["value"].as_str())
        .map(|v| ButtonRef::decode(v).expect("a valid button value"))
}

#[test]
fn more_logs_continues_after_the_lines_shown_and_only_where_there_are_more() {
    let mut evidence = case("container-exited-app-error--missing-database-url");
    assert!(!evidence.logs.is_empty(), "the case has a log tail");
    for logs in &mut evidence.logs {
        logs.next_token = Some("b/older-page".into());
    }
    let r = more_logs_ref(&card_of(&evidence)).expect("More logs");
    assert_eq!(r.page_token.as_deref(), Some("b/older-page"));

    // The tail is the whole stream: nothing more to read.
    for logs in &mut evidence.logs {
        logs.next_token = None;
    }
    assert_eq!(more_logs_ref(&card_of(&evidence)), None);
    let thread = blocks::log_tail(
        &evidence.logs[0],
        blocks::button_ref(&diagnose(&evidence).task).as_ref(),
    );
    let thread = serde_json::to_string(&thread).expect("serialises");
    assert!(!thread.contains("Older lines"), "{thread}");

    // No stream at all.
    evidence.logs.clear();
    assert_eq!(more_logs_ref(&card_of(&evidence)), None);
}

#[test]
fn who_stopped_it_is_only_on_stops_a_caller_made() {
    let card = card_of(&case("out-of-memory--java-heap-137"));
    assert!(!button_ids(&card).contains(&FollowUp::WhoStopped.action_id()));
    let card = card_of(&case("stopped-by-user--not-found-yet"));
    assert!(button_ids(&card).contains(&FollowUp::WhoStopped.action_id()));
}

/// The case's containers logging with `driver` (`None`: no log configuration), so no
/// log tail was read.
fn without_awslogs(driver: Option<&str>) -> Evidence {
    let mut evidence = case("container-exited-app-error--missing-database-url");
    if let Some(td) = &mut evidence.task_definition {
        for c in &mut td.containers {
            c.log_configuration = driver.map(|d| LogConfiguration {
                log_driver: d.to_string(),
                options: Default::default(),
            });
        }
    }
    evidence.logs.clear();
    if let Some(d) = driver {
        evidence.notes.push(Note::new(
            NoteKind::LogsElsewhere {
                container: "app".into(),
            },
            format!(
                "Logs of container `app` were not read: it logs with the `{d}` driver; ecs-why reads CloudWatch Logs (awslogs) only."
            ),
        ));
    }
    evidence
}

#[test]
fn logs_absent_by_design_are_a_line_not_a_warning() {
    let none = card_of(&without_awslogs(None));
    let text = all_text(&none);
    assert!(!text.contains(":warning:"), "{text}");
    assert!(
        text.contains("no log configuration: add awslogs to the container definition"),
        "{text}"
    );
    assert_eq!(more_logs_ref(&none), None);

    let splunk = card_of(&without_awslogs(Some("splunk")));
    let text = all_text(&splunk);
    assert!(!text.contains(":warning:"), "{text}");
    assert!(text.contains("logs with the `splunk` driver"), "{text}");
}

#[test]
fn findings_are_in_plain_words_on_the_card_and_in_the_text() {
    let evidence = case("container-exited-app-error--missing-database-url");
    let d = diagnose(&evidence);
    assert!(!d.findings.is_empty());
    let card = all_text(&card_of(&evidence));
    assert!(card.contains("Missing environment variable"), "{card}");
    assert!(!card.contains("missing-env-var"), "{card}");
    let text = to_text(&d, false);
    assert!(text.contains("Missing environment variable"), "{text}");
    let oom = to_text(&diagnose(&case("out-of-memory--java-heap-137")), false);
    assert!(oom.contains("Out of memory in the logs"), "{oom}");
    // The JSON keeps the ids.
    let json = ecs_why::render::to_json(&d);
    assert_eq!(json["findings"][0]["kind"], "missing-env-var");
}

#[test]
fn the_re_run_stamp_says_when_and_who() {
    let evidence = case("container-exited-app-error--missing-database-url");
    let d = diagnose(&evidence);
    let mut card = blocks::card_with(&d, &CardFacts::from_evidence(&evidence));
    let at = "2024-05-14T03:20:00Z".parse().expect("time");
    blocks::stamp_rechecked(&mut card, at, "U0ALICE");
    blocks::stamp_rechecked(&mut card, at, "U0ALICE");
    let json = serde_json::to_value(&card).expect("serialises");
    let text = all_text(&json);
    let stamp = format!(
        "re-checked <!date^{}^{{time}}|03:20 UTC> by <@U0ALICE>",
        1_715_656_800
    );
    assert_eq!(text.matches(&stamp).count(), 1, "{text}");
    // Not a user id: no mention.
    blocks::stamp_rechecked(&mut card, at, "<!channel>");
    let text = all_text(&serde_json::to_value(&card).expect("serialises"));
    assert!(!text.contains("<!channel>"), "{text}");
}

/// Text lines of all mrkdwn and plain text on a card.
fn line_count(card: &Value) -> usize {
    texts(card).iter().map(|t| t.lines().count()).sum()
}

fn median(mut v: Vec<usize>) -> usize {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// `cargo test --test cards -- --ignored --nocapture figures`: the card's size over all
/// recorded cases.
#[test]
#[ignore]
fn figures() {
    let cards: Vec<Value> = recorded().iter().map(|(_, e)| card_of(e)).collect();
    let lines: Vec<usize> = cards.iter().map(line_count).collect();
    let block_counts: Vec<usize> = cards.iter().map(|c| blocks_of(c).len()).collect();
    let button_counts: Vec<usize> = cards.iter().map(|c| buttons(c).len()).collect();
    println!("cards: {}", cards.len());
    println!("median text lines: {}", median(lines));
    println!("median blocks: {}", median(block_counts));
    println!(
        "buttons per card: min {} / median {} / max {}",
        button_counts.iter().min().copied().unwrap_or(0),
        median(button_counts.clone()),
        button_counts.iter().max().copied().unwrap_or(0)
    );
}
