//! Ports in use: the process could not bind its port, with the port and the fixed host
//! ports its container maps.

use super::{Described, FindingValues};
use crate::evidence::ContainerDefinition;
use crate::values::fixed_host_ports;
use regex::Regex;
use std::sync::LazyLock;

static PORT_IN_USE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)EADDRINUSE|address already in use|port is already allocated")
        .expect("valid port regex")
});
static PORT_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r":(\d{2,5})\b").expect("valid port number regex"));

/// "Port 8080 is already in use ...", with the container's fixed host ports.
pub fn port_in_use(line: &str, container: Option<&ContainerDefinition>) -> Option<Described> {
    if !PORT_IN_USE.is_match(line) {
        return None;
    }
    let port = PORT_NUMBER
        .captures_iter(line)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    let mut detail = match &port {
        Some(port) => format!("Port {port} is already in use"),
        None => "A port the process binds is already in use".to_string(),
    };
    let fixed = fixed_host_ports(container);
    if !fixed.is_empty() {
        detail.push_str(&format!(
            " (the container maps fixed host port {}: two tasks on one instance collide; use hostPort 0 in bridge mode or awsvpc)",
            fixed.join(", ")
        ));
    } else {
        detail.push_str(" (another process in the task or on the host holds it)");
    }
    Some(Described {
        values: FindingValues::PortInUse {
            port,
            fixed_host_ports: fixed,
        },
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_in_use_names_the_port() {
        let found = port_in_use(
            "Error: listen EADDRINUSE: address already in use :::8080",
            None,
        )
        .unwrap();
        assert!(found.detail.starts_with("Port 8080"), "{}", found.detail);
        assert!(matches!(
            found.values,
            FindingValues::PortInUse { port: Some(ref p), .. } if p == "8080"
        ));
        assert!(port_in_use("listening on :8080", None).is_none());
    }
}
