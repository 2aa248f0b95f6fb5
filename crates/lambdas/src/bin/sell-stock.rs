//! The stock-trading sample's SellStockLambda as a Lambda function (see `stepwise_lambdas::sell_stock`).

use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    lambda_runtime::run(service_fn(stepwise_lambdas::sell_stock)).await
}
