//! The bot's own requests, whatever way they came in: [`Words`] typed to the bot (a
//! slash command or an @mention, over HTTP or Socket Mode) and the [`Ask`] they become
//! once they name a task (the "Re-run" button makes one too), plus the keys that let
//! askers share work: [`DiagnosisKey`] and [`CardKey`].
//!
//! Keys are facts (the target, the role, the channel and thread, the diagnosed task's
//! ARN), never generated text.

use super::actions::ButtonPress;
use super::commands::SlashCommand;
use super::events::Mention;
use crate::investigate::Access;
use crate::task_ref::{Target, TaskRef};

/// Words addressed to the bot, with who typed them and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    /// The words after `/ecs`, or after the leading @mention.
    pub text: String,
    pub asker: Asker,
    /// The channel's name when Slack sent it (slash commands do): channel defaults may
    /// be keyed by name.
    pub channel_name: Option<String>,
}

/// Who asked, where the answer goes, and how to reach them privately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker {
    pub user: String,
    pub channel: String,
    /// The thread answers go in (mentions, buttons on a card); `None`: the channel.
    pub thread: Option<String>,
    /// The command's or button's `response_url`; without one, private replies are
    /// `chat.postEphemeral` messages.
    pub response_url: Option<String>,
}

/// A request to diagnose a target, ready to route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// With the channel's default cluster and region applied.
    pub target: Target,
    /// Whose credentials read the target (the task's account, else the channel).
    pub access: Access,
    pub asker: Asker,
    pub reply_to: ReplyTo,
}

/// Where the diagnosis goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyTo {
    /// A new card in the asker's channel (or thread), its details in the card's thread;
    /// shared with everyone asking about the same task there at the same time.
    NewCard,
    /// The card a "Re-run" button sits on, updated in place (`None`: Slack did not say
    /// which message that is).
    SameCard { ts: Option<String> },
}

impl From<SlashCommand> for Words {
    fn from(command: SlashCommand) -> Words {
        Words {
            text: command.text,
            asker: Asker {
                user: command.user_id,
                channel: command.channel_id,
                thread: None,
                response_url: command.response_url,
            },
            channel_name: command.channel_name,
        }
    }
}

impl From<Mention> for Words {
    /// The words after the mention; answers go in the mention's thread (or start one
    /// under it). A mention has no `response_url`.
    fn from(mention: Mention) -> Words {
        let thread = mention.reply_thread().to_string();
        Words {
            text: super::commands::strip_mentions(&mention.text).to_string(),
            asker: Asker {
                user: mention.user_id,
                channel: mention.channel_id,
                thread: Some(thread),
                response_url: None,
            },
            channel_name: None,
        }
    }
}

impl From<&ButtonPress> for Asker {
    /// Whoever pressed, on the card's channel and thread.
    fn from(press: &ButtonPress) -> Asker {
        Asker {
            user: press.user_id.clone(),
            channel: press.channel_id.clone().unwrap_or_default(),
            thread: press.thread_ts.clone(),
            response_url: press.response_url.clone(),
        }
    }
}

/// Identical requests share one diagnosis: the same target, asked with the same role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiagnosisKey {
    task: TaskKey,
    cluster: Option<String>,
    region: Option<String>,
    account: Option<String>,
    role_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TaskKey {
    Task(String),
    Service(String),
}

impl DiagnosisKey {
    pub fn new(target: &Target, role_arn: Option<&str>) -> DiagnosisKey {
        DiagnosisKey {
            task: match &target.task {
                TaskRef::Task { task_id } => TaskKey::Task(task_id.clone()),
                TaskRef::Service { service } => TaskKey::Service(service.clone()),
            },
            cluster: target.cluster.clone(),
            region: target.region.clone(),
            account: target.account.clone(),
            role_arn: role_arn.map(str::to_string),
        }
    }
}

/// One card per task per place: the channel, the thread (mentions), and what the card
/// is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CardKey {
    pub channel: String,
    pub thread: Option<String>,
    pub subject: CardSubject,
}

/// What a card is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CardSubject {
    /// The diagnosed task's ARN (a service target resolves to one of its tasks).
    Task(String),
    /// The engine named no task: the request itself.
    Request(DiagnosisKey),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_commands_and_mentions_make_the_same_words() {
        let command = SlashCommand {
            team_id: "T1".into(),
            channel_id: "C1".into(),
            channel_name: Some("ops".into()),
            user_id: "U1".into(),
            command: "/ecs".into(),
            text: "why x".into(),
            response_url: Some("https://hooks.slack.com/x".into()),
        };
        let words = Words::from(command);
        assert_eq!(words.text, "why x");
        assert_eq!(words.asker.thread, None);
        assert_eq!(words.channel_name.as_deref(), Some("ops"));

        let mention = Mention {
            user_id: "U1".into(),
            channel_id: "C1".into(),
            text: "<@UBOT> why x".into(),
            ts: "2.0".into(),
            thread_ts: None,
        };
        let words = Words::from(mention);
        assert_eq!(words.text, "why x");
        assert_eq!(words.asker.thread.as_deref(), Some("2.0"));
        assert_eq!(words.asker.response_url, None);
    }

    #[test]
    fn diagnosis_keys_are_facts() {
        let a = Target::parse("0123456789abcdef0123456789abcdef", Some("prod"), None).unwrap();
        let b = Target::parse("0123456789abcdef0123456789abcdef", Some("dev"), None).unwrap();
        assert_eq!(DiagnosisKey::new(&a, None), DiagnosisKey::new(&a, None));
        assert_ne!(DiagnosisKey::new(&a, None), DiagnosisKey::new(&b, None));
        assert_ne!(
            DiagnosisKey::new(&a, None),
            DiagnosisKey::new(&a, Some("arn:aws:iam::1:role/r"))
        );
    }
}
