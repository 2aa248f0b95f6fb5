//! The driver on the AWS adapters under faults: a crash at every fault point of every step of
//! the stock-trading sample (after load, after commit, after each outbox action, before the
//! acknowledgement), and every step message delivered twice, leave the fault-free history.
//! A crash restarts the "process": fresh adapters, so nothing cached or deduplicated in memory
//! survives it, as when a Lambda instance dies.

mod common;

use common::{endpoint, invoke_server, Reply};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stepwise_aws::{aws_runtime_with, create_table, AwsRuntime, AwsSettings, LambdaFunctions};
use stepwise_runtime::driver::{FaultHook, FaultPoint};
use stepwise_runtime::ports::{Queue, Store, STEP_QUEUE};
use stepwise_runtime::Error;

struct World {
    sdk: aws_config::SdkConfig,
    settings: AwsSettings,
    functions: String,
}

/// One run's queues and machine.
struct Run {
    step_url: String,
    approval_url: String,
    machine: String,
}

impl World {
    async fn new() -> World {
        let sdk = stepwise_aws::sdk_config().await;
        let settings =
            AwsSettings { table: common::unique("faults"), visibility: Duration::ZERO, ..AwsSettings::from_env(&sdk) };
        create_table(&aws_sdk_dynamodb::Client::new(&sdk), &settings.table).await.expect("create table");
        // Deterministic stand-ins for the sample's functions (the real ones draw random prices).
        let functions = invoke_server(Arc::new(|name: &str, body: &[u8]| {
            let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let out = match name {
                "CheckStockPrice" => json!({"stock_price": 42}),
                "GenerateBuySellRecommendation" => json!("buy"),
                "BuyStock" | "SellStock" => {
                    json!({"id": "t-1", "price": event["stock_price"], "type": "buy", "qty": 7})
                }
                _ => return Reply::status(404, b"{}".to_vec()).header("x-amzn-ErrorType", "ResourceNotFoundException"),
            };
            Reply::ok(out.to_string().into_bytes())
        }));
        World { sdk, settings, functions }
    }

    /// A fresh runtime (a new process), crashing where `faults` says.
    fn runtime(&self, run: &Run, faults: Option<FaultHook>) -> AwsRuntime {
        let settings = AwsSettings { step_queue_url: Some(run.step_url.clone()), ..self.settings.clone() };
        let conf = aws_sdk_lambda::config::Builder::from(&self.sdk)
            .endpoint_url(self.functions.clone())
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build();
        let rt = aws_runtime_with(&self.sdk, &settings)
            .with_functions(LambdaFunctions::from_client(aws_sdk_lambda::Client::from_conf(conf)));
        match faults {
            Some(h) => rt.with_faults(h),
            None => rt,
        }
    }

    async fn setup(&self) -> Run {
        let rt = aws_runtime_with(&self.sdk, &self.settings);
        let step_url = rt.queue().create_queue(&common::unique("steps")).await.expect("step queue");
        let approval_url = rt.queue().create_queue(&common::unique("approval")).await.expect("approval queue");
        let topic = rt.topics().create_topic(&common::unique("report")).await.expect("topic");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stock-trading");
        let text = std::fs::read_to_string(dir.join("definition.asl.json")).expect("example definition");
        let mut bindings: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("bindings.json")).expect("bindings"))
                .expect("bindings json");
        bindings.insert("RequestHumanApprovalQueueUrl".into(), approval_url.clone().into());
        bindings.insert("ReportResultTopicArn".into(), topic.into());
        let definition: Value =
            serde_json::from_str(&stepwise_sample::substitute(&text, &bindings).expect("substitute"))
                .expect("definition");
        let name = common::unique("sample");
        let machine =
            rt.create_machine(&name, definition, "arn:aws:iam::123456789012:role/r", false).await.expect("machine").arn;
        Run { step_url, approval_url, machine }
    }
}

/// Crashes once, at the `nth` message handled (1-based), at `point`.
fn crash_at(nth: usize, point: FaultPoint) -> FaultHook {
    let loads = Arc::new(AtomicUsize::new(0));
    let fired = Arc::new(AtomicUsize::new(0));
    Arc::new(move |_arn: &str, p: FaultPoint| {
        if p == FaultPoint::AfterLoad {
            loads.fetch_add(1, Ordering::SeqCst);
        }
        let hit = loads.load(Ordering::SeqCst) == nth && p == point && fired.load(Ordering::SeqCst) == 0;
        if hit {
            fired.fetch_add(1, Ordering::SeqCst);
        }
        hit
    })
}

/// The history with what is random by design masked (ids, tokens, timestamps, and the
/// per-run queue and topic).
async fn history(rt: &AwsRuntime, arn: &str) -> Vec<Value> {
    fn mask(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if [
                        "TaskToken",
                        "MD5OfMessageBody",
                        "MessageId",
                        "RequestId",
                        "x-amzn-RequestId",
                        "timestamp",
                        "QueueUrl",
                        "TopicArn",
                    ]
                    .contains(&k.as_str())
                    {
                        *x = json!("<masked>");
                    } else {
                        mask(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(mask),
            Value::String(s) if s.starts_with('{') => {
                if let Ok(mut inner) = serde_json::from_str::<Value>(s) {
                    mask(&mut inner);
                    *s = inner.to_string();
                }
            }
            _ => {}
        }
    }
    rt.store()
        .history(arn)
        .await
        .expect("history")
        .iter()
        .map(|e| {
            let mut v = e.to_aws_json();
            mask(&mut v);
            v
        })
        .collect()
}

/// One run of the sample: (status, masked history, messages handled).
async fn run_once(world: &World, faults: Option<FaultHook>, duplicate: bool) -> (String, Vec<Value>, usize) {
    let run = world.setup().await;
    let mut rt = world.runtime(&run, faults);
    let arn = rt.start_execution(&run.machine, &common::unique("e"), json!({})).await.expect("start");
    let mut handled = 0;
    let mut copies = std::collections::HashSet::new();
    for _ in 0..500 {
        let msgs = rt.queue().receive(STEP_QUEUE, 1, Duration::ZERO).await.expect("receive");
        if let Some(m) = msgs.into_iter().next() {
            handled += 1;
            match rt.process(&m).await {
                Ok(_) => {
                    if duplicate && !copies.contains(&m.id) {
                        let copy = rt.queue().send(STEP_QUEUE, &m.body, Duration::ZERO, None).await.expect("send copy");
                        copies.insert(copy);
                    }
                }
                Err(Error::InjectedCrash(_)) => rt = world.runtime(&run, None),
                Err(e) => panic!("process: {e}"),
            }
            continue;
        }
        let approvals =
            rt.queue().receive(&run.approval_url, 10, Duration::from_secs(3600)).await.expect("receive approval");
        if !approvals.is_empty() {
            for m in approvals {
                let token = stepwise_sample::approval_token(&m.body).expect("token");
                match rt.send_task_success(&token, stepwise_sample::APPROVAL_OUTPUT).await {
                    Ok(()) => {}
                    // A crash after the task's SendMessage repeats it in the new process (standard
                    // queues do not deduplicate across processes): the second approval finds
                    // the token used or the task done, and changes nothing.
                    Err(Error::TaskTimedOut(_)) => {}
                    Err(e) => panic!("send_task_success: {e}"),
                }
                rt.queue().ack(&run.approval_url, &m.receipt).await.expect("ack approval");
            }
            continue;
        }
        let status = rt.describe(&arn).await.expect("describe").execution.status.as_str().to_string();
        if status != "RUNNING" {
            return (status, history(&rt, &arn).await, handled);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{arn}: the execution did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_survives_a_crash_at_every_point_of_every_step() {
    if endpoint().is_none() {
        return;
    }
    let world = World::new().await;
    let (status, reference, steps) = run_once(&world, None, false).await;
    assert_eq!(status, "SUCCEEDED");
    let points = [
        FaultPoint::AfterLoad,
        FaultPoint::AfterCommit,
        FaultPoint::AfterAction(0),
        FaultPoint::AfterAction(1),
        FaultPoint::BeforeAck,
    ];
    for nth in 1..=steps {
        for point in points {
            let (st, h, _) = run_once(&world, Some(crash_at(nth, point)), false).await;
            assert_eq!(st, status, "a crash at message {nth} {point:?} changed the status");
            assert_eq!(h, reference, "a crash at message {nth} {point:?} changed the history");
        }
    }
    let (st, h, _) = run_once(&world, None, true).await;
    assert_eq!(st, status, "duplicate delivery changed the status");
    assert_eq!(h, reference, "duplicate delivery changed the history");
}
