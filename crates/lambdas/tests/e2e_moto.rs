//! The stock-trading sample end to end on the local AWS endpoint (moto) through the real Lambda
//! handlers, the way AWS wires them:
//! - step messages are pulled from the SQS step queue and handed to `step_driver` as SQS events,
//!   records it does not report as failed are deleted (what the event source mapping does);
//! - the approval queue's messages go to `approval_callback`;
//! - the execution starts with a message on the start queue through `start_execution_sqs`;
//! - the sample's functions are the Lambda handlers behind a local Lambda Invoke API endpoint;
//! - the SNS report reaches a queue subscribed to the topic.
//!
//! On the way, one step message is delivered twice and the driver crashes once between its commit
//! and sending the next step message; the execution still ends SUCCEEDED with a clean history.
//!
//! Needs `AWS_ENDPOINT_URL` (the test command starts moto server); without it the test fails
//! when `CI` is set and is skipped with a notice otherwise.

mod common;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use common::{record, sample_functions};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_aws::{aws_runtime_with, AwsRuntime, AwsSettings};
use stepwise_lambdas::{approval_callback, start_execution_sqs, step_driver};
use stepwise_runtime::driver::{FaultHook, FaultPoint};
use stepwise_runtime::ports::{Queue, Store, STEP_QUEUE};
use stepwise_testkit::aws::{fresh_table, local_lambda};
use stepwise_testkit::{endpoint, invoke_server, unique};

struct Setup {
    sdk: aws_config::SdkConfig,
    settings: AwsSettings,
    step_url: String,
    lambda_url: String,
}

impl Setup {
    /// A runtime as a Lambda container builds it, optionally with a fault hook.
    fn runtime(&self, faults: Option<FaultHook>) -> AwsRuntime {
        let settings = AwsSettings { step_queue_url: Some(self.step_url.clone()), ..self.settings.clone() };
        let rt = aws_runtime_with(&self.sdk, &settings).with_functions(local_lambda(&self.sdk, &self.lambda_url));
        match faults {
            Some(h) => rt.with_faults(h),
            None => rt,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_runs_end_to_end_through_the_lambda_handlers_on_the_local_endpoint() {
    if endpoint().is_none() {
        return;
    }
    let (sdk, settings) = fresh_table("e2e", Duration::from_secs(1)).await;
    let probe = aws_runtime_with(&sdk, &settings);
    let step_url = probe.queue().create_queue(&unique("steps")).await.expect("step queue");
    let approval_url = probe.queue().create_queue(&unique("approval")).await.expect("approval queue");
    let report_url = probe.queue().create_queue(&unique("report")).await.expect("report queue");
    let topic = probe.topics().create_topic(&unique("topic")).await.expect("topic");
    // the report queue subscribes to the topic (raw delivery, as a consumer would set it)
    let report_arn = format!(
        "arn:aws:sqs:{}:{}:{}",
        settings.region,
        settings.account,
        report_url.rsplit('/').next().unwrap_or_default()
    );
    probe
        .topics()
        .client()
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&report_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("subscribe the report queue");
    let setup = Setup { sdk, settings, step_url, lambda_url: invoke_server(Arc::new(sample_functions)) };
    let rt = setup.runtime(None);

    // the machine, as the start-execution function registers it
    let definition = stepwise_testkit::stock_trading_definition(&[
        ("RequestHumanApprovalQueueUrl", &approval_url),
        ("ReportResultTopicArn", &topic),
    ]);
    let machine = rt
        .create_machine("StockTrading", definition, "arn:aws:iam::123456789012:role/r", false)
        .await
        .expect("machine");

    // start through an SQS message
    let name = unique("run");
    let start = SqsEvent {
        records: vec![SqsMessage {
            message_id: Some("start-1".into()),
            body: Some(json!({"stateMachineArn": machine.arn, "name": name, "input": {}}).to_string()),
            ..Default::default()
        }],
    };
    let resp = start_execution_sqs(&rt, start).await;
    assert!(resp.batch_item_failures.is_empty(), "start failed");
    let arn =
        format!("arn:aws:states:{}:{}:execution:StockTrading:{name}", setup.settings.region, setup.settings.account);

    // a driver that crashes once, after committing its second transition (counted by commits:
    // a batch's records are handled concurrently, so loads interleave)
    let commits = Arc::new(AtomicUsize::new(0));
    let c = commits.clone();
    let crash: FaultHook = Arc::new(move |_: &str, p: FaultPoint| {
        p == FaultPoint::AfterCommit && c.fetch_add(1, Ordering::SeqCst) + 1 == 2
    });
    let crashing = setup.runtime(Some(crash));

    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut batches, mut failures, mut duplicated) = (0, 0, false);
    loop {
        let status = rt.describe(&arn).await.expect("describe").execution.status.as_str().to_string();
        if status != "RUNNING" {
            assert_eq!(status, "SUCCEEDED");
            break;
        }
        assert!(Instant::now() < deadline, "the sample did not finish in 120 s");
        // the event source mapping of the step queue
        let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(1)).await.expect("receive steps");
        if !msgs.is_empty() {
            batches += 1;
            let driver = if batches <= 3 { &crashing } else { &rt };
            let resp = step_driver(driver, SqsEvent { records: msgs.iter().map(record).collect() }).await;
            let failed: Vec<String> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
            failures += failed.len();
            for m in &msgs {
                if !failed.contains(&m.id) {
                    rt.queue().ack(STEP_QUEUE, &m.receipt).await.expect("delete");
                    if !duplicated {
                        // at-least-once delivery: the same message once more
                        rt.queue().send(STEP_QUEUE, &m.body, Duration::ZERO, None).await.expect("duplicate");
                        duplicated = true;
                    }
                }
            }
        }
        // the event source mapping of the approval queue
        let approvals =
            rt.queue().receive(&approval_url, 10, Duration::from_secs(30)).await.expect("receive approvals");
        if !approvals.is_empty() {
            let resp = approval_callback(&rt, SqsEvent { records: approvals.iter().map(record).collect() }).await;
            let failed: Vec<String> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
            for m in approvals.iter().filter(|m| !failed.contains(&m.id)) {
                rt.queue().ack(&approval_url, &m.receipt).await.expect("delete approval");
            }
        }
        if msgs.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!("e2e: {batches} step batches, {failures} batch item failures");
    assert!(duplicated, "a step message was delivered twice");
    assert_eq!(failures, 1, "the injected crash was reported as one batch item failure and retried");

    // a clean history: consecutive ids, every state of the path entered once
    let history = rt.store().history(&arn).await.expect("history");
    let ids: Vec<u64> = history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=history.len() as u64).collect::<Vec<_>>());
    let entered: Vec<String> = history
        .iter()
        .filter(|e| e.event_type.ends_with("StateEntered"))
        .map(|e| e.to_aws_json()["stateEnteredEventDetails"]["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(entered.len(), 6, "{entered:?}");
    for state in [
        "Check Stock Price",
        "Generate Buy/Sell recommendation",
        "Request Human Approval",
        "Buy or Sell?",
        "Report Result",
    ] {
        assert_eq!(entered.iter().filter(|s| *s == state).count(), 1, "{state}: {entered:?}");
    }

    // the SNS message on the subscribed queue
    let mut report = Vec::new();
    for _ in 0..50 {
        report = rt.queue().receive(&report_url, 10, Duration::from_secs(30)).await.expect("receive report");
        if !report.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(report.len(), 1, "one report message");
    let message: Value = serde_json::from_str(&report[0].body).expect("the report is JSON");
    assert!(message["Input"]["type"].as_str().is_some_and(|t| t == "buy" || t == "sell"), "{message}");
}
