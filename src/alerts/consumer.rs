//! The SQS side of alerts: long-poll the queue, hand each message to the
//! [`Announcer`], and settle the message by what became of it.
//!
//! - Recorded (posted, grouped, skipped on purpose): deleted.
//! - Not finished (the store or Slack failed): left on the queue, visible again after a
//!   back-off that grows with its receive count, so a failing dependency is not hammered.
//! - Poison (not JSON, not an EventBridge event): logged with its message id and hidden
//!   for [`POISON_HIDE`], so the queue's redrive policy moves it to the dead-letter queue
//!   after a few receives instead of a hot loop.
//!
//! While a slow diagnosis runs, the message's visibility is extended. On SIGTERM the
//! consumer stops receiving, lets running announcements finish within the drain, and
//! makes messages that have not started visible again at once for another replica.

use super::announce::{Announcer, Outcome};
use super::event::{self, Message};
use crate::gather::call_metrics::CountCalls;
use crate::shutdown::Shutdown;
use aws_sdk_sqs::types::{Message as SqsMessage, MessageSystemAttributeName};
use aws_sdk_sqs::Client;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::Instrument;

/// Long-poll wait (SQS's maximum).
const WAIT_SECONDS: i32 = 20;
/// Visibility given to a received message, renewed while it is worked on.
const VISIBILITY: Duration = Duration::from_secs(60);
/// How long a poison message stays hidden before its next receive.
pub const POISON_HIDE: Duration = Duration::from_secs(300);
/// Announcements worked on at once by one replica.
const IN_FLIGHT: usize = 16;

/// Reads the queue and settles each message.
#[derive(Clone)]
pub struct Consumer {
    sqs: Client,
    queue_url: String,
    announcer: Arc<Announcer>,
    permits: Arc<Semaphore>,
}

/// An SQS client with the standard credential chain; honours `AWS_ENDPOINT_URL_SQS`.
pub async fn sqs_client(region: Option<&str>) -> Client {
    let mut loader = crate::aws::loader();
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    let config = loader.load().await;
    sqs_client_from(&config)
}

/// An SQS client from an existing SDK configuration, counting its calls.
pub fn sqs_client_from(config: &aws_config::SdkConfig) -> Client {
    let conf = aws_sdk_sqs::config::Builder::from(&crate::aws::with_https_client(config))
        .interceptor(CountCalls)
        .build();
    Client::from_conf(conf)
}

impl Consumer {
    pub fn new(sqs: Client, queue_url: String, announcer: Arc<Announcer>) -> Consumer {
        Consumer {
            sqs,
            queue_url,
            announcer,
            permits: Arc::new(Semaphore::new(IN_FLIGHT)),
        }
    }

    /// Receive until shutdown begins. Each message is settled in a job tracked by
    /// `shutdown`, so the drain waits for it.
    pub async fn run(self, shutdown: Shutdown) {
        tracing::info!(
            queue = self.queue_url,
            "alerts on: reading stopped-task events"
        );
        let mut failures: u32 = 0;
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => break,
                received = self.receive() => received,
            };
            match received {
                Ok(messages) => {
                    failures = 0;
                    for message in messages {
                        let consumer = self.clone();
                        let stop = shutdown.clone();
                        shutdown.spawn(
                            async move { consumer.settle(message, stop).await }
                                .instrument(tracing::Span::current()),
                        );
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = Duration::from_secs(u64::from(failures.min(6)) * 5);
                    tracing::warn!(error = e, retry_in = ?wait, "could not read the alert queue");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
        tracing::info!("alerts: stopped receiving");
    }

    async fn receive(&self) -> Result<Vec<SqsMessage>, String> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(WAIT_SECONDS)
            .visibility_timeout(secs(VISIBILITY))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| {
                let failure = crate::gather::aws_failure(&e);
                format!(
                    "SQS ReceiveMessage on {} failed: {}; check ECS_WHY_EVENTS_QUEUE_URL, AWS_ENDPOINT_URL_SQS and the task role's sqs:ReceiveMessage",
                    self.queue_url, failure.message
                )
            })?;
        Ok(output.messages.unwrap_or_default())
    }

    /// Work on one message and settle it.
    async fn settle(self, message: SqsMessage, shutdown: Shutdown) {
        let id = message.message_id().unwrap_or("?").to_string();
        let Some(receipt) = message.receipt_handle().map(str::to_string) else {
            return;
        };
        let Ok(_permit) = self.permits.acquire().await else {
            return;
        };
        if shutdown.is_shutting_down() {
            // Not started: another replica can have it at once.
            self.hide(&receipt, Duration::ZERO).await;
            return;
        }
        let receives: u32 = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let work = match event::read(message.body().unwrap_or_default()) {
            Message::Stopped(stopped) => Work::Stopped(stopped),
            Message::Service(news) => Work::Service(news),
            Message::Skip(why) => {
                tracing::debug!(message_id = id, why, "event skipped");
                crate::metrics::alert("skipped");
                self.delete(&receipt).await;
                return;
            }
            Message::Poison(why) => {
                tracing::warn!(
                    message_id = id,
                    receives,
                    why,
                    "unreadable message left for the dead-letter queue"
                );
                crate::metrics::alert("poison");
                self.hide(&receipt, POISON_HIDE).await;
                return;
            }
        };
        let outcome = {
            let heartbeat = self.keep_hidden(receipt.clone());
            let outcome = match &work {
                Work::Stopped(stopped) => self.announcer.announce(stopped).await,
                Work::Service(news) => self.announcer.service_news(news).await,
            };
            heartbeat.abort();
            outcome
        };
        let subject = match &work {
            Work::Stopped(stopped) => stopped.task.arn.clone(),
            Work::Service(news) => format!("{} {}", news.what.event_name(), news.service_arn),
        };
        match outcome {
            Outcome::Done(summary) => {
                tracing::info!(
                    message_id = id,
                    subject,
                    parents = summary.parents,
                    lines = summary.lines,
                    muted = summary.muted,
                    duplicates = summary.duplicates,
                    ignored = summary.ignored,
                    unrouted = summary.unrouted,
                    recovered = summary.recovered,
                    deployments = summary.deployments,
                    "event settled"
                );
                let posted =
                    summary.parents + summary.lines + summary.recovered + summary.deployments;
                crate::metrics::alert(if posted > 0 { "posted" } else { "recorded" });
                self.delete(&receipt).await;
            }
            Outcome::Retry(why) => {
                let wait = Duration::from_secs((5u64 << receives.min(6)).min(300));
                tracing::warn!(message_id = id, subject, receives, why, retry_in = ?wait, "event not settled; it will be retried");
                crate::metrics::alert("retried");
                self.hide(&receipt, wait).await;
            }
        }
    }

    /// Renew the message's visibility while it is worked on.
    fn keep_hidden(&self, receipt: String) -> tokio::task::JoinHandle<()> {
        let consumer = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(VISIBILITY / 3);
            every.tick().await;
            loop {
                every.tick().await;
                consumer.hide(&receipt, VISIBILITY).await;
            }
        })
    }

    async fn delete(&self, receipt: &str) {
        let deleted = self
            .sqs
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await;
        if let Err(e) = deleted {
            tracing::warn!(error = crate::gather::aws_failure(&e).message, "could not delete a settled message; it will come back and be recognised as handled");
        }
    }

    async fn hide(&self, receipt: &str, for_: Duration) {
        let changed = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(secs(for_))
            .send()
            .await;
        if let Err(e) = changed {
            tracing::warn!(
                error = crate::gather::aws_failure(&e).message,
                "could not change a message's visibility"
            );
        }
    }
}

/// What a message asks of the announcer.
enum Work {
    Stopped(Box<super::event::StoppedEvent>),
    Service(Box<super::event::ServiceNews>),
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}
