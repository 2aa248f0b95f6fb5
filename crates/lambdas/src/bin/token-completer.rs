//! The API function (it began as the token completer): the whole Step Functions API at `POST /`
//! (AWS JSON 1.0, `stepwise-api`) and SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat at
//! their paths, over the HTTP API (see `stepwise_lambdas::token_completer`).

use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    let rt: &'static stepwise_aws::AwsRuntime = Box::leak(Box::new(stepwise_aws::aws_runtime().await));
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(stepwise_lambdas::token_completer(rt, req).await)
    }))
    .await
}
