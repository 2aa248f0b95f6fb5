//! The stock-trading sample's four functions as Lambda handlers around `stepwise_sample`. A
//! raised error is a Lambda function error whose `errorType` is the sample's
//! `HandlerError::error_type` (so Retry and Catch in the definition can match it).

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use stepwise_sample::HandlerError;
use tracing::{error, info, info_span};

fn run(
    function: &'static str,
    handler: fn(Value) -> Result<Value, HandlerError>,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    // The event carries no execution ARN (bare Lambda resources pass the state input only).
    let span = info_span!("function", function, request_id = %event.context.request_id);
    let _entered = span.enter();
    match handler(event.payload) {
        Ok(result) => {
            info!(result = %result, "done");
            Ok(result)
        }
        Err(e) => {
            error!(error_type = %e.error_type, error = %e.error_message, "raised");
            Err(Diagnostic { error_type: e.error_type, error_message: e.error_message })
        }
    }
}

/// CheckStockPriceLambda: `{"stock_price": 1..=100}`.
pub async fn check_stock_price(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    run("CheckStockPrice", stepwise_sample::check_stock_price, event)
}

/// GenerateBuySellRecommendationLambda: `"buy"` at a `stock_price` of at most 50, else
/// `"sell"`; an event without a numeric `stock_price` raises `InvalidEvent`.
pub async fn generate_buy_sell_recommendation(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    run("GenerateBuySellRecommendation", stepwise_sample::generate_buy_sell_recommendation, event)
}

/// BuyStockLambda: a `"buy"` transaction at the event's `stock_price` (`InvalidEvent` without
/// one).
pub async fn buy_stock(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    run("BuyStock", stepwise_sample::buy_stock, event)
}

/// SellStockLambda: a `"sell"` transaction at the event's `stock_price` (`InvalidEvent` without
/// one).
pub async fn sell_stock(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    run("SellStock", stepwise_sample::sell_stock, event)
}
