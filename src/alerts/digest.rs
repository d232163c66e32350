//! The daily digest of a route with `digest = "09:00 Europe/Berlin"`: once a day, in the
//! route's channel, once across replicas, what on-call should know at the start of the
//! day: incidents still open (with links), incidents recovered in the last 24 hours and
//! how long they took, the top causes of the last 24 hours' stops, and the mutes in force
//! with their expiry. Nothing to say, no digest.
//!
//! Every replica's sweep looks whether a digest is due (its time has come within the last
//! [`DUE_FOR`]); the one that claims the channel's day posts it.

use super::announce::Announcer;
use crate::config::routes::DigestTime;
use crate::incidents::{date, minutes_between, stored_parent, tasks_stopped};
use crate::render::escape::mrkdwn;
use crate::state::{self, recent_index, Incident};
use chrono::{NaiveDate, TimeZone};
use serde_json::Value;
use slack_morphism::prelude::SlackMessageContent;
use std::collections::BTreeMap;
use std::time::Duration;

/// How long after its time a digest may still be posted (a replica that was down at
/// 09:00 does not post the day's digest at noon).
pub const DUE_FOR: Duration = Duration::from_secs(600);
/// How long a day's digest claim is kept.
const CLAIM_KEEP: Duration = Duration::from_secs(2 * 86_400);
/// What "today" covers: the last 24 hours.
const DAY: i64 = 86_400;
/// Lines per part at most.
const MAX_LINES: usize = 15;

/// The day and time (epoch seconds) of the latest digest at or before `now`, in its zone;
/// a time that does not exist that day (a DST gap) is skipped.
pub fn last_due(at: DigestTime, now: i64) -> Option<(NaiveDate, i64)> {
    let local = chrono::DateTime::from_timestamp(now, 0)?.with_timezone(&at.zone);
    (0..=1).find_map(|days_back| {
        let day = local
            .date_naive()
            .checked_sub_days(chrono::Days::new(days_back))?;
        let time = day.and_hms_opt(at.hour, at.minute, 0)?;
        let due = at.zone.from_local_datetime(&time).earliest()?.timestamp();
        (due <= now).then_some((day, due))
    })
}

/// What a digest says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Digest {
    pub open: Vec<String>,
    pub recovered: Vec<String>,
    /// Catalog id → stops in the last 24 hours, most first.
    pub causes: Vec<(String, usize)>,
    pub mutes: Vec<String>,
}

impl Digest {
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
            && self.recovered.is_empty()
            && self.causes.is_empty()
            && self.mutes.is_empty()
    }

    /// The message, in Slack's mrkdwn.
    pub fn text(&self, day: NaiveDate) -> String {
        let mut parts = vec![format!("*ecs-why daily digest* · {day}")];
        let list = |title: String, lines: &[String]| -> Option<String> {
            if lines.is_empty() {
                return None;
            }
            let mut shown: Vec<String> = lines.iter().take(MAX_LINES).cloned().collect();
            if lines.len() > MAX_LINES {
                shown.push(format!("• … and {} more", lines.len() - MAX_LINES));
            }
            Some(format!("{title}\n{}", shown.join("\n")))
        };
        parts.extend(list(
            format!(":red_circle: *Still open* ({})", self.open.len()),
            &self.open,
        ));
        parts.extend(list(
            format!(
                ":white_check_mark: *Recovered in the last 24 h* ({})",
                self.recovered.len()
            ),
            &self.recovered,
        ));
        if !self.causes.is_empty() {
            let causes: Vec<String> = self
                .causes
                .iter()
                .take(5)
                .map(|(cause, n)| format!("`{cause}` {n}"))
                .collect();
            parts.push(format!(
                ":bar_chart: *Top causes of the last 24 h's stops:* {}",
                causes.join(" · ")
            ));
        }
        parts.extend(list(
            format!(":no_bell: *Mutes in force* ({})", self.mutes.len()),
            &self.mutes,
        ));
        parts.join("\n\n")
    }
}

/// The cause of an incident, from its key (`incident#CHANNEL#CLUSTER#SUBJECT#CAUSE#…`).
fn cause_of(key: &str) -> String {
    key.split('#').nth(4).unwrap_or("other").to_string()
}

/// The title an incident's card was posted with, else its service from the key.
fn title_of(incident: &Incident) -> String {
    let header = stored_parent(incident).and_then(|(_, card)| {
        let value = serde_json::to_value(card).ok()?;
        value
            .get("blocks")?
            .as_array()?
            .iter()
            .find(|b| b.get("type").and_then(Value::as_str) == Some("header"))?
            .pointer("/text/text")?
            .as_str()
            .map(str::to_string)
    });
    header.unwrap_or_else(|| {
        incident
            .key
            .split('#')
            .nth(3)
            .unwrap_or("an incident")
            .to_string()
    })
}

impl Announcer {
    /// Post every digest that is due and not posted yet.
    pub(super) async fn digests(&self, now: i64) {
        let mut channels: Vec<(&str, DigestTime)> = self
            .settings
            .alerts
            .routes
            .iter()
            .filter_map(|r| Some((r.channel.as_str(), r.digest?)))
            .collect();
        channels.dedup_by(|a, b| a.0 == b.0);
        for (channel, at) in channels {
            let Some((day, due)) = last_due(at, now) else {
                continue;
            };
            if now >= due + state::secs(DUE_FOR) {
                continue;
            }
            if let Err(e) = self.digest_in(channel, day, now).await {
                tracing::warn!(channel, error = e, "could not post the daily digest");
            }
        }
    }

    async fn digest_in(&self, channel: &str, day: NaiveDate, now: i64) -> Result<(), String> {
        let store = |e: state::StateError| e.to_string();
        let digest = self.digest(channel, now).await?;
        if digest.is_empty() {
            return Ok(());
        }
        let claim = format!("digest#{channel}#{day}");
        if !self
            .state
            .first_time(&claim, CLAIM_KEEP)
            .await
            .map_err(store)?
        {
            return Ok(());
        }
        let content = SlackMessageContent::new().with_text(digest.text(day));
        self.outbox
            .post_parent(channel, content)
            .await
            .map_err(|e| format!("could not post it: {e}"))?;
        tracing::info!(channel, %day, "daily digest posted");
        Ok(())
    }

    /// What the digest of `channel` says at `now`.
    pub async fn digest(&self, channel: &str, now: i64) -> Result<Digest, String> {
        let store = |e: state::StateError| e.to_string();
        let index = recent_index(channel);
        let keys = self.state.open_incidents(&index).await.map_err(store)?;
        let mut digest = Digest::default();
        let mut causes: BTreeMap<String, usize> = BTreeMap::new();
        for key in keys {
            let incident = self.state.incident(&key).await.map_err(store)?;
            // Kept while it was open or recovered within two days.
            let recent = |i: &Incident| i.recovered_at.unwrap_or(i.active_until) >= now - 2 * DAY;
            let Some(incident) = incident.filter(recent) else {
                self.state.unlist(&index, &key).await.map_err(store)?;
                continue;
            };
            let today = incident
                .stops
                .values()
                .filter(|at| **at >= now - DAY)
                .count();
            if today > 0 {
                *causes.entry(cause_of(&key)).or_default() += today;
            }
            let title = mrkdwn(&title_of(&incident)).into_owned();
            match incident.recovered_at {
                Some(at) if at >= now - DAY => {
                    let first = incident.span().map_or(incident.opened_at, |(f, _)| f);
                    digest.recovered.push(format!(
                        "• {title}: recovered {} after {} min, {}",
                        date(at, "{date_short} {time}"),
                        minutes_between(first, at),
                        tasks_stopped(incident.count())
                    ));
                }
                Some(_) => {}
                None if incident.active_until >= now => {
                    digest.open.push(self.open_line(&incident, &title).await);
                    if let Some(until) = incident.muted_until.filter(|u| *u > now) {
                        let until = date(until, "{date_short} {time}");
                        digest.mutes.push(if incident.mute_until_recovered {
                            format!("• {title}: until recovered, at most {until}")
                        } else {
                            format!("• {title}: until {until}")
                        });
                    }
                }
                None => {}
            }
        }
        let mut causes: Vec<(String, usize)> = causes.into_iter().collect();
        causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        digest.causes = causes;
        Ok(digest)
    }

    /// "• <link|web: out of memory>: 6 tasks stopped since 09:12 · acknowledged by @jane".
    async fn open_line(&self, incident: &Incident, title: &str) -> String {
        let link = match &incident.parent_ts {
            Some(ts) => self
                .outbox
                .poster()
                .permalink(&incident.channel, ts)
                .await
                .ok(),
            None => None,
        };
        let named = match link {
            Some(link) => format!("<{link}|{title}>"),
            None => title.to_string(),
        };
        let first = incident.span().map_or(incident.opened_at, |(f, _)| f);
        let mut line = format!(
            "• {named}: {} since {}",
            tasks_stopped(incident.count()),
            date(first, "{date_short} {time}")
        );
        if let Some(user) = &incident.acknowledged_by {
            line.push_str(&format!(" · acknowledged by <@{}>", mrkdwn(user)));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32, minute: u32, zone: &str) -> DigestTime {
        DigestTime {
            hour,
            minute,
            zone: zone.parse().expect("a zone"),
        }
    }

    #[test]
    fn the_digest_is_due_at_its_local_time() {
        // 2026-12-07 08:30 UTC is 09:30 in Berlin (CET, UTC+1).
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 12, 7, 8, 30, 0)
            .unwrap()
            .timestamp();
        let (day, due) = last_due(at(9, 0, "Europe/Berlin"), now).unwrap();
        assert_eq!(day.to_string(), "2026-12-07");
        assert_eq!(now - due, 1800, "due at 08:00 UTC");
        // Before 10:00 Berlin time the latest 10:00 was yesterday's.
        let (day, _) = last_due(at(10, 0, "Europe/Berlin"), now).unwrap();
        assert_eq!(day.to_string(), "2026-12-06");
        // Summer time: 09:00 in Berlin is 07:00 UTC.
        let summer = chrono::Utc
            .with_ymd_and_hms(2026, 7, 1, 7, 5, 0)
            .unwrap()
            .timestamp();
        let (_, due) = last_due(at(9, 0, "Europe/Berlin"), summer).unwrap();
        assert_eq!(summer - due, 300);
    }

    #[test]
    fn a_digest_lists_what_there_is_and_nothing_else() {
        let empty = Digest::default();
        assert!(empty.is_empty());
        let digest = Digest {
            open: vec!["• web: out of memory: 3 tasks stopped".into()],
            causes: vec![("out-of-memory".into(), 3)],
            ..Digest::default()
        };
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let text = digest.text(day);
        assert!(text.contains("*Still open* (1)"), "{text}");
        assert!(text.contains("`out-of-memory` 3"), "{text}");
        assert!(
            !text.contains("Recovered") && !text.contains("Mutes"),
            "{text}"
        );
        assert_eq!(
            cause_of("incident#C1#prod#service:web#out-of-memory#x#y"),
            "out-of-memory"
        );
    }
}
