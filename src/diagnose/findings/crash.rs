//! Crashes: the line that names a stack trace or panic (Python, Java, Node, Go, Rust).

use regex::Regex;
use std::sync::LazyLock;

static NODE_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Uncaught )?[A-Z]?\w*(?:Error|Exception)(?: \[\w+\])?: ")
        .expect("valid node error regex")
});

/// The line that names the crash when `lines[index]` starts a stack trace or panic.
pub fn crash_line(lines: &[&str], index: usize) -> Option<String> {
    let line = lines.get(index)?.trim_end();
    let next = lines.get(index + 1).map(|l| l.trim_end());
    if line.starts_with("Traceback (most recent call last)") {
        return lines[index + 1..]
            .iter()
            .find(|l| !l.starts_with(' ') && !l.starts_with('\t') && !l.trim().is_empty())
            .map(|l| l.trim_end().to_string());
    }
    if line.contains("Exception in thread \"")
        || line.starts_with("panic: ")
        || line.starts_with("fatal error: ")
    {
        return Some(line.to_string());
    }
    if line.starts_with("thread '") && line.contains("' panicked at") {
        return Some(match next {
            Some(message) if line.ends_with(':') && !message.is_empty() => {
                format!("{line} {message}")
            }
            _ => line.to_string(),
        });
    }
    let followed_by_frames = next.is_some_and(|n| n.starts_with("    at "));
    (NODE_ERROR.is_match(line) && followed_by_frames).then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_first_lines() {
        let python = [
            "Traceback (most recent call last):",
            "  File \"/app/main.py\", line 3, in <module>",
            "    x = os.environ['DATABASE_URL']",
            "KeyError: 'DATABASE_URL'",
        ];
        assert_eq!(
            crash_line(&python, 0).as_deref(),
            Some("KeyError: 'DATABASE_URL'")
        );
        let node = [
            "TypeError: Cannot read properties of undefined (reading 'x')",
            "    at main (/app/index.js:3:9)",
        ];
        assert_eq!(crash_line(&node, 0).as_deref(), Some(node[0]));
        let go = ["panic: runtime error: invalid memory address or nil pointer dereference"];
        assert_eq!(crash_line(&go, 0).as_deref(), Some(go[0]));
        let rust = [
            "thread 'main' panicked at src/main.rs:10:5:",
            "called `Option::unwrap()` on a `None` value",
        ];
        assert!(crash_line(&rust, 0).unwrap().contains("Option::unwrap()"));
        let java = ["Exception in thread \"main\" java.lang.IllegalStateException: boom"];
        assert_eq!(crash_line(&java, 0).as_deref(), Some(java[0]));
        assert!(crash_line(&["Error: just a message"], 0).is_none());
        assert!(crash_line(&[], 0).is_none());
    }
}
