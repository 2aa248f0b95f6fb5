//! `stepwise serve` driven over HTTP as an AWS client drives Step Functions: AWS JSON 1.0
//! requests with `X-Amz-Target`, AWS's field names and error codes. A second test runs
//! `tests/api/boto3_smoke.py` with the project's Python environment (boto3 and the AWS CLI).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROLE: &str = "arn:aws:iam::123456789012:role/stepwise-test";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running `stepwise serve` on a free port with its own data directory; killed on drop.
struct Server {
    child: Child,
    url: String,
    dir: PathBuf,
    /// Leave the data directory behind on drop (a restarted server takes it over).
    keep_dir: bool,
}

impl Server {
    fn start(tag: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("stepwise-serve-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Server::start_in(dir)
    }

    /// A server on an existing (or new) data directory.
    fn start_in(dir: PathBuf) -> Server {
        Server::start_with(dir, &[])
    }

    /// A server on `dir` with more arguments (e.g. `--functions FILE`).
    fn start_with(dir: PathBuf, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepwise"))
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(&dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start stepwise serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the address line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, url, dir, keep_dir: false }
    }

    /// Calls an operation; `Ok(body)` on 200, `Err((status, __type, body))` otherwise.
    fn call(&self, op: &str, body: &Value) -> Result<Value, (u16, String, Value)> {
        self.raw(op, &body.to_string())
    }

    fn raw(&self, op: &str, body: &str) -> Result<Value, (u16, String, Value)> {
        let r = ureq::post(&format!("{}/", self.url))
            .set("X-Amz-Target", &format!("AWSStepFunctions.{op}"))
            .set("Content-Type", "application/x-amz-json-1.0")
            // A SigV4 header, as the SDKs send it: accepted and not checked.
            .set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/states/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
            .send_string(body);
        match r {
            Ok(resp) => {
                assert_eq!(resp.content_type(), "application/x-amz-json-1.0");
                Ok(resp.into_json().expect("JSON answer"))
            }
            Err(ureq::Error::Status(code, resp)) => {
                let v: Value = resp.into_json().expect("JSON error answer");
                let ty = v["__type"].as_str().unwrap_or_default().to_string();
                assert!(v["message"].is_string(), "{v}");
                Err((code, ty, v))
            }
            Err(e) => panic!("{op}: transport error {e}"),
        }
    }

    fn ok(&self, op: &str, body: Value) -> Value {
        self.call(op, &body).unwrap_or_else(|e| panic!("{op} {body}: {e:?}"))
    }

    /// The `__type` of a failing call (which must be a 400).
    fn code(&self, op: &str, body: Value) -> String {
        match self.call(op, &body) {
            Ok(v) => panic!("{op} {body} succeeded: {v}"),
            Err((status, ty, v)) => {
                assert_eq!(status, 400, "{op}: {v}");
                ty
            }
        }
    }

    fn create(&self, name: &str, definition: Value) -> String {
        let r =
            self.ok("CreateStateMachine", json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE}));
        r["stateMachineArn"].as_str().expect("stateMachineArn").to_string()
    }

    /// Polls DescribeExecution until the status is not RUNNING.
    fn wait_done(&self, arn: &str) -> Value {
        self.wait_done_within(arn, Duration::from_secs(30))
    }

    /// [`Server::wait_done`] with its own deadline.
    fn wait_done_within(&self, arn: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let d = self.ok("DescribeExecution", json!({"executionArn": arn}));
            if d["status"] != "RUNNING" {
                return d;
            }
            assert!(Instant::now() < deadline, "still running: {d}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn history(&self, arn: &str) -> Vec<Value> {
        let r = self.ok("GetExecutionHistory", json!({"executionArn": arn, "maxResults": 1000}));
        r["events"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn pass_machine() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"done": true}, "ResultPath": "$.r", "End": true}}})
}

fn wait_machine() -> Value {
    json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}})
}

fn callback_machine() -> Value {
    json!({"StartAt": "Ask", "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/approvals",
                "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}
            },
            "End": true
        }
    }})
}

#[test]
fn create_start_describe_history_and_list() {
    let s = Server::start("basic");
    let machine = s.create("Basic", pass_machine());
    assert_eq!(machine, "arn:aws:states:us-east-1:123456789012:stateMachine:Basic");

    let d = s.ok("DescribeStateMachine", json!({"stateMachineArn": machine}));
    assert_eq!(d["name"], "Basic");
    assert_eq!(d["type"], "STANDARD");
    assert_eq!(d["status"], "ACTIVE");
    assert_eq!(d["roleArn"], ROLE);
    assert!(d["creationDate"].is_f64() || d["creationDate"].is_u64(), "{d}");
    let def: Value = serde_json::from_str(d["definition"].as_str().expect("definition is a string")).expect("JSON");
    assert_eq!(def, pass_machine());
    // Creating the same machine again is idempotent; a different definition is not.
    assert_eq!(s.create("Basic", pass_machine()), machine);
    assert_eq!(
        s.code(
            "CreateStateMachine",
            json!({"name": "Basic", "definition": wait_machine().to_string(), "roleArn": ROLE})
        ),
        "StateMachineAlreadyExists"
    );

    let started = s.ok("StartExecution", json!({"stateMachineArn": machine, "name": "first", "input": "{\"a\": 1}"}));
    let arn = started["executionArn"].as_str().expect("executionArn").to_string();
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:execution:Basic:first");
    assert!(started["startDate"].as_f64().is_some_and(|t| t > 1.5e9), "{started}");

    let d = s.wait_done(&arn);
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(d["stateMachineArn"], machine.as_str());
    assert_eq!(d["name"], "first");
    assert_eq!(serde_json::from_str::<Value>(d["input"].as_str().expect("input string")).ok(), Some(json!({"a": 1})));
    assert_eq!(
        serde_json::from_str::<Value>(d["output"].as_str().expect("output string")).ok(),
        Some(json!({"a": 1, "r": {"done": true}}))
    );
    let (start, stop) = (d["startDate"].as_f64().expect("startDate"), d["stopDate"].as_f64().expect("stopDate"));
    assert!(stop >= start, "{d}");

    // A default name is a UUID.
    let anon = s.ok("StartExecution", json!({"stateMachineArn": machine}));
    let anon_name = anon["executionArn"].as_str().and_then(|a| a.rsplit(':').next()).unwrap_or_default().to_string();
    assert_eq!(anon_name.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{anon}");
    s.wait_done(anon["executionArn"].as_str().unwrap_or_default());

    // History: AWS's shape, payloads as JSON text, epoch timestamps.
    let events = s.history(&arn);
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["id"], json!(i + 1));
        assert!(e["timestamp"].as_f64().is_some(), "{e}");
        assert!(e["previousEventId"].is_u64(), "{e}");
    }
    // The input text as sent (AWS echoes it), not re-serialized.
    assert_eq!(events[0]["executionStartedEventDetails"]["input"], "{\"a\": 1}");
    assert_eq!(events[0]["executionStartedEventDetails"]["roleArn"], ROLE);
    assert_eq!(events[2]["stateExitedEventDetails"]["name"], "P");
    assert!(events[3]["executionSucceededEventDetails"]["output"].is_string(), "{}", events[3]);

    // Pagination and reverse order.
    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"executionArn": arn, "maxResults": 3});
        if let Some(t) = &token {
            req["nextToken"] = t.clone().into();
        }
        let page = s.ok("GetExecutionHistory", req);
        paged.extend(page["events"].as_array().cloned().unwrap_or_default());
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, events);
    let rev = s.ok("GetExecutionHistory", json!({"executionArn": arn, "reverseOrder": true, "maxResults": 1}));
    assert_eq!(rev["events"][0]["type"], "ExecutionSucceeded");
    assert!(rev["nextToken"].is_string());
    let bare = s.ok("GetExecutionHistory", json!({"executionArn": arn, "includeExecutionData": false}));
    assert!(bare["events"][0]["executionStartedEventDetails"].get("input").is_none(), "{bare}");
    assert_eq!(s.code("GetExecutionHistory", json!({"executionArn": arn, "nextToken": "garbage"})), "InvalidToken");

    // Listings.
    let other = s.create("Other", wait_machine());
    let list = s.ok("ListStateMachines", json!({}));
    let names: Vec<&str> = list["stateMachines"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["Basic", "Other"]);
    let first = s.ok("ListStateMachines", json!({"maxResults": 1}));
    assert_eq!(first["stateMachines"].as_array().map(Vec::len), Some(1));
    let second = s.ok("ListStateMachines", json!({"maxResults": 1, "nextToken": first["nextToken"]}));
    assert_eq!(second["stateMachines"][0]["stateMachineArn"], other.as_str());
    assert!(second.get("nextToken").is_none(), "{second}");

    let execs = s.ok("ListExecutions", json!({"stateMachineArn": machine}));
    let rows = execs["executions"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2, "{execs}");
    assert!(rows
        .iter()
        .all(|r| r["status"] == "SUCCEEDED" && r["stopDate"].is_number() && r["stateMachineArn"] == machine.as_str()));
    let page1 = s.ok("ListExecutions", json!({"stateMachineArn": machine, "maxResults": 1}));
    let page2 =
        s.ok("ListExecutions", json!({"stateMachineArn": machine, "maxResults": 1, "nextToken": page1["nextToken"]}));
    assert_ne!(page1["executions"][0]["executionArn"], page2["executions"][0]["executionArn"]);
    let running = s.ok("ListExecutions", json!({"stateMachineArn": machine, "statusFilter": "RUNNING"}));
    assert_eq!(running["executions"], json!([]));
    assert_eq!(
        s.code("ListExecutions", json!({"stateMachineArn": machine, "statusFilter": "DONE"})),
        "ValidationException"
    );

    let for_exec = s.ok("DescribeStateMachineForExecution", json!({"executionArn": arn}));
    assert_eq!(for_exec["stateMachineArn"], machine.as_str());
    let ok = s.ok("ValidateStateMachineDefinition", json!({"definition": pass_machine().to_string()}));
    assert_eq!(ok["result"], "OK");
    let bad = s.ok("ValidateStateMachineDefinition", json!({"definition": "{\"StartAt\": \"X\", \"States\": {}}"}));
    assert_eq!(bad["result"], "FAIL");
}

#[test]
fn stop_and_idempotent_start() {
    let s = Server::start("stop");
    let machine = s.create("Waiter", wait_machine());
    let a = s.ok("StartExecution", json!({"stateMachineArn": machine, "name": "once", "input": "{\"k\": 1}"}));
    // Same name and input while running: the same execution.
    let b = s.ok("StartExecution", json!({"stateMachineArn": machine, "name": "once", "input": "{\"k\": 1}"}));
    assert_eq!(a["executionArn"], b["executionArn"]);
    assert_eq!(a["startDate"], b["startDate"]);
    // Another input: ExecutionAlreadyExists.
    assert_eq!(
        s.code("StartExecution", json!({"stateMachineArn": machine, "name": "once", "input": "{\"k\": 2}"})),
        "ExecutionAlreadyExists"
    );
    let arn = a["executionArn"].as_str().unwrap_or_default().to_string();
    let running = s.ok("ListExecutions", json!({"stateMachineArn": machine, "statusFilter": "RUNNING"}));
    assert_eq!(running["executions"][0]["executionArn"], arn.as_str());

    let stopped = s.ok("StopExecution", json!({"executionArn": arn, "error": "Manual", "cause": "test"}));
    assert!(stopped["stopDate"].is_number(), "{stopped}");
    let d = s.wait_done(&arn);
    assert_eq!(d["status"], "ABORTED", "{d}");
    assert_eq!(d["error"], "Manual");
    assert_eq!(d["cause"], "test");
    assert_eq!(s.history(&arn).last().map(|e| e["type"].clone()), Some(json!("ExecutionAborted")));
    // Not running any more: the same name and input is now ExecutionAlreadyExists.
    assert_eq!(
        s.code("StartExecution", json!({"stateMachineArn": machine, "name": "once", "input": "{\"k\": 1}"})),
        "ExecutionAlreadyExists"
    );
}

#[test]
fn wait_for_task_token_round_trip_through_the_history() {
    let s = Server::start("token");
    let machine = s.create("Callback", callback_machine());
    let started = s.ok("StartExecution", json!({"stateMachineArn": machine, "input": "{\"order\": 7}"}));
    let arn = started["executionArn"].as_str().unwrap_or_default().to_string();

    // The token, from TaskScheduled's parameters (JSON text), as a client reads it on AWS.
    let deadline = Instant::now() + Duration::from_secs(30);
    let token = loop {
        let scheduled = s.history(&arn).into_iter().find(|e| e["type"] == "TaskScheduled");
        if let Some(e) = scheduled {
            let d = &e["taskScheduledEventDetails"];
            assert_eq!(d["resourceType"], "sqs");
            assert_eq!(d["resource"], "sendMessage.waitForTaskToken");
            let params: Value =
                serde_json::from_str(d["parameters"].as_str().expect("parameters string")).expect("JSON");
            assert_eq!(params["MessageBody"]["order"], 7);
            break params["MessageBody"]["token"].as_str().expect("token").to_string();
        }
        assert!(Instant::now() < deadline, "no TaskScheduled event");
        std::thread::sleep(Duration::from_millis(20));
    };

    s.ok("SendTaskHeartbeat", json!({"taskToken": token}));
    assert_eq!(s.code("SendTaskSuccess", json!({"taskToken": token, "output": "{not json"})), "InvalidOutput");
    s.ok("SendTaskSuccess", json!({"taskToken": token, "output": "{\"approved\": true}"}));
    let d = s.wait_done(&arn);
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(
        serde_json::from_str::<Value>(d["output"].as_str().unwrap_or_default()).ok(),
        Some(json!({"approved": true}))
    );
    // The token is spent.
    assert_eq!(s.code("SendTaskSuccess", json!({"taskToken": token, "output": "{}"})), "TaskTimedOut");
    assert_eq!(s.code("SendTaskFailure", json!({"taskToken": token, "error": "E"})), "TaskTimedOut");
}

#[test]
fn bad_requests_get_aws_error_codes() {
    let s = Server::start("errors");
    let machine = s.create("Errors", pass_machine());
    let missing_machine = "arn:aws:states:us-east-1:123456789012:stateMachine:Nope";
    let missing_exec = "arn:aws:states:us-east-1:123456789012:execution:Errors:nope";
    let create = |name: &str, def: &str| json!({"name": name, "definition": def, "roleArn": ROLE});

    assert_eq!(
        s.code("CreateStateMachine", create("Bad", "{\"StartAt\": \"X\", \"States\": {}}")),
        "InvalidDefinition"
    );
    assert_eq!(s.code("CreateStateMachine", create("Bad", "{not json")), "InvalidDefinition");
    assert_eq!(s.code("CreateStateMachine", create("bad name", &pass_machine().to_string())), "InvalidName");
    assert_eq!(
        s.code("CreateStateMachine", json!({"name": "R", "definition": pass_machine().to_string(), "roleArn": "role"})),
        "InvalidArn"
    );
    // A role ARN whose account is not 12 digits is refused, as AWS does.
    assert_eq!(
        s.code(
            "CreateStateMachine",
            json!({"name": "R", "definition": pass_machine().to_string(), "roleArn": "arn:aws:iam::1234:role/x"})
        ),
        "InvalidArn"
    );
    assert_eq!(s.code("CreateStateMachine", json!({"name": "NoDef", "roleArn": ROLE})), "ValidationException");
    assert_eq!(
        s.code(
            "CreateStateMachine",
            json!({"name": "T", "definition": pass_machine().to_string(), "roleArn": ROLE, "type": "FAST"})
        ),
        "ValidationException"
    );
    assert_eq!(s.code("DescribeStateMachine", json!({"stateMachineArn": "not-an-arn"})), "InvalidArn");
    assert_eq!(s.code("DescribeStateMachine", json!({"stateMachineArn": missing_machine})), "StateMachineDoesNotExist");
    assert_eq!(s.code("StartExecution", json!({"stateMachineArn": missing_machine})), "StateMachineDoesNotExist");
    assert_eq!(
        s.code("StartExecution", json!({"stateMachineArn": machine, "input": "{oops"})),
        "InvalidExecutionInput"
    );
    assert_eq!(s.code("StartExecution", json!({"stateMachineArn": machine, "name": "a/b"})), "InvalidName");
    assert_eq!(s.code("StartExecution", json!({})), "ValidationException");
    assert_eq!(s.code("DescribeExecution", json!({"executionArn": missing_exec})), "ExecutionDoesNotExist");
    assert_eq!(s.code("DescribeExecution", json!({"executionArn": "arn:aws:states:x"})), "InvalidArn");
    assert_eq!(s.code("StopExecution", json!({"executionArn": missing_exec})), "ExecutionDoesNotExist");
    assert_eq!(s.code("GetExecutionHistory", json!({"executionArn": missing_exec})), "ExecutionDoesNotExist");
    assert_eq!(
        s.code("GetExecutionHistory", json!({"executionArn": missing_exec, "maxResults": 5000})),
        "ValidationException"
    );
    assert_eq!(s.code("ListExecutions", json!({"stateMachineArn": missing_machine})), "StateMachineDoesNotExist");
    assert_eq!(s.code("SendTaskSuccess", json!({"taskToken": "not a token!", "output": "{}"})), "InvalidToken");
    assert_eq!(s.code("SendTaskSuccess", json!({"taskToken": "A".repeat(32), "output": "{}"})), "TaskDoesNotExist");
    assert_eq!(s.code("SendTaskHeartbeat", json!({"taskToken": "A".repeat(32)})), "TaskDoesNotExist");
    assert_eq!(
        s.code("SendTaskFailure", json!({"taskToken": "A".repeat(32), "error": "E".repeat(300)})),
        "ValidationException"
    );
    assert_eq!(s.code("SendTaskSuccess", json!({"output": "{}"})), "ValidationException");
    assert_eq!(s.code("DeleteEverything", json!({})), "UnknownOperationException");
    assert_eq!(s.code("StartSyncExecution", json!({"stateMachineArn": machine})), "StateMachineTypeNotSupported");

    // Malformed bodies and wrong types are SerializationException, never a crash.
    for body in ["{bad json", "[1, 2]", "\"text\""] {
        let e = s.raw("DescribeExecution", body).expect_err(body);
        assert_eq!((e.0, e.1.as_str()), (400, "SerializationException"), "{body}");
    }
    assert_eq!(s.code("DescribeExecution", json!({"executionArn": 5})), "SerializationException");
    // A request without X-Amz-Target.
    let r = ureq::post(&format!("{}/", s.url)).send_string("{}");
    assert!(matches!(r, Err(ureq::Error::Status(400, _))));
    // The server is still up.
    s.ok("DescribeStateMachine", json!({"stateMachineArn": machine}));
}

#[test]
fn start_sync_execution_runs_an_express_machine_to_completion() {
    let s = Server::start("sync");
    let r = s.ok(
        "CreateStateMachine",
        json!({"name": "Quick", "definition": pass_machine().to_string(), "roleArn": ROLE, "type": "EXPRESS"}),
    );
    let machine = r["stateMachineArn"].as_str().unwrap_or_default().to_string();
    let d = s.ok("StartSyncExecution", json!({"stateMachineArn": machine, "input": "{\"x\": 2}"}));
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert!(d["executionArn"].as_str().is_some_and(|a| a.contains(":express:Quick:")), "{d}");
    assert_eq!(
        serde_json::from_str::<Value>(d["output"].as_str().unwrap_or_default()).ok(),
        Some(json!({"x": 2, "r": {"done": true}}))
    );
}

/// The project's Python environment (`.venv` with boto3 and the AWS CLI, made by
/// scripts/test.sh): `(python, aws)`. `None` when it is missing, outside CI; under CI a missing
/// environment fails the test.
fn python_env() -> Option<(PathBuf, PathBuf)> {
    let python = repo().join(".venv/bin/python");
    let aws = repo().join(".venv/bin/aws");
    let has = |module: &str| {
        python.exists()
            && Command::new(&python)
                .args(["-c", &format!("import {module}")])
                .output()
                .is_ok_and(|o| o.status.success())
    };
    if !(has("boto3") && aws.exists()) {
        let msg = "the project's Python environment (.venv with boto3 and awscli, made by scripts/test.sh) is missing";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
        return None;
    }
    Some((python, aws))
}

/// Runs `tests/api/SCRIPT URL` with the project's Python; its stdout, after asserting success.
fn run_script(python: &Path, aws: &Path, script: &str, url: &str) -> String {
    let out = Command::new(python)
        .arg(repo().join("tests/api").join(script))
        .arg(url)
        .env("AWS_CLI", aws)
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{script} failed\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The same flows with the real clients: boto3 (typed exceptions) and the AWS CLI
/// (`aws stepfunctions send-task-success`). Under CI a missing Python environment fails.
#[test]
fn boto3_and_the_aws_cli_drive_the_server() {
    let Some((python, aws)) = python_env() else { return };
    let s = Server::start("boto3");
    let stdout = run_script(&python, &aws, "boto3_smoke.py", &s.url);
    assert!(stdout.contains("boto3 smoke: all checks passed"), "{stdout}");
    assert!(stdout.contains("distributed map: ok"), "{stdout}");
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        // The server was given the test command's moto endpoint: its DynamoDB tasks ran, and a
        // Distributed Map read 1,000 items from S3 and wrote its results there.
        assert!(stdout.contains("dynamodb and aws-sdk tasks: ok"), "{stdout}");
        assert!(stdout.contains("distributed map of 1000 items from S3: ok"), "{stdout}");
    }
}

#[test]
fn executions_survive_a_server_restart() {
    let mut first = Server::start("restart");
    let machine = first.create(
        "restart",
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 2, "Next": "P"}, "P": {"Type": "Pass", "End": true}}}),
    );
    let started = first.ok("StartExecution", json!({"stateMachineArn": machine, "name": "r1", "input": "{\"k\": 1}"}));
    let arn = started["executionArn"].as_str().expect("executionArn").to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !first.history(&arn).iter().any(|e| e["type"] == "WaitStateEntered") {
        assert!(Instant::now() < deadline, "the execution never reached its Wait state");
        std::thread::sleep(Duration::from_millis(20));
    }
    // the server dies mid-wait; a new one on the same data directory finishes the execution
    first.keep_dir = true;
    let dir = first.dir.clone();
    drop(first);
    let second = Server::start_in(dir);
    // A step message the first server had received when it died comes back after the queue's
    // visibility timeout (30 s): recovery may take that long, so wait longer than it.
    let d = second.wait_done_within(&arn, Duration::from_secs(50));
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    assert_eq!(serde_json::from_str::<Value>(d["output"].as_str().unwrap_or("null")).expect("output"), json!({"k": 1}));
    let types: Vec<String> = second.history(&arn).iter().filter_map(|e| e["type"].as_str().map(String::from)).collect();
    assert_eq!(types.iter().filter(|t| *t == "WaitStateExited").count(), 1, "{types:?}");
}

/// A function answering more than 256 KiB that is not JSON fails the task with
/// `States.DataLimitExceeded`, as on AWS (the AWS-recorded corpus case
/// `test_task_lambda_data_limit_exceeded_on_large_utf8_response`), not `Runtime.InvalidResponse`;
/// a small non-JSON answer stays `Runtime.InvalidResponse`.
#[test]
fn a_huge_non_json_function_answer_exceeds_the_data_limit() {
    let dir = std::env::temp_dir().join(format!("stepwise-serve-huge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let functions = dir.join("functions.json");
    std::fs::write(
        &functions,
        json!({"functions": {
            "Huge": {"command": "head -c 263168 /dev/zero | tr '\\0' a"},
            "Small": {"command": "printf not-json"}
        }})
        .to_string(),
    )
    .expect("functions file");
    let s = Server::start_with(dir.join("data"), &["--functions", functions.to_str().expect("path")]);
    for (function, error) in [("Huge", "States.DataLimitExceeded"), ("Small", "Runtime.InvalidResponse")] {
        let machine = s.create(
            &format!("limit-{function}"),
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload": {}}, "End": true}}}),
        );
        let started = s.ok("StartExecution", json!({"stateMachineArn": machine}));
        let d = s.wait_done(started["executionArn"].as_str().expect("arn"));
        assert_eq!((d["status"].as_str(), d["error"].as_str()), (Some("FAILED"), Some(error)), "{function}: {d}");
    }
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--time-scale 0`: an hour's Wait, a Retry's 30-second intervals and a callback's
/// HeartbeatSeconds fire at once, while the history keeps the definition's times (the
/// execution's clock moves to each timer's time).
#[test]
fn time_scale_zero_skips_waits_retries_and_timeouts_and_the_history_keeps_their_times() {
    let dir = std::env::temp_dir().join(format!("stepwise-serve-timescale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let s = Server::start_with(dir, &["--time-scale", "0"]);
    let machine = s.create(
        "Slow",
        json!({"StartAt": "Hour", "States": {
            "Hour": {"Type": "Wait", "Seconds": 3600, "Next": "Flaky"},
            "Flaky": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}}],
                "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 30, "MaxAttempts": 2, "BackoffRate": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.flaky", "Next": "Ask"}],
                "Next": "Ask"
            },
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/approvals",
                    "MessageBody": {"token.$": "$$.Task.Token"}
                },
                "HeartbeatSeconds": 300,
                "TimeoutSeconds": 600,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.ask", "Next": "Done"}],
                "End": true
            },
            "Done": {"Type": "Succeed"}
        }}),
    );
    let begun = Instant::now();
    let started = s.ok("StartExecution", json!({"stateMachineArn": machine, "input": "{}"}));
    let arn = started["executionArn"].as_str().expect("arn").to_string();
    let d = s.wait_done_within(&arn, Duration::from_secs(20));
    let took = begun.elapsed();
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let output: Value = serde_json::from_str(d["output"].as_str().unwrap_or("null")).expect("output");
    assert_eq!(output["flaky"]["Error"], "Boom", "{output}");
    // An expired HeartbeatSeconds is States.Timeout on AWS too.
    assert_eq!(output["ask"]["Error"], "States.Timeout", "{output}");
    // 3,600 + 2 × 30 + 300 seconds of the definition's time, in a moment of real time.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    eprintln!("time-scale 0: {took:?} for 3,960 s of timers");

    let events = s.history(&arn);
    let at = |ty: &str, nth: usize| -> f64 {
        let e = events.iter().filter(|e| e["type"] == ty).nth(nth).unwrap_or_else(|| panic!("no {ty} #{nth}"));
        e["timestamp"].as_f64().expect("timestamp")
    };
    let near = |got: f64, want: f64| (got - want).abs() < 1.0;
    let waited = at("WaitStateExited", 0) - at("WaitStateEntered", 0);
    assert!(near(waited, 3600.0), "the Wait lasted {waited} s in the history");
    let starts: Vec<f64> = (0..3).map(|i| at("ParallelStateStarted", i)).collect();
    assert!(near(starts[1] - starts[0], 30.0) && near(starts[2] - starts[1], 30.0), "retries at {starts:?}");
    // HeartbeatSeconds (300) expires before TimeoutSeconds (600), though both fire at once.
    let beat = at("TaskTimedOut", 0) - at("TaskScheduled", 0);
    assert!(near(beat, 300.0), "the task timed out {beat} s after it was scheduled");
    let total = at("ExecutionSucceeded", 0) - at("ExecutionStarted", 0);
    assert!((3960.0..3970.0).contains(&total), "the history spans {total} s");
}

/// The stock-trading sample with every Lambda, the SQS approval and the SNS report mocked
/// (`examples/stock-trading/mock-config.json`), through the AWS CLI against `stepwise serve
/// --mock-config`: buy, sell, a price check retried after two mocked failures, a rejected
/// approval, an unknown test case (tests/api/mock_config.py asserts outputs and histories).
#[test]
fn mock_config_runs_the_sample_without_calling_anything() {
    let Some((python, aws)) = python_env() else { return };
    let dir = std::env::temp_dir().join(format!("stepwise-serve-mocks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mocks = repo().join("examples/stock-trading/mock-config.json");
    let s = Server::start_with(dir, &["--time-scale", "0", "--mock-config", mocks.to_str().expect("path")]);
    let stdout = run_script(&python, &aws, "mock_config.py", &s.url);
    assert!(stdout.contains("mock config: all checks passed"), "{stdout}");
}

/// A mock configuration that breaks a rule stops the server before it listens, naming the
/// place in the file and the rule; SFN_MOCK_CONFIG is read when --mock-config is absent.
#[test]
fn a_bad_mock_config_is_refused_with_its_place() {
    let dir = std::env::temp_dir().join(format!("stepwise-serve-badmocks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("mocks.json");
    std::fs::write(
        &file,
        r#"{"StateMachines": {"M": {"TestCases": {"C": {"T": "R"}}}},
            "MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 2}}}}"#,
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(dir.join("data"))
        .env("SFN_MOCK_CONFIG", &file)
        .output()
        .expect("run stepwise serve");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/MockedResponses/R") && stderr.contains("call 1 has no response"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The TestState calls recorded against AWS (`test_state_cases.jsonl` of the corpus beside the
/// repository, or under `STEPWISE_CORPUS`), sent with boto3 (`inject_host_prefix=False`) and
/// compared with AWS's answers (tests/api/test_state_cases.py). The floor is what passes today:
/// the two cases below it are AWS's older Lambda model (MemorySize at most 10240, now 32768; see
/// docs/conformance.md).
#[test]
fn test_state_matches_the_calls_recorded_against_aws() {
    let Some((python, _)) = python_env() else { return };
    let corpus = std::env::var_os("STEPWISE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/conformance"))
        .join("test_state_cases.jsonl");
    assert!(corpus.exists(), "the TestState corpus is missing: {}", corpus.display());
    let dir = std::env::temp_dir().join(format!("stepwise-serve-teststate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let functions = dir.join("functions.json");
    let script = repo().join("tests/api/test_state_cases.py");
    let written = Command::new(&python).arg(&script).arg("--write-functions").arg(&functions).arg(&corpus).status();
    assert!(written.is_ok_and(|s| s.success()), "writing the cases' functions failed");
    let s = Server::start_with(dir.join("data"), &["--functions", functions.to_str().expect("path")]);
    let out = Command::new(&python)
        .arg(&script)
        .arg(&s.url)
        .arg(&corpus)
        .args(["--min-pass", "178"])
        .output()
        .expect("run test_state_cases.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("test state cases: "), "{stdout}");
}

/// Versions, aliases (routing between two versions over 200 starts), tags, redrive of a failed
/// and of an aborted execution, and execution logs as JSON lines, through boto3
/// (tests/api/boto3_versions.py asserts on what boto3 returns and on the log files).
#[test]
fn versions_aliases_tags_redrive_and_logging_through_boto3() {
    let Some((python, aws)) = python_env() else { return };
    let dir = std::env::temp_dir().join(format!("stepwise-serve-versions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let flag = dir.join("flag");
    let functions = dir.join("functions.json");
    let flaky =
        format!("if [ -f '{}' ]; then printf '{{\"ok\": true}}'; else echo 'not yet' >&2; exit 1; fi", flag.display());
    let flag2 = dir.join("flag2");
    // Its failure takes a moment, as a real function's would, so the siblings it races usually
    // finish first (the script reads from the history which ones did).
    let flaky2 = format!(
        "if [ -f '{}' ]; then printf '\"fixed\"'; else sleep 0.2; echo 'not yet' >&2; exit 1; fi",
        flag2.display()
    );
    std::fs::write(
        &functions,
        json!({"functions": {
            "Flaky": {"command": ["sh", "-c", flaky]},
            "Flaky2": {"command": ["sh", "-c", flaky2]}
        }})
        .to_string(),
    )
    .expect("functions file");
    let logs = dir.join("logs");
    let s = Server::start_with(
        dir.join("data"),
        &["--functions", functions.to_str().expect("path"), "--execution-logs", logs.to_str().expect("path")],
    );
    let out = Command::new(&python)
        .arg(repo().join("tests/api/boto3_versions.py"))
        .arg(&s.url)
        .arg(&flag)
        .arg(&logs)
        .arg(&flag2)
        .env("AWS_CLI", &aws)
        .output()
        .expect("run boto3_versions.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "boto3_versions.py failed\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("boto3 versions: all checks passed"), "{stdout}");
    eprintln!("{stdout}");
}

/// A Distributed Map's children run the parent's test case: a Task of the item processor that
/// names no existing function answers from the mock configuration in every child (each child
/// counting its own calls), and a state without a mock still runs for real.
#[test]
fn a_distributed_maps_children_run_the_parents_test_case() {
    let dir = std::env::temp_dir().join(format!("stepwise-serve-dm-mocks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mocks = dir.join("mocks.json");
    std::fs::write(
        &mocks,
        json!({
            "StateMachines": {
                "Fan": {"TestCases": {"Mocked": {"Price": "Priced"}}},
                "Quick": {"TestCases": {"Mocked": {"Price": "Priced"}}}
            },
            "MockedResponses": {"Priced": {"0": {"Return": {"price": 10}}, "1": {"Return": {"price": 20}}}}
        })
        .to_string(),
    )
    .expect("write");
    let s = Server::start_with(dir.join("data"), &["--mock-config", mocks.to_str().expect("path")]);
    let machine = s.create(
        "Fan",
        json!({"StartAt": "M", "States": {"M": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Price",
                "States": {
                    "Price": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction",
                              "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}], "Next": "Again"},
                    "Again": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction",
                              "ResultPath": "$.second", "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.unmocked", "Next": "Done"}],
                              "End": true},
                    "Done": {"Type": "Pass", "End": true}
                }
            },
            "End": true}}}),
    );
    let started = s.ok("StartExecution", json!({"stateMachineArn": format!("{machine}#Mocked"), "input": "[1, 2, 3]"}));
    let d = s.wait_done(started["executionArn"].as_str().expect("arn"));
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let out: Value = serde_json::from_str(d["output"].as_str().expect("output")).expect("JSON");
    let items = out.as_array().expect("an array");
    assert_eq!(items.len(), 3, "{out}");
    for item in items {
        // Each child's first call of Price is call 0 of its own count.
        assert_eq!(item["price"], 10, "{out}");
        // Again is not mocked: it ran for real and failed (no such function), caught.
        assert!(item["unmocked"]["Error"].is_string(), "{out}");
    }
    // StartSyncExecution on an EXPRESS machine's test case.
    let quick = s.ok(
        "CreateStateMachine",
        json!({"name": "Quick", "type": "EXPRESS", "roleArn": ROLE, "definition": json!({"StartAt": "Price", "States": {
            "Price": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction", "End": true}}}).to_string()}),
    );
    let arn = quick["stateMachineArn"].as_str().expect("arn");
    let d = s.ok("StartSyncExecution", json!({"stateMachineArn": format!("{arn}#Mocked")}));
    assert_eq!((d["status"].as_str(), d["output"].as_str()), (Some("SUCCEEDED"), Some(r#"{"price":10}"#)), "{d}");
    let refused = s.call("StartSyncExecution", &json!({"stateMachineArn": format!("{arn}#Nope")}));
    assert!(matches!(&refused, Err((400, ty, _)) if ty == "InvalidName"), "{refused:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--time-scale 0` shrinks the definition's time, not a function's: a Lambda task with a
/// TimeoutSeconds gets its function's answer (the call is made in the step that starts the
/// task, before its timers exist), once; a callback task's TimeoutSeconds still fires at once.
#[test]
fn time_scale_zero_waits_for_a_running_function() {
    let dir = std::env::temp_dir().join(format!("stepwise-serve-timescale-fn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let functions = dir.join("functions.json");
    let calls = dir.join("calls");
    let slow = format!("echo call >> '{}'; sleep 0.3; printf 42", calls.display());
    std::fs::write(&functions, json!({"functions": {"Slow": {"command": ["sh", "-c", slow]}}}).to_string())
        .expect("functions file");
    let s =
        Server::start_with(dir.join("data"), &["--time-scale", "0", "--functions", functions.to_str().expect("path")]);
    let machine = s.create(
        "SlowFn",
        json!({"StartAt": "Call", "States": {
            "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Slow",
                     "TimeoutSeconds": 5, "HeartbeatSeconds": 2, "ResultPath": "$.call", "Next": "Ask"},
            "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                                   "MessageBody": {"t.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 3600, "ResultPath": "$.ask",
                    "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timedOut", "Next": "Done"}], "End": true},
            "Done": {"Type": "Pass", "End": true}
        }}),
    );
    let started = s.ok("StartExecution", json!({"stateMachineArn": machine}));
    let d = s.wait_done(started["executionArn"].as_str().expect("arn"));
    assert_eq!(d["status"], "SUCCEEDED", "{d}");
    let out: Value = serde_json::from_str(d["output"].as_str().expect("output")).expect("JSON");
    assert_eq!(out["call"], 42, "{out}");
    assert_eq!(out["timedOut"]["Error"], "States.Timeout", "{out}");
    // One call: no timer made it again.
    let made = std::fs::read_to_string(&calls).expect("calls").lines().count();
    assert_eq!(made, 1, "the function was called {made} times");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two servers on one data directory tag one machine and publish versions at the same time:
/// no write is lost (each is made only over the machine as it was read, retried otherwise) and
/// no version number is issued twice.
#[test]
fn concurrent_control_plane_writes_from_two_servers_are_not_lost() {
    let dir = std::env::temp_dir().join(format!("stepwise-serve-concurrent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut a = Server::start_with(dir.clone(), &[]);
    a.keep_dir = true;
    let b = Server::start_with(dir.clone(), &[]);
    let machine = a.create("Shared", pass_machine());
    let answered: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = [&a, &b]
            .into_iter()
            .enumerate()
            .map(|(k, s)| {
                let machine = machine.clone();
                scope.spawn(move || {
                    let mut published = Vec::new();
                    for i in 0..20 {
                        let tag = json!([{"key": format!("s{k}-{i}"), "value": "v"}]);
                        s.ok("TagResource", json!({"resourceArn": machine, "tags": tag}));
                        let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": format!("{k}-{i}"), "End": true}}});
                        let r = s.ok(
                            "UpdateStateMachine",
                            json!({"stateMachineArn": machine, "definition": definition.to_string(), "publish": true}),
                        );
                        published.push(r["stateMachineVersionArn"].as_str().expect("a version").to_string());
                    }
                    published
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
    });
    let tags = a.ok("ListTagsForResource", json!({"resourceArn": machine}));
    assert_eq!(tags["tags"].as_array().map(Vec::len), Some(40), "{tags}");
    let versions = b.ok("ListStateMachineVersions", json!({"stateMachineArn": machine, "maxResults": 1000}));
    let listed: Vec<String> = versions["stateMachineVersions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["stateMachineVersionArn"].as_str().map(String::from))
        .collect();
    let unique: std::collections::BTreeSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "a version number issued twice: {versions}");
    // Every version a caller was answered with is there (a publish racing an update may
    // answer the other server's version of the same revision).
    for v in &answered {
        assert!(unique.contains(v), "{v} was answered and lost: {versions}");
    }
    drop(b);
    a.keep_dir = false;
}
