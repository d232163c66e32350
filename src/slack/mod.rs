//! The Slack bot: signed HTTP requests and Socket Mode, acks, posts and threads.
//! It holds no diagnosis logic.
//!
//! Parsing is separate from applying: `commands`, `actions` and `events` turn Slack's
//! payloads (slack-morphism's typed events, read from HTTP bodies or handed over in
//! Socket Mode, through one conversion each) into plain requests, and `ask` holds the bot's own request types; `bot` applies them (ack now,
//! work in the background) and `replies` words what people are told; `server` (behind the `signature` middleware) and `socket_mode` are the
//! two ways in, both reporting to `readiness`; `limits` keeps storms cheap. The bot
//! investigates through [`crate::investigate::Investigate`], renders with
//! [`crate::render::blocks`] and posts with [`crate::slack_api`]; it decides nothing
//! about what to gather.
//! `main.rs` calls [`serve`] with [`Settings::from_env`].

pub mod actions;
pub mod ask;
pub mod bot;
pub mod channel_names;
pub mod commands;
pub mod connections;
pub mod events;
pub mod limits;
pub mod readiness;
pub mod replies;
pub mod server;
pub mod signature;
pub mod socket_mode;

pub use crate::config::{ConfigError, Settings};
pub use readiness::Readiness;
pub use server::{build, build_with, App};
