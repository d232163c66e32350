//! `ecs-why healthcheck`: the container's health probe. It GETs the bot's `/healthz`
//! over plain HTTP/1.1 on loopback and reports whether it answered 200, so the image's
//! `HEALTHCHECK` and the ECS task definition need neither `curl` nor a shell.
//!
//! The probe is deliberately small (std's TCP client, one request, `Connection: close`):
//! it runs every 15 s inside the container and needs neither an async runtime nor a
//! TLS stack to ask a loopback port one question.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use url::Url;

/// Why the probe failed, worded for the one line a health check log shows.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    BadTarget(String),
    #[error("cannot connect to {url} ({detail}); is `ecs-why serve` running and listening there?")]
    Connect { url: String, detail: String },
    #[error("{url} did not answer within {seconds:.1} s ({detail})")]
    Timeout {
        url: String,
        seconds: f64,
        detail: String,
    },
    #[error("{url} answered `{status_line}`, not 200")]
    Status { url: String, status_line: String },
    #[error("{url} did not answer with HTTP ({detail})")]
    NotHttp { url: String, detail: String },
}

/// The `/healthz` URL of a bot listening on `listen` (the `ECS_WHY_LISTEN` value, or
/// the default `0.0.0.0:3000` when unset): an unspecified address (`0.0.0.0`, `[::]`)
/// is probed on the loopback address of the same family.
pub fn url_for_listen(listen: Option<&str>) -> Result<String, ProbeError> {
    let text = listen
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(crate::config::DEFAULT_LISTEN);
    let addr: SocketAddr = text.parse().map_err(|_| {
        ProbeError::BadTarget(format!(
            "ECS_WHY_LISTEN is not an address:port ({text:?}); set it as for `ecs-why serve`, or pass --url"
        ))
    })?;
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(format!(
        "http://{}/healthz",
        SocketAddr::new(ip, addr.port())
    ))
}

/// GET `url` (plain `http://` only) and succeed only on status 200, all within
/// `timeout` (connecting, sending and reading the status line together).
pub fn probe(url: &str, timeout: Duration) -> Result<(), ProbeError> {
    let parsed = Url::parse(url)
        .map_err(|e| ProbeError::BadTarget(format!("--url {url:?} is not a URL ({e})")))?;
    if parsed.scheme() != "http" {
        return Err(ProbeError::BadTarget(format!(
            "--url {url:?}: only http:// is supported (the probe talks to the bot on loopback)"
        )));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| ProbeError::BadTarget(format!("--url {url:?} has no host")))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let deadline = Instant::now() + timeout;
    let connect = |detail: String| ProbeError::Connect {
        url: url.to_string(),
        detail,
    };
    let timed_out = |detail: String| ProbeError::Timeout {
        url: url.to_string(),
        seconds: timeout.as_secs_f64(),
        detail,
    };

    // `Url` keeps the brackets of an IPv6 host; resolving wants them off.
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (bare_host, port)
        .to_socket_addrs()
        .map_err(|e| connect(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last_error = format!("{host} resolves to no address");
    let mut stream = None;
    for addr in addrs {
        let left = remaining(deadline).ok_or_else(|| timed_out("while connecting".into()))?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(timed_out(format!("connecting to {addr}")))
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let mut stream = stream.ok_or_else(|| connect(last_error))?;

    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let host_header = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: ecs-why-healthcheck\r\nConnection: close\r\n\r\n"
    );
    let io_timeout = |e: std::io::Error, doing: &str| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ) {
            timed_out(doing.to_string())
        } else {
            connect(format!("{doing}: {e}"))
        }
    };
    let left = remaining(deadline).ok_or_else(|| timed_out("before sending".into()))?;
    stream
        .set_write_timeout(Some(left))
        .and_then(|()| stream.write_all(request.as_bytes()))
        .map_err(|e| io_timeout(e, "sending the request"))?;

    // Only the status line matters; read until its end (or the server closes).
    let mut head = Vec::with_capacity(256);
    let mut buffer = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let left = remaining(deadline).ok_or_else(|| timed_out("waiting for the answer".into()))?;
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| io_timeout(e, "waiting for the answer"))?;
        let read = stream
            .read(&mut buffer)
            .map_err(|e| io_timeout(e, "waiting for the answer"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    // Whatever answered may not be the bot: shown cut short and with escapes, never raw.
    let first_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let status_line = crate::text::truncate(&first_line, 80)
        .escape_debug()
        .to_string();
    let mut words = status_line.split_whitespace();
    let (version, code) = (words.next(), words.next());
    if !version.is_some_and(|v| v.starts_with("HTTP/")) {
        let detail = if status_line.is_empty() {
            "the connection closed without a status line".to_string()
        } else {
            format!("first line `{status_line}`")
        };
        return Err(ProbeError::NotHttp {
            url: url.to_string(),
            detail,
        });
    }
    if code == Some("200") {
        Ok(())
    } else {
        Err(ProbeError::Status {
            url: url.to_string(),
            status_line,
        })
    }
}

/// Time left before `deadline`, or `None` once it has passed.
fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_probed_on_loopback() {
        assert_eq!(
            url_for_listen(Some("0.0.0.0:3000")).unwrap(),
            "http://127.0.0.1:3000/healthz"
        );
        assert_eq!(
            url_for_listen(Some("[::]:8080")).unwrap(),
            "http://[::1]:8080/healthz"
        );
        assert_eq!(
            url_for_listen(Some("10.1.2.3:9000")).unwrap(),
            "http://10.1.2.3:9000/healthz"
        );
        assert_eq!(
            url_for_listen(None).unwrap(),
            "http://127.0.0.1:3000/healthz"
        );
    }

    #[test]
    fn a_listen_value_that_is_not_an_address_names_the_variable() {
        let error = url_for_listen(Some("localhost")).unwrap_err().to_string();
        assert!(
            error.starts_with("ECS_WHY_LISTEN is not an address:port"),
            "{error}"
        );
    }

    #[test]
    fn only_plain_http_urls_are_probed() {
        let error = probe("https://127.0.0.1:1/healthz", Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(error.contains("only http:// is supported"), "{error}");
        let error = probe("not a url", Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a URL"), "{error}");
    }
}
