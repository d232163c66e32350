//! Applying what Slack asked: ack at once, then diagnose and post in the background.
//!
//! The HTTP routes and Socket Mode both call [`Bot::command`], [`Bot::interaction`] and
//! [`Bot::event`] with parsed requests and send back the returned ack. Everything slow
//! (AWS, Slack posts) runs in a job spawned through [`Shutdown`] (so SIGTERM drains it),
//! inside a request span, bounded by a semaphore, coalesced per target and rate-limited
//! per user. Outcomes are counted in [`crate::metrics`].
//!
//! In an incident storm many people ask about the same task at once. The diagnosis is
//! shared (one set of AWS calls per target per window), and so is the card: within the
//! window, one card is posted per task per place (channel, or thread for mentions);
//! every other asker there gets an ephemeral pointer to it (its `chat.getPermalink`
//! link, or plain words when that fails). The key is facts (the diagnosed task's ARN
//! and where the card goes), never generated text. If posting the card fails, the next
//! asker tries again, so nobody is left without an answer.

use super::actions::{ButtonPress, Interaction};
use super::commands::{self, Command, SlashCommand};
use super::config::Settings;
use super::engine::{self, Answer, Engine, EngineError, FailureKind};
use super::events::{Delivery, Mention};
use super::limits::{Coalescer, RateLimiter, Seen};
use super::post::{PostError, Poster};
use crate::follow_up::FollowUp;
use crate::render::escape::mrkdwn as escape;
use crate::shutdown::Shutdown;
use crate::task_ref::{Target, TaskRef};
use crate::{metrics, telemetry};
use serde_json::{json, Value};
use slack_morphism::prelude::SlackMessageContent;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore};
use tracing::Instrument;

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
    cards: Coalescer<CardKey, Card>,
    users: RateLimiter,
    seen_events: Seen,
    shutdown: Shutdown,
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

/// Where a card goes and what it is about: (channel, thread, task ARN).
type CardKey = (String, Option<String>, String);

/// What became of the one card posted for a [`CardKey`], shared by everyone who asks.
#[derive(Clone)]
enum Card {
    /// Posted at `ts`. The permalink is looked up once, when a second asker needs it
    /// (`None` inside: the look-up failed).
    Posted {
        ts: String,
        permalink: Arc<OnceCell<Option<String>>>,
    },
    /// The bot is not in the channel: the card went through the first asker's
    /// `response_url`, for everyone in the channel.
    ViaResponseUrl,
    /// Not posted (the first asker was told why, under this metrics outcome); the key
    /// was forgotten so the next asker posts it.
    Failed(&'static str),
}

/// Plain mrkdwn message.
pub fn text(message: impl Into<String>) -> SlackMessageContent {
    SlackMessageContent::new().with_text(message.into())
}

fn ephemeral_ack(message: impl Into<String>) -> Value {
    json!({"response_type": "ephemeral", "text": message.into()})
}

impl Bot {
    pub fn new(
        settings: Arc<Settings>,
        engine: Arc<dyn Engine>,
        poster: Poster,
        shutdown: Shutdown,
    ) -> Bot {
        let limits = &settings.limits;
        Bot {
            permits: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            diagnoses: Coalescer::new(limits.coalesce_window),
            cards: Coalescer::new(limits.coalesce_window),
            users: RateLimiter::new(limits.per_user_per_minute, Duration::from_secs(60)),
            seen_events: Seen::new(Duration::from_secs(3600)),
            shutdown,
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

    /// Tracks background jobs, for graceful shutdown.
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// A slash command: returns the ack body (an ephemeral message to the asker).
    pub fn command(self: &Arc<Self>, request: SlashCommand) -> Value {
        let span = request_span();
        let _entered = span.enter();
        tracing::info!(
            user = request.user_id,
            channel = request.channel_id,
            "slash command"
        );
        if self.shutdown.is_shutting_down() {
            metrics::command("shutting_down");
            return ephemeral_ack(RESTARTING);
        }
        match commands::parse(&request.text) {
            Command::Help => {
                metrics::command("help");
                ephemeral_ack(commands::usage())
            }
            Command::Invalid(problem) => {
                metrics::command("bad_input");
                ephemeral_ack(format!(
                    ":warning: {}\n\n{}",
                    escape(&problem),
                    commands::usage()
                ))
            }
            Command::Why(target) => {
                if let Err(wait) = self.users.check(&request.user_id) {
                    metrics::command("rate_limited");
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
                let bot = self.clone();
                self.spawn(span.clone(), async move {
                    let outcome = bot.answer(reply, target, defaults.role_arn).await;
                    metrics::command(outcome);
                });
                ack
            }
        }
    }

    /// A button press or other interaction: the ack body, if any (empty 200 otherwise).
    pub fn interaction(self: &Arc<Self>, interaction: Interaction) -> Option<Value> {
        let Interaction::Button(press) = interaction else {
            return None;
        };
        let span = request_span();
        let _entered = span.enter();
        tracing::info!(user = press.user_id, channel = ?press.channel_id, "button press");
        let bot = self.clone();
        match press.request.clone() {
            Err(_) if press.is_link => metrics::button(FollowUp::OpenConsole.action_id(), "link"),
            Ok((FollowUp::OpenConsole, _)) => {
                metrics::button(FollowUp::OpenConsole.action_id(), "link")
            }
            Err(problem) => {
                metrics::button("invalid", "bad_input");
                let message = format!(
                    ":warning: That button could not be used: {}",
                    escape(&problem)
                );
                self.spawn(span.clone(), async move {
                    bot.tell_presser(&press, &message).await;
                });
            }
            Ok((kind, button)) => {
                if let Err(wait) = self.users.check(&press.user_id) {
                    metrics::button(kind.action_id(), "rate_limited");
                    self.spawn(span.clone(), async move {
                        bot.tell_presser(&press, &slow_down(wait)).await
                    });
                    return None;
                }
                self.spawn(span.clone(), async move {
                    let outcome = bot.follow_up(*press, kind, button).await;
                    metrics::button(kind.action_id(), outcome);
                });
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
        let span = request_span();
        let _entered = span.enter();
        tracing::info!(
            user = mention.user_id,
            channel = mention.channel_id,
            "app mention"
        );
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
            Command::Help => {
                metrics::command("help");
                self.spawn(span.clone(), tell(commands::usage()))
            }
            Command::Invalid(problem) => {
                metrics::command("bad_input");
                self.spawn(
                    span.clone(),
                    tell(format!(
                        ":warning: {}\n\n{}",
                        escape(&problem),
                        commands::usage()
                    )),
                )
            }
            Command::Why(target) => {
                if let Err(wait) = self.users.check(&mention.user_id) {
                    metrics::command("rate_limited");
                    self.spawn(span.clone(), tell(slow_down(wait)));
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
                self.spawn(span.clone(), async move {
                    let answer = bot.clone().answer(reply, target, defaults.role_arn);
                    let ((), outcome) = tokio::join!(looking, answer);
                    metrics::command(outcome);
                });
            }
        }
    }

    fn spawn(&self, span: tracing::Span, job: impl Future<Output = ()> + Send + 'static) {
        self.shutdown.spawn(job.instrument(span));
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
            let _gauge = metrics::diagnosis_in_flight();
            let started = Instant::now();
            let result = engine.diagnose(&target, role_arn.as_deref()).await;
            metrics::diagnosis_latency(started.elapsed().as_secs_f64());
            result.map(Arc::new)
        });
        shared.await
    }

    /// Post the card (channel or thread), then the details in its thread, unless the
    /// same task's card was just posted in the same place: then point the asker at it.
    /// Returns the outcome label for the metrics.
    async fn answer(
        self: Arc<Self>,
        reply: Reply,
        target: Target,
        role_arn: Option<String>,
    ) -> &'static str {
        let answer = match self.diagnose(&target, role_arn).await {
            Ok(answer) => answer,
            Err(e) => {
                self.tell_asker(&reply, &failure_message(&target, &e)).await;
                return outcome_of(&e);
            }
        };
        let task = if answer.task_arn.is_empty() {
            format!("{target:?}")
        } else {
            answer.task_arn.clone()
        };
        let key: CardKey = (reply.channel.clone(), reply.thread_ts.clone(), task);
        // Each pass either posts the card itself or saw someone else's attempt fail (and
        // forgotten), so this ends after at most one pass per asker in this place.
        loop {
            let (card, mine) = self.cards.get(key.clone(), || {
                let (bot, reply, answer, key) =
                    (self.clone(), reply.clone(), answer.clone(), key.clone());
                async move { bot.post_card(&reply, &answer, &key).await }
            });
            let card = card.await;
            if mine {
                return match card {
                    Card::Posted { ts, .. } => {
                        let thread = reply.thread_ts.clone().unwrap_or(ts);
                        self.post_details(&reply.channel, &thread, &answer).await;
                        "answered"
                    }
                    Card::ViaResponseUrl => "answered_via_response_url",
                    Card::Failed(outcome) => outcome,
                };
            }
            match card {
                Card::Posted { ts, permalink } => {
                    let link = permalink
                        .get_or_init(|| async {
                            match self.poster.permalink(&reply.channel, &ts).await {
                                Ok(link) => Some(link),
                                Err(e) => {
                                    tracing::warn!(error = %e, "no permalink for the card; pointing at it in words");
                                    None
                                }
                            }
                        })
                        .await;
                    self.tell_asker(&reply, &pointer(&target, &reply, link.as_deref()))
                        .await;
                    return "pointed_to_card";
                }
                Card::ViaResponseUrl => {
                    self.tell_asker(&reply, &pointer(&target, &reply, None))
                        .await;
                    return "pointed_to_card";
                }
                Card::Failed(_) => continue,
            }
        }
    }

    /// The first asker's post of the card (or the `response_url` fallback). On failure
    /// the asker is told why and the key is forgotten, so the next asker tries again.
    async fn post_card(&self, reply: &Reply, answer: &Answer, key: &CardKey) -> Card {
        let posted = self
            .poster
            .post_message(&reply.channel, reply.thread_ts.as_deref(), &answer.card)
            .await;
        let card = match posted {
            Ok(ts) => Card::Posted {
                ts,
                permalink: Arc::new(OnceCell::new()),
            },
            Err(PostError::NotInChannel(_)) => match self.answer_outside(reply, answer).await {
                "answered_via_response_url" => Card::ViaResponseUrl,
                outcome => Card::Failed(outcome),
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not post the card");
                self.tell_asker(
                    reply,
                    &format!(
                        ":warning: I diagnosed it but could not post the card: {}",
                        escape(&e.to_string())
                    ),
                )
                .await;
                Card::Failed("post_failed")
            }
        };
        if matches!(card, Card::Failed(_)) {
            self.cards.forget(key);
        }
        card
    }

    /// The details (log tail, who stopped it, task definition) in the card's thread.
    async fn post_details(&self, channel: &str, thread: &str, answer: &Answer) {
        for detail in &answer.details {
            if let Err(e) = self
                .poster
                .post_message(channel, Some(thread), detail)
                .await
            {
                tracing::warn!(error = %e, "could not post a thread reply");
            }
        }
    }

    /// The bot is not in the channel: the card through `response_url`, for everyone.
    async fn answer_outside(&self, reply: &Reply, answer: &Answer) -> &'static str {
        let Some(url) = &reply.response_url else {
            tracing::warn!(
                channel = reply.channel,
                "not in the channel and no response_url to answer through"
            );
            return "not_in_channel";
        };
        if let Err(e) = self.poster.respond(url, &answer.card, true).await {
            tracing::warn!(error = %e, "could not answer through response_url");
            return "post_failed";
        }
        if let Err(e) = self.poster.respond(url, &text(INVITE_HINT), false).await {
            tracing::warn!(error = %e, "could not send the invite hint");
        }
        "answered_via_response_url"
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

    /// Answer a button; returns the outcome label for the metrics.
    async fn follow_up(
        &self,
        press: ButtonPress,
        kind: FollowUp,
        button: crate::follow_up::ButtonRef,
    ) -> &'static str {
        let channel = press.channel_id.clone().unwrap_or_default();
        let role_arn = self.settings.defaults_for(&channel, None).role_arn;
        if kind == FollowUp::Rerun {
            return self.rerun(&press, &channel, &button, role_arn).await;
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
                let message = match engine::target_of(&button) {
                    Ok(t) => failure_message(&t, &e),
                    Err(_) => format!(":warning: {}", escape(&e.message)),
                };
                self.tell_presser(&press, &message).await;
                return outcome_of(&e);
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
                        return "post_failed";
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not post a follow-up");
                    self.tell_presser(
                        &press,
                        &format!(
                            ":warning: Could not post the answer: {}",
                            escape(&e.to_string())
                        ),
                    )
                    .await;
                    return "post_failed";
                }
            }
        }
        "answered"
    }

    /// Re-run: diagnose again and update the card in place.
    async fn rerun(
        &self,
        press: &ButtonPress,
        channel: &str,
        button: &crate::follow_up::ButtonRef,
        role_arn: Option<String>,
    ) -> &'static str {
        let target = match engine::target_of(button) {
            Ok(t) => t,
            Err(e) => {
                self.tell_presser(press, &format!(":warning: {}", escape(&e.message)))
                    .await;
                return "bad_input";
            }
        };
        let answer = match self.diagnose(&target, role_arn).await {
            Ok(a) => a,
            Err(e) => {
                self.tell_presser(press, &failure_message(&target, &e))
                    .await;
                return outcome_of(&e);
            }
        };
        let Some(ts) = press.message_ts.as_deref() else {
            self.tell_presser(
                press,
                ":warning: Slack did not say which card to update; run `/ecs why` again",
            )
            .await;
            return "bad_input";
        };
        match self.poster.update(channel, ts, &answer.card).await {
            Ok(()) => "answered",
            Err(PostError::NotInChannel(_)) if press.response_url.is_some() => {
                let url = press.response_url.as_deref().unwrap_or_default();
                match self.poster.respond(url, &answer.card, true).await {
                    Ok(()) => "answered_via_response_url",
                    Err(e) => {
                        tracing::warn!(error = %e, "could not answer a re-run through response_url");
                        "post_failed"
                    }
                }
            }
            Err(e) => {
                self.tell_presser(
                    press,
                    &format!(
                        ":warning: Could not update the card: {}",
                        escape(&e.to_string())
                    ),
                )
                .await;
                "post_failed"
            }
        }
    }
}

/// The metrics outcome of a failed diagnosis.
fn outcome_of(e: &EngineError) -> &'static str {
    match e.kind {
        FailureKind::BadInput | FailureKind::TaskMissing => "bad_input",
        FailureKind::AccessDenied | FailureKind::Aws => "aws_error",
    }
}

fn request_span() -> tracing::Span {
    telemetry::request_span(&telemetry::request_id())
}

/// What a command gets while the bot is stopping.
pub const RESTARTING: &str =
    ":arrows_counterclockwise: ecs-why is restarting; ask again in a few seconds.";

/// The asker's ephemeral message for a failed diagnosis: the cause and the fix.
pub fn failure_message(target: &Target, e: &EngineError) -> String {
    let what = escape(&target.to_string()).into_owned();
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

/// The ephemeral pointer for someone whose question was answered by a card just posted
/// in the same place: a link to it when Slack gave one, plain words otherwise.
fn pointer(target: &Target, reply: &Reply, permalink: Option<&str>) -> String {
    let place = if reply.thread_ts.is_some() {
        "thread"
    } else {
        "channel"
    };
    let what = escape(&target.to_string()).into_owned();
    let above = format!("answered just above in this {place}");
    let above = match permalink {
        Some(link) => format!("<{}|{above}>", escape(link)),
        None => above,
    };
    format!(":point_up: Someone here asked about {what} a moment ago: {above}. The card's thread has the log tail, who stopped it and the task definition.")
}

fn slow_down(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    format!(":hourglass: You have asked a lot in the last minute; please wait {secs} s and ask again. The answers to your earlier questions are on their way.")
}
