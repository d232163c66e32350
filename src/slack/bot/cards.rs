//! Posting an answer: the one card per task and place (others are pointed at it), its
//! thread details, the probes' verdict when they finish, a Re-run's update in place,
//! and the `response_url` fallback when the bot is not in the channel.

use super::{Bot, Card};
use crate::investigate::{InvestigateError, Investigation};
use crate::render::blocks;
use crate::render::escape::mrkdwn;
use crate::slack::ask::{Ask, Asker, CardKey, CardSubject, DiagnosisKey};
use crate::slack::replies::{self, text, Outcome};
use crate::slack_api::PostError;
use slack_morphism::prelude::SlackMessageContent;
use std::sync::Arc;
use tokio::sync::OnceCell;

impl Bot {
    /// Post the card (channel or thread), then the details in its thread, unless the
    /// same task's card was just posted in the same place: then point the asker at it.
    pub(super) async fn share_card(&self, ask: &Ask, answer: &Investigation) -> Outcome {
        let asker = &ask.asker;
        let subject = if answer.task_arn().is_empty() {
            CardSubject::Request(DiagnosisKey::new(
                &ask.target,
                ask.access.role_arn.as_deref(),
            ))
        } else {
            CardSubject::Task(answer.task_arn().to_string())
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
                            self.post_confirmed(
                                &asker.channel,
                                &ts,
                                &thread,
                                None,
                                &confirmed,
                                true,
                            )
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
    pub(super) async fn permalink(&self, channel: &str, ts: &str) -> Option<String> {
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
    pub(super) async fn post_card(
        &self,
        asker: &Asker,
        answer: &Investigation,
    ) -> Result<Card, Outcome> {
        let card = self
            .with_actions(blocks::card_of(answer), answer, &asker.channel)
            .await;
        let posted = self
            .poster
            .post_message(&asker.channel, asker.thread.as_deref(), &card)
            .await;
        match posted {
            Ok(ts) => Ok(Card::Posted {
                ts,
                permalink: Arc::new(OnceCell::new()),
            }),
            Err(PostError::NotInChannel(_)) => self
                .answer_outside(asker, &card)
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
    pub(super) async fn post_details(&self, channel: &str, thread: &str, answer: &Investigation) {
        for detail in &blocks::details(answer) {
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
    pub(super) async fn confirm(&self, ask: &Ask, answer: &Investigation) -> Option<Investigation> {
        let _permit = self.permit().await.ok()?;
        self.before_the_answer_limit(async {
            Ok::<_, InvestigateError>(self.investigator.confirm(answer, &ask.access).await)
        })
        .await
        .ok()
        .flatten()
    }

    /// Update the card at `ts` with the probes' verdict (stamped again when it was a
    /// re-run by `rechecked_by`), then, with `with_extras`, post what they add (what
    /// changed, the memory graph) in `thread`.
    pub(super) async fn post_confirmed(
        &self,
        channel: &str,
        ts: &str,
        thread: &str,
        rechecked_by: Option<&str>,
        confirmed: &Investigation,
        with_extras: bool,
    ) {
        let mut card = self
            .with_actions(blocks::card_of(confirmed), confirmed, channel)
            .await;
        if let Some(user) = rechecked_by {
            blocks::stamp_rechecked(&mut card, chrono::Utc::now(), user);
        }
        if let Err(e) = self.poster.update(channel, ts, &card).await {
            tracing::warn!(error = %e, "could not update the card with the probes' verdict");
        }
        if !with_extras {
            return;
        }
        let (replies, files) = blocks::confirmed_extras(&confirmed.diagnosis);
        for reply in &replies {
            if let Err(e) = self.poster.post_message(channel, Some(thread), reply).await {
                tracing::warn!(error = %e, "could not post a probe reply");
            }
        }
        for file in &files {
            if let Err(e) = self.poster.upload_file(channel, thread, file).await {
                tracing::warn!(error = %e, file = file.filename, "could not share a file in the thread (is files:write granted?)");
            }
        }
    }

    /// The bot is not in the channel: the card through `response_url`, for everyone.
    pub(super) async fn answer_outside(
        &self,
        asker: &Asker,
        card: &SlackMessageContent,
    ) -> Result<(), Outcome> {
        let Some(url) = &asker.response_url else {
            tracing::warn!(
                channel = asker.channel,
                "not in the channel and no response_url to answer through"
            );
            return Err(Outcome::NotInChannel);
        };
        if let Err(e) = self.poster.respond(url, card, true).await {
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
    pub(super) async fn update_card(
        &self,
        asker: &Asker,
        ts: Option<&str>,
        answer: &Investigation,
    ) -> Outcome {
        let Some(ts) = ts else {
            self.tell_asker(
                asker,
                ":warning: Slack did not say which card to update; run `/ecs why` again",
            )
            .await;
            return Outcome::BadInput;
        };
        let mut card = self
            .with_actions(blocks::card_of(answer), answer, &asker.channel)
            .await;
        blocks::stamp_rechecked(&mut card, chrono::Utc::now(), &asker.user);
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
}
