//! Applying what Slack asked: ack at once, then diagnose and post in the background.
//!
//! The HTTP routes and Socket Mode both call [`Bot::command`], [`Bot::interaction`] and
//! [`Bot::event`] with parsed requests and send back the returned ack. Everything slow
//! (AWS, Slack posts) runs in a spawned job that is counted in [`InFlight`], bounded by a
//! semaphore, coalesced per target and rate-limited per user.

use super::actions::{ButtonPress, Interaction};
use super::commands::{self, escape, Command, SlashCommand};
use super::config::Settings;
use super::engine::{self, Answer, Engine, EngineError, FailureKind};
use super::events::{Delivery, Mention};
use super::limits::{Coalescer, InFlight, RateLimiter, Seen};
use super::post::{PostError, Poster};
use crate::follow_up::FollowUp;
use crate::task_ref::{Target, TaskRef};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackMessageContent;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

type Diagnosed = Result<Arc<Answer>, EngineError>;

/// What the bot tells someone who is not a member of the channel it answers in.
pub const INVITE_HINT: &str = "I am not a member of this channel, so I answered through your command instead of posting a threaded card. Invite me with `/invite @ecs-why` to get the log tail, who stopped the task and the follow-up buttons in a thread.";

/// The bot: settings, the engine, the Slack client and the storm limits.
pub struct Bot {
    settings: Arc<Settings>,
    engine: Arc<dyn Engine>,
    poster: Poster,
    permits: Arc<Semaphore>,
    diagnoses: Coalescer<String, Diagnosed>,
    users: RateLimiter,
    seen_events: Seen,
    in_flight: InFlight,
}

/// Where an answer goes and who asked.
#[derive(Debug, Clone)]
struct Reply {
    channel: String,
    /// Post the card in this thread (mentions); `None` posts it in the channel.
    thread_ts: Option<String>,
    user: String,
    response_url: Option<String>,
}

/// Plain mrkdwn message.
pub fn text(message: impl Into<String>) -> SlackMessageContent {
    SlackMessageContent::new().with_text(message.into())
}

fn ephemeral_ack(message: impl Into<String>) -> Value {
    json!({"response_type": "ephemeral", "text": message.into()})
}

impl Bot {
    pub fn new(settings: Arc<Settings>, engine: Arc<dyn Engine>, poster: Poster) -> Bot {
        let limits = &settings.limits;
        Bot {
            permits: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            diagnoses: Coalescer::new(limits.coalesce_window),
            users: RateLimiter::new(limits.per_user_per_minute, Duration::from_secs(60)),
            seen_events: Seen::new(Duration::from_secs(3600)),
            in_flight: InFlight::default(),
            settings,
            engine,
            poster,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn poster(&self) -> &Poster {
        &self.poster
    }

    /// Background jobs still running (for graceful shutdown).
    pub fn in_flight(&self) -> InFlight {
        self.in_flight.clone()
    }

    /// A slash command: returns the ack body (an ephemeral message to the asker).
    pub fn command(self: &Arc<Self>, request: SlashCommand) -> Value {
        match commands::parse(&request.text) {
            Command::Help => ephemeral_ack(commands::usage()),
            Command::Invalid(problem) => ephemeral_ack(format!(
                ":warning: {}\n\n{}",
                escape(&problem),
                commands::usage()
            )),
            Command::Why(target) => {
                if let Err(wait) = self.users.check(&request.user_id) {
                    return ephemeral_ack(slow_down(wait));
                }
                let defaults = self
                    .settings
                    .defaults_for(&request.channel_id, request.channel_name.as_deref());
                let target =
                    target.with_defaults(defaults.cluster.as_deref(), defaults.region.as_deref());
                let ack = ephemeral_ack(format!("Looking at {}…", escape(&target.to_string())));
                let reply = Reply {
                    channel: request.channel_id,
                    thread_ts: None,
                    user: request.user_id,
                    response_url: request.response_url,
                };
                self.spawn(self.clone().answer(reply, target, defaults.role_arn));
                ack
            }
        }
    }

    /// A button press or other interaction: the ack body, if any (empty 200 otherwise).
    pub fn interaction(self: &Arc<Self>, interaction: Interaction) -> Option<Value> {
        let Interaction::Button(press) = interaction else {
            return None;
        };
        let bot = self.clone();
        match press.request.clone() {
            Err(_) if press.is_link => {}
            Ok((FollowUp::OpenConsole, _)) => {}
            Err(problem) => {
                self.spawn(async move {
                    bot.tell_presser(
                        &press,
                        &format!(
                            ":warning: That button could not be used: {}",
                            escape(&problem)
                        ),
                    )
                    .await;
                });
            }
            Ok((kind, button)) => {
                if let Err(wait) = self.users.check(&press.user_id) {
                    self.spawn(async move { bot.tell_presser(&press, &slow_down(wait)).await });
                    return None;
                }
                self.spawn(async move { bot.follow_up(*press, kind, button).await });
            }
        }
        None
    }

    /// An Events API delivery: the ack body (the challenge for `url_verification`).
    /// `retry` is `X-Slack-Retry-Num`, for the logs; repeats are recognised by event id.
    pub fn event(self: &Arc<Self>, delivery: Delivery, retry: Option<u32>) -> Value {
        match delivery {
            Delivery::UrlVerification { challenge } => json!({ "challenge": challenge }),
            Delivery::Ignored(_) => json!({}),
            Delivery::Mention { event_id, mention } => {
                if !self.seen_events.first_time(&event_id) {
                    tracing::info!(
                        event_id,
                        ?retry,
                        "event already handled; ignoring the retry"
                    );
                    return json!({});
                }
                self.mention(mention);
                json!({})
            }
        }
    }

    fn mention(self: &Arc<Self>, mention: Mention) {
        let bot = self.clone();
        let thread = mention.reply_thread().to_string();
        let tell = |message: String| {
            let bot = bot.clone();
            let mention = mention.clone();
            let thread = thread.clone();
            async move {
                if let Err(e) = bot
                    .poster
                    .post_ephemeral(
                        &mention.channel_id,
                        &mention.user_id,
                        Some(&thread),
                        &text(message),
                    )
                    .await
                {
                    tracing::warn!(error = %e, "could not answer a mention");
                }
            }
        };
        match commands::parse(commands::strip_mentions(&mention.text)) {
            Command::Help => self.spawn(tell(commands::usage())),
            Command::Invalid(problem) => self.spawn(tell(format!(
                ":warning: {}\n\n{}",
                escape(&problem),
                commands::usage()
            ))),
            Command::Why(target) => {
                if let Err(wait) = self.users.check(&mention.user_id) {
                    self.spawn(tell(slow_down(wait)));
                    return;
                }
                let defaults = self.settings.defaults_for(&mention.channel_id, None);
                let target =
                    target.with_defaults(defaults.cluster.as_deref(), defaults.region.as_deref());
                let reply = Reply {
                    channel: mention.channel_id.clone(),
                    thread_ts: Some(thread.clone()),
                    user: mention.user_id.clone(),
                    response_url: None,
                };
                let looking = tell(format!("Looking at {}…", escape(&target.to_string())));
                self.spawn(async move {
                    let answer = bot.clone().answer(reply, target, defaults.role_arn);
                    tokio::join!(looking, answer);
                });
            }
        }
    }

    fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        let guard = self.in_flight.start();
        tokio::spawn(async move {
            job.await;
            drop(guard);
        });
    }

    /// Diagnose once per target per window, with a bound on AWS work in flight.
    async fn diagnose(&self, target: &Target, role_arn: Option<String>) -> Diagnosed {
        let key = format!("{target:?}|{role_arn:?}");
        let engine = self.engine.clone();
        let permits = self.permits.clone();
        let target = target.clone();
        let (shared, _) = self.diagnoses.get(key, move || async move {
            let _permit = permits.acquire_owned().await.map_err(|_| EngineError {
                kind: FailureKind::Aws,
                message: "the bot is shutting down; ask again in a minute".into(),
            })?;
            engine
                .diagnose(&target, role_arn.as_deref())
                .await
                .map(Arc::new)
        });
        shared.await
    }

    /// Post the card (channel or thread), then the details in its thread.
    async fn answer(self: Arc<Self>, reply: Reply, target: Target, role_arn: Option<String>) {
        let answer = match self.diagnose(&target, role_arn).await {
            Ok(answer) => answer,
            Err(e) => return self.tell_asker(&reply, &failure_message(&target, &e)).await,
        };
        let posted = self
            .poster
            .post_message(&reply.channel, reply.thread_ts.as_deref(), &answer.card)
            .await;
        let thread = match posted {
            Ok(ts) => reply.thread_ts.clone().unwrap_or(ts),
            Err(PostError::NotInChannel(_)) => return self.answer_outside(&reply, &answer).await,
            Err(e) => {
                tracing::warn!(error = %e, "could not post the card");
                return self
                    .tell_asker(
                        &reply,
                        &format!(
                            ":warning: I diagnosed it but could not post the card: {}",
                            escape(&e.to_string())
                        ),
                    )
                    .await;
            }
        };
        for detail in &answer.details {
            if let Err(e) = self
                .poster
                .post_message(&reply.channel, Some(&thread), detail)
                .await
            {
                tracing::warn!(error = %e, "could not post a thread reply");
            }
        }
    }

    /// The bot is not in the channel: the card through `response_url`, for everyone.
    async fn answer_outside(&self, reply: &Reply, answer: &Answer) {
        let Some(url) = &reply.response_url else {
            tracing::warn!(
                channel = reply.channel,
                "not in the channel and no response_url to answer through"
            );
            return;
        };
        if let Err(e) = self.poster.respond(url, &answer.card, true).await {
            tracing::warn!(error = %e, "could not answer through response_url");
            return;
        }
        if let Err(e) = self.poster.respond(url, &text(INVITE_HINT), false).await {
            tracing::warn!(error = %e, "could not send the invite hint");
        }
    }

    /// An ephemeral message to the asker: via response_url when there is one.
    async fn tell_asker(&self, reply: &Reply, message: &str) {
        let content = text(message);
        let result = match &reply.response_url {
            Some(url) => self.poster.respond(url, &content, false).await,
            None => {
                self.poster
                    .post_ephemeral(
                        &reply.channel,
                        &reply.user,
                        reply.thread_ts.as_deref(),
                        &content,
                    )
                    .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not tell the asker");
        }
    }

    async fn tell_presser(&self, press: &ButtonPress, message: &str) {
        let reply = Reply {
            channel: press.channel_id.clone().unwrap_or_default(),
            thread_ts: press.thread_ts.clone(),
            user: press.user_id.clone(),
            response_url: press.response_url.clone(),
        };
        self.tell_asker(&reply, message).await;
    }

    async fn follow_up(
        &self,
        press: ButtonPress,
        kind: FollowUp,
        button: crate::follow_up::ButtonRef,
    ) {
        let channel = press.channel_id.clone().unwrap_or_default();
        let role_arn = self.settings.defaults_for(&channel, None).role_arn;
        if kind == FollowUp::Rerun {
            let target = match engine::target_of(&button) {
                Ok(t) => t,
                Err(e) => {
                    return self
                        .tell_presser(&press, &format!(":warning: {}", escape(&e.message)))
                        .await
                }
            };
            let answer = match self.diagnose(&target, role_arn).await {
                Ok(a) => a,
                Err(e) => {
                    return self
                        .tell_presser(&press, &failure_message(&target, &e))
                        .await
                }
            };
            let Some(ts) = press.message_ts.as_deref() else {
                return self
                    .tell_presser(
                        &press,
                        ":warning: Slack did not say which card to update; run `/ecs why` again",
                    )
                    .await;
            };
            match self.poster.update(&channel, ts, &answer.card).await {
                Ok(()) => {}
                Err(PostError::NotInChannel(_)) if press.response_url.is_some() => {
                    let url = press.response_url.as_deref().unwrap_or_default();
                    if let Err(e) = self.poster.respond(url, &answer.card, true).await {
                        tracing::warn!(error = %e, "could not answer a re-run through response_url");
                    }
                }
                Err(e) => {
                    self.tell_presser(
                        &press,
                        &format!(
                            ":warning: Could not update the card: {}",
                            escape(&e.to_string())
                        ),
                    )
                    .await
                }
            }
            return;
        }
        let messages = {
            let permit = self.permits.clone().acquire_owned().await;
            let result = self
                .engine
                .follow_up(kind, &button, role_arn.as_deref())
                .await;
            drop(permit);
            result
        };
        let messages = match messages {
            Ok(m) => m,
            Err(e) => {
                let target = engine::target_of(&button).ok();
                let message = match target {
                    Some(t) => failure_message(&t, &e),
                    None => format!(":warning: {}", escape(&e.message)),
                };
                return self.tell_presser(&press, &message).await;
            }
        };
        for message in &messages {
            let posted = self
                .poster
                .post_message(&channel, press.thread_ts.as_deref(), message)
                .await;
            match posted {
                Ok(_) => {}
                Err(PostError::NotInChannel(_)) if press.response_url.is_some() => {
                    let url = press.response_url.as_deref().unwrap_or_default();
                    if let Err(e) = self.poster.respond(url, message, true).await {
                        tracing::warn!(error = %e, "could not answer a button through response_url");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not post a follow-up");
                    return self
                        .tell_presser(
                            &press,
                            &format!(
                                ":warning: Could not post the answer: {}",
                                escape(&e.to_string())
                            ),
                        )
                        .await;
                }
            }
        }
    }
}

/// The asker's ephemeral message for a failed diagnosis: the cause and the fix.
pub fn failure_message(target: &Target, e: &EngineError) -> String {
    let what = escape(&target.to_string());
    let message = escape(&e.message);
    match e.kind {
        FailureKind::BadInput => format!(":warning: I cannot look at {what}: {message}"),
        FailureKind::TaskMissing => {
            let hint = match &target.task {
                TaskRef::Task { .. } if target.cluster.is_none() => {
                    " Name the cluster: `/ecs why TASK CLUSTER`."
                }
                _ => "",
            };
            format!(":mag: {message}{hint}")
        }
        FailureKind::AccessDenied => format!(":lock: I am not allowed to read {what}: {message}"),
        FailureKind::Aws => format!(":warning: AWS did not answer for {what}: {message}"),
    }
}

fn slow_down(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    format!(":hourglass: You have asked a lot in the last minute; please wait {secs} s and ask again. The answers to your earlier questions are on their way.")
}
