//! A Distributed Map on the AWS adapters (DynamoDB, SQS, S3 on the local endpoint), driven as
//! AWS drives the step driver: two drivers take batches of ten from the step queue at once and
//! hand them to `step_driver`; the records it does not report as failed are deleted.
//!
//! Items read from JSON Lines in S3 (200, or `STEPWISE_DM_ITEMS`), 100 children at a time: every child runs once, the
//! Map Run's counts add up, and the results are in S3 (the manifest and `SUCCEEDED_0.json`).
//!
//! Needs `AWS_ENDPOINT_URL` (the test command starts moto server); without it the test fails
//! when `CI` is set and is skipped with a notice otherwise.

mod common;

use aws_lambda_events::event::sqs::SqsEvent;
use common::record;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_asl::map_run::RunStatus;
use stepwise_aws::{aws_runtime_with, AwsRuntime, AwsSettings};
use stepwise_lambdas::step_driver;
use stepwise_runtime::ports::{ExecutionStatus, Queue, Store, STEP_QUEUE};
use stepwise_testkit::aws::fresh_table;
use stepwise_testkit::{endpoint, unique};

/// Items: `STEPWISE_DM_ITEMS`, default 200 (moto serves some 40 requests a second: 1,000 items
/// take it about six minutes; docs/performance.md has that run's figures).
fn items() -> u64 {
    std::env::var("STEPWISE_DM_ITEMS").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

/// One driver: receive up to ten step messages, `step_driver`, delete what it handled.
async fn drive(rt: Arc<AwsRuntime>, done: Arc<AtomicBool>, batches: Arc<AtomicUsize>) {
    while !done.load(Ordering::Relaxed) {
        // Hidden as long as the step queue's own visibility (a batch may take seconds on moto;
        // a shorter one hands its messages to the other driver mid-batch).
        let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(30)).await.expect("receive steps");
        if msgs.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        batches.fetch_add(1, Ordering::Relaxed);
        let resp = step_driver(&rt, SqsEvent { records: msgs.iter().map(record).collect() }).await;
        let failed: Vec<String> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        for m in msgs.iter().filter(|m| !failed.contains(&m.id)) {
            rt.queue().ack(STEP_QUEUE, &m.receipt).await.expect("delete");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_map_runs_on_the_aws_adapters_with_two_drivers() {
    let Some(url) = endpoint() else { return };
    let items = items();
    // A step may take seconds on moto (a Map Run starting 100 children): a visibility timeout
    // shorter than that would hand its message to the other driver meanwhile.
    let (sdk, settings) = fresh_table("dmap", Duration::from_secs(30)).await;
    let probe = aws_runtime_with(&sdk, &settings);
    let step_url = probe.queue().create_queue(&unique("dmap-steps")).await.expect("step queue");
    let settings = AwsSettings { step_queue_url: Some(step_url), ..settings };
    let rt = Arc::new(aws_runtime_with(&sdk, &settings));
    let second = Arc::new(aws_runtime_with(&sdk, &settings));

    let s3 = stepwise_sdk::SdkClient::new(stepwise_sdk::Settings::for_endpoint(&url, "us-east-1"));
    let call = |action: &'static str, input: Value| {
        let s3 = &s3;
        async move { s3.call("s3", action, &input, None).await.expect("sent").expect("accepted").0 }
    };
    let bucket = unique("dmap-items");
    call("createBucket", json!({"Bucket": bucket})).await;
    let lines: Vec<String> = (0..items).map(|i| json!({"n": i}).to_string()).collect();
    call("putObject", json!({"Bucket": bucket, "Key": "items.jsonl", "Body": lines.join("\n")})).await;

    let definition = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "MaxConcurrency": 100,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": bucket, "Key": "items.jsonl"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Work",
            "States": {"Work": {"Type": "Pass", "Parameters": {"twice.$": "States.MathAdd($.n, $.n)"}, "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": bucket, "Prefix": "out"}},
        "End": true}}});
    let machine =
        rt.create_machine("Fanout", definition, "arn:aws:iam::123456789012:role/r", false).await.expect("machine");
    stepwise_aws::reset_counts();
    let arn = rt.start_execution(&machine.arn, &unique("run"), json!({})).await.expect("start");

    let done = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicUsize::new(0));
    let drivers = [rt.clone(), second.clone()].map(|d| tokio::spawn(drive(d, done.clone(), batches.clone())));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    let status = loop {
        let status = rt.describe(&arn).await.expect("describe").execution.status;
        if status.kind() != ExecutionStatus::Running {
            break status;
        }
        assert!(Instant::now() < deadline, "the Distributed Map did not finish in 600 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    done.store(true, Ordering::Relaxed);
    for d in drivers {
        d.await.expect("driver");
    }
    // What the run cost, per item (the test's status polls, 4 a second, included).
    let counts = stepwise_aws::request_counts();
    let (read, write) = stepwise_aws::dynamodb_capacity_estimate();
    println!(
        "distributed map on the AWS adapters: {items} items in {:.1} s, {} step batches",
        started.elapsed().as_secs_f64(),
        batches.load(Ordering::Relaxed)
    );
    for (k, v) in &counts {
        println!("  {k:32} {v:6}  {:.2}/item", *v as f64 / items as f64);
    }
    println!(
        "  DynamoDB units per item, estimated: {:.2} read, {:.2} write",
        read / items as f64,
        write / items as f64
    );
    let stepwise_asl::stepper::Status::Succeeded { output } = status else { panic!("{status:?}") };

    // The Map Run's counts.
    let [run] = rt.list_map_runs(&arn).await.expect("map runs").try_into().expect("one Map Run");
    assert_eq!(output["MapRunArn"], json!(run.arn), "{output}");
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!((run.total, run.next, run.counts.succeeded, run.counts.running), (items, items, items, 0));
    assert_eq!((run.counts.failed, run.counts.aborted, run.results_written), (0, 0, items));
    assert!(run.ended.is_empty() && run.ended_below == items, "ended {:?} below {}", run.ended, run.ended_below);

    // Every child ran once: 1,000 executions (one name per index: a second start of an index
    // finds the first), all SUCCEEDED; a sample of them entered their state once.
    let children = rt.list_map_run_children(&run.arn, None, 2_000, None).await.expect("children");
    assert_eq!(children.executions.len() as u64, items);
    for (i, child) in children.executions.iter().enumerate() {
        assert_eq!(child.execution.status.kind(), ExecutionStatus::Succeeded);
        if i % 40 == 0 {
            let history = rt.store().history(&child.execution.info.execution_arn).await.expect("history");
            let entered = history.iter().filter(|e| e.event_type == "PassStateEntered").count();
            assert_eq!(entered, 1, "{}", child.execution.info.execution_arn);
        }
    }

    // The results in S3.
    let manifest_key = output["ResultWriterDetails"]["Key"].as_str().expect("manifest key").to_string();
    let manifest: Value = serde_json::from_str(
        call("getObject", json!({"Bucket": bucket, "Key": manifest_key})).await["Body"].as_str().unwrap_or_default(),
    )
    .expect("manifest JSON");
    assert_eq!(manifest["MapRunArn"], json!(run.arn));
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    let key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"].as_str().expect("results key").to_string();
    let results: Vec<Value> = serde_json::from_str(
        call("getObject", json!({"Bucket": bucket, "Key": key})).await["Body"].as_str().unwrap_or_default(),
    )
    .expect("results JSON");
    assert_eq!(results.len() as u64, items);
    let mut twice: Vec<u64> = results
        .iter()
        .map(|r| {
            let output: Value = serde_json::from_str(r["Output"].as_str().unwrap_or("{}")).expect("output");
            output["twice"].as_u64().unwrap_or_else(|| panic!("no whole number in {r}"))
        })
        .collect();
    twice.sort_unstable();
    assert_eq!(twice, (0..items).map(|i| 2 * i).collect::<Vec<_>>());
}
