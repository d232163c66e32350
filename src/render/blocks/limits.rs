//! Block Kit's limits (characters, not bytes; see DESIGN.md), and the check that a
//! message stays within them.

use crate::render::escape::chars;
use serde_json::Value;
use slack_morphism::prelude::*;

/// Blocks in one message.
pub const BLOCKS: usize = 50;
/// A section's text.
pub const SECTION_TEXT: usize = 3000;
/// Fields in a section, and each field's text.
pub const SECTION_FIELDS: usize = 10;
pub const SECTION_FIELD_TEXT: usize = 2000;
/// A header's plain_text.
pub const HEADER_TEXT: usize = 150;
/// A button's text, value, action_id and URL.
pub const BUTTON_TEXT: usize = 75;
pub const BUTTON_VALUE: usize = 2000;
pub const ACTION_ID: usize = 255;
pub const BUTTON_URL: usize = 3000;
/// Elements in a context block and in an actions block.
pub const CONTEXT_ELEMENTS: usize = 10;
pub const ACTIONS_ELEMENTS: usize = 25;
/// A text object anywhere (context elements included).
pub const TEXT_OBJECT: usize = 3000;
/// Slack refuses messages whose blocks run past about 13k characters
/// (`msg_blocks_too_long`); we keep the serialised `blocks` array under this.
pub const MESSAGE_CHARS: usize = 12_000;
/// The top-level notification `text` we send (Slack allows more; keep it short).
pub const FALLBACK_TEXT: usize = 3000;

/// Every way `content` breaks a Block Kit limit, in words; empty when it is within them.
pub fn limit_violations(content: &SlackMessageContent) -> Vec<String> {
    match serde_json::to_value(content) {
        Ok(v) => limit_violations_json(&v),
        Err(e) => vec![format!("does not serialise: {e}")],
    }
}

/// [`limit_violations`] for a message payload as JSON (`{"text", "blocks"}`), e.g. the
/// output of [`super::to_blocks_json`].
pub fn limit_violations_json(message: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let empty = Vec::new();
    let blocks = message
        .get("blocks")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    if blocks.len() > BLOCKS {
        problems.push(format!("{} blocks (at most {})", blocks.len(), BLOCKS));
    }
    let size = serde_json::to_string(blocks).map_or(0, |s| chars(&s));
    if size > MESSAGE_CHARS {
        problems.push(format!(
            "blocks are {size} characters (at most {})",
            MESSAGE_CHARS
        ));
    }
    if let Some(text) = message.get("text").and_then(Value::as_str) {
        check(&mut problems, "fallback text", text, FALLBACK_TEXT);
    }
    for (i, block) in blocks.iter().enumerate() {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("?");
        let at = format!("block {i} ({kind})");
        match kind {
            "header" => check_text(&mut problems, &at, block.get("text"), HEADER_TEXT),
            "section" => {
                check_text(&mut problems, &at, block.get("text"), SECTION_TEXT);
                if let Some(fields) = block.get("fields").and_then(Value::as_array) {
                    if fields.len() > SECTION_FIELDS {
                        problems.push(format!("{at}: {} fields", fields.len()));
                    }
                    for f in fields {
                        check_text(&mut problems, &at, Some(f), SECTION_FIELD_TEXT);
                    }
                }
                if let Some(accessory) = block.get("accessory") {
                    check_element(&mut problems, &at, accessory);
                }
            }
            "context" => {
                let elements = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                if elements.len() > CONTEXT_ELEMENTS {
                    problems.push(format!("{at}: {} elements", elements.len()));
                }
                for e in elements {
                    check_text(&mut problems, &at, Some(e), TEXT_OBJECT);
                }
            }
            "actions" => {
                let elements = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                if elements.len() > ACTIONS_ELEMENTS {
                    problems.push(format!("{at}: {} elements", elements.len()));
                }
                for e in elements {
                    check_element(&mut problems, &at, e);
                }
            }
            _ => {}
        }
    }
    problems
}

fn check(problems: &mut Vec<String>, at: &str, text: &str, max: usize) {
    let n = chars(text);
    if n > max {
        problems.push(format!("{at}: {n} characters (at most {max})"));
    }
}

fn check_text(problems: &mut Vec<String>, at: &str, text: Option<&Value>, max: usize) {
    if let Some(s) = text.and_then(|t| t.get("text")).and_then(Value::as_str) {
        check(problems, at, s, max);
    }
}

fn check_element(problems: &mut Vec<String>, at: &str, e: &Value) {
    if e.get("type").and_then(Value::as_str) != Some("button") {
        return;
    }
    check_text(
        problems,
        &format!("{at} button text"),
        e.get("text"),
        BUTTON_TEXT,
    );
    if let Some(v) = e.get("value").and_then(Value::as_str) {
        check(problems, &format!("{at} button value"), v, BUTTON_VALUE);
    }
    if let Some(v) = e.get("action_id").and_then(Value::as_str) {
        check(problems, &format!("{at} action_id"), v, ACTION_ID);
    }
    if let Some(v) = e.get("url").and_then(Value::as_str) {
        check(problems, &format!("{at} button url"), v, BUTTON_URL);
    }
}
