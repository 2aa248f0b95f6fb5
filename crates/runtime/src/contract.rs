//! Contract tests for the ports: what every adapter (embedded or AWS) must do, checked only
//! through the ports' documented promises. Each suite panics with a message naming the broken
//! promise.
//!
//! The suites use names with a fresh suffix (executions, machines, queues, topics), so they can
//! run repeatedly against a persistent store and alongside other data: listings are filtered to
//! the suite's own entries.
//!
//! ```ignore
//! #[tokio::test]
//! async fn store() {
//!     stepwise_runtime::contract::store_contract(&MyStore::new()).await;
//! }
//! ```

use crate::ports::{
    Action, Activity, Commit, ExecutionQuery, ExecutionStatus, ExecutionSummary, Machine, Message, OutboxItem,
    PageToken, PendingActivityTask, Queue, StepMessage, Store, TokenEntry, Topics,
};
use crate::Error;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stepwise_asl::history::{Details, HistoryEvent};
use stepwise_asl::stepper::{new_execution, Event, Execution, ExecutionInfo, Status};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// A suffix unique to this process and call, for names that must not collide with earlier runs.
fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{:x}-{}-{}", nanos, std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Now, truncated to milliseconds (what every store can keep exactly).
fn now_ms() -> DateTime<Utc> {
    let ms = Utc::now().timestamp_millis();
    Utc.timestamp_millis_opt(ms).single().unwrap_or_else(Utc::now)
}

fn ok<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("contract: {what} failed: {err:?}"),
    }
}

fn execution(machine: &str, name: &str, start: DateTime<Utc>) -> Execution {
    let role = format!("arn:aws:iam::{ACCOUNT}:role/contract");
    new_execution(ExecutionInfo::new(ACCOUNT, REGION, machine, name, &role, false), json!({ "execution": name }), start)
}

fn event(id: u64, event_type: &'static str, at: DateTime<Utc>) -> HistoryEvent {
    HistoryEvent {
        id,
        previous_event_id: id.saturating_sub(1),
        timestamp: at,
        event_type: Cow::Borrowed(event_type),
        details: Details::None,
    }
}

fn step_item(arn: &str, version: u64, index: usize, frame: usize) -> OutboxItem {
    OutboxItem {
        id: format!("{arn}#{version}#{index}"),
        action: Action::Step {
            message: StepMessage {
                execution_arn: arn.to_string(),
                event: Event::Advance { frame, timer: None },
                not_before: None,
                origin: None,
            },
            at: None,
        },
    }
}

/// A token hash as the runtime stores them (hex SHA-256), unique to the run.
fn hash(run: &str, tag: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("{run}/{tag}").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn token(hash: &str, arn: &str, task: u64, at: DateTime<Utc>) -> TokenEntry {
    TokenEntry {
        hash: hash.to_string(),
        execution_arn: arn.to_string(),
        frame: 0,
        task,
        state_name: "Wait for callback".to_string(),
        created: at,
        version: 2,
    }
}

/// A fresh execution and the commit that creates it (one history event, one outbox item).
fn creation(machine: &str, name: &str, start: DateTime<Utc>) -> (String, Commit) {
    let execution = execution(machine, name, start);
    let arn = execution.info.execution_arn.clone();
    let commit = Commit {
        execution: Execution { last_event_id: 1, ..execution },
        expected_version: 0,
        history: vec![event(1, "ExecutionStarted", start)],
        outbox: vec![step_item(&arn, 1, 0, 0)],
        tokens: vec![],
    };
    (arn, commit)
}

fn machine_arn(machine: &str) -> String {
    stepwise_asl::arn::state_machine(REGION, ACCOUNT, machine)
}

/// Checks a [`Store`] against the port's promises: machines put/get; create at version 1 and
/// `ExecutionAlreadyExists` on a taken ARN; `load` of an unknown ARN is `None`; commits
/// conditional on the version (a stale commit is a `Conflict` and writes nothing: state,
/// history and outbox unchanged; its tokens may be indexed); history appended in id order across commits; each
/// commit replaces the outbox; `clear_outbox` only while the version matches; token entries
/// found by hash and consumed once; listings per machine, newest first, paged, filtered by status.
pub async fn store_contract<S: Store>(store: &S) {
    let run = nonce();
    let machine = format!("contract-{run}");
    let t0 = now_ms();

    // Blobs: a step message too big for its queue, kept whole (over DynamoDB's 400 KB item).
    let big: Vec<u8> = (0..900_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let key = format!("contract-{run}");
    ok(store.put_blob(&key, &big).await, "put_blob");
    ok(store.put_blob(&format!("{key}-small"), b"{}").await, "put_blob (small)");
    let got = ok(store.get_blob(&key).await, "get_blob");
    assert!(
        got.as_deref() == Some(&big[..]),
        "store contract: a blob must come back whole ({:?} bytes)",
        got.map(|g| g.len())
    );
    ok(store.put_blob(&key, &big).await, "put_blob (again)");
    assert_eq!(
        ok(store.get_blob(&key).await, "get_blob").map(|g| g.len()),
        Some(big.len()),
        "store contract: putting a blob again keeps it"
    );
    assert_eq!(ok(store.get_blob(&format!("{key}-small")).await, "get_blob"), Some(b"{}".to_vec()));
    assert_eq!(ok(store.get_blob(&format!("{key}-none")).await, "get_blob"), None, "store contract: no blob, None");

    // Machines.
    let mut m = Machine {
        arn: machine_arn(&machine),
        name: machine.clone(),
        definition: json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        // The text as a client sent it survives the store byte for byte.
        definition_text: Some(
            "{\n  \"StartAt\": \"P\",\n  \"States\": {\"P\": {\"Type\": \"Pass\", \"End\": true}}\n}".into(),
        ),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/contract"),
        express: false,
        created: t0,
        revision_id: "r1".into(),
        updated: None,
        // Versions, aliases and tags travel in the machine's record.
        settings: crate::ports::MachineSettings {
            versions: vec![crate::ports::MachineVersion {
                number: 1,
                revision_id: "r1".into(),
                description: Some("first".into()),
                created: t0,
            }],
            last_version: 1,
            tags: vec![("team".into(), "contract".into())],
            ..Default::default()
        },
    };
    ok(store.put_machine(&m).await, "put_machine");
    let first = m.clone();
    assert_eq!(
        ok(store.get_machine(&m.arn).await, "get_machine").as_ref(),
        Some(&m),
        "store contract: get_machine must return the machine put"
    );
    m.definition = json!({"StartAt": "Q", "States": {"Q": {"Type": "Succeed"}}});
    m.revision_id = "r2".into();
    m.updated = Some(t0 + chrono::Duration::milliseconds(1));
    ok(store.put_machine(&m).await, "put_machine (replace)");
    assert_eq!(
        ok(store.get_machine(&m.arn).await, "get_machine").as_ref(),
        Some(&m),
        "store contract: put_machine must replace an existing machine"
    );
    assert_eq!(
        ok(store.get_machine_revision(&m.arn, "r1").await, "get_machine_revision").as_ref(),
        Some(&first),
        "store contract: a replaced machine's revision must stay readable"
    );
    assert_eq!(
        ok(store.get_machine_revision(&m.arn, "r2").await, "get_machine_revision").as_ref(),
        Some(&m),
        "store contract: put_machine must store its revision"
    );
    assert_eq!(
        ok(store.get_machine_revision(&m.arn, "r3").await, "get_machine_revision (unknown)"),
        None,
        "store contract: an unknown revision must be None"
    );
    // A conditional replace: only over the machine as it was read.
    let mut tagged = m.clone();
    tagged.settings.tags.push(("stage".into(), "one".into()));
    ok(store.replace_machine(&tagged, &m).await, "replace_machine");
    let mut stale = m.clone();
    stale.settings.tags.push(("stage".into(), "two".into()));
    assert!(
        matches!(store.replace_machine(&stale, &m).await, Err(Error::Conflict { .. })),
        "store contract: replace_machine over a machine changed since must be a Conflict"
    );
    assert_eq!(
        ok(store.get_machine(&m.arn).await, "get_machine").as_ref(),
        Some(&tagged),
        "store contract: a refused replace_machine must change nothing"
    );
    let m = tagged;
    // Deletion: gone from get and list, revisions kept; deleting again is fine.
    let doomed =
        Machine { arn: machine_arn(&format!("{machine}-deleted")), name: format!("{machine}-deleted"), ..m.clone() };
    ok(store.put_machine(&doomed).await, "put_machine");
    ok(store.delete_machine(&doomed.arn).await, "delete_machine");
    ok(store.delete_machine(&doomed.arn).await, "delete_machine (again)");
    assert_eq!(
        ok(store.get_machine(&doomed.arn).await, "get_machine (deleted)"),
        None,
        "store contract: a deleted machine must be gone"
    );
    assert!(
        !ok(store.list_machines().await, "list_machines").iter().any(|x| x.arn == doomed.arn),
        "store contract: list_machines must not include a deleted machine"
    );
    assert_eq!(
        ok(store.get_machine_revision(&doomed.arn, "r2").await, "get_machine_revision (deleted)").as_ref(),
        Some(&doomed),
        "store contract: a deleted machine's revisions must stay readable"
    );
    // Activities: put, get, listed oldest first, deleted (twice is fine).
    let activity = |suffix: &str, ms: i64| Activity {
        arn: format!("arn:aws:states:{REGION}:{ACCOUNT}:activity:{machine}-{suffix}"),
        name: format!("{machine}-{suffix}"),
        created: t0 + chrono::Duration::milliseconds(ms),
        tags: vec![("team".into(), suffix.into())],
    };
    let (a1, a2) = (activity("a1", 1), activity("a2", 2));
    ok(store.put_activity(&a2).await, "put_activity");
    ok(store.put_activity(&a1).await, "put_activity");
    assert_eq!(
        ok(store.get_activity(&a1.arn).await, "get_activity").as_ref(),
        Some(&a1),
        "store contract: get_activity"
    );
    let listed: Vec<Activity> = ok(store.list_activities().await, "list_activities")
        .into_iter()
        .filter(|a| a.name.starts_with(&machine))
        .collect();
    assert_eq!(listed, [a1.clone(), a2.clone()], "store contract: list_activities must list oldest first");
    ok(store.delete_activity(&a1.arn).await, "delete_activity");
    ok(store.delete_activity(&a1.arn).await, "delete_activity (again)");
    assert_eq!(
        ok(store.get_activity(&a1.arn).await, "get_activity (deleted)"),
        None,
        "store contract: a deleted activity is gone"
    );
    assert!(
        !ok(store.list_activities().await, "list_activities").iter().any(|a| a.arn == a1.arn),
        "store contract: list_activities must not include a deleted activity"
    );
    // Waiting activity tasks: oldest first, each taken once, the same id pushed again nothing.
    let pending = |id: &str, ms: i64| PendingActivityTask {
        activity_arn: a2.arn.clone(),
        id: format!("{machine}-{id}"),
        body: format!("{{\"task\": \"{id}\"}}"),
        created: t0 + chrono::Duration::milliseconds(ms),
    };
    let (p1, p2) = (pending("p1", 1), pending("p2", 2));
    ok(store.push_activity_task(&p2).await, "push_activity_task");
    ok(store.push_activity_task(&p1).await, "push_activity_task");
    ok(store.push_activity_task(&p1).await, "push_activity_task (again)");
    assert_eq!(
        ok(store.take_activity_task(&a2.arn).await, "take_activity_task").as_ref(),
        Some(&p1),
        "store contract: the oldest task first"
    );
    ok(store.push_activity_task(&p1).await, "push_activity_task (after it was taken)");
    assert_eq!(
        ok(store.take_activity_task(&a2.arn).await, "take_activity_task").as_ref(),
        Some(&p2),
        "store contract: a task pushed again, even after it was taken, is not taken again"
    );
    assert_eq!(
        ok(store.take_activity_task(&a2.arn).await, "take_activity_task"),
        None,
        "store contract: each task is taken once"
    );
    let unknown_machine = machine_arn(&format!("{machine}-missing"));
    assert_eq!(
        ok(store.get_machine(&unknown_machine).await, "get_machine (unknown)"),
        None,
        "store contract: get_machine of an unknown ARN must be None"
    );
    let listed = ok(store.list_machines().await, "list_machines");
    assert!(listed.iter().any(|x| x.arn == m.arn), "store contract: list_machines must include a machine put");
    assert!(
        listed.windows(2).all(|w| (w[0].created, &w[0].arn) <= (w[1].created, &w[1].arn)),
        "store contract: list_machines must be oldest first"
    );

    // Create.
    let (arn, create) = creation(&machine, "first", t0);
    assert!(
        ok(store.load(&arn).await, "load (before create)").is_none(),
        "store contract: load of an unknown ARN must be None"
    );
    ok(store.create(&m.arn, create.clone()).await, "create");
    let stored =
        ok(store.load(&arn).await, "load").unwrap_or_else(|| panic!("store contract: load after create returned None"));
    assert_eq!(stored.version, 1, "store contract: create must store version 1");
    assert_eq!(stored.execution, create.execution, "store contract: load must return the created execution");
    assert_eq!(stored.machine_arn, m.arn, "store contract: load must return the machine ARN given to create");
    assert_eq!(stored.outbox, create.outbox, "store contract: create must store the commit's outbox");
    assert_eq!(
        ok(store.history(&arn).await, "history"),
        create.history,
        "store contract: create must store the commit's history"
    );
    match store.create(&m.arn, create.clone()).await {
        Err(Error::AlreadyExists { .. }) => {}
        other => panic!("store contract: create on a taken ARN must fail with ExecutionAlreadyExists, got {other:?}"),
    }
    assert_eq!(
        ok(store.load(&arn).await, "load").map(|s| s.version),
        Some(1),
        "store contract: a refused create must not change the execution"
    );

    // Commit at version 1 → 2: history appended, outbox replaced, token indexed.
    let t1 = t0 + chrono::Duration::milliseconds(5);
    let token_hash = hash(&run, "issued");
    let second = Commit {
        execution: Execution { last_event_id: 3, seq: 1, ..create.execution.clone() },
        expected_version: 1,
        history: vec![event(2, "PassStateEntered", t1), event(3, "PassStateExited", t1)],
        outbox: vec![step_item(&arn, 2, 0, 0), step_item(&arn, 2, 1, 0)],
        tokens: vec![token(&token_hash, &arn, 1, t1)],
    };
    ok(store.commit(&second).await, "commit at the current version");
    let stored =
        ok(store.load(&arn).await, "load").unwrap_or_else(|| panic!("store contract: execution vanished after commit"));
    assert_eq!(stored.version, 2, "store contract: commit must increment the version");
    assert_eq!(stored.execution, second.execution, "store contract: commit must store the new execution state");
    assert_eq!(stored.outbox, second.outbox, "store contract: commit must replace the outbox");
    let mut expected_history = create.history.clone();
    expected_history.extend(second.history.iter().cloned());
    assert_eq!(
        ok(store.history(&arn).await, "history"),
        expected_history,
        "store contract: history must be the events of all commits in id order"
    );

    // A stale commit: Conflict, nothing written.
    let stale_hash = hash(&run, "stale");
    let stale = Commit {
        execution: Execution { last_event_id: 4, seq: 99, ..create.execution.clone() },
        expected_version: 1,
        history: vec![event(4, "ExecutionFailed", t1)],
        outbox: vec![step_item(&arn, 2, 0, 7)],
        tokens: vec![token(&stale_hash, &arn, 99, t1)],
    };
    match store.commit(&stale).await {
        Err(Error::Conflict { expected: 1 }) => {}
        other => panic!(
            "store contract: a commit at a stale version must fail with Conflict {{ expected: 1 }}, got {other:?}"
        ),
    }
    let after = ok(store.load(&arn).await, "load")
        .unwrap_or_else(|| panic!("store contract: execution vanished after a conflict"));
    assert_eq!(after, stored, "store contract: a conflicting commit must not change the execution, version or outbox");
    assert_eq!(
        ok(store.history(&arn).await, "history"),
        expected_history,
        "store contract: a conflicting commit must not append history"
    );
    // A conflicting commit's tokens may or may not be indexed (the runtime only accepts a
    // completion while the committed state runs that task), but never as anything else.
    let stale_found = ok(store.find_token(&stale_hash).await, "find_token");
    assert!(
        stale_found.is_none() || stale_found.as_ref().is_some_and(|e| e.task == 99 && e.execution_arn == arn),
        "store contract: a conflicting commit's token, if indexed, must be its own entry"
    );

    // clear_outbox: only while the version matches.
    ok(store.clear_outbox(&arn, 1).await, "clear_outbox (stale version)");
    assert_eq!(
        ok(store.load(&arn).await, "load").map(|s| s.outbox),
        Some(second.outbox.clone()),
        "store contract: clear_outbox with a stale version must leave the later commit's outbox alone"
    );
    ok(store.clear_outbox(&arn, 2).await, "clear_outbox");
    let cleared = ok(store.load(&arn).await, "load")
        .unwrap_or_else(|| panic!("store contract: execution vanished after clear_outbox"));
    assert!(
        cleared.outbox.is_empty(),
        "store contract: clear_outbox with the current version must empty the outbox, left {:?}",
        cleared.outbox
    );
    assert_eq!(cleared.version, 2, "store contract: clear_outbox must not change the version");
    assert_eq!(cleared.execution, second.execution, "store contract: clear_outbox must not change the execution");

    // Tokens: found by hash, consumed once.
    assert_eq!(
        ok(store.find_token(&token_hash).await, "find_token"),
        Some(second.tokens[0].clone()),
        "store contract: find_token must return the entry a commit indexed"
    );
    assert_eq!(
        ok(store.find_token(&hash(&run, "unknown")).await, "find_token (unknown)"),
        None,
        "store contract: find_token of an unknown hash must be None"
    );
    assert!(
        ok(store.consume_token(&token_hash).await, "consume_token"),
        "store contract: the first consume_token must return true"
    );
    assert!(
        !ok(store.consume_token(&token_hash).await, "consume_token (again)"),
        "store contract: a second consume_token of the same token must return false"
    );
    assert!(
        !ok(store.consume_token(&hash(&run, "never issued")).await, "consume_token (unknown)"),
        "store contract: consume_token of an unknown hash must return false"
    );
    // A token indexed ahead of the commit that issues it (a callback sent before its commit):
    // found at once; putting it again is harmless.
    let ahead = TokenEntry { version: 3, ..token(&hash(&run, "ahead"), &arn, 2, t1) };
    ok(store.put_tokens(std::slice::from_ref(&ahead)).await, "put_tokens");
    ok(store.put_tokens(std::slice::from_ref(&ahead)).await, "put_tokens (again)");
    assert_eq!(
        ok(store.find_token(&ahead.hash).await, "find_token (put ahead)"),
        Some(ahead.clone()),
        "store contract: find_token must return the entry put_tokens indexed"
    );

    // Commit 2 → 3 finishing the execution; history keeps growing in id order.
    let third = Commit {
        execution: Execution {
            last_event_id: 5,
            status: Status::Succeeded { output: json!({"done": true}) },
            ..second.execution.clone()
        },
        expected_version: 2,
        history: vec![event(4, "PassStateExited", t1), event(5, "ExecutionSucceeded", t1)],
        outbox: vec![],
        tokens: vec![],
    };
    ok(store.commit(&third).await, "commit (finishing)");
    expected_history.extend(third.history.iter().cloned());
    assert_eq!(
        ok(store.history(&arn).await, "history"),
        expected_history,
        "store contract: history must be the events of all commits in id order"
    );
    assert_eq!(
        ok(store.load(&arn).await, "load").map(|s| s.version),
        Some(3),
        "store contract: every commit increments the version"
    );

    // Listing: one machine's executions, newest first, with the status of the latest commit,
    // a page at a time.
    let (arn2, c2) = creation(&machine, "second", t0 + chrono::Duration::seconds(1));
    let (arn3, c3) = creation(&machine, "third", t0 + chrono::Duration::seconds(2));
    ok(store.create(&m.arn, c3).await, "create (third)");
    ok(store.create(&m.arn, c2).await, "create (second)");
    // Another machine's execution, started in between, is never listed with these.
    let other = format!("{machine}-other");
    let (other_arn, oc) = creation(&other, "intruder", t0 + chrono::Duration::milliseconds(1500));
    ok(store.create(&machine_arn(&other), oc).await, "create (other machine)");
    let query = |status, limit, page| ExecutionQuery { machine_arn: m.arn.clone(), status, limit, page };
    let all = ok(store.list_executions(&query(None, 100, None)).await, "list_executions");
    let order: Vec<&str> = all.executions.iter().map(|s| s.execution_arn.as_str()).collect();
    assert_eq!(
        order,
        vec![arn3.as_str(), arn2.as_str(), arn.as_str()],
        "store contract: list_executions must return the machine's executions (only), newest first"
    );
    assert_eq!(all.next, None, "store contract: a listing that fits one page has no next page");
    assert_eq!(
        all.executions[2],
        ExecutionSummary {
            execution_arn: arn.clone(),
            machine_arn: m.arn.clone(),
            name: "first".into(),
            status: ExecutionStatus::Succeeded,
            start: t0,
            stop: Some(t1),
        },
        "store contract: a listing must summarise the execution as last committed, stopped at its last event"
    );
    assert_eq!(all.executions[0].status, ExecutionStatus::Running, "store contract: a new execution lists as RUNNING");
    assert_eq!(all.executions[0].stop, None, "store contract: a running execution has no stop date");
    let first_page = ok(store.list_executions(&query(None, 2, None)).await, "list_executions (page 1)");
    let order: Vec<&str> = first_page.executions.iter().map(|s| s.execution_arn.as_str()).collect();
    assert_eq!(order, vec![arn3.as_str(), arn2.as_str()], "store contract: a page holds at most `limit` executions");
    let next = first_page.next.clone().expect("store contract: a page with more after it must have a next page");
    assert_eq!(
        PageToken::decode(&next.encode()).as_ref(),
        Some(&next),
        "store contract: a page token survives its text form"
    );
    // Executions added meanwhile are newer: the next page goes on where the first stopped.
    let (arn4, c4) = creation(&machine, "fourth", t0 + chrono::Duration::seconds(3));
    ok(store.create(&m.arn, c4).await, "create (fourth)");
    let second_page = ok(store.list_executions(&query(None, 2, Some(next))).await, "list_executions (page 2)");
    let order: Vec<&str> = second_page.executions.iter().map(|s| s.execution_arn.as_str()).collect();
    assert_eq!(
        order,
        vec![arn.as_str()],
        "store contract: the next page goes on after the previous one, whatever was added since"
    );
    assert_eq!(second_page.next, None, "store contract: the last page has no next page");
    let running =
        ok(store.list_executions(&query(Some(ExecutionStatus::Running), 100, None)).await, "list_executions (RUNNING)");
    let order: Vec<&str> = running.executions.iter().map(|s| s.execution_arn.as_str()).collect();
    assert_eq!(
        order,
        vec![arn4.as_str(), arn3.as_str(), arn2.as_str()],
        "store contract: a status filter lists only that status"
    );
    let running_page = ok(
        store.list_executions(&query(Some(ExecutionStatus::Running), 1, None)).await,
        "list_executions (RUNNING, 1)",
    );
    let after = ok(
        store.list_executions(&query(Some(ExecutionStatus::Running), 2, running_page.next)).await,
        "list_executions (RUNNING, page 2)",
    );
    let order: Vec<&str> = after.executions.iter().map(|s| s.execution_arn.as_str()).collect();
    assert_eq!(order, vec![arn3.as_str(), arn2.as_str()], "store contract: filtered listings page too");
    let done = ok(
        store.list_executions(&query(Some(ExecutionStatus::Succeeded), 100, None)).await,
        "list_executions (SUCCEEDED)",
    );
    assert_eq!(done.executions.len(), 1, "store contract: a status filter lists only that status");
    let theirs = ok(
        store
            .list_executions(&ExecutionQuery { machine_arn: machine_arn(&other), status: None, limit: 10, page: None })
            .await,
        "list_executions (other machine)",
    );
    assert_eq!(
        theirs.executions.iter().map(|e| &e.execution_arn).collect::<Vec<_>>(),
        vec![&other_arn],
        "store contract: each machine lists its own"
    );

    // A commit for an execution that does not exist is refused.
    let (ghost, mut ghost_commit) = creation(&machine, "ghost", t0);
    ghost_commit.expected_version = 1;
    assert!(store.commit(&ghost_commit).await.is_err(), "store contract: a commit for an unknown execution must fail");
    assert!(
        ok(store.load(&ghost).await, "load (ghost)").is_none(),
        "store contract: a refused commit must not create the execution"
    );
}

/// Checks that commits are atomic compare-and-set across handles: in each of `rounds` rounds,
/// two tasks (one through `a`, one through `b`; pass clones of one handle to test a single
/// handle) commit against the same expected version at the same moment, and exactly one
/// succeeds while the other gets `Conflict`; the stored state and history are the winner's.
///
/// Spawns tokio tasks; run it on a multi-threaded runtime for real parallelism.
pub async fn store_concurrency_contract<S: Store + 'static>(a: Arc<S>, b: Arc<S>, rounds: usize) {
    let run = nonce();
    let machine = format!("contract-race-{run}");
    let t0 = now_ms();
    let (arn, create) = creation(&machine, "race", t0);
    ok(a.create(&machine_arn(&machine), create.clone()).await, "create");
    let mut expected_history = create.history.clone();
    for round in 0..rounds {
        let loaded =
            ok(a.load(&arn).await, "load").unwrap_or_else(|| panic!("store concurrency contract: execution vanished"));
        let version = loaded.version;
        assert_eq!(
            version,
            1 + round as u64,
            "store concurrency contract: exactly one commit per round must succeed (version after {round} rounds)"
        );
        let next_id = loaded.execution.last_event_id + 1;
        let commit_for = |side: u64| Commit {
            execution: Execution { last_event_id: next_id, seq: version * 2 + side, ..loaded.execution.clone() },
            expected_version: version,
            history: vec![event(next_id, if side == 0 { "PassStateEntered" } else { "WaitStateEntered" }, t0)],
            outbox: vec![step_item(&arn, version + 1, 0, side as usize)],
            tokens: vec![],
        };
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut handles = Vec::new();
        for (side, store) in [(0u64, a.clone()), (1u64, b.clone())] {
            let commit = commit_for(side);
            let barrier = barrier.clone();
            handles.push(tokio::spawn(async move {
                barrier.wait().await;
                store.commit(&commit).await
            }));
        }
        let mut results = Vec::new();
        for handle in handles {
            match handle.await {
                Ok(result) => results.push(result),
                Err(err) => panic!("store concurrency contract: a committing task panicked: {err}"),
            }
        }
        let winners: Vec<u64> = results.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i as u64).collect();
        assert_eq!(winners.len(), 1, "store concurrency contract: round {round}: exactly one of two commits at version {version} must succeed, got {results:?}");
        for result in &results {
            if let Err(err) = result {
                assert!(
                    matches!(err, Error::Conflict { expected } if *expected == version),
                    "store concurrency contract: round {round}: the losing commit must fail with Conflict, got {err}"
                );
            }
        }
        let winner = commit_for(winners[0]);
        let stored =
            ok(b.load(&arn).await, "load").unwrap_or_else(|| panic!("store concurrency contract: execution vanished"));
        assert_eq!(
            stored.version,
            version + 1,
            "store concurrency contract: round {round}: the winning commit must increment the version"
        );
        assert_eq!(
            stored.execution, winner.execution,
            "store concurrency contract: round {round}: the stored state must be the winner's"
        );
        assert_eq!(
            stored.outbox, winner.outbox,
            "store concurrency contract: round {round}: the stored outbox must be the winner's"
        );
        expected_history.extend(winner.history);
        assert_eq!(
            ok(a.history(&arn).await, "history"),
            expected_history,
            "store concurrency contract: round {round}: history must hold exactly the winners' events"
        );
    }
}

/// Receives from `queue` until `want` messages arrived or `within` passed (queues such as SQS
/// may return fewer messages than are visible on one call).
async fn receive_until<Q: Queue>(
    q: &Q,
    queue: &str,
    want: usize,
    max: usize,
    visibility: Duration,
    within: Duration,
) -> Vec<Message> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        let batch = ok(q.receive(queue, max, visibility).await, "receive");
        assert!(
            batch.len() <= max,
            "queue contract: receive must return at most max ({max}) messages, got {}",
            batch.len()
        );
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        got.extend(batch);
    }
    got
}

/// Checks a [`Queue`] on two fresh queues (named with a unique suffix); see [`queue_contract_on`].
pub async fn queue_contract<Q: Queue>(queue: &Q) {
    let run = nonce();
    queue_contract_on(queue, &format!("contract-{run}-a"), &format!("contract-{run}-b")).await;
}

/// Checks a [`Queue`] on two existing, empty, distinct queues: send/receive/ack; a delay is
/// honoured (the message is not visible before it); an unacknowledged message comes back after
/// its visibility timeout with `receive_count` 2; a second send with the same deduplication id
/// is dropped and returns the first id; queues are isolated; `receive` returns at most `max`.
/// Takes about six seconds (it waits out delays and visibility timeouts of one or two seconds).
pub async fn queue_contract_on<Q: Queue>(q: &Q, first: &str, second: &str) {
    let long = Duration::from_secs(30);
    let patience = Duration::from_secs(10);

    // Send, receive, ack; an acknowledged message does not come back.
    let id = ok(q.send(first, "hello", Duration::ZERO, None).await, "send");
    assert!(!id.is_empty(), "queue contract: send must return a message id");
    let got = receive_until(q, first, 1, 10, Duration::from_secs(1), patience).await;
    assert_eq!(got.len(), 1, "queue contract: a sent message must be received exactly once, got {got:?}");
    assert_eq!(got[0].id, id, "queue contract: the received message must carry the id send returned");
    assert_eq!(got[0].body, "hello", "queue contract: the body must arrive unchanged");
    assert_eq!(got[0].receive_count, 1, "queue contract: the first delivery must have receive_count 1");
    ok(q.ack(first, &got[0].receipt).await, "ack");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = ok(q.receive(first, 10, long).await, "receive");
    assert!(again.is_empty(), "queue contract: an acknowledged message must not be delivered again, got {again:?}");

    // Isolation: a message on the second queue is not received from the first.
    let other = ok(q.send(second, "elsewhere", Duration::ZERO, None).await, "send (second queue)");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let none = ok(q.receive(first, 10, long).await, "receive");
    assert!(none.is_empty(), "queue contract: receive must only return messages of its own queue, got {none:?}");
    let got = receive_until(q, second, 1, 10, long, patience).await;
    assert_eq!(
        got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        vec![other.as_str()],
        "queue contract: the second queue must deliver its message"
    );
    ok(q.ack(second, &got[0].receipt).await, "ack (second queue)");

    // Delay.
    let sent = Instant::now();
    let delay = Duration::from_secs(2);
    let delayed = ok(q.send(first, "later", delay, None).await, "send (delayed)");
    let early = ok(q.receive(first, 10, long).await, "receive");
    assert!(early.is_empty(), "queue contract: a delayed message must not be visible before its delay, got {early:?}");
    let got = receive_until(q, first, 1, 10, long, patience + delay).await;
    let elapsed = sent.elapsed();
    assert_eq!(
        got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        vec![delayed.as_str()],
        "queue contract: a delayed message must be delivered after its delay"
    );
    assert!(
        elapsed + Duration::from_millis(50) >= delay,
        "queue contract: a message delayed {delay:?} arrived after {elapsed:?}"
    );
    ok(q.ack(first, &got[0].receipt).await, "ack (delayed)");

    // Visibility timeout: redelivery with receive_count 2.
    let id = ok(q.send(first, "again", Duration::ZERO, None).await, "send");
    let got = receive_until(q, first, 1, 10, Duration::from_secs(1), patience).await;
    assert_eq!(got.len(), 1, "queue contract: a sent message must be received, got {got:?}");
    let hidden = ok(q.receive(first, 10, long).await, "receive");
    assert!(
        hidden.is_empty(),
        "queue contract: a received message must stay hidden during its visibility timeout, got {hidden:?}"
    );
    let back = receive_until(q, first, 1, 10, long, patience).await;
    assert_eq!(
        back.len(),
        1,
        "queue contract: an unacknowledged message must be delivered again after its visibility timeout"
    );
    assert_eq!(back[0].id, id, "queue contract: the redelivered message must keep its id");
    assert_eq!(back[0].body, "again", "queue contract: the redelivered message must keep its body");
    assert_eq!(back[0].receive_count, 2, "queue contract: the second delivery must have receive_count 2");
    ok(q.ack(first, &back[0].receipt).await, "ack (redelivered)");

    // A released delivery comes back after the backoff given, not its visibility timeout.
    let id = ok(q.send(first, "released", Duration::ZERO, None).await, "send (release)");
    let got = receive_until(q, first, 1, 10, Duration::from_secs(600), patience).await;
    assert_eq!(got.len(), 1, "queue contract: a sent message must be received, got {got:?}");
    ok(q.release(first, &got[0].receipt, Duration::ZERO).await, "release");
    let back = receive_until(q, first, 1, 10, long, patience).await;
    assert_eq!(
        back.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()],
        "queue contract: a released message must be delivered again before its 600 s visibility timeout"
    );
    ok(q.ack(first, &back[0].receipt).await, "ack (released)");

    // Deduplication.
    let dedup = format!("dedup-{}", nonce());
    let one = ok(q.send(first, "once", Duration::ZERO, Some(&dedup)).await, "send (dedup)");
    let two = ok(q.send(first, "once", Duration::ZERO, Some(&dedup)).await, "send (dedup, again)");
    assert_eq!(one, two, "queue contract: a second send with the same dedup id must return the first message's id");
    let got = receive_until(q, first, 2, 10, long, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1, "queue contract: a second send with the same dedup id must be dropped, got {got:?}");
    ok(q.ack(first, &got[0].receipt).await, "ack (dedup)");

    // receive honours max.
    let mut ids = BTreeSet::new();
    for i in 0..5 {
        ids.insert(ok(q.send(first, &format!("batch {i}"), Duration::ZERO, None).await, "send (batch)"));
    }
    assert_eq!(ids.len(), 5, "queue contract: send must return distinct ids");
    let got = receive_until(q, first, 5, 2, long, patience).await;
    let received: BTreeSet<String> = got.iter().map(|m| m.id.clone()).collect();
    assert_eq!(received, ids, "queue contract: every message must be delivered once (in batches of at most 2)");
    assert_eq!(got.len(), 5, "queue contract: no message may be delivered twice within its visibility timeout");
    for m in &got {
        ok(q.ack(first, &m.receipt).await, "ack (batch)");
    }
}

/// Checks [`Topics`]: publishing returns a non-empty id, distinct per message.
pub async fn topics_contract<T: Topics>(topics: &T) {
    let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT}:contract-{}", nonce());
    topics_contract_on(topics, &topic).await;
}

/// Checks [`Topics`] on an existing topic: publishing returns a non-empty id, distinct per
/// message.
pub async fn topics_contract_on<T: Topics>(topics: &T, topic_arn: &str) {
    let a = ok(topics.publish(topic_arn, "one").await, "publish");
    let b = ok(topics.publish(topic_arn, "two").await, "publish");
    let c = ok(topics.publish(topic_arn, "one").await, "publish (same message)");
    assert!(!a.is_empty(), "topics contract: publish must return a message id");
    assert!(a != b && b != c && a != c, "topics contract: every publish must return a distinct id, got {a}, {b}, {c}");
}

/// The creations of `n` running executions of the state machine named `machine` (in the
/// contract's account and region), started a millisecond apart, oldest first: data for listing
/// tests at scale. Returns the machine's ARN too.
pub fn new_executions(machine: &str, n: usize) -> (String, Vec<Commit>) {
    let t0 = now_ms() - chrono::Duration::milliseconds(i64::try_from(n).unwrap_or(i64::MAX));
    let commits = (0..n)
        .map(|i| creation(machine, &format!("e{i:06}"), t0 + chrono::Duration::milliseconds(i as i64)).1)
        .collect();
    (machine_arn(machine), commits)
}

/// Stores [`new_executions`] with [`Store::create`], `concurrency` at a time. Returns the
/// machine's ARN and the executions' ARNs, newest first (the order a listing gives).
pub async fn fill_executions<S: Store>(
    store: &S,
    machine: &str,
    n: usize,
    concurrency: usize,
) -> (String, Vec<String>) {
    let (machine_arn, commits) = new_executions(machine, n);
    let mut arns: Vec<String> = commits.iter().map(|c| c.execution.info.execution_arn.clone()).collect();
    let mut commits = commits.into_iter().peekable();
    while commits.peek().is_some() {
        let chunk: Vec<Commit> = commits.by_ref().take(concurrency.max(1)).collect();
        let creations = chunk.into_iter().map(|c| store.create(&machine_arn, c));
        for created in futures_util::future::join_all(creations).await {
            ok(created, "create (fill)");
        }
    }
    arns.reverse();
    (machine_arn, arns)
}
