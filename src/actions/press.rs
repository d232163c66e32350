//! The actions service: offers buttons on cards, and answers their presses.
//!
//! A press is trusted for nothing but the offer id it carries and who Slack says pressed
//! it, in which channel. In order: the id has an offer's shape and names one the bot
//! made (not expired); it is the action its button said; the channel is the offer's and
//! has actions on; the presser is allowed (a user id in `allowed`, or a member of an
//! allowed user group, looked up and kept a minute); nobody started this offer before
//! (one conditional write: two presses, people or replicas, one winner, and the others
//! are told who started it and when); and no other action on the service is under way.
//! A refused press changes nothing and its presser is told why; every step is counted in
//! `ecs_why_actions_total` and written to the audit log (target `ecs_why::audit`).

use super::lease::Lease;
use super::watch::{self, Progress};
use super::{
    card, offer, run, ActionKind, Attempt, Offer, Started, ACTION_LEASE, OFFER_KEEP, WATCH_AT_MOST,
};
use crate::config::Settings;
use crate::evidence::Evidence;
use crate::render::escape::mrkdwn;
use crate::slack_api::Poster;
use crate::state::{self, StateStore};
use serde_json::Value;
use slack_morphism::prelude::SlackMessageContent;
use std::sync::Arc;
use std::time::Duration;

/// How long a user group's members are trusted before they are looked up again.
const MEMBERS_KEEP: Duration = Duration::from_secs(60);
/// The first looks at a deployment come sooner than the later ones.
const FIRST_LOOKS: [Duration; 2] = [Duration::from_secs(5), Duration::from_secs(10)];
const LOOK_EVERY: Duration = Duration::from_secs(15);
/// DescribeServices failures in a row before the watch gives up.
const WATCH_FAILURES: u32 = 5;

/// Offers actions on cards and carries out their presses.
pub struct Actions {
    pub(super) settings: Arc<Settings>,
    pub(super) state: Arc<dyn StateStore>,
    poster: Poster,
    members: moka::future::Cache<String, Arc<Vec<String>>>,
}

/// A press of an action button, as Slack reported it.
pub struct Press {
    pub kind: ActionKind,
    pub offer_id: String,
    pub user: String,
    pub channel: String,
    /// The card the button is on.
    pub card_ts: Option<String>,
    /// The thread the card is in (or the card itself).
    pub thread_ts: Option<String>,
    /// The card as Slack sent it with the press (Block Kit JSON).
    pub card: Option<Value>,
}

impl Actions {
    /// The service, when `[actions]` is configured; `None`: no button, no write call.
    pub fn new(
        settings: Arc<Settings>,
        state: Arc<dyn StateStore>,
        poster: Poster,
    ) -> Option<Arc<Actions>> {
        settings.actions.as_ref()?;
        Some(Arc::new(Actions {
            settings,
            state,
            poster,
            members: moka::future::Cache::builder()
                .max_capacity(1_000)
                .time_to_live(MEMBERS_KEEP)
                .build(),
        }))
    }

    /// `card` with the actions `evidence` allows in `channel` (each kept as an offer
    /// first), within `limit` buttons. Unchanged when none applies or the offers cannot
    /// be kept (then nothing could be pressed).
    pub async fn offer_on(
        &self,
        card: &SlackMessageContent,
        evidence: &Evidence,
        channel: &str,
        incident: Option<&str>,
        limit: usize,
    ) -> SlackMessageContent {
        let Some(actions) = &self.settings.actions else {
            return card.clone();
        };
        let offers = offer::possible(evidence, channel, incident, actions, state::now());
        if offers.is_empty() {
            return card.clone();
        }
        let mut buttons = Vec::new();
        for offered in &offers {
            let Some(id) = super::new_offer_id() else {
                tracing::warn!("no random offer id (is /dev/urandom readable?); no action offered");
                return card.clone();
            };
            let kept = serde_json::to_string(offered).unwrap_or_default();
            match self
                .state
                .hold(&super::offer_key(&id), &kept, OFFER_KEEP)
                .await
            {
                Ok(None) => buttons.push(offer::button(offered, &id, &self.settings.accounts)),
                Ok(Some(_)) => tracing::warn!("an offer id was taken already; action not offered"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not keep an action's offer; not offered");
                    return card.clone();
                }
            }
        }
        let Ok(mut value) = serde_json::to_value(card) else {
            return card.clone();
        };
        offer::fit(&mut value, buttons, limit);
        serde_json::from_value(value).unwrap_or_else(|_| card.clone())
    }

    /// Check `press` and, if it passes, start its action (or take over one whose
    /// replica went away). `Err` is a sentence (mrkdwn, its untrusted parts escaped)
    /// for the presser alone: nothing was changed.
    pub async fn press(self: &Arc<Self>, press: Press) -> Result<(), String> {
        let checked = self.check(&press).await;
        let (offer, role, lease) = match checked {
            Ok(found) => found,
            Err(why) => {
                audit(press.kind, "refused", &press.user, None, &why);
                return Err(why);
            }
        };
        self.start(press, offer, role, lease).await;
        Ok(())
    }

    /// Everything a press must pass before anything is called; on success this press
    /// holds the offer and the service (leased, renewed while this replica works).
    async fn check(&self, press: &Press) -> Result<(Offer, String, Lease), String> {
        let Some(actions) = &self.settings.actions else {
            return Err("actions are off in this bot's configuration".into());
        };
        let not_offered = || {
            "this button is not an action ecs-why offered, or its offer ran out (offers last a day); run `/ecs why` again for a new card".to_string()
        };
        if !super::is_offer_id(&press.offer_id) {
            return Err(not_offered());
        }
        let kept = self
            .state
            .held(&super::offer_key(&press.offer_id))
            .await
            .map_err(|e| format!("could not read the offer: {}", mrkdwn(&e.to_string())))?
            .ok_or_else(not_offered)?;
        let offer: Offer = serde_json::from_str(&kept).map_err(|_| not_offered())?;
        if offer.kind != press.kind {
            return Err(not_offered());
        }
        if offer.channel != press.channel || !actions.in_channel(&press.channel) {
            return Err(
                "actions are not on in this channel ([actions] channels); nothing was changed"
                    .into(),
            );
        }
        self.allowed(&press.user, &actions.allowed).await?;
        let Some(role) = actions.role_for(&offer.account) else {
            return Err(format!(
                "no write role is configured for account {} ([actions] role_arn, or [actions.accounts.\"{}\"]); nothing was changed",
                offer.account, offer.account
            ));
        };
        let started = Started {
            user: press.user.clone(),
            at: state::now(),
            kind: offer.kind,
            offer: press.offer_id.clone(),
            done: false,
        };
        let mine = serde_json::to_string(&started).unwrap_or_default();
        let store_failed =
            |e: state::StateError| format!("nothing was changed: {}", mrkdwn(&e.to_string()));
        let started_key = super::started_key(&press.offer_id);
        if let Some(holder) = self
            .state
            .hold(&started_key, &mine, ACTION_LEASE)
            .await
            .map_err(store_failed)?
        {
            return Err(match serde_json::from_str::<Started>(&holder) {
                Ok(by) if by.done => format!(
                    "<@{}> ran this {} {}; its outcome is in the thread",
                    by.user,
                    by.kind.label(),
                    slack_time(by.at)
                ),
                Ok(by) => format!(
                    "<@{}> started this {} {}; its outcome comes in the thread",
                    by.user,
                    by.kind.label(),
                    slack_time(by.at)
                ),
                Err(_) => "someone started this action already".into(),
            });
        }
        let held = self
            .state
            .hold(&offer.service_key(), &mine, ACTION_LEASE)
            .await;
        match held {
            Ok(None) => {
                let keys = vec![started_key, offer.service_key()];
                let lease = Lease::keep(self.state.clone(), keys, mine);
                Ok((offer, role.to_string(), lease))
            }
            Ok(Some(holder)) => {
                let _ = self.state.release(&started_key, &mine).await;
                Err(match serde_json::from_str::<Started>(&holder) {
                    Ok(by) => format!(
                        "a {} of {} by <@{}> began {} and is still being watched; nothing was changed, wait for its outcome",
                        by.kind.label(),
                        mrkdwn(&offer.service),
                        by.user,
                        slack_time(by.at)
                    ),
                    Err(_) => format!(
                        "another action on {} is under way; nothing was changed",
                        mrkdwn(&offer.service)
                    ),
                })
            }
            Err(e) => {
                let _ = self.state.release(&started_key, &mine).await;
                Err(store_failed(e))
            }
        }
    }

    /// `user` is in `allowed`, or in one of its user groups.
    async fn allowed(&self, user: &str, allowed: &[String]) -> Result<(), String> {
        if allowed.iter().any(|a| a == user) {
            return Ok(());
        }
        let mut unchecked = Vec::new();
        for group in allowed.iter().filter(|a| a.starts_with('S')) {
            let poster = self.poster.clone();
            let members = self
                .members
                .try_get_with(group.clone(), async move {
                    poster.usergroup_members(group).await.map(Arc::new)
                })
                .await;
            match members {
                Ok(members) if members.iter().any(|m| m == user) => return Ok(()),
                Ok(_) => {}
                Err(e) => unchecked.push(format!("{group} ({})", mrkdwn(&e.to_string()))),
            }
        }
        if unchecked.is_empty() {
            Err("you are not on this bot's actions allow-list ([actions] allowed); ask someone who is, or an operator to add you".into())
        } else {
            Err(format!(
                "you are not on the actions allow-list by id, and the user groups could not be read: {}; is the usergroups:read scope granted?",
                unchecked.join(", ")
            ))
        }
    }

    /// Assume the write role, check the service is as offered, call UpdateService once
    /// (or, taking over from a replica that went away, find the deployment it started),
    /// say so in the thread, then watch the deployment in the background.
    pub(super) async fn start(
        self: &Arc<Self>,
        press: Press,
        offer: Offer,
        role: String,
        lease: Lease,
    ) {
        let place = offer::where_(&offer, &self.settings.accounts);
        let attempt_key = super::attempt_key(&press.offer_id);
        let attempt = Attempt {
            user: press.user.clone(),
            at: state::now(),
            deployment: None,
            channel: press.channel.clone(),
            card_ts: press.card_ts.clone(),
            thread_ts: press.thread_ts.clone(),
            card: press.card.clone(),
        };
        let first = serde_json::to_string(&attempt).unwrap_or_default();
        let earlier = match self.state.hold(&attempt_key, &first, OFFER_KEEP).await {
            Ok(None) => {
                // Every replica's sweep finishes it if this one goes away.
                if let Err(e) = self.state.list(super::RUNNING, &press.offer_id).await {
                    tracing::warn!(error = %e, "could not list an action as running");
                }
                None
            }
            Ok(Some(earlier)) => serde_json::from_str::<Attempt>(&earlier).ok(),
            Err(e) => {
                self.not_started(&press, &offer, &e.to_string(), lease)
                    .await;
                return;
            }
        };
        let begun = async {
            let session = run::assume(&role, &press.user, &offer.region).await?;
            if let Some(earlier) = &earlier {
                let found = self.earlier_deployment(&session, &offer, earlier).await?;
                if let Some(deployment) = found {
                    return Ok::<_, String>((session, deployment, true));
                }
            }
            let now = run::service_now(&session, &offer).await?;
            if offer.kind == ActionKind::RollBack {
                let runs = crate::arn::task_definition_name(&now.task_definition);
                if runs != offer.from_name() {
                    return Err(format!(
                        "{} runs {runs} now, not {} as when this was offered; run `/ecs why` again for a new card",
                        offer.service,
                        offer.from_name()
                    ));
                }
                if let Some(to) = &offer.to {
                    run::target_deployable(&session, to).await?;
                }
            }
            let deployment = run::update(&session, &offer).await?;
            Ok((session, deployment, false))
        }
        .await;
        let (session, deployment, taken_over) = match begun {
            Ok(begun) => begun,
            Err(why) => {
                self.not_started(&press, &offer, &why, lease).await;
                return;
            }
        };
        let recorded = Attempt {
            deployment: Some(deployment.clone()),
            ..earlier.clone().unwrap_or(attempt)
        };
        let recorded = serde_json::to_string(&recorded).unwrap_or_default();
        let current = self.state.held(&attempt_key).await.ok().flatten();
        if let Some(current) = current {
            if let Err(e) = self
                .state
                .replace(&attempt_key, &current, &recorded, OFFER_KEEP)
                .await
            {
                tracing::warn!(error = %e, "could not record an action's deployment");
            }
        }
        let outcome = if taken_over { "resumed" } else { "started" };
        let detail = format!("deployment {deployment} as {}", session.assumed);
        audit(offer.kind, outcome, &press.user, Some(&offer), &detail);
        let line = match (&earlier, taken_over) {
            (Some(earlier), true) if earlier.user == press.user => format!(
                ":eyes: <@{}>'s {} of *{}* is watched again (the replica doing it went away) · deployment `{}`",
                earlier.user,
                offer.kind.label(),
                crate::render::escape::mrkdwn(&offer.service),
                crate::render::escape::mrkdwn(&deployment)
            ),
            (Some(earlier), true) => format!(
                ":eyes: <@{}> picked up <@{}>'s {} of *{}* (the replica doing it went away) · deployment `{}`",
                press.user,
                earlier.user,
                offer.kind.label(),
                crate::render::escape::mrkdwn(&offer.service),
                crate::render::escape::mrkdwn(&deployment)
            ),
            _ => watch::started_line(&offer, &press.user, &place, &deployment),
        };
        self.say(&press, &line).await;
        let state_line = format!(
            ":hourglass_flowing_sand: {} under way, started by <@{}> {}",
            match offer.kind {
                ActionKind::RollBack => format!("rollback to `{}`", offer.to_name().unwrap_or("?")),
                ActionKind::Restart => "restart".to_string(),
            },
            earlier
                .as_ref()
                .map_or(press.user.as_str(), |e| e.user.as_str()),
            slack_time(state::now())
        );
        self.show_state(&press, &offer, &state_line).await;
        let actions = self.clone();
        tokio::spawn(async move {
            actions
                .watch(press, offer, session, deployment, lease)
                .await;
        });
    }

    /// The deployment an earlier attempt of this offer started, when its replica went
    /// away: the one it recorded, else one the service began after the attempt (it may
    /// have died between UpdateService and recording). `None`: it never called.
    async fn earlier_deployment(
        &self,
        session: &run::WriteSession,
        offer: &Offer,
        earlier: &Attempt,
    ) -> Result<Option<String>, String> {
        if let Some(deployment) = &earlier.deployment {
            return Ok(Some(deployment.clone()));
        }
        let now = run::service_now(session, offer).await?;
        let began_after = now.deployments.iter().find(|d| {
            d.status.as_deref() == Some("PRIMARY")
                && d.created_at
                    .is_some_and(|t| t.timestamp() >= earlier.at - 5)
        });
        let rolled = offer.kind == ActionKind::RollBack
            && offer.to_name() == Some(crate::arn::task_definition_name(&now.task_definition));
        Ok(match began_after {
            Some(d) => Some(d.id.clone()),
            None if rolled => now
                .deployments
                .iter()
                .find(|d| d.status.as_deref() == Some("PRIMARY"))
                .map(|d| d.id.clone()),
            None => None,
        })
    }

    /// The action could not start: say why in the thread, and let go of the offer and
    /// the service so it can be pressed again.
    async fn not_started(&self, press: &Press, offer: &Offer, why: &str, lease: Lease) {
        audit(offer.kind, "not_started", &press.user, Some(offer), why);
        lease.release().await;
        if let Err(e) = self.state.unlist(super::RUNNING, &press.offer_id).await {
            tracing::warn!(error = %e, "could not unlist an action");
        }
        self.forget_attempt(&press.offer_id).await;
        let line = format!(
            ":warning: <@{}>'s {} of *{}* did not start: {}. Nothing was changed.",
            press.user,
            offer.kind.label(),
            crate::render::escape::mrkdwn(&offer.service),
            crate::render::escape::mrkdwn(why)
        );
        self.say(press, &line).await;
    }

    /// Forget an attempt that started no deployment, so the offer can be pressed again.
    async fn forget_attempt(&self, id: &str) {
        let key = super::attempt_key(id);
        if let Ok(Some(kept)) = self.state.held(&key).await {
            if serde_json::from_str::<Attempt>(&kept).is_ok_and(|a| a.deployment.is_none()) {
                if let Err(e) = self.state.release(&key, &kept).await {
                    tracing::warn!(error = %e, "could not forget an action's attempt");
                }
            }
        }
    }

    /// Look at the deployment until it completes (then stays steady for `settle`),
    /// fails, is replaced, or [`WATCH_AT_MOST`] passes; then say how it went. Stops
    /// silently if another replica took the action over.
    async fn watch(
        &self,
        press: Press,
        offer: Offer,
        session: run::WriteSession,
        deployment: String,
        lease: Lease,
    ) {
        let settle = self
            .settings
            .actions
            .as_ref()
            .map_or(crate::config::actions::DEFAULT_SETTLE, |a| a.settle);
        let deadline = tokio::time::Instant::now() + WATCH_AT_MOST;
        let mut waits = FIRST_LOOKS.into_iter().chain(std::iter::repeat(LOOK_EVERY));
        let mut failures = 0;
        let mut last: Progress;
        let mut finished = false;
        loop {
            tokio::time::sleep(waits.next().unwrap_or(LOOK_EVERY)).await;
            if lease.lost() {
                return;
            }
            match run::service_now(&session, &offer).await {
                Ok(now) => {
                    failures = 0;
                    last = watch::judge(&now.deployments, &deployment);
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = e, "could not look at an action's deployment");
                    if failures >= WATCH_FAILURES {
                        last = Progress::Failed(format!("could not follow the deployment: {e}"));
                        break;
                    }
                    continue;
                }
            }
            match last {
                Progress::Reached { .. } => {
                    tokio::time::sleep(settle).await;
                    if let Ok(now) = run::service_now(&session, &offer).await {
                        last = watch::judge(&now.deployments, &deployment);
                    }
                    finished = matches!(last, Progress::Reached { running, desired } if running >= desired);
                    break;
                }
                Progress::Failed(_) | Progress::Superseded(_) => break,
                Progress::Rolling { .. } if tokio::time::Instant::now() >= deadline => break,
                Progress::Rolling { .. } => {}
            }
        }
        if lease.lost() {
            return;
        }
        let outcome = watch::outcome_label(&last, finished);
        let line = watch::outcome_line(&offer, &last, settle, finished);
        audit(
            offer.kind,
            outcome,
            &press.user,
            Some(&offer),
            &format!("deployment {deployment}"),
        );
        self.say(&press, &line).await;
        self.show_state(&press, &offer, &line).await;
        let done = Started {
            user: press.user.clone(),
            at: state::now(),
            kind: offer.kind,
            offer: press.offer_id.clone(),
            done: true,
        };
        let done = serde_json::to_string(&done).unwrap_or_default();
        lease.finish(&done, OFFER_KEEP).await;
        if let Err(e) = self.state.unlist(super::RUNNING, &press.offer_id).await {
            tracing::warn!(error = %e, "could not unlist a finished action");
        }
    }

    /// A line in the card's thread, for everyone.
    async fn say(&self, press: &Press, line: &str) {
        let thread = press.thread_ts.as_deref().or(press.card_ts.as_deref());
        let content = SlackMessageContent::new().with_text(line.to_string());
        if let Err(e) = self
            .poster
            .post_message(&press.channel, thread, &content)
            .await
        {
            tracing::warn!(error = %e, "could not post an action's line in its thread");
        }
    }

    /// The card's action buttons replaced by `line`: on the alert's stored parent when
    /// the card is one (so later updates keep it), else on the card as pressed.
    async fn show_state(&self, press: &Press, offer: &Offer, line: &str) {
        let Some(ts) = press.card_ts.as_deref() else {
            return;
        };
        if let Some(key) = &offer.incident {
            if let Ok(Some(incident)) = self.state.incident(key).await {
                if let Some((parent_ts, stored)) = crate::incidents::stored_parent(&incident) {
                    if parent_ts == ts {
                        let Ok(value) = serde_json::to_value(&stored) else {
                            return;
                        };
                        let changed = card::with_state(&value, line);
                        let text = changed.to_string();
                        if let Err(e) = self.state.set_parent(key, ts, &text).await {
                            tracing::warn!(error = %e, "could not record the card's action state");
                        }
                        if let Ok(changed) = serde_json::from_value(changed) {
                            let shown = crate::incidents::parent(&changed, &incident, state::now());
                            if let Err(e) = self.poster.update(&press.channel, ts, &shown).await {
                                tracing::warn!(error = %e, "could not show the action's state on the card");
                            }
                        }
                        return;
                    }
                }
            }
        }
        let Some(pressed) = &press.card else {
            return;
        };
        let changed = card::with_state(pressed, line);
        match serde_json::from_value::<SlackMessageContent>(changed) {
            Ok(content) => {
                if let Err(e) = self.poster.update(&press.channel, ts, &content).await {
                    tracing::warn!(error = %e, "could not show the action's state on the card");
                }
            }
            Err(e) => tracing::warn!(error = %e, "the pressed card could not be read back"),
        }
    }
}

/// Count a step of an action and write its audit line (target `ecs_why::audit`): who,
/// what, where, and the detail (the reason of a refusal, the deployment and the write
/// session of a start).
fn audit(kind: ActionKind, outcome: &'static str, user: &str, offer: Option<&Offer>, detail: &str) {
    crate::metrics::action(kind.label(), outcome);
    let (account, region, cluster, service, from, to) =
        offer.map_or(("", "", "", "", "", ""), |o| {
            (
                o.account.as_str(),
                o.region.as_str(),
                o.cluster.as_str(),
                o.service.as_str(),
                o.from_name(),
                o.to_name().unwrap_or(""),
            )
        });
    tracing::info!(
        target: "ecs_why::audit",
        action = kind.label(),
        outcome,
        user,
        account,
        region,
        cluster,
        service,
        from,
        to,
        detail,
        "action {outcome}"
    );
}

/// `at` as Slack shows a time in each reader's zone ("at 10:42").
fn slack_time(at: i64) -> String {
    let fallback = chrono::DateTime::from_timestamp(at, 0)
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    format!("at <!date^{at}^{{time}}|{fallback}>")
}
