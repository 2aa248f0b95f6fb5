//! Each state machine runs as its own role: the AWS runtime makes an execution's Task calls
//! with credentials from STS AssumeRole on the machine's `roleArn` (a session named after the
//! execution, the machine's ARN as ExternalId), on the local endpoint (moto's STS).

mod common;

use common::endpoint;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use stepwise_aws::{aws_runtime_with, AwsRuntime, AwsSettings};
use stepwise_runtime::ports::{Queue, STEP_QUEUE};
use stepwise_sdk::{SdkClient, Settings};
use stepwise_testkit::aws::{fresh_table, local_lambda};
use stepwise_testkit::{http_server, Reply, Request};

/// The runtime on the local endpoint with its Lambda functions at `functions` (an Invoke API
/// server), their invocations made as each execution's role through `roles`.
async fn runtime(label: &str, functions: &str, roles: Arc<SdkClient>) -> AwsRuntime {
    let (sdk, settings) = fresh_table(label, Duration::from_secs(30)).await;
    let url = aws_runtime_with(&sdk, &settings).queue().create_queue(&common::unique("steps")).await.expect("queue");
    let settings = AwsSettings { step_queue_url: Some(url), ..settings };
    aws_runtime_with(&sdk, &settings).with_functions(local_lambda(&sdk, functions).with_roles(roles))
}

/// What the function server saw of an invocation: the access key, and a session token or not.
type Invocation = (Option<String>, bool);

/// Runs the execution's steps until it ends; its description.
async fn run(rt: &AwsRuntime, arn: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = rt.describe(arn).await.expect("describe").execution.status;
        if status.as_str() != "RUNNING" {
            let mut done = serde_json::to_value(&status).expect("status");
            done["status"] = status.as_str().into();
            return done;
        }
        assert!(Instant::now() < deadline, "{arn} did not finish");
        for m in rt.queue().receive(STEP_QUEUE, 10, Duration::from_secs(30)).await.expect("receive") {
            rt.process(&m).await.expect("process");
        }
    }
}

/// A Lambda Task and an `aws-sdk:sts:getCallerIdentity` Task both run as the machine's role:
/// the endpoint sees the assumed role's session (named after the execution) and the function's
/// invocation carries the session's credentials, not the runtime's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_calls_are_made_as_the_state_machines_role() {
    if endpoint().is_none() {
        return;
    }
    // Each invocation's access key and whether it carried a session token.
    let seen: Arc<Mutex<Vec<Invocation>>> = Arc::default();
    let log = seen.clone();
    let functions = http_server(Arc::new(move |req: &Request| {
        let token = req.header("x-amz-security-token").is_some();
        log.lock().expect("log").push((req.access_key().map(String::from), token));
        Reply::ok(br#"{"invoked": true}"#.to_vec())
    }));
    let roles = Arc::new(SdkClient::new(Settings::for_aws("us-east-1")));
    let rt = runtime("roles", &functions, roles).await;
    let account = rt.config().account.clone();
    let definition = json!({"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:{account}:function:work"),
                   "ResultPath": "$.invoked", "Next": "Who"},
        "Who": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sts:getCallerIdentity", "Parameters": {},
                "ResultSelector": {"Arn.$": "$.Arn"}, "ResultPath": "$.who", "End": true}
    }});
    let role = format!("arn:aws:iam::{account}:role/stepwise/trading");
    let machine = rt.create_machine("as-its-role", definition, &role, false).await.expect("machine");
    let name = common::unique("exec");
    let arn = rt.start_execution(&machine.arn, &name, json!({})).await.expect("start");
    let done = run(&rt, &arn).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output = &done["output"];
    assert_eq!(output["who"]["Arn"], format!("arn:aws:sts::{account}:assumed-role/trading/{name}"), "{output}");
    assert_eq!(output["invoked"], json!({"invoked": true}));
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (key, token) = &seen[0];
    assert!(*token, "the invocation carries the session's token");
    let base = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
    assert!(key.as_deref().is_some_and(|k| !k.is_empty() && k != base), "invoked with {key:?}, not the session's key");
}

/// A role STS refuses to hand over fails the execution with `States.Runtime`, naming the role
/// and STS's refusal; the function is never invoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_be_assumed_fails_the_task() {
    if endpoint().is_none() {
        return;
    }
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = asked.clone();
    // STS refusing every AssumeRole, as it does when the role's trust policy does not name the
    // caller (or its ExternalId condition does not match).
    let sts = http_server(Arc::new(move |req: &Request| {
        log.lock().expect("log").push(String::from_utf8_lossy(&req.body).into_owned());
        Reply::status(
            403,
            br#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/driver/d is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/stepwise/locked</Message></Error><RequestId>4d5e6f</RequestId></ErrorResponse>"#.to_vec(),
        )
        .header("Content-Type", "text/xml")
    }));
    let invoked: Arc<Mutex<usize>> = Arc::default();
    let count = invoked.clone();
    let functions = http_server(Arc::new(move |_: &Request| {
        *count.lock().expect("count") += 1;
        Reply::ok(b"{}".to_vec())
    }));
    let roles = Arc::new(SdkClient::new(Settings { endpoint: Some(sts), ..Settings::for_aws("us-east-1") }));
    let rt = runtime("denied", &functions, roles).await;
    let account = rt.config().account.clone();
    let definition = json!({"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:{account}:function:work"), "End": true}
    }});
    let role = format!("arn:aws:iam::{account}:role/stepwise/locked");
    let machine = rt.create_machine("locked-out", definition, &role, false).await.expect("machine");
    let arn = rt.start_execution(&machine.arn, &common::unique("exec"), json!({})).await.expect("start");
    let done = run(&rt, &arn).await;
    assert_eq!(done["status"], "FAILED", "{done}");
    assert_eq!(done["error"], "States.Runtime", "{done}");
    let cause = done["cause"].as_str().unwrap_or_default();
    assert!(cause.contains(&role) && cause.contains("not authorized to perform: sts:AssumeRole"), "{cause}");
    assert_eq!(*invoked.lock().expect("count"), 0, "the function must not be invoked");
    // The driver asked for the execution's session, with the machine as ExternalId.
    let asked = asked.lock().expect("log").clone();
    assert!(!asked.is_empty());
    let machine_arn = machine.arn.replace(':', "%3A");
    assert!(asked[0].contains("Action=AssumeRole") && asked[0].contains(&machine_arn), "{}", asked[0]);
}
