//! The step driver Lambda function: consumes the step queue, one transition per record, with
//! partial batch failures (see `stepwise_lambdas::step_driver`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    stepwise_lambdas::run_sqs_function(stepwise_lambdas::step_driver).await
}
