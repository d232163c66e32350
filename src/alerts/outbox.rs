//! Posting alerts at the pace Slack allows: about one message a second per channel.
//!
//! Each channel has a queue worked by one task. Parents (new incidents) go first, so
//! every incident of a storm is announced promptly; thread lines wait and are batched,
//! one message per incident for all its lines pending, so they are delayed, never
//! dropped; parent updates (the count) come last and only the newest per parent is
//! sent. Callers await their post's result, so an SQS message is deleted only after
//! what it caused reached Slack. A 429 is still honoured by [`Poster`].
//!
//! The pace holds across replicas: before each post a worker claims the channel's
//! current time slot (`spacing` long) in the shared state store, and waits for the next
//! slot when another replica has it.

use crate::render::blocks::Attachment;
use crate::slack_api::{PostError, Poster};
use crate::state::StateStore;
use slack_morphism::prelude::SlackMessageContent;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

/// Posts to Slack, paced per channel.
#[derive(Clone)]
pub struct Outbox {
    poster: Poster,
    spacing: Duration,
    slots: Arc<dyn StateStore>,
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
    /// Whole messages and files for a parent's thread (its details), in arrival order.
    replies: VecDeque<Reply>,
}

/// A message or a file for a parent's thread.
struct Reply {
    thread_ts: String,
    what: ReplyKind,
    done: oneshot::Sender<Result<(), PostError>>,
}

enum ReplyKind {
    Message(SlackMessageContent),
    /// A reply also sent to the channel.
    Broadcast(SlackMessageContent),
    File(Attachment),
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
    /// `spacing` is the gap between two posts in one channel (1 s for Slack), shared by
    /// every replica using `slots`.
    pub fn new(poster: Poster, spacing: Duration, slots: Arc<dyn StateStore>) -> Outbox {
        Outbox {
            poster,
            spacing: spacing.max(Duration::from_millis(1)),
            slots,
            channels: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The poster, for the calls that are not posts (history, permalinks).
    pub fn poster(&self) -> &Poster {
        &self.poster
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
            slots: self.slots.clone(),
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

    /// Post a whole message in the thread of `parent_ts` (a detail of the alert: its log
    /// tail, what changed); returns once it is posted.
    pub async fn post_reply(
        &self,
        channel: &str,
        parent_ts: &str,
        content: SlackMessageContent,
    ) -> Result<(), PostError> {
        self.reply(channel, parent_ts, ReplyKind::Message(content))
            .await
    }

    /// Post `text` in the thread of `parent_ts` and to the channel too (an escalation).
    pub async fn post_broadcast(
        &self,
        channel: &str,
        parent_ts: &str,
        text: String,
    ) -> Result<(), PostError> {
        let content = SlackMessageContent::new().with_text(text);
        self.reply(channel, parent_ts, ReplyKind::Broadcast(content))
            .await
    }

    /// Share a file in the thread of `parent_ts` (the memory graph).
    pub async fn upload(
        &self,
        channel: &str,
        parent_ts: &str,
        file: Attachment,
    ) -> Result<(), PostError> {
        self.reply(channel, parent_ts, ReplyKind::File(file)).await
    }

    async fn reply(
        &self,
        channel: &str,
        parent_ts: &str,
        what: ReplyKind,
    ) -> Result<(), PostError> {
        let (done, result) = oneshot::channel();
        let queue = self.queue(channel);
        queue
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replies
            .push_back(Reply {
                thread_ts: parent_ts.to_string(),
                what,
                done,
            });
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
    Reply(Reply),
}

struct Worker {
    poster: Poster,
    spacing: Duration,
    slots: Arc<dyn StateStore>,
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
        if let Some(reply) = pending.replies.pop_front() {
            return Some(Job::Reply(reply));
        }
        None
    }

    async fn run(self) {
        loop {
            let Some(job) = self.next() else {
                self.queue.wake.notified().await;
                continue;
            };
            self.claim_slot().await;
            self.run_job(job).await;
        }
    }

    /// Wait for a time slot of this channel that no replica has posted in.
    async fn claim_slot(&self) {
        let spacing_ms = u64::try_from(self.spacing.as_millis()).unwrap_or(u64::MAX);
        let keep = (self.spacing * 4).max(Duration::from_secs(2));
        loop {
            let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
            let slot = now_ms / spacing_ms;
            let key = format!("slack-slot#{}#{slot}", self.channel);
            match self.slots.first_time(&key, keep).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim a posting slot; posting at this replica's own pace");
                    tokio::time::sleep(self.spacing).await;
                    return;
                }
            }
            let next_slot_ms = (slot + 1) * spacing_ms;
            let wait = Duration::from_millis(next_slot_ms.saturating_sub(now_ms));
            tokio::time::sleep(wait).await;
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
            Job::Reply(reply) => {
                let posted = match &reply.what {
                    ReplyKind::Message(content) => self
                        .poster
                        .post_message(&self.channel, Some(&reply.thread_ts), content)
                        .await
                        .map(|_| ()),
                    ReplyKind::Broadcast(content) => self
                        .poster
                        .post_broadcast(&self.channel, &reply.thread_ts, content)
                        .await
                        .map(|_| ()),
                    ReplyKind::File(file) => {
                        self.poster
                            .upload_file(&self.channel, &reply.thread_ts, file)
                            .await
                    }
                };
                if let Err(e) = &posted {
                    tracing::warn!(channel = self.channel, error = %e, "could not post an alert's detail");
                }
                let _ = reply.done.send(posted);
            }
        }
    }
}
