//! SQS's 256 KiB message limit and DynamoDB's 400 KB item limit lose no data: on the AWS adapters
//! (moto), a task output near 256 KiB reaches its execution although its step message does
//! not fit in SQS, an output over the limit fails the task with `States.DataLimitExceeded` as
//! on AWS, and a Map Run's inputs larger than an item are kept in parts.

mod common;

use common::{endpoint, noise};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use stepwise_aws::{aws_runtime_with, AwsRuntime, AwsSettings};
use stepwise_runtime::ports::{Queue, Store, STEP_QUEUE};
use stepwise_testkit::aws::{fresh_table, local_lambda};
use stepwise_testkit::{invoke_server, Reply};

/// A queue taking messages of at most 256 KiB (SQS's limit before 2025, and any queue's
/// `MaximumMessageSize` may be set as low; the endpoint's default is 1 MiB).
async fn small_queue(label: &str) -> String {
    let url = endpoint().expect("endpoint");
    let sqs = stepwise_sdk::SdkClient::new(stepwise_sdk::Settings::for_endpoint(&url, "us-east-1"));
    let input = json!({"QueueName": common::unique(label), "Attributes": {"MaximumMessageSize": "262144"}});
    let (out, _) = sqs.call("sqs", "createQueue", &input, None).await.expect("sent").expect("created");
    out["QueueUrl"].as_str().expect("url").to_string()
}

async fn runtime(label: &str) -> AwsRuntime {
    let (sdk, settings) = fresh_table(label, Duration::from_secs(30)).await;
    let url = small_queue("steps").await;
    let settings = AwsSettings { step_queue_url: Some(url), ..settings };
    // Functions: `big` answers `{"data": N characters}` for the N in its input.
    let server = invoke_server(std::sync::Arc::new(|_: &str, body: &[u8]| {
        let input: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let n = input["size"].as_u64().unwrap_or(0) as usize;
        Reply::ok(json!({"data": noise(7, n)}).to_string().into_bytes())
    }));
    aws_runtime_with(&sdk, &settings).with_functions(local_lambda(&sdk, &server))
}

/// Steps the execution until it ends; its final status (`{"status", "output"|"error","cause"}`).
/// With `answer` (`(queue URL, output)`), a message carrying a `token` on that queue is
/// answered with SendTaskSuccess and the output.
async fn run(rt: &AwsRuntime, arn: &str, answer: Option<(&str, &str)>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = rt.describe(arn).await.expect("describe").execution.status;
        if status.as_str() != "RUNNING" {
            return serde_json::to_value(&status).expect("status");
        }
        assert!(Instant::now() < deadline, "{arn} did not finish");
        for m in rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(30)).await.expect("receive") {
            rt.process(&m).await.expect("process");
        }
        let Some((queue, output)) = answer else { continue };
        for m in rt.queue().receive(queue, 10, Duration::from_secs(30)).await.expect("receive requests") {
            let body: Value = serde_json::from_str(&m.body).expect("JSON");
            rt.send_task_success(body["token"].as_str().expect("token"), output).await.expect("send_task_success");
            rt.queue().ack(queue, &m.receipt).await.expect("ack");
        }
    }
}

/// A callback's output of 262,000 bytes (SendTaskSuccess takes up to 256 KiB) makes a step
/// message SQS refuses: the store keeps it and the execution gets the output whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_output_near_256_kib_reaches_its_execution() {
    if endpoint().is_none() {
        return;
    }
    let rt = runtime("limits").await;
    let requests = small_queue("requests").await;
    // The endpoint enforces the queue's limit: a message as big as the step message is refused.
    let too_big = rt.queue().send(&requests, &noise(1, 262_145), Duration::ZERO, None).await;
    assert!(too_big.is_err(), "the endpoint must refuse a message over 256 KiB for this test to mean anything");

    let definition = json!({"StartAt": "Wait for it", "States": {"Wait for it": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": requests, "MessageBody": {"token.$": "$$.Task.Token"}}, "End": true}}});
    let machine = rt.create_machine("big-output", definition, "arn:aws:iam::123456789012:role/stepwise/r", false);
    let machine = machine.await.expect("machine");
    let arn = rt.start_execution(&machine.arn, &common::unique("e"), json!({})).await.expect("start");
    let output = json!({"data": noise(3, 262_000 - 12)}).to_string();
    assert!(output.len() <= 262_144 && output.len() > 261_000, "{}", output.len());
    let done = run(&rt, &arn, Some((&requests, &output))).await;
    let shown: String = done.to_string().chars().take(300).collect();
    assert_eq!(done["status"], "SUCCEEDED", "{shown}");
    assert_eq!(done["output"], serde_json::from_str::<Value>(&output).expect("JSON"));
}

/// A Lambda result over 256 KiB fails its task with `States.DataLimitExceeded`, as on AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_result_over_256_kib_fails_with_data_limit_exceeded() {
    if endpoint().is_none() {
        return;
    }
    let rt = runtime("limits-over").await;
    let definition = json!({"StartAt": "Big", "States": {"Big": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:big", "End": true}}});
    let machine = rt.create_machine("big-result", definition, "arn:aws:iam::123456789012:role/stepwise/r", false);
    let machine = machine.await.expect("machine");
    let arn = rt.start_execution(&machine.arn, &common::unique("e"), json!({"size": 270_000})).await.expect("start");
    let done = run(&rt, &arn, None).await;
    assert_eq!(
        (done["status"].as_str(), done["error"].as_str()),
        (Some("FAILED"), Some("States.DataLimitExceeded")),
        "{done}"
    );
}

/// A Map Run's chunk of child inputs bigger than a DynamoDB item (100 inputs of up to 256 KiB)
/// is kept in parts and read back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_run_inputs_larger_than_an_item_are_kept_in_parts() {
    if endpoint().is_none() {
        return;
    }
    let rt = runtime("limits-items").await;
    let items: Vec<Value> = (0..12).map(|i| json!({"n": i, "blob": noise(i, 100_000)})).collect();
    let text = Value::Array(items).to_string();
    let run_arn = format!("arn:aws:states:us-east-1:123456789012:mapRun:m/{}:r", common::unique("run"));
    rt.store().put_map_items(&run_arn, 0, &text).await.expect("put");
    assert_eq!(rt.store().get_map_items(&run_arn, 0).await.expect("get").as_deref(), Some(text.as_str()));
}

/// A definition near AWS's 1 MiB limit is stored (deflated) and read back whole; one that
/// would not fit in an item even deflated is refused as an invalid definition, not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_near_a_mebibyte_are_stored_or_refused_clearly() {
    if endpoint().is_none() {
        return;
    }
    let rt = runtime("limits-def").await;
    // 900 KB of ordinary definition text: 6,000 Pass states with comments.
    let mut states = serde_json::Map::new();
    for i in 0..6000 {
        let next = if i == 5999 { json!({"End": true}) } else { json!({"Next": format!("Step {}", i + 1)}) };
        let mut st = json!({"Type": "Pass", "Comment": format!("step {i} of the long machine, with a comment")});
        st.as_object_mut().expect("object").extend(next.as_object().expect("object").clone());
        states.insert(format!("Step {i}"), st);
    }
    let definition = json!({"StartAt": "Step 0", "States": states});
    assert!(definition.to_string().len() > 500_000, "{}", definition.to_string().len());
    let role = "arn:aws:iam::123456789012:role/stepwise/r";
    let machine = rt.create_machine("long", definition.clone(), role, false).await.expect("stored");
    let stored = rt.get_machine(&machine.arn).await.expect("read back");
    assert_eq!(stored.definition, definition);
    // Incompressible comments past what an item holds deflated.
    let noisy = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Comment": noise(5, 600_000), "End": true}}});
    let refused = rt.create_machine("noisy", noisy, role, false).await.expect_err("refused");
    assert_eq!(refused.code(), "InvalidDefinition", "{refused}");
}
