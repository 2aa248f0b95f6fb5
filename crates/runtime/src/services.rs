//! The durable runtime's side of the integration port: [`PortServices`] does a Task's I/O
//! ([`Call`]) through the runtime's ports — functions through [`Functions`], SQS sends through
//! [`Queue`], SNS publishes through [`Topics`] — for `stepwise_asl::integrations::perform`,
//! which plans the call and shapes the outcome.

use crate::ports::{Functions, Queue, Topics};
use serde_json::Value;
use std::time::Duration;
use stepwise_asl::integrations::{Call, CallResult, FunctionOutcome, Services};

/// A function invocation as a [`Call::Invoke`] asks for it: `asynchronous` (`InvocationType:
/// Event`) does not wait for the function's result.
pub async fn invoke<F: Functions>(
    functions: &F,
    function: &str,
    payload: &Value,
    timeout: Option<Duration>,
    asynchronous: bool,
) -> FunctionOutcome {
    if asynchronous {
        functions.invoke_event(function, payload).await
    } else {
        functions.invoke(function, payload, timeout).await
    }
}

/// A Task's I/O over the runtime's ports, for one outbox action.
pub struct PortServices<'a, Q, T, F> {
    /// Queues (SQS sends).
    pub queue: &'a Q,
    /// Topics (SNS publishes).
    pub topics: &'a T,
    /// Functions (Lambda invocations).
    pub functions: &'a F,
    /// The outbox action's id: a send's deduplication id derives from it, so a redone action
    /// sends nothing new.
    pub action_id: &'a str,
}

impl<Q: Queue, T: Topics, F: Functions> Services for PortServices<'_, Q, T, F> {
    async fn call(&mut self, call: &Call) -> CallResult {
        match call {
            Call::Invoke { function, payload, timeout, asynchronous } => {
                CallResult::Function(invoke(self.functions, function, payload, *timeout, *asynchronous).await)
            }
            Call::SendMessage { queue_url, body } => {
                // The message id is the queue's; the dedup id keeps a redone send single.
                let dedup = format!("{}#send", self.action_id);
                let r = self.queue.send(queue_url, body, Duration::ZERO, Some(&dedup)).await;
                CallResult::Delivered(r.map(Some).map_err(|e| ("SQS.InternalError".to_string(), e.to_string())))
            }
            Call::Publish { topic_arn, message } => {
                let r = self.topics.publish(topic_arn, message).await;
                CallResult::Delivered(r.map(Some).map_err(|e| ("SNS.InternalError".to_string(), e.to_string())))
            }
            Call::Done(_) => CallResult::Nothing,
        }
    }
}
