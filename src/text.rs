//! Character-counted text helpers every layer shares: cutting what users paste, or what
//! AWS and logs say, to a length on character boundaries (Slack counts characters, not
//! bytes), marked with an ellipsis where it was cut.

use std::borrow::Cow;

/// The ellipsis appended when text is cut short.
pub const ELLIPSIS: char = '…';

/// Cut `s` to at most `max` characters (not bytes), ending with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) if max == 0 => Cow::Borrowed(""),
        Some(_) => {
            // Keep max - 1 characters and add the ellipsis.
            let end = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            let mut out = String::with_capacity(end + ELLIPSIS.len_utf8());
            out.push_str(&s[..end]);
            out.push(ELLIPSIS);
            Cow::Owned(out)
        }
    }
}

/// Number of characters (Slack counts characters, not bytes).
pub fn chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole_and_long_text_is_cut_with_an_ellipsis() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(chars(&truncate(&"x".repeat(500), 81)), 81);
    }
}
