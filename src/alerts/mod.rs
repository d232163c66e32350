//! Alerts: stopped tasks announced in on-call channels without anyone asking.
//!
//! EventBridge puts every "ECS Task State Change" event with `lastStatus = STOPPED`, and
//! the services' "ECS Service Action" and "ECS Deployment State Change" events, on an
//! SQS queue (`ECS_WHY_EVENTS_QUEUE_URL`). [`consumer`] long-polls it; [`event`] reads
//! each message; [`announce`] investigates the task (from the event: no DescribeTasks)
//! as any ask is ([`crate::investigate`]), matches the `[[alerts]]` routes
//! ([`crate::config::routes`]), and counts the stop in its incident
//! ([`crate::incidents`]) in the shared state ([`crate::state`]): the first stop posts
//! the card as the parent, later ones become lines in its thread and update the
//! parent's count. [`outbox`] paces the posts per channel (Slack allows about one
//! message a second per channel) and batches thread lines, so a storm is delayed, never
//! dropped. [`lifecycle`] applies a service's events to its open incidents: steady again
//! closes them as recovered, edited in place; a failed deployment shows in them.
//! [`sweeper`] escalates incidents nobody acknowledged, says when one went quiet, and
//! posts each route's [`digest`] once a day. A
//! message is deleted only once its outcome is recorded.

pub mod announce;
pub mod consumer;
pub mod digest;
pub mod event;
pub mod lifecycle;
pub mod outbox;
pub mod sweeper;
pub mod unplaced;
