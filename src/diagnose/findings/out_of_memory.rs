//! Out of memory in the logs: a runtime's own out-of-memory message, or the kernel's.

use super::{Described, FindingValues};
use regex::Regex;
use std::sync::LazyLock;

static OOM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"java\.lang\.OutOfMemoryError[^\n]*|JavaScript heap out of memory|\bMemoryError\b|",
        r"Killed process \d+|fatal error: runtime: out of memory|Cannot allocate memory|",
        r"\bout of memory\b|OutOfMemory"
    ))
    .expect("valid oom regex")
});

/// "The process ran out of memory: `java.lang.OutOfMemoryError: Java heap space`".
pub fn oom_in_logs(line: &str) -> Option<Described> {
    let m = OOM.find(line)?;
    Some(Described {
        values: FindingValues::OomInLogs,
        detail: format!(
            "The process reported running out of memory: `{}`",
            m.as_str().trim()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_messages() {
        for line in [
            "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            "MemoryError",
            "Out of memory: Killed process 1234 (python)",
            "fatal error: runtime: out of memory",
            "ERROR: Cannot allocate memory",
        ] {
            assert!(oom_in_logs(line).is_some(), "{line}");
        }
        assert!(oom_in_logs("memory usage 40%").is_none());
    }
}
