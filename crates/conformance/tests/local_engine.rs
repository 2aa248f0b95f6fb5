//! End to end through the real interpreter: the glue, the Python invoker and the comparison.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use stepwise_conformance::case::parse_cases;
use stepwise_conformance::{run_cases, Corpus, Filter, LocalEngine, RunnerOptions};

#[test]
fn pass_and_lambda_cases_run_through_the_interpreter() {
    let ctx = json!({"account": "111111111111", "region": "us-east-1", "state_machine_type": "STANDARD",
                     "state_machine_name": "sm_0001", "execution_name": "exec_0002", "start_api": "start_execution"});
    let arn = "arn:aws:lambda:us-east-1:111111111111:function:fn_0003";
    let lines = [
        json!({
            "id": "pass", "family": "pass/io", "self_contained": true, "exact_comparable": true,
            "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "End": true}}},
            "input": {}, "expected": {"status": "SUCCEEDED", "output": {"x": 1.0}},
            "history_types": ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"],
            "context": ctx
        }),
        json!({
            "id": "lambda", "family": "task/services", "self_contained": true, "exact_comparable": true,
            "definition": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": true}}},
            "input": {"a": [1, "b"]}, "expected": {"status": "SUCCEEDED", "output": {"a": [1, "b"]}},
            "lambda_functions": {arn: {"function_name": "fn_0003", "handler_file": "id_function.py",
                                       "code": "def handler(event, context):\n    return event\n"}},
            "context": ctx
        }),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let (cases, errors) = parse_cases(text.as_bytes(), Path::new("cases.jsonl"));
    assert!(errors.is_empty());
    let corpus = Corpus { cases, ..Corpus::default() };
    let mut out = Vec::new();
    let s = run_cases(&corpus, &Filter::default(), &RunnerOptions::default(), Arc::new(LocalEngine), &mut out);
    let report = String::from_utf8(out).unwrap();
    assert_eq!((s.passed, s.failed), (2, 0), "{report}");
    assert_eq!((s.history_matched, s.history_total), (1, 1), "{report}");
}
