//! A card once an action is under way or done: its Roll back and Restart buttons give way
//! to one line saying what happened ("rolling back to web:41 · started by @alice 10:42",
//! then the outcome). Pure, on the card's Block Kit JSON.

use super::offer::is_action_button;
use serde_json::{json, Value};

/// The block id of the action's state line, so a later state replaces it.
pub const STATE_BLOCK: &str = "ecs_why_action_state";

/// `card` without its action buttons, with `state` (mrkdwn) as its action's line.
pub fn with_state(card: &Value, state: &str) -> Value {
    let mut card = card.clone();
    let Some(blocks) = card.get_mut("blocks").and_then(Value::as_array_mut) else {
        return card;
    };
    blocks.retain(|b| b.get("block_id").and_then(Value::as_str) != Some(STATE_BLOCK));
    let mut at = blocks.len();
    for (i, block) in blocks.iter_mut().enumerate() {
        if block.get("type").and_then(Value::as_str) != Some("actions") {
            continue;
        }
        if let Some(elements) = block.get_mut("elements").and_then(Value::as_array_mut) {
            elements.retain(|e| !is_action_button(e));
        }
        at = i;
    }
    blocks.retain(|b| {
        b.get("type").and_then(Value::as_str) != Some("actions")
            || b.get("elements")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty())
    });
    let at = at.min(blocks.len());
    blocks.insert(
        at,
        json!({"type": "context", "block_id": STATE_BLOCK,
               "elements": [{"type": "mrkdwn", "text": crate::text::truncate(state, 2900)}]}),
    );
    card
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buttons_give_way_to_the_state() {
        let card = json!({"blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "web: out of memory"}},
            {"type": "actions", "elements": [
                {"type": "button", "action_id": "ecs_why_more_logs"},
                {"type": "button", "action_id": "ecs_why_roll_back"},
                {"type": "button", "action_id": "ecs_why_restart"}
            ]}
        ]});
        let started = with_state(&card, "rolling back to web:41");
        let done = with_state(&started, "rollback complete");
        let text = done.to_string();
        assert!(!text.contains("ecs_why_roll_back"), "{text}");
        assert!(!text.contains("ecs_why_restart"), "{text}");
        assert!(text.contains("ecs_why_more_logs"), "{text}");
        assert!(text.contains("rollback complete"), "{text}");
        assert!(!text.contains("rolling back to"), "one state line: {text}");
        let only_actions = json!({"blocks": [{"type": "actions", "elements": [
            {"type": "button", "action_id": "ecs_why_restart"}]}]});
        let shown = with_state(&only_actions, "restarting");
        assert_eq!(shown["blocks"].as_array().unwrap().len(), 1);
        assert_eq!(shown["blocks"][0]["block_id"], STATE_BLOCK);
    }
}
