//! The Slack bot: signed HTTP requests and Socket Mode, acks, posts and threads.
//! It holds no diagnosis logic.
//!
//! Parsing is separate from applying: `commands`, `actions` and `events` turn Slack's
//! payloads into plain requests; `bot` applies them (ack now, work in the background);
//! `post` talks to the Web API; `server` and `socket_mode` are the two ways in.
//! `main.rs` calls [`serve`] with [`Settings::from_env`].

pub mod actions;
pub mod ask;
pub mod aws_engine;
pub mod bot;
pub mod commands;
pub mod config;
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
