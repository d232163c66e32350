//! The small constructors every message here is built from: sections, fields, context
//! lines, buttons and lists, each cut to Block Kit's limits, and [`fit`], which rebuilds
//! a message with smaller budgets until it is short enough.

use super::limits;
use crate::follow_up::{ButtonRef, FollowUp};
use crate::render::escape::{self, chars, truncate, truncate_escaped};
use crate::render::json::time;
use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;

/// Each section field is cut to this many characters (Block Kit allows 2,000).
const FIELD_TEXT: usize = 600;

/// Character budgets of the card's parts at `scale` 1.0.
pub(super) struct Budget {
    pub(super) scale: f32,
}

impl Budget {
    pub(super) fn of(&self, full: usize) -> usize {
        ((full as f32 * self.scale) as usize).max(120)
    }
}

/// Build with shrinking budgets until the message fits [`limits::MESSAGE_CHARS`].
pub(super) fn fit(build: impl Fn(f32) -> Vec<SlackBlock>) -> Vec<SlackBlock> {
    let mut blocks = Vec::new();
    for scale in [1.0, 0.75, 0.5, 0.35, 0.25, 0.15, 0.1] {
        blocks = build(scale);
        blocks.truncate(limits::BLOCKS);
        if json_chars(&blocks) <= limits::MESSAGE_CHARS {
            return blocks;
        }
    }
    // Still too long at the smallest budgets (only possible with very many parts):
    // drop blocks from the middle, keeping the first and the last (the buttons).
    while blocks.len() > 2 && json_chars(&blocks) > limits::MESSAGE_CHARS {
        let at = blocks.len() - 2;
        blocks.remove(at);
    }
    blocks
}

pub(super) fn json_chars(blocks: &[SlackBlock]) -> usize {
    serde_json::to_string(blocks).map_or(0, |s| chars(&s))
}

pub(super) fn message(text: String, blocks: Vec<SlackBlock>) -> SlackMessageContent {
    let text = truncate_escaped(&text, limits::FALLBACK_TEXT).into_owned();
    SlackMessageContent::new()
        .with_text(text)
        .with_blocks(blocks)
}

pub(super) fn header(title: &str) -> SlackBlock {
    // plain_text is not parsed for mentions, but Slack decodes &amp; &lt; &gt; in it
    // too, so escaping keeps the shown text right and the payload free of `<!...>`.
    let text = truncate_escaped(&escape::untrusted(title), limits::HEADER_TEXT).into_owned();
    SlackBlock::Header(SlackHeaderBlock::new(SlackBlockPlainTextOnly::from(text)))
}

pub(super) fn mrkdwn(text: &str, max: usize) -> SlackBlockText {
    let text = truncate_escaped(text, max.min(limits::TEXT_OBJECT)).into_owned();
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text).with_verbatim(true))
}

/// A section of already-escaped mrkdwn text, cut to 3,000 characters.
pub(super) fn section(text: &str) -> SlackBlock {
    SlackBlock::Section(SlackSectionBlock::new().with_text(mrkdwn(text, limits::SECTION_TEXT)))
}

pub(super) fn section_with_fields(text: &str, max: usize, fields: Vec<String>) -> SlackBlock {
    let fields: Vec<SlackBlockText> = fields
        .iter()
        .take(limits::SECTION_FIELDS)
        .map(|f| mrkdwn(f, FIELD_TEXT))
        .collect();
    let mut block = SlackSectionBlock::new().with_text(mrkdwn(text, max));
    if !fields.is_empty() {
        block = block.with_fields(fields);
    }
    SlackBlock::Section(block)
}

pub(super) fn context(elements: Vec<String>) -> SlackBlock {
    let elements = elements
        .iter()
        .take(limits::CONTEXT_ELEMENTS)
        .map(|e| {
            SlackContextBlockElement::MarkDown(
                SlackBlockMarkDownText::new(truncate_escaped(e, limits::TEXT_OBJECT).into_owned())
                    .with_verbatim(true),
            )
        })
        .collect();
    SlackBlock::Context(SlackContextBlock::new(elements))
}

pub(super) fn button(follow_up: FollowUp, text: &str, r: &ButtonRef) -> SlackActionBlockElement {
    let value = r.encode();
    SlackActionBlockElement::Button(
        SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(
            truncate(text, limits::BUTTON_TEXT).into_owned(),
        ))
        .with_action_id(SlackActionId(
            truncate(follow_up.action_id(), limits::ACTION_ID).into_owned(),
        ))
        .with_value(value),
    )
}

pub(super) fn url_button(
    follow_up: FollowUp,
    text: &str,
    url: &str,
) -> Option<SlackActionBlockElement> {
    if chars(url) > limits::BUTTON_URL {
        return None;
    }
    let url = url::Url::parse(url).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    Some(SlackActionBlockElement::Button(
        SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(text.to_string()))
            .with_action_id(SlackActionId(follow_up.action_id().to_string()))
            .with_url(url),
    ))
}

/// `heading` then one line per item, cut to `max` characters with "…and N more `what`"
/// when not every item fits. Items are already escaped.
pub(super) fn list_text(heading: &str, items: Vec<String>, max: usize, what: &str) -> String {
    let max = max.min(limits::SECTION_TEXT);
    let mut out = heading.to_string();
    let total = items.len();
    for (i, item) in items.iter().enumerate() {
        let sep = if out.is_empty() { "" } else { "\n" };
        let left_after = total - i - 1;
        let more_after = if left_after > 0 {
            format!("\n…and {left_after} more {what}")
        } else {
            String::new()
        };
        let used = chars(&out) + sep.len() + chars(&more_after);
        if used + chars(item) <= max {
            out.push_str(sep);
            out.push_str(item);
            continue;
        }
        // It does not fit whole: show the part that fits if that is useful, then stop.
        let room = max.saturating_sub(used);
        if room >= 40 {
            out.push_str(sep);
            out.push_str(&truncate_escaped(item, room));
            out.push_str(&more_after);
        } else {
            out.push_str(&format!("{sep}…and {} more {what}", total - i));
        }
        break;
    }
    truncate_escaped(&out, max).into_owned()
}

/// Text for inside `inline code`: redacted, escaped, backticks and newlines replaced so
/// the code span cannot end early.
pub(super) fn inline_code(s: &str) -> String {
    escape::untrusted(s)
        .replace('`', "ˋ")
        .replace(['\n', '\r'], " ")
}

/// Quote already-escaped text as a block quote, line by line.
pub(super) fn quote(s: &str) -> String {
    s.lines()
        .map(|l| format!(">{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Keep a reference only if it survives the same validation the bot applies on receipt.
pub(super) fn valid(r: ButtonRef) -> Option<ButtonRef> {
    let encoded = r.encode();
    match ButtonRef::decode(&encoded) {
        Ok(decoded) if encoded.len() <= limits::BUTTON_VALUE => Some(decoded),
        _ => None,
    }
}

/// A time as Slack shows it in the reader's own time zone, with UTC text as fallback.
pub(super) fn slack_date(t: &DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time_secs}}|{}>",
        t.timestamp(),
        time(t)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_text_counts_what_is_left_out() {
        let items: Vec<String> = (0..100).map(|i| format!("• item {i}")).collect();
        let text = list_text("*Items*", items, 100, "items");
        assert!(chars(&text) <= 100, "{text}");
        assert!(text.contains("more items"), "{text}");
        let all = list_text("*Items*", vec!["• a".into(), "• b".into()], 100, "items");
        assert_eq!(all, "*Items*\n• a\n• b");
    }

    #[test]
    fn inline_code_cannot_break_out() {
        assert_eq!(inline_code("a`b\nc<!here>"), "aˋb c&lt;!here&gt;");
    }
}
