//! Test support shared by the stepwise test suites (a dev-dependency only, never published).
//!
//! - [`endpoint`] and [`unique`]: the local AWS endpoint the AWS tests need (skipped without
//!   it, failed under CI) and names no earlier run used;
//! - [`invoke`]: a local server speaking Lambda's Invoke API, for functions the AWS adapters
//!   call;
//! - [`stock_trading_definition`]: the stock-trading example definition with its bindings;
//! - [`masked_history`]: an execution's history with what is random by design masked, to
//!   compare runs (the fault tests);
//! - [`aws`] (feature `aws`): the AWS adapters' test setup (a fresh table, a runtime whose
//!   Lambda calls go to a local Invoke API server).
#![warn(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod invoke;

use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use stepwise_runtime::ports::{Clock, Functions, Queue, Store, Topics};
use stepwise_runtime::Runtime;

pub use invoke::{http_server, invoke_server, Handler, Reply, Request, Route};

/// The local AWS endpoint, or `None` (with a notice) when it is not configured. Under CI a
/// missing endpoint fails the test instead: the AWS adapters must not go untested there.
pub fn endpoint() -> Option<String> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "AWS_ENDPOINT_URL is not set: the AWS adapter tests need a local AWS endpoint \
             (scripts/test.sh starts moto server and sets it)"
        ),
        _ => {
            // Straight to the process's stderr (the test harness captures `eprintln!`), once.
            static NOTICE: std::sync::Once = std::sync::Once::new();
            NOTICE.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: skipping the AWS adapter tests: AWS_ENDPOINT_URL is not set \
                     (start `.venv/bin/moto_server -H 127.0.0.1 -p PORT` and export AWS_ENDPOINT_URL=http://127.0.0.1:PORT)"
                );
            });
            None
        }
    }
}

/// A name no earlier run used (tables, queues and topics of a server that is not reset).
pub fn unique(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("stepwise-{label}-{:x}-{}-{}", nanos, std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The repository's `examples/stock-trading` folder.
fn stock_trading_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/stock-trading")
}

/// The text of the stock-trading example definition with the example bindings substituted,
/// `overrides` (name, value) replacing or adding bindings (a run's own queue URL and topic ARN).
pub fn stock_trading_definition_text(overrides: &[(&str, &str)]) -> String {
    let dir = stock_trading_dir();
    let text = std::fs::read_to_string(dir.join("definition.asl.json")).expect("example definition");
    let mut bindings: Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bindings.json")).expect("bindings"))
            .expect("bindings json");
    for (name, value) in overrides {
        bindings.insert(name.to_string(), Value::from(*value));
    }
    stepwise_sample::substitute(&text, &bindings).expect("substitute")
}

/// [`stock_trading_definition_text`] as JSON.
pub fn stock_trading_definition(overrides: &[(&str, &str)]) -> Value {
    serde_json::from_str(&stock_trading_definition_text(overrides)).expect("definition json")
}

/// The keys whose values are random by design: request and message ids, tokens and what is
/// computed from them, timestamps (and the HTTP `Date` header), trace ids, Map Run ARNs, and a
/// run's own queue and topic.
const MASKED: &[&str] = &[
    "TaskToken",
    "Date",
    "mapRunArn",
    "MD5OfMessageBody",
    "MessageId",
    "RequestId",
    "x-amzn-RequestId",
    "X-Amzn-Trace-Id",
    "timestamp",
    "QueueUrl",
    "TopicArn",
];

/// Replaces the values of the [`MASKED`] keys with `"<masked>"`, at any depth, in JSON text
/// (a string starting with `{`) too.
pub fn mask(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if MASKED.contains(&k.as_str()) {
                    *x = json!("<masked>");
                } else {
                    mask(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask),
        Value::String(s) if s.starts_with('{') => {
            if let Ok(mut inner) = serde_json::from_str::<Value>(s) {
                mask(&mut inner);
                *s = inner.to_string();
            }
        }
        _ => {}
    }
}

/// The execution's history as AWS writes it, [`mask`]ed.
pub async fn masked_history<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock>(
    rt: &Runtime<S, Q, T, F, C>,
    arn: &str,
) -> Vec<Value> {
    rt.store()
        .history(arn)
        .await
        .expect("history")
        .iter()
        .map(|e| {
            let mut v = e.to_aws_json();
            mask(&mut v);
            v
        })
        .collect()
}
