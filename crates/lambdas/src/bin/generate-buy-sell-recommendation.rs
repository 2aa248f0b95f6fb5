//! The stock-trading sample's GenerateBuySellRecommendationLambda as a Lambda function (see `stepwise_lambdas::generate_buy_sell_recommendation`).

use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    stepwise_lambdas::init_logging();
    lambda_runtime::run(service_fn(stepwise_lambdas::generate_buy_sell_recommendation)).await
}
