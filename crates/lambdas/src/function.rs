//! The `main` of the SQS-triggered functions on AWS.

use crate::{init_logging, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::future::Future;
use std::pin::Pin;
use stepwise_aws::AwsRuntime;

/// Runs `handler` ([`crate::step_driver`], [`crate::approval_callback`]) as an SQS-triggered
/// Lambda function: logging installed ([`init_logging`]), the runtime on the AWS adapters built
/// once per container (clients only, no requests) and borrowed by every invocation, as
/// aws-lambda-rust-runtime's basic-shared-resource example does.
pub async fn run_sqs_function(handler: impl AsyncFn(&AwsRuntime, SqsEvent) -> SqsBatchResponse) -> Result<(), Error> {
    init_logging();
    let runtime = stepwise_aws::aws_runtime().await;
    let (rt, handler) = (&runtime, &handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        // Boxed: inlined in `main`'s future, the handlers' deeply nested futures overflow the
        // compiler's query depth when it computes that future's layout.
        let handled: Pin<Box<dyn Future<Output = SqsBatchResponse> + '_>> = Box::pin(handler(rt, event.payload));
        async move { Ok::<SqsBatchResponse, Error>(handled.await) }
    }))
    .await
}
