//! Lambda Tasks longer than the rest of a batch (docs/aws.md, "Tasks longer than the driver"):
//! the step driver waits for a long call while the other records of its batch finish, the call
//! is bounded by the state's `TimeoutSeconds`, and nothing is redone. The times are scaled down:
//! a 3-second function stands for one running many minutes.
//!
//! Needs `AWS_ENDPOINT_URL` (the test command starts moto server); without it the test fails
//! when `CI` is set and is skipped with a notice otherwise.

mod common;

use aws_lambda_events::event::sqs::SqsEvent;
use common::record;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_aws::{aws_runtime_with, AwsRuntime, AwsSettings};
use stepwise_lambdas::step_driver;
use stepwise_runtime::ports::{Queue, STEP_QUEUE};
use stepwise_testkit::aws::{fresh_table, local_lambda};
use stepwise_testkit::{endpoint, invoke_server, unique, Reply};

const SLOW: Duration = Duration::from_secs(3);

async fn status(rt: &AwsRuntime, arn: &str) -> serde_json::Value {
    let status = rt.describe(arn).await.expect("describe").execution.status;
    serde_json::to_value(&status).expect("status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_lambda_task_holds_back_no_other_record_of_its_batch() {
    if endpoint().is_none() {
        return;
    }
    let (sdk, settings) = fresh_table("long", Duration::from_secs(60)).await;
    let step_url = aws_runtime_with(&sdk, &settings).queue().create_queue(&unique("steps")).await.expect("queue");
    let settings = AwsSettings { step_queue_url: Some(step_url), ..settings };
    let running = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (r, c) = (running.clone(), calls.clone());
    let functions = invoke_server(Arc::new(move |name: &str, _: &[u8]| {
        if name == "slow" {
            c.fetch_add(1, Ordering::SeqCst);
            r.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(SLOW);
            r.fetch_sub(1, Ordering::SeqCst);
            return Reply::ok(br#"{"slow": "done"}"#.to_vec());
        }
        Reply::ok(br#"{"quick": "done"}"#.to_vec())
    }));
    let rt = Arc::new(aws_runtime_with(&sdk, &settings).with_functions(local_lambda(&sdk, &functions)));
    let role = "arn:aws:iam::123456789012:role/stepwise/r";
    let task = |function: &str, timeout: Option<u64>| {
        let mut st = json!({"Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}"), "End": true});
        if let Some(t) = timeout {
            st["TimeoutSeconds"] = t.into();
        }
        json!({"StartAt": "Call", "States": {"Call": st}})
    };
    let long = rt.create_machine("long", task("slow", None), role, false).await.expect("machine");
    let bounded = rt.create_machine("bounded", task("slow", Some(1)), role, false).await.expect("machine");
    let quick = rt.create_machine("quick", task("quick", None), role, false).await.expect("machine");
    let long_arn = rt.start_execution(&long.arn, &unique("long"), json!({})).await.expect("start");
    let bounded_arn = rt.start_execution(&bounded.arn, &unique("bounded"), json!({})).await.expect("start");
    let mut quick_arns = Vec::new();
    for i in 0..5 {
        quick_arns.push(rt.start_execution(&quick.arn, &unique(&format!("quick{i}")), json!({})).await.expect("start"));
    }

    // The seven first steps, delivered to one step driver invocation as one batch.
    let mut msgs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while msgs.len() < 7 && Instant::now() < deadline {
        msgs.extend(rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(120)).await.expect("receive"));
    }
    assert_eq!(msgs.len(), 7);
    let started = Instant::now();
    let driver = {
        let (rt, event) = (rt.clone(), SqsEvent { records: msgs.iter().map(record).collect() });
        tokio::spawn(async move { step_driver(&rt, event).await })
    };

    // Later messages (the bounded Task's timeout) go to other invocations, as the event source
    // mapping hands new messages to new invocations while one is busy.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let others = {
        let (rt, stop) = (rt.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(120)).await.expect("receive");
                if msgs.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let resp = step_driver(&rt, SqsEvent { records: msgs.iter().map(record).collect() }).await;
                let failed: Vec<String> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
                for m in msgs.iter().filter(|m| !failed.contains(&m.id)) {
                    rt.queue().ack(STEP_QUEUE, &m.receipt).await.expect("delete");
                }
            }
        })
    };

    // While the long call runs, the rest of the batch is done: the quick executions succeeded
    // and the bounded one failed on its TimeoutSeconds, its function still running.
    let mut waited = Duration::ZERO;
    loop {
        let mut done = 0;
        for arn in &quick_arns {
            done += usize::from(status(&rt, arn).await["status"] == "SUCCEEDED");
        }
        let bounded_status = status(&rt, &bounded_arn).await;
        if done == quick_arns.len() && bounded_status["status"] == "FAILED" {
            assert_eq!(bounded_status["error"], "States.Timeout", "{bounded_status}");
            assert!(running.load(Ordering::SeqCst) > 0, "the slow function is still running");
            assert!(!driver.is_finished(), "the driver's invocation still waits for the long call");
            break;
        }
        waited = started.elapsed();
        assert!(
            waited < SLOW,
            "the batch's other records waited for the long call ({done} quick done, bounded {bounded_status})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let resp = driver.await.expect("driver");
    stop.store(true, Ordering::Relaxed);
    others.await.expect("other invocations");
    assert!(resp.batch_item_failures.is_empty(), "no record failed");
    assert!(started.elapsed() >= SLOW);
    let long_status = status(&rt, &long_arn).await;
    assert_eq!(long_status["status"], "SUCCEEDED", "{long_status}");
    assert_eq!(long_status["output"], json!({"slow": "done"}));
    // Each slow call made once: nothing redone.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    println!("long tasks: the batch's other records were done {waited:?} into a {SLOW:?} call");
}
