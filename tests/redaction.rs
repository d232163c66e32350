//! Redaction measured on two corpora: `tests/redaction/clean.txt`, log lines that must come
//! out unchanged, and `tests/redaction/secrets.txt`, lines that each hide one secret that
//! must not come out. Prints a table of false positives and misses (see it with
//! `--nocapture`), and, in a release build, how many clean lines are redacted per second.

use ecs_why::redact::redact;
use std::borrow::Cow;
use std::time::Instant;

const CLEAN: &str = include_str!("redaction/clean.txt");
const SECRETS: &str = include_str!("redaction/secrets.txt");

fn clean_lines() -> Vec<&'static str> {
    CLEAN.lines().filter(|l| !l.is_empty()).collect()
}

/// `(secret, line)` pairs; lines starting with `#` are comments.
fn secret_cases() -> Vec<(&'static str, &'static str)> {
    SECRETS
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once('\t')
                .unwrap_or_else(|| panic!("secrets.txt: no tab in {l:?}"))
        })
        .collect()
}

#[test]
fn corpora_clean_lines_pass_unchanged_and_no_secret_survives() {
    let clean = clean_lines();
    let changed: Vec<(&str, String)> = clean
        .iter()
        .filter_map(|line| match redact(line) {
            Cow::Borrowed(_) => None,
            Cow::Owned(out) => Some((*line, out)),
        })
        .collect();
    let secrets = secret_cases();
    let missed: Vec<(&str, String)> = secrets
        .iter()
        .filter_map(|(secret, line)| {
            let out = redact(line);
            out.contains(secret).then(|| (*secret, out.into_owned()))
        })
        .collect();

    println!("corpus       lines  changed/missed  rate");
    for (name, lines, bad) in [
        ("clean.txt", clean.len(), changed.len()),
        ("secrets.txt", secrets.len(), missed.len()),
    ] {
        let rate = 100.0 * bad as f64 / lines.max(1) as f64;
        println!("{name:<12} {lines:>5}  {bad:>14}  {rate:.1}%");
    }
    for (line, out) in &changed {
        println!("false positive:\n  in:  {line}\n  out: {out}");
    }
    for (secret, out) in &missed {
        println!("missed {secret}:\n  out: {out}");
    }
    assert!(
        clean.len() >= 300,
        "the clean corpus has {} lines",
        clean.len()
    );
    assert!(
        secrets.len() >= 80,
        "the secret corpus has {}",
        secrets.len()
    );
    assert!(
        changed.is_empty(),
        "{} clean lines changed, first: {:?}",
        changed.len(),
        changed.first()
    );
    assert!(
        missed.is_empty(),
        "{} secrets survived, first: {:?}",
        missed.len(),
        missed.first()
    );
}

#[test]
fn redaction_is_idempotent_on_both_corpora() {
    let lines = clean_lines()
        .into_iter()
        .chain(secret_cases().into_iter().map(|(_, line)| line));
    for line in lines {
        let once = redact(line).into_owned();
        assert_eq!(redact(&once), once, "redacting twice changed {line:?}");
    }
}

#[test]
fn clean_corpus_speed() {
    let clean = clean_lines();
    let rounds = if cfg!(debug_assertions) { 20 } else { 500 };
    let started = Instant::now();
    let mut changed = 0usize;
    for _ in 0..rounds {
        for line in &clean {
            changed += usize::from(matches!(redact(line), Cow::Owned(_)));
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let lines = (rounds * clean.len()) as f64;
    println!(
        "redact: {:.0} clean lines/s ({} lines in {:.3}s, {} build)",
        lines / elapsed,
        lines,
        elapsed,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert_eq!(changed, 0);
}

#[test]
fn the_reviewed_line_loses_both_keys_and_says_what_they_were() {
    let line = "using credentials AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    assert_eq!(
        redact(line),
        "using credentials [REDACTED AWS ACCESS KEY ID] / [REDACTED AWS SECRET KEY]"
    );
}

#[test]
fn ids_digests_and_arns_survive() {
    for line in [
        "task 0f1e2d3c4b5a69788796a5b4c3d2e1f0 stopped",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "request 7c1f0e2a-5d3b-4f6e-9a8b-1c2d3e4f5a6b done",
        "7C1F0E2A-5D3B-4F6E-9A8B-1C2D3E4F5A6B",
        "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "deploying 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "sha256:af296b188c7b7df99ba960ca614439c99cb7cf252ed7bbc23e90cfda59092305",
        "arn:aws:ecs:eu-west-1:123456789012:task/prod-cluster/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "arn:aws:ecs:eu-west-1:123456789012:task/MyProdCluster2024/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders-api@sha256:af296b188c7b7df99ba960ca614439c99cb7cf252ed7bbc23e90cfda59092305",
        "2026-11-21T14:02:11.482123Z",
        "at org.springframework.beans.factory.support.AbstractAutowireCapableBeanFactory.doCreateBean(AbstractAutowireCapableBeanFactory.java:600)",
        "ThisIsACamelCaseIdentifierName",
        "/usr/local/lib/python3.12/site-packages/django/db/backends/base/base.py",
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html",
    ] {
        assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line}");
    }
}

#[test]
fn a_base64_key_with_slashes_and_pluses_is_caught_whole() {
    let key = "kP9+x2Lm/Qw7Rt4Zb8+Nc3Vh6/Jd1Sf5Gy0EXAMPLE";
    let out = redact(&format!("rotated to {key} at noon")).into_owned();
    assert_eq!(out, "rotated to [REDACTED HIGH-ENTROPY STRING] at noon");
    let out = redact(&format!("PUT /v1/keys/{key}")).into_owned();
    for piece in key.split(['/', '+']) {
        assert!(!out.contains(piece), "{piece} left in {out}");
    }
}

#[test]
fn markers_name_the_kind_of_secret() {
    for (line, marker) in [
        (
            "GITHUB_TOKEN=ghp_EXAMPLE1234567890abcdefghijklmnopqrs",
            "GITHUB_TOKEN=[REDACTED GITHUB TOKEN]",
        ),
        (
            "release with ghp_EXAMPLE1234567890abcdefghijklmnopqrs",
            "[REDACTED GITHUB TOKEN]",
        ),
        (
            "posting with xoxb-1234567890-abcdefghijEXAMPLE",
            "[REDACTED SLACK TOKEN]",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----",
            "[REDACTED PRIVATE KEY]",
        ),
        (
            "session IQoJb3JpZ2luX2VjEXAMPLEa8Kq2Lm9Zx7Wv4Tr1Yp6Nb3Hc8Jd5Gf2",
            "[REDACTED AWS SESSION TOKEN]",
        ),
        (
            "postgres://app:EXAMPLEpw@db:5432/app",
            "postgres://app:[REDACTED]@db",
        ),
    ] {
        let out = redact(line);
        assert!(out.contains(marker), "{line} gave {out}");
    }
}

/// A small deterministic generator (xorshift), so the random keys are the same each run.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }
}

const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8] = b"0123456789abcdef";

/// Random base64 keys as a line's last word: how many are caught, by length. Random hex
/// of id, SHA and digest lengths, and UUIDs, in the same place: none may be touched.
#[test]
fn random_keys_are_caught_and_random_ids_are_not() {
    let mut rng = Xorshift(0x5eed_1234_abcd_ef01);
    let samples = 2000;
    println!("random base64 keys  length  caught");
    for (len, min_rate) in [(20, 0.85), (32, 0.97), (40, 0.99), (64, 0.999)] {
        let caught = (0..samples)
            .filter(|_| {
                let key = rng.string(BASE64, len);
                !redact(&format!("rotated to {key}")).contains(&key)
            })
            .count();
        let rate = caught as f64 / samples as f64;
        println!("                    {len:>6}  {:.1}%", 100.0 * rate);
        assert!(rate >= min_rate, "{len}-character keys caught {rate}");
    }
    for _ in 0..samples {
        for id in [
            rng.string(HEX, 32),
            rng.string(HEX, 40),
            rng.string(HEX, 64),
            rng.string(HEX, 32).to_uppercase(),
            {
                let hex = rng.string(HEX, 32);
                format!(
                    "{}-{}-{}-{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..]
                )
            },
        ] {
            let line = format!("task {id} stopped");
            assert!(matches!(redact(&line), Cow::Borrowed(_)), "{line}");
        }
    }
}
