//! Embedded adapters for the stepwise runtime: the execution store, queues and topics in one
//! SQLite database file (`stepwise.db` in a data directory), and the system clock.
//!
//! The database runs in WAL mode with `synchronous=NORMAL` and a busy timeout. One database
//! thread owns the connection and commits in groups: it runs every request waiting at that
//! moment in one transaction, each request in a savepoint of its own, and answers them after
//! the `COMMIT`, so each write is still atomic and durable when it returns (see `db.rs`).
//! Several handles on one file (two drivers, two processes) are safe: each opens its own
//! connection, and execution commits are conditional on the stored version. Queue delays and visibility timeouts are stored as times, so a restarted process
//! picks up where the previous one stopped.
//!
//! ```no_run
//! # fn main() -> Result<(), stepwise_runtime::Error> {
//! let embedded = stepwise_embedded::Embedded::open(std::path::Path::new(".stepwise"))?;
//! let (store, queue, topics) = (embedded.store, embedded.queue, embedded.topics);
//! # let _ = (store, queue, topics);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod db;
pub mod functions;
pub mod logs;
mod queue;
mod store;
mod topics;

pub use db::DB_FILE;
pub use queue::SqliteQueue;
pub use stepwise_runtime::ports::SystemClock;
pub use store::SqliteStore;
pub use topics::{Published, SqliteTopics};

use std::path::Path;
use std::sync::Arc;
use stepwise_runtime::Error;

/// The store, queues and topics of one database, sharing one connection.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The execution store.
    pub store: SqliteStore,
    /// The queues.
    pub queue: SqliteQueue,
    /// The topics.
    pub topics: SqliteTopics,
}

impl Embedded {
    /// Opens `data_dir/stepwise.db`, creating the directory and the database if missing.
    pub fn open(data_dir: &Path) -> Result<Embedded, Error> {
        Ok(Embedded::from_db(Arc::new(db::Db::open(data_dir, db::Kind::Storage)?)))
    }

    /// A private in-memory database shared by the three adapters, for tests.
    pub fn in_memory() -> Result<Embedded, Error> {
        Ok(Embedded::from_db(Arc::new(db::Db::in_memory(db::Kind::Storage)?)))
    }

    /// Measures queue delays and visibility timeouts with `clock` (tests drive time with it;
    /// the default is the system clock).
    pub fn with_clock(self, clock: Arc<dyn stepwise_runtime::ports::Clock>) -> Embedded {
        self.queue.db().set_clock(clock);
        self
    }

    fn from_db(db: Arc<db::Db>) -> Embedded {
        Embedded {
            store: SqliteStore::from_db(db.clone()).sharing_queue(),
            queue: SqliteQueue::from_db(db.clone()),
            topics: SqliteTopics::from_db(db),
        }
    }
}
