//! Parallel and Map executions on the AWS adapters, driven by two workers at once: standard SQS
//! queues do not deduplicate across processes, so outbox actions redone by a second worker
//! reach the queue again; the driver must still produce the in-memory runner's result, and the
//! extra messages must stay few (printed with `--nocapture`).
//!
//! Its own test binary: the request counters are per process.

mod common;

use common::endpoint;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_asl::local::{self, NoFunctions, RunOptions};
use stepwise_asl::stepper::ExecutionStatus;
use stepwise_aws::{aws_runtime_with, create_table, AwsSettings};
use stepwise_runtime::ports::{Queue, Store, STEP_QUEUE};
use stepwise_runtime::Handled;

fn definition() -> Value {
    let chain = |prefix: &str| {
        json!({
            "StartAt": format!("{prefix}1"),
            "States": {
                format!("{prefix}1"): {"Type": "Pass", "Next": format!("{prefix}2")},
                format!("{prefix}2"): {"Type": "Pass", "Next": format!("{prefix}3")},
                format!("{prefix}3"): {"Type": "Pass", "End": true}
            }
        })
    };
    json!({
        "StartAt": "Fan out",
        "States": {
            "Fan out": {
                "Type": "Parallel",
                "Branches": [chain("A"), chain("B"), chain("C")],
                "ResultPath": "$.parallel",
                "Next": "Each"
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "P1",
                    "States": {
                        "P1": {"Type": "Pass", "Parameters": {"item.$": "$", "step": 1}, "Next": "P2"},
                        "P2": {"Type": "Pass", "Parameters": {"item.$": "$.item", "step": 2}, "End": true}
                    }
                },
                "ResultPath": "$.mapped",
                "End": true
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_and_map_on_two_workers_give_the_in_memory_result() {
    if endpoint().is_none() {
        return;
    }
    let input = json!({"items": (0..8).collect::<Vec<_>>()});
    let opts = RunOptions { time_scale: 0.0, ..RunOptions::default() };
    let expected = local::run(&definition(), input.clone(), &opts, &mut NoFunctions).await.expect("in-memory run");
    assert_eq!(expected.status, ExecutionStatus::Succeeded);

    let sdk = stepwise_aws::sdk_config().await;
    let settings = AwsSettings { table: common::unique("fanout"), ..AwsSettings::from_env(&sdk) };
    create_table(&aws_sdk_dynamodb::Client::new(&sdk), &settings.table).await.expect("create table");
    let url =
        aws_runtime_with(&sdk, &settings).queue().create_queue(&common::unique("steps")).await.expect("step queue");
    let settings = AwsSettings { step_queue_url: Some(url.clone()), ..settings };
    let rt = aws_runtime_with(&sdk, &settings);
    let machine =
        rt.create_machine("fanout", definition(), "arn:aws:iam::123456789012:role/r", false).await.expect("machine");
    // A second worker: its own adapters (no shared caches), as another Lambda instance.
    let other = aws_runtime_with(&sdk, &settings);

    stepwise_aws::reset_counts();
    let arn = rt.start_execution(&machine.arn, &common::unique("run"), input).await.expect("start");
    let done = Arc::new(AtomicBool::new(false));
    let applied = Arc::new(AtomicUsize::new(0));
    let handled = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for rt in [Arc::new(rt), Arc::new(other)] {
        let (done, applied, handled) = (done.clone(), applied.clone(), handled.clone());
        workers.push(tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(30)).await.expect("receive");
                if msgs.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                for m in &msgs {
                    handled.fetch_add(1, Ordering::SeqCst);
                    match rt.process(m).await {
                        Ok(Handled::Applied) => {
                            applied.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => {}
                        Err(e) => eprintln!("not handled (retried later): {e}"),
                    }
                }
            }
            rt
        }));
    }
    let check = aws_runtime_with(&sdk, &settings);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stored = check.describe(&arn).await.expect("describe");
        if stored.execution.status.kind().is_finished() {
            break;
        }
        assert!(Instant::now() < deadline, "the execution did not finish in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the last messages drain (duplicates of finished frames are no-ops).
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("worker");
    }
    let stored = check.describe(&arn).await.expect("describe");
    let output = match &stored.execution.status {
        stepwise_asl::stepper::Status::Succeeded { output } => output.clone(),
        other => panic!("the execution did not succeed: {other:?}"),
    };
    assert_eq!(Some(output), expected.output, "the result differs from the in-memory run");
    let history = check.store().history(&arn).await.expect("history");
    let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>(), "history ids are consecutive");
    let mut types: Vec<String> = history.iter().map(|e| e.event_type.to_string()).collect();
    let mut want: Vec<String> = expected.history.iter().map(|e| e.event_type.to_string()).collect();
    types.sort();
    want.sort();
    assert_eq!(types, want, "the history's events differ from the in-memory run's");

    let counts = stepwise_aws::request_counts();
    let sends = counts.get("sqs.SendMessage").copied().unwrap_or(0);
    let applied = applied.load(Ordering::SeqCst) + 1;
    let handled = handled.load(Ordering::SeqCst);
    let attempts = counts.get("dynamodb.UpdateItem").copied().unwrap_or(0) as usize;
    println!(
        "fan-out on two workers: {applied} commits, {handled} messages handled, {sends} sent ({:.2} per commit), {} commit conflicts",
        sends as f64 / applied as f64,
        (attempts + 1).saturating_sub(applied),
    );
    // Redone outbox actions reach the queue again across workers, and each duplicate runs
    // into a finished frame or a state that waits: they must not multiply.
    assert!(sends as f64 <= 3.0 * applied as f64, "duplicate messages snowballed: {sends} sends for {applied} commits");
}
