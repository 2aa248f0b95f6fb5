//! The AWS adapters against a local AWS endpoint (moto server): the ports' contract suites,
//! plus what only these adapters do (history moved between items, bodies in parts, queue
//! URLs, Lambda's error shapes).
//!
//! Needs `AWS_ENDPOINT_URL` (scripts/test.sh starts moto and sets it, with dummy credentials
//! and `AWS_REGION`). Without it the tests fail when `CI` is set and are skipped (with a
//! notice) otherwise. Every test uses its own table, queues and topics, so they run in
//! parallel and against a server that is not reset.

mod common;

use chrono::Utc;
use common::{endpoint, invoke_server, Reply};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use stepwise_asl::history::{Details, HistoryEvent};
use stepwise_asl::integrations::FunctionOutcome;
use stepwise_asl::stepper::{new_execution, Execution, ExecutionInfo, Status};
use stepwise_aws::{create_table, DynamoStore, LambdaFunctions, SnsTopics, SqsQueue};
use stepwise_runtime::contract;
use stepwise_runtime::ports::{Commit, ExecutionQuery, ExecutionStatus, Functions, Queue, Store};
use stepwise_runtime::Error;

async fn store(label: &str) -> DynamoStore {
    let sdk = stepwise_aws::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = common::unique(label);
    create_table(&client, &table).await.expect("create_table");
    // Idempotent: a second call finds the table.
    create_table(&client, &table).await.expect("create_table again");
    DynamoStore::new(client, &table)
}

async fn queues() -> SqsQueue {
    SqsQueue::new(aws_sdk_sqs::Client::new(&stepwise_aws::sdk_config().await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_store_passes_the_store_contract() {
    if endpoint().is_none() {
        return;
    }
    contract::store_contract(&store("contract").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_store_passes_the_store_contract_with_a_history_item_per_commit() {
    if endpoint().is_none() {
        return;
    }
    contract::store_contract(&store("contract-h0").await.with_max_pending_history(0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_store_commits_are_compare_and_set_across_handles() {
    if endpoint().is_none() {
        return;
    }
    let a = store("race").await;
    let b = DynamoStore::new(a.client().clone(), a.table()).with_max_pending_history(0);
    contract::store_concurrency_contract(Arc::new(a), Arc::new(b), 12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_queue_passes_the_queue_contract() {
    if endpoint().is_none() {
        return;
    }
    let q = queues().await;
    let first = common::unique("q-a");
    let second = common::unique("q-b");
    q.create_queue(&first).await.expect("create queue");
    // The second queue by URL only: names and URLs both work.
    let second_url = q.create_queue(&second).await.expect("create queue");
    let fresh = queues().await;
    contract::queue_contract_on(&fresh, &first, &second_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_topics_pass_the_topics_contract() {
    if endpoint().is_none() {
        return;
    }
    let topics = SnsTopics::new(aws_sdk_sns::Client::new(&stepwise_aws::sdk_config().await));
    let arn = topics.create_topic(&common::unique("topic")).await.expect("create topic");
    contract::topics_contract_on(&topics, &arn).await;
    match stepwise_runtime::ports::Topics::publish(&topics, &format!("{arn}-missing"), "x").await {
        Err(e @ Error::Messaging { .. }) => {
            assert!(e.to_string().contains("Publish"), "the error names the operation: {e}");
        }
        other => panic!("publishing to a missing topic must fail, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_queue_names_urls_delays_and_fifo() {
    if endpoint().is_none() {
        return;
    }
    let q = queues().await;
    let name = common::unique("q-misc");
    let url = q.create_queue(&name).await.expect("create queue");
    // An AWS-style URL of the queue (as Task states give it) reaches the same queue.
    let aws_url = format!("https://sqs.us-east-1.amazonaws.com/123456789012/{name}");
    let id = q.send(&aws_url, "by url", Duration::ZERO, None).await.expect("send by AWS URL");
    let got = q.receive(&name, 10, Duration::from_secs(30)).await.expect("receive by name");
    assert_eq!(got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), vec![id.as_str()]);
    q.ack(&url, &got[0].receipt).await.expect("ack by URL");
    // Delays beyond SQS's 15 minutes are capped, not refused.
    q.send(&name, "much later", Duration::from_secs(3600), None).await.expect("a long delay is capped");
    assert!(q.receive(&name, 10, Duration::from_secs(30)).await.expect("receive").is_empty());
    // An unknown queue name is a messaging error naming the call.
    match q.send(&common::unique("q-missing"), "x", Duration::ZERO, None).await {
        Err(e @ Error::Messaging { .. }) => assert!(e.to_string().contains("GetQueueUrl"), "{e}"),
        other => panic!("sending to a missing queue must fail, got {other:?}"),
    }
    // FIFO: deduplication by SQS too (a fresh adapter, so the process-local memory is empty).
    let fifo = format!("{}.fifo", common::unique("q-fifo"));
    q.create_queue(&fifo).await.expect("create FIFO queue");
    let other = queues().await;
    q.send(&fifo, "{\"execution_arn\":\"arn:x\"}", Duration::ZERO, Some("same")).await.expect("send");
    other.send(&fifo, "{\"execution_arn\":\"arn:x\"}", Duration::ZERO, Some("same")).await.expect("send again");
    let got = common::receive_all(&q, &fifo, 2, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1, "a FIFO queue drops a repeated deduplication id across processes: {got:?}");
}

/// The sort keys of an execution's items starting with `prefix`.
async fn sort_keys(store: &DynamoStore, arn: &str, prefix: &str) -> Vec<String> {
    let out = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("E#{arn}")))
        .expression_attribute_values(":prefix", aws_sdk_dynamodb::types::AttributeValue::S(prefix.into()))
        .send()
        .await
        .expect("query");
    out.items().iter().filter_map(|i| i.get("sk").and_then(|v| v.as_s().ok()).cloned()).collect()
}

fn events(from: u64, count: u64, filler: usize) -> Vec<HistoryEvent> {
    (from..from + count)
        .map(|id| HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: Utc::now(),
            event_type: Cow::Borrowed(if id % 2 == 0 { "PassStateEntered" } else { "PassStateExited" }),
            details: Details::Other(json!({ "output": common::noise(id, filler) })),
        })
        .collect()
}

fn execution(name: &str, input: Value) -> Execution {
    let info = ExecutionInfo::new("123456789012", "us-east-1", "m", name, "arn:aws:iam::123456789012:role/r", false);
    new_execution(info, input, Utc::now())
}

/// Creates `x` (of machine `arn:m`) with one small event: its ARN and that first history.
async fn create(store: &DynamoStore, x: &Execution) -> Result<(String, Vec<HistoryEvent>), Error> {
    let first = events(1, 1, 10);
    let commit =
        Commit { execution: x.clone(), expected_version: 0, history: first.clone(), outbox: vec![], tokens: vec![] };
    store.create("arn:m", commit).await?;
    Ok((x.info.execution_arn.clone(), first))
}

/// Commits `rounds` transitions of `events_per` events each, through `store`, loading first
/// as the driver does; returns the expected history.
async fn drive(
    store: &DynamoStore,
    x: &Execution,
    mut history: Vec<HistoryEvent>,
    rounds: u64,
    events_per: u64,
    filler: usize,
) -> Vec<HistoryEvent> {
    let arn = &x.info.execution_arn;
    for _ in 0..rounds {
        let loaded = store.load(arn).await.expect("load").expect("exists");
        let next_id = history.len() as u64 + 1;
        let new = events(next_id, events_per, filler);
        let commit = Commit {
            execution: Execution { last_event_id: next_id + events_per - 1, ..loaded.execution.clone() },
            expected_version: loaded.version,
            history: new.clone(),
            outbox: vec![],
            tokens: vec![],
        };
        store.commit(&commit).await.expect("commit");
        history.extend(new);
    }
    history
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_moves_out_of_the_execution_item_without_loss() {
    if endpoint().is_none() {
        return;
    }
    let a = store("history").await;
    let b = DynamoStore::new(a.client().clone(), a.table());
    let x = execution("h", json!({}));
    let (arn, first) = create(&a, &x).await.expect("create");
    // Small events accumulate, bigger ones move out at once.
    let mut expected = drive(&a, &x, first, 23, 2, 40).await;
    assert_eq!(a.history(&arn).await.expect("history"), expected);
    let items = sort_keys(&a, &arn, "H#").await;
    assert!(items.len() >= 2 && items.len() < 10, "events of several commits share history items: {items:?}");
    // A stale handle: loaded long ago, commits after many others moved history out. Its
    // commit conflicts and must not shorten a history item.
    let stale = b.load(&arn).await.expect("load").expect("exists");
    expected = drive(&a, &x, expected, 15, 2, 40).await;
    let late = Commit {
        execution: stale.execution.clone(),
        expected_version: stale.version,
        history: events(999, 1, 2000), // big: the stale handle moves its (shorter) range out first
        outbox: vec![],
        tokens: vec![],
    };
    assert!(matches!(b.commit(&late).await, Err(Error::Conflict { expected }) if expected == stale.version));
    assert_eq!(a.history(&arn).await.expect("history"), expected, "a stale commit changed the history");
    // A handle that did not load the execution commits too (it reads the item first).
    let c = DynamoStore::new(a.client().clone(), a.table());
    let head = a.load(&arn).await.expect("load").expect("exists");
    let new = events(expected.len() as u64 + 1, 3, 2000);
    c.commit(&Commit {
        execution: head.execution,
        expected_version: head.version,
        history: new.clone(),
        outbox: vec![],
        tokens: vec![],
    })
    .await
    .expect("commit without a load");
    expected.extend(new);
    assert_eq!(b.history(&arn).await.expect("history"), expected);
    // Big events (beyond one item) go to parts.
    expected = drive(&a, &x, expected, 2, 1, 500_000).await;
    expected = drive(&a, &x, expected, 2, 2, 10).await;
    assert_eq!(c.history(&arn).await.expect("history"), expected);
    let parts: Vec<String> = sort_keys(&a, &arn, "H#").await.into_iter().filter(|k| k.len() > 14).collect();
    assert!(parts.len() >= 4, "events beyond one item are split into parts: {parts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_executions_are_kept_in_parts() {
    if endpoint().is_none() {
        return;
    }
    let a = store("big").await;
    let x = execution("big", json!({ "data": common::noise(1, 600_000) }));
    let (arn, first) = create(&a, &x).await.expect("create a big execution");
    assert_eq!(sort_keys(&a, &arn, "B#").await.len(), 2, "a body beyond one item is kept in parts");
    let fresh = DynamoStore::new(a.client().clone(), a.table());
    let loaded = fresh.load(&arn).await.expect("load").expect("exists");
    assert_eq!(loaded.execution, x);
    let expected = drive(&a, &x, first, 3, 2, 100).await;
    // Back to small, then finished.
    let loaded = a.load(&arn).await.expect("load").expect("exists");
    let small =
        Execution { input: json!({}), status: Status::Succeeded { output: json!(1) }, ..loaded.execution.clone() };
    a.commit(&Commit {
        execution: small.clone(),
        expected_version: loaded.version,
        history: vec![],
        outbox: vec![],
        tokens: vec![],
    })
    .await
    .expect("commit");
    let loaded = fresh.load(&arn).await.expect("load").expect("exists");
    assert_eq!(loaded.execution, small);
    assert_eq!(fresh.history(&arn).await.expect("history"), expected);
    let query = ExecutionQuery { machine_arn: "arn:m".into(), status: None, limit: 10, page: None };
    let listed = a
        .list_executions(&query)
        .await
        .expect("list")
        .executions
        .into_iter()
        .find(|s| s.execution_arn == arn)
        .expect("listed");
    assert_eq!(listed.status, ExecutionStatus::Succeeded);
    // Only the current version's parts are left: none, as it is small now.
    assert_eq!(sort_keys(&a, &arn, "B#").await, Vec::<String>::new(), "superseded body parts must be deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_outcomes_follow_the_invoke_api() {
    if endpoint().is_none() {
        return;
    }
    let server = invoke_server(Arc::new(|name: &str, body: &[u8]| {
        match name {
        "echo" => Reply::ok(body.to_vec()),
        "empty" => Reply::ok(Vec::new()),
        "notjson" => Reply::ok(b"<html>".to_vec()),
        "boom" => Reply::ok(br#"{"errorType":"ValueError","errorMessage":"bad input","trace":[]}"#.to_vec())
            .header("X-Amz-Function-Error", "Unhandled"),
        "bare" => Reply::ok(br#""just a string""#.to_vec()).header("X-Amz-Function-Error", "Unhandled"),
        "raised500" => Reply::status(500, br#"{"errorType":"Oops","errorMessage":"raised"}"#.to_vec()),
        "throttled" => Reply::status(429, br#"{"Type":"User","message":"Rate Exceeded."}"#.to_vec())
            .header("x-amzn-ErrorType", "TooManyRequestsException"),
        // The execution's role may not invoke it (IAM's refusal, as Lambda sends it).
        "denied" => Reply::status(
            403,
            br#"{"Message":"User: arn:aws:sts::123456789012:assumed-role/trading/exec-1 is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:denied because no identity-based policy allows the lambda:InvokeFunction action"}"#.to_vec(),
        )
        .header("x-amzn-ErrorType", "AccessDeniedException"),
        "slow" => {
            std::thread::sleep(Duration::from_millis(1500));
            Reply::ok(b"1".to_vec())
        }
        _ => Reply::status(404, br#"{"Type":"User","Message":"Function not found"}"#.to_vec())
            .header("x-amzn-ErrorType", "ResourceNotFoundException"),
    }
    }));
    let sdk = stepwise_aws::sdk_config().await;
    let conf = aws_sdk_lambda::config::Builder::from(&sdk)
        .endpoint_url(server.clone())
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .build();
    let f = LambdaFunctions::from_client(aws_sdk_lambda::Client::from_conf(conf));
    let payload = json!({"a": [1, 2, {"b": "c"}]});
    assert_eq!(f.invoke("echo", &payload, None).await, FunctionOutcome::Ok(payload.clone()));
    assert_eq!(
        f.invoke("arn:aws:lambda:us-east-1:123456789012:function:echo", &payload, Some(Duration::from_secs(10))).await,
        FunctionOutcome::Ok(payload.clone())
    );
    assert_eq!(f.invoke("empty", &payload, None).await, FunctionOutcome::Ok(Value::Null));
    let error_type = |o: FunctionOutcome| match o {
        FunctionOutcome::Error { error_type, error_message, payload } => (error_type, error_message, payload),
        other => panic!("expected an error outcome, got {other:?}"),
    };
    let (t, m, p) = error_type(f.invoke("boom", &payload, None).await);
    assert_eq!((t.as_str(), m.as_str()), ("ValueError", "bad input"));
    assert_eq!(p["trace"], json!([]), "the whole error payload is kept");
    assert_eq!(error_type(f.invoke("bare", &payload, None).await).0, "Unhandled");
    assert_eq!(error_type(f.invoke("notjson", &payload, None).await).0, "Runtime.InvalidResponse");
    assert_eq!(error_type(f.invoke("raised500", &payload, None).await).0, "Oops");
    let (t, m, _) = error_type(f.invoke("throttled", &payload, None).await);
    assert_eq!(t, "Lambda.TooManyRequestsException", "{m}");
    // An undeclared error is the SDK's generic exception, its cause as Step Functions shows it.
    let (t, m, _) = error_type(f.invoke("denied", &payload, None).await);
    assert_eq!(t, "Lambda.AWSLambdaException", "{m}");
    assert!(m.starts_with("User: arn:aws:sts::123456789012:assumed-role/trading/exec-1 is not authorized to perform: lambda:InvokeFunction"), "{m}");
    assert!(
        m.ends_with(
            "(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException; Request ID: local; Proxy: null)"
        ),
        "{m}"
    );
    assert_eq!(f.invoke("nope", &payload, None).await, FunctionOutcome::NotFound);
    assert_eq!(f.invoke("slow", &payload, Some(Duration::from_millis(300))).await, FunctionOutcome::TimedOut);
    assert_eq!(f.invoke("slow", &payload, Some(Duration::from_secs(10))).await, FunctionOutcome::Ok(json!(1)));
    // Nothing listening: a client-side error Retry can match.
    let conf = aws_sdk_lambda::config::Builder::from(&sdk)
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .build();
    let down = LambdaFunctions::from_client(aws_sdk_lambda::Client::from_conf(conf));
    assert_eq!(error_type(down.invoke("echo", &payload, None).await).0, "Lambda.SdkClientException");
}

#[tokio::test]
async fn counters_are_exposed() {
    // No endpoint needed: counting is local.
    let before = stepwise_aws::request_counts();
    let (r, w) = stepwise_aws::dynamodb_capacity_estimate();
    assert!(r >= 0.0 && w >= 0.0);
    assert!(before.values().all(|v| *v > 0));
}
