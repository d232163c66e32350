//! Applying what Slack asked: ack at once, then diagnose and post in the background.
//!
//! The HTTP routes and Socket Mode both call [`Bot::command`], [`Bot::interaction`] and
//! [`Bot::event`] with parsed requests and send back the returned ack. Slash commands
//! and @mentions are the same [`Words`]; once they name a task they become an [`Ask`],
//! as does the "Re-run" button, and [`Bot::route`] answers every `Ask`. Everything slow
//! (AWS, Slack posts) runs in a job spawned through [`Shutdown`] (so SIGTERM drains it),
//! inside a request span, bounded by a semaphore, coalesced per target and rate-limited
//! per user. Each request ends in an [`Outcome`], counted in [`crate::metrics`].
//!
//! In an incident storm many people ask about the same task at once. The diagnosis is
//! shared (one set of AWS calls per target per window), and so is the card: within the
//! window, one card is posted per task per place (channel, or thread for mentions);
//! every other asker there gets an ephemeral pointer to it (its `chat.getPermalink`
//! link, or plain words when that fails). The key is facts (the diagnosed task's ARN
//! and where the card goes), never generated text. If posting the card fails, the next
//! asker tries again, so nobody is left without an answer.

use super::actions::{ButtonPress, Interaction};
use super::ask::{Ask, Asker, CardKey, CardSubject, DiagnosisKey, ReplyTo, Words};
use super::channel_names::ChannelNames;
use super::commands::{self, Command, SlashCommand};
use super::config::Settings;
use super::engine::{self, Answer, Confirmed, Engine, EngineError, EngineErrorKind};
use super::events::{Delivery, Mention};
use super::limits::{Coalescer, RateLimiter};
use super::post::{PostError, Poster};
use super::replies::{self, failure_message, text, Outcome};
use crate::follow_up::{ButtonRef, FollowUp};
use crate::render::escape::mrkdwn;
use crate::shutdown::Shutdown;
use crate::state::{memory::MemoryStore, StateStore, FIRST_TIME_KEEP};
use crate::{metrics, telemetry};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{OnceCell, Semaphore};
use tracing::Instrument;

type Diagnosed = Result<Arc<Answer>, EngineError>;

/// The bot: settings, the engine, the Slack client and the storm limits.
pub struct Bot {
    settings: Arc<Settings>,
    engine: Arc<dyn Engine>,
    poster: Poster,
    permits: Semaphore,
    diagnoses: Coalescer<DiagnosisKey, Diagnosed>,
    cards: Coalescer<CardKey, Card>,
    users: RateLimiter,
    /// Shared with the other replicas when `ECS_WHY_STATE_TABLE` is set: which Events
    /// API deliveries were handled, and the alert incidents.
    state: Arc<dyn StateStore>,
    channel_names: ChannelNames,
    shutdown: Shutdown,
}

/// The one card posted for a [`CardKey`], shared by everyone who asks. A card that
/// could not be posted is not kept (the first asker was told why), so the next asker
/// posts it.
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
            permits: Semaphore::new(limits.max_in_flight.max(1)),
            diagnoses: Coalescer::new(limits.coalesce_window),
            cards: Coalescer::new(limits.coalesce_window),
            users: RateLimiter::per_minute(limits.per_user_per_minute),
            state: Arc::new(MemoryStore::default()),
            channel_names: ChannelNames::default(),
            shutdown,
            settings,
            engine,
            poster,
        }
    }

    /// Use `state` (shared by replicas) instead of this process's memory.
    pub fn with_state(mut self, state: Arc<dyn StateStore>) -> Bot {
        self.state = state;
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn settings_arc(&self) -> Arc<Settings> {
        self.settings.clone()
    }

    pub fn engine(&self) -> Arc<dyn Engine> {
        self.engine.clone()
    }

    pub fn state(&self) -> Arc<dyn StateStore> {
        self.state.clone()
    }

    pub fn poster(&self) -> &Poster {
        &self.poster
    }

    /// Tracks background jobs, for graceful shutdown.
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// A slash command: returns the ack, an ephemeral message (mrkdwn) to the asker.
    pub fn command(self: &Arc<Self>, request: SlashCommand) -> String {
        let span = request_span();
        let _entered = span.enter();
        tracing::info!(
            user = request.user_id,
            channel = request.channel_id,
            "slash command"
        );
        if self.shutdown.is_shutting_down() {
            metrics::command(Outcome::ShuttingDown.label());
            return replies::RESTARTING.to_string();
        }
        self.channel_names
            .learn(&request.channel_id, request.channel_name.as_deref());
        self.hear(Words::from(request))
    }

    /// A button press or other interaction; acked with an empty 200.
    pub fn interaction(self: &Arc<Self>, interaction: Interaction) {
        let Interaction::Button(press) = interaction else {
            return;
        };
        let span = request_span();
        let _entered = span.enter();
        tracing::info!(user = press.user_id, channel = ?press.channel_id, "button press");
        let bot = self.clone();
        let asker = Asker::from(press.as_ref());
        match press.request.clone() {
            Err(_) if press.is_link => {
                metrics::button(FollowUp::OpenConsole.action_id(), Outcome::Link.label())
            }
            Ok((FollowUp::OpenConsole, _)) => {
                metrics::button(FollowUp::OpenConsole.action_id(), Outcome::Link.label())
            }
            Err(problem) => {
                metrics::button("invalid", Outcome::BadInput.label());
                let message = format!(
                    ":warning: That button could not be used: {}",
                    mrkdwn(&problem)
                );
                self.spawn(async move { bot.tell_asker(&asker, &message).await });
            }
            Ok((kind, button)) => {
                if let Err(wait) = self.users.check(&press.user_id) {
                    metrics::button(kind.action_id(), Outcome::RateLimited.label());
                    let message = replies::slow_down(wait);
                    self.spawn(async move { bot.tell_asker(&asker, &message).await });
                    return;
                }
                self.spawn(async move {
                    let outcome = bot.follow_up(*press, kind, button).await;
                    metrics::button(kind.action_id(), outcome.label());
                });
            }
        }
    }

    /// An Events API delivery: the `url_verification` challenge to answer with, if any.
    /// `retry` is `X-Slack-Retry-Num`, for the logs; repeats are recognised by event id.
    pub fn event(self: &Arc<Self>, delivery: Delivery, retry: Option<u32>) -> Option<String> {
        match delivery {
            Delivery::UrlVerification { challenge } => Some(challenge),
            Delivery::Ignored(_) => None,
            Delivery::Mention { event_id, mention } => {
                let bot = self.clone();
                self.spawn(async move {
                    let key = format!("event#{event_id}");
                    let first = bot.state.first_time(&key, FIRST_TIME_KEEP).await;
                    match first {
                        Ok(true) => bot.mention(mention),
                        Ok(false) => tracing::info!(
                            event_id,
                            ?retry,
                            "event already handled; ignoring the retry"
                        ),
                        Err(e) => {
                            // Answering twice beats never answering.
                            tracing::warn!(error = %e, event_id, "could not check for a repeated event; answering it");
                            bot.mention(mention);
                        }
                    }
                });
                None
            }
        }
    }

    /// An @mention: the immediate reply goes to the asker as an ephemeral message in
    /// the thread, while the answer is worked on.
    fn mention(self: &Arc<Self>, mention: Mention) {
        let span = request_span();
        let _entered = span.enter();
        tracing::info!(
            user = mention.user_id,
            channel = mention.channel_id,
            "app mention"
        );
        let mut words = Words::from(mention);
        let bot = self.clone();
        self.spawn(async move {
            let asker = words.asker.clone();
            // A mention carries no channel name: a channel mapped by name is found by
            // looking its name up, and if that fails nothing runs with the bot's own
            // role in its place.
            if bot.settings.channels.needs_name(&asker.channel) {
                let token = &bot.settings.bot_token;
                match bot
                    .channel_names
                    .name_of(&bot.poster, token, &asker.channel)
                    .await
                {
                    Ok(name) => words.channel_name = Some(name),
                    Err(problem) => {
                        tracing::warn!(problem, "no name for the channel of a mention");
                        metrics::command(Outcome::BadInput.label());
                        let message = replies::unnamed_channel(&asker.channel, &problem);
                        bot.tell_asker(&asker, &message).await;
                        return;
                    }
                }
            }
            let reply = bot.hear(words);
            bot.tell_asker(&asker, &reply).await
        });
    }

    /// Words typed to the bot, however they came: returns what to tell the asker at
    /// once; a `why` starts its answer in the background.
    fn hear(self: &Arc<Self>, words: Words) -> String {
        match commands::parse(&words.text) {
            Command::Help => {
                metrics::command(Outcome::Help.label());
                commands::usage()
            }
            Command::Invalid(problem) => {
                metrics::command(Outcome::BadInput.label());
                replies::invalid(&problem)
            }
            Command::Why(target) => {
                if let Err(wait) = self.users.check(&words.asker.user) {
                    metrics::command(Outcome::RateLimited.label());
                    return replies::slow_down(wait);
                }
                let defaults = self
                    .settings
                    .defaults_for(&words.asker.channel, words.channel_name.as_deref());
                let target =
                    target.with_defaults(defaults.cluster.as_deref(), defaults.region.as_deref());
                let looking = replies::looking_at(&target);
                let role_arn = self.role_for(defaults.role_arn, target.account.as_deref());
                let ask = Ask {
                    target,
                    role_arn,
                    asker: words.asker,
                    reply_to: ReplyTo::NewCard,
                };
                let bot = self.clone();
                self.spawn(async move {
                    let outcome = bot.route(ask).await;
                    metrics::command(outcome.label());
                });
                looking
            }
        }
    }

    /// The role to read a task with: the channel's, unless the task's ARN names another
    /// account and a role is mapped there. (With neither, the engine says the task is in
    /// another account rather than look in the wrong one.)
    fn role_for(&self, channel_role: Option<String>, account: Option<&str>) -> Option<String> {
        let Some(account) = account else {
            return channel_role;
        };
        if channel_role.as_deref().and_then(crate::arn::account) == Some(account) {
            return channel_role;
        }
        self.settings
            .channels
            .role_in_account(account)
            .map(str::to_string)
            .or(channel_role)
    }

    /// Runs `job` in the background, inside the current request's span.
    fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        self.shutdown
            .spawn(job.instrument(tracing::Span::current()));
    }

    /// Answer an [`Ask`]: diagnose (shared with identical asks), then post a new card or
    /// update the one the asker pressed "Re-run" on.
    async fn route(&self, ask: Ask) -> Outcome {
        let answer = match self.diagnose(&ask).await {
            Ok(answer) => answer,
            Err(e) => {
                self.tell_asker(&ask.asker, &failure_message(&ask.target, &e))
                    .await;
                return Outcome::of_error(&e);
            }
        };
        match &ask.reply_to {
            ReplyTo::NewCard => self.share_card(&ask, &answer).await,
            ReplyTo::SameCard { ts } => {
                let outcome = self.update_card(&ask.asker, ts.as_deref(), &answer).await;
                if let (Outcome::Answered, Some(ts)) = (&outcome, ts.as_deref()) {
                    if let Some(mut confirmed) = self.confirm(&ask, &answer).await {
                        // The thread has the replies from the first run: only the card
                        // changes.
                        confirmed.replies.clear();
                        confirmed.files.clear();
                        let asker = &ask.asker;
                        let thread = asker.thread.as_deref().unwrap_or(ts);
                        self.post_confirmed(
                            &asker.channel,
                            ts,
                            thread,
                            Some(&asker.user),
                            confirmed,
                        )
                        .await;
                    }
                }
                outcome
            }
        }
    }

    /// Diagnose once per target per window, with a bound on AWS work in flight.
    async fn diagnose(&self, ask: &Ask) -> Diagnosed {
        let role_arn = ask.role_arn.as_deref();
        let key = DiagnosisKey::new(&ask.target, role_arn);
        self.diagnoses
            .get(key, async {
                let _permit = self.permit().await?;
                let _gauge = metrics::diagnosis_in_flight();
                let started = Instant::now();
                let result = self
                    .before_the_answer_limit(self.engine.diagnose(&ask.target, role_arn))
                    .await;
                metrics::diagnosis_latency(started.elapsed().as_secs_f64());
                result.map(Arc::new)
            })
            .await
    }

    /// A turn at AWS (at most `max_in_flight` at once). Once shutdown has begun nobody
    /// waiting gets one: they are told at once to ask again, rather than waiting in
    /// silence until the drain gives up.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, EngineError> {
        if self.shutdown.is_shutting_down() {
            return Err(shutting_down());
        }
        tokio::select! {
            permit = self.permits.acquire() => permit.map_err(|_| shutting_down()),
            _ = self.shutdown.cancelled() => Err(shutting_down()),
        }
    }

    /// `work`, unless shutdown began and the answer limit passed first: then the asker
    /// is told to ask again while there is still time to tell them.
    async fn before_the_answer_limit<T>(
        &self,
        work: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        tokio::select! {
            result = work => result,
            () = self.shutdown.answer_deadline() => Err(shutting_down()),
        }
    }

    /// Post the card (channel or thread), then the details in its thread, unless the
    /// same task's card was just posted in the same place: then point the asker at it.
    async fn share_card(&self, ask: &Ask, answer: &Answer) -> Outcome {
        let asker = &ask.asker;
        let subject = if answer.task_arn.is_empty() {
            CardSubject::Request(DiagnosisKey::new(&ask.target, ask.role_arn.as_deref()))
        } else {
            CardSubject::Task(answer.task_arn.clone())
        };
        let key = CardKey {
            channel: asker.channel.clone(),
            thread: asker.thread.clone(),
            subject,
        };
        // Each pass either posts the card itself or saw someone else's attempt fail (it
        // is not kept), so this ends after at most one pass per asker in this place.
        loop {
            let card = self
                .cards
                .try_get(key.clone(), self.post_card(asker, answer))
                .await;
            if card.started_here {
                return match card.result {
                    Ok(Card::Posted { ts, .. }) => {
                        let thread = asker.thread.clone().unwrap_or(ts.clone());
                        // The probes run while the details are posted; the card is
                        // updated with their verdict when they finish.
                        let (_, confirmed) = tokio::join!(
                            self.post_details(&asker.channel, &thread, answer),
                            self.confirm(ask, answer),
                        );
                        if let Some(confirmed) = confirmed {
                            self.post_confirmed(&asker.channel, &ts, &thread, None, confirmed)
                                .await;
                        }
                        Outcome::Answered
                    }
                    Ok(Card::ViaResponseUrl) => Outcome::AnsweredViaResponseUrl,
                    Err(outcome) => *outcome,
                };
            }
            let permalink = match card.result {
                Ok(Card::Posted { ts, permalink }) => permalink
                    .get_or_init(|| self.permalink(&asker.channel, &ts))
                    .await
                    .clone(),
                Ok(Card::ViaResponseUrl) => None,
                Err(_) => continue,
            };
            let pointer = replies::pointer(&ask.target, asker, permalink.as_deref());
            self.tell_asker(asker, &pointer).await;
            return Outcome::PointedToCard;
        }
    }

    /// A link to the card, or `None` (pointed at in words) when Slack gives none.
    async fn permalink(&self, channel: &str, ts: &str) -> Option<String> {
        match self.poster.permalink(channel, ts).await {
            Ok(link) => Some(link),
            Err(e) => {
                tracing::warn!(error = %e, "no permalink for the card; pointing at it in words");
                None
            }
        }
    }

    /// The first asker's post of the card (or the `response_url` fallback). On failure
    /// the asker is told why, and the outcome says what happened.
    async fn post_card(&self, asker: &Asker, answer: &Answer) -> Result<Card, Outcome> {
        let posted = self
            .poster
            .post_message(&asker.channel, asker.thread.as_deref(), &answer.card)
            .await;
        match posted {
            Ok(ts) => Ok(Card::Posted {
                ts,
                permalink: Arc::new(OnceCell::new()),
            }),
            Err(PostError::NotInChannel(_)) => self
                .answer_outside(asker, answer)
                .await
                .map(|()| Card::ViaResponseUrl),
            Err(e) => {
                tracing::warn!(error = %e, "could not post the card");
                let message = format!(
                    ":warning: I diagnosed it but could not post the card: {}",
                    mrkdwn(&e.to_string())
                );
                self.tell_asker(asker, &message).await;
                Err(Outcome::PostFailed)
            }
        }
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

    /// The probes' verdict for a posted answer, with a turn at AWS like any diagnosis;
    /// `None` when there is nothing to check or shutdown began.
    async fn confirm(&self, ask: &Ask, answer: &Answer) -> Option<Confirmed> {
        answer.to_confirm.as_ref()?;
        let _permit = self.permit().await.ok()?;
        self.before_the_answer_limit(async {
            Ok::<_, EngineError>(self.engine.confirm(answer, ask.role_arn.as_deref()).await)
        })
        .await
        .ok()
        .flatten()
    }

    /// Update the card at `ts` with the probes' verdict (stamped again when it was a
    /// re-run by `rechecked_by`), then post their replies and files in `thread`.
    async fn post_confirmed(
        &self,
        channel: &str,
        ts: &str,
        thread: &str,
        rechecked_by: Option<&str>,
        confirmed: Confirmed,
    ) {
        let mut card = confirmed.card;
        if let Some(user) = rechecked_by {
            crate::render::blocks::stamp_rechecked(&mut card, chrono::Utc::now(), user);
        }
        if let Err(e) = self.poster.update(channel, ts, &card).await {
            tracing::warn!(error = %e, "could not update the card with the probes' verdict");
        }
        for reply in &confirmed.replies {
            if let Err(e) = self.poster.post_message(channel, Some(thread), reply).await {
                tracing::warn!(error = %e, "could not post a probe reply");
            }
        }
        for file in &confirmed.files {
            if let Err(e) = self.poster.upload_file(channel, thread, file).await {
                tracing::warn!(error = %e, file = file.filename, "could not share a file in the thread (is files:write granted?)");
            }
        }
    }

    /// The bot is not in the channel: the card through `response_url`, for everyone.
    async fn answer_outside(&self, asker: &Asker, answer: &Answer) -> Result<(), Outcome> {
        let Some(url) = &asker.response_url else {
            tracing::warn!(
                channel = asker.channel,
                "not in the channel and no response_url to answer through"
            );
            return Err(Outcome::NotInChannel);
        };
        if let Err(e) = self.poster.respond(url, &answer.card, true).await {
            tracing::warn!(error = %e, "could not answer through response_url");
            return Err(Outcome::PostFailed);
        }
        if let Err(e) = self
            .poster
            .respond(url, &text(replies::INVITE_HINT), false)
            .await
        {
            tracing::warn!(error = %e, "could not send the invite hint");
        }
        Ok(())
    }

    /// Re-run: replace the card at `ts` with the new diagnosis, stamped "re-checked HH:MM
    /// by @asker" so everyone in the channel sees that it was run again.
    async fn update_card(&self, asker: &Asker, ts: Option<&str>, answer: &Answer) -> Outcome {
        let Some(ts) = ts else {
            self.tell_asker(
                asker,
                ":warning: Slack did not say which card to update; run `/ecs why` again",
            )
            .await;
            return Outcome::BadInput;
        };
        let mut card = answer.card.clone();
        crate::render::blocks::stamp_rechecked(&mut card, chrono::Utc::now(), &asker.user);
        match self.poster.update(&asker.channel, ts, &card).await {
            Ok(()) => Outcome::Answered,
            Err(PostError::NotInChannel(_)) if asker.response_url.is_some() => {
                let url = asker.response_url.as_deref().unwrap_or_default();
                match self.poster.respond(url, &card, true).await {
                    Ok(()) => Outcome::AnsweredViaResponseUrl,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not answer a re-run through response_url");
                        Outcome::PostFailed
                    }
                }
            }
            Err(e) => {
                let message = format!(
                    ":warning: Could not update the card: {}",
                    mrkdwn(&e.to_string())
                );
                self.tell_asker(asker, &message).await;
                Outcome::PostFailed
            }
        }
    }

    /// An ephemeral message to the asker: via response_url when there is one.
    async fn tell_asker(&self, asker: &Asker, message: &str) {
        let content = text(message);
        let result = match &asker.response_url {
            Some(url) => self.poster.respond(url, &content, false).await,
            None => {
                self.poster
                    .post_ephemeral(
                        &asker.channel,
                        &asker.user,
                        asker.thread.as_deref(),
                        &content,
                    )
                    .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not tell the asker");
        }
    }

    /// Answer a button: "Re-run" is an [`Ask`] for the same card; the others post the
    /// engine's messages in the card's thread.
    async fn follow_up(&self, press: ButtonPress, kind: FollowUp, button: ButtonRef) -> Outcome {
        let asker = Asker::from(&press);
        if matches!(kind, FollowUp::Acknowledge | FollowUp::Mute) {
            let pressed = crate::alerts::buttons::press(
                self.state.as_ref(),
                &self.poster,
                kind,
                &button,
                &asker.user,
                &asker.channel,
            )
            .await;
            return match pressed {
                Ok(()) => Outcome::Answered,
                Err(why) => {
                    self.tell_asker(&asker, &replies::warning(&why)).await;
                    Outcome::BadInput
                }
            };
        }
        self.channel_names
            .learn(&asker.channel, press.channel_name.as_deref());
        // The channel's mapping, found the same way as for the command that posted the
        // card: by id, then by name.
        let channel_role = self
            .settings
            .defaults_for(&asker.channel, press.channel_name.as_deref())
            .role_arn;
        let role_arn = self.role_for(channel_role, crate::arn::account(&button.task_arn));
        if kind == FollowUp::Rerun {
            let target = match engine::target_of(&button) {
                Ok(target) => target,
                Err(e) => {
                    self.tell_asker(&asker, &replies::warning(&e.message)).await;
                    return Outcome::BadInput;
                }
            };
            let ask = Ask {
                target,
                role_arn,
                asker,
                reply_to: ReplyTo::SameCard {
                    ts: press.message_ts,
                },
            };
            return self.route(ask).await;
        }
        let messages = match self.permit().await {
            Ok(_permit) => {
                self.before_the_answer_limit(self.engine.follow_up(
                    kind,
                    &button,
                    role_arn.as_deref(),
                ))
                .await
            }
            Err(e) => Err(e),
        };
        let messages = match messages {
            Ok(m) => m,
            Err(e) => {
                let message = match engine::target_of(&button) {
                    Ok(t) => failure_message(&t, &e),
                    Err(_) => replies::warning(&e.message),
                };
                self.tell_asker(&asker, &message).await;
                return Outcome::of_error(&e);
            }
        };
        for message in &messages {
            let posted = self
                .poster
                .post_message(&asker.channel, asker.thread.as_deref(), message)
                .await;
            match posted {
                Ok(_) => {}
                Err(PostError::NotInChannel(_)) if asker.response_url.is_some() => {
                    let url = asker.response_url.as_deref().unwrap_or_default();
                    if let Err(e) = self.poster.respond(url, message, true).await {
                        tracing::warn!(error = %e, "could not answer a button through response_url");
                        return Outcome::PostFailed;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not post a follow-up");
                    let message = format!(
                        ":warning: Could not post the answer: {}",
                        mrkdwn(&e.to_string())
                    );
                    self.tell_asker(&asker, &message).await;
                    return Outcome::PostFailed;
                }
            }
        }
        Outcome::Answered
    }
}

fn shutting_down() -> EngineError {
    EngineError {
        kind: EngineErrorKind::ShuttingDown,
        message: "ecs-why is restarting; ask again in a minute".into(),
    }
}

fn request_span() -> tracing::Span {
    telemetry::request_span(&telemetry::request_id())
}
