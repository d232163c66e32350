//! Slack Block Kit messages: the diagnosis card and the thread replies under it.
//!
//! [`card()`] is what `/ecs why` posts in the channel (and `--format blocks` prints, via
//! [`to_blocks_json`]). [`log_tail`], [`stopped_by`], [`task_definition`] and
//! [`service_events`] are the details the bot posts in the card's thread and answers
//! the follow-up buttons with. All messages are built with slack-morphism's types.
//!
//! Two rules hold for every message built here:
//! - untrusted text (logs, AWS reasons, names, findings, evidence) is redacted and
//!   mrkdwn-escaped ([`crate::render::escape`]), and mrkdwn text objects are `verbatim`,
//!   so nothing from a log can mention a user or a channel or forge a link;
//! - Block Kit's limits ([`limits`]) are never exceeded: texts are cut on character
//!   boundaries with an ellipsis, long lists end in "…and N more", and a card that would
//!   be too long is rebuilt with smaller budgets. [`limit_violations`] checks a message.
//!
//! Layout: [`card`](mod@card) builds the card from the [`crate::diagnose::Diagnosis`]
//! alone; [`thread`] the replies, from the evidence; [`answer`] the whole answer to an
//! investigation (card, thread details, what the probes add, follow-ups); [`limits`]
//! holds Block Kit's limits and the checks; `build` the small block constructors.

pub mod answer;
mod build;
pub mod card;
pub mod facts;
pub mod limits;
pub mod thread;
pub mod verdict;

pub use answer::{card_of, confirmed_extras, details, Attachment};
pub use card::{
    button_ref, card, card_with, stamp_rechecked, to_blocks_json, to_blocks_json_with,
    MAX_CARD_BUTTONS,
};
pub use facts::CardFacts;
pub use limits::{limit_violations, limit_violations_json};
pub use thread::{log_tail, service_events, stopped_by, task_definition, MAX_LOG_MESSAGES};
pub use verdict::probe_replies;
