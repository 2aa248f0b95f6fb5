//! The step driver Lambda function: consumes the step queue, one transition per record, with
//! partial batch failures (see `stepwise_lambdas::step_driver`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stepwise_lambdas::{SqsBatchResponse, SqsEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    // Built once per container (clients only, no requests) and borrowed by every
    // invocation, as aws-lambda-rust-runtime's basic-shared-resource example does.
    let runtime = stepwise_aws::aws_runtime().await;
    let rt = &runtime;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(stepwise_lambdas::step_driver(rt, event.payload).await)
    }))
    .await
}
