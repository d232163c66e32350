//! What the bot tells people, and what became of each request.
//!
//! Every message here is mrkdwn with untrusted parts (targets, AWS messages, links)
//! escaped. Failures name the cause and the fix. [`Outcome`] is the label a request is
//! counted under in [`crate::metrics`].

use super::ask::Asker;
use super::commands;
use crate::investigate::{ErrorKind, InvestigateError};
use crate::render::escape::mrkdwn;
use crate::task_ref::{Target, TaskRef};
use slack_morphism::prelude::SlackMessageContent;
use std::time::Duration;

/// What the bot tells someone who is not a member of the channel it answers in.
pub const INVITE_HINT: &str = "I am not a member of this channel, so I answered through your command instead of posting a threaded card. Invite me with `/invite @ecs-why` to get the log tail, who stopped the task and the follow-up buttons in a thread.";

/// What a command gets while the bot is stopping.
pub const RESTARTING: &str =
    ":arrows_counterclockwise: ecs-why is restarting; ask again in a few seconds.";

/// A mention in a channel that may be mapped by name, whose name could not be found.
pub fn unnamed_channel(channel_id: &str, problem: &str) -> String {
    format!(
        ":warning: I could not tell whether this channel is mapped in ECS_WHY_CONFIG ({}), \
         so I did not look, rather than use the wrong account. Map it by id \
         (`[channels.{}]`), or reinstall the app from manifest.yml so that it has the \
         `channels:read` and `groups:read` scopes, or use `/ecs why`.",
        mrkdwn(problem),
        mrkdwn(channel_id)
    )
}

/// What became of a request: its metrics label (`snake_case` of the variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    /// The usage message.
    Help,
    /// Words, a reference or a button the bot cannot use.
    BadInput,
    /// The asker is over their per-minute allowance.
    RateLimited,
    /// The bot is stopping; the asker was told to ask again.
    ShuttingDown,
    /// The card (or follow-up) was posted.
    Answered,
    /// The bot is not in the channel: the card went through `response_url`.
    AnsweredViaResponseUrl,
    /// Someone else's card for the same task was just posted there: pointed at it.
    PointedToCard,
    /// The bot is not in the channel and there was no `response_url` to answer through.
    NotInChannel,
    /// Slack refused the post.
    PostFailed,
    /// AWS failed or refused.
    AwsError,
    /// A link button (Open in console): nothing to do.
    Link,
}

impl Outcome {
    /// The metrics label.
    pub fn label(self) -> &'static str {
        self.into()
    }

    /// The outcome of a failed diagnosis or follow-up.
    pub fn of_error(e: &InvestigateError) -> Outcome {
        match e.kind {
            ErrorKind::BadInput | ErrorKind::TaskMissing => Outcome::BadInput,
            ErrorKind::AccessDenied | ErrorKind::Aws => Outcome::AwsError,
            ErrorKind::ShuttingDown => Outcome::ShuttingDown,
        }
    }
}

/// Plain mrkdwn message.
pub fn text(message: impl Into<String>) -> SlackMessageContent {
    SlackMessageContent::new().with_text(message.into())
}

/// Words that make no command: what was wrong, then the usage.
pub fn invalid(problem: &str) -> String {
    format!(":warning: {}\n\n{}", mrkdwn(problem), commands::usage())
}

/// The immediate answer to a `why`: the diagnosis is on its way.
pub fn looking_at(target: &Target) -> String {
    format!("Looking at {}…", mrkdwn(&target.to_string()))
}

/// The asker's ephemeral message for a failed diagnosis: the cause and the fix.
pub fn failure_message(target: &Target, e: &InvestigateError) -> String {
    let what = mrkdwn(&target.to_string()).into_owned();
    let message = mrkdwn(&e.message);
    match e.kind {
        ErrorKind::BadInput => format!(":warning: I cannot look at {what}: {message}"),
        ErrorKind::TaskMissing => {
            let hint = match &target.task {
                TaskRef::Task { .. } if target.cluster.is_none() => {
                    " Name the cluster: `/ecs why TASK CLUSTER`."
                }
                _ => "",
            };
            format!(":mag: {message}{hint}")
        }
        ErrorKind::AccessDenied => {
            format!(":lock: I am not allowed to read {what}: {message}")
        }
        ErrorKind::Aws => format!(":warning: AWS did not answer for {what}: {message}"),
        ErrorKind::ShuttingDown => {
            format!(":arrows_counterclockwise: I did not look at {what}: {message}")
        }
    }
}

/// A failure with no target to name (a button whose reference is unusable).
pub fn warning(message: &str) -> String {
    format!(":warning: {}", mrkdwn(message))
}

/// The ephemeral pointer for someone whose question was answered by a card just posted
/// in the same place: a link to it when Slack gave one, plain words otherwise.
pub fn pointer(target: &Target, asker: &Asker, permalink: Option<&str>) -> String {
    let place = if asker.thread.is_some() {
        "thread"
    } else {
        "channel"
    };
    let what = mrkdwn(&target.to_string()).into_owned();
    let above = format!("answered just above in this {place}");
    let above = match permalink {
        Some(link) => format!("<{}|{above}>", mrkdwn(link)),
        None => above,
    };
    format!(":point_up: Someone here asked about {what} a moment ago: {above}. The card's thread has the log tail, who stopped it and the task definition.")
}

/// Over the per-user limit: how long to wait.
pub fn slow_down(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    format!(":hourglass: You have asked a lot in the last minute; please wait {secs} s and ask again. The answers to your earlier questions are on their way.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_under_their_old_labels() {
        for (outcome, label) in [
            (Outcome::Help, "help"),
            (Outcome::BadInput, "bad_input"),
            (Outcome::RateLimited, "rate_limited"),
            (Outcome::ShuttingDown, "shutting_down"),
            (Outcome::Answered, "answered"),
            (Outcome::AnsweredViaResponseUrl, "answered_via_response_url"),
            (Outcome::PointedToCard, "pointed_to_card"),
            (Outcome::NotInChannel, "not_in_channel"),
            (Outcome::PostFailed, "post_failed"),
            (Outcome::AwsError, "aws_error"),
            (Outcome::Link, "link"),
        ] {
            assert_eq!(outcome.label(), label);
        }
    }

    #[test]
    fn a_shutdown_is_not_reported_as_aws_failing() {
        let target = Target::parse("0123456789abcdef0123456789abcdef", Some("prod"), None)
            .expect("a task id");
        let e = InvestigateError {
            kind: ErrorKind::ShuttingDown,
            message: "the bot is shutting down; ask again in a minute".into(),
        };
        let message = failure_message(&target, &e);
        assert!(!message.contains("AWS did not answer"), "{message}");
        assert!(message.contains("shutting down; ask again"), "{message}");
        assert_eq!(Outcome::of_error(&e), Outcome::ShuttingDown);
    }

    #[test]
    fn untrusted_parts_are_escaped() {
        let target = Target::parse("my-service", Some("prod"), None).expect("a service");
        let asker = Asker {
            user: "U1".into(),
            channel: "C1".into(),
            thread: None,
            response_url: None,
        };
        let message = pointer(&target, &asker, Some("https://x.slack.com/a?b=1&c=<2>"));
        assert!(message.contains("&amp;c=&lt;2&gt;"), "{message}");
        assert!(warning("<!channel>").contains("&lt;!channel&gt;"));
    }
}
