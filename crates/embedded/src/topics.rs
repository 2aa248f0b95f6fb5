//! [`SqliteTopics`]: topics in SQLite, kept and listable, with queue subscriptions.

use crate::db::{execute, from_ms, new_id, Db, Kind};
use crate::queue::insert_message;
use chrono::{DateTime, Utc};
use rusqlite::params;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use stepwise_runtime::ports::Topics;
use stepwise_runtime::Error;

const KIND: Kind = Kind::Messaging;

/// A message published to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The id [`Topics::publish`] returned.
    pub id: String,
    /// The topic.
    pub topic_arn: String,
    /// The message as published.
    pub message: String,
    /// When it was published.
    pub published_at: DateTime<Utc>,
}

/// Topics in SQLite. Every published message is kept ([`SqliteTopics::list`]); a topic needs
/// no creation. Queues subscribed with [`SqliteTopics::subscribe_queue`] receive each message
/// published afterwards, in the same transaction, as raw message delivery (the body is the
/// message itself, without SNS's JSON envelope). Subscriptions only reach queues of the same
/// database. Cloning shares the connection.
#[derive(Debug, Clone)]
pub struct SqliteTopics {
    db: Arc<Db>,
}

impl SqliteTopics {
    /// Opens the topics in `data_dir/stepwise.db`, creating the directory and the database if
    /// missing. Each call opens its own connection.
    pub fn open(data_dir: &Path) -> Result<SqliteTopics, Error> {
        Ok(SqliteTopics { db: Arc::new(Db::open(data_dir, KIND)?) })
    }

    /// Topics in a private in-memory database, for tests.
    pub fn in_memory() -> Result<SqliteTopics, Error> {
        Ok(SqliteTopics { db: Arc::new(Db::in_memory(KIND)?) })
    }

    pub(crate) fn from_db(db: Arc<Db>) -> SqliteTopics {
        SqliteTopics { db }
    }

    /// Subscribes `queue` to `topic_arn` (like an SNS→SQS subscription with raw message
    /// delivery): later publishes are sent to the queue too. Subscribing twice is one
    /// subscription.
    pub fn subscribe_queue(&self, topic_arn: &str, queue: &str) -> Result<(), Error> {
        let (topic_arn, queue) = (topic_arn.to_string(), queue.to_string());
        self.db.write_blocking(KIND, "subscribe_queue", move |tx| {
            execute(
                tx,
                "INSERT OR IGNORE INTO subscriptions (topic_arn, queue) VALUES (?1, ?2)",
                [&topic_arn, &queue],
            )?;
            Ok(())
        })
    }

    /// Removes a subscription (nothing happens if there is none).
    pub fn unsubscribe_queue(&self, topic_arn: &str, queue: &str) -> Result<(), Error> {
        let (topic_arn, queue) = (topic_arn.to_string(), queue.to_string());
        self.db.write_blocking(KIND, "unsubscribe_queue", move |tx| {
            execute(tx, "DELETE FROM subscriptions WHERE topic_arn = ?1 AND queue = ?2", [&topic_arn, &queue])?;
            Ok(())
        })
    }

    /// The queues subscribed to `topic_arn`, sorted.
    pub fn subscriptions(&self, topic_arn: &str) -> Result<Vec<String>, Error> {
        let topic_arn = topic_arn.to_string();
        self.db.read_blocking(KIND, "subscriptions", move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT queue FROM subscriptions WHERE topic_arn = ?1 ORDER BY queue")?;
            let rows = stmt.query_map([&topic_arn], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Every message published to `topic_arn`, oldest first.
    pub fn list(&self, topic_arn: &str) -> Result<Vec<Published>, Error> {
        let topic_arn = topic_arn.to_string();
        self.db.read_blocking(KIND, "list", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, topic_arn, message, published_at FROM published WHERE topic_arn = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([&topic_arn], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })?;
            let mut list = Vec::new();
            for row in rows {
                let (id, topic_arn, message, at) = row?;
                list.push(Published { id, topic_arn, message, published_at: from_ms(at)? });
            }
            Ok(list)
        })
    }

    /// The ARNs of all topics that ever had a message published, sorted.
    pub fn topics(&self) -> Result<Vec<String>, Error> {
        self.db.read_blocking(KIND, "topics", |conn| {
            let mut stmt = conn.prepare_cached("SELECT DISTINCT topic_arn FROM published ORDER BY topic_arn")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

impl Topics for SqliteTopics {
    async fn publish(&self, topic_arn: &str, message: &str) -> Result<String, Error> {
        let now = self.db.now_ms();
        let (topic_arn, message) = (topic_arn.to_string(), message.to_string());
        self.db
            .write(KIND, "publish", move |tx| {
                let id = new_id(tx)?;
                execute(
                    tx,
                    "INSERT INTO published (id, topic_arn, message, published_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id, &topic_arn, &message, now],
                )?;
                let queues = {
                    let mut stmt =
                        tx.prepare_cached("SELECT queue FROM subscriptions WHERE topic_arn = ?1 ORDER BY queue")?;
                    let rows = stmt.query_map([&topic_arn], |r| r.get::<_, String>(0))?;
                    rows.collect::<Result<Vec<_>, _>>()?
                };
                for queue in &queues {
                    insert_message(tx, now, queue, &message, Duration::ZERO, None)?;
                }
                Ok((id, queues))
            })
            .await
            .map(|(id, queues)| {
                for queue in queues {
                    self.db.signal(&queue).sent.notify_one();
                }
                id
            })
    }
}
