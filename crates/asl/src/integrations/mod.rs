//! Task integrations: what a Task state's `Resource` selects, the I/O it needs, and the
//! outcome it reports, with AWS's result shapes.
//!
//! Performing a [`TaskRequest`] is three steps, written once in [`perform`]:
//!
//! 1. [`plan`]: the request becomes a [`Call`], the I/O to do (invoke a function, send a
//!    message, publish), decided without doing it;
//! 2. [`Services::call`]: the one port through which every runtime does that I/O (the durable
//!    runtime over its Lambda/SQS/SNS adapters, the in-memory runner over local functions, the
//!    conformance runner over the recorded cases' handlers);
//! 3. [`complete`]: what the I/O returned becomes the task's outcomes, shaped as AWS shapes
//!    them (the `lambda:invoke` envelope, SQS's and SNS's responses, AWS's error names).
//!
//! Each service is a module of its own ([`lambda`], [`messaging`]) with its planner and
//! completer; [`REGISTRY`] maps optimized-integration resources to them. Adding a service is a
//! module, a row, a [`Call`] variant and the port's handling of it: the stepper only sees
//! [`Integration`] and [`TaskRequest`].

pub mod aws;
pub mod lambda;
pub mod messaging;
pub mod states;

use crate::stepper::{TaskOutcome, TaskRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

pub use lambda::{function_arn, lambda_envelope, spaced_json, FunctionOutcome};

/// The integration a Task state's Resource selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Integration {
    /// A bare Lambda function ARN: the payload is the function's input, the output its result.
    LambdaArn,
    /// `arn:aws:states:::lambda:invoke`: the optimized integration with its response envelope.
    LambdaInvoke,
    /// `arn:aws:states:::sqs:sendMessage`.
    SqsSendMessage,
    /// `arn:aws:states:::sns:publish`.
    SnsPublish,
    /// `arn:aws:states:::states:startExecution`: StartExecution's response.
    StatesStartExecution,
    /// `arn:aws:states:::states:startExecution.sync`: waits for the child; `Output` as text.
    StatesStartExecutionSync,
    /// `arn:aws:states:::states:startExecution.sync:2`: waits for the child; `Output` parsed.
    StatesStartExecutionSync2,
    /// An activity ARN (`arn:aws:states:REGION:ACCOUNT:activity:NAME`): a task for workers.
    Activity,
    /// `arn:aws:states:::dynamodb:getItem` (`putItem`, `updateItem`, `deleteItem`).
    DynamoDb,
    /// `arn:aws:states:::events:putEvents`.
    EventsPutEvents,
    /// `arn:aws:states:::aws-sdk:<service>:<action>`: any action of a service with a model.
    AwsSdk,
    /// Anything else: performing it fails the task with `States.Runtime`.
    Unsupported,
}

/// The optimized integrations, by the part of the Resource after `arn:aws:states:::` (without
/// `.waitForTaskToken`).
pub const REGISTRY: &[(&str, Integration)] = &[
    ("lambda:invoke", Integration::LambdaInvoke),
    ("sqs:sendMessage", Integration::SqsSendMessage),
    ("sns:publish", Integration::SnsPublish),
    ("states:startExecution", Integration::StatesStartExecution),
    ("states:startExecution.sync", Integration::StatesStartExecutionSync),
    ("states:startExecution.sync:2", Integration::StatesStartExecutionSync2),
    ("dynamodb:getItem", Integration::DynamoDb),
    ("dynamodb:putItem", Integration::DynamoDb),
    ("dynamodb:updateItem", Integration::DynamoDb),
    ("dynamodb:deleteItem", Integration::DynamoDb),
    ("events:putEvents", Integration::EventsPutEvents),
];

impl Integration {
    /// Classifies a Resource ARN; also says whether it waits for a task token.
    pub fn of(resource: &str) -> (Integration, bool) {
        if let Some(rest) = resource
            .strip_prefix("arn:aws:states:::")
            .or_else(|| resource.find(":states:::").map(|i| &resource[i + ":states:::".len()..]))
        {
            let (service, wait) = match rest.strip_suffix(".waitForTaskToken") {
                Some(s) => (s, true),
                None => (rest, false),
            };
            if service.starts_with("aws-sdk:") && service.matches(':').count() == 2 && !service.contains(".sync") {
                return (Integration::AwsSdk, wait);
            }
            let i = REGISTRY.iter().find(|(name, _)| *name == service).map_or(Integration::Unsupported, |(_, i)| *i);
            return (i, wait);
        }
        if resource.contains(":lambda:") && resource.contains(":function:") {
            return (Integration::LambdaArn, false);
        }
        if resource.starts_with("arn:") && resource.contains(":states:") && resource.contains(":activity:") {
            return (Integration::Activity, false);
        }
        (Integration::Unsupported, false)
    }

    /// `resourceType` and `resource` as history events name them (`lambda`, `invoke`).
    pub fn names(self, resource: &str) -> (String, String) {
        let tail = resource.rsplit(":::").next().unwrap_or(resource);
        if self == Integration::AwsSdk {
            // `aws-sdk:s3` and `getObject`.
            let (ty, res) = tail.rsplit_once(':').unwrap_or((tail, ""));
            return (ty.to_string(), res.to_string());
        }
        let mut parts = tail.splitn(2, ':');
        let ty = parts.next().unwrap_or_default().to_string();
        let res = parts.next().unwrap_or_default().to_string();
        (ty, res)
    }
}

/// The I/O a task request needs, decided without doing it.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// Invoke a Lambda function.
    Invoke {
        /// Name, partial or full ARN (maybe qualified).
        function: String,
        /// The event.
        payload: Value,
        /// Give up after this long.
        timeout: Option<Duration>,
        /// `InvocationType: Event`: start it and don't wait for its result.
        asynchronous: bool,
    },
    /// SQS SendMessage.
    SendMessage {
        /// `QueueUrl`.
        queue_url: String,
        /// `MessageBody`, serialised when it is JSON.
        body: String,
        /// The other parameters as given (`MessageAttributes`, `DelaySeconds`,
        /// `MessageGroupId`, ...).
        extra: serde_json::Map<String, Value>,
    },
    /// SNS Publish.
    Publish {
        /// `TopicArn` (or `TargetArn`).
        topic_arn: String,
        /// `Message`, serialised when it is JSON.
        message: String,
        /// The other parameters as given (`Subject`, `MessageAttributes`, ...).
        extra: serde_json::Map<String, Value>,
    },
    /// Step Functions StartExecution: a child execution on the same runtime.
    StartExecution {
        /// `StateMachineArn`.
        machine_arn: String,
        /// `Name` (default: a UUID).
        name: Option<String>,
        /// `Input` as JSON text.
        input: String,
        /// The task starting it (a `.sync` one waits for the child's end); the runtime fills
        /// in the parent's ARN.
        parent: states::ParentTask,
    },
    /// Queue an activity task for its workers.
    ScheduleActivity {
        /// The activity ARN.
        activity_arn: String,
        /// The task token workers answer with.
        token: String,
        /// The task's input, JSON text.
        input: String,
    },
    /// Call an AWS service action (DynamoDB, EventBridge, `aws-sdk:*`).
    Aws(aws::AwsCall),
    /// No I/O: the outcome is already known (a malformed request, an unsupported resource).
    Done(TaskOutcome),
}

/// What the I/O of a [`Call`] returned.
#[derive(Debug, Clone, PartialEq)]
pub enum CallResult {
    /// A function's outcome.
    Function(FunctionOutcome),
    /// A message was sent or published (its id, when the service gave one) or refused
    /// (error name, cause).
    Delivered(Result<Option<String>, (String, String)>),
    /// A child execution was started, or StartExecution was refused (error name, cause).
    Started(Result<states::Started, (String, String)>),
    /// An activity task was queued, or could not be (error name, cause).
    Scheduled(Result<(), (String, String)>),
    /// What an AWS service answered.
    Aws(aws::AwsReply),
    /// Nothing was done ([`Call::Done`]).
    Nothing,
}

/// The I/O behind Task states: the one port through which every runtime performs task
/// integrations ([`perform`] calls it).
pub trait Services {
    /// Does the I/O of `call` ([`perform`] never passes [`Call::Done`]). Failures are results
    /// ([`FunctionOutcome::NotFound`], a refused delivery), not errors: they become the task's
    /// outcome.
    fn call(&mut self, call: &Call) -> impl Future<Output = CallResult>;
}

/// Services with no functions: every invocation is `ResourceNotFoundException`, messages are
/// accepted and dropped (an in-memory run keeps no queues or topics). For runs of machines
/// that call nothing, and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFunctions;

impl Services for NoFunctions {
    async fn call(&mut self, call: &Call) -> CallResult {
        match call {
            Call::Invoke { .. } => CallResult::Function(FunctionOutcome::NotFound),
            Call::SendMessage { .. } | Call::Publish { .. } => CallResult::Delivered(Ok(None)),
            Call::StartExecution { .. } => states::not_supported_here(),
            Call::ScheduleActivity { .. } => activities_not_here(),
            Call::Aws(call) => no_aws(call),
            Call::Done(_) => CallResult::Nothing,
        }
    }
}

/// What a runtime that calls no AWS service answers a [`Call::Aws`].
pub fn no_aws(call: &aws::AwsCall) -> CallResult {
    CallResult::Aws(aws::AwsReply::NotSent {
        error: "States.Runtime".into(),
        cause: format!(
            "this runner calls no AWS service ({}:{}): run the state machine with `stepwise run` or `stepwise \
             serve`, which call the endpoint AWS_ENDPOINT_URL names, or AWS",
            call.service, call.action
        ),
    })
}

/// Where the task runs, for ARNs in error messages.
pub struct InvokeContext<'a> {
    /// Region.
    pub region: &'a str,
    /// Account id.
    pub account: &'a str,
    /// The runtime's clock at the call (for response headers), so replays are identical.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Performs a task request: [`plan`], the I/O through `services`, [`complete`].
pub async fn perform<S: Services>(
    req: &TaskRequest,
    ctx: &InvokeContext<'_>,
    services: &mut S,
    rng: &mut (dyn FnMut() -> u64 + Send),
) -> Vec<TaskOutcome> {
    let call = plan(req);
    let result = match &call {
        Call::Done(_) => CallResult::Nothing,
        other => services.call(other).await,
    };
    complete(req, &call, result, ctx, rng)
}

/// Decides the I/O for a task request.
pub fn plan(req: &TaskRequest) -> Call {
    match req.integration {
        Integration::LambdaArn | Integration::LambdaInvoke => lambda::plan(req),
        Integration::SqsSendMessage | Integration::SnsPublish => messaging::plan(req),
        Integration::StatesStartExecution
        | Integration::StatesStartExecutionSync
        | Integration::StatesStartExecutionSync2 => states::plan(req),
        Integration::DynamoDb | Integration::EventsPutEvents | Integration::AwsSdk => aws::plan(req),
        Integration::Activity => Call::ScheduleActivity {
            activity_arn: req.resource.clone(),
            token: req.token.clone().unwrap_or_default(),
            input: req.parameters.to_string(),
        },
        Integration::Unsupported => Call::Done(failed(
            "States.Runtime",
            &format!(
                "stepwise does not support the resource '{}' (supported: Lambda function ARNs, {}, each also with \
                 .waitForTaskToken where AWS allows it)",
                req.resource,
                REGISTRY.iter().map(|(name, _)| format!("arn:aws:states:::{name}")).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// Turns what the I/O returned into what to report to the stepper, in order, with AWS's
/// result shapes.
///
/// A `.waitForTaskToken` request yields `Submitted` only: the result comes later through the
/// token. A function that timed out yields nothing when the stepper holds a timeout timer (the
/// timer reports it).
pub fn complete(
    req: &TaskRequest,
    call: &Call,
    result: CallResult,
    ctx: &InvokeContext,
    rng: &mut dyn FnMut() -> u64,
) -> Vec<TaskOutcome> {
    let outcome = match (call, result) {
        (Call::Done(outcome), _) => Some(outcome.clone()),
        (Call::Invoke { function, asynchronous, .. }, CallResult::Function(f)) => {
            lambda::complete(req, function, *asynchronous, f, ctx, rng)
        }
        (Call::SendMessage { .. } | Call::Publish { .. }, CallResult::Delivered(r)) => {
            Some(messaging::complete(call, r, ctx.now, rng))
        }
        (Call::StartExecution { .. }, CallResult::Started(r)) => Some(states::complete(req, r, rng)),
        // Queued: the task waits for a worker (`Submitted` records ActivityScheduled).
        (Call::ScheduleActivity { .. }, CallResult::Scheduled(Ok(()))) => Some(TaskOutcome::Submitted(Value::Null)),
        (Call::ScheduleActivity { .. }, CallResult::Scheduled(Err((error, cause)))) => Some(failed(&error, &cause)),
        (Call::Aws(call), CallResult::Aws(reply)) => Some(aws::complete(call, reply, ctx)),
        (call, result) => Some(failed(
            "States.Runtime",
            &format!("internal: the result {result:?} does not answer the call {call:?}"),
        )),
    };
    let Some(outcome) = outcome else { return Vec::new() };
    if req.wait_for_task_token {
        return match outcome {
            TaskOutcome::Succeeded(v) => vec![TaskOutcome::Submitted(v)],
            other => vec![other],
        };
    }
    vec![outcome]
}

/// What a runtime without activities (the in-memory runner) answers a
/// [`Call::ScheduleActivity`]: the task fails with `States.Runtime`, saying where they run.
pub fn activities_not_here() -> CallResult {
    CallResult::Scheduled(Err((
        "States.Runtime".into(),
        "activities run on the durable runtime: use `stepwise run` or `stepwise serve`, whose API workers poll \
         with GetActivityTask"
            .into(),
    )))
}

/// A task failure with this error and cause.
pub(crate) fn failed(error: &str, cause: &str) -> TaskOutcome {
    TaskOutcome::Failed { error: Some(error.into()), cause: Some(cause.into()) }
}

/// A version-4 UUID from the random source (request and message ids).
pub fn uuid(rng: &mut dyn FnMut() -> u64) -> String {
    let a = rng();
    let b = rng();
    crate::uuid::v4(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_classified_by_the_registry() {
        assert_eq!(Integration::of("arn:aws:states:::lambda:invoke"), (Integration::LambdaInvoke, false));
        assert_eq!(
            Integration::of("arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
            (Integration::SqsSendMessage, true)
        );
        assert_eq!(Integration::of("arn:aws-cn:states:::sns:publish"), (Integration::SnsPublish, false));
        assert_eq!(Integration::of("arn:aws:lambda:us-east-1:1:function:f"), (Integration::LambdaArn, false));
        assert_eq!(Integration::of("arn:aws:states:::dynamodb:getItem"), (Integration::DynamoDb, false));
        assert_eq!(Integration::of("arn:aws:states:::dynamodb:scan"), (Integration::Unsupported, false));
        assert_eq!(
            Integration::of("arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken"),
            (Integration::AwsSdk, true)
        );
        assert_eq!(
            Integration::AwsSdk.names("arn:aws:states:::aws-sdk:s3:getObject"),
            ("aws-sdk:s3".into(), "getObject".into())
        );
        assert_eq!(
            Integration::LambdaInvoke.names("arn:aws:states:::lambda:invoke"),
            ("lambda".into(), "invoke".into())
        );
    }

    #[test]
    fn unsupported_resources_fail_naming_what_is_supported() {
        let req = TaskRequest {
            frame: 0,
            task: 1,
            state_name: "T".into(),
            resource: "arn:aws:states:::dynamodb:scan".into(),
            integration: Integration::Unsupported,
            wait_for_task_token: false,
            parameters: Value::Null,
            token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            credentials: None,
        };
        let Call::Done(TaskOutcome::Failed { error, cause }) = plan(&req) else { panic!("not done") };
        assert_eq!(error.as_deref(), Some("States.Runtime"));
        let cause = cause.unwrap_or_default();
        assert!(cause.contains("dynamodb:scan") && cause.contains("arn:aws:states:::sns:publish"), "{cause}");
    }
}
