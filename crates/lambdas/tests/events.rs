//! Every file in `events/` is an event its function can take: it parses as the function's event
//! type, serializes, and parses back to the same value; the bodies inside parse as what the
//! handlers read.

mod common;

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use common::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Debug;
use stepwise_lambdas::{SqsEvent, StartEvent, StartExecutionInput};
use stepwise_runtime::ports::StepMessage;

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + Debug>(name: &str) -> T {
    let parsed: T = serde_json::from_str(&event_text(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"));
    let text = serde_json::to_string(&parsed).expect("serializes");
    let again: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{name} re-serialized: {e}\n{text}"));
    assert_eq!(parsed, again, "events/{name}");
    parsed
}

#[test]
fn every_event_file_round_trips() {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("events"))
        .expect("events/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 9, "{names:?}");
    for name in &names {
        if name.starts_with("sqs-") {
            let event: SqsEvent = round_trip(name);
            assert!(!event.records.is_empty(), "{name}");
            for r in &event.records {
                assert!(r.message_id.is_some() && r.body.is_some(), "{name}");
                assert_eq!(r.event_source.as_deref(), Some("aws:sqs"), "{name}");
            }
            assert!(matches!(StartEvent::parse(event_json(name)), Ok(StartEvent::Sqs(_))), "{name}");
        } else if name.starts_with("apigw-") {
            let req: ApiGatewayV2httpRequest = round_trip(name);
            assert_eq!(req.version.as_deref(), Some("2.0"), "{name}");
            assert!(req.request_context.authorizer.as_ref().and_then(|a| a.iam.as_ref()).is_some(), "{name}: IAM auth");
            let http = http_request(name);
            assert_eq!(http.method(), "POST", "{name}");
            assert!(matches!(StartEvent::parse(event_json(name)), Ok(StartEvent::Http(_))), "{name}");
            let body: Value = serde_json::from_str(req.body.as_deref().expect("a body")).expect("a JSON body");
            assert!(body.is_object(), "{name}");
        } else {
            let v: Value = round_trip(name);
            assert!(v.is_object(), "{name}");
        }
    }
}

#[test]
fn the_bodies_are_what_the_handlers_read() {
    let step = sqs_event("sqs-step-message.json");
    let msg: StepMessage =
        serde_json::from_str(step.records[0].body.as_deref().expect("body")).expect("a step message");
    assert!(msg.execution_arn.starts_with("arn:aws:states:us-east-1:123456789012:execution:StockTrading:"));

    let approval = sqs_event("sqs-approval.json");
    let token = stepwise_sample::approval_token(approval.records[0].body.as_deref().expect("body")).expect("a token");
    assert!(token.len() >= 22);

    let start = sqs_event("sqs-start-execution.json");
    let req: StartExecutionInput =
        serde_json::from_str(start.records[0].body.as_deref().expect("body")).expect("a request");
    assert_eq!(req.state_machine_arn.as_deref(), Some(MACHINE_ARN));

    let http = event_json("apigw-start-execution.json");
    let req: StartExecutionInput = serde_json::from_str(http["body"].as_str().expect("body")).expect("a request");
    assert_eq!(req.state_machine_arn.as_deref(), Some(MACHINE_ARN));
    let success = event_json("apigw-send-task-success.json");
    let body: Value = serde_json::from_str(success["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["taskToken"].as_str(), Some(token.as_str()));
    assert_eq!(body["output"], "\"approved\"");
}
