//! Step Functions' CloudWatch metrics of a transition, as embedded metric format (EMF) records:
//! the step driver prints them as log lines and CloudWatch Logs turns them into metrics, with no
//! PutMetricData call on the step's path.
//!
//! The metrics are those Step Functions publishes (under `AWS/States`; ours go to the namespace
//! [`NAMESPACE`], since `AWS/` namespaces are AWS's own): per state machine (dimension
//! `StateMachineArn`) `ExecutionsStarted`, `ExecutionsSucceeded`, `ExecutionsFailed`,
//! `ExecutionsTimedOut`, `ExecutionsAborted`, `ExecutionsRedriven` (Count) and `ExecutionTime`
//! (Milliseconds); per Lambda function (dimension `LambdaFunctionArn`)
//! `LambdaFunctionsScheduled`, `...Started`, `...Succeeded`, `...Failed`, `...TimedOut`; per
//! activity (dimension `ActivityArn`) `ActivitiesScheduled`, `...Started`, `...Succeeded`,
//! `...Failed`, `...TimedOut`; per service integration (dimension `ServiceIntegrationResourceArn`)
//! `ServiceIntegrationsScheduled`, `...Succeeded`, `...Failed`, `...TimedOut`.

use serde_json::{json, Map, Value};
use stepwise_asl::history::HistoryEvent;

/// The CloudWatch namespace of the metrics.
pub const NAMESPACE: &str = "Stepwise/States";

/// One metric data point: name, unit, value, and its dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Metric name (`ExecutionsStarted`).
    pub name: &'static str,
    /// CloudWatch unit (`Count`, `Milliseconds`).
    pub unit: &'static str,
    /// Value.
    pub value: f64,
    /// Dimension name and value (`StateMachineArn`, the machine's ARN).
    pub dimension: (&'static str, String),
}

fn count(name: &'static str, dimension: (&'static str, String)) -> Point {
    Point { name, unit: "Count", value: 1.0, dimension }
}

/// The metric points of a transition's history events. `machine_arn` is the execution's state
/// machine; `start` its start time, for `ExecutionTime` when an event ends it; `lambda` and
/// `activity` name the resource of the events of a task (the running task's, read from the
/// scheduled event when it is among `events`).
pub fn points(
    machine_arn: &str,
    start: chrono::DateTime<chrono::Utc>,
    resource: Option<&str>,
    events: &[HistoryEvent],
) -> Vec<Point> {
    let machine = || ("StateMachineArn", machine_arn.to_string());
    let mut out = Vec::new();
    let mut resource = resource.map(str::to_string);
    for e in events {
        let details = e.to_aws_json();
        let detail = |k: &str| {
            details
                .as_object()
                .and_then(|o| o.values().find_map(|d| d.get(k)))
                .and_then(Value::as_str)
                .map(String::from)
        };
        let ty = e.event_type.as_ref();
        match (detail("resourceType"), detail("resource")) {
            // A service integration: `arn:aws:states:::sqs:sendMessage.waitForTaskToken`.
            (Some(t), Some(r)) => resource = Some(format!("arn:aws:states:::{t}:{r}")),
            (None, Some(r)) => resource = Some(r),
            _ => {}
        }
        let task = |kind: &'static str| (kind, resource.clone().unwrap_or_default());
        match ty {
            "ExecutionStarted" => out.push(count("ExecutionsStarted", machine())),
            "ExecutionRedriven" => out.push(count("ExecutionsRedriven", machine())),
            "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted" => {
                let name = match ty {
                    "ExecutionSucceeded" => "ExecutionsSucceeded",
                    "ExecutionFailed" => "ExecutionsFailed",
                    "ExecutionTimedOut" => "ExecutionsTimedOut",
                    _ => "ExecutionsAborted",
                };
                out.push(count(name, machine()));
                let ms = (e.timestamp - start).num_milliseconds().max(0) as f64;
                out.push(Point { name: "ExecutionTime", unit: "Milliseconds", value: ms, dimension: machine() });
            }
            "LambdaFunctionScheduled" => out.push(count("LambdaFunctionsScheduled", task("LambdaFunctionArn"))),
            "LambdaFunctionStarted" => out.push(count("LambdaFunctionsStarted", task("LambdaFunctionArn"))),
            "LambdaFunctionSucceeded" => out.push(count("LambdaFunctionsSucceeded", task("LambdaFunctionArn"))),
            "LambdaFunctionFailed" => out.push(count("LambdaFunctionsFailed", task("LambdaFunctionArn"))),
            "LambdaFunctionTimedOut" => out.push(count("LambdaFunctionsTimedOut", task("LambdaFunctionArn"))),
            "ActivityScheduled" => out.push(count("ActivitiesScheduled", task("ActivityArn"))),
            "ActivityStarted" => out.push(count("ActivitiesStarted", task("ActivityArn"))),
            "ActivitySucceeded" => out.push(count("ActivitiesSucceeded", task("ActivityArn"))),
            "ActivityFailed" => out.push(count("ActivitiesFailed", task("ActivityArn"))),
            "ActivityTimedOut" => out.push(count("ActivitiesTimedOut", task("ActivityArn"))),
            "TaskScheduled" => out.push(count("ServiceIntegrationsScheduled", task("ServiceIntegrationResourceArn"))),
            "TaskSucceeded" => out.push(count("ServiceIntegrationsSucceeded", task("ServiceIntegrationResourceArn"))),
            "TaskFailed" => out.push(count("ServiceIntegrationsFailed", task("ServiceIntegrationResourceArn"))),
            "TaskTimedOut" => out.push(count("ServiceIntegrationsTimedOut", task("ServiceIntegrationResourceArn"))),
            _ => {}
        }
    }
    out
}

/// Where a runtime's metric records go (the step driver's log on AWS).
pub trait MetricsSink: Send + Sync {
    /// Emits EMF records (best effort).
    fn emit(&self, records: Vec<Value>);
}

/// EMF records printed to standard output, one JSON line each: in a Lambda function's log,
/// CloudWatch extracts the metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutEmf;

impl MetricsSink for StdoutEmf {
    fn emit(&self, records: Vec<Value>) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for r in records {
            let _ = writeln!(out, "{r}");
        }
    }
}

/// A record being built: dimension name and value, metric values, metric definitions.
type Record = (String, String, Map<String, Value>, Vec<Value>);

/// The EMF records of `points` at `timestamp_ms`: one record per dimension value, every point
/// of it in the record (CloudWatch's embedded metric format, version 0).
pub fn emf(points: &[Point], timestamp_ms: i64) -> Vec<Value> {
    let mut records: Vec<Record> = Vec::new();
    for p in points {
        let (dim, val) = (&p.dimension.0, &p.dimension.1);
        let i = match records.iter().position(|(d, v, _, _)| d == dim && v == val) {
            Some(i) => i,
            None => {
                records.push((dim.to_string(), val.clone(), Map::new(), Vec::new()));
                records.len() - 1
            }
        };
        let (_, _, values, defs) = &mut records[i];
        let sum = values.get(p.name).and_then(Value::as_f64).unwrap_or(0.0) + p.value;
        if !values.contains_key(p.name) {
            defs.push(json!({"Name": p.name, "Unit": p.unit}));
        }
        values.insert(p.name.to_string(), json!(sum));
    }
    records
        .into_iter()
        .map(|(dim, val, values, defs)| {
            let mut r = Map::new();
            r.insert(
                "_aws".into(),
                json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [[dim]], "Metrics": defs}]}),
            );
            r.insert(dim, val.into());
            r.extend(values);
            Value::Object(r)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};
    use std::borrow::Cow;
    use stepwise_asl::history::Details;

    fn event(id: u64, ty: &'static str, at: chrono::DateTime<Utc>, details: Option<Value>) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: at,
            event_type: Cow::Borrowed(ty),
            details: details.map(Details::Other).unwrap_or(Details::None),
        }
    }

    #[test]
    fn an_executions_events_give_step_functions_metrics_as_emf() {
        let t0 = Utc::now();
        let f = "arn:aws:lambda:us-east-1:123456789012:function:Price";
        let events = [
            event(2, "LambdaFunctionScheduled", t0, Some(json!({"resource": f, "input": "{}"}))),
            event(3, "LambdaFunctionStarted", t0, None),
            event(4, "LambdaFunctionSucceeded", t0, Some(json!({"output": "1"}))),
            event(5, "ExecutionFailed", t0 + Duration::milliseconds(1500), Some(json!({"error": "X"}))),
        ];
        let m = "arn:aws:states:us-east-1:123456789012:stateMachine:M";
        let points = points(m, t0, None, &events);
        let names: Vec<&str> = points.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "LambdaFunctionsScheduled",
                "LambdaFunctionsStarted",
                "LambdaFunctionsSucceeded",
                "ExecutionsFailed",
                "ExecutionTime"
            ]
        );
        assert!(points[..3].iter().all(|p| p.dimension == ("LambdaFunctionArn", f.to_string())));
        let records = emf(&points, 1_700_000_000_000);
        assert_eq!(records.len(), 2, "{records:?}");
        let machine = records.iter().find(|r| r["StateMachineArn"] == m).expect("machine record");
        assert_eq!(machine["ExecutionsFailed"], 1.0);
        assert_eq!(machine["ExecutionTime"], 1500.0);
        let defs = &machine["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(defs["Namespace"], NAMESPACE);
        assert_eq!(defs["Dimensions"], json!([["StateMachineArn"]]));
        assert_eq!(
            defs["Metrics"],
            json!([{"Name": "ExecutionsFailed", "Unit": "Count"}, {"Name": "ExecutionTime", "Unit": "Milliseconds"}])
        );
        let lambda = records.iter().find(|r| r["LambdaFunctionArn"] == f).expect("function record");
        assert_eq!(lambda["LambdaFunctionsSucceeded"], 1.0);
        assert_eq!(lambda["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }
}
