//! The functions of AWS's "Orchestrate Lambda functions" sample (a stock-trading workflow), as
//! plain Rust handlers, so the sample runs locally without Lambda.
//!
//! The workflow (`examples/stock-trading/definition.asl.json`) checks a stock price, turns it
//! into a buy/sell recommendation, asks for human approval through an SQS queue and a task
//! token, buys or sells, and publishes the result to an SNS topic. Its functions:
//!
//! | name | handler | returns |
//! |---|---|---|
//! | `CheckStockPrice` | [`check_stock_price`] | `{"stock_price": 1..=100}` |
//! | `GenerateBuySellRecommendation` | [`generate_buy_sell_recommendation`] | `"buy"` (price <= 50) or `"sell"` |
//! | `BuyStock` | [`buy_stock`] | a transaction record of type `"buy"` |
//! | `SellStock` | [`sell_stock`] | a transaction record of type `"sell"` |
//!
//! The approval callback (the sample's SQS-triggered function) reads the task token from the
//! queue message ([`approval_token`]) and sends it back with [`APPROVAL_OUTPUT`]; only that pure
//! part lives here, the sending is the runtime's.
//!
//! [`substitute`] fills the definition's `${Name}` variables (SAM `DefinitionSubstitutions`);
//! [`pass_chain`] is the benchmarks' plain machine.
#![warn(missing_docs)]

use chrono::{SecondsFormat, Utc};
use rand::Rng;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// A handler's raised exception, as Lambda reports it (`errorType`, `errorMessage`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {error_message}")]
pub struct HandlerError {
    /// `errorType`: the exception's name.
    pub error_type: String,
    /// `errorMessage`.
    pub error_message: String,
}

impl HandlerError {
    /// An error of type `error_type` with `error_message`.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        HandlerError { error_type: error_type.into(), error_message: error_message.into() }
    }
}

/// The error type of events the handlers cannot use (a missing or mistyped field).
pub const INVALID_EVENT: &str = "InvalidEvent";

/// The error type of approval messages without a usable task token.
pub const INVALID_MESSAGE: &str = "InvalidMessage";

/// A handler: an event in, a result or a raised error out.
pub type Handler = fn(Value) -> Result<Value, HandlerError>;

/// A handler behind the generic shape local function routers take (errors as
/// `(errorType, errorMessage)`), so this crate's registry can be handed to one without either
/// crate depending on the other.
pub type DynHandler = Arc<dyn Fn(Value) -> Result<Value, (String, String)> + Send + Sync>;

/// The output the approval callback sends back with the task token (`SendTaskSuccess`'s
/// `output`): the JSON string `"approved"`.
pub const APPROVAL_OUTPUT: &str = "\"approved\"";

/// The sample's CheckStockPriceLambda: `{"stock_price": <random integer 1..=100>}`. The event is
/// ignored.
pub fn check_stock_price(_event: Value) -> Result<Value, HandlerError> {
    let price: u32 = rand::thread_rng().gen_range(1..=100);
    Ok(json!({ "stock_price": price }))
}

/// The sample's GenerateBuySellRecommendationLambda: `"buy"` when the event's `stock_price` is at
/// most 50, `"sell"` otherwise (the state machine stores it at `$.recommended_type`).
pub fn generate_buy_sell_recommendation(event: Value) -> Result<Value, HandlerError> {
    let price = stock_price(&event)?;
    let recommendation = if price.as_f64().is_some_and(|p| p <= 50.0) { "buy" } else { "sell" };
    Ok(Value::String(recommendation.into()))
}

/// The sample's BuyStockLambda: a transaction record of type `"buy"` at the event's
/// `stock_price`.
pub fn buy_stock(event: Value) -> Result<Value, HandlerError> {
    transaction(&event, "buy")
}

/// The sample's SellStockLambda: a transaction record of type `"sell"` at the event's
/// `stock_price`.
pub fn sell_stock(event: Value) -> Result<Value, HandlerError> {
    transaction(&event, "sell")
}

/// The task token in an approval request (the body of the SQS message the `Request Human
/// Approval` state sends: `{"Input": ..., "TaskToken": "..."}`). Errors say whether the body is
/// not JSON, has no `TaskToken`, or has one that is not a non-empty string.
pub fn approval_token(message_body: &str) -> Result<String, HandlerError> {
    let body: Value = serde_json::from_str(message_body)
        .map_err(|e| HandlerError::new(INVALID_MESSAGE, format!("the message body is not JSON: {e}")))?;
    let Value::Object(fields) = body else {
        return Err(HandlerError::new(
            INVALID_MESSAGE,
            format!(
                "the message body must be a JSON object with a 'TaskToken', got {}",
                stepwise_asl::value_type::with_article(&body)
            ),
        ));
    };
    match fields.get("TaskToken") {
        None => Err(HandlerError::new(INVALID_MESSAGE, "the message body has no 'TaskToken'")),
        Some(Value::String(t)) if !t.is_empty() => Ok(t.clone()),
        Some(Value::String(_)) => Err(HandlerError::new(INVALID_MESSAGE, "'TaskToken' is empty")),
        Some(other) => Err(HandlerError::new(
            INVALID_MESSAGE,
            format!("'TaskToken' must be a string, got {}", stepwise_asl::value_type::with_article(other)),
        )),
    }
}

/// The sample's handler registered under `name` (`CheckStockPrice`,
/// `GenerateBuySellRecommendation`, `BuyStock`, `SellStock`).
pub fn handler(name: &str) -> Option<Handler> {
    Some(match name {
        "CheckStockPrice" => check_stock_price,
        "GenerateBuySellRecommendation" => generate_buy_sell_recommendation,
        "BuyStock" => buy_stock,
        "SellStock" => sell_stock,
        _ => return None,
    })
}

/// [`handler`] in the generic shape ([`DynHandler`]) a local function router takes: errors
/// become `(error_type, error_message)`.
pub fn dyn_handler(name: &str) -> Option<DynHandler> {
    let h = handler(name)?;
    Some(Arc::new(move |event| h(event).map_err(|e| (e.error_type, e.error_message))))
}

/// A definition of `n` Pass states in a chain (`S0`, `S1`, ..., the last one ending): the
/// plain-transition workload the benchmarks share (the stepper's in `stepwise-asl`, the durable
/// runtime's in `stepwise-embedded`).
pub fn pass_chain(n: usize) -> Value {
    let mut states = Map::new();
    for i in 0..n {
        let mut s = json!({"Type": "Pass"});
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"StartAt": "S0", "States": states})
}

/// Replaces every `${Name}` in a definition's text with the binding `Name` (SAM's
/// `DefinitionSubstitutions`): strings are inserted as they are, numbers and booleans as their
/// JSON text. `${!Name}` is left as the literal `${Name}`, and `${` not followed by a name and
/// `}` is left alone. An unbound variable, or a binding that is not a string, number or boolean,
/// is an error naming the variable.
pub fn substitute(definition_text: &str, bindings: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(definition_text.len());
    let mut rest = definition_text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        if let Some(literal) = inner.strip_prefix('!').filter(|n| is_variable_name(n)) {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else if is_variable_name(inner) {
            match bindings.get(inner) {
                Some(Value::String(s)) => out.push_str(s),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => out.push_str(&v.to_string()),
                Some(other) => {
                    return Err(format!(
                        "the binding of '{inner}' must be a string, number or boolean, got {}",
                        stepwise_asl::value_type::with_article(other)
                    ))
                }
                None => return Err(format!("the variable '{inner}' is not bound")),
            }
        } else {
            // Not a variable: keep `${` and go on after it.
            out.push_str("${");
            rest = after;
            continue;
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_variable_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

/// The event's `stock_price`, which must be a number.
fn stock_price(event: &Value) -> Result<&Value, HandlerError> {
    let Value::Object(fields) = event else {
        return Err(HandlerError::new(
            INVALID_EVENT,
            format!(
                "the event must be a JSON object with a 'stock_price', got {}",
                stepwise_asl::value_type::with_article(event)
            ),
        ));
    };
    match fields.get("stock_price") {
        Some(p @ Value::Number(_)) => Ok(p),
        Some(other) => Err(HandlerError::new(
            INVALID_EVENT,
            format!("'stock_price' must be a number, got {}", stepwise_asl::value_type::with_article(other)),
        )),
        None => Err(HandlerError::new(INVALID_EVENT, "the event has no 'stock_price'")),
    }
}

fn transaction(event: &Value, kind: &str) -> Result<Value, HandlerError> {
    let price = stock_price(event)?.clone();
    let mut rng = rand::thread_rng();
    let qty: u32 = rng.gen_range(1..=100);
    Ok(json!({
        "id": stepwise_asl::uuid::v4_u128(rng.gen()),
        "price": price,
        "type": kind,
        "qty": qty,
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<Value, HandlerError>) -> HandlerError {
        match r {
            Err(e) => e,
            Ok(v) => panic!("expected an error, got {v}"),
        }
    }

    #[test]
    fn check_stock_price_is_an_integer_from_1_to_100() {
        for _ in 0..500 {
            let out = check_stock_price(json!({})).expect("never fails");
            let fields = out.as_object().expect("an object");
            assert_eq!(fields.len(), 1);
            let p = fields["stock_price"].as_u64().expect("an integer");
            assert!((1..=100).contains(&p), "{p}");
        }
    }

    #[test]
    fn recommendation_buys_at_or_below_50() {
        for (price, want) in [
            (json!(1), "buy"),
            (json!(50), "buy"),
            (json!(50.0), "buy"),
            (json!(50.5), "sell"),
            (json!(51), "sell"),
            (json!(100), "sell"),
        ] {
            assert_eq!(generate_buy_sell_recommendation(json!({"stock_price": price})), Ok(json!(want)), "{price}");
        }
    }

    #[test]
    fn recommendation_rejects_bad_events_naming_the_field() {
        let e = err(generate_buy_sell_recommendation(json!({})));
        assert_eq!(e.error_type, INVALID_EVENT);
        assert!(e.error_message.contains("'stock_price'"), "{e}");
        let e = err(generate_buy_sell_recommendation(json!({"stock_price": "12"})));
        assert_eq!(e.error_message, "'stock_price' must be a number, got a string");
        let e = err(generate_buy_sell_recommendation(json!([1])));
        assert!(e.error_message.contains("'stock_price'") && e.error_message.contains("an array"), "{e}");
    }

    #[test]
    fn transactions_record_the_trade() {
        for (f, kind) in [(buy_stock as Handler, "buy"), (sell_stock as Handler, "sell")] {
            let t = f(json!({"stock_price": 42, "recommended_type": kind})).expect("ok");
            assert_eq!(t["price"], json!(42));
            assert_eq!(t["type"], json!(kind));
            let qty = t["qty"].as_u64().expect("integer qty");
            assert!((1..=100).contains(&qty));
            let id = t["id"].as_str().expect("string id");
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
            assert_eq!(&id[14..15], "4", "{id}");
            let ts = t["timestamp"].as_str().expect("string timestamp");
            assert!(ts.ends_with('Z'), "{ts}");
            chrono::DateTime::parse_from_rfc3339(ts).expect("RFC 3339");
            assert_ne!(f(json!({"stock_price": 42})).expect("ok")["id"], t["id"]);
        }
    }

    #[test]
    fn transactions_reject_bad_events_naming_the_field() {
        for f in [buy_stock as Handler, sell_stock] {
            let e = err(f(json!({"price": 3})));
            assert_eq!(
                (e.error_type.as_str(), e.error_message.as_str()),
                (INVALID_EVENT, "the event has no 'stock_price'")
            );
            let e = err(f(json!({"stock_price": null})));
            assert_eq!(e.error_message, "'stock_price' must be a number, got null");
        }
    }

    #[test]
    fn approval_token_reads_the_message_body() {
        assert_eq!(approval_token(r#"{"Input": {"stock_price": 3}, "TaskToken": "abc"}"#), Ok("abc".into()));
        let e = approval_token("not json").expect_err("not JSON");
        assert_eq!(e.error_type, INVALID_MESSAGE);
        assert!(e.error_message.starts_with("the message body is not JSON"), "{e}");
        let e = approval_token(r#"{"Input": {}}"#).expect_err("no token");
        assert_eq!(e.error_message, "the message body has no 'TaskToken'");
        let e = approval_token(r#"{"TaskToken": 7}"#).expect_err("number");
        assert_eq!(e.error_message, "'TaskToken' must be a string, got a number");
        let e = approval_token(r#"{"TaskToken": ""}"#).expect_err("empty");
        assert_eq!(e.error_message, "'TaskToken' is empty");
        let e = approval_token(r#"["TaskToken"]"#).expect_err("array");
        assert!(e.error_message.contains("'TaskToken'") && e.error_message.contains("an array"), "{e}");
        assert_eq!(serde_json::from_str::<Value>(APPROVAL_OUTPUT).ok(), Some(json!("approved")));
    }

    #[test]
    fn registry_maps_the_sample_names() {
        for name in ["CheckStockPrice", "GenerateBuySellRecommendation", "BuyStock", "SellStock"] {
            assert!(handler(name).is_some(), "{name}");
            assert!(dyn_handler(name).is_some(), "{name}");
        }
        assert!(handler("ApproveSqs").is_none());
        assert!(handler("checkstockprice").is_none());
        let gen = handler("GenerateBuySellRecommendation").expect("registered");
        assert_eq!(gen(json!({"stock_price": 10})), Ok(json!("buy")));
        let dynamic = dyn_handler("BuyStock").expect("registered");
        assert_eq!(dynamic(json!({})).map_err(|e| e.0), Err(INVALID_EVENT.to_string()));
    }

    fn bindings(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn substitute_replaces_bound_variables() {
        let b = bindings(json!({"Fn": "arn:aws:lambda:us-east-1:1:function:f", "N": 3, "B": true}));
        assert_eq!(
            substitute(r#"{"R": "${Fn}", "n": ${N}, "b": ${B}}"#, &b),
            Ok(r#"{"R": "arn:aws:lambda:us-east-1:1:function:f", "n": 3, "b": true}"#.into())
        );
        assert_eq!(substitute("${N}-${N}", &b), Ok("3-3".into()));
        assert_eq!(substitute("no variables", &b), Ok("no variables".into()));
        assert_eq!(substitute("${!Fn} stays", &b), Ok("${Fn} stays".into()));
        assert_eq!(substitute("a ${ b } ${", &b), Ok("a ${ b } ${".into()));
        assert_eq!(substitute("$${N}", &b), Ok("$3".into()));
    }

    #[test]
    fn substitute_names_unbound_variables() {
        let b = bindings(json!({"A": "x", "O": {"k": 1}}));
        assert_eq!(substitute("${A} ${Missing}", &b), Err("the variable 'Missing' is not bound".into()));
        assert_eq!(
            substitute("${O}", &b),
            Err("the binding of 'O' must be a string, number or boolean, got an object".into())
        );
    }
}
