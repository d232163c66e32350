//! Small text helpers shared by the findings and the rules: quoting a line from the
//! evidence safely, fitting a phrase into a sentence, and dropping repeated lines.

use crate::redact::redact;
use std::collections::HashSet;
use std::hash::Hash;

/// Quoted lines are cut to this many characters.
const MAX_QUOTED_CHARS: usize = 300;

/// A line from the evidence fit to quote: trailing space trimmed, secrets redacted, and
/// cut to [`MAX_QUOTED_CHARS`] characters (with `…` when cut).
pub fn quotable(line: &str) -> String {
    let line = line.trim_end();
    let redacted = redact(line);
    match redacted.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &redacted[..cut]),
        None => redacted.into_owned(),
    }
}

/// `text` with its first letter in lower case, to embed it in a sentence. An acronym
/// or a name in capitals ("AWS denied ...", "KMS ...") is left as it is.
pub fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    let second_is_upper = text.chars().nth(1).is_some_and(char::is_uppercase);
    match chars.next() {
        Some(first) if first != '`' && !second_is_upper => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_string(),
    }
}

/// `text` with its first letter in upper case, to start a sentence with it.
pub fn uppercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` ending with a full stop, so another sentence can follow it.
pub fn as_sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

/// The first item of each `key`, in their original order.
pub fn first_of_each<T, K: Hash + Eq>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(key(item)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut() {
        let quoted = quotable(&"x".repeat(400));
        assert_eq!(quoted.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(quoted.ends_with('…'));
        assert_eq!(quotable("short line  "), "short line");
    }

    #[test]
    fn sentences_and_cases() {
        assert_eq!(lowercase_first("Could not reach"), "could not reach");
        assert_eq!(lowercase_first("AWS denied"), "AWS denied");
        assert_eq!(lowercase_first("`X` is not set"), "`X` is not set");
        assert_eq!(uppercase_first("entry point"), "Entry point");
        assert_eq!(as_sentence("Port 80 is in use"), "Port 80 is in use.");
        assert_eq!(as_sentence("Done!"), "Done!");
    }

    #[test]
    fn first_of_each_keeps_order() {
        let lines = vec!["a", "b", "a", "c", "b"];
        assert_eq!(first_of_each(lines, |l| *l), vec!["a", "b", "c"]);
    }
}
