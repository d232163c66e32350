//! ecs: to be written.
