//! StartExecution, shared by the HTTP and SQS ways in: the request in the Step Functions API
//! shape, its validation, and AWS's idempotency rule for a repeated name.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepwise_asl::stepper::Status;
use stepwise_runtime::aws::null_member;
use stepwise_runtime::ports::{Clock, Functions, Queue, Store, Topics};
use stepwise_runtime::{Error, Invalid, Runtime};
use tracing::{info, Span};

/// A StartExecution request (`{"stateMachineArn", "name"?, "input"?}`), as the Step Functions
/// API takes it. `input` is JSON text as in the API (`"{\"a\": 1}"`); any other JSON value is
/// taken as the input itself, for convenience. No input is `{}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartExecutionInput {
    /// The state machine to run (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machine_arn: Option<String>,
    /// The execution name (default: a UUID, or the SQS message id on the queue path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The execution input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

/// What was started: the execution ARN and its start date.
pub struct Started {
    /// The execution ARN.
    pub arn: String,
    /// Its start date (the stored one, for a repeated start).
    pub start: DateTime<Utc>,
}

impl StartExecutionInput {
    /// The execution input as a JSON value (`InvalidExecutionInput` when a string input is not
    /// JSON).
    fn input_value(&self) -> Result<Value, Error> {
        match &self.input {
            None | Some(Value::Null) => Ok(Value::Object(Default::default())),
            Some(Value::String(text)) => serde_json::from_str(text).map_err(|e| {
                Error::invalid(Invalid::ExecutionInput, format!("Invalid State Machine Execution Input: '{e}'"))
            }),
            Some(other) => Ok(other.clone()),
        }
    }
}

/// Starts the execution `req` asks for, named `req.name` or `default_name`. A repeated start
/// with the same name and input is not an error (as AWS: the original execution is returned)
/// when the execution is still running, or, with `closed_too`, whatever its status (the SQS
/// path, where a redelivered message repeats a start that went through).
pub async fn start<S, Q, T, F, C>(
    rt: &Runtime<S, Q, T, F, C>,
    req: &StartExecutionInput,
    default_name: impl FnOnce() -> String,
    closed_too: bool,
) -> Result<Started, Error>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    let machine_arn =
        req.state_machine_arn.as_deref().ok_or_else(|| Error::validation(null_member("stateMachineArn")))?;
    let name = req.name.clone().unwrap_or_else(default_name);
    let input = req.input_value()?;
    // The text as sent, shown verbatim by DescribeExecution and the history (as AWS does).
    let text = match &req.input {
        Some(Value::String(t)) => Some(t.clone()),
        _ => None,
    };
    match rt.start_execution_with_date(machine_arn, &name, input.clone(), text.clone()).await {
        Ok((arn, start)) => {
            Span::current().record("execution_arn", arn.as_str());
            info!(name = %name, "execution started");
            Ok(Started { arn, start })
        }
        Err(Error::AlreadyExists { arn }) => {
            Span::current().record("execution_arn", arn.as_str());
            if let Some(stored) = rt.find_execution(&arn).await? {
                let running = matches!(stored.execution.status, Status::Running);
                // AWS: the same name and the same input (as text: the request is compared).
                let same = match &text {
                    Some(t) => stored.execution.input_text() == *t,
                    None => stored.execution.input == input,
                };
                if same && (running || closed_too) {
                    info!(name = %name, "execution already started with this input");
                    return Ok(Started { arn, start: stored.execution.start_time });
                }
            }
            Err(Error::AlreadyExists { arn })
        }
        Err(e) => Err(e),
    }
}
