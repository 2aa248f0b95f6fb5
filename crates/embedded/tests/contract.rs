//! The ports' contract suites on the SQLite adapters (in memory and file-backed), plus what
//! only a file can show: several handles racing on one file, data surviving a reopen.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stepwise_asl::history::{Details, HistoryEvent};
use stepwise_asl::stepper::{new_execution, Execution, ExecutionInfo, Status};
use stepwise_embedded::{Embedded, SqliteQueue, SqliteStore, SqliteTopics, DB_FILE};
use stepwise_runtime::contract;
use stepwise_runtime::ports::{
    Action, Commit, ExecutionQuery, ExecutionStatus, Machine, OutboxItem, Queue, QueuedSend, Store, TokenEntry, Topics,
};
use stepwise_runtime::Error;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("stepwise-embedded-{tag}-{}-{nanos:x}-{n}", std::process::id()));
        // Not created here: opening must create a missing data directory.
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn t(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_700_000_000_000 + ms).single().expect("valid time")
}

fn execution(name: &str) -> Execution {
    new_execution(
        ExecutionInfo::new("123456789012", "us-east-1", "tests", name, "arn:aws:iam::123456789012:role/r", false),
        json!({"n": name}),
        t(0),
    )
}

fn event(id: u64, ty: &'static str) -> HistoryEvent {
    HistoryEvent {
        id,
        previous_event_id: id - 1,
        timestamp: t(id as i64),
        event_type: Cow::Borrowed(ty),
        details: Details::None,
    }
}

fn commit(execution: Execution, expected_version: u64, events: Vec<HistoryEvent>) -> Commit {
    let arn = execution.info.execution_arn.clone();
    Commit {
        execution,
        expected_version,
        history: events,
        outbox: vec![OutboxItem { id: format!("{arn}#{}#0", expected_version + 1), action: Action::Complete }],
        tokens: vec![],
    }
}

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:tests";

// --- The contract suites. ---

#[tokio::test]
async fn store_contract_in_memory() {
    contract::store_contract(&SqliteStore::in_memory().expect("open")).await;
}

#[tokio::test]
async fn store_contract_file() {
    let dir = TempDir::new("store");
    let store = SqliteStore::open(dir.path()).expect("open");
    contract::store_contract(&store).await;
    // Twice on the same file: the suite's names do not collide with an earlier run's.
    contract::store_contract(&store).await;
    assert!(dir.path().join(DB_FILE).is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_contract_in_memory() {
    contract::queue_contract(&SqliteQueue::in_memory().expect("open")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_contract_file() {
    let dir = TempDir::new("queue");
    contract::queue_contract(&SqliteQueue::open(dir.path()).expect("open")).await;
}

#[tokio::test]
async fn topics_contract_in_memory() {
    contract::topics_contract(&SqliteTopics::in_memory().expect("open")).await;
}

#[tokio::test]
async fn topics_contract_file() {
    let dir = TempDir::new("topics");
    contract::topics_contract(&SqliteTopics::open(dir.path()).expect("open")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contracts_on_one_shared_connection() {
    let dir = TempDir::new("shared");
    let embedded = Embedded::open(dir.path()).expect("open");
    let topic = "arn:aws:sns:us-east-1:123456789012:shared";
    // Fan-out into a queue the queue suite does not use must not disturb it.
    embedded.topics.subscribe_queue(topic, "fan-out").expect("subscribe");
    tokio::join!(
        contract::store_contract(&embedded.store),
        contract::queue_contract(&embedded.queue),
        contract::topics_contract_on(&embedded.topics, topic),
    );
    assert_eq!(embedded.queue.list("fan-out").expect("list").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_through_one_handle() {
    let store = Arc::new(SqliteStore::in_memory().expect("open"));
    contract::store_concurrency_contract(store.clone(), store, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_through_two_handles_on_one_file() {
    let dir = TempDir::new("race");
    let a = Arc::new(SqliteStore::open(dir.path()).expect("open a"));
    let b = Arc::new(SqliteStore::open(dir.path()).expect("open b"));
    contract::store_concurrency_contract(a, b, 200).await;
}

#[test]
fn concurrent_commits_from_two_runtimes_on_one_file() {
    // Closest to two processes: two threads, each with its own runtime and connection,
    // committing in lock step against the same execution.
    let dir = TempDir::new("threads");
    let setup = SqliteStore::open(dir.path()).expect("open");
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let x = execution("threads");
    let arn = x.info.execution_arn.clone();
    rt.block_on(setup.create(MACHINE, commit(x, 0, vec![event(1, "ExecutionStarted")]))).expect("create");
    let rounds = 100u64;
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let workers: Vec<_> = (0..2u64)
        .map(|side| {
            let path = dir.path().to_path_buf();
            let arn = arn.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&path).expect("open");
                let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
                let mut wins = 0u64;
                for round in 0..rounds {
                    let version = round + 1;
                    // Both load the same version, then commit at the same moment.
                    let loaded = rt.block_on(store.load(&arn)).expect("load").expect("exists");
                    assert_eq!(loaded.version, version, "one commit per round");
                    let next = Execution { last_event_id: version + 1, seq: side, ..loaded.execution };
                    barrier.wait();
                    match rt.block_on(store.commit(&commit(
                        next,
                        version,
                        vec![event(version + 1, "PassStateEntered")],
                    ))) {
                        Ok(()) => wins += 1,
                        Err(Error::Conflict { expected }) => assert_eq!(expected, version),
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                    barrier.wait();
                }
                wins
            })
        })
        .collect();
    let wins: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    assert_eq!(wins, rounds, "exactly one commit per round wins");
    let history = rt.block_on(setup.history(&arn)).expect("history");
    assert_eq!(history.iter().map(|e| e.id).collect::<Vec<_>>(), (1..=rounds + 1).collect::<Vec<_>>());
    assert_eq!(rt.block_on(setup.load(&arn)).expect("load").map(|s| s.version), Some(rounds + 1));
}

// --- Durability. ---

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = TempDir::new("reopen");
    let machine = Machine {
        arn: MACHINE.into(),
        name: "tests".into(),
        definition: json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        definition_text: None,
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        express: false,
        created: t(0),
        revision_id: "r1".into(),
        updated: None,
        settings: Default::default(),
    };
    let x = execution("durable");
    let arn = x.info.execution_arn.clone();
    let token = TokenEntry {
        hash: "ab".repeat(32),
        execution_arn: arn.clone(),
        frame: 0,
        task: 1,
        state_name: "Callback".into(),
        created: t(2),
        version: 2,
    };
    let done = Execution { last_event_id: 2, status: Status::Succeeded { output: json!({"ok": 1.5}) }, ..x.clone() };
    let topic = "arn:aws:sns:us-east-1:123456789012:t";
    {
        let e = Embedded::open(dir.path()).expect("open");
        e.store.put_machine(&machine).await.expect("put_machine");
        e.store.create(MACHINE, commit(x, 0, vec![event(1, "ExecutionStarted")])).await.expect("create");
        let mut c = commit(done.clone(), 1, vec![event(2, "ExecutionSucceeded")]);
        c.tokens.push(token.clone());
        e.store.commit(&c).await.expect("commit");
        e.queue.send("q", "kept", Duration::ZERO, Some("d")).await.expect("send");
        e.topics.subscribe_queue(topic, "q").expect("subscribe");
        e.topics.publish(topic, "news").await.expect("publish");
    }
    let e = Embedded::open(dir.path()).expect("reopen");
    assert_eq!(e.store.get_machine(MACHINE).await.expect("get_machine"), Some(machine));
    let stored = e.store.load(&arn).await.expect("load").expect("exists");
    assert_eq!(stored.version, 2);
    assert_eq!(stored.execution, done);
    assert_eq!(stored.outbox.len(), 1);
    assert_eq!(e.store.history(&arn).await.expect("history").iter().map(|e| e.id).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(e.store.find_token(&token.hash).await.expect("find_token"), Some(token.clone()));
    let list = e.store.all_executions().await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, ExecutionStatus::Succeeded);
    assert_eq!(list[0].start, t(0));
    // The dedup id is remembered across the reopen.
    let first = e.queue.list("q").expect("list")[0].0.id.clone();
    assert_eq!(e.queue.send("q", "kept", Duration::ZERO, Some("d")).await.expect("send"), first);
    let bodies: Vec<String> = e.queue.list("q").expect("list").into_iter().map(|(m, _, _)| m.body).collect();
    assert_eq!(bodies, vec!["kept", "news"]);
    assert_eq!(
        e.topics.list(topic).expect("list").iter().map(|p| p.message.as_str()).collect::<Vec<_>>(),
        vec!["news"]
    );
    assert_eq!(e.topics.subscriptions(topic).expect("subscriptions"), vec!["q".to_string()]);
    assert!(e.store.consume_token(&token.hash).await.expect("consume"));
}

#[tokio::test]
async fn a_delayed_message_survives_reopening_and_arrives_on_time() {
    let dir = TempDir::new("delay");
    let delay = Duration::from_millis(1500);
    let sent = Utc::now();
    let id = {
        let q = SqliteQueue::open(dir.path()).expect("open");
        q.send("timers", "wake up", delay, None).await.expect("send")
    };
    let q = SqliteQueue::open(dir.path()).expect("reopen");
    assert!(
        q.receive("timers", 10, Duration::from_secs(30)).await.expect("receive").is_empty(),
        "not visible before its delay"
    );
    let due = q.next_visible_at("timers").expect("next_visible_at").expect("a pending message");
    let expected = sent + chrono::Duration::from_std(delay).expect("delay");
    assert!((due - expected).num_milliseconds().abs() < 500, "due {due}, expected about {expected}");
    let wait = (due - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    let got = q.receive("timers", 10, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].id.as_str(), got[0].body.as_str(), got[0].receive_count), (id.as_str(), "wake up", 1));
    assert!(Utc::now() >= expected, "delivered before its delay");
}

#[test]
fn open_creates_the_directory_and_uses_wal() {
    let dir = TempDir::new("wal");
    assert!(!dir.path().exists());
    let _store = SqliteStore::open(dir.path()).expect("open");
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("open file");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("journal_mode");
    assert_eq!(mode, "wal");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        tables,
        [
            "activities",
            "activity_tasks",
            "blobs",
            "executions",
            "history",
            "machine_revisions",
            "machines",
            "map_items",
            "map_runs",
            "messages",
            "published",
            "subscriptions",
            "tokens"
        ]
    );
}

#[test]
fn a_data_dir_that_is_a_file_is_a_storage_error() {
    let dir = TempDir::new("notadir");
    std::fs::write(dir.path(), b"not a directory").expect("write");
    match SqliteStore::open(dir.path()) {
        Err(e @ Error::Storage { .. }) => assert!(e.to_string().contains("data directory"), "{e}"),
        other => panic!("expected a storage error, got {other:?}"),
    }
    let _ = std::fs::remove_file(dir.path());
}

// --- Inherent methods. ---

#[tokio::test]
async fn queue_listing_and_next_visible_at() {
    let q = SqliteQueue::in_memory().expect("open");
    assert_eq!(q.next_visible_at("q").expect("next"), None);
    assert!(q.list("q").expect("list").is_empty());
    let before = Utc::now();
    let a = q.send("q", "a", Duration::ZERO, None).await.expect("send");
    let b = q.send("q", "b", Duration::from_secs(3600), None).await.expect("send");
    q.send("other", "c", Duration::ZERO, None).await.expect("send");
    assert_eq!(q.queues().expect("queues"), vec!["other".to_string(), "q".to_string()]);
    let next = q.next_visible_at("q").expect("next").expect("some");
    assert!(next <= Utc::now() && next >= before - chrono::Duration::milliseconds(5), "a is visible now: {next}");
    let got = q.receive("q", 10, Duration::from_secs(60)).await.expect("receive");
    assert_eq!(got.len(), 1);
    q.ack("q", &got[0].receipt).await.expect("ack");
    q.ack("q", &got[0].receipt).await.expect("acking twice is harmless");
    q.ack("q", "no such receipt").await.expect("unknown receipts are ignored");
    let next = q.next_visible_at("q").expect("next").expect("b pending");
    assert!(next > Utc::now() + chrono::Duration::minutes(59), "b is due in an hour: {next}");
    let list = q.list("q").expect("list");
    assert_eq!(list.len(), 2);
    let (ma, sent_a, acked_a) = &list[0];
    assert_eq!((ma.id.as_str(), ma.body.as_str(), ma.receive_count, *acked_a), (a.as_str(), "a", 1, true));
    assert_eq!(ma.receipt, got[0].receipt);
    assert!(*sent_a >= before - chrono::Duration::milliseconds(5));
    let (mb, _, acked_b) = &list[1];
    assert_eq!((mb.id.as_str(), mb.receive_count, mb.receipt.as_str(), *acked_b), (b.as_str(), 0, "", false));
    assert!(q.receive("q", 0, Duration::from_secs(1)).await.expect("receive 0").is_empty());
}

#[tokio::test]
async fn a_stale_receipt_does_not_acknowledge_a_redelivered_message() {
    let q = SqliteQueue::in_memory().expect("open");
    q.send("q", "x", Duration::ZERO, None).await.expect("send");
    let first = q.receive("q", 1, Duration::ZERO).await.expect("receive");
    let second = q.receive("q", 1, Duration::from_secs(60)).await.expect("receive");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].receive_count, 2);
    assert_ne!(first[0].receipt, second[0].receipt);
    q.ack("q", &first[0].receipt).await.expect("ack");
    assert!(!q.list("q").expect("list")[0].2, "the old delivery's receipt must not acknowledge");
    q.ack("q", &second[0].receipt).await.expect("ack");
    assert!(q.list("q").expect("list")[0].2);
}

#[tokio::test]
async fn topics_fan_out_to_subscribed_queues() {
    let e = Embedded::in_memory().expect("open");
    let topic = "arn:aws:sns:us-east-1:123456789012:orders";
    e.topics.publish(topic, "before").await.expect("publish");
    e.topics.subscribe_queue(topic, "billing").expect("subscribe");
    e.topics.subscribe_queue(topic, "billing").expect("subscribe twice");
    e.topics.subscribe_queue(topic, "shipping").expect("subscribe");
    let id = e.topics.publish(topic, "{\"order\":1}").await.expect("publish");
    e.topics.publish("arn:aws:sns:us-east-1:123456789012:other", "elsewhere").await.expect("publish");
    for queue in ["billing", "shipping"] {
        let got = e.queue.receive(queue, 10, Duration::from_secs(30)).await.expect("receive");
        assert_eq!(got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), vec!["{\"order\":1}"], "{queue}");
    }
    let published = e.topics.list(topic).expect("list");
    assert_eq!(published.iter().map(|p| p.message.as_str()).collect::<Vec<_>>(), vec!["before", "{\"order\":1}"]);
    assert_eq!(published[1].id, id);
    assert_eq!(published[1].topic_arn, topic);
    assert_eq!(e.topics.topics().expect("topics").len(), 2);
    e.topics.unsubscribe_queue(topic, "shipping").expect("unsubscribe");
    e.topics.publish(topic, "after").await.expect("publish");
    assert_eq!(e.queue.list("shipping").expect("list").len(), 1);
    assert_eq!(e.queue.list("billing").expect("list").len(), 2);
}

#[tokio::test]
async fn a_failed_commit_writes_nothing() {
    // A history event id already present makes the insert fail after the version update; the
    // whole commit must roll back.
    let store = SqliteStore::in_memory().expect("open");
    let x = execution("atomic");
    let arn = x.info.execution_arn.clone();
    store.create(MACHINE, commit(x.clone(), 0, vec![event(1, "ExecutionStarted")])).await.expect("create");
    let bad = commit(Execution { seq: 42, ..x.clone() }, 1, vec![event(1, "Duplicate")]);
    match store.commit(&bad).await {
        Err(e @ Error::Storage { .. }) => {
            assert!(e.to_string().starts_with("commit (SQLite): UNIQUE constraint failed"), "{e}");
            assert!(std::error::Error::source(&e).is_some(), "the SQLite error is kept as the source");
        }
        other => panic!("expected a storage error, got {other:?}"),
    }
    let stored = store.load(&arn).await.expect("load").expect("exists");
    assert_eq!(stored.version, 1);
    assert_eq!(stored.execution, x);
    assert_eq!(store.history(&arn).await.expect("history").len(), 1);
    // And the store still works afterwards.
    store.commit(&commit(x, 1, vec![event(2, "PassStateEntered")])).await.expect("commit");
}

#[tokio::test]
async fn a_version_1_database_is_upgraded_in_place() {
    // A data directory written before executions kept their stop time (schema version 1).
    let dir = TempDir::new("v1");
    std::fs::create_dir_all(dir.path()).expect("mkdir");
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("sqlite");
        conn.execute_batch(
            "CREATE TABLE executions (arn TEXT PRIMARY KEY, machine_arn TEXT NOT NULL, name TEXT NOT NULL,
                 status TEXT NOT NULL, start_time TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,
                 outbox TEXT NOT NULL);
             PRAGMA user_version = 1;",
        )
        .expect("version 1 schema");
    }
    let store = SqliteStore::open(dir.path()).expect("upgraded");
    let x = execution("after-upgrade");
    store.create(MACHINE, commit(x.clone(), 0, vec![event(1, "ExecutionStarted")])).await.expect("create");
    let done = Execution { status: Status::Succeeded { output: json!(1) }, ..x.clone() };
    store.commit(&commit(done, 1, vec![event(2, "ExecutionSucceeded")])).await.expect("commit");
    let page = store
        .list_executions(&ExecutionQuery { machine_arn: MACHINE.into(), status: None, limit: 10, page: None })
        .await
        .expect("list");
    assert_eq!(page.executions.len(), 1);
    assert_eq!(page.executions[0].status, ExecutionStatus::Succeeded);
    assert_eq!(page.executions[0].stop, Some(t(2)), "the stop time (the last event's) is kept in the new column");
    let _ = std::fs::remove_dir_all(dir.path());
}

#[tokio::test]
async fn a_version_4_queue_is_upgraded_without_losing_a_message() {
    // Schema version 4: messages with an indexed id and a receipt index, one waiting, one
    // received (its old-style receipt still acknowledges it), one acknowledged.
    let dir = TempDir::new("v4");
    std::fs::create_dir_all(dir.path()).expect("mkdir");
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("sqlite");
        conn.execute_batch(
            "CREATE TABLE messages (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, queue TEXT NOT NULL,
                 body TEXT NOT NULL, sent_at INTEGER NOT NULL, visible_at INTEGER NOT NULL,
                 receive_count INTEGER NOT NULL DEFAULT 0, receipt TEXT, dedup_id TEXT,
                 deleted INTEGER NOT NULL DEFAULT 0, UNIQUE (queue, dedup_id));
             CREATE INDEX messages_ready ON messages (queue, deleted, visible_at);
             CREATE INDEX messages_receipt ON messages (queue, receipt);
             INSERT INTO messages (id, queue, body, sent_at, visible_at, dedup_id) VALUES ('m1', 'q', 'waiting', 0, 0, 'd1');
             INSERT INTO messages (id, queue, body, sent_at, visible_at, receive_count, receipt)
                 VALUES ('m2', 'q', 'in flight', 0, 253402300799000, 1, 'abcdef0123456789');
             INSERT INTO messages (id, queue, body, sent_at, visible_at, deleted) VALUES ('m3', 'q', 'done', 0, 0, 1);
             PRAGMA user_version = 4;",
        )
        .expect("version 4 schema");
    }
    let q = SqliteQueue::open(dir.path()).expect("upgraded");
    let listed = q.list("q").expect("list");
    let bodies: Vec<&str> = listed.iter().map(|(m, _, _)| m.body.as_str()).collect();
    assert_eq!(bodies, ["waiting", "in flight", "done"], "every message kept, in order");
    assert_eq!(listed[0].0.id, "m1");
    // The old receipt of the message in flight still acknowledges it.
    q.ack("q", "abcdef0123456789").await.expect("ack with an old receipt");
    assert!(q.list("q").expect("list")[1].2, "acknowledged");
    // The waiting one is delivered, with a new-style receipt that acknowledges it.
    let got = q.receive("q", 10, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "waiting");
    q.ack("q", &got[0].receipt).await.expect("ack");
    assert!(q.list("q").expect("list")[0].2, "acknowledged by its new receipt");
    // Deduplication ids are still known.
    assert_eq!(q.send("q", "again", Duration::ZERO, Some("d1")).await.expect("send"), "m1");
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("sqlite");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(version, 6);
    let receipt_index: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'messages_receipt'", [], |r| r.get(0))
        .expect("indexes");
    assert_eq!(receipt_index, 0, "the receipt index is gone");
    drop(q);
    let _ = std::fs::remove_dir_all(dir.path());
}

#[tokio::test]
async fn a_version_5_history_is_upgraded_without_losing_an_event() {
    // Schema version 5: the history a WITHOUT ROWID table, with a row per commit (an array of
    // events) beside a row per event written before version 5 (one event object).
    let dir = TempDir::new("v5");
    std::fs::create_dir_all(dir.path()).expect("mkdir");
    let arn = "arn:aws:states:us-east-1:123456789012:execution:m:old";
    let first = serde_json::to_string(&event(1, "ExecutionStarted")).expect("json");
    let commit_row = serde_json::to_string(&[event(2, "PassStateEntered"), event(3, "PassStateExited")]).expect("json");
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("sqlite");
        conn.execute_batch(
            "CREATE TABLE history (arn TEXT NOT NULL, event_id INTEGER NOT NULL, event TEXT NOT NULL,
                 PRIMARY KEY (arn, event_id)) WITHOUT ROWID;
             PRAGMA user_version = 5;",
        )
        .expect("version 5 schema");
        conn.execute("INSERT INTO history VALUES (?1, 2, ?2)", [arn, commit_row.as_str()]).expect("row");
        conn.execute("INSERT INTO history VALUES (?1, 1, ?2)", [arn, first.as_str()]).expect("row");
    }
    let store = SqliteStore::open(dir.path()).expect("upgraded");
    let events = store.history(arn).await.expect("history");
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 2, 3], "every event kept, in id order");
    assert_eq!(events[2].event_type, "PassStateExited");
    // New commits go on after the old rows.
    let x = execution("after-v5");
    store.create(MACHINE, commit(x, 0, vec![event(1, "ExecutionStarted")])).await.expect("create");
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("sqlite");
    let (version, kind): (i64, String) = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), sql FROM sqlite_master WHERE name = 'history'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("schema");
    assert_eq!(version, 6);
    assert!(!kind.contains("WITHOUT ROWID"), "a rowid table now: {kind}");
    let old: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'history_v5'", [], |r| r.get(0))
        .expect("tables");
    assert_eq!(old, 0, "the old table is gone");
    drop(store);
    let _ = std::fs::remove_dir_all(dir.path());
}

#[tokio::test]
async fn a_creation_sends_its_first_message_in_the_same_write() {
    let first = |dedup: &str| QueuedSend {
        queue: "steps".into(),
        body: format!("first step of {dedup}"),
        delay: Duration::ZERO,
        dedup_id: Some(dedup.into()),
    };
    // Store and queue on one connection: the message is written with the execution.
    let emb = Embedded::in_memory().expect("db");
    let x = execution("sent-with-creation");
    let sent = emb
        .store
        .create_sending(MACHINE, commit(x.clone(), 0, vec![event(1, "ExecutionStarted")]), &first("a#1"))
        .await
        .expect("create");
    assert!(sent, "the embedded store sends it");
    assert_eq!(emb.store.load(&x.info.execution_arn).await.expect("load").expect("created").version, 1);
    let got = emb.queue.receive("steps", 10, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["first step of a#1"]);
    // A waiting worker is told, as by a send.
    tokio::time::timeout(Duration::from_secs(1), emb.queue.wait("steps", Duration::from_secs(30)))
        .await
        .expect("the send's signal wakes a waiting worker at once");
    // An execution that exists already: neither written.
    let again = emb
        .store
        .create_sending(MACHINE, commit(x.clone(), 0, vec![event(1, "ExecutionStarted")]), &first("a#2"))
        .await;
    assert!(matches!(again, Err(Error::AlreadyExists { .. })), "{again:?}");
    assert!(emb.queue.receive("steps", 10, Duration::ZERO).await.expect("receive").is_empty(), "nothing sent");
    // A store on a connection of its own creates, and leaves the send to the caller.
    let alone = SqliteStore::in_memory().expect("store");
    let y = execution("sent-after");
    let sent = alone
        .create_sending(MACHINE, commit(y.clone(), 0, vec![event(1, "ExecutionStarted")]), &first("b#1"))
        .await
        .expect("create");
    assert!(!sent, "not sent: the caller sends it");
    assert!(alone.load(&y.info.execution_arn).await.expect("load").is_some());
}

/// A clock a test moves by hand.
struct HandClock(std::sync::Mutex<DateTime<Utc>>);

impl stepwise_runtime::ports::Clock for HandClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

#[tokio::test]
async fn acknowledged_messages_are_pruned_after_the_deduplication_window() {
    let clock = Arc::new(HandClock(std::sync::Mutex::new(t(0))));
    let e = Embedded::in_memory().expect("db").with_clock(clock.clone());
    let q = &e.queue;
    // Acknowledged at time 0 (the first acknowledgement also prunes: nothing is old yet).
    for i in 0..3 {
        q.send("q", &format!("old {i}"), Duration::ZERO, Some(&format!("old-{i}"))).await.expect("send");
    }
    for m in q.receive("q", 10, Duration::from_secs(30)).await.expect("receive") {
        q.ack("q", &m.receipt).await.expect("ack");
    }
    q.send("q", "unacknowledged", Duration::ZERO, Some("kept")).await.expect("send");
    assert_eq!(q.list("q").expect("list").len(), 4, "within the window everything is kept");
    // Six minutes later, enough acknowledgements to prune once more.
    *clock.0.lock().expect("clock") = t(6 * 60 * 1000);
    for i in 0..600 {
        q.send("other", &format!("m{i}"), Duration::ZERO, None).await.expect("send");
        let got = q.receive("other", 1, Duration::from_secs(30)).await.expect("receive");
        q.ack("other", &got[0].receipt).await.expect("ack");
    }
    q.send("q", "new", Duration::ZERO, None).await.expect("send");
    let got = q.receive("q", 10, Duration::from_secs(30)).await.expect("receive");
    for m in &got {
        q.ack("q", &m.receipt).await.expect("ack");
    }
    // The next pruning acknowledgement of queue q (the counter is per database).
    for _ in 0..512 {
        q.send("q", "filler", Duration::ZERO, None).await.expect("send");
        let got = q.receive("q", 1, Duration::from_secs(30)).await.expect("receive");
        q.ack("q", &got[0].receipt).await.expect("ack");
    }
    let left: Vec<String> = q.list("q").expect("list").into_iter().map(|(m, _, _)| m.body).collect();
    assert!(
        !left.iter().any(|b| b.starts_with("old")),
        "acknowledged messages older than 5 minutes pruned: {:?}",
        &left[..3]
    );
    assert!(
        left.contains(&"new".to_string()) && left.contains(&"unacknowledged".to_string()),
        "messages acknowledged within the window are kept"
    );
    // An old deduplication id is free again after the window, as on SQS.
    let before = q.list("q").expect("list").len();
    q.send("q", "old 0 again", Duration::ZERO, Some("old-0")).await.expect("send");
    assert_eq!(q.list("q").expect("list").len(), before + 1, "a new message");
}
