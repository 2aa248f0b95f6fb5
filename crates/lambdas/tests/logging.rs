//! Log lines: JSON objects naming the execution (and the state, where the handler knows it).
//! In a test binary of its own: `tracing` caches per call site whether anyone listens, which a
//! thread-local subscriber in one test cannot rely on while other tests log without one.

mod common;

use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use stepwise_lambdas::{approval_callback, json_subscriber};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn log_lines_are_json_and_name_the_execution_and_state() {
    let captured = Captured::default();
    let writer = captured.clone();
    let _guard = tracing::subscriber::set_default(json_subscriber(move || writer.clone()));
    let (rt, _e) = runtime_with_machine().await;
    let (arn, approval) = waiting_execution(&rt, "logged").await;
    let mut event = sqs_event("sqs-approval.json");
    event.records[0].body = Some(approval.body.clone());
    approval_callback(&rt, event).await;
    drive(&rt).await;

    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("UTF-8");
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let handled: Vec<&Value> = lines.iter().filter(|l| l["message"] == "step message handled").collect();
    assert!(handled.len() >= 6, "{text}");
    for line in &handled {
        assert_eq!(line["span"]["execution_arn"], json!(arn), "{line}");
        assert_eq!(line["level"], "INFO");
        assert!(line["timestamp"].is_string(), "{line}");
    }
    let approved = lines.iter().find(|l| l["message"] == "task approved").expect("the approval is logged");
    assert_eq!(approved["span"]["execution_arn"], json!(arn), "{approved}");
    assert_eq!(approved["span"]["state"], "Request Human Approval", "{approved}");
}
