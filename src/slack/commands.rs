//! Parsing `/ecs` slash commands and the words of an @mention.
//!
//! Two steps, both pure: [`SlashCommand`] is the request Slack sent (slack-morphism's
//! typed event, read from form fields over HTTP or handed over in Socket Mode), and [`Command`] is what the
//! words ask for, with the task reference already parsed into a [`Target`]. Applying a
//! command (acking, diagnosing, posting) happens in `bot.rs`.

use crate::task_ref::{Target, TaskRef};
use slack_morphism::prelude::SlackCommandEvent;

/// Longest command text looked at; beyond it the answer is "too long" without parsing.
pub const MAX_TEXT: usize = 3000;

/// The fields of a slash-command request that the bot uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashCommand {
    pub team_id: String,
    pub channel_id: String,
    pub channel_name: Option<String>,
    pub user_id: String,
    pub command: String,
    pub text: String,
    pub response_url: Option<String>,
}

/// Why a request body could not be read as the Slack payload expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Slack payload: {0}")]
pub struct PayloadError(pub String);

impl SlashCommand {
    /// From an HTTP form body (`application/x-www-form-urlencoded`), read into
    /// slack-morphism's [`SlackCommandEvent`] (the type Socket Mode hands over) and
    /// converted the same way. slack-morphism's own HTTP listener splits the form with
    /// `url::form_urlencoded` too, but builds the event field by field and drops
    /// `channel_name`; deserializing the whole form keeps it.
    pub fn from_form(body: &[u8]) -> Result<SlashCommand, PayloadError> {
        let fields: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
            .collect();
        let event: SlackCommandEvent = serde_json::from_value(serde_json::Value::Object(fields))
            .map_err(|e| PayloadError(e.to_string()))?;
        Ok(SlashCommand::from(event))
    }
}

impl From<SlackCommandEvent> for SlashCommand {
    /// The typed command, as slack-morphism hands it over in Socket Mode or as read
    /// from an HTTP form by [`SlashCommand::from_form`].
    fn from(event: SlackCommandEvent) -> SlashCommand {
        SlashCommand {
            team_id: event.team_id.to_string(),
            channel_id: event.channel_id.to_string(),
            channel_name: event.channel_name,
            user_id: event.user_id.to_string(),
            command: event.command.to_string(),
            text: event.text.unwrap_or_default(),
            response_url: Some(event.response_url.0.to_string()),
        }
    }
}

/// What the words ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help`, or nothing at all.
    Help,
    /// `why TASK [CLUSTER] [REGION]`, reference parsed (channel defaults not yet applied).
    Why(Target),
    /// Words that do not make a command; the text says what was wrong (not escaped).
    Invalid(String),
}

/// Parse the text after `/ecs` (or after the bot's @mention). Slack sends `&`, `<` and
/// `>` escaped; they are unescaped first so pasted console URLs keep their query.
pub fn parse(text: &str) -> Command {
    let text = &unescape(text);
    let length = text.chars().count();
    if length > MAX_TEXT {
        return Command::Invalid(format!(
            "that is {length} characters; paste one task ARN, task id, console URL or service name"
        ));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((first, rest)) = words.split_first() else {
        return Command::Help;
    };
    match first.to_ascii_lowercase().as_str() {
        "help" | "-h" | "--help" | "?" => Command::Help,
        "why" => why(rest),
        _ => {
            // A pasted ARN, id or console URL with no verb means "why".
            match Target::parse(first, None, None) {
                Ok(Target {
                    task: TaskRef::Task { .. },
                    ..
                }) => why(&words),
                _ => Command::Invalid(format!(
                    "`{}` is not a command",
                    crate::text::truncate(first, 41)
                )),
            }
        }
    }
}

fn why(args: &[&str]) -> Command {
    let (reference, cluster, region) = match args {
        [] => {
            return Command::Invalid(
                "`why` needs a task: a task ARN, task id, ECS console URL or service name".into(),
            )
        }
        [task] => (*task, None, None),
        // `why TASK REGION` is allowed when the second word is clearly a region.
        [task, second] if crate::task_ref::is_region(second) => (*task, None, Some(*second)),
        [task, cluster] => (*task, Some(*cluster), None),
        [task, cluster, region] => (*task, Some(*cluster), Some(*region)),
        _ => {
            return Command::Invalid(format!(
                "too many words ({}); expected `why TASK [CLUSTER] [REGION]`",
                args.len()
            ))
        }
    };
    match Target::parse(reference, cluster, region) {
        Ok(target) => Command::Why(target),
        Err(e) => Command::Invalid(e.to_string()),
    }
}

/// Strip the leading `<@U…>` mention(s) from an `app_mention` text.
pub fn strip_mentions(text: &str) -> &str {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix("<@") {
        match after.find('>') {
            Some(end) => rest = after[end + 1..].trim_start(),
            None => break,
        }
    }
    rest
}

/// The usage reply: mrkdwn, no user input in it.
pub fn usage() -> String {
    [
        "*ecs-why* explains why an ECS task stopped.",
        "`/ecs why TASK [CLUSTER] [REGION]`: the cause, the evidence and the fix, posted in this channel.",
        "TASK is a task ARN, a task id, an ECS console URL, or a service name (its newest stopped task).",
        "In a thread, mention me instead: `@ecs-why why TASK`.",
        "`/ecs help`: this message.",
    ]
    .join("\n")
}

/// Undo Slack's escaping of `&`, `<` and `>` in message and command text.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn help_and_nothing() {
        assert_eq!(parse(""), Command::Help);
        assert_eq!(parse("  help "), Command::Help);
        assert_eq!(parse("HELP"), Command::Help);
    }

    #[test]
    fn why_with_cluster_and_region() {
        let Command::Why(t) = parse(&format!("why {ID} prod eu-west-1")) else {
            panic!()
        };
        assert_eq!(t.cluster.as_deref(), Some("prod"));
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        let Command::Why(t) = parse(&format!("why {ID} eu-west-1")) else {
            panic!()
        };
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        assert_eq!(t.cluster, None);
    }

    #[test]
    fn bare_arn_means_why() {
        let arn = format!("arn:aws:ecs:eu-west-1:123456789012:task/prod/{ID}");
        assert!(matches!(parse(&arn), Command::Why(_)));
    }

    #[test]
    fn bad_input_is_explained() {
        assert!(matches!(parse("why"), Command::Invalid(m) if m.contains("needs a task")));
        assert!(matches!(parse("frobnicate"), Command::Invalid(m) if m.contains("not a command")));
        assert!(matches!(parse("why !!!"), Command::Invalid(m) if m.contains("is not a task ARN")));
        assert!(
            matches!(parse(&"a".repeat(5000)), Command::Invalid(m) if m.contains("5000 characters"))
        );
        assert!(
            matches!(parse("why a b c d"), Command::Invalid(m) if m.contains("too many words"))
        );
        assert!(
            matches!(parse(&format!("why {}", "a".repeat(2500))), Command::Invalid(m) if m.contains("too long"))
        );
    }

    #[test]
    fn slack_escaped_console_urls() {
        let url = format!("&lt;https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/{ID}/configuration?region=eu-west-1&amp;selectedContainer=web&gt;");
        let Command::Why(t) = parse(&format!("why {url}")) else {
            panic!()
        };
        assert_eq!(t.region.as_deref(), Some("eu-west-1"));
        assert_eq!(t.cluster.as_deref(), Some("prod"));
    }

    #[test]
    fn mentions_are_stripped() {
        assert_eq!(strip_mentions("<@U123> why x"), "why x");
        assert_eq!(strip_mentions(" <@U1> <@U2>  help"), "help");
        assert_eq!(strip_mentions("why x"), "why x");
    }

    #[test]
    fn escapes_mrkdwn() {
        // The bot escapes with the renderer's mrkdwn escaping, the same for cards.
        assert_eq!(
            crate::render::escape::mrkdwn("<!channel> & <@U1>"),
            "&lt;!channel&gt; &amp; &lt;@U1&gt;"
        );
    }

    #[test]
    fn form_bodies() {
        let c = SlashCommand::from_form(
            b"team_id=T1&channel_id=C1&channel_name=ops&user_id=U1&command=%2Fecs&text=why+abc&response_url=https%3A%2F%2Fhooks.slack.com%2Fx&trigger_id=1.2.3",
        )
        .unwrap();
        assert_eq!(c.text, "why abc");
        assert_eq!(c.channel_name.as_deref(), Some("ops"));
        assert_eq!(c.response_url.as_deref(), Some("https://hooks.slack.com/x"));
        assert!(SlashCommand::from_form(b"text=why").is_err());
    }
}
