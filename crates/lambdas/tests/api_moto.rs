//! The Step Functions API as deployed: the API function (`api_function`, routed `POST /` by
//! the HTTP API) answering AWS JSON 1.0 requests over the DynamoDB and SQS adapters on the
//! local AWS endpoint (moto), with the step driver fed from the SQS step queue the way the event
//! source mapping feeds it (in the background, as the Lambda service would).
//!
//! Covers what a client does through API Gateway: create/describe/list/update/delete state
//! machines, start (idempotent) / describe / history / list / stop executions,
//! StartSyncExecution, a waitForTaskToken round trip with the token read from the history,
//! revisions (an update leaves a running execution on its definition), deletion terminating a
//! running execution with `States.Runtime`, and AWS's error codes.
//!
//! Needs `AWS_ENDPOINT_URL` (the test command starts moto server); without it the test fails
//! when `CI` is set and is skipped with a notice otherwise.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_http::Body;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_aws::{aws_runtime_with, AwsRuntime, AwsSettings};
use stepwise_lambdas::{api_function, step_driver};
use stepwise_runtime::ports::{Queue, STEP_QUEUE};
use stepwise_testkit::aws::fresh_table;
use stepwise_testkit::{endpoint, unique};

const ROLE: &str = "arn:aws:iam::123456789012:role/api";

/// One AWS JSON 1.0 request through the API function: `(status, body)`.
async fn call(rt: &AwsRuntime, op: &str, body: Value) -> (u16, Value) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/apigw-amz-json-send-task-success.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("JSON");
    event["headers"]["x-amz-target"] = format!("AWSStepFunctions.{op}").into();
    event["body"] = body.to_string().into();
    let req = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API request");
    let resp = api_function(rt, req).await;
    assert_eq!(resp.headers()["content-type"], "application/x-amz-json-1.0");
    let text = match resp.body() {
        Body::Text(s) => s.clone(),
        Body::Binary(b) => String::from_utf8(b.clone()).expect("UTF-8"),
        Body::Empty => String::new(),
    };
    (resp.status().as_u16(), serde_json::from_str(&text).unwrap_or_else(|e| panic!("{op}: not JSON ({e}): {text}")))
}

async fn ok(rt: &AwsRuntime, op: &str, body: Value) -> Value {
    let (status, v) = call(rt, op, body).await;
    assert_eq!(status, 200, "{op} failed: {v}");
    v
}

async fn err(rt: &AwsRuntime, op: &str, body: Value) -> String {
    let (status, v) = call(rt, op, body).await;
    assert_eq!(status, 400, "{op} should fail: {v}");
    v["__type"].as_str().unwrap_or_default().to_string()
}

/// DescribeExecution until the execution is not RUNNING.
async fn done(rt: &AwsRuntime, arn: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = ok(rt, "DescribeExecution", json!({"executionArn": arn})).await;
        if d["status"] != "RUNNING" {
            return d;
        }
        assert!(Instant::now() < deadline, "{arn} still running after 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The task token of the execution's TaskScheduled event, from GetExecutionHistory.
async fn token_from_history(rt: &AwsRuntime, arn: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = ok(rt, "GetExecutionHistory", json!({"executionArn": arn})).await;
        let scheduled = h["events"].as_array().into_iter().flatten().find(|e| e["type"] == "TaskScheduled");
        if let Some(e) = scheduled {
            let params: Value =
                serde_json::from_str(e["taskScheduledEventDetails"]["parameters"].as_str().expect("parameters text"))
                    .expect("JSON");
            return params["MessageBody"]["token"].as_str().expect("token").to_string();
        }
        assert!(Instant::now() < deadline, "no TaskScheduled event for {arn}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The deployed stack on a fresh table: the runtime the API function runs on, and the step
/// queue's event source mapping in the background (stop it with the flag, then await it).
async fn deployed(tag: &str) -> (Arc<AwsRuntime>, Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let (sdk, settings) = fresh_table(tag, Duration::from_secs(2)).await;
    let probe = aws_runtime_with(&sdk, &settings);
    let step_url = probe.queue().create_queue(&unique(&format!("{tag}-steps"))).await.expect("step queue");
    let settings = AwsSettings { step_queue_url: Some(step_url), ..settings };
    let runtime = || aws_runtime_with(&sdk, &settings);
    let rt = Arc::new(runtime());
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let (rt, stop) = (Arc::new(runtime()), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(2)).await.expect("receive steps");
                if msgs.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let records = msgs
                    .iter()
                    .map(|m| SqsMessage {
                        message_id: Some(m.id.clone()),
                        receipt_handle: Some(m.receipt.clone()),
                        body: Some(m.body.clone()),
                        ..Default::default()
                    })
                    .collect();
                let resp = step_driver(&*rt, SqsEvent { records }).await;
                let failed: Vec<String> = resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
                for m in msgs.iter().filter(|m| !failed.contains(&m.id)) {
                    rt.queue().ack(STEP_QUEUE, &m.receipt).await.expect("delete");
                }
            }
        })
    };
    (rt, stop, driver)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_functions_api_on_dynamodb_and_sqs() {
    if endpoint().is_none() {
        return;
    }
    let (rt, stop, driver) = deployed("api").await;
    let approvals = rt.queue().create_queue(&unique("api-approvals")).await.expect("approval queue");

    let pass =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "ok", "ResultPath": "$.r", "End": true}}});
    let callback = json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": approvals, "MessageBody": {"token.$": "$$.Task.Token"}}, "End": true}}});
    let wait = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}});
    let name = unique("m").replace('-', "_");

    // State machines.
    let created =
        ok(&rt, "CreateStateMachine", json!({"name": name, "definition": callback.to_string(), "roleArn": ROLE})).await;
    let machine = created["stateMachineArn"].as_str().expect("arn").to_string();
    assert!(created["creationDate"].is_f64(), "{created}");
    let before = ok(&rt, "DescribeStateMachine", json!({"stateMachineArn": machine})).await;
    assert_eq!(serde_json::from_str::<Value>(before["definition"].as_str().expect("text")).expect("JSON"), callback);
    let listed = ok(&rt, "ListStateMachines", json!({})).await;
    assert!(
        listed["stateMachines"].as_array().expect("list").iter().any(|m| m["stateMachineArn"] == machine.as_str()),
        "{listed}"
    );

    // Start (idempotent), the token from the history.
    let start = json!({"stateMachineArn": machine, "name": "old", "input": "{\"k\": 1}"});
    let old = ok(&rt, "StartExecution", start.clone()).await["executionArn"].as_str().expect("arn").to_string();
    assert_eq!(ok(&rt, "StartExecution", start).await["executionArn"], old.as_str());
    let other_input = json!({"stateMachineArn": machine, "name": "old", "input": "{}"});
    assert_eq!(err(&rt, "StartExecution", other_input).await, "ExecutionAlreadyExists");
    let token = token_from_history(&rt, &old).await;
    ok(&rt, "SendTaskHeartbeat", json!({"taskToken": token})).await;

    // Update: the running execution keeps its revision, a new one runs the update.
    let updated =
        ok(&rt, "UpdateStateMachine", json!({"stateMachineArn": machine, "definition": pass.to_string()})).await;
    assert!(before.get("revisionId").is_none(), "no revisionId before the first update: {before}");
    assert!(updated["revisionId"].is_string(), "{updated}");
    let after = ok(&rt, "DescribeStateMachine", json!({"stateMachineArn": machine})).await;
    assert_eq!(after["revisionId"], updated["revisionId"]);
    let new =
        ok(&rt, "StartExecution", json!({"stateMachineArn": machine, "name": "new", "input": "{\"n\": 1}"})).await;
    let new = new["executionArn"].as_str().expect("arn").to_string();
    let d = done(&rt, &new).await;
    assert_eq!((d["status"].as_str(), d["output"].as_str()), (Some("SUCCEEDED"), Some(r#"{"n":1,"r":"ok"}"#)), "{d}");
    let for_old = ok(&rt, "DescribeStateMachineForExecution", json!({"executionArn": old})).await;
    assert!(for_old.get("revisionId").is_none(), "the old execution runs the first revision: {for_old}");
    ok(&rt, "SendTaskSuccess", json!({"taskToken": token, "output": "{\"approved\": true}"})).await;
    let d = done(&rt, &old).await;
    assert_eq!((d["status"].as_str(), d["output"].as_str()), (Some("SUCCEEDED"), Some(r#"{"approved":true}"#)), "{d}");
    assert_eq!(err(&rt, "SendTaskSuccess", json!({"taskToken": token, "output": "{}"})).await, "TaskTimedOut");
    let history =
        ok(&rt, "GetExecutionHistory", json!({"executionArn": old, "reverseOrder": true, "maxResults": 1})).await;
    assert_eq!(history["events"][0]["type"], "ExecutionSucceeded");
    assert!(history["nextToken"].is_string(), "{history}");
    let succeeded = ok(&rt, "ListExecutions", json!({"stateMachineArn": machine, "statusFilter": "SUCCEEDED"})).await;
    assert_eq!(succeeded["executions"].as_array().map(Vec::len), Some(2), "{succeeded}");

    // Stop, and deletion terminating a running execution.
    let doomed_machine = ok(
        &rt,
        "CreateStateMachine",
        json!({"name": format!("{name}_wait"), "definition": wait.to_string(), "roleArn": ROLE}),
    )
    .await;
    let doomed_machine = doomed_machine["stateMachineArn"].as_str().expect("arn").to_string();
    let stopped = ok(&rt, "StartExecution", json!({"stateMachineArn": doomed_machine})).await["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    ok(&rt, "StopExecution", json!({"executionArn": stopped, "error": "Manual"})).await;
    assert_eq!(done(&rt, &stopped).await["status"], "ABORTED");
    let doomed = ok(&rt, "StartExecution", json!({"stateMachineArn": doomed_machine})).await["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    ok(&rt, "DeleteStateMachine", json!({"stateMachineArn": doomed_machine})).await;
    let d = done(&rt, &doomed).await;
    assert_eq!(
        (d["status"].as_str(), d["error"].as_str(), d["cause"].as_str()),
        (Some("FAILED"), Some("States.Runtime"), Some(format!("State machine {name}_wait has been deleted.").as_str())),
        "{d}"
    );
    assert_eq!(
        err(&rt, "DescribeStateMachine", json!({"stateMachineArn": doomed_machine})).await,
        "StateMachineDoesNotExist"
    );
    ok(&rt, "DeleteStateMachine", json!({"stateMachineArn": doomed_machine})).await;

    // StartSyncExecution on an EXPRESS machine, the driver working in the background.
    let express = ok(
        &rt,
        "CreateStateMachine",
        json!({"name": format!("{name}_x"), "definition": pass.to_string(), "roleArn": ROLE, "type": "EXPRESS"}),
    )
    .await;
    let sync =
        ok(&rt, "StartSyncExecution", json!({"stateMachineArn": express["stateMachineArn"], "input": "{\"s\": 1}"}))
            .await;
    assert_eq!(
        (sync["status"].as_str(), sync["output"].as_str()),
        (Some("SUCCEEDED"), Some(r#"{"s":1,"r":"ok"}"#)),
        "{sync}"
    );

    // Errors.
    let missing = format!("{machine}_missing");
    assert_eq!(err(&rt, "DescribeStateMachine", json!({"stateMachineArn": missing})).await, "StateMachineDoesNotExist");
    assert_eq!(
        err(&rt, "DescribeExecution", json!({"executionArn": format!("{old}_missing")})).await,
        "ExecutionDoesNotExist"
    );
    assert_eq!(err(&rt, "UpdateStateMachine", json!({"stateMachineArn": machine})).await, "MissingRequiredParameter");
    assert_eq!(
        err(&rt, "CreateStateMachine", json!({"name": "bad name", "definition": pass.to_string(), "roleArn": ROLE}))
            .await,
        "InvalidName"
    );
    assert_eq!(
        err(&rt, "CreateStateMachine", json!({"name": "x", "definition": "{}", "roleArn": ROLE})).await,
        "InvalidDefinition"
    );
    assert_eq!(err(&rt, "StartExecution", json!({"stateMachineArn": "nope"})).await, "InvalidArn");
    assert_eq!(
        err(&rt, "StartExecution", json!({"stateMachineArn": machine, "input": "{oops"})).await,
        "InvalidExecutionInput"
    );
    assert_eq!(err(&rt, "SendTaskSuccess", json!({"taskToken": "not a token!", "output": "{}"})).await, "InvalidToken");
    assert_eq!(
        err(&rt, "SendTaskSuccess", json!({"taskToken": "A".repeat(32), "output": "{}"})).await,
        "TaskDoesNotExist"
    );
    assert_eq!(
        err(&rt, "SendTaskSuccess", json!({"taskToken": "A".repeat(32), "output": "{no"})).await,
        "InvalidOutput"
    );
    assert_eq!(
        err(&rt, "ListExecutions", json!({"stateMachineArn": machine, "maxResults": 5000})).await,
        "ValidationException"
    );
    assert_eq!(err(&rt, "StartWorkflow", json!({})).await, "UnknownOperationException");
    // TestState through the API function: a mocked Task checked against the service model.
    let answer = ok(
        &rt,
        "TestState",
        json!({"definition": json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f"}, "End": true}).to_string(),
               "mock": {"result": "{\"StatusCode\": 200, \"Payload\": 7}"}}),
    )
    .await;
    assert_eq!(
        (answer["status"].as_str(), answer["output"].as_str()),
        (Some("SUCCEEDED"), Some("{\"StatusCode\":200,\"Payload\":7}"))
    );
    assert_eq!(
        err(&rt, "TestState", json!({"definition": "{\"Type\": \"Task\", \"Resource\": \"arn:aws:states:::lambda:invoke\", \"End\": true}",
            "mock": {"result": "{\"StatusCode\": \"x\"}"}})).await,
        "ValidationException"
    );

    stop.store(true, Ordering::Relaxed);
    driver.await.expect("driver task");
}

/// Nested executions and activities on the AWS adapters, through the API function: a parent's
/// `.sync:2` task waits for its child (woken by the child's end), and an activity task is taken
/// by a worker with GetActivityTask and answered with SendTaskSuccess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_executions_and_activities_on_dynamodb_and_sqs() {
    if endpoint().is_none() {
        return;
    }
    let (rt, stop, driver) = deployed("nested").await;
    let name = |n: &str| unique(n).replace('-', "_");
    let create = |n: String, def: Value| {
        let rt = rt.clone();
        async move {
            let v =
                ok(&rt, "CreateStateMachine", json!({"name": n, "definition": def.to_string(), "roleArn": ROLE})).await;
            v["stateMachineArn"].as_str().expect("arn").to_string()
        }
    };
    let activity = ok(&rt, "CreateActivity", json!({"name": name("work")})).await["activityArn"]
        .as_str()
        .expect("activityArn")
        .to_string();
    let child = create(
        name("child"),
        json!({"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": activity, "End": true}}}),
    )
    .await;
    // A table and an object on the endpoint, for the parent's DynamoDB and S3 tasks.
    let aws =
        stepwise_sdk::SdkClient::new(stepwise_sdk::Settings::for_endpoint(&endpoint().expect("endpoint"), "us-east-1"));
    let (table, bucket) = (unique("orders"), unique("inputs"));
    let made = |service: &'static str, action: &'static str, input: Value| {
        let aws = &aws;
        async move { aws.call(service, action, &input, None).await.expect("sent").expect("accepted").0 }
    };
    made(
        "dynamodb",
        "createTable",
        json!({"TableName": table, "BillingMode": "PAY_PER_REQUEST",
               "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
               "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}),
    )
    .await;
    made("s3", "createBucket", json!({"Bucket": bucket})).await;
    made("s3", "putObject", json!({"Bucket": bucket, "Key": "order.json", "Body": "{\"n\": 21}"})).await;
    let parent = create(
        name("parent"),
        json!({"StartAt": "Save", "States": {
            "Save": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"id": {"S": "o-1"}, "state": {"S": "started"}}},
                "ResultPath": null, "Next": "Read"},
            "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": bucket, "Key": "order.json"},
                "ResultSelector": {"order.$": "States.StringToJson($.Body)"}, "Next": "Run"},
            "Run": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child, "Input.$": "$.order"}, "End": true}}}),
    )
    .await;
    let run = ok(&rt, "StartExecution", json!({"stateMachineArn": parent, "input": "{}"})).await;
    let run = run["executionArn"].as_str().expect("arn").to_string();

    // The worker: polls until the child schedules its task, answers it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let task = loop {
        let t = ok(&rt, "GetActivityTask", json!({"activityArn": activity, "workerName": "moto-worker"})).await;
        if t.get("taskToken").is_some() {
            break t;
        }
        assert!(Instant::now() < deadline, "no activity task");
    };
    let input: Value = serde_json::from_str(task["input"].as_str().expect("input")).expect("JSON");
    assert_eq!(input, json!({"n": 21}));
    let output = json!({"doubled": 42}).to_string();
    ok(&rt, "SendTaskSuccess", json!({"taskToken": task["taskToken"], "output": output})).await;

    let d = done(&rt, &run).await;
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let out: Value = serde_json::from_str(d["output"].as_str().expect("output")).expect("JSON");
    assert_eq!((out["Status"].as_str(), &out["Output"]), (Some("SUCCEEDED"), &json!({"doubled": 42})), "{out}");
    let item = made("dynamodb", "getItem", json!({"TableName": table, "Key": {"id": {"S": "o-1"}}})).await;
    assert_eq!(item["Item"]["state"], json!({"S": "started"}), "the putItem task wrote the item: {item}");
    let kid = out["ExecutionArn"].as_str().expect("child arn");
    let h = ok(&rt, "GetExecutionHistory", json!({"executionArn": kid})).await;
    let types: Vec<&str> = h["events"].as_array().expect("events").iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    ok(&rt, "DeleteActivity", json!({"activityArn": activity})).await;
    assert_eq!(err(&rt, "DescribeActivity", json!({"activityArn": activity})).await, "ActivityDoesNotExist");

    stop.store(true, Ordering::Relaxed);
    driver.await.expect("driver task");
}
