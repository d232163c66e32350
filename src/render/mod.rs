//! Rendering: the same [`crate::diagnose::Diagnosis`] as terminal text, JSON or a
//! Slack Block Kit message.

pub mod blocks;
pub mod json;
pub mod text;
