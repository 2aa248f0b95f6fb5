//! [`SqsQueue`]: queues on SQS.
//!
//! A queue is named by its URL (anything starting with `http://` or `https://`, as Task states
//! give it) or by its name, resolved once with GetQueueUrl and cached. The step queue
//! (`stepwise-steps`) usually has its URL configured ([`SqsQueue::with_queue_url`], env
//! `STEPWISE_STEP_QUEUE_URL` in [`crate::aws_runtime`]), which saves that lookup.
//!
//! # Delays
//!
//! SQS delays a message 15 minutes at most: longer delays are capped at 900 s, and the driver
//! sends a message that arrives before its `not_before` on again for the rest of the wait.
//! Delays are rounded *up* to whole seconds, so a message is never delivered before its delay
//! (which would cost a re-send).
//!
//! # Deduplication ids
//!
//! The port promises that a second send with the same deduplication id is dropped. FIFO queues
//! (URL ending `.fifo`) get a `MessageDeduplicationId` (the SHA-256 of the id: SQS allows 128
//! characters) and drop repeats themselves, for five minutes (the id `send` returns for a
//! repeat is the one remembered in the process, see below); their `MessageGroupId` is the
//! message's `execution_arn` when the body is a step message, else `stepwise`. FIFO queues
//! take no per-message delay, so the step queue must be a standard queue.
//!
//! Standard queues have no deduplication. This adapter drops a repeated id *within the
//! process* (for five minutes, like FIFO queues; concurrent sends of one id make one request)
//! and relies on the driver's idempotence across processes, where a redone send does reach
//! the queue a second time. What the driver sends with ids, and what a duplicate does:
//!
//! - outbox step messages (`{arn}#{version}#{index}`), redone when a driver finds an outbox it
//!   cannot prove done (after a crash, and in Parallel/Map executions whenever another
//!   branch's commit comes first): a duplicate of a timer or task-outcome message is a no-op
//!   (timer and task ids); a duplicate `Advance` of a frame that is ready enters the frame's
//!   *current* state, so the frame's states still run once each and in order, only one message
//!   early, and the extra message dies out at the next state that waits (Task, Wait, Map,
//!   Parallel) or at the end. History and results are the same; the cost is the extra
//!   messages and the commits' conflicts while two messages drive one frame.
//! - task outcomes (`{action id}#{k}`): a second outcome of a task is a no-op (the task is no
//!   longer running).
//! - token completions (the token's hash): SendTaskSuccess/Failure send, then
//!   `consume_token`, whose conditional write lets exactly one caller succeed; the others get
//!   `TaskTimedOut`. A duplicate completion message is a task outcome for a task that is no
//!   longer running: a no-op. The message of a caller told `TaskTimedOut` can still be the one
//!   applied when two callers race with different outputs — with real deduplication too (the
//!   first message is kept whichever caller consumes the token first).
//! - `sqs:sendMessage` tasks (`{action id}#send`): a redone send after a crash reaches the
//!   user's queue twice, as SQS standard queues may deliver any message twice anyway.
//!
//! Exact deduplication across processes would cost a conditional DynamoDB write per message
//! (≈ $0.625 per million): more than a quarter of the cost target per transition, for a case
//! the driver already handles. Measured (`tests/fanout.rs`, `tests/cost.rs`): a sequential
//! machine sends one message per commit; a Parallel + Map execution sends 1.0 per commit on
//! one worker and 1.7 per commit on two (each worker redoes the outbox the other committed
//! last), with the same result and history as the in-memory runner.

use crate::{count, messaging_error};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stepwise_runtime::ports::{Message, Queue};
use stepwise_runtime::Error;
use tokio::sync::OnceCell;

/// SQS's longest message delay.
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// How long a deduplication id is remembered (SQS FIFO's window).
const DEDUP_WINDOW: Duration = Duration::from_secs(300);
/// Remembered ids before old ones are pruned.
const DEDUP_LIMIT: usize = 10_000;

type DedupMap = HashMap<(String, String), (Instant, Arc<OnceCell<String>>)>;

/// Queues on SQS (see the module documentation for names, delays and deduplication). Cloning
/// shares the client and the caches.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    urls: Arc<Mutex<HashMap<String, String>>>,
    dedup: Arc<Mutex<DedupMap>>,
    wait: Duration,
}

fn is_url(queue: &str) -> bool {
    queue.starts_with("https://") || queue.starts_with("http://")
}

/// The account id in a queue URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`).
pub(crate) fn account_of_url(url: &str) -> Option<String> {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    segments.next()?;
    let account = segments.next()?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_string())
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whole seconds, rounded up, at most `max`.
/// The largest message SQS takes by default (a queue's `MaximumMessageSize`: 256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 262_144;

fn seconds_up(d: Duration, max: u64) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.min(max) as i32
}

impl SqsQueue {
    /// Queues through `client`. Receives return at once when a queue is empty (see
    /// [`SqsQueue::with_wait_time`]).
    pub fn new(client: Client) -> SqsQueue {
        SqsQueue {
            client,
            urls: Arc::new(Mutex::new(HashMap::new())),
            dedup: Arc::new(Mutex::new(HashMap::new())),
            wait: Duration::ZERO,
        }
    }

    /// Uses `url` for the queue named `name` (no GetQueueUrl).
    pub fn with_queue_url(self, name: &str, url: &str) -> SqsQueue {
        self.urls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name.to_string(), url.to_string());
        self
    }

    /// Long polling: a receive on an empty queue waits up to `wait` (at most 20 s) for a
    /// message. Fewer empty receives, lower cost for a polling worker.
    pub fn with_wait_time(mut self, wait: Duration) -> SqsQueue {
        self.wait = wait.min(Duration::from_secs(20));
        self
    }

    /// The SQS client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates a standard queue (idempotent) and remembers its URL; returns the URL.
    pub async fn create_queue(&self, name: &str) -> Result<String, Error> {
        count("sqs", "CreateQueue");
        let mut req = self.client.create_queue().queue_name(name);
        if name.ends_with(".fifo") {
            req = req.attributes(QueueAttributeName::FifoQueue, "true");
        }
        let out = req.send().await.map_err(|e| messaging_error("SQS", "CreateQueue", name, e))?;
        let url = out
            .queue_url
            .ok_or_else(|| Error::messaging(format!("SQS CreateQueue on {name}"), "the response has no queue URL"))?;
        self.urls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name.to_string(), url.clone());
        Ok(url)
    }

    /// The URL of a queue given by URL or name.
    pub async fn queue_url(&self, queue: &str) -> Result<String, Error> {
        if is_url(queue) {
            return Ok(queue.to_string());
        }
        if let Some(url) = self.urls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(queue) {
            return Ok(url.clone());
        }
        count("sqs", "GetQueueUrl");
        let out = self
            .client
            .get_queue_url()
            .queue_name(queue)
            .send()
            .await
            .map_err(|e| messaging_error("SQS", "GetQueueUrl", queue, e))?;
        let url = out
            .queue_url
            .ok_or_else(|| Error::messaging(format!("SQS GetQueueUrl on {queue}"), "the response has no queue URL"))?;
        self.urls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(queue.to_string(), url.clone());
        Ok(url)
    }

    /// The cell holding the message id sent with `dedup_id` to `url` in this process.
    fn dedup_cell(&self, url: &str, dedup_id: &str) -> Arc<OnceCell<String>> {
        let mut map = self.dedup.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if map.len() >= DEDUP_LIMIT {
            map.retain(|_, (at, _)| now.duration_since(*at) < DEDUP_WINDOW);
        }
        let k = (url.to_string(), dedup_id.to_string());
        match map.get(&k) {
            Some((at, cell)) if now.duration_since(*at) < DEDUP_WINDOW => cell.clone(),
            _ => {
                let cell = Arc::new(OnceCell::new());
                map.insert(k, (now, cell.clone()));
                cell
            }
        }
    }

    async fn send_message(
        &self,
        url: &str,
        body: &str,
        delay: Duration,
        dedup_id: Option<&str>,
    ) -> Result<String, Error> {
        count("sqs", "SendMessage");
        let mut req = self.client.send_message().queue_url(url).message_body(body);
        if url.ends_with(".fifo") {
            let group = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("execution_arn").and_then(|a| a.as_str()).map(sha256_hex))
                .unwrap_or_else(|| "stepwise".to_string());
            let dedup = match dedup_id {
                Some(id) => sha256_hex(id),
                None => {
                    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    sha256_hex(&format!("{body}/{:?}/{}/{n}", Instant::now(), std::process::id()))
                }
            };
            req = req.message_group_id(group).message_deduplication_id(dedup);
        }
        if !delay.is_zero() {
            req = req.delay_seconds(seconds_up(delay, MAX_DELAY.as_secs()));
        }
        let out = req.send().await.map_err(|e| messaging_error("SQS", "SendMessage", url, e))?;
        out.message_id
            .ok_or_else(|| Error::messaging(format!("SQS SendMessage on {url}"), "the response has no message id"))
    }
}

impl Queue for SqsQueue {
    /// SQS's limit for a message (and a queue's default `MaximumMessageSize`): 256 KiB.
    fn max_body(&self) -> Option<usize> {
        Some(MAX_MESSAGE_BYTES)
    }

    async fn send(&self, queue: &str, body: &str, delay: Duration, dedup_id: Option<&str>) -> Result<String, Error> {
        let url = self.queue_url(queue).await?;
        match dedup_id {
            Some(id) => {
                let cell = self.dedup_cell(&url, id);
                cell.get_or_try_init(|| self.send_message(&url, body, delay, dedup_id)).await.cloned()
            }
            None => self.send_message(&url, body, delay, None).await,
        }
    }

    async fn receive(&self, queue: &str, max: usize, visibility: Duration) -> Result<Vec<Message>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let url = self.queue_url(queue).await?;
        count("sqs", "ReceiveMessage");
        let out = self
            .client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(max.min(10) as i32)
            .visibility_timeout(seconds_up(visibility, 43_200))
            .wait_time_seconds(self.wait.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| messaging_error("SQS", "ReceiveMessage", &url, e))?;
        let mut messages = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let receive_count = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let (Some(id), Some(receipt)) = (m.message_id, m.receipt_handle) else {
                return Err(Error::messaging(
                    format!("SQS ReceiveMessage on {url}"),
                    "a message without id or receipt handle",
                ));
            };
            messages.push(Message { id, body: m.body.unwrap_or_default(), receipt, receive_count });
        }
        Ok(messages)
    }

    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), Error> {
        let url = self.queue_url(queue).await?;
        count("sqs", "DeleteMessage");
        self.client
            .delete_message()
            .queue_url(&url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| messaging_error("SQS", "DeleteMessage", &url, e))?;
        Ok(())
    }

    async fn release(&self, queue: &str, receipt: &str, after: Duration) -> Result<(), Error> {
        let url = self.queue_url(queue).await?;
        count("sqs", "ChangeMessageVisibility");
        let seconds = seconds_up(after, 43_200);
        let sent = self
            .client
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // The receipt expired or the message was deleted meanwhile: it is back anyway, or done.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_receipt_handle_is_invalid() || s.is_message_not_inflight()) =>
            {
                Ok(())
            }
            Err(e) => Err(messaging_error("SQS", "ChangeMessageVisibility", &url, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_cap() {
        assert_eq!(seconds_up(Duration::from_millis(1), 900), 1);
        assert_eq!(seconds_up(Duration::from_secs(2), 900), 2);
        assert_eq!(seconds_up(Duration::from_secs(3600), 900), 900);
    }

    #[test]
    fn accounts_come_from_urls() {
        assert_eq!(
            account_of_url("https://sqs.us-east-1.amazonaws.com/123456789012/q").as_deref(),
            Some("123456789012")
        );
        assert_eq!(account_of_url("http://127.0.0.1:5055/123456789012/q/").as_deref(), Some("123456789012"));
        assert_eq!(account_of_url("stepwise-steps"), None);
    }
}
