//! The approval callback Lambda function (the sample's ApproveSqsLambda): consumes the approval
//! queue and approves each task with SendTaskSuccess (see `stepwise_lambdas::approval_callback`).

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
        Ok::<SqsBatchResponse, Error>(stepwise_lambdas::approval_callback(rt, event.payload).await)
    }))
    .await
}
