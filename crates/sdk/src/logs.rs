//! Execution logs to CloudWatch Logs: the runtime's `ExecutionLogs` port on AWS, through this
//! crate's client (the `logs` service's model; no SDK crate of its own to compile).
//!
//! Each process writes to one stream per log group, `states/<machine>/<date>/<process id>`
//! (created on first use; a stream that already exists is fine), with `PutLogEvents`. A
//! failure is printed and the step goes on: logs are best effort, as the port says.

use crate::client::SdkClient;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use stepwise_runtime::logs::{group_name, ExecutionLogs};

/// The CloudWatch Logs adapter.
pub struct CloudWatchLogs {
    client: Arc<SdkClient>,
    instance: String,
    streams: Mutex<HashSet<String>>,
}

impl CloudWatchLogs {
    /// Logs sent with `client`.
    pub fn new(client: Arc<SdkClient>) -> Self {
        let instance = stepwise_asl::uuid::v4(rand::random(), rand::random());
        CloudWatchLogs { client, instance, streams: Mutex::new(HashSet::new()) }
    }

    /// The stream this process writes an execution's records to.
    fn stream(&self, execution_arn: &str) -> String {
        let machine = execution_arn.split(':').nth(6).unwrap_or("machine");
        let date = chrono::Utc::now().format("%Y/%m/%d");
        format!("states/{machine}/{date}/{}", self.instance)
    }

    async fn send(&self, group: &str, stream: &str, records: Vec<Value>) -> Result<(), String> {
        let key = format!("{group}\u{0}{stream}");
        let known = self.streams.lock().map(|s| s.contains(&key)).unwrap_or(false);
        if !known {
            let input = json!({"LogGroupName": group, "LogStreamName": stream});
            match self.client.call("cloudwatchlogs", "createLogStream", &input, None).await {
                Ok(Ok(_)) => {}
                Ok(Err(refusal)) if refusal.code.contains("ResourceAlreadyExists") => {}
                Ok(Err(refusal)) => return Err(format!("{}: {}", refusal.code, refusal.message)),
                Err(e) => return Err(e.to_string()),
            }
            if let Ok(mut s) = self.streams.lock() {
                s.insert(key);
            }
        }
        let events: Vec<Value> = records
            .iter()
            .map(|r| {
                let ms = r["event_timestamp"].as_str().and_then(|t| t.parse::<i64>().ok()).unwrap_or_default();
                json!({"Timestamp": ms, "Message": r.to_string()})
            })
            .collect();
        let input = json!({"LogGroupName": group, "LogStreamName": stream, "LogEvents": events});
        match self.client.call("cloudwatchlogs", "putLogEvents", &input, None).await {
            Ok(Ok((answer, _))) => match answer.get("RejectedLogEventsInfo") {
                Some(rejected) if !rejected.is_null() => Err(format!("events rejected: {rejected}")),
                _ => Ok(()),
            },
            Ok(Err(refusal)) => Err(format!("{}: {}", refusal.code, refusal.message)),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl ExecutionLogs for CloudWatchLogs {
    fn write<'a>(
        &'a self,
        log_group_arn: &'a str,
        execution_arn: &'a str,
        records: Vec<Value>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let group = group_name(log_group_arn);
            let stream = self.stream(execution_arn);
            if let Err(e) = self.send(group, &stream, records).await {
                eprintln!("stepwise: execution log records for {group} were not written: {e}");
            }
        })
    }
}
