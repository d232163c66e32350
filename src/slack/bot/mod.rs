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

use super::actions::Interaction;
use super::ask::{Ask, Asker, CardKey, DiagnosisKey, ReplyTo, Words};
use super::channel_names::ChannelNames;
use super::commands::{self, Command, SlashCommand};
use super::events::{Delivery, Mention};
use super::limits::{Coalescer, RateLimiter};
use super::replies::{self, failure_message, text, Outcome};
use crate::actions::press::Actions;
use crate::config::Settings;
use crate::follow_up::FollowUp;
use crate::investigate::access::Channel;
use crate::investigate::{
    Access, ErrorKind, Investigate, InvestigateError, Investigation, Subject,
};
use crate::render::escape::mrkdwn;
use crate::shutdown::Shutdown;
use crate::slack_api::Poster;
use crate::state::{memory::MemoryStore, StateStore, FIRST_TIME_KEEP};
use crate::{metrics, telemetry};
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{OnceCell, Semaphore};
use tracing::Instrument;

mod buttons;
mod cards;
mod operate;

type Diagnosed = Result<Investigation, InvestigateError>;

/// The bot: settings, the investigation seam, the Slack client and the storm limits.
pub struct Bot {
    settings: Arc<Settings>,
    investigator: Arc<dyn Investigate>,
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
    /// Roll back and Restart, when `[actions]` is configured.
    actions: Option<Arc<Actions>>,
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
        investigator: Arc<dyn Investigate>,
        poster: Poster,
        shutdown: Shutdown,
    ) -> Bot {
        let limits = &settings.limits;
        let state: Arc<dyn StateStore> = Arc::new(MemoryStore::default());
        Bot {
            actions: Actions::new(settings.clone(), state.clone(), poster.clone()),
            permits: Semaphore::new(limits.max_in_flight.max(1)),
            diagnoses: Coalescer::new(limits.coalesce_window),
            cards: Coalescer::new(limits.coalesce_window),
            users: RateLimiter::per_minute(limits.per_user_per_minute),
            state,
            channel_names: ChannelNames::default(),
            shutdown,
            settings,
            investigator,
            poster,
        }
    }

    /// Use `state` (shared by replicas) instead of this process's memory.
    pub fn with_state(mut self, state: Arc<dyn StateStore>) -> Bot {
        self.actions = Actions::new(self.settings.clone(), state.clone(), self.poster.clone());
        self.state = state;
        self
    }

    /// Roll back and Restart, when configured (the alerts offer them on their cards).
    pub fn actions(&self) -> Option<Arc<Actions>> {
        self.actions.clone()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn settings_arc(&self) -> Arc<Settings> {
        self.settings.clone()
    }

    pub fn investigator(&self) -> Arc<dyn Investigate> {
        self.investigator.clone()
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
        if let Some(operate) = press.operate.clone() {
            self.operate(*press, operate);
            return;
        }
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
                let channel = Channel {
                    id: &words.asker.channel,
                    name: words.channel_name.as_deref(),
                };
                let access =
                    Access::resolve(&self.settings, target.account.as_deref(), Some(channel));
                let ask = Ask {
                    target,
                    access,
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
                    if let Some(confirmed) = self.confirm(&ask, &answer).await {
                        // The thread has the replies from the first run: only the card
                        // changes.
                        let asker = &ask.asker;
                        let thread = asker.thread.as_deref().unwrap_or(ts);
                        self.post_confirmed(
                            &asker.channel,
                            ts,
                            thread,
                            Some(&asker.user),
                            &confirmed,
                            false,
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
        let key = DiagnosisKey::new(&ask.target, ask.access.role_arn.as_deref());
        let subject = Subject::Named(ask.target.clone());
        self.diagnoses
            .get(key, async {
                let _permit = self.permit().await?;
                let _gauge = metrics::diagnosis_in_flight();
                let started = Instant::now();
                let result = self
                    .before_the_answer_limit(self.investigator.investigate(&subject, &ask.access))
                    .await;
                metrics::diagnosis_latency(started.elapsed().as_secs_f64());
                result
            })
            .await
    }

    /// A turn at AWS (at most `max_in_flight` at once). Once shutdown has begun nobody
    /// waiting gets one: they are told at once to ask again, rather than waiting in
    /// silence until the drain gives up.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, InvestigateError> {
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
        work: impl Future<Output = Result<T, InvestigateError>>,
    ) -> Result<T, InvestigateError> {
        tokio::select! {
            result = work => result,
            () = self.shutdown.answer_deadline() => Err(shutting_down()),
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
}

fn shutting_down() -> InvestigateError {
    InvestigateError {
        kind: ErrorKind::ShuttingDown,
        message: "ecs-why is restarting; ask again in a minute".into(),
    }
}

fn request_span() -> tracing::Span {
    telemetry::request_span(&telemetry::request_id())
}
