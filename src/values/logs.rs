//! What the logs and service events say in the task's own words, read for advice: the
//! last lines before the stop, the requests a health check made and the status codes it
//! got, and a line showing that a stop was asked for (SIGTERM, "shutting down").

use crate::evidence::{ContainerLogs, Evidence, ServiceEvent};
use regex::Regex;
use std::sync::LazyLock;

/// `Health checks failed with these codes: [404]` in a service event.
static ELB_CODES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)health checks failed with these codes: \[([^\]]*)\]")
        .expect("valid ELB codes regex")
});
/// An access-log line of a request: `GET / 404 1ms`, `"GET /health HTTP/1.1" 503`.
static REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(GET|HEAD)\s+(/\S*?)"?\s+(?:HTTP/[\d.]+"?\s+)?([1-5]\d\d)\b"#)
        .expect("valid request regex")
});
/// A line that shows the process was asked to stop.
static STOP_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bSIGTERM\b|\bSIGINT\b|shutting down|graceful(ly)? shut|signal: terminated|received signal 15")
        .expect("valid stop request regex")
});

/// One request a log line shows: method, path and status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The line it was read from, as written.
    pub line: String,
}

/// The log lines of `container`, oldest first (none when its logs were not fetched).
pub fn lines_of<'a>(evidence: &'a Evidence, container: &str) -> Vec<&'a str> {
    evidence
        .logs
        .iter()
        .filter(|l| l.container == container)
        .flat_map(|l: &ContainerLogs| l.lines.iter())
        .map(|l| l.message.trim_end())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The last non-empty log line of `container` before the stop.
pub fn last_line<'a>(evidence: &'a Evidence, container: &str) -> Option<&'a str> {
    lines_of(evidence, container).last().copied()
}

/// The last line of `container` that says something of its own: not a stack frame,
/// not an indented continuation, not a runtime's version banner.
pub fn last_telling_line<'a>(evidence: &'a Evidence, container: &str) -> Option<&'a str> {
    const NOISE: &[&str] = &[
        "Current thread ",
        "Node.js v",
        "goroutine ",
        "at ",
        "File \"",
    ];
    lines_of(evidence, container).into_iter().rev().find(|l| {
        !l.starts_with([' ', '\t'])
            && !l.starts_with("  ")
            && !NOISE.iter().any(|n| l.trim_start().starts_with(n))
    })
}

/// The last request line with a status code in the logs of `container`.
pub fn last_request(evidence: &Evidence, container: &str) -> Option<Request> {
    lines_of(evidence, container)
        .into_iter()
        .rev()
        .find_map(|line| {
            let c = REQUEST.captures(line)?;
            Some(Request {
                method: c[1].to_string(),
                path: c[2].to_string(),
                status: c[3].parse().ok()?,
                line: line.to_string(),
            })
        })
}

/// The status codes a target group's health checks got, from the newest service event
/// that names them, with that event's text.
pub fn elb_status_codes(events: &[ServiceEvent]) -> Option<(Vec<u16>, &str)> {
    events.iter().find_map(|event| {
        let codes = ELB_CODES.captures(&event.message)?;
        let parsed: Vec<u16> = codes[1]
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        (!parsed.is_empty()).then_some((parsed, event.message.as_str()))
    })
}

/// The service event saying the target group's health checks timed out.
pub fn elb_timed_out(events: &[ServiceEvent]) -> Option<&str> {
    events
        .iter()
        .map(|e| e.message.as_str())
        .find(|m| m.contains("Request timed out") || m.contains("Health checks timed out"))
}

/// The last line of `container` showing it was asked to stop (SIGTERM, "shutting down").
pub fn stop_request_line<'a>(evidence: &'a Evidence, container: &str) -> Option<&'a str> {
    lines_of(evidence, container)
        .into_iter()
        .rev()
        .find(|l| STOP_REQUEST.is_match(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::LogLine;

    fn with_lines(lines: &[&str]) -> Evidence {
        Evidence {
            logs: vec![ContainerLogs {
                container: "app".into(),
                lines: lines
                    .iter()
                    .map(|m| LogLine {
                        timestamp: None,
                        message: m.to_string(),
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn requests_are_read_from_access_log_lines() {
        let e = with_lines(&["Listening on :8080", "GET / 404 1ms", "done"]);
        let r = last_request(&e, "app").expect("a request");
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.status),
            ("GET", "/", 404)
        );
        let e = with_lines(&[r#"10.0.0.1 - - "GET /health HTTP/1.1" 503 12"#]);
        let r = last_request(&e, "app").expect("a request");
        assert_eq!((r.path.as_str(), r.status), ("/health", 503));
        assert!(last_request(&with_lines(&["loading 12/40"]), "app").is_none());
    }

    #[test]
    fn elb_codes_come_from_the_service_event() {
        let events = [ServiceEvent {
            created_at: None,
            message: "(service a) is unhealthy in (target-group x) due to (reason Health checks failed with these codes: [404, 502]).".into(),
        }];
        assert_eq!(elb_status_codes(&events).map(|c| c.0), Some(vec![404, 502]));
        assert!(elb_status_codes(&[]).is_none());
    }

    #[test]
    fn stop_requests_are_seen_in_the_logs() {
        let e = with_lines(&["Received SIGTERM, shutting down", "Closed 12 connections"]);
        assert_eq!(
            stop_request_line(&e, "app"),
            Some("Received SIGTERM, shutting down")
        );
        assert!(stop_request_line(&with_lines(&["processing batch 8813"]), "app").is_none());
    }
}
