//! [`SqliteQueue`]: durable queues in SQLite.

use crate::db::{duration_ms, execute, from_ms, new_id, query_row, Db, Failure, Kind};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use stepwise_runtime::ports::{Message, Queue};
use stepwise_runtime::Error;

const KIND: Kind = Kind::Messaging;

/// Queues in SQLite, with SQS's delivery model: messages become visible after their delay,
/// a received message is hidden for its visibility timeout and delivered again unless
/// acknowledged, and a second send with the same deduplication id (per queue, within SQS
/// FIFO's five-minute window) is dropped.
///
/// Delays and visibility timeouts are stored as times, so a restarted process resumes them.
/// Acknowledged messages are kept (marked acknowledged) so queues can be listed afterwards
/// ([`SqliteQueue::list`]) until their deduplication window is over; then they are pruned.
/// Queues need no creation: a queue exists once a message is sent
/// to it. Cloning shares the connection.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: Arc<Db>,
}

impl SqliteQueue {
    /// Opens the queues in `data_dir/stepwise.db`, creating the directory and the database if
    /// missing. Each call opens its own connection.
    pub fn open(data_dir: &Path) -> Result<SqliteQueue, Error> {
        Ok(SqliteQueue { db: Arc::new(Db::open(data_dir, KIND)?) })
    }

    /// Queues in a private in-memory database, for tests.
    pub fn in_memory() -> Result<SqliteQueue, Error> {
        Ok(SqliteQueue { db: Arc::new(Db::in_memory(KIND)?) })
    }

    pub(crate) fn from_db(db: Arc<Db>) -> SqliteQueue {
        SqliteQueue { db }
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Every message sent to `queue`, oldest first, with when it was sent and whether it was
    /// acknowledged. `receipt` is the latest delivery's receipt (empty if never received) and
    /// `receive_count` the number of deliveries so far.
    pub fn list(&self, queue: &str) -> Result<Vec<(Message, DateTime<Utc>, bool)>, Error> {
        let queue = queue_name(queue).to_string();
        self.db.read_blocking(KIND, "list", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, body, receipt, receive_count, sent_at, deleted FROM messages WHERE queue = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([&queue], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })?;
            let mut list = Vec::new();
            for row in rows {
                let (id, body, receipt, receive_count, sent_at, acked) = row?;
                let message = Message { id, body, receipt: receipt.unwrap_or_default(), receive_count };
                list.push((message, from_ms(sent_at)?, acked));
            }
            Ok(list)
        })
    }

    /// When the next unacknowledged message of `queue` becomes visible (a time in the past if
    /// one is visible now), or `None` if there is none: how long a worker may sleep.
    pub fn next_visible_at(&self, queue: &str) -> Result<Option<DateTime<Utc>>, Error> {
        let queue = queue_name(queue).to_string();
        self.db.read_blocking(KIND, "next_visible_at", move |conn| {
            let at: Option<i64> = query_row(
                conn,
                "SELECT MIN(visible_at) FROM messages WHERE queue = ?1 AND deleted = 0",
                [&queue],
                |r| r.get(0),
            )?;
            at.map(from_ms).transpose()
        })
    }

    /// The names of all queues that ever received a message, sorted.
    pub fn queues(&self) -> Result<Vec<String>, Error> {
        self.db.read_blocking(KIND, "queues", |conn| {
            let mut stmt = conn.prepare_cached("SELECT DISTINCT queue FROM messages ORDER BY queue")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

/// Inserts a message (or finds the one with the same deduplication id); returns its id.
pub(crate) fn insert_message(
    conn: &Connection,
    now: i64,
    queue: &str,
    body: &str,
    delay: Duration,
    dedup_id: Option<&str>,
) -> Result<String, Failure> {
    if let Some(dedup) = dedup_id {
        let existing: Option<String> =
            query_row(conn, "SELECT id FROM messages WHERE queue = ?1 AND dedup_id = ?2", [queue, dedup], |r| r.get(0))
                .optional()?;
        if let Some(id) = existing {
            return Ok(id);
        }
    }
    let id = new_id(conn)?;
    let visible_at = now.saturating_add(duration_ms(delay));
    conn.prepare_cached(
        "INSERT INTO messages (id, queue, body, sent_at, visible_at, receive_count, receipt, dedup_id, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, NULL, ?6, 0)",
    )?
    .execute(params![id, queue, body, now, visible_at, dedup_id])?;
    Ok(id)
}

/// Tells a worker of this process waiting for `queue` that a message was sent to it, `delay`
/// before it is visible (after its write committed).
pub(crate) fn sent(db: &Db, queue: &str, delay: Duration) {
    let signal = db.signal(queue_name(queue));
    if delay.is_zero() {
        // A permit is kept when no worker waits yet: the next wait returns at once.
        signal.sent.notify_one();
    } else {
        let now = db.now_ms();
        signal.due.fetch_min(now.saturating_add(duration_ms(delay)), std::sync::atomic::Ordering::SeqCst);
    }
}

/// How long a sent message's deduplication id keeps a second send out (SQS FIFO's five
/// minutes): acknowledged messages older than this are pruned.
pub(crate) const DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// One acknowledgement in this many also prunes its queue's acknowledged messages.
const PRUNE_EVERY: usize = 512;

/// The row a receipt names (`seq.random`, schema version 5); `None` for an older receipt.
fn receipt_row(receipt: &str) -> Option<i64> {
    receipt.split_once('.').and_then(|(seq, _)| seq.parse().ok())
}

/// A queue URL names the queue by its last path segment; a name is itself.
pub(crate) fn queue_name(queue: &str) -> &str {
    if queue.starts_with("https://") || queue.starts_with("http://") {
        stepwise_runtime::driver::queue_name(queue)
    } else {
        queue
    }
}

impl Queue for SqliteQueue {
    async fn send(&self, queue: &str, body: &str, delay: Duration, dedup_id: Option<&str>) -> Result<String, Error> {
        let name = queue_name(queue);
        let (queue, body) = (name.to_string(), body.to_string());
        let dedup_id = dedup_id.map(str::to_string);
        let now = self.db.now_ms();
        let id = self
            .db
            .write(KIND, "send", move |tx| insert_message(tx, now, &queue, &body, delay, dedup_id.as_deref()))
            .await?;
        sent(&self.db, name, delay);
        Ok(id)
    }

    async fn receive(&self, queue: &str, max: usize, visibility: Duration) -> Result<Vec<Message>, Error> {
        let queue = queue_name(queue).to_string();
        if max == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let now = self.db.now_ms();
        self.db
            .write(KIND, "receive", move |tx| {
                let hidden_until = now.saturating_add(duration_ms(visibility));
                let candidates = {
                    let mut stmt = tx.prepare_cached(
                        "SELECT seq, id, body FROM messages WHERE queue = ?1 AND deleted = 0 AND visible_at <= ?2
                     ORDER BY visible_at, seq LIMIT ?3",
                    )?;
                    let rows = stmt.query_map(params![&queue, now, limit], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })?;
                    rows.collect::<Result<Vec<_>, _>>()?
                };
                let mut update = tx.prepare_cached(
                    "UPDATE messages SET visible_at = ?1, receive_count = receive_count + 1,
                     receipt = seq || '.' || lower(hex(randomblob(12)))
                 WHERE seq = ?2 RETURNING receipt, receive_count",
                )?;
                let mut messages = Vec::with_capacity(candidates.len());
                for (seq, id, body) in candidates {
                    let (receipt, receive_count) = update
                        .query_row(params![hidden_until, seq], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
                    messages.push(Message { id, body, receipt, receive_count });
                }
                Ok(messages)
            })
            .await
    }

    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), Error> {
        let (queue, receipt) = (queue_name(queue).to_string(), receipt.to_string());
        // Every so many acknowledgements, the acknowledged messages of this queue whose
        // deduplication window is over are deleted (the queue would otherwise grow by a row per
        // message forever).
        let prune = self
            .db
            .acks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
            .then(|| self.db.now_ms().saturating_sub(duration_ms(DEDUP_WINDOW)));
        // Acknowledging twice, or with the receipt of an earlier delivery, does nothing.
        self.db
            .write(KIND, "ack", move |tx| {
                match receipt_row(&receipt) {
                    Some(seq) => tx
                        .prepare_cached(
                            "UPDATE messages SET deleted = 1 WHERE seq = ?1 AND queue = ?2 AND receipt = ?3 AND deleted = 0",
                        )?
                        .execute(params![seq, &queue, &receipt])?,
                    None => execute(tx,
                        "UPDATE messages SET deleted = 1 WHERE queue = ?1 AND receipt = ?2 AND deleted = 0",
                        [&queue, &receipt],
                    )?,
                };
                if let Some(before) = prune {
                    tx.prepare_cached("DELETE FROM messages WHERE queue = ?1 AND deleted = 1 AND visible_at < ?2")?
                        .execute(params![&queue, before])?;
                }
                Ok(())
            })
            .await
    }

    async fn wait(&self, queue: &str, max: Duration) {
        let signal = self.db.signal(queue_name(queue));
        // Until the earliest delayed message sent since becomes visible, if that is sooner.
        let due = signal.due.load(std::sync::atomic::Ordering::SeqCst);
        let now = self.db.now_ms();
        let max = if due <= now {
            let _ = signal.due.compare_exchange(
                due,
                i64::MAX,
                std::sync::atomic::Ordering::SeqCst,
                std::sync::atomic::Ordering::SeqCst,
            );
            Duration::ZERO
        } else {
            max.min(Duration::from_millis(u64::try_from(due - now).unwrap_or(u64::MAX)))
        };
        if !max.is_zero() {
            let _ = tokio::time::timeout(max, signal.sent.notified()).await;
        }
    }

    async fn release(&self, queue: &str, receipt: &str, after: Duration) -> Result<(), Error> {
        let (queue, receipt) = (queue_name(queue).to_string(), receipt.to_string());
        let visible_at = self.db.now_ms().saturating_add(duration_ms(after));
        self.db
            .write(KIND, "release", move |tx| {
                match receipt_row(&receipt) {
                    Some(seq) => execute(tx,
                        "UPDATE messages SET visible_at = ?1 WHERE seq = ?2 AND queue = ?3 AND receipt = ?4 AND deleted = 0",
                        params![visible_at, seq, &queue, &receipt],
                    )?,
                    None => execute(tx,
                        "UPDATE messages SET visible_at = ?1 WHERE queue = ?2 AND receipt = ?3 AND deleted = 0",
                        params![visible_at, &queue, &receipt],
                    )?,
                };
                Ok(())
            })
            .await
    }
}
