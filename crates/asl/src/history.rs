//! Execution history events, shaped as Step Functions' `GetExecutionHistory` returns them.
//!
//! Events are kept typed (the frequent state entered/exited events hold their name and value
//! directly) and turned into AWS's JSON only when someone reads them, so recording history costs
//! the stepper one clone of the state's input or output and no intermediate JSON objects.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// One history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// 1-based, increasing.
    pub id: u64,
    /// The event this one follows (0 for none).
    pub previous_event_id: u64,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// AWS's event type (`PassStateEntered`, `TaskSucceeded`, ...).
    pub event_type: Cow<'static, str>,
    /// The event's details.
    pub details: Details,
}

/// The details of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Details {
    /// No details object.
    None,
    /// `stateEnteredEventDetails`.
    Entered {
        /// State name.
        name: String,
        /// State input.
        input: Value,
        /// The input's text as the client sent it, when this state got the execution input
        /// untouched (the first state: AWS passes the text on).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// `stateExitedEventDetails`.
    Exited {
        /// State name.
        name: String,
        /// State output.
        output: Value,
        /// Variables the state assigned.
        assigned: Option<Map<String, Value>>,
    },
    /// `executionStartedEventDetails`.
    Started {
        /// The execution input.
        input: Value,
        /// The input exactly as the client sent it, when kept (the API shows this text).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The role the execution runs as.
        role_arn: String,
        /// The version (and alias) it was started on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version_arn: Option<String>,
        /// The alias it was started on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alias_arn: Option<String>,
    },
    /// Any other details object, under the key [`details_key`] gives for the type.
    Other(Value),
}

impl HistoryEvent {
    /// The event in AWS's JSON shape.
    pub fn to_aws_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), self.id.into());
        m.insert("previousEventId".into(), self.previous_event_id.into());
        m.insert("timestamp".into(), crate::timestamp::format(&self.timestamp).into());
        m.insert("type".into(), Value::String(self.event_type.to_string()));
        let details = match &self.details {
            Details::None => None,
            Details::Entered { name, input, .. } => {
                Some(json!({"input": input, "inputDetails": {"truncated": false}, "name": name}))
            }
            Details::Exited { name, output, assigned } => {
                let mut d = Map::new();
                // AWS shows no `assignedVariables` for an empty `Assign`.
                if let Some(vars) = assigned.as_ref().filter(|v| !v.is_empty()) {
                    let shown: Map<String, Value> =
                        vars.iter().map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect();
                    d.insert("assignedVariables".into(), Value::Object(shown));
                    d.insert("assignedVariablesDetails".into(), json!({"truncated": false}));
                }
                d.insert("name".into(), name.clone().into());
                d.insert("output".into(), output.clone());
                d.insert("outputDetails".into(), json!({"truncated": false}));
                Some(Value::Object(d))
            }
            Details::Started { input, role_arn, version_arn, alias_arn, .. } => {
                let mut d = json!({"input": input, "inputDetails": {"truncated": false}, "roleArn": role_arn});
                if let Some(a) = alias_arn {
                    d["stateMachineAliasArn"] = a.clone().into();
                }
                if let Some(v) = version_arn {
                    d["stateMachineVersionArn"] = v.clone().into();
                }
                Some(d)
            }
            Details::Other(v) => Some(v.clone()),
        };
        if let (Some(d), Some(k)) = (details, details_key(&self.event_type)) {
            m.insert(k.into(), d);
        }
        Value::Object(m)
    }

    /// The event as `GetExecutionHistory` answers it: as [`HistoryEvent::to_aws_json`], with
    /// the JSON payloads of the details (`input`, `output`, `parameters`) as JSON text.
    /// `include_data: false` leaves them out (`includeExecutionData=false`).
    pub fn to_api_json(&self, include_data: bool) -> Value {
        let mut v = self.to_aws_json();
        if let Some(o) = v.as_object_mut() {
            for (k, d) in o.iter_mut() {
                if !k.ends_with("EventDetails") {
                    continue;
                }
                let Some(d) = d.as_object_mut() else { continue };
                for field in ["input", "output", "parameters"] {
                    if let Some(x) = d.get_mut(field) {
                        if include_data {
                            *x = Value::String(x.to_string());
                        } else {
                            d.remove(field);
                        }
                    }
                }
            }
        }
        match (&self.details, include_data) {
            (Details::Started { text: Some(t), .. }, true) => {
                v["executionStartedEventDetails"]["input"] = Value::String(t.clone());
            }
            (Details::Entered { text: Some(t), .. }, true) => {
                v["stateEnteredEventDetails"]["input"] = Value::String(t.clone());
            }
            _ => {}
        }
        v
    }
}

/// The `*StateEntered` / `*StateExited` / ... event type for a state type prefix, without
/// allocating.
pub fn state_event(prefix: &str, suffix: &str) -> &'static str {
    macro_rules! table {
        ($($p:literal),*) => {
            match (prefix, suffix) {
                $(
                    ($p, "Entered") => concat!($p, "StateEntered"),
                    ($p, "Exited") => concat!($p, "StateExited"),
                    ($p, "Started") => concat!($p, "StateStarted"),
                    ($p, "Succeeded") => concat!($p, "StateSucceeded"),
                    ($p, "Failed") => concat!($p, "StateFailed"),
                    ($p, "Aborted") => concat!($p, "StateAborted"),
                )*
                _ => "UnknownEvent",
            }
        };
    }
    table!("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
}

/// The details key AWS uses for an event type.
pub fn details_key(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "ExecutionStarted" => "executionStartedEventDetails",
        "ExecutionSucceeded" => "executionSucceededEventDetails",
        "ExecutionFailed" => "executionFailedEventDetails",
        "ExecutionTimedOut" => "executionTimedOutEventDetails",
        "ExecutionAborted" => "executionAbortedEventDetails",
        "ExecutionRedriven" => "executionRedrivenEventDetails",
        t if t.ends_with("StateEntered") => "stateEnteredEventDetails",
        t if t.ends_with("StateExited") => "stateExitedEventDetails",
        "MapStateStarted" => "mapStateStartedEventDetails",
        "MapIterationStarted" => "mapIterationStartedEventDetails",
        "MapIterationSucceeded" => "mapIterationSucceededEventDetails",
        "MapIterationFailed" => "mapIterationFailedEventDetails",
        "MapIterationAborted" => "mapIterationAbortedEventDetails",
        "MapRunStarted" => "mapRunStartedEventDetails",
        "MapRunFailed" => "mapRunFailedEventDetails",
        "LambdaFunctionScheduled" => "lambdaFunctionScheduledEventDetails",
        "LambdaFunctionSucceeded" => "lambdaFunctionSucceededEventDetails",
        "LambdaFunctionFailed" => "lambdaFunctionFailedEventDetails",
        "LambdaFunctionTimedOut" => "lambdaFunctionTimedOutEventDetails",
        "TaskScheduled" => "taskScheduledEventDetails",
        "TaskStarted" => "taskStartedEventDetails",
        "TaskSubmitted" => "taskSubmittedEventDetails",
        "TaskSucceeded" => "taskSucceededEventDetails",
        "TaskFailed" => "taskFailedEventDetails",
        "TaskTimedOut" => "taskTimedOutEventDetails",
        "EvaluationFailed" => "evaluationFailedEventDetails",
        "ActivityScheduled" => "activityScheduledEventDetails",
        "ActivityScheduleFailed" => "activityScheduleFailedEventDetails",
        "ActivityStarted" => "activityStartedEventDetails",
        "ActivitySucceeded" => "activitySucceededEventDetails",
        "ActivityFailed" => "activityFailedEventDetails",
        "ActivityTimedOut" => "activityTimedOutEventDetails",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_events_are_named_without_allocating() {
        assert_eq!(state_event("Pass", "Entered"), "PassStateEntered");
        assert_eq!(state_event("Map", "Failed"), "MapStateFailed");
    }

    #[test]
    fn exited_events_show_assigned_variables_as_json_text() {
        let e = HistoryEvent {
            id: 3,
            previous_event_id: 2,
            timestamp: DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default(),
            event_type: Cow::Borrowed("PassStateExited"),
            details: Details::Exited {
                name: "P".into(),
                output: json!({}),
                assigned: Some(json!({"x": 42, "s": "a"}).as_object().cloned().unwrap_or_default()),
            },
        };
        let v = e.to_aws_json();
        assert_eq!(v["stateExitedEventDetails"]["assignedVariables"], json!({"x": "42", "s": "\"a\""}));
        assert_eq!(v["type"], "PassStateExited");
    }
}
