//! `stepwise exec`: the in-memory run of a definition with local functions, one JSON line out.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn exec(args: &[&str]) -> (bool, serde_json::Value) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_stepwise")).current_dir(repo()).arg("exec").args(args).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.status.success(), line)
}

#[test]
fn the_hello_example_runs_with_command_functions() {
    let (ok, line) = exec(&[
        "examples/hello/definition.json",
        "--input",
        "@examples/hello/input.json",
        "--functions",
        "examples/hello/functions.json",
        "--time-scale",
        "0",
    ]);
    assert!(ok, "{line}");
    assert_eq!(line["status"], "SUCCEEDED");
    assert_eq!(line["output"]["greetings"], serde_json::json!(["Hello, Ada!", "Hello, Grace!", "Hello, Barbara!"]));
}

#[test]
fn a_failing_command_is_a_lambda_function_error_retry_and_catch_can_match() {
    let dir = std::env::temp_dir().join(format!("stepwise-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("functions.json"),
        r#"{"Echo": "cat", "Boom": "echo '{\"errorType\":\"Boom\",\"errorMessage\":\"no\"}'; exit 1", "Crash": ["sh", "-c", "exit 3"]}"#,
    )
    .expect("write");
    let def = serde_json::json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Echo", "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Boom",
              "Catch": [{"ErrorEquals": ["Boom"], "ResultPath": "$.error", "Next": "C"}], "End": true},
        "C": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Crash", "End": true}}});
    std::fs::write(dir.join("def.json"), def.to_string()).expect("write");
    let (ok, line) = exec(&[
        dir.join("def.json").to_str().expect("utf-8"),
        "--functions",
        dir.join("functions.json").to_str().expect("utf-8"),
        "--input",
        r#"{"x": 1}"#,
    ]);
    assert!(!ok);
    assert_eq!(line["status"], "FAILED");
    assert_eq!(line["error"], "Runtime.ExitError", "{line}");
    let (ok, line) = exec(&[dir.join("def.json").to_str().expect("utf-8"), "--input", "{}"]);
    assert!(!ok);
    assert_eq!(line["error"], "Lambda.ResourceNotFoundException", "without functions: {line}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--mock-config FILE --test-case CASE`: the sample's mocked test cases run in memory, with
/// no functions and no queue (the machine named by --state-machine, as in the file).
#[test]
fn mocked_test_cases_of_the_sample_run_in_memory() {
    let dir = std::env::temp_dir().join(format!("stepwise-exec-mocks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut text = std::fs::read_to_string(repo().join("examples/stock-trading/definition.asl.json")).expect("read");
    let bindings: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/stock-trading/bindings.json")).expect("read"),
    )
    .expect("bindings");
    for (k, v) in &bindings {
        text = text.replace(&format!("${{{k}}}"), v.as_str().expect("string"));
    }
    let def = dir.join("sample.json");
    std::fs::write(&def, text).expect("write");
    let run = |case: &str| {
        exec(&[
            def.to_str().expect("utf-8"),
            "--mock-config",
            "examples/stock-trading/mock-config.json",
            "--test-case",
            case,
            "--state-machine",
            "StockTrading",
            "--history",
        ])
    };
    let (ok, line) = run("Sell");
    assert!(ok, "{line}");
    assert_eq!(line["output"], serde_json::json!({"MessageId": "f5b6c2a0-0000-4000-8000-000000000001"}));
    let history = line["history"].as_array().expect("history");
    let sold = history.iter().any(|e| e["stateEnteredEventDetails"]["name"] == "Sell Stock");
    assert!(sold, "{line}");
    let (ok, line) = run("Rejected");
    assert!(!ok);
    assert_eq!((line["status"].as_str(), line["error"].as_str()), (Some("FAILED"), Some("Rejected")), "{line}");

    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .current_dir(repo())
        .args(["exec", def.to_str().expect("utf-8"), "--mock-config", "examples/stock-trading/mock-config.json"])
        .args(["--test-case", "Nope", "--state-machine", "StockTrading"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("test case 'Nope' of state machine 'StockTrading' is not defined"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `stepwise test-state`: one state run as AWS's TestState runs it — a mocked result through
/// the pipeline (inspection data), a mocked error retried (RETRIABLE with the backoff), a mock
/// the service model refuses (exit code 2 with AWS's message).
#[test]
fn test_state_runs_one_state_with_a_mock() {
    let dir = std::env::temp_dir().join(format!("stepwise-test-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let def = dir.join("task.json");
    std::fs::write(
        &def,
        serde_json::json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "Price", "Payload.$": "$"},
            "ResultSelector": {"price.$": "$.Payload.price"}, "ResultPath": "$.quote",
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "MaxAttempts": 3}],
            "Next": "Decide"})
        .to_string(),
    )
    .expect("write");
    let run = |args: &[&str]| {
        let out =
            Command::new(env!("CARGO_BIN_EXE_stepwise")).arg("test-state").arg(&def).args(args).output().expect("run");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
        (out.status.code(), v)
    };
    let (code, v) = run(&[
        "--input",
        r#"{"ticker": "AMZN"}"#,
        "--mock",
        r#"{"result": {"StatusCode": 200, "Payload": {"price": 42}}}"#,
    ]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!((v["status"].as_str(), v["nextState"].as_str()), (Some("SUCCEEDED"), Some("Decide")), "{v}");
    let output: serde_json::Value = serde_json::from_str(v["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(output, serde_json::json!({"ticker": "AMZN", "quote": {"price": 42}}));
    assert_eq!(v["inspectionData"]["afterResultSelector"], r#"{"price":42}"#);

    let (_, v) = run(&[
        "--mock",
        r#"{"errorOutput": {"error": "Lambda.ServiceException", "cause": "down"}}"#,
        "--state-configuration",
        r#"{"retrierRetryCount": 1}"#,
    ]);
    assert_eq!(v["status"], "RETRIABLE", "{v}");
    assert_eq!(
        v["inspectionData"]["errorDetails"],
        serde_json::json!({"retryBackoffIntervalSeconds": 4, "retryIndex": 0})
    );

    let (code, v) = run(&["--mock", r#"{"result": {"StatusCode": "x"}}"#]);
    assert_eq!(code, Some(2));
    assert_eq!(v["message"], "Mock result schema validation error: Field 'StatusCode' must be a number");
    let _ = std::fs::remove_dir_all(&dir);
}
