//! Workflow variable limits: one variable's value and one Assign's variables together are at
//! most 256 KiB; past that the state fails with States.Runtime (which no Catch takes).

use serde_json::{json, Value};
use stepwise_asl::local::{run, NoFunctions, RunOptions};
use stepwise_asl::stepper::ExecutionStatus;

fn run_assign(assign: Value) -> stepwise_asl::local::RunResult {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": assign, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"seen.$": "States.ArrayLength(States.StringSplit($big, 'x'))"}, "End": true}}});
    let input = json!({"s": "y".repeat(150_000)});
    futures_executor::block_on(run(
        &def,
        input,
        &RunOptions { time_scale: 0.0, ..Default::default() },
        &mut NoFunctions,
    ))
    .expect("valid")
}

#[test]
fn variables_within_the_limits_are_kept() {
    let r = run_assign(json!({"big.$": "$.s"}));
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?} {:?}", r.error, r.cause);
}

#[test]
fn one_variable_over_256_kib_fails_the_state() {
    let r = run_assign(json!({"big.$": "States.Format('{}{}', $.s, $.s)"}));
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(r.cause.as_deref().is_some_and(|c| c.contains("'big'") && c.contains("262144")), "{:?}", r.cause);
}

#[test]
fn an_assign_over_256_kib_in_total_fails_the_state() {
    let r = run_assign(json!({"big.$": "$.s", "other.$": "$.s"}));
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert!(r.cause.as_deref().is_some_and(|c| c.contains("total")), "{:?}", r.cause);
}
