//! The stock-trading sample's CheckStockPriceLambda as a Lambda function (see `stepwise_lambdas::check_stock_price`).

use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    lambda_runtime::run(service_fn(stepwise_lambdas::check_stock_price)).await
}
