//! What counts as a JSONata expression string: exactly `{%` ... `%}`, with nothing around
//! (AWS's documented syntax `"{% <JSONata expression> %}"`; AWS ran `" {% states.input %} "` as
//! a literal in the recorded corpus). Validation and evaluation decide by the same predicate,
//! `jsonata::is_expression`, so a string validation accepts as a literal is run as one.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use stepwise_asl::jsonata::{is_expression, opens_expression};
use stepwise_asl::stepper::{self, Env, Event, ExecutionInfo, Status};
use stepwise_asl::validate::{validate, ValidateOptions};

struct FixedEnv;
impl Env for FixedEnv {
    fn now(&mut self) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()
    }
    fn random(&mut self) -> u64 {
        4
    }
}

fn pass_with_output(output: Value) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": output, "End": true}}})
}

fn diagnostics(def: &Value) -> Vec<String> {
    validate(def, &ValidateOptions::default()).iter().map(std::string::ToString::to_string).collect()
}

/// Runs a one-Pass-state machine to its output.
fn output_of(def: &Value) -> Value {
    let m = stepwise_asl::load(def, false).expect("valid");
    let info = ExecutionInfo::new("123456789012", "us-east-1", "M", "e", "arn:aws:iam::123456789012:role/r", false);
    let mut env = FixedEnv;
    let x = stepper::new_execution(info, json!({}), env.now());
    let t = stepper::step(&m, x, Event::Start, &mut env);
    let t = stepper::step(&m, t.execution, Event::Advance { frame: 0, timer: None }, &mut env);
    match t.execution.status {
        Status::Succeeded { output } => output,
        other => panic!("not succeeded: {other:?}"),
    }
}

#[test]
fn an_expression_begins_with_the_opening_and_ends_with_the_closing_mark_exactly() {
    assert!(is_expression("{% 1 %}"));
    assert!(is_expression("{%1%}"));
    assert!(!is_expression(" {% 1 %}"));
    assert!(!is_expression("{% 1 %} "));
    assert!(!is_expression(" {% 1 %} "));
    assert!(!is_expression("{%}"));
    assert!(opens_expression("{% 1 "));
    assert!(!opens_expression(" {% 1 %}"));
}

#[test]
fn strings_with_whitespace_around_the_marks_are_literals_in_validation_and_evaluation() {
    let def = pass_with_output(json!({"spaced": " {% 1 %} ", "leading": " {% 1", "expr": "{% 1 + 1 %}"}));
    assert_eq!(diagnostics(&def), Vec::<String>::new());
    assert_eq!(output_of(&def), json!({"spaced": " {% 1 %} ", "leading": " {% 1", "expr": 2}));
}

#[test]
fn a_string_that_opens_an_expression_without_closing_it_is_rejected() {
    let d = diagnostics(&pass_with_output(json!({"a": "{% 1 "})));
    assert!(d.iter().any(|m| m.contains("JSONata string must start with {% and end with %}")), "{d:?}");
}
