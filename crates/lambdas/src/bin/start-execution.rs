//! The start-execution Lambda function: StartExecution from the HTTP API (`POST /executions`)
//! and from the start queue, told apart by the event (see
//! `stepwise_lambdas::start_execution_event`). On its cold start it registers the deployment's
//! state machine from its environment (`stepwise_lambdas::register_machine_from_env`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    // Built once per container (clients only, no requests) and borrowed by every
    // invocation, as aws-lambda-rust-runtime's basic-shared-resource example does.
    let runtime = stepwise_aws::aws_runtime().await;
    let rt = &runtime;
    if let Err(e) = stepwise_lambdas::register_machine_from_env(rt).await {
        tracing::error!(error = %e, code = e.code(), "the state machine could not be registered");
        return Err(e.into());
    }
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        stepwise_lambdas::start_execution_event(rt, event.payload)
    }))
    .await
}
