//! The approval callback Lambda function (the sample's ApproveSqsLambda): consumes the approval
//! queue and approves each task with SendTaskSuccess (see `stepwise_lambdas::approval_callback`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    stepwise_lambdas::run_sqs_function(stepwise_lambdas::approval_callback).await
}
