//! The API function: the whole Step Functions API at `POST /`
//! (AWS JSON 1.0, `stepwise-api`) and SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat at
//! their paths, over the HTTP API (see `stepwise_lambdas::api_function`).

use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    // Built once per container (clients only, no requests) and borrowed by every
    // invocation, as aws-lambda-rust-runtime's basic-shared-resource example does.
    let runtime = stepwise_aws::aws_runtime().await;
    let rt = &runtime;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(stepwise_lambdas::api_function(rt, req).await)
    }))
    .await
}
