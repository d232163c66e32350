//! Text helpers every layer shares: cutting what users paste, or what AWS and logs say,
//! to a length on character boundaries (Slack counts characters, not bytes), marked with
//! an ellipsis where it was cut; and figures with their thousands grouped (`1,019 MiB`).

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

/// `1,019 MiB` or `87 %`.
pub fn figure(value: f64, unit: &str) -> String {
    if unit.eq_ignore_ascii_case("percent") {
        format!("{} %", grouped(value))
    } else {
        format!("{} {unit}", grouped(value))
    }
}

/// A value rounded to a whole number with thousands separated: `1,019`.
pub fn grouped(value: f64) -> String {
    let rounded = value.round();
    let digits = format!("{}", rounded.abs() as u64);
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if rounded < 0.0 {
        out.insert(0, '-');
    }
    out
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

    #[test]
    fn figures_are_grouped_by_thousands() {
        assert_eq!(grouped(1019.4), "1,019");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
        assert_eq!(grouped(310.0), "310");
        assert_eq!(figure(87.2, "Percent"), "87 %");
    }
}
