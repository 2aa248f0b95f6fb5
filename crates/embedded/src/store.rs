//! [`SqliteStore`]: the execution store in SQLite.

use crate::db::{execute, from_text, query_row, to_i64, to_text, to_u64, Db, Failure, Kind};
use rusqlite::{params, Connection, OptionalExtension, StatementStatus};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::{Arc, Mutex};
use stepwise_asl::history::HistoryEvent;
use stepwise_runtime::ports::{
    Activity, Commit, ExecutionPage, ExecutionQuery, ExecutionStatus, ExecutionSummary, Machine, MapRun, OutboxItem,
    PageToken, PendingActivityTask, QueuedSend, Store, Stored, TokenEntry,
};
use stepwise_runtime::Error;

const KIND: Kind = Kind::Storage;

/// The execution store in one SQLite database: machines, executions (state, version and
/// outbox as JSON), history events and the task-token index.
///
/// Every write is atomic and durable when it returns (the database thread commits it in a
/// group, inside a savepoint of its own); commits are conditional on the stored version, so
/// several handles on one file (in one process or several) can drive the same executions
/// safely. Cloning shares the connection.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
    reads: Arc<Mutex<ListReads>>,
    /// Whether the queue adapter shares this connection ([`crate::Embedded`]): a creation then
    /// sends its first message in its own write ([`Store::create_sending`]).
    queue_shared: bool,
}

/// What execution listings read, summed over a store's listings (tests check that a page
/// reads only what it shows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListReads {
    /// Listing queries run.
    pub queries: u64,
    /// Rows the queries returned.
    pub rows: u64,
    /// Rows SQLite visited in full scans of a table (0 when an index served the query).
    pub full_scan_steps: u64,
    /// Sorts SQLite did (0 when the index gives the order).
    pub sorts: u64,
}

impl SqliteStore {
    /// Opens the store in `data_dir/stepwise.db`, creating the directory and the database if
    /// missing. Each call opens its own connection.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, Error> {
        Ok(SqliteStore::from_db(Arc::new(Db::open(data_dir, KIND)?)))
    }

    /// A store in a private in-memory database, for tests.
    pub fn in_memory() -> Result<SqliteStore, Error> {
        Ok(SqliteStore::from_db(Arc::new(Db::in_memory(KIND)?)))
    }

    /// The store of a database whose queue adapter shares the connection.
    pub(crate) fn sharing_queue(self) -> SqliteStore {
        SqliteStore { queue_shared: true, ..self }
    }

    /// Inserts a new execution, and `first` into the queue in the same write.
    async fn create_with(&self, machine_arn: &str, commit: Commit, first: Option<QueuedSend>) -> Result<(), Error> {
        let rows = Rows::of(&commit).map_err(|e| e.into_error(KIND, "create"))?;
        let name = commit.execution.info.name.clone();
        let start = to_text(commit.execution.start_time);
        let machine_arn = machine_arn.to_string();
        let now = self.db.now_ms();
        self.db
            .write(KIND, "create", move |tx| {
                let inserted = execute(tx,
                "INSERT INTO executions (arn, machine_arn, name, status, start_time, version, state, outbox, stop_time)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8) ON CONFLICT (arn) DO NOTHING",
                params![rows.arn, machine_arn, name, rows.status, start, rows.state, rows.outbox, rows.stop],
            )?;
                if inserted == 0 {
                    return Err(Error::AlreadyExists { arn: rows.arn.clone() }.into());
                }
                rows.insert_children(tx)?;
                if let Some(m) = first {
                    crate::queue::insert_message(
                        tx,
                        now,
                        crate::queue::queue_name(&m.queue),
                        &m.body,
                        m.delay,
                        m.dedup_id.as_deref(),
                    )?;
                }
                Ok(())
            })
            .await
    }

    pub(crate) fn from_db(db: Arc<Db>) -> SqliteStore {
        SqliteStore { db, reads: Arc::default(), queue_shared: false }
    }

    /// The JSON document `sql` selects for `arn` (one column, one row at most), decoded.
    async fn get_json<T: DeserializeOwned + Send + 'static>(
        &self,
        op: &'static str,
        sql: &'static str,
        arn: &str,
    ) -> Result<Option<T>, Error> {
        let arn = arn.to_string();
        self.db
            .read(KIND, op, move |conn| Ok(query_row(conn, sql, [&arn], |r| r.get::<_, String>(0)).optional()?))
            .await?
            .map(|j| decode(&j, op))
            .transpose()
    }

    /// Every JSON document `sql` selects (one column), decoded, in its order.
    async fn list_json<T: DeserializeOwned + Send + 'static>(
        &self,
        op: &'static str,
        sql: &'static str,
    ) -> Result<Vec<T>, Error> {
        self.db
            .read(KIND, op, move |conn| {
                let mut stmt = conn.prepare_cached(sql)?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                let mut out = Vec::new();
                for json in rows {
                    out.push(serde_json::from_str(&json?)?);
                }
                Ok(out)
            })
            .await
    }

    /// What the execution listings of this handle read so far.
    pub fn list_reads(&self) -> ListReads {
        *self.reads.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every execution of every machine, newest first: for `stepwise list`, which shows all a
    /// data directory holds (the port's listing is per machine and paged).
    pub async fn all_executions(&self) -> Result<Vec<ExecutionSummary>, Error> {
        self.db
            .read(KIND, "all_executions", move |conn| {
                let mut stmt = conn
                    .prepare_cached(&format!("SELECT {SUMMARY} FROM executions ORDER BY start_time DESC, arn DESC"))?;
                let rows = stmt.query_map([], summary_row)?;
                let mut list = Vec::new();
                for row in rows {
                    list.push(row?.into_summary()?);
                }
                Ok(list)
            })
            .await
    }
}

/// The columns of an [`ExecutionSummary`].
const SUMMARY: &str = "arn, machine_arn, name, status, start_time, stop_time";

/// A listing row as read.
struct SummaryRow(String, String, String, String, String, Option<String>);

/// Decodes a JSON document read from the database: after the read, on the caller's thread,
/// not under the connection, the one serial resource under load (`load`, `find_token`, `history`).
fn decode<T: DeserializeOwned>(json: &str, op: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Failure::from(e).into_error(KIND, op))
}

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

impl SummaryRow {
    fn into_summary(self) -> Result<ExecutionSummary, Failure> {
        let SummaryRow(execution_arn, machine_arn, name, status, start, stop) = self;
        let status =
            ExecutionStatus::parse(&status).ok_or_else(|| Failure::Data(format!("unknown status {status:?}")))?;
        Ok(ExecutionSummary {
            execution_arn,
            machine_arn,
            name,
            status,
            start: from_text(&start)?,
            stop: stop.as_deref().map(from_text).transpose()?,
        })
    }
}

/// The rows a commit writes, serialised before the connection is locked.
struct Rows {
    arn: String,
    status: &'static str,
    stop: Option<String>,
    state: String,
    outbox: String,
    history: Vec<(i64, String)>,
    tokens: Vec<(String, String)>,
}

impl Rows {
    fn of(commit: &Commit) -> Result<Rows, Failure> {
        // One row per commit: its events as one JSON array, keyed by the first one's id (a
        // row per event cost an insert each; a run of Pass states commits dozens at once).
        let history = match commit.history.first() {
            Some(first) => vec![(to_i64(first.id)?, serde_json::to_string(&commit.history)?)],
            None => Vec::new(),
        };
        let tokens = commit
            .tokens
            .iter()
            .map(|t| Ok((t.hash.clone(), serde_json::to_string(t)?)))
            .collect::<Result<Vec<_>, Failure>>()?;
        Ok(Rows {
            arn: commit.execution.info.execution_arn.clone(),
            status: commit.execution.status.as_str(),
            stop: commit.stop_date().map(to_text),
            state: serde_json::to_string(&commit.execution)?,
            outbox: serde_json::to_string(&commit.outbox)?,
            history,
            tokens,
        })
    }

    /// Inserts the history events and token entries.
    fn insert_children(&self, tx: &Connection) -> Result<(), Failure> {
        let mut history = tx.prepare_cached("INSERT INTO history (arn, event_id, event) VALUES (?1, ?2, ?3)")?;
        for (id, event) in &self.history {
            history.execute(params![self.arn, id, event])?;
        }
        let mut tokens = tx.prepare_cached("INSERT INTO tokens (hash, entry, used) VALUES (?1, ?2, 0)")?;
        for (hash, entry) in &self.tokens {
            tokens.execute(params![hash, entry])?;
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    async fn put_machine(&self, machine: &Machine) -> Result<(), Error> {
        let json = serde_json::to_string(machine).map_err(|e| KIND.error("put_machine", e))?;
        let (arn, name, created, revision) =
            (machine.arn.clone(), machine.name.clone(), to_text(machine.created), machine.revision_id.clone());
        self.db.write(KIND, "put_machine", move |tx| {
            execute(tx,
                "INSERT INTO machines (arn, name, created, machine) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (arn) DO UPDATE SET name = excluded.name, created = excluded.created, machine = excluded.machine",
                params![arn, name, created, json],
            )?;
            execute(tx,
                "INSERT INTO machine_revisions (arn, revision, machine) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![arn, revision, json],
            )?;
            Ok(())
        }).await
    }

    async fn replace_machine(&self, machine: &Machine, previous: &Machine) -> Result<(), Error> {
        let json = serde_json::to_string(machine).map_err(|e| KIND.error("replace_machine", e))?;
        let old = serde_json::to_string(previous).map_err(|e| KIND.error("replace_machine", e))?;
        let (arn, name, created, revision) =
            (machine.arn.clone(), machine.name.clone(), to_text(machine.created), machine.revision_id.clone());
        self.db
            .write(KIND, "replace_machine", move |tx| {
                let changed = execute(
                    tx,
                    "UPDATE machines SET name = ?2, created = ?3, machine = ?4 WHERE arn = ?1 AND machine = ?5",
                    params![arn, name, created, json, old],
                )?;
                if changed == 0 {
                    return Err(Error::Conflict { expected: 0 }.into());
                }
                execute(
                    tx,
                    "INSERT INTO machine_revisions (arn, revision, machine) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                    params![arn, revision, json],
                )?;
                Ok(())
            })
            .await
    }

    async fn get_machine_revision(&self, arn: &str, revision_id: &str) -> Result<Option<Machine>, Error> {
        let (arn, revision_id) = (arn.to_string(), revision_id.to_string());
        self.db
            .read(KIND, "get_machine_revision", move |conn| {
                let json: Option<String> = query_row(
                    conn,
                    "SELECT machine FROM machine_revisions WHERE arn = ?1 AND revision = ?2",
                    [&arn, &revision_id],
                    |r| r.get(0),
                )
                .optional()?;
                Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
            })
            .await
    }

    async fn delete_machine(&self, arn: &str) -> Result<(), Error> {
        let arn = arn.to_string();
        self.db
            .write(KIND, "delete_machine", move |tx| {
                execute(tx, "DELETE FROM machines WHERE arn = ?1", [&arn])?;
                Ok(())
            })
            .await
    }

    async fn get_machine(&self, arn: &str) -> Result<Option<Machine>, Error> {
        self.get_json("get_machine", "SELECT machine FROM machines WHERE arn = ?1", arn).await
    }

    async fn put_activity(&self, activity: &Activity) -> Result<(), Error> {
        let json = serde_json::to_string(activity).map_err(|e| KIND.error("put_activity", e))?;
        let (arn, created) = (activity.arn.clone(), to_text(activity.created));
        self.db
            .write(KIND, "put_activity", move |tx| {
                execute(
                    tx,
                    "INSERT INTO activities (arn, created, activity) VALUES (?1, ?2, ?3)
                     ON CONFLICT (arn) DO UPDATE SET created = excluded.created, activity = excluded.activity",
                    params![arn, created, json],
                )?;
                Ok(())
            })
            .await
    }

    async fn get_activity(&self, arn: &str) -> Result<Option<Activity>, Error> {
        self.get_json("get_activity", "SELECT activity FROM activities WHERE arn = ?1", arn).await
    }

    async fn delete_activity(&self, arn: &str) -> Result<(), Error> {
        let arn = arn.to_string();
        self.db
            .write(KIND, "delete_activity", move |tx| {
                execute(tx, "DELETE FROM activities WHERE arn = ?1", [&arn])?;
                Ok(())
            })
            .await
    }

    async fn list_activities(&self) -> Result<Vec<Activity>, Error> {
        self.list_json("list_activities", "SELECT activity FROM activities ORDER BY created, arn").await
    }

    async fn push_activity_task(&self, task: &PendingActivityTask) -> Result<(), Error> {
        let json = serde_json::to_string(task).map_err(|e| KIND.error("push_activity_task", e))?;
        let (arn, id, created) = (task.activity_arn.clone(), task.id.clone(), to_text(task.created));
        self.db
            .write(KIND, "push_activity_task", move |tx| {
                execute(
                    tx,
                    "INSERT INTO activity_tasks (activity_arn, id, created, task) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                    params![arn, id, created, json],
                )?;
                Ok(())
            })
            .await
    }

    async fn take_activity_task(&self, activity_arn: &str) -> Result<Option<PendingActivityTask>, Error> {
        let arn = activity_arn.to_string();
        self.db
            .write(KIND, "take_activity_task", move |tx| {
                let row: Option<(i64, String)> = query_row(
                    tx,
                    "SELECT seq, task FROM activity_tasks WHERE activity_arn = ?1 AND taken = 0
                         ORDER BY created, seq LIMIT 1",
                    [&arn],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
                let Some((seq, json)) = row else { return Ok(None) };
                // Kept, marked taken: the same id pushed again (a redone schedule) stays a no-op.
                execute(tx, "UPDATE activity_tasks SET taken = 1 WHERE seq = ?1", [seq])?;
                Ok(Some(serde_json::from_str(&json)?))
            })
            .await
    }

    async fn list_machines(&self) -> Result<Vec<Machine>, Error> {
        self.list_json("list_machines", "SELECT machine FROM machines ORDER BY created, arn").await
    }

    async fn create(&self, machine_arn: &str, commit: Commit) -> Result<(), Error> {
        self.create_with(machine_arn, commit, None).await.map(|_| ())
    }

    async fn create_sending(&self, machine_arn: &str, commit: Commit, first: &QueuedSend) -> Result<bool, Error> {
        if !self.queue_shared {
            return self.create(machine_arn, commit).await.map(|()| false);
        }
        self.create_with(machine_arn, commit, Some(first.clone())).await?;
        crate::queue::sent(&self.db, &first.queue, first.delay);
        Ok(true)
    }

    async fn load(&self, arn: &str) -> Result<Option<Stored>, Error> {
        let arn = arn.to_string();
        let row = self
            .db
            .read(KIND, "load", move |conn| {
                let row: Option<(String, String, i64, String, Option<String>)> = query_row(
                    conn,
                    "SELECT state, machine_arn, version, outbox, stop_time FROM executions WHERE arn = ?1",
                    [&arn],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
                Ok(row)
            })
            .await?;
        // Decoded here, not under the connection: the execution's JSON is most of a load's
        // time, and the connection is the one serial resource under load.
        let Some((state, machine_arn, version, outbox, stop)) = row else { return Ok(None) };
        Ok(Some(Stored {
            execution: decode(&state, "load")?,
            machine_arn,
            version: to_u64(version).map_err(|e| e.into_error(KIND, "load"))?,
            outbox: decode::<Vec<OutboxItem>>(&outbox, "load")?,
            stop_date: stop.as_deref().map(from_text).transpose().map_err(|e| e.into_error(KIND, "load"))?,
        }))
    }

    async fn commit(&self, commit: &Commit) -> Result<(), Error> {
        let rows = Rows::of(commit).map_err(|e| e.into_error(KIND, "commit"))?;
        let expected = commit.expected_version;
        self.db
            .write(KIND, "commit", move |tx| {
                let updated = execute(
                    tx,
                    "UPDATE executions SET version = version + 1, status = ?1, state = ?2, outbox = ?3,
                 stop_time = CASE WHEN ?1 = 'RUNNING' THEN NULL ELSE coalesce(?6, stop_time) END
                 WHERE arn = ?4 AND version = ?5",
                    params![rows.status, rows.state, rows.outbox, rows.arn, to_i64(expected)?, rows.stop],
                )?;
                if updated == 0 {
                    // Returning an error rolls the transaction back.
                    return Err(Error::Conflict { expected }.into());
                }
                rows.insert_children(tx)
            })
            .await
    }

    async fn clear_outbox(&self, arn: &str, version: u64) -> Result<(), Error> {
        let arn = arn.to_string();
        self.db
            .write(KIND, "clear_outbox", move |tx| {
                execute(
                    tx,
                    "UPDATE executions SET outbox = '[]' WHERE arn = ?1 AND version = ?2 AND outbox <> '[]'",
                    params![arn, to_i64(version)?],
                )?;
                Ok(())
            })
            .await
    }

    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, Error> {
        let arn = arn.to_string();
        let rows = self
            .db
            .read(KIND, "history", move |conn| {
                let mut stmt = conn.prepare_cached("SELECT event FROM history WHERE arn = ?1 ORDER BY event_id")?;
                let rows = stmt.query_map([&arn], |r| r.get::<_, String>(0))?;
                Ok(rows.collect::<Result<Vec<String>, _>>()?)
            })
            .await?;
        let mut events = Vec::new();
        for row in rows {
            // A commit's events (an array), or one event (rows written before schema 5).
            if row.starts_with('[') {
                events.extend(decode::<Vec<HistoryEvent>>(&row, "history")?);
            } else {
                events.push(decode(&row, "history")?);
            }
        }
        Ok(events)
    }

    async fn put_tokens(&self, tokens: &[TokenEntry]) -> Result<(), Error> {
        let rows = tokens
            .iter()
            .map(|t| serde_json::to_string(t).map(|entry| (t.hash.clone(), entry)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| KIND.error("put_tokens", e))?;
        self.db
            .write(KIND, "put_tokens", move |tx| {
                for (hash, entry) in &rows {
                    execute(
                        tx,
                        "INSERT OR IGNORE INTO tokens (hash, entry, used) VALUES (?1, ?2, 0)",
                        params![hash, entry],
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenEntry>, Error> {
        let hash = hash.to_string();
        self.db
            .read(KIND, "find_token", move |conn| {
                Ok(query_row(conn, "SELECT entry FROM tokens WHERE hash = ?1", [&hash], |r| r.get::<_, String>(0))
                    .optional()?)
            })
            .await?
            .map(|e| decode(&e, "find_token"))
            .transpose()
    }

    async fn consume_token(&self, hash: &str) -> Result<bool, Error> {
        let hash = hash.to_string();
        self.db
            .write(KIND, "consume_token", move |tx| {
                Ok(execute(tx, "UPDATE tokens SET used = 1 WHERE hash = ?1 AND used = 0", [&hash])? == 1)
            })
            .await
    }

    async fn create_map_run(&self, run: &MapRun) -> Result<bool, Error> {
        let json = serde_json::to_string(run).map_err(|e| KIND.error("create_map_run", e))?;
        let (arn, execution, start) = (run.arn.clone(), run.execution_arn.clone(), to_text(run.start_date));
        self.db
            .write(KIND, "create_map_run", move |tx| {
                let n = execute(
                    tx,
                    "INSERT INTO map_runs (arn, execution_arn, start_time, version, run) VALUES (?1, ?2, ?3, 1, ?4)
                     ON CONFLICT (arn) DO NOTHING",
                    params![arn, execution, start, json],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn load_map_run(&self, arn: &str) -> Result<Option<(MapRun, u64)>, Error> {
        let arn = arn.to_string();
        self.db
            .read(KIND, "load_map_run", move |conn| {
                let row: Option<(String, i64)> =
                    query_row(conn, "SELECT run, version FROM map_runs WHERE arn = ?1", [&arn], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let Some((run, version)) = row else { return Ok(None) };
                Ok(Some((serde_json::from_str(&run)?, to_u64(version)?)))
            })
            .await
    }

    async fn commit_map_run(&self, run: &MapRun, expected_version: u64) -> Result<(), Error> {
        let json = serde_json::to_string(run).map_err(|e| KIND.error("commit_map_run", e))?;
        let arn = run.arn.clone();
        self.db
            .write(KIND, "commit_map_run", move |tx| {
                let n = execute(
                    tx,
                    "UPDATE map_runs SET run = ?1, version = version + 1 WHERE arn = ?2 AND version = ?3",
                    params![json, arn, to_i64(expected_version)?],
                )?;
                if n == 0 {
                    return Err(Error::Conflict { expected: expected_version }.into());
                }
                Ok(())
            })
            .await
    }

    async fn list_map_runs(&self, execution_arn: &str) -> Result<Vec<MapRun>, Error> {
        let execution_arn = execution_arn.to_string();
        self.db
            .read(KIND, "list_map_runs", move |conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT run FROM map_runs WHERE execution_arn = ?1 ORDER BY start_time, arn")?;
                let rows = stmt.query_map([&execution_arn], |r| r.get::<_, String>(0))?;
                let mut out = Vec::new();
                for json in rows {
                    out.push(serde_json::from_str(&json?)?);
                }
                Ok(out)
            })
            .await
    }

    async fn put_map_items(&self, run_arn: &str, chunk: u64, items: &str) -> Result<(), Error> {
        let (arn, items) = (run_arn.to_string(), items.to_string());
        self.db
            .write(KIND, "put_map_items", move |tx| {
                execute(
                    tx,
                    "INSERT INTO map_items (run_arn, chunk, items) VALUES (?1, ?2, ?3)
                     ON CONFLICT (run_arn, chunk) DO UPDATE SET items = excluded.items",
                    params![arn, to_i64(chunk)?, items],
                )?;
                Ok(())
            })
            .await
    }

    async fn get_map_items(&self, run_arn: &str, chunk: u64) -> Result<Option<String>, Error> {
        let arn = run_arn.to_string();
        self.db
            .read(KIND, "get_map_items", move |conn| {
                Ok(query_row(
                    conn,
                    "SELECT items FROM map_items WHERE run_arn = ?1 AND chunk = ?2",
                    params![arn, to_i64(chunk)?],
                    |r| r.get::<_, String>(0),
                )
                .optional()?)
            })
            .await
    }

    async fn put_blob(&self, key: &str, data: &[u8]) -> Result<(), Error> {
        let (key, data) = (key.to_string(), data.to_vec());
        self.db
            .write(KIND, "put_blob", move |tx| {
                execute(tx,
                    "INSERT INTO blobs (key, data) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                    params![key, data],
                )?;
                Ok(())
            })
            .await
    }

    async fn get_blob(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let key = key.to_string();
        self.db
            .read(KIND, "get_blob", move |conn| {
                Ok(query_row(conn, "SELECT data FROM blobs WHERE key = ?1", params![key], |r| r.get::<_, Vec<u8>>(0))
                    .optional()?)
            })
            .await
    }

    async fn list_executions(&self, query: &ExecutionQuery) -> Result<ExecutionPage, Error> {
        let ExecutionQuery { machine_arn, status, limit, page } = query.clone();
        let limit = limit.max(1);
        let reads = self.reads.clone();
        self.db
            .read(KIND, "list_executions", move |conn| {
                // One statement per shape, each served by an index in listing order: no scan of
                // other machines' (or other statuses') rows, no sort.
                let mut sql = format!("SELECT {SUMMARY} FROM executions WHERE machine_arn = ?1");
                if status.is_some() {
                    sql.push_str(" AND status = ?2");
                }
                if page.is_some() {
                    sql.push_str(" AND (start_time < ?3 OR (start_time = ?3 AND arn < ?4))");
                }
                sql.push_str(" ORDER BY start_time DESC, arn DESC LIMIT ?5");
                let mut stmt = conn.prepare_cached(&sql)?;
                stmt.raw_bind_parameter(1, &machine_arn)?;
                if let Some(s) = status {
                    stmt.raw_bind_parameter(2, s.as_str())?;
                }
                if let Some(p) = &page {
                    stmt.raw_bind_parameter(3, to_text(p.start))?;
                    stmt.raw_bind_parameter(4, &p.arn)?;
                }
                stmt.raw_bind_parameter(5, to_i64(limit as u64 + 1)?)?;
                let mut rows = stmt.raw_query();
                let mut executions = Vec::new();
                while let Some(r) = rows.next()? {
                    executions.push(summary_row(r)?.into_summary()?);
                }
                drop(rows);
                {
                    let mut reads = reads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    reads.queries += 1;
                    reads.rows += executions.len() as u64;
                    reads.full_scan_steps += stmt.get_status(StatementStatus::FullscanStep).max(0) as u64;
                    reads.sorts += stmt.get_status(StatementStatus::Sort).max(0) as u64;
                    stmt.reset_status(StatementStatus::FullscanStep);
                    stmt.reset_status(StatementStatus::Sort);
                }
                let next = if executions.len() > limit {
                    executions.truncate(limit);
                    executions.last().map(PageToken::after)
                } else {
                    None
                };
                Ok(ExecutionPage { executions, next })
            })
            .await
    }
}
