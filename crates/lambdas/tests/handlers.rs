//! The handlers on the events of `events/`, over the embedded adapters: what each function
//! does when Lambda hands it that event.

mod common;

use common::*;
use lambda_http::Body;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use stepwise_lambdas::*;
use stepwise_runtime::ports::{Queue, Store, STEP_QUEUE};
use stepwise_runtime::FaultPoint;

fn response_json(resp: &lambda_http::Response<Body>) -> Value {
    let text = match resp.body() {
        Body::Text(s) => s.clone(),
        Body::Binary(b) => String::from_utf8(b.clone()).expect("UTF-8"),
        Body::Empty => String::new(),
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn failed_ids(resp: &SqsBatchResponse) -> Vec<String> {
    resp.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

// ---------- the whole sample, through the handlers ----------

#[tokio::test]
async fn the_sample_runs_end_to_end_through_the_handlers() {
    let (rt, e) = runtime_with_machine().await;
    // Start over the HTTP API.
    let resp = start_execution_http(&rt, http_request("apigw-start-execution.json")).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.body());
    let body = response_json(&resp);
    let arn = body["executionArn"].as_str().expect("executionArn").to_string();
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:execution:StockTrading:from-api-gateway");
    assert!(body["startDate"].as_f64().is_some_and(|d| d > 1.7e9), "{body}");
    assert_eq!(rt.describe(&arn).await.expect("exists").execution.input, json!({"comment": "started over HTTP"}));

    // The step driver runs it to the approval request.
    assert!(drive(&rt).await >= 3);
    assert_eq!(status(&rt, &arn).await, "RUNNING");
    let msgs = rt.queue().receive(APPROVAL_QUEUE, 10, Duration::from_secs(60)).await.expect("receive");
    assert_eq!(msgs.len(), 1);
    let request: Value = serde_json::from_str(&msgs[0].body).expect("JSON");
    assert!(request["Input"]["stock_price"].is_number(), "{request}");

    // The approval callback gets the event SQS would send (the fixture, with this message).
    let mut event = sqs_event("sqs-approval.json");
    event.records[0].body = Some(msgs[0].body.clone());
    let resp = approval_callback(&rt, event).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");

    drive(&rt).await;
    assert_eq!(status(&rt, &arn).await, "SUCCEEDED");
    let published = e.topics.list(TOPIC_ARN).expect("topic");
    assert_eq!(published.len(), 1, "one report");
}

// ---------- step driver ----------

#[tokio::test]
async fn step_driver_reports_only_the_records_that_failed() {
    let (rt, _e) = runtime_with_machine().await;
    let arn = rt.start_execution(MACHINE_ARN, "partial", json!({})).await.expect("started");
    let start = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(60)).await.expect("receive");
    assert_eq!(start.len(), 1);
    // The fixture: a Start message for an execution this store does not have (a no-op, not a
    // failure).
    let fixture = sqs_event("sqs-step-message.json").records.remove(0);
    let event = SqsEvent {
        records: vec![
            record(&start[0]),
            record_with("bad-1", "not JSON at all"),
            fixture.clone(),
            record_with("bad-2", r#"{"execution_arn": 7, "event": "Start"}"#),
            record_with("bad-3", ""),
        ],
    };
    let resp = step_driver(&rt, event).await;
    assert_eq!(failed_ids(&resp), ["bad-1", "bad-2", "bad-3"]);
    // The good record was one transition (the first state, its Lambda task done in the same
    // step), which sent the next step.
    let history = rt.store().history(&arn).await.expect("history");
    let types: Vec<String> = history.iter().map(|h| h.event_type.to_string()).collect();
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("TaskStateExited"), "{types:?}");
    assert_eq!(types.iter().filter(|t| t.ends_with("StateEntered")).count(), 1, "{types:?}");
    assert_eq!(status(&rt, &arn).await, "RUNNING");
    let next = rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(60)).await.expect("receive");
    assert_eq!(next.len(), 1, "{next:?}");
}

#[tokio::test]
async fn step_driver_reports_a_record_whose_transition_failed() {
    let (rt, e) = runtime_with_machine().await;
    let doomed = "arn:aws:states:us-east-1:123456789012:execution:StockTrading:doomed";
    let rt = rt.with_faults(Arc::new(move |arn: &str, point| arn == doomed && point == FaultPoint::AfterLoad));
    rt.start_execution(MACHINE_ARN, "doomed", json!({})).await.expect("started");
    rt.start_execution(MACHINE_ARN, "fine", json!({})).await.expect("started");
    let msgs = e.queue.receive(STEP_QUEUE, 10, Duration::from_secs(60)).await.expect("receive");
    assert_eq!(msgs.len(), 2);
    let doomed_id = msgs.iter().find(|m| m.body.contains(":doomed")).expect("doomed message").id.clone();
    let resp = step_driver(&rt, SqsEvent { records: msgs.iter().map(record).collect() }).await;
    assert_eq!(failed_ids(&resp), [doomed_id]);
}

// ---------- approval callback ----------

#[tokio::test]
async fn approval_callback_drops_late_and_unknown_tokens_and_retries_bad_messages() {
    let (rt, _e) = runtime_with_machine().await;
    let (arn, approval) = waiting_execution(&rt, "approvals").await;
    let fixture = sqs_event("sqs-approval.json").records.remove(0); // a token this store never issued
    let event = SqsEvent {
        records: vec![
            record(&approval),
            // The same request delivered twice: the token is used up (TaskTimedOut), dropped.
            SqsMessage { message_id: Some("duplicate".into()), ..record(&approval) },
            fixture.clone(),
            record_with("no-token", r#"{"Input": {}}"#),
            record_with("not-json", "approve please"),
        ],
    };
    let resp = approval_callback(&rt, event).await;
    assert_eq!(failed_ids(&resp), ["no-token", "not-json"]);
    drive(&rt).await;
    assert_eq!(status(&rt, &arn).await, "SUCCEEDED");
}

// ---------- the API function ----------

async fn completer(rt: &Rt, fixture: &str, body: Value) -> (u16, Value) {
    let resp = api_function(rt, http_request_with_body(fixture, &body)).await;
    (resp.status().as_u16(), response_json(&resp))
}

#[tokio::test]
async fn api_function_answers_with_step_functions_error_codes() {
    let (rt, _e) = runtime_with_machine().await;
    let (arn, approval) = waiting_execution(&rt, "completer").await;
    let token = token_of(&approval);

    // The fixture's token was never issued here.
    let resp = api_function(&rt, http_request("apigw-send-task-success.json")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = response_json(&resp);
    assert_eq!(body["__type"], "TaskDoesNotExist", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.starts_with("TaskDoesNotExist")), "{body}");

    let cases = [
        ("apigw-send-task-success.json", json!({"taskToken": "not a token!", "output": "{}"}), "InvalidToken"),
        ("apigw-send-task-success.json", json!({"taskToken": token, "output": "not JSON"}), "InvalidOutput"),
        ("apigw-send-task-success.json", json!({"output": "{}"}), "ValidationException"),
        ("apigw-send-task-success.json", json!({"taskToken": token}), "ValidationException"),
        (
            "apigw-send-task-success.json",
            json!({"taskToken": token, "output": {"not": "a string"}}),
            "SerializationException",
        ),
        ("apigw-send-task-heartbeat.json", json!({"taskToken": "short"}), "InvalidToken"),
        ("apigw-send-task-failure.json", json!({"taskToken": token, "error": "e".repeat(257)}), "ValidationException"),
    ];
    for (fixture, body, code) in cases {
        let (status, answer) = completer(&rt, fixture, body.clone()).await;
        assert_eq!((status, answer["__type"].as_str()), (400, Some(code)), "{fixture} {body}: {answer}");
    }
    let mut req = http_request("apigw-send-task-success.json");
    *req.body_mut() = Body::Text("{not json".into());
    let resp = api_function(&rt, req).await;
    assert_eq!(
        (resp.status().as_u16(), response_json(&resp)["__type"].clone()),
        (400, json!("SerializationException"))
    );

    // A heartbeat for the waiting task is fine; then SendTaskSuccess completes it.
    assert_eq!(completer(&rt, "apigw-send-task-heartbeat.json", json!({"taskToken": token})).await, (200, json!({})));
    assert_eq!(
        completer(&rt, "apigw-send-task-success.json", json!({"taskToken": token, "output": "\"approved\""})).await,
        (200, json!({}))
    );
    // The token is used up.
    let (status_code, answer) =
        completer(&rt, "apigw-send-task-success.json", json!({"taskToken": token, "output": "{}"})).await;
    assert_eq!((status_code, answer["__type"].as_str()), (400, Some("TaskTimedOut")), "{answer}");
    drive(&rt).await;
    assert_eq!(status(&rt, &arn).await, "SUCCEEDED");
}

#[tokio::test]
async fn api_function_fails_a_task_and_speaks_aws_json() {
    let (rt, _e) = runtime_with_machine().await;
    let (arn, approval) = waiting_execution(&rt, "rejected").await;
    let token = token_of(&approval);
    let body = json!({"taskToken": token, "error": "Rejected", "cause": "not approved"});
    assert_eq!(completer(&rt, "apigw-send-task-failure.json", body).await, (200, json!({})));
    drive(&rt).await;
    let stored = rt.describe(&arn).await.expect("exists");
    assert_eq!(
        serde_json::to_value(&stored.execution.status).expect("JSON"),
        json!({"status": "FAILED", "error": "Rejected", "cause": "not approved"})
    );

    // AWS JSON 1.0: POST / with X-Amz-Target; the fixture's token is unknown.
    let resp = api_function(&rt, http_request("apigw-amz-json-send-task-success.json")).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/x-amz-json-1.0");
    assert_eq!(response_json(&resp)["__type"], "TaskDoesNotExist");
    let mut req = http_request("apigw-amz-json-send-task-success.json");
    req.headers_mut().insert("x-amz-target", "AWSStepFunctions.StartWorkflow".parse().expect("header"));
    let resp = api_function(&rt, req).await;
    assert_eq!(
        (resp.status().as_u16(), response_json(&resp)["__type"].clone()),
        (400, json!("UnknownOperationException"))
    );

    // An unknown path, and a GET.
    let mut v = event_json("apigw-send-task-success.json");
    v["rawPath"] = json!("/describe-execution");
    let resp = api_function(&rt, lambda_http::request::from_str(&v.to_string()).expect("request")).await;
    assert_eq!(
        (resp.status().as_u16(), response_json(&resp)["__type"].clone()),
        (404, json!("UnknownOperationException"))
    );
    let mut v = event_json("apigw-send-task-success.json");
    v["requestContext"]["http"]["method"] = json!("GET");
    let resp = api_function(&rt, lambda_http::request::from_str(&v.to_string()).expect("request")).await;
    assert_eq!(resp.status(), 405);
}

// ---------- start execution ----------

#[tokio::test]
async fn start_execution_over_http_is_idempotent_for_the_same_input() {
    let (rt, _e) = runtime_with_machine().await;
    let first = response_json(&start_execution_http(&rt, http_request("apigw-start-execution.json")).await);
    let again = start_execution_http(&rt, http_request("apigw-start-execution.json")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(response_json(&again), first, "the same execution");

    let mut body: Value =
        serde_json::from_str(event_json("apigw-start-execution.json")["body"].as_str().expect("body")).expect("JSON");
    body["input"] = json!("{\"other\": true}");
    let resp = start_execution_http(&rt, http_request_with_body("apigw-start-execution.json", &body)).await;
    assert_eq!(
        (resp.status().as_u16(), response_json(&resp)["__type"].clone()),
        (400, json!("ExecutionAlreadyExists"))
    );

    // No name: a UUID; an object input is taken as it is.
    let resp = start_execution_http(
        &rt,
        http_request_with_body(
            "apigw-start-execution.json",
            &json!({"stateMachineArn": MACHINE_ARN, "input": {"a": 1}}),
        ),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let arn = response_json(&resp)["executionArn"].as_str().expect("arn").to_string();
    let name = arn.rsplit(':').next().expect("name");
    assert_eq!(name.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{arn}");
    assert_eq!(rt.describe(&arn).await.expect("exists").execution.input, json!({"a": 1}));

    let cases = [
        (
            json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Nope"}),
            "StateMachineDoesNotExist",
        ),
        (json!({"name": "x"}), "ValidationException"),
        (json!({"stateMachineArn": MACHINE_ARN, "name": "has space"}), "InvalidName"),
        (json!({"stateMachineArn": MACHINE_ARN, "input": "{broken"}), "InvalidExecutionInput"),
    ];
    for (body, code) in cases {
        let resp = start_execution_http(&rt, http_request_with_body("apigw-start-execution.json", &body)).await;
        let answer = response_json(&resp);
        assert_eq!((resp.status().as_u16(), answer["__type"].as_str()), (400, Some(code)), "{body}: {answer}");
    }
    // The start function serves StartExecution only.
    let resp = start_execution_http(&rt, http_request("apigw-send-task-success.json")).await;
    assert_eq!(
        (resp.status().as_u16(), response_json(&resp)["__type"].clone()),
        (400, json!("UnknownOperationException"))
    );
}

#[tokio::test]
async fn start_execution_over_sqs_names_executions_by_message_id() {
    let (rt, _e) = runtime_with_machine().await;
    let event = sqs_event("sqs-start-execution.json");
    let id = event.records[0].message_id.clone().expect("id");
    let resp = start_execution_sqs(&rt, event.clone()).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let arn = format!("arn:aws:states:us-east-1:123456789012:execution:StockTrading:{id}");
    assert_eq!(rt.describe(&arn).await.expect("started").execution.input, json!({"comment": "started from SQS"}));
    // Redelivered: nothing new, no failure.
    let resp = start_execution_sqs(&rt, event).await;
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    assert_eq!(rt.store().all_executions().await.expect("list").len(), 1);

    let bad = SqsEvent {
        records: vec![
            record_with("not-json", "start it"),
            record_with("no-machine", r#"{"name": "x"}"#),
            record_with("fine", &json!({"stateMachineArn": MACHINE_ARN, "name": "named"}).to_string()),
        ],
    };
    assert_eq!(failed_ids(&start_execution_sqs(&rt, bad).await), ["not-json", "no-machine"]);
    assert_eq!(status(&rt, "arn:aws:states:us-east-1:123456789012:execution:StockTrading:named").await, "RUNNING");
}

#[tokio::test]
async fn the_start_execution_function_tells_sqs_from_http() {
    let (rt, _e) = runtime_with_machine().await;
    let sqs = start_execution_event(&rt, event_json("sqs-start-execution.json")).await.expect("handled");
    assert_eq!(serde_json::to_value(&sqs).expect("JSON"), json!({"batchItemFailures": []}));
    let http = start_execution_event(&rt, event_json("apigw-start-execution.json")).await.expect("handled");
    let v = serde_json::to_value(&http).expect("JSON");
    assert_eq!(v["statusCode"], 200, "{v}");
    assert_eq!(v["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(v["body"].as_str().expect("a text body")).expect("JSON");
    assert_eq!(body["executionArn"], "arn:aws:states:us-east-1:123456789012:execution:StockTrading:from-api-gateway");
    let err = start_execution_event(&rt, json!({"hello": "world"})).await.expect_err("unknown event");
    assert_eq!(err.error_type, "InvalidEvent");
}

#[tokio::test]
async fn the_machine_comes_from_the_environment() {
    let none = MachineEnv::from_vars(|_| None).expect("no error");
    assert!(none.is_none());
    let bad = MachineEnv::from_vars(|k| Some(if k == "STEPWISE_MACHINE_DEFINITION" { "{".into() } else { "X".into() }));
    assert_eq!(bad.expect_err("not JSON").code(), "InvalidDefinition");
    let (rt, _e) = runtime();
    let invalid = MachineEnv::from_vars(|k| match k {
        "STEPWISE_MACHINE_NAME" => Some("Broken".into()),
        "STEPWISE_MACHINE_DEFINITION" => Some(r#"{"StartAt": "Nowhere", "States": {}}"#.into()),
        _ => None,
    })
    .expect("JSON")
    .expect("a machine");
    assert_eq!(invalid.register(&rt).await.expect_err("invalid").code(), "InvalidDefinition");
    let express = MachineEnv::from_vars(|k| match k {
        "STEPWISE_MACHINE_NAME" => Some("Quick".into()),
        "STEPWISE_MACHINE_DEFINITION" => {
            Some(r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#.into())
        }
        "STEPWISE_MACHINE_TYPE" => Some("EXPRESS".into()),
        "STEPWISE_MACHINE_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/quick".into()),
        _ => None,
    })
    .expect("JSON")
    .expect("a machine");
    let m = express.register(&rt).await.expect("registered");
    assert!(m.express);
    assert_eq!(m.role_arn, "arn:aws:iam::123456789012:role/quick");
}

// ---------- the sample's functions ----------

fn lambda_event(name: &str) -> LambdaEvent<Value> {
    LambdaEvent::new(event_json(name), Context::default())
}

#[tokio::test]
async fn the_sample_functions_answer_their_events() {
    let price = check_stock_price(lambda_event("check-stock-price.json")).await.expect("a price");
    assert!(price["stock_price"].as_u64().is_some_and(|p| (1..=100).contains(&p)), "{price}");
    assert_eq!(
        generate_buy_sell_recommendation(lambda_event("generate-buy-sell-recommendation.json")).await.ok(),
        Some(json!("buy"))
    );
    let bought = buy_stock(lambda_event("buy-stock.json")).await.expect("bought");
    assert_eq!((bought["type"].clone(), bought["price"].clone()), (json!("buy"), json!(42)));
    let sold = sell_stock(lambda_event("sell-stock.json")).await.expect("sold");
    assert_eq!((sold["type"].clone(), sold["price"].clone()), (json!("sell"), json!(73)));
}

#[tokio::test]
async fn sample_errors_are_lambda_errors_with_the_handlers_error_type() {
    let err =
        generate_buy_sell_recommendation(LambdaEvent::new(json!({}), Context::default())).await.expect_err("no price");
    assert_eq!(err.error_type, stepwise_sample::INVALID_EVENT);
    assert_eq!(err.error_message, "the event has no 'stock_price'");
    let err =
        sell_stock(LambdaEvent::new(json!({"stock_price": "12"}), Context::default())).await.expect_err("a string");
    assert_eq!(err.error_type, "InvalidEvent");
    // As Lambda reports it.
    assert_eq!(
        serde_json::to_value(&err).expect("JSON"),
        json!({"errorType": "InvalidEvent", "errorMessage": "'stock_price' must be a number, got a string"})
    );
}
