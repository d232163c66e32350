//! The Slack bot: signed HTTP requests and Socket Mode, acks, posts and threads.
//! It holds no diagnosis logic.
//!
//! Parsing is separate from applying: `commands`, `actions` and `events` turn Slack's
//! payloads (slack-morphism's typed events, read from HTTP bodies or handed over in
//! Socket Mode, through one conversion each) into plain requests, and `ask` holds the bot's own request types; `bot` applies them (ack now,
//! work in the background) and `replies` words what people are told; `post` talks to
//! the Web API; `server` (behind the `signature` middleware) and `socket_mode` are the
//! two ways in, both reporting to `readiness`; `limits` keeps storms cheap; `engine` is
//! the bot's handle on diagnosis, `aws_engine` the production one.
//! `main.rs` calls [`serve`] with [`Settings::from_env`].

pub mod actions;
pub mod ask;
pub mod aws_engine;
pub mod bot;
pub mod channel_names;
pub mod commands;
pub mod config;
pub mod connections;
pub mod engine;
pub mod events;
pub mod limits;
pub mod post;
pub mod readiness;
pub mod replies;
pub mod server;
pub mod signature;
pub mod socket_mode;

pub use config::{ConfigError, Settings};
pub use engine::{Answer, Engine, EngineError, EngineErrorKind};
pub use readiness::Readiness;
pub use server::{build, build_with_engine, serve, App};
