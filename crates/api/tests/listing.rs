//! ListExecutions at scale: a page of 100 out of 10,000 stored executions of one machine reads
//! the page (and one row to know there is more), not the other executions, and no history.

use serde_json::{json, Value};
use stepwise_embedded::functions::FunctionRouter;
use stepwise_embedded::{Embedded, SqliteQueue, SqliteStore, SqliteTopics};
use stepwise_runtime::contract::fill_executions;
use stepwise_runtime::ports::SystemClock;
use stepwise_runtime::{Config, Runtime};

type Rt = Runtime<SqliteStore, SqliteQueue, SqliteTopics, FunctionRouter, SystemClock>;

fn runtime() -> (Rt, Embedded) {
    let e = Embedded::in_memory().expect("database");
    let rt = Runtime::new(
        e.store.clone(),
        e.queue.clone(),
        e.topics.clone(),
        FunctionRouter::default(),
        SystemClock,
        Config::default(),
    );
    (rt, e)
}

async fn list(rt: &Rt, body: Value) -> Value {
    stepwise_api::call(rt, "ListExecutions", body.to_string().as_bytes()).await.expect("ListExecutions")
}

fn arns(page: &Value) -> Vec<String> {
    page["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["executionArn"].as_str().expect("arn").to_string())
        .collect()
}

const ROLE: &str = "arn:aws:iam::123456789012:role/r";

fn pass() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_list_executions_reads_only_that_page() {
    let (rt, e) = runtime();
    let big = rt.create_machine("Big", pass(), ROLE, false).await.expect("machine");
    let other = rt.create_machine("Other", pass(), ROLE, false).await.expect("machine");
    let (big_arn, newest_first) = fill_executions(rt.store(), "Big", 10_000, 256).await;
    assert_eq!(big_arn, big.arn);
    let (other_arn, _) = fill_executions(rt.store(), "Other", 2_000, 256).await;
    assert_eq!(other_arn, other.arn);

    let before = e.store.list_reads();
    let first = list(&rt, json!({"stateMachineArn": big.arn, "maxResults": 100})).await;
    let read = e.store.list_reads();
    assert_eq!(arns(&first), newest_first[..100], "the newest 100, newest first");
    assert_eq!(read.queries - before.queries, 1, "one query");
    assert_eq!(read.rows - before.rows, 101, "the page and one row to know there is a next page");
    assert_eq!(read.full_scan_steps - before.full_scan_steps, 0, "no table scan: an index serves the page");
    assert_eq!(read.sorts - before.sorts, 0, "no sort: the index gives the order");
    assert!(first["executions"][0].get("stopDate").is_none(), "running executions have no stopDate");

    let token = first["nextToken"].as_str().expect("a next page").to_string();
    let second = list(&rt, json!({"stateMachineArn": big.arn, "maxResults": 100, "nextToken": token})).await;
    assert_eq!(arns(&second), newest_first[100..200], "the next page goes on where the first stopped");
    let read2 = e.store.list_reads();
    assert_eq!((read2.rows - read.rows, read2.full_scan_steps, read2.sorts), (101, 0, 0));

    let filtered = list(&rt, json!({"stateMachineArn": big.arn, "maxResults": 100, "statusFilter": "RUNNING"})).await;
    assert_eq!(arns(&filtered), newest_first[..100]);
    let read3 = e.store.list_reads();
    assert_eq!(
        (read3.rows - read2.rows, read3.full_scan_steps, read3.sorts),
        (101, 0, 0),
        "a status filter is served by an index too"
    );

    let none = list(&rt, json!({"stateMachineArn": big.arn, "statusFilter": "SUCCEEDED"})).await;
    assert_eq!(arns(&none), Vec::<String>::new());
    assert!(none.get("nextToken").is_none());
}

#[tokio::test]
async fn finished_executions_list_their_stop_date() {
    let (rt, _e) = runtime();
    let m = rt.create_machine("Quick", pass(), ROLE, false).await.expect("machine");
    let arn = rt.start_execution(&m.arn, "one", json!({})).await.expect("start");
    let done = std::sync::atomic::AtomicBool::new(false);
    let work = rt.work_until(|| done.load(std::sync::atomic::Ordering::Relaxed));
    let wait = async {
        for _ in 0..500 {
            if rt.describe(&arn).await.expect("describe").execution.status != stepwise_asl::stepper::Status::Running {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let (worked, ()) = tokio::join!(work, wait);
    worked.expect("driver");
    let page = list(&rt, json!({"stateMachineArn": m.arn})).await;
    let row = &page["executions"][0];
    assert_eq!(row["status"], "SUCCEEDED");
    let last = rt.history(&arn).await.expect("history").last().map(|e| e.timestamp).expect("events");
    assert_eq!(row["stopDate"], stepwise_api::epoch_seconds(last), "stopDate is the last event's time");
}

#[tokio::test]
async fn a_next_token_that_is_not_ours_is_invalid_token() {
    let (rt, _e) = runtime();
    let m = rt.create_machine("M", pass(), ROLE, false).await.expect("machine");
    let body = json!({"stateMachineArn": m.arn, "nextToken": "stepwise-page-3"}).to_string();
    let err = stepwise_api::call(&rt, "ListExecutions", body.as_bytes()).await.expect_err("not a token of ours");
    assert_eq!(err.code, "InvalidToken");
}
