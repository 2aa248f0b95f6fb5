//! The approval callback Lambda function (the sample's ApproveSqsLambda): consumes the approval
//! queue and approves each task with SendTaskSuccess (see `stepwise_lambdas::approval_callback`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use stepwise_lambdas::{SqsBatchResponse, SqsEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    let rt: &'static stepwise_aws::AwsRuntime = Box::leak(Box::new(stepwise_aws::aws_runtime().await));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(stepwise_lambdas::approval_callback(rt, event.payload).await)
    }))
    .await
}
