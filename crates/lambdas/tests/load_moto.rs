//! The capacity check of docs/aws.md: 1,000 executions of the stock-trading sample started at
//! once on the AWS adapters (DynamoDB, SQS, SNS on moto), four step drivers working the step
//! queue concurrently as four Lambda instances would (each its own adapters and caches, batches
//! of ten through `step_driver`, records not reported as failed deleted), the approval queue
//! worked by `approval_callback`, the step and approval queues redriving to dead-letter queues
//! after five receives as template.yaml sets them. Every execution must succeed with each state
//! of its path entered once, and no message may be left in a dead-letter queue. The figures
//! (executions and transitions per second, batches per driver) are printed (`--nocapture`).
//!
//! `STEPWISE_LOAD_EXECUTIONS` changes the number (default 1,000). Needs `AWS_ENDPOINT_URL` (the
//! test command starts moto server); without it the test fails when `CI` is set and is skipped
//! with a notice otherwise.

mod common;

use aws_lambda_events::event::sqs::SqsEvent;
use common::{record, sample_functions};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_aws::{aws_runtime_with, AwsRuntime, AwsSettings};
use stepwise_lambdas::{approval_callback, step_driver};
use stepwise_runtime::ports::{Queue, Store, STEP_QUEUE};
use stepwise_sdk::{SdkClient, Settings};
use stepwise_testkit::aws::{fresh_table, local_lambda};
use stepwise_testkit::{endpoint, invoke_server, unique};

const DRIVERS: usize = 4;

fn executions() -> usize {
    std::env::var("STEPWISE_LOAD_EXECUTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

/// A queue whose messages go to a new dead-letter queue after five receives; (URL, DLQ URL).
async fn queue_with_dlq(sqs: &SdkClient, label: &str, account: &str, region: &str) -> (String, String) {
    let call = |action: &'static str, input: Value| async move {
        sqs.call("sqs", action, &input, None).await.expect("sent").expect("accepted").0
    };
    let dlq_name = unique(&format!("{label}-dlq"));
    let dlq = call("createQueue", json!({"QueueName": dlq_name})).await["QueueUrl"].as_str().expect("url").to_string();
    let redrive =
        json!({"deadLetterTargetArn": format!("arn:aws:sqs:{region}:{account}:{dlq_name}"), "maxReceiveCount": 5});
    let url = call(
        "createQueue",
        json!({"QueueName": unique(label), "Attributes": {"RedrivePolicy": redrive.to_string(), "VisibilityTimeout": "60"}}),
    )
    .await["QueueUrl"]
        .as_str()
        .expect("url")
        .to_string();
    (url, dlq)
}

/// One event source mapping: receive up to ten, hand them to `handle`, delete the rest.
async fn consume<F, Fut>(
    rt: Arc<AwsRuntime>,
    queue: String,
    done: Arc<AtomicBool>,
    batches: Arc<AtomicUsize>,
    handle: F,
) where
    F: Fn(Arc<AwsRuntime>, SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    while !done.load(Ordering::Relaxed) {
        let msgs = match rt.queue().receive(&queue, 10, Duration::from_secs(60)).await {
            Ok(m) => m,
            Err(e) => {
                eprintln!("receive from {queue}: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if msgs.is_empty() {
            // An idle event source mapping polls slowly (it long-polls on AWS).
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        batches.fetch_add(1, Ordering::Relaxed);
        let resp = handle(rt.clone(), SqsEvent { records: msgs.iter().map(record).collect() }).await;
        let failed: Vec<String> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        for m in msgs.iter().filter(|m| !failed.contains(&m.id)) {
            if let Err(e) = rt.queue().ack(&queue, &m.receipt).await {
                eprintln!("delete from {queue}: {e}");
            }
        }
    }
}

/// Messages in a queue, visible or in flight.
async fn depth(sqs: &SdkClient, url: &str) -> u64 {
    let input = json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]});
    let out = sqs.call("sqs", "getQueueAttributes", &input, None).await.expect("sent").expect("accepted").0;
    ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        .iter()
        .map(|k| out["Attributes"][*k].as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_executions_on_four_drivers_all_succeed_with_empty_dead_letter_queues() {
    let Some(url) = endpoint() else { return };
    let n = executions();
    let (sdk, settings) = fresh_table("load", Duration::from_secs(60)).await;
    let sqs = SdkClient::new(Settings::for_endpoint(&url, &settings.region));
    let (step_url, step_dlq) = queue_with_dlq(&sqs, "load-steps", &settings.account, &settings.region).await;
    let (approval_url, approval_dlq) = queue_with_dlq(&sqs, "load-approval", &settings.account, &settings.region).await;
    let settings = AwsSettings { step_queue_url: Some(step_url.clone()), ..settings };
    let lambda_url = invoke_server(Arc::new(sample_functions));
    // Four drivers, each its own adapters (no shared caches), as four Lambda instances.
    let drivers: Vec<Arc<AwsRuntime>> = (0..DRIVERS)
        .map(|_| Arc::new(aws_runtime_with(&sdk, &settings).with_functions(local_lambda(&sdk, &lambda_url))))
        .collect();
    let rt = drivers[0].clone();
    let topic = rt.topics().create_topic(&unique("load-report")).await.expect("topic");
    let definition = stepwise_testkit::stock_trading_definition(&[
        ("RequestHumanApprovalQueueUrl", &approval_url),
        ("ReportResultTopicArn", &topic),
    ]);
    let role = format!("arn:aws:iam::{}:role/stepwise/StockTrading", settings.account);
    let machine = rt.create_machine("StockTrading", definition, &role, false).await.expect("machine");

    let done = Arc::new(AtomicBool::new(false));
    let batches: Vec<Arc<AtomicUsize>> = (0..=DRIVERS).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let mut workers = Vec::new();
    for (i, d) in drivers.iter().enumerate() {
        workers.push(tokio::spawn(consume(
            d.clone(),
            STEP_QUEUE.to_string(),
            done.clone(),
            batches[i].clone(),
            |rt, ev| async move { step_driver(&rt, ev).await },
        )));
    }
    workers.push(tokio::spawn(consume(
        rt.clone(),
        approval_url.clone(),
        done.clone(),
        batches[DRIVERS].clone(),
        |rt, ev| async move { approval_callback(&rt, ev).await },
    )));

    // All started at once (as fast as the endpoint takes them).
    let started = Instant::now();
    let names: Vec<String> = (0..n).map(|i| format!("load-{i:04}")).collect();
    let arns: Vec<String> = futures_util::stream::iter(names.iter())
        .map(|name| {
            let (rt, machine) = (rt.clone(), machine.arn.clone());
            async move { rt.start_execution(&machine, name, json!({})).await.expect("start") }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let all_started = started.elapsed();

    // Until the step and approval queues stay empty (nothing visible or in flight): every
    // execution has ended or is lost, which the checks below tell apart.
    let deadline = Instant::now() + Duration::from_secs(1200);
    let mut quiet = 0;
    let finished = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let left = depth(&sqs, &step_url).await + depth(&sqs, &approval_url).await;
        quiet = if left == 0 { quiet + 1 } else { 0 };
        if quiet == 2 {
            break started.elapsed() - Duration::from_secs(1);
        }
        assert!(Instant::now() < deadline, "{left} messages still queued after 20 minutes");
    };
    done.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }

    // Every execution succeeded, each state of its path entered once.
    let mut transitions = 0;
    let mut stuck = Vec::new();
    for arn in &arns {
        let status = rt.describe(arn).await.expect("describe").execution.status;
        if status.as_str() != "SUCCEEDED" {
            // What it did, where it stopped, what it waits for.
            let history = rt.store().history(arn).await.expect("history");
            let events: Vec<String> = history
                .iter()
                .map(|e| {
                    let j = e.to_aws_json();
                    format!(
                        "{} {} {}",
                        j["id"],
                        j["type"].as_str().unwrap_or(""),
                        j["stateEnteredEventDetails"]["name"].as_str().unwrap_or("")
                    )
                })
                .collect();
            let stored = rt.store().load(arn).await.expect("load").expect("stored");
            let waiting = rt.waiting_tasks(arn).await.expect("waiting");
            stuck.push(format!(
                "{arn}: {status:?}, version {}, outbox {:?}, waiting on {:?}\n  {}",
                stored.version,
                stored.outbox,
                waiting.iter().map(|(s, _)| s).collect::<Vec<_>>(),
                events.join("\n  ")
            ));
        }
    }
    let dead: Vec<u64> = futures_util::future::join_all([&step_dlq, &approval_dlq].map(|q| depth(&sqs, q))).await;
    assert!(
        stuck.is_empty(),
        "{} executions did not succeed (dead-letter queues: {dead:?}):\n{}",
        stuck.len(),
        stuck.join("\n")
    );
    for arn in &arns {
        let history = rt.store().history(arn).await.expect("history");
        let mut entered: Vec<String> = history
            .iter()
            .filter(|e| e.event_type.ends_with("StateEntered"))
            .map(|e| e.to_aws_json()["stateEnteredEventDetails"]["name"].as_str().unwrap_or("").to_string())
            .collect();
        transitions += entered.len();
        let on_path = entered.len();
        entered.sort();
        entered.dedup();
        assert_eq!(entered.len(), on_path, "{arn}: a state entered twice");
        assert_eq!(on_path, 6, "{arn}: {entered:?}");
    }
    for dlq in [&step_dlq, &approval_dlq] {
        assert_eq!(depth(&sqs, dlq).await, 0, "messages left in {dlq}");
    }
    for q in [&step_url, &approval_url] {
        assert_eq!(depth(&sqs, q).await, 0, "messages left in {q}");
    }
    let per_driver: Vec<usize> = batches.iter().map(|b| b.load(Ordering::Relaxed)).collect();
    let secs = finished.as_secs_f64();
    println!(
        "load: {n} executions of the sample, {transitions} states entered, {DRIVERS} drivers: all started in {:.1} s, all done in {secs:.1} s ({:.1} executions/s, {:.0} transitions/s); step batches per driver {:?}, approval batches {}",
        all_started.as_secs_f64(),
        n as f64 / secs,
        transitions as f64 / secs,
        &per_driver[..DRIVERS],
        per_driver[DRIVERS],
    );
    println!("load: requests {:?}", stepwise_aws::request_counts());
    for (i, b) in per_driver[..DRIVERS].iter().enumerate() {
        assert!(*b > 0, "driver {i} handled no batch");
    }
}
