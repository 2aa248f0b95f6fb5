//! The SQLite database the embedded adapters share: opening, schema, transactions, errors.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use rusqlite::{Connection, TransactionBehavior};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepwise_runtime::ports::{Clock, SystemClock};
use stepwise_runtime::{Error, Source};

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "stepwise.db";

/// How long a writer waits for another connection's write transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The schema version this crate writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 6;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS machines (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    machine TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS machine_revisions (
    arn TEXT NOT NULL,
    revision TEXT NOT NULL,
    machine TEXT NOT NULL,
    PRIMARY KEY (arn, revision)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY,
    machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_time TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    outbox TEXT NOT NULL,
    stop_time TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (machine_arn, start_time DESC, arn DESC);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (machine_arn, status, start_time DESC, arn DESC);
-- A row per commit: `event` is the JSON array of its events, `event_id` the first one's id
-- (before version 5, a row per event: one event object). A rowid table (version 6; before, WITHOUT
-- ROWID): a commit's events are often more than the ~1 KB a WITHOUT ROWID row keeps in its
-- B-tree page, and every row spilled to an overflow page of its own in a leaf keyed by ARN,
-- while rowid rows are appended to the same last pages and only a small index entry per row
-- lands among the ARNs (a quarter fewer page writes under load, measured with bench_runtime).
CREATE TABLE IF NOT EXISTS history (
    arn TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (arn, event_id)
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    entry TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    dedup_id TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (queue, dedup_id)
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, deleted, visible_at);
CREATE TABLE IF NOT EXISTS published (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    topic_arn TEXT NOT NULL,
    message TEXT NOT NULL,
    published_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS published_by_topic ON published (topic_arn, seq);
CREATE TABLE IF NOT EXISTS activities (
    arn TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    activity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS activity_tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_arn TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    task TEXT NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS activity_tasks_oldest ON activity_tasks (activity_arn, taken, created, seq);
CREATE TABLE IF NOT EXISTS map_runs (
    arn TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    start_time TEXT NOT NULL,
    version INTEGER NOT NULL,
    run TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS map_runs_by_execution ON map_runs (execution_arn, start_time, arn);
CREATE TABLE IF NOT EXISTS map_items (
    run_arn TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    items TEXT NOT NULL,
    PRIMARY KEY (run_arn, chunk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (
    key TEXT PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscriptions (
    topic_arn TEXT NOT NULL,
    queue TEXT NOT NULL,
    PRIMARY KEY (topic_arn, queue)
) WITHOUT ROWID;
";

/// How this process's sends to one queue reach a worker waiting for it, without a query:
/// a message visible at once wakes it, and the earliest delayed one sets when to look again.
/// (Messages whose visibility timeout runs out come back at the worker's next poll.)
#[derive(Debug)]
pub(crate) struct Signal {
    /// Told when a message visible at once is sent (a permit is kept when no one waits).
    pub(crate) sent: tokio::sync::Notify,
    /// When the earliest delayed message sent since the last look becomes visible (ms since
    /// the epoch; `i64::MAX`: none).
    pub(crate) due: std::sync::atomic::AtomicI64,
}

impl Default for Signal {
    fn default() -> Self {
        Signal { sent: tokio::sync::Notify::new(), due: std::sync::atomic::AtomicI64::new(i64::MAX) }
    }
}

/// Moves a version 1-4 messages table aside (its indexes dropped, their names are reused), so
/// that `SCHEMA` creates version 5's; [`MESSAGES_V5_COPY`] then copies the rows over.
const MESSAGES_V5_ASIDE: &str = "
DROP INDEX IF EXISTS messages_ready;
DROP INDEX IF EXISTS messages_receipt;
ALTER TABLE messages RENAME TO messages_v4;
";

/// Copies the version 1-4 messages into version 5's table, and drops the old one.
const MESSAGES_V5_COPY: &str = "
INSERT INTO messages (seq, id, queue, body, sent_at, visible_at, receive_count, receipt, dedup_id, deleted)
    SELECT seq, id, queue, body, sent_at, visible_at, receive_count, receipt, dedup_id, deleted FROM messages_v4;
DROP TABLE messages_v4;
";

/// Moves a version 1-5 history table (WITHOUT ROWID) aside, so that `SCHEMA` creates version
/// 6's; [`HISTORY_V6_COPY`] then copies the rows over.
const HISTORY_V6_ASIDE: &str = "ALTER TABLE history RENAME TO history_v5;";

/// Copies the version 1-5 history into version 6's table, and drops the old one.
const HISTORY_V6_COPY: &str = "
INSERT INTO history (arn, event_id, event) SELECT arn, event_id, event FROM history_v5;
DROP TABLE history_v5;
";

/// Which runtime error a failure becomes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// [`Error::Storage`].
    Storage,
    /// [`Error::Messaging`].
    Messaging,
}

impl Kind {
    pub(crate) fn error(self, context: &str, source: impl Into<Source>) -> Error {
        match self {
            Kind::Storage => Error::storage(context, source),
            Kind::Messaging => Error::messaging(context, source),
        }
    }
}

/// What can go wrong inside a database closure.
#[derive(Debug)]
pub(crate) enum Failure {
    Sql(rusqlite::Error),
    Json(serde_json::Error),
    /// Bad data in a row (an out-of-range timestamp, ...).
    Data(String),
    /// A port-level outcome (conflict, already exists), passed through unchanged.
    Port(Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure::Json(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Port(e)
    }
}

impl Failure {
    pub(crate) fn into_error(self, kind: Kind, context: &str) -> Error {
        match self {
            Failure::Sql(e) => kind.error(&format!("{context} (SQLite)"), e),
            Failure::Json(e) => kind.error(&format!("{context} (JSON)"), e),
            Failure::Data(e) => kind.error(context, e),
            Failure::Port(e) => e,
        }
    }
}

/// What the database thread hands back to a request once its batch is committed (or not).
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A request for the database thread: runs on the connection inside the batch's transaction.
type Job = Box<dyn FnOnce(&mut Connection) -> Reply + Send>;

/// Up to this many requests coming together run where they are, one after the other (each
/// ~10-50 µs): grouping pays for the thread hop only when more come at once.
const FEW: usize = 3;

/// The most requests one transaction takes.
const MAX_BATCH: usize = 256;

/// One SQLite connection, shared by the adapters made from it, that **commits in groups**
/// when requests come together and answers a lone request at once.
///
/// A request (a read or a write closure) that finds no other request waiting or on its way runs
/// right where it is, in a transaction of its own: no thread hop, which is most of a lone
/// request's time (a commit is ~10 µs of SQLite, a hop and a wake-up each way cost more). When
/// requests come together, they go to the database thread, which takes all requests waiting at
/// that moment and runs them in one transaction, each inside its own savepoint: a closure that
/// fails is rolled back alone, as if it had had its own transaction. Answers go out after the
/// `COMMIT`, so a write is durable when its caller hears of it either way. Why groups: a driver
/// step is a few small writes, and SQLite's cost is per transaction (WAL frames of every
/// touched page, locks), not per row; with many steps in flight one transaction carries the
/// writes of many, and the SQLite work runs on its own thread beside the async executor's.
///
/// Which way a request goes is decided after a yield to the executor: every request first
/// says it is coming ([`Db::coming`]) and yields, so requests of tasks that are ready at the
/// same moment see each other and group; a request alone runs at once.
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
    jobs: Mutex<mpsc::Sender<(Job, bool)>>,
    /// Requests handed to the database thread and not yet run.
    queued: Arc<AtomicUsize>,
    /// Requests deciding where to run.
    coming: AtomicUsize,
    /// The clock message delays and visibility timeouts are measured with.
    clock: Mutex<Arc<dyn Clock>>,
    /// Per queue, what a worker waiting for it waits on (see [`Signal`]).
    signals: Mutex<std::collections::HashMap<String, Arc<Signal>>>,
    /// Acknowledgements so far (every so many, acknowledged messages are pruned).
    pub(crate) acks: AtomicUsize,
    /// Cleared when the last handle is dropped (stops the checkpoint thread).
    open: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Db {
    fn drop(&mut self) {
        self.open.store(false, Ordering::SeqCst);
    }
}

/// SQLite's page cache (KiB; its default is 2,000): the pages of the executions, histories and
/// messages in flight under load. Measured with `bench_runtime` (3,000 sample executions):
/// 8 MiB read 43% fewer pages from the file than 2 MiB, for 7 MiB more resident memory; 32 MiB
/// gained nothing more.
const CACHE_KIB: i64 = 8 * 1024;

/// How often the checkpoint thread checkpoints the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The WAL file is truncated to this size after a checkpoint that emptied it (bytes).
const JOURNAL_SIZE_LIMIT: i64 = 64 << 20;

/// A WAL longer than this (pages) is checkpointed with TRUNCATE rather than PASSIVE.
const WAL_RESTART_PAGES: i64 = 16_384;

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] while the database is open, with a
/// connection of its own. PASSIVE first: it never waits for, or blocks, readers and writers.
/// But under a steady stream of writes a passive checkpoint never catches up with the end of
/// the WAL, and the WAL is only started over once it has: so a WAL past
/// [`WAL_RESTART_PAGES`] is checkpointed with TRUNCATE, which holds writers back (they wait
/// with their busy timeout) for the moment it takes to finish and empty the file.
fn checkpoint_thread(conn: &Connection, open: &std::sync::atomic::AtomicBool) {
    while open.load(Ordering::SeqCst) {
        std::thread::sleep(CHECKPOINT_EVERY);
        let log: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)).unwrap_or(0);
        if log > WAL_RESTART_PAGES {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

impl Db {
    /// Opens (creating if needed) `data_dir/stepwise.db`, creating `data_dir` if missing.
    pub(crate) fn open(data_dir: &Path, kind: Kind) -> Result<Db, Error> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| kind.error(&format!("creating data directory {}", data_dir.display()), e))?;
        let path: PathBuf = data_dir.join(DB_FILE);
        let context = format!("opening {}", path.display());
        let conn = Connection::open(&path).map_err(|e| Failure::from(e).into_error(kind, &context))?;
        Db::setup(conn, Some(&path)).map_err(|e| e.into_error(kind, &context))
    }

    /// A private in-memory database (gone when the last handle is dropped).
    pub(crate) fn in_memory(kind: Kind) -> Result<Db, Error> {
        let context = "opening an in-memory database";
        let conn = Connection::open_in_memory().map_err(|e| Failure::from(e).into_error(kind, context))?;
        Db::setup(conn, None).map_err(|e| e.into_error(kind, context))
    }

    /// `file`: the database file's path (`None`: in memory).
    fn setup(mut conn: Connection, file: Option<&Path>) -> Result<Db, Failure> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        if let Some(path) = file {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Failure::Data(format!("could not switch to WAL mode (journal mode is {mode})")));
            }
            // Checkpoints (copying the WAL back into the database file, with an fsync) are
            // made by a thread of their own, not by whichever commit crosses the threshold.
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
            let checkpoints = Connection::open(path)?;
            checkpoints.busy_timeout(BUSY_TIMEOUT)?;
            let open = open.clone();
            std::thread::Builder::new()
                .name("stepwise-checkpoint".into())
                .spawn(move || checkpoint_thread(&checkpoints, &open))
                .map_err(|e| Failure::Data(format!("starting the checkpoint thread: {e}")))?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A grouped transaction runs each request in a savepoint, and a savepoint keeps the
        // pages it changes in a sub-journal: spilled to a temporary file past 64 KiB unless
        // temporary files are kept in memory (under load that file was half of all writes).
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(128);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Failure::Data(format!(
                "the database has schema version {version}, newer than this stepwise's {SCHEMA_VERSION}"
            )));
        }
        if version == 1 {
            // Version 2 keeps when an execution stopped, for listings.
            tx.execute_batch("ALTER TABLE executions ADD COLUMN stop_time TEXT")?;
        }
        // Version 5: message ids are not indexed (nothing looks them up) and receipts name their
        // row (`seq.random`), so the receipt index is gone: two index writes fewer per message.
        // SQLite cannot drop a constraint: the table is copied.
        let copy_messages = (1..5).contains(&version) && table_exists(&tx, "messages")?;
        if copy_messages {
            tx.execute_batch(MESSAGES_V5_ASIDE)?;
        }
        // Version 6: the history is a rowid table (see `SCHEMA`); copied, as a table cannot
        // change kind in place.
        let copy_history = (1..6).contains(&version) && table_exists(&tx, "history")?;
        if copy_history {
            tx.execute_batch(HISTORY_V6_ASIDE)?;
        }
        tx.execute_batch(SCHEMA)?;
        if copy_messages {
            tx.execute_batch(MESSAGES_V5_COPY)?;
        }
        if copy_history {
            tx.execute_batch(HISTORY_V6_COPY)?;
        }
        // Version 5 has no index of all executions by start time: only `stepwise list` read
        // it (all executions, sorted once), and every creation paid a B-tree insert for it.
        tx.execute_batch("DROP INDEX IF EXISTS executions_newest")?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        let conn = Arc::new(Mutex::new(conn));
        let queued = Arc::new(AtomicUsize::new(0));
        let (jobs, queue) = mpsc::channel();
        {
            let (conn, queued) = (conn.clone(), queued.clone());
            std::thread::Builder::new()
                .name("stepwise-sqlite".into())
                .spawn(move || database_thread(&conn, &queued, queue))
                .map_err(|e| Failure::Data(format!("starting the database thread: {e}")))?;
        }
        Ok(Db {
            conn,
            jobs: Mutex::new(jobs),
            queued,
            coming: AtomicUsize::new(0),
            clock: Mutex::new(Arc::new(SystemClock)),
            signals: Mutex::default(),
            acks: AtomicUsize::new(0),
            open,
        })
    }

    /// Hands `f` to the database thread; `deliver` gets its outcome after the commit.
    fn submit<T: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
        deliver: impl FnOnce(Result<T, Failure>) + Send + 'static,
    ) -> Result<(), Failure> {
        let job: Job = Box::new(move |conn: &mut Connection| -> Reply {
            let outcome = if write { in_savepoint(conn, f) } else { guarded(conn, f) };
            Box::new(move |committed: Result<(), String>| {
                deliver(match (outcome, committed) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(Failure::Data(format!("the transaction did not commit: {e}"))),
                    (Err(e), _) => Err(e),
                });
            })
        });
        let sender = self.jobs.lock().map_err(|_| Failure::Data("the database handle is poisoned".into()))?.clone();
        self.queued.fetch_add(1, Ordering::SeqCst);
        sender.send((job, write)).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            Failure::Data("the database thread has stopped".into())
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        write: bool,
        kind: Kind,
        context: &str,
        f: impl FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Error> {
        // Say it, then let every other ready task run: those that also reach the database now
        // see this one coming, and it sees them.
        let coming = Coming::new(&self.coming);
        tokio::task::yield_now().await;
        let alone = self.coming.load(Ordering::SeqCst) <= FEW && self.queued.load(Ordering::SeqCst) == 0;
        let here = match alone.then(|| self.conn.try_lock().ok()).flatten() {
            // (Given back when another process holds the write lock: the database thread
            // waits for it, not this async thread.)
            Some(mut conn) => alone_transaction(&mut conn, write, f),
            None => Err(f),
        };
        drop(coming);
        let f = match here {
            Ok(r) => return r.map_err(|e| e.into_error(kind, context)),
            Err(f) => f,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(write, f, move |r| {
            let _ = tx.send(r);
        })
        .map_err(|e| e.into_error(kind, context))?;
        match rx.await {
            Ok(r) => r.map_err(|e| e.into_error(kind, context)),
            Err(_) => Err(kind.error(context, "the database thread dropped the request")),
        }
    }

    fn run_blocking<T: Send + 'static>(
        &self,
        write: bool,
        kind: Kind,
        context: &str,
        f: impl FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = mpsc::channel();
        self.submit(write, f, move |r| {
            let _ = tx.send(r);
        })
        .map_err(|e| e.into_error(kind, context))?;
        match rx.recv() {
            Ok(r) => r.map_err(|e| e.into_error(kind, context)),
            Err(_) => Err(kind.error(context, "the database thread dropped the request")),
        }
    }

    /// Runs `f` as one atomic write: it is applied entirely (and committed, durably, before
    /// this returns `Ok`) or not at all when it returns `Err`.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        kind: Kind,
        context: &str,
        f: impl FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Error> {
        self.run(true, kind, context, f).await
    }

    /// Runs `f` for reading.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        kind: Kind,
        context: &str,
        f: impl FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Error> {
        self.run(false, kind, context, f).await
    }

    /// [`Db::write`] for synchronous callers (not from inside an async task).
    pub(crate) fn write_blocking<T: Send + 'static>(
        &self,
        kind: Kind,
        context: &str,
        f: impl FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Error> {
        self.run_blocking(true, kind, context, f)
    }

    /// [`Db::read`] for synchronous callers.
    pub(crate) fn read_blocking<T: Send + 'static>(
        &self,
        kind: Kind,
        context: &str,
        f: impl FnOnce(&Connection) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Error> {
        self.run_blocking(false, kind, context, f)
    }
}

/// `Connection::execute` through the statement cache (parsing a statement costs more than
/// running most of ours).
pub(crate) fn execute<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// `Connection::query_row` through the statement cache.
pub(crate) fn query_row<T, P: rusqlite::Params, F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: F,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// A request counted in [`Db::coming`] until dropped (also when its future is dropped at the
/// yield: a count left behind would send every later request to the thread).
struct Coming<'a>(&'a AtomicUsize);

impl<'a> Coming<'a> {
    fn new(count: &'a AtomicUsize) -> Coming<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Coming(count)
    }
}

impl Drop for Coming<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether the database has a table of this name.
fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)", [name], |r| {
        r.get(0)
    })
}

/// Runs one SQL statement without parameters through the statement cache (`BEGIN`, `COMMIT`,
/// savepoints: parsing them again every time was a visible part of a commit's cost).
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// `f` in a transaction of its own, on the caller's thread. Gives `f` back, unrun, when the
/// transaction cannot begin at once (another connection holds the write lock): the caller must
/// not wait for that on an async thread.
#[allow(clippy::type_complexity)]
fn alone_transaction<T, F: FnOnce(&Connection) -> Result<T, Failure>>(
    conn: &mut Connection,
    write: bool,
    f: F,
) -> Result<Result<T, Failure>, F> {
    if conn.busy_timeout(Duration::ZERO).is_err() {
        return Err(f);
    }
    let began = exec(conn, if write { "BEGIN IMMEDIATE" } else { "BEGIN" });
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    if began.is_err() {
        return Err(f);
    }
    let outcome = guarded(conn, f);
    Ok(match outcome {
        Ok(v) => match exec(conn, "COMMIT") {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = exec(conn, "ROLLBACK");
                Err(Failure::Data(format!("the transaction did not commit: SQLite: {e}")))
            }
        },
        Err(e) => {
            let _ = exec(conn, "ROLLBACK");
            Err(e)
        }
    })
}

/// Runs `f`, a panic becoming an error instead of unwinding through the caller (the database
/// thread must not die of one request).
fn guarded<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T, Failure>) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(Failure::Data("a database request panicked".into())))
}

/// Runs `f` inside a savepoint: released when it returns `Ok`, rolled back otherwise (and when
/// it panics).
fn in_savepoint<T>(conn: &mut Connection, f: impl FnOnce(&Connection) -> Result<T, Failure>) -> Result<T, Failure> {
    exec(conn, "SAVEPOINT request")?;
    match guarded(conn, f) {
        Ok(v) => {
            exec(conn, "RELEASE request")?;
            Ok(v)
        }
        Err(e) => {
            let _ = exec(conn, "ROLLBACK TO request").and_then(|()| exec(conn, "RELEASE request"));
            Err(e)
        }
    }
}

/// The database thread: takes every waiting request, runs them in one transaction (`BEGIN
/// IMMEDIATE` when any writes), commits, answers them all; ends when every handle is gone.
fn database_thread(conn: &Mutex<Connection>, queued: &AtomicUsize, queue: mpsc::Receiver<(Job, bool)>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let taken = batch.len();
        let mut conn = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let writes = batch.iter().any(|(_, write)| *write);
        // If BEGIN fails (a busy database), the jobs still run, each in its savepoint, which
        // outside a transaction is a transaction of its own: failing them all would make a
        // busy database fatal.
        let in_transaction = exec(&conn, if writes { "BEGIN IMMEDIATE" } else { "BEGIN" }).is_ok();
        let replies: Vec<Reply> = batch.into_iter().map(|(job, _)| job(&mut conn)).collect();
        let committed = if in_transaction { exec(&conn, "COMMIT").map_err(|e| format!("SQLite: {e}")) } else { Ok(()) };
        if committed.is_err() {
            let _ = exec(&conn, "ROLLBACK");
        }
        drop(conn);
        queued.fetch_sub(taken, Ordering::SeqCst);
        for reply in replies {
            reply(committed.clone());
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Now, in milliseconds since the epoch, by the database's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.lock().map(|c| c.now()).unwrap_or_else(|_| Utc::now()).timestamp_millis()
    }

    /// What a worker waiting for `queue` waits on, and a send to it tells.
    pub(crate) fn signal(&self, queue: &str) -> Arc<Signal> {
        let mut signals = self.signals.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match signals.get(queue) {
            Some(n) => n.clone(),
            None => signals.entry(queue.to_string()).or_default().clone(),
        }
    }

    /// Measures delays and visibility timeouts with `clock` from now on.
    pub(crate) fn set_clock(&self, clock: Arc<dyn Clock>) {
        if let Ok(mut c) = self.clock.lock() {
            *c = clock;
        }
    }
}

/// Milliseconds since the epoch as a time.
pub(crate) fn from_ms(ms: i64) -> Result<DateTime<Utc>, Failure> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| Failure::Data(format!("timestamp {ms} ms out of range")))
}

/// A duration in milliseconds, saturating.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A time as fixed-width RFC 3339 text (sorts chronologically).
pub(crate) fn to_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// RFC 3339 text as a time.
pub(crate) fn from_text(s: &str) -> Result<DateTime<Utc>, Failure> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Failure::Data(format!("bad timestamp {s:?}: {e}")))
}

/// A u64 as an SQLite integer.
pub(crate) fn to_i64(v: u64) -> Result<i64, Failure> {
    i64::try_from(v).map_err(|_| Failure::Data(format!("{v} does not fit an SQLite integer")))
}

/// An SQLite integer as a u64.
pub(crate) fn to_u64(v: i64) -> Result<u64, Failure> {
    u64::try_from(v).map_err(|_| Failure::Data(format!("negative value {v} where a count was expected")))
}

/// A random id shaped like a UUID (version 4), from SQLite's random source.
pub(crate) fn new_id(conn: &Connection) -> Result<String, Failure> {
    let (hi, lo): (i64, i64) = query_row(conn, "SELECT random(), random()", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(stepwise_asl::uuid::v4(hi as u64, lo as u64))
}
