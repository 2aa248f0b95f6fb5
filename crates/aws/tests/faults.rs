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
use stepwise_aws::{aws_runtime_with, AwsRuntime, AwsSettings};
use stepwise_runtime::driver::{FaultHook, FaultPoint};
use stepwise_runtime::ports::{Queue, STEP_QUEUE};
use stepwise_runtime::Error;
use stepwise_testkit::aws::{fresh_table, local_lambda};
use stepwise_testkit::masked_history;

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
        let (sdk, settings) = fresh_table("faults", Duration::ZERO).await;
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
        let rt = aws_runtime_with(&self.sdk, &settings).with_functions(local_lambda(&self.sdk, &self.functions));
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
        let definition = stepwise_testkit::stock_trading_definition(&[
            ("RequestHumanApprovalQueueUrl", &approval_url),
            ("ReportResultTopicArn", &topic),
        ]);
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
            return (status, masked_history(&rt, &arn).await, handled);
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
