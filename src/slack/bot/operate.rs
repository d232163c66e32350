//! The bot's side of Roll back and Restart: action buttons on the cards it posts, and
//! presses handed to [`crate::actions`] (which checks them again and acts). A refused
//! press is answered privately; the rate limit per user applies as to any button.

use super::Bot;
use crate::actions::press::Press;
use crate::actions::ActionKind;
use crate::investigate::Investigation;
use crate::metrics;
use crate::render::blocks::MAX_CARD_BUTTONS;
use crate::render::escape::mrkdwn;
use crate::slack::actions::ButtonPress;
use crate::slack::ask::Asker;
use crate::slack::replies;
use slack_morphism::prelude::SlackMessageContent;
use std::sync::Arc;

impl Bot {
    /// `card` of `answer` with the actions it may offer in `channel` (unchanged when
    /// actions are off).
    pub(super) async fn with_actions(
        &self,
        card: SlackMessageContent,
        answer: &Investigation,
        channel: &str,
    ) -> SlackMessageContent {
        match &self.actions {
            Some(actions) => {
                actions
                    .offer_on(&card, &answer.evidence, channel, None, MAX_CARD_BUTTONS)
                    .await
            }
            None => card,
        }
    }

    /// A Roll back or Restart press: checked and carried out in the background.
    pub(super) fn operate(
        self: &Arc<Self>,
        press: ButtonPress,
        operate: Result<(ActionKind, String), String>,
    ) {
        let asker = Asker::from(&press);
        let bot = self.clone();
        let refuse = |label: &'static str, why: String| {
            metrics::action(label, "refused");
            let message = format!(":no_entry: Nothing was changed: {}", mrkdwn(&why));
            let bot = bot.clone();
            let asker = asker.clone();
            self.spawn(async move { bot.tell_asker(&asker, &message).await });
        };
        let (kind, offer_id) = match operate {
            Ok(found) => found,
            Err(why) => return refuse("invalid", why),
        };
        let Some(actions) = self.actions.clone() else {
            return refuse(
                kind.label(),
                "actions are off in this bot's configuration ([actions] is not set)".into(),
            );
        };
        if let Err(wait) = self.users.check(&press.user_id) {
            metrics::action(kind.label(), "refused");
            let message = replies::slow_down(wait);
            self.spawn(async move { bot.tell_asker(&asker, &message).await });
            return;
        }
        let Some(channel) = press.channel_id.clone() else {
            return refuse(kind.label(), "Slack did not say in which channel".into());
        };
        let action = Press {
            kind,
            offer_id,
            user: press.user_id.clone(),
            channel,
            card_ts: press.message_ts.clone(),
            thread_ts: press.thread_ts.clone(),
            card: press.card.clone(),
        };
        self.spawn(async move {
            if let Err(why) = actions.press(action).await {
                // Mentions and dates in `why` are the bot's own; the rest is escaped.
                let message = format!(":no_entry: Nothing was changed: {why}");
                bot.tell_asker(&asker, &message).await;
            }
        });
    }
}
