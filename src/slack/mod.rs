//! The Slack bot: signed HTTP requests and Socket Mode, acks, posts and threads.
//! It holds no diagnosis logic.
