//! The stock-trading sample's BuyStockLambda as a Lambda function (see `stepwise_lambdas::buy_stock`).

use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    lambda_runtime::run(service_fn(stepwise_lambdas::buy_stock)).await
}
