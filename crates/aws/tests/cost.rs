//! The stock-trading sample end to end on the AWS adapters (DynamoDB, SQS and SNS on the local
//! endpoint, the sample's functions behind a local Invoke API server), with what it cost:
//! requests and DynamoDB capacity units per transition, printed (`--nocapture`) and held to
//! the budget.
//!
//! Its own test binary: the request counters are per process.

mod common;

use common::{endpoint, invoke_server, Reply};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_aws::{aws_runtime_with, AwsSettings};
use stepwise_runtime::ports::{Queue, Store, STEP_QUEUE};
use stepwise_runtime::Handled;
use stepwise_testkit::aws::{fresh_table, local_lambda};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_runs_on_the_aws_adapters_within_budget() {
    if endpoint().is_none() {
        return;
    }
    let (sdk, settings) = fresh_table("sample", Duration::from_secs(30)).await;
    let probe = aws_runtime_with(&sdk, &settings);
    let step_queue = common::unique("steps");
    let step_url = probe.queue().create_queue(&step_queue).await.expect("step queue");
    let settings = AwsSettings { step_queue_url: Some(step_url.clone()), ..settings };
    let base = aws_runtime_with(&sdk, &settings);
    let approval_url = base.queue().create_queue(&common::unique("approval")).await.expect("approval queue");
    let topic = base.topics().create_topic(&common::unique("report")).await.expect("topic");
    let server = invoke_server(Arc::new(|name: &str, body: &[u8]| {
        let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        match stepwise_sample::handler(name).map(|h| h(event)) {
            Some(Ok(v)) => Reply::ok(serde_json::to_vec(&v).unwrap_or_default()),
            Some(Err(e)) => Reply::ok(
                serde_json::to_vec(&serde_json::json!({"errorType": e.error_type, "errorMessage": e.error_message}))
                    .unwrap_or_default(),
            )
            .header("X-Amz-Function-Error", "Unhandled"),
            None => Reply::status(404, b"{}".to_vec()).header("x-amzn-ErrorType", "ResourceNotFoundException"),
        }
    }));
    let rt = base.with_functions(local_lambda(&sdk, &server));

    let definition = stepwise_testkit::stock_trading_definition(&[
        ("RequestHumanApprovalQueueUrl", &approval_url),
        ("ReportResultTopicArn", &topic),
    ]);
    let machine = rt
        .create_machine("stock-trading", definition, "arn:aws:iam::123456789012:role/r", false)
        .await
        .expect("machine");

    stepwise_aws::reset_counts();
    const RUNS: usize = 3;
    let mut arns = Vec::new();
    for i in 0..RUNS {
        arns.push(
            rt.start_execution(&machine.arn, &format!("run-{i}-{}", common::unique("e")), serde_json::json!({}))
                .await
                .expect("start"),
        );
    }
    let mut applied = RUNS; // the creations are commits too
    let deadline = Instant::now() + Duration::from_secs(120);
    // What the test's own status checks cost, left out of the figures.
    let mut overhead = Overhead::default();
    loop {
        let mut running = 0;
        let before = Overhead::now();
        for arn in &arns {
            if rt.describe(arn).await.expect("describe").execution.status.as_str() == "RUNNING" {
                running += 1;
            }
        }
        overhead.add(&before, &Overhead::now());
        if running == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the sample did not finish in time");
        let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(30)).await.expect("receive");
        for m in &msgs {
            if rt.process(m).await.expect("process") == Handled::Applied {
                applied += 1;
            }
        }
        // The approval callback.
        for m in rt.queue().receive(&approval_url, 10, Duration::from_secs(30)).await.expect("receive approval") {
            let token = stepwise_sample::approval_token(&m.body).expect("approval token");
            rt.send_task_success(&token, stepwise_sample::APPROVAL_OUTPUT).await.expect("send_task_success");
            rt.queue().ack(&approval_url, &m.receipt).await.expect("ack approval");
        }
        if msgs.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut counts = stepwise_aws::request_counts();
    for (k, v) in &overhead.counts {
        if let Some(c) = counts.get_mut(k) {
            *c -= v;
        }
    }
    let (mut est_read, est_write) = stepwise_aws::dynamodb_capacity_estimate();
    est_read -= overhead.read;
    let by_operation = stepwise_aws::dynamodb_capacity_estimate_by_operation();

    let mut entered = 0;
    for arn in &arns {
        let stored = rt.describe(arn).await.expect("describe");
        assert_eq!(stored.execution.status.as_str(), "SUCCEEDED", "{arn}");
        let history = rt.store().history(arn).await.expect("history");
        let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>(), "history ids are consecutive");
        assert_eq!(history.last().map(|e| e.event_type.as_ref()), Some("ExecutionSucceeded"));
        entered += history.iter().filter(|e| e.event_type.ends_with("StateEntered")).count();
    }

    let per = |key: &str| counts.get(key).copied().unwrap_or(0) as f64 / applied as f64;
    println!("{RUNS} runs of the stock-trading sample: {applied} commits, {entered} states entered");
    println!("requests per commit (this test polls for its messages; on AWS the event source mapping receives and deletes in batches):");
    for (k, v) in &counts {
        println!("  {k:32} {v:5}  {:.2}/commit", *v as f64 / applied as f64);
    }
    println!(
        "DynamoDB units per commit, estimated from item sizes: {:.2} read, {:.2} write; by store operation (the test's loads for status included):",
        est_read / applied as f64,
        est_write / applied as f64,
    );
    for (op, (r, w)) in &by_operation {
        println!("  {op:32} {:.2} read {:.2} write per commit", r / applied as f64, w / applied as f64);
    }
    // On-demand prices (us-east-1): $0.625 per million write units, $0.125 per million read
    // units, $0.40 per million SQS requests; the step function's Lambda invocations come in
    // batches of up to 10 messages ($0.20 per million requests, ~20 ms at 128 MB arm64).
    let dynamo = (est_write * 0.625 + est_read * 0.125) / applied as f64;
    let sqs = per("sqs.SendMessage") * 0.40 * 1.2; // + batched receives and deletes
    let lambda = 0.02 + 0.04;
    let per_commit = dynamo + sqs + lambda;
    let per_state = per_commit * applied as f64 / entered as f64;
    println!(
        "estimated $ per million: {per_commit:.2} per commit (DynamoDB {dynamo:.2}, SQS {sqs:.2}, Lambda {lambda:.2}); {per_state:.2} per state entered"
    );
    assert!(
        est_write / (applied as f64) <= 3.0,
        "DynamoDB write units per commit above budget: {}",
        est_write / applied as f64
    );
    assert!(per_state <= 2.50, "cost per state transition above the $2.50 per million target: {per_state:.2}");
}

/// Requests and read units spent between two snapshots.
#[derive(Default)]
struct Overhead {
    counts: std::collections::BTreeMap<String, u64>,
    read: f64,
}

impl Overhead {
    fn now() -> Overhead {
        Overhead { counts: stepwise_aws::request_counts(), read: stepwise_aws::dynamodb_capacity_estimate().0 }
    }

    fn add(&mut self, before: &Overhead, after: &Overhead) {
        for (k, v) in &after.counts {
            *self.counts.entry(k.clone()).or_default() += v - before.counts.get(k).copied().unwrap_or(0);
        }
        self.read += after.read - before.read;
    }
}
