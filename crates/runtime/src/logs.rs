//! Execution logs: a state machine's `loggingConfiguration` sends its executions' history
//! events, as Step Functions writes them to CloudWatch Logs, to a log group.
//!
//! A record is one history event in Step Functions' log format: `id`, `type`, `details` (the
//! event's details; without `input`/`output` unless `includeExecutionData`),
//! `previous_event_id`, `event_timestamp` (epoch milliseconds), `execution_arn`,
//! `redrive_count` — every value a string, in that order. The level picks the events: `ALL`
//! every one, `ERROR` the failures, `FATAL` the execution's end when it fails, `OFF` none.
//! Where records go is a port ([`ExecutionLogs`]): CloudWatch Logs on AWS, JSON lines in a
//! file (or stdout) locally.

use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use stepwise_asl::history::HistoryEvent;

/// Where a machine's execution log records go.
pub trait ExecutionLogs: Send + Sync {
    /// Writes records to the log group `log_group_arn` (`arn:...:log-group:NAME:*`), in order,
    /// for the execution `execution_arn`. Best effort: a lost record never fails a step.
    fn write<'a>(
        &'a self,
        log_group_arn: &'a str,
        execution_arn: &'a str,
        records: Vec<Value>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// The event types `ERROR` logs (AWS's list for the level).
const ERROR_EVENTS: &[&str] = &[
    "ExecutionAborted",
    "ExecutionFailed",
    "ExecutionTimedOut",
    "FailStateEntered",
    "LambdaFunctionFailed",
    "LambdaFunctionScheduleFailed",
    "LambdaFunctionStartFailed",
    "LambdaFunctionTimedOut",
    "MapStateAborted",
    "MapStateFailed",
    "MapIterationAborted",
    "MapIterationFailed",
    "MapRunAborted",
    "MapRunFailed",
    "ParallelStateAborted",
    "ParallelStateFailed",
    "TaskFailed",
    "TaskStartFailed",
    "TaskStateAborted",
    "TaskSubmitFailed",
    "TaskTimedOut",
    "WaitStateAborted",
    "ActivityFailed",
    "ActivityScheduleFailed",
    "ActivityTimedOut",
];

/// The event types `FATAL` logs.
const FATAL_EVENTS: &[&str] = &["ExecutionAborted", "ExecutionFailed", "ExecutionTimedOut"];

/// A machine's logging configuration, as the driver applies it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// ALL, ERROR or FATAL.
    pub level: String,
    /// Whether records carry inputs and outputs.
    pub include_data: bool,
    /// The log group's ARN.
    pub group: String,
}

impl LogConfig {
    /// The configuration of a `loggingConfiguration` value; `None` when it logs nothing.
    pub fn of(v: &Value) -> Option<LogConfig> {
        let level = v.get("level").and_then(Value::as_str).unwrap_or("OFF");
        let group = v.pointer("/destinations/0/cloudWatchLogsLogGroup/logGroupArn").and_then(Value::as_str)?;
        if level == "OFF" {
            return None;
        }
        Some(LogConfig {
            level: level.to_string(),
            include_data: v.get("includeExecutionData").and_then(Value::as_bool).unwrap_or(false),
            group: group.to_string(),
        })
    }

    fn logs(&self, event_type: &str) -> bool {
        match self.level.as_str() {
            "ALL" => true,
            "ERROR" => ERROR_EVENTS.contains(&event_type),
            "FATAL" => FATAL_EVENTS.contains(&event_type),
            _ => false,
        }
    }

    /// The records of `events` this configuration logs.
    pub fn records(&self, execution_arn: &str, redrive_count: u32, events: &[HistoryEvent]) -> Vec<Value> {
        events
            .iter()
            .filter(|e| self.logs(e.event_type.as_ref()))
            .map(|e| {
                let api = e.to_api_json(self.include_data);
                let mut details = api
                    .as_object()
                    .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, d)| d.clone()))
                    .unwrap_or_else(|| Value::Object(Map::new()));
                if let (false, Some(d)) = (self.include_data, details.as_object_mut()) {
                    d.remove("inputDetails");
                    d.remove("outputDetails");
                }
                let mut r = Map::new();
                r.insert("id".into(), e.id.to_string().into());
                r.insert("type".into(), e.event_type.as_ref().to_string().into());
                r.insert("details".into(), details);
                r.insert("previous_event_id".into(), e.previous_event_id.to_string().into());
                r.insert("event_timestamp".into(), e.timestamp.timestamp_millis().to_string().into());
                r.insert("execution_arn".into(), execution_arn.into());
                r.insert("redrive_count".into(), redrive_count.to_string().into());
                Value::Object(r)
            })
            .collect()
    }
}

/// A log group's name from its ARN (`arn:aws:logs:R:A:log-group:NAME:*` → `NAME`).
pub fn group_name(arn: &str) -> &str {
    let rest = arn.split_once(":log-group:").map_or(arn, |(_, r)| r);
    rest.strip_suffix(":*").unwrap_or(rest)
}
