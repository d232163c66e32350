//! Making untrusted text safe to show: mrkdwn escaping for Slack, control-character
//! neutralising for terminals, and truncation on character boundaries.
//!
//! Everything that comes from logs or AWS (reasons, names, log lines, evidence quoted
//! from them) is untrusted. In Slack, `&`, `<` and `>` are escaped so that `<!channel>`,
//! `<@U123>` or `<http://x|y>` arrive as text and cannot ping anyone or forge a link. In
//! a terminal, escape sequences are shown as text so a log line cannot move the cursor,
//! change colours or set the window title.

use std::borrow::Cow;

pub use crate::text::{chars, truncate, ELLIPSIS};

/// Escape `&`, `<` and `>` for Slack mrkdwn (and plain_text, which Slack also decodes),
/// and drop bidirectional control characters ([`is_bidi_control`]).
pub fn mrkdwn(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>']) && !s.contains(is_bidi_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if is_bidi_control(c) => {}
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Unicode's bidirectional controls: the embeddings, overrides and isolates (U+202A to
/// U+202E, U+2066 to U+2069) and the direction marks (U+200E, U+200F, U+061C). In
/// untrusted text they reorder what a reader sees ("Trojan Source"): a stopped reason
/// could show words in another order than they are, or hide part of itself.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Redact secrets, then escape for mrkdwn: the treatment for any free text from logs or
/// AWS that is going to Slack.
/// Control characters other than newline and tab are replaced with U+FFFD: they mean
/// nothing in Slack and would bloat the JSON payload sixfold (`\u001b`).
pub fn untrusted(s: &str) -> String {
    let redacted = crate::redact::redact(s);
    let escaped = mrkdwn(&redacted);
    if escaped.chars().any(is_stray_control) {
        escaped
            .chars()
            .map(|c| if is_stray_control(c) { '\u{FFFD}' } else { c })
            .collect()
    } else {
        escaped.into_owned()
    }
}

fn is_stray_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Escape a line for inside a ``` preformatted block: redacted, mrkdwn-escaped, and with
/// backtick runs broken up so a log line cannot close the block early.
pub fn code_line(s: &str) -> String {
    let escaped = untrusted(s);
    let escaped = escaped.trim_end_matches(['\r', '\n']);
    if !escaped.contains("``") {
        return escaped.to_string();
    }
    // A zero-width space between backticks keeps the look and breaks the fence.
    let mut out = String::with_capacity(escaped.len() + 8);
    let mut previous_backtick = false;
    for c in escaped.chars() {
        if c == '`' && previous_backtick {
            out.push('\u{200B}');
        }
        previous_backtick = c == '`';
        out.push(c);
    }
    out
}

/// Like [`truncate`] for text that is already mrkdwn-escaped: never leaves half an
/// entity (`&am…`) at the cut.
pub fn truncate_escaped(s: &str, max: usize) -> Cow<'_, str> {
    let cut = truncate(s, max);
    let Cow::Owned(mut owned) = cut else {
        return cut;
    };
    owned.pop(); // the ellipsis
    if let Some(amp) = owned.rfind('&') {
        if !owned[amp..].contains(';') {
            owned.truncate(amp);
        }
    }
    owned.push(ELLIPSIS);
    Cow::Owned(owned)
}

/// Make untrusted text safe for a terminal: redacted, and control characters (escape
/// sequences, carriage returns, bells) shown as visible `\x1b`-style text. Tabs stay;
/// newlines stay only when `keep_newlines` is set.
pub fn terminal(s: &str, keep_newlines: bool) -> String {
    let redacted = crate::redact::redact(s);
    let mut out = String::with_capacity(redacted.len());
    for c in redacted.chars() {
        match c {
            '\t' => out.push(c),
            '\n' if keep_newlines => out.push(c),
            '\n' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {
                let code = c as u32;
                if code <= 0xFF {
                    out.push_str(&format!("\\x{code:02x}"));
                } else {
                    out.push_str(&format!("\\u{{{code:x}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_mentions_and_links() {
        assert_eq!(mrkdwn("<!channel> hi"), "&lt;!channel&gt; hi");
        assert_eq!(mrkdwn("<@U123>"), "&lt;@U123&gt;");
        assert_eq!(mrkdwn("<http://x|y> & co"), "&lt;http://x|y&gt; &amp; co");
        assert!(matches!(mrkdwn("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 10), "héllo");
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo", 4), "hél…");
        assert_eq!(truncate("🦀🦀🦀", 2), "🦀…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(chars(&truncate(&"é".repeat(5000), 3000)), 3000);
    }

    #[test]
    fn truncation_does_not_split_entities() {
        let escaped = mrkdwn("aaaa<b").into_owned(); // "aaaa&lt;b"
        assert_eq!(truncate_escaped(&escaped, 7), "aaaa…");
        assert_eq!(truncate_escaped(&escaped, 9), "aaaa&lt;b");
        assert_eq!(truncate_escaped(&escaped, 8), "aaaa…");
        assert_eq!(truncate_escaped(&mrkdwn("a<bcd"), 7), "a&lt;b…");
    }

    #[test]
    fn code_lines_cannot_close_the_fence() {
        let line = code_line("before ``` after <!here>");
        assert!(!line.contains("```"));
        assert!(line.contains("&lt;!here&gt;"));
    }

    #[test]
    fn bidirectional_controls_are_dropped_for_slack_and_shown_in_a_terminal() {
        let reason = "CannotPullContainerError: \u{202E}gpj.exe\u{202C} \u{2067}x\u{2069}";
        assert_eq!(
            untrusted(reason),
            "CannotPullContainerError: gpj.exe x",
            "no bidi control reaches Slack"
        );
        assert_eq!(mrkdwn("a\u{200F}<b"), "a&lt;b");
        assert_eq!(
            terminal(reason, false),
            "CannotPullContainerError: \\u{202e}gpj.exe\\u{202c} \\u{2067}x\\u{2069}"
        );
        assert!(matches!(mrkdwn("plain text"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_text_shows_escape_sequences() {
        assert_eq!(terminal("a\x1b[2Jb\rc", false), "a\\x1b[2Jb\\x0dc");
        assert_eq!(terminal("a\nb", false), "a b");
        assert_eq!(terminal("a\nb", true), "a\nb");
    }
}
