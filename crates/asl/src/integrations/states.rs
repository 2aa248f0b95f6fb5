//! Step Functions `startExecution`: a nested execution on the same runtime.
//!
//! - request-response (`arn:aws:states:::states:startExecution`): the task's result is
//!   StartExecution's response (`ExecutionArn`, `StartDate`, the SDK's metadata);
//! - `.sync`: the task waits for the child's end; its result is DescribeExecution's shape with
//!   `Output` as JSON text; `.sync:2` the same with `Output` parsed;
//! - each may add `.waitForTaskToken` (the task ends through its token).
//!
//! A child that fails, times out or is stopped fails a `.sync` task with `States.TaskFailed`
//! and DescribeExecution's shape (with the child's `Error` and `Cause`) as JSON text in the
//! cause, as AWS records it. The runtime starts the child ([`Call::StartExecution`]) and, when
//! the child ends, reports [`sync_outcome`] to the waiting task: the parent waits without
//! polling.

use super::{failed, uuid, Call, Integration};
use crate::stepper::{Execution, Status, TaskOutcome, TaskRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// How a `.sync` task wants the child's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncOutput {
    /// `.sync`: `Output` as JSON text.
    Text,
    /// `.sync:2`: `Output` parsed.
    Json,
}

/// The task that started a child execution; a `.sync` one waits for the child's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentTask {
    /// The parent execution.
    pub execution_arn: String,
    /// The parent's frame that runs the task.
    pub frame: usize,
    /// The task id the outcome must quote.
    pub task: u64,
    /// `.sync`/`.sync:2`: the task waits for the child, and how its result shows the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncOutput>,
}

/// A started child, as StartExecution answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The child's ARN.
    pub execution_arn: String,
    /// When it started.
    pub start_date: DateTime<Utc>,
}

/// The StartExecution a task request needs.
pub(super) fn plan(req: &TaskRequest) -> Call {
    let p = &req.parameters;
    let machine_arn = p.get("StateMachineArn").and_then(Value::as_str).unwrap_or_default().to_string();
    // `Input` as AWS takes it: text as given, any other JSON serialised, none `{}`.
    let input = match p.get("Input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let name = p.get("Name").and_then(Value::as_str).map(str::to_string);
    let sync = match req.integration {
        Integration::StatesStartExecutionSync => Some(SyncOutput::Text),
        Integration::StatesStartExecutionSync2 => Some(SyncOutput::Json),
        _ => None,
    };
    let parent = ParentTask {
        execution_arn: String::new(), // the runtime knows the parent's ARN
        frame: req.frame,
        task: req.task,
        sync: sync.filter(|_| !req.wait_for_task_token),
    };
    Call::StartExecution { machine_arn, name, input, parent }
}

/// What a runtime without nested executions (the in-memory runner) answers a
/// [`Call::StartExecution`]: the task fails with `States.Runtime`, saying where they run.
pub fn not_supported_here() -> super::CallResult {
    super::CallResult::Started(Err((
        "States.Runtime".into(),
        "nested executions (arn:aws:states:::states:startExecution) run on the durable runtime: use `stepwise run` \
         or `stepwise serve`"
            .into(),
    )))
}

/// The outcome of starting the child: StartExecution's response (request-response), or the
/// same as `Submitted` for a task that waits for the child; a refusal is the service's error.
pub(super) fn complete(
    req: &TaskRequest,
    started: Result<Started, (String, String)>,
    rng: &mut dyn FnMut() -> u64,
) -> TaskOutcome {
    let started = match started {
        Ok(s) => s,
        Err((error, cause)) => return failed(&error, &cause),
    };
    let request_id = uuid(rng);
    let body_len = format!(
        "{{\"executionArn\":\"{}\",\"startDate\":{}}}",
        started.execution_arn,
        epoch_seconds_text(started.start_date)
    )
    .len();
    let response = json!({
        "ExecutionArn": started.execution_arn,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "connection": ["keep-alive"],
                "Content-Length": [body_len.to_string()],
                "Date": [started.start_date.format("%a, %d %b %Y %H:%M:%S GMT").to_string()],
                "Content-Type": ["application/x-amz-json-1.0"]
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": body_len.to_string(),
                "Content-Type": "application/x-amz-json-1.0",
                "Date": started.start_date.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
                "x-amzn-RequestId": request_id
            },
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StartDate": started.start_date.timestamp_millis(),
    });
    let waits =
        matches!(req.integration, Integration::StatesStartExecutionSync | Integration::StatesStartExecutionSync2);
    if waits && !req.wait_for_task_token {
        TaskOutcome::Submitted(response)
    } else {
        TaskOutcome::Succeeded(response)
    }
}

/// A time as the AWS JSON protocol writes it (epoch seconds, milliseconds as the fraction).
fn epoch_seconds_text(t: DateTime<Utc>) -> String {
    let ms = t.timestamp_millis();
    if ms % 1000 == 0 {
        format!("{}", ms / 1000)
    } else {
        format!("{}", ms as f64 / 1000.0)
    }
}

/// The error a refused StartExecution fails the task with, as AWS names it (the Java SDK's
/// exception and message): `StepFunctions.<Code>Exception`.
pub fn service_error(code: &str, message: &str, rng: &mut dyn FnMut() -> u64) -> (String, String) {
    let request_id = uuid(rng);
    (
        format!("StepFunctions.{code}Exception"),
        format!(
            "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
        ),
    )
}

/// What a `.sync` task reports when its child `child` (of machine `machine_arn`) ended at
/// `stop`: DescribeExecution's shape, or `States.TaskFailed` with that shape as the cause.
pub fn sync_outcome(child: &Execution, machine_arn: &str, stop: DateTime<Utc>, output: SyncOutput) -> TaskOutcome {
    let mut d = Map::new();
    d.insert("ExecutionArn".into(), child.info.execution_arn.clone().into());
    d.insert("Input".into(), child.input_text().into());
    d.insert("InputDetails".into(), json!({"Included": true}));
    d.insert("Name".into(), child.info.name.clone().into());
    match &child.status {
        Status::Succeeded { output: out } => {
            let out = match output {
                SyncOutput::Text => Value::String(out.to_string()),
                SyncOutput::Json => out.clone(),
            };
            d.insert("Output".into(), out);
            d.insert("OutputDetails".into(), json!({"Included": true}));
            d.insert("RedriveCount".into(), 0.into());
            d.insert("RedriveStatus".into(), "NOT_REDRIVABLE".into());
            d.insert("RedriveStatusReason".into(), "Execution is SUCCEEDED and cannot be redriven".into());
        }
        Status::Failed { error, cause } | Status::TimedOut { error, cause } | Status::Aborted { error, cause } => {
            if let Some(c) = cause {
                d.insert("Cause".into(), c.clone().into());
            }
            if let Some(e) = error {
                d.insert("Error".into(), e.clone().into());
            }
        }
        Status::Running => {}
    }
    d.insert("StartDate".into(), child.start_time.timestamp_millis().into());
    d.insert("StateMachineArn".into(), machine_arn.into());
    d.insert("Status".into(), child.status.as_str().into());
    d.insert("StopDate".into(), stop.timestamp_millis().into());
    let shape = Value::Object(sorted(d));
    match child.status {
        Status::Succeeded { .. } => TaskOutcome::Succeeded(shape),
        _ => TaskOutcome::Failed { error: Some("States.TaskFailed".into()), cause: Some(shape.to_string()) },
    }
}

/// Keys in AWS's (alphabetical) order.
fn sorted(m: Map<String, Value>) -> Map<String, Value> {
    let mut v: Vec<(String, Value)> = m.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().collect()
}
