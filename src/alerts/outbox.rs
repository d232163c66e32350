//! Posting alerts at the pace Slack allows: about one message a second per channel.
//!
//! Each channel has a queue worked by one task. Parents (new incidents) go first, so
//! every incident of a storm is announced promptly; thread lines wait and are batched,
//! one message per incident for all its lines pending, so they are delayed, never
//! dropped; parent updates (the count) come last and only the newest per parent is
//! sent. Callers await their post's result, so an SQS message is deleted only after
//! what it caused reached Slack. A 429 is still honoured by [`Poster`].

use crate::slack::post::{PostError, Poster};
use slack_morphism::prelude::SlackMessageContent;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// Posts to Slack, paced per channel.
#[derive(Clone)]
pub struct Outbox {
    poster: Poster,
    spacing: Duration,
    channels: Arc<Mutex<HashMap<String, Arc<ChannelQueue>>>>,
}

#[derive(Default)]
struct ChannelQueue {
    pending: Mutex<Pending>,
    wake: Notify,
}

#[derive(Default)]
struct Pending {
    parents: VecDeque<(
        SlackMessageContent,
        oneshot::Sender<Result<String, PostError>>,
    )>,
    /// By parent ts, in arrival order.
    lines: Vec<LineBatch>,
    /// Newest content per parent ts, and who waits for it.
    updates: Vec<Update>,
}

struct Update {
    ts: String,
    card: SlackMessageContent,
    waiters: Vec<oneshot::Sender<()>>,
}

struct LineBatch {
    parent_ts: String,
    lines: Vec<String>,
    waiters: Vec<oneshot::Sender<Result<(), PostError>>>,
}

/// Lines in one thread message at most (a section's text stays under 3,000 chars).
const MAX_LINES_PER_MESSAGE: usize = 20;

impl Outbox {
    /// `spacing` is the gap between two posts in one channel (1 s for Slack).
    pub fn new(poster: Poster, spacing: Duration) -> Outbox {
        Outbox {
            poster,
            spacing,
            channels: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn queue(&self, channel: &str) -> Arc<ChannelQueue> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(queue) = channels.get(channel) {
            return queue.clone();
        }
        let queue = Arc::new(ChannelQueue::default());
        channels.insert(channel.to_string(), queue.clone());
        let worker = Worker {
            poster: self.poster.clone(),
            spacing: self.spacing,
            channel: channel.to_string(),
            queue: queue.clone(),
        };
        tokio::spawn(worker.run());
        queue
    }

    /// Post a new incident's parent card; returns its ts.
    pub async fn post_parent(
        &self,
        channel: &str,
        card: SlackMessageContent,
    ) -> Result<String, PostError> {
        let (done, result) = oneshot::channel();
        let queue = self.queue(channel);
        queue
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .parents
            .push_back((card, done));
        queue.wake.notify_one();
        result.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Post one line in the thread of `parent_ts`, batched with the other lines waiting
    /// for that thread; returns once the batch is posted.
    pub async fn post_line(
        &self,
        channel: &str,
        parent_ts: &str,
        line: String,
    ) -> Result<(), PostError> {
        let (done, result) = oneshot::channel();
        let queue = self.queue(channel);
        {
            let mut pending = queue.pending.lock().unwrap_or_else(|e| e.into_inner());
            match pending
                .lines
                .iter_mut()
                .find(|b| b.parent_ts == parent_ts && b.lines.len() < MAX_LINES_PER_MESSAGE)
            {
                Some(batch) => {
                    batch.lines.push(line);
                    batch.waiters.push(done);
                }
                None => pending.lines.push(LineBatch {
                    parent_ts: parent_ts.to_string(),
                    lines: vec![line],
                    waiters: vec![done],
                }),
            }
        }
        queue.wake.notify_one();
        result.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Replace the parent at `ts` with `card`; only the newest waiting update of a
    /// parent is sent. Returns once it was sent (or failed, which is logged).
    pub async fn update_parent(&self, channel: &str, ts: &str, card: SlackMessageContent) {
        let (done, sent) = oneshot::channel();
        let queue = self.queue(channel);
        {
            let mut pending = queue.pending.lock().unwrap_or_else(|e| e.into_inner());
            match pending.updates.iter_mut().find(|u| u.ts == ts) {
                Some(update) => {
                    update.card = card;
                    update.waiters.push(done);
                }
                None => pending.updates.push(Update {
                    ts: ts.to_string(),
                    card,
                    waiters: vec![done],
                }),
            }
        }
        queue.wake.notify_one();
        let _ = sent.await;
    }

    /// Posts waiting in every channel (for tests and shutdown).
    pub fn waiting(&self) -> usize {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .values()
            .map(|q| {
                let p = q.pending.lock().unwrap_or_else(|e| e.into_inner());
                p.parents.len() + p.lines.len() + p.updates.len()
            })
            .sum()
    }
}

fn stopped() -> PostError {
    PostError::Transport("the alert poster stopped".into())
}

enum Job {
    Parent(
        SlackMessageContent,
        oneshot::Sender<Result<String, PostError>>,
    ),
    Lines(LineBatch),
    Update(Update),
}

struct Worker {
    poster: Poster,
    spacing: Duration,
    channel: String,
    queue: Arc<ChannelQueue>,
}

impl Worker {
    fn next(&self) -> Option<Job> {
        let mut pending = self.queue.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((card, done)) = pending.parents.pop_front() {
            return Some(Job::Parent(card, done));
        }
        if !pending.lines.is_empty() {
            return Some(Job::Lines(pending.lines.remove(0)));
        }
        if !pending.updates.is_empty() {
            return Some(Job::Update(pending.updates.remove(0)));
        }
        None
    }

    async fn run(self) {
        let mut last_post: Option<Instant> = None;
        loop {
            let Some(job) = self.next() else {
                self.queue.wake.notified().await;
                continue;
            };
            if let Some(at) = last_post {
                tokio::time::sleep_until(at + self.spacing).await;
            }
            last_post = Some(Instant::now());
            self.run_job(job).await;
        }
    }

    async fn run_job(&self, job: Job) {
        match job {
            Job::Parent(card, done) => {
                let posted = self.poster.post_message(&self.channel, None, &card).await;
                if let Err(e) = &posted {
                    tracing::warn!(channel = self.channel, error = %e, "could not post an alert");
                }
                let _ = done.send(posted);
            }
            Job::Lines(batch) => {
                let text = batch.lines.join("\n");
                let content = SlackMessageContent::new()
                    .with_text(crate::text::truncate(&text, 3000).into_owned());
                let posted = self
                    .poster
                    .post_message(&self.channel, Some(&batch.parent_ts), &content)
                    .await
                    .map(|_| ());
                if let Err(e) = &posted {
                    tracing::warn!(channel = self.channel, error = %e, "could not post alert lines");
                }
                for waiter in batch.waiters {
                    let _ = waiter.send(posted.clone());
                }
            }
            Job::Update(update) => {
                if let Err(e) = self
                    .poster
                    .update(&self.channel, &update.ts, &update.card)
                    .await
                {
                    tracing::warn!(channel = self.channel, error = %e, "could not update an alert's count");
                }
                for waiter in update.waiters {
                    let _ = waiter.send(());
                }
            }
        }
    }
}
