//! Shared test setup: a runtime over the embedded adapters with the stock-trading machine
//! registered (as the `start-execution` function does on AWS), the sample's functions in
//! process, and helpers that drive the step queue through the `step_driver` handler.
#![allow(dead_code)]

use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use stepwise_embedded::functions::FunctionRouter;
use stepwise_embedded::{Embedded, SqliteQueue, SqliteStore, SqliteTopics, SystemClock};
use stepwise_lambdas::{step_driver, MachineEnv, SqsEvent, SqsMessage};
use stepwise_runtime::ports::{Message, Queue, STEP_QUEUE};
use stepwise_runtime::{Config, Runtime};
use stepwise_testkit::Reply;

/// The runtime the tests use.
pub type Rt = Runtime<SqliteStore, SqliteQueue, SqliteTopics, FunctionRouter, SystemClock>;

/// The machine the events name.
pub const MACHINE_ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:StockTrading";
/// The approval queue (its name, as the embedded queue keys it).
pub const APPROVAL_QUEUE: &str = "RequestHumanApprovalQueue";
/// The report topic.
pub const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:ReportResultTopic";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of `events/NAME`.
pub fn event_text(name: &str) -> String {
    std::fs::read_to_string(repo().join("events").join(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// `events/NAME` as JSON.
pub fn event_json(name: &str) -> Value {
    serde_json::from_str(&event_text(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// `events/NAME` as an SQS event.
pub fn sqs_event(name: &str) -> SqsEvent {
    serde_json::from_str(&event_text(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// `events/NAME` as an HTTP API request.
pub fn http_request(name: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&event_text(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// `events/NAME` as an HTTP API request whose JSON body is replaced by `body`.
pub fn http_request_with_body(name: &str, body: &Value) -> lambda_http::Request {
    let mut v = event_json(name);
    v["body"] = Value::String(body.to_string());
    lambda_http::request::from_str(&v.to_string()).expect("a request")
}

/// The stock-trading definition with the example bindings substituted.
pub fn definition() -> String {
    stepwise_testkit::stock_trading_definition_text(&[])
}

/// A runtime over a fresh in-memory database with the sample's functions, and the adapters
/// (to look at queues and topics).
pub fn runtime() -> (Rt, Embedded) {
    let e = Embedded::in_memory().expect("in-memory database");
    let mut router = FunctionRouter::new();
    for name in ["CheckStockPrice", "GenerateBuySellRecommendation", "BuyStock", "SellStock"] {
        router.rust(name, stepwise_sample::dyn_handler(name).expect("sample handler"));
    }
    // As the Lambda functions run on AWS: one state per step message, callbacks inline.
    let config = Config::default().aws_step_driver();
    let rt = Runtime::new(e.store.clone(), e.queue.clone(), e.topics.clone(), router, SystemClock, config);
    (rt, e)
}

/// A runtime with the stock-trading machine registered from "the environment".
pub async fn runtime_with_machine() -> (Rt, Embedded) {
    let (rt, e) = runtime();
    let def = definition();
    let env = MachineEnv::from_vars(|k| match k {
        "STEPWISE_MACHINE_NAME" => Some("StockTrading".into()),
        "STEPWISE_MACHINE_DEFINITION" => Some(def.clone()),
        _ => None,
    })
    .expect("valid environment")
    .expect("a machine");
    let m = env.register(&rt).await.expect("registered");
    assert_eq!(m.arn, MACHINE_ARN);
    (rt, e)
}

/// An SQS record for a received message.
pub fn record(m: &Message) -> SqsMessage {
    SqsMessage {
        message_id: Some(m.id.clone()),
        receipt_handle: Some(m.receipt.clone()),
        body: Some(m.body.clone()),
        event_source: Some("aws:sqs".into()),
        attributes: [("ApproximateReceiveCount".to_string(), m.receive_count.to_string())].into_iter().collect(),
        ..Default::default()
    }
}

/// A record with this id and body.
pub fn record_with(id: &str, body: &str) -> SqsMessage {
    SqsMessage { message_id: Some(id.into()), body: Some(body.into()), ..Default::default() }
}

/// Delivers the step queue's messages to `step_driver` in batches of 10, as the SQS event
/// source does, deleting those not reported as failures, until the queue is empty. Returns
/// how many records were delivered.
pub async fn drive(rt: &Rt) -> usize {
    let mut delivered = 0;
    for _ in 0..1000 {
        let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(60)).await.expect("receive");
        if msgs.is_empty() {
            return delivered;
        }
        delivered += msgs.len();
        let event = SqsEvent { records: msgs.iter().map(record).collect() };
        let resp = step_driver(rt, event).await;
        assert!(resp.batch_item_failures.is_empty(), "unexpected failures: {resp:?}");
        for m in &msgs {
            rt.queue().ack(STEP_QUEUE, &m.receipt).await.expect("ack");
        }
    }
    panic!("the step queue never drained");
}

/// Starts a stock-trading execution and drives it to the approval request; returns its ARN
/// and the approval queue message (`{"Input", "TaskToken"}`).
pub async fn waiting_execution(rt: &Rt, name: &str) -> (String, Message) {
    let arn = rt.start_execution(MACHINE_ARN, name, serde_json::json!({})).await.expect("started");
    drive(rt).await;
    let msgs = rt.queue().receive(APPROVAL_QUEUE, 10, Duration::from_secs(60)).await.expect("receive");
    assert_eq!(msgs.len(), 1, "one approval request");
    (arn, msgs.into_iter().next().expect("one"))
}

/// The task token of an approval request message.
pub fn token_of(m: &Message) -> String {
    stepwise_sample::approval_token(&m.body).expect("a task token")
}

/// The execution's status (`RUNNING`, `SUCCEEDED`, ...).
pub async fn status(rt: &Rt, arn: &str) -> String {
    let stored = rt.describe(arn).await.expect("exists");
    let v = serde_json::to_value(&stored.execution.status).expect("serializable");
    v["status"].as_str().expect("a status").to_string()
}

/// The sample's Lambda handlers behind the Invoke API.
pub fn sample_functions(name: &str, body: &[u8]) -> Reply {
    let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => return Reply::status(500, e.to_string().into_bytes()),
    };
    let ev = LambdaEvent::new(event, Context::default());
    let result = rt.block_on(async move {
        match name {
            "CheckStockPrice" => Some(stepwise_lambdas::check_stock_price(ev).await),
            "GenerateBuySellRecommendation" => Some(stepwise_lambdas::generate_buy_sell_recommendation(ev).await),
            "BuyStock" => Some(stepwise_lambdas::buy_stock(ev).await),
            "SellStock" => Some(stepwise_lambdas::sell_stock(ev).await),
            _ => None,
        }
    });
    match result {
        Some(Ok(v)) => Reply::ok(serde_json::to_vec(&v).unwrap_or_default()),
        Some(Err(d)) => Reply::ok(
            serde_json::to_vec(&json!({"errorType": d.error_type, "errorMessage": d.error_message}))
                .unwrap_or_default(),
        )
        .header("X-Amz-Function-Error", "Unhandled"),
        None => Reply::status(404, b"{}".to_vec()).header("x-amzn-ErrorType", "ResourceNotFoundException"),
    }
}
