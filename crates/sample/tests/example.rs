//! The stock-trading example (`examples/stock-trading`) with this crate's handlers.

use serde_json::{json, Map, Value};
use stepwise_asl::integrations::{Call, CallResult, FunctionOutcome, Services};
use stepwise_asl::local::{run, RunOptions};
use stepwise_asl::stepper::ExecutionStatus;

const DEFINITION: &str = include_str!("../../../examples/stock-trading/definition.asl.json");
const BINDINGS: &str = include_str!("../../../examples/stock-trading/bindings.json");
const FUNCTIONS: &str = include_str!("../../../examples/stock-trading/functions.json");
const INPUT: &str = include_str!("../../../examples/stock-trading/input.json");

fn bindings() -> Map<String, Value> {
    match serde_json::from_str(BINDINGS) {
        Ok(Value::Object(m)) => m,
        other => panic!("bindings.json is not an object: {other:?}"),
    }
}

fn definition() -> Value {
    let text = stepwise_sample::substitute(DEFINITION, &bindings()).expect("every variable is bound");
    assert!(!text.contains("${"), "{text}");
    serde_json::from_str(&text).expect("the substituted definition is JSON")
}

#[test]
fn example_definition_substitutes_parses_and_validates() {
    let def = definition();
    stepwise_asl::load(&def, false).expect("a valid state machine");
    let states = def["States"].as_object().expect("States");
    let names: Vec<&str> = states.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "Check Stock Price",
            "Generate Buy/Sell recommendation",
            "Request Human Approval",
            "Buy or Sell?",
            "Buy Stock",
            "Sell Stock",
            "Report Result"
        ]
    );
    assert_eq!(
        states["Check Stock Price"]["Resource"],
        json!("arn:aws:lambda:us-east-1:123456789012:function:CheckStockPrice")
    );
    assert_eq!(
        states["Report Result"]["Parameters"]["TopicArn"],
        json!("arn:aws:sns:us-east-1:123456789012:ReportResultTopic")
    );
}

#[test]
fn every_binding_is_used_and_every_variable_bound() {
    let b = bindings();
    for name in b.keys() {
        assert!(DEFINITION.contains(&format!("${{{name}}}")), "binding {name} is unused");
    }
    let mut without = b.clone();
    without.remove("SellStockFunctionArn");
    assert_eq!(
        stepwise_sample::substitute(DEFINITION, &without),
        Err("the variable 'SellStockFunctionArn' is not bound".to_string())
    );
}

#[test]
fn example_functions_file_names_registered_handlers() {
    let v: Value = serde_json::from_str(FUNCTIONS).expect("functions.json is JSON");
    let functions = v["functions"].as_object().expect("a functions object");
    assert_eq!(functions.len(), 4);
    for (name, spec) in functions {
        let rust = spec["rust"].as_str().expect("a rust handler");
        assert!(stepwise_sample::handler(rust).is_some(), "{name} -> {rust}");
    }
    assert_eq!(serde_json::from_str::<Value>(INPUT).ok(), Some(json!({})));
}

/// Lambda tasks go to the sample's handlers; SQS messages are kept.
#[derive(Default)]
struct Sample {
    messages: Vec<(String, String)>,
}

impl Sample {
    fn invoke(&mut self, function: &str, payload: &Value) -> FunctionOutcome {
        let name = function.rsplit(':').next().unwrap_or(function);
        match stepwise_sample::handler(name) {
            None => FunctionOutcome::NotFound,
            Some(h) => match h(payload.clone()) {
                Ok(v) => FunctionOutcome::Ok(v),
                Err(e) => FunctionOutcome::Error {
                    payload: json!({"errorType": e.error_type, "errorMessage": e.error_message}),
                    error_type: e.error_type,
                    error_message: e.error_message,
                },
            },
        }
    }
}

impl Services for Sample {
    async fn call(&mut self, call: &Call) -> CallResult {
        match call {
            Call::Invoke { function, payload, .. } => CallResult::Function(self.invoke(function, payload)),
            Call::SendMessage { queue_url, body, .. } => {
                self.messages.push((queue_url.clone(), body.clone()));
                CallResult::Delivered(Ok(None))
            }
            Call::Publish { .. } => CallResult::Delivered(Ok(None)),
            Call::StartExecution { .. } => stepwise_asl::integrations::states::not_supported_here(),
            Call::ScheduleActivity { .. } => stepwise_asl::integrations::activities_not_here(),
            Call::Aws(call) => stepwise_asl::integrations::no_aws(call),
            Call::Done(_) => CallResult::Nothing,
        }
    }
}

#[test]
fn example_runs_to_the_approval_request() {
    let mut sample = Sample::default();
    let input: Value = serde_json::from_str(INPUT).expect("input.json is JSON");
    let opts = RunOptions { time_scale: 0.0, ..RunOptions::default() };
    let result = futures_executor::block_on(run(&definition(), input, &opts, &mut sample)).expect("runs");
    // In memory nobody sends the task token back: the execution waits for it.
    assert_eq!(result.status, ExecutionStatus::Running, "{result:?}");
    let [(queue, body)] = sample.messages.as_slice() else { panic!("one approval request: {:?}", sample.messages) };
    assert_eq!(queue, "https://sqs.us-east-1.amazonaws.com/123456789012/RequestHumanApprovalQueue");
    let token = stepwise_sample::approval_token(body).expect("the request carries a task token");
    assert!(!token.is_empty());
    let request: Value = serde_json::from_str(body).expect("JSON body");
    let price = request["Input"]["stock_price"].as_u64().expect("the checked price");
    assert!((1..=100).contains(&price));
    let want = if price <= 50 { "buy" } else { "sell" };
    assert_eq!(request["Input"]["recommended_type"], json!(want));
}
