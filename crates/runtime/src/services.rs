//! The durable runtime's side of the integration port: [`PortServices`] does a Task's I/O
//! ([`Call`]) through the runtime's ports — functions through [`Functions`], SQS sends through
//! [`Queue`], SNS publishes through [`Topics`], child executions through the runtime itself
//! ([`SelfCalls`]) — for `stepwise_asl::integrations::perform`, which plans the call and shapes
//! the outcome.

use crate::ports::{Functions, Queue, Topics};
use crate::Error;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use stepwise_asl::integrations::aws::{AwsAnswer, AwsCall, AwsFault, AwsReply, Flavour, Identity};
use stepwise_asl::integrations::states::{self, ParentTask, Started};
use stepwise_asl::integrations::{Call, CallResult, FunctionOutcome, Services};

/// What [`AwsCalls::get_object`] gives: the bytes, or `(error, cause)`.
pub type ObjectBytes<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, (String, String)>> + Send + 'a>>;

/// The AWS services a runtime calls over the network: DynamoDB, EventBridge and any
/// `aws-sdk:*` action (`stepwise-sdk` implements it from the services' models). Boxed futures
/// keep it object-safe: a runtime holds one whatever its other ports are.
pub trait AwsCalls: Send + Sync {
    /// Calls the action; refusals and transport failures are replies, not errors.
    fn call<'a>(&'a self, call: &'a AwsCall) -> Pin<Box<dyn Future<Output = AwsReply> + Send + 'a>>;

    /// An S3 object's bytes as stored (an inventory's gzipped CSV files); `(error, cause)`
    /// as a task would report the refusal.
    fn get_object<'a>(&'a self, bucket: &'a str, key: &'a str, identity: Option<&'a Identity>) -> ObjectBytes<'a> {
        let _ = (bucket, key, identity);
        Box::pin(async { Err(("States.Runtime".to_string(), "no AWS endpoint is configured".to_string())) })
    }

    /// Whether Task SQS sends (`service` = `sqs`) and SNS publishes (`sns`) go to this
    /// service's endpoint instead of the runtime's own queues and topics (an endpoint was
    /// configured for it, e.g. a local emulator).
    fn routes(&self, service: &str) -> bool {
        let _ = service;
        false
    }

    /// Checks a TestState mocked `result` against the output the API a Task's `resource`
    /// calls answers with (types, enums, lengths and ranges; with `strict`, required fields):
    /// `Err` with what is wrong (`Field 'X' must be a string`). Without the service's model,
    /// every result passes.
    fn check_result(&self, resource: &str, result: &serde_json::Value, strict: bool) -> Result<(), String> {
        let _ = (resource, result, strict);
        Ok(())
    }
}

/// No AWS services: the tasks fail with `States.Runtime`, saying how to configure them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAws;

impl AwsCalls for NoAws {
    fn call<'a>(&'a self, call: &'a AwsCall) -> Pin<Box<dyn Future<Output = AwsReply> + Send + 'a>> {
        Box::pin(async move {
            match stepwise_asl::integrations::no_aws(call) {
                CallResult::Aws(reply) => reply,
                _ => AwsReply::NotSent { error: "States.Runtime".into(), cause: "no AWS services".into() },
            }
        })
    }
}

/// The Task calls the runtime answers itself: child executions (`states:startExecution`) and
/// activity tasks. The futures are boxed because starting an execution performs integrations,
/// which may start executions.
pub trait SelfCalls: Sync {
    /// Starts an execution of `machine_arn` named `name` with input text `input`, started by
    /// `parent`. Starting the same child for the same task again (a redone action) answers the
    /// child already started.
    fn start_child<'a>(
        &'a self,
        machine_arn: &'a str,
        name: &'a str,
        input: &'a str,
        parent: ParentTask,
    ) -> Pin<Box<dyn Future<Output = Result<Started, Error>> + Send + 'a>>;

    /// Queues a task of activity `activity_arn` for its workers (`dedup` keeps a redone
    /// schedule single); `ActivityDoesNotExist` when there is no such activity.
    fn schedule_activity<'a>(
        &'a self,
        activity_arn: &'a str,
        token: &'a str,
        input: &'a str,
        dedup: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

    /// Calls an action of the runtime's own Step Functions API for an `aws-sdk:sfn:*` task
    /// (`input` and the answer in Step Functions' PascalCase names): the state machines and
    /// executions such a task means are this runtime's, not another service's.
    fn sfn<'a>(
        &'a self,
        action: &'a str,
        input: &'a Value,
    ) -> Pin<Box<dyn Future<Output = Result<Value, Error>> + Send + 'a>>;
}

/// A function invocation as a [`Call::Invoke`] asks for it, made as `identity` (the
/// execution's role, for adapters that call Lambda): `asynchronous` (`InvocationType: Event`)
/// does not wait for the function's result.
pub async fn invoke<F: Functions>(
    functions: &F,
    function: &str,
    payload: &Value,
    timeout: Option<Duration>,
    asynchronous: bool,
    identity: Option<&Identity>,
) -> FunctionOutcome {
    functions.invoke_as(function, payload, timeout, asynchronous, identity).await
}

/// A Task's I/O over the runtime's ports, for one outbox action.
pub struct PortServices<'a, Q, T, F> {
    /// Queues (SQS sends).
    pub queue: &'a Q,
    /// Topics (SNS publishes).
    pub topics: &'a T,
    /// Functions (Lambda invocations).
    pub functions: &'a F,
    /// AWS services called over the network.
    pub aws: &'a dyn AwsCalls,
    /// Child executions.
    pub runtime: &'a dyn SelfCalls,
    /// The execution whose task this is.
    pub execution_arn: &'a str,
    /// Who the task's calls are made as (the execution's role), if anyone.
    pub identity: Option<&'a Identity>,
    /// The outbox action's id: a send's deduplication id derives from it, so a redone action
    /// sends nothing new.
    pub action_id: &'a str,
    /// A failure of the runtime itself (storage, messaging) while doing the call: not the
    /// task's outcome; the step fails and is tried again.
    pub failure: Option<Error>,
}

impl<Q: Queue, T: Topics, F: Functions> Services for PortServices<'_, Q, T, F> {
    async fn call(&mut self, call: &Call) -> CallResult {
        match call {
            Call::Invoke { function, payload, timeout, asynchronous } => {
                let asynchronous = *asynchronous;
                let outcome = invoke(self.functions, function, payload, *timeout, asynchronous, self.identity).await;
                CallResult::Function(outcome)
            }
            Call::SendMessage { queue_url, body, extra } if self.aws.routes("sqs") => {
                let mut input = serde_json::json!({"QueueUrl": queue_url, "MessageBody": body});
                input.as_object_mut().into_iter().for_each(|o| o.extend(extra.clone()));
                let reply = self.aws.call(&routed("sqs", "sendMessage", input, self.identity)).await;
                CallResult::Delivered(delivered("sqs", reply))
            }
            Call::Publish { topic_arn, message, extra } if self.aws.routes("sns") => {
                let mut input = serde_json::json!({"TopicArn": topic_arn, "Message": message});
                input.as_object_mut().into_iter().for_each(|o| o.extend(extra.clone()));
                let reply = self.aws.call(&routed("sns", "publish", input, self.identity)).await;
                CallResult::Delivered(delivered("sns", reply))
            }
            Call::Aws(call) if call.service == "sfn" => {
                let reply = match self.runtime.sfn(&call.action, &call.input).await {
                    Ok(output) => AwsReply::Answer(AwsAnswer {
                        status: 200,
                        request_id: derived_uuid(&format!("{}#sfn", self.action_id)),
                        body: output.to_string(),
                        output,
                    }),
                    Err(e) if e.is_client_error() => AwsReply::Fault(AwsFault {
                        status: 400,
                        code: e.code().to_string(),
                        message: e.message(),
                        request_id: derived_uuid(&format!("{}#sfn", self.action_id)),
                        extended_request_id: None,
                        exception: Some(e.code().to_string()),
                        sdk_name: "Sfn".into(),
                    }),
                    Err(e) => {
                        let reply = AwsReply::NotSent { error: "States.Runtime".into(), cause: e.to_string() };
                        self.failure = Some(e);
                        reply
                    }
                };
                CallResult::Aws(reply)
            }
            Call::Aws(call) if call.identity.is_none() && self.identity.is_some() => {
                let call = AwsCall { identity: self.identity.cloned(), ..call.clone() };
                CallResult::Aws(self.aws.call(&call).await)
            }
            Call::Aws(call) => CallResult::Aws(self.aws.call(call).await),
            Call::SendMessage { queue_url, body, extra } => {
                // The message id is the queue's; the dedup id keeps a redone send single.
                let dedup = format!("{}#send", self.action_id);
                let delay =
                    Duration::from_secs(extra.get("DelaySeconds").and_then(Value::as_u64).unwrap_or(0).min(900));
                let r = self.queue.send(queue_url, body, delay, Some(&dedup)).await;
                CallResult::Delivered(r.map(Some).map_err(|e| ("SQS.InternalError".to_string(), e.to_string())))
            }
            Call::Publish { topic_arn, message, .. } => {
                let r = self.topics.publish(topic_arn, message).await;
                CallResult::Delivered(r.map(Some).map_err(|e| ("SNS.InternalError".to_string(), e.to_string())))
            }
            Call::StartExecution { machine_arn, name, input, parent } => {
                // Without a name, one derived from the action: a redone action names the same
                // child (and finds it started).
                let name = match name {
                    Some(n) => n.clone(),
                    None => derived_uuid(self.action_id),
                };
                let parent = ParentTask { execution_arn: self.execution_arn.to_string(), ..parent.clone() };
                match self.runtime.start_child(machine_arn, &name, input, parent).await {
                    Ok(started) => CallResult::Started(Ok(started)),
                    Err(e) if e.is_client_error() => CallResult::Started(Err(states::service_error(
                        e.code(),
                        &e.message(),
                        &mut rand::random::<u64>,
                    ))),
                    Err(e) => {
                        let answer = CallResult::Started(Err(("States.Runtime".into(), e.to_string())));
                        self.failure = Some(e);
                        answer
                    }
                }
            }
            Call::ScheduleActivity { activity_arn, token, input } => {
                let dedup = format!("{}#activity", self.action_id);
                match self.runtime.schedule_activity(activity_arn, token, input, &dedup).await {
                    Ok(()) => CallResult::Scheduled(Ok(())),
                    Err(Error::NotFound { .. }) => CallResult::Scheduled(Err((
                        "States.Runtime".into(),
                        format!("The activity {activity_arn} does not exist."),
                    ))),
                    Err(e) => {
                        let answer = CallResult::Scheduled(Err(("States.Runtime".into(), e.to_string())));
                        self.failure = Some(e);
                        answer
                    }
                }
            }
            Call::Done(_) => CallResult::Nothing,
        }
    }
}

/// An SQS send or SNS publish made through the AWS port, as `identity`.
fn routed(service: &str, action: &str, input: Value, identity: Option<&Identity>) -> AwsCall {
    AwsCall {
        service: service.into(),
        action: action.into(),
        input,
        role: None,
        identity: identity.cloned(),
        flavour: Flavour::Optimized,
    }
}

/// A routed send's message id, or its refusal as the Java SDK v1 names it (`SQS.<Code>`,
/// unmodelled codes `SQS.AmazonSQSException`), as the optimized integrations report.
fn delivered(service: &str, reply: AwsReply) -> Result<Option<String>, (String, String)> {
    match reply {
        AwsReply::Answer(a) => Ok(a.output.get("MessageId").and_then(Value::as_str).map(String::from)),
        AwsReply::NotSent { error, cause } => Err((error, cause)),
        AwsReply::Fault(f) => Err(stepwise_asl::integrations::aws::v1_error(service, &f)),
    }
}

/// A version-4 UUID made from the SHA-256 of `seed`.
fn derived_uuid(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(seed.as_bytes());
    let word = |i: usize| d[i..i + 8].iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    stepwise_asl::uuid::v4(word(0), word(8))
}
