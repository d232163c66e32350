//! Answering a button: Acknowledge and Mute act on an alert's incident, Re-run asks
//! again for the same card, the others post what the investigation found in the card's
//! thread.

use super::Bot;
use crate::follow_up::{ButtonRef, FollowUp};
use crate::investigate::access::Channel;
use crate::investigate::{target_of, Access};
use crate::render::blocks;
use crate::render::escape::mrkdwn;
use crate::slack::actions::ButtonPress;
use crate::slack::ask::{Ask, Asker, ReplyTo};
use crate::slack::replies::{self, failure_message, Outcome};
use crate::slack_api::PostError;

impl Bot {
    /// Answer a button: "Re-run" is an [`Ask`] for the same card; the others post what
    /// the investigation found, rendered, in the card's thread.
    pub(super) async fn follow_up(
        &self,
        press: ButtonPress,
        kind: FollowUp,
        button: ButtonRef,
    ) -> Outcome {
        let asker = Asker::from(&press);
        if matches!(kind, FollowUp::Acknowledge | FollowUp::Mute) {
            let pressed = crate::incidents::buttons::press(
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
        if button.task_arn.is_empty() {
            // Only Acknowledge and Mute work without a task (an incident of tasks that
            // never started); anything else was not offered on such a card.
            let why = "this button needs a task, and this card has none; run `/ecs why <task>`";
            self.tell_asker(&asker, &replies::warning(why)).await;
            return Outcome::BadInput;
        }
        self.channel_names
            .learn(&asker.channel, press.channel_name.as_deref());
        // The task's account first, then the channel's mapping found the same way as for
        // the command that posted the card: by id, then by name.
        let channel = Channel {
            id: &asker.channel,
            name: press.channel_name.as_deref(),
        };
        let access = Access::resolve(
            &self.settings,
            crate::arn::account(&button.task_arn),
            Some(channel),
        );
        if kind == FollowUp::Rerun {
            let target = match target_of(&button) {
                Ok(target) => target,
                Err(e) => {
                    self.tell_asker(&asker, &replies::warning(&e.message)).await;
                    return Outcome::BadInput;
                }
            };
            let ask = Ask {
                target,
                access,
                asker,
                reply_to: ReplyTo::SameCard {
                    ts: press.message_ts,
                },
            };
            return self.route(ask).await;
        }
        let found = match self.permit().await {
            Ok(_permit) => {
                self.before_the_answer_limit(self.investigator.follow_up(kind, &button, &access))
                    .await
            }
            Err(e) => Err(e),
        };
        let messages = match found {
            Ok(found) => blocks::answer::follow_up(kind, &button, &found),
            Err(e) => {
                let message = match target_of(&button) {
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
