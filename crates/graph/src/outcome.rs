//! What an execution did to each state, read from its history (events as GetExecutionHistory
//! returns them).
//!
//! A state *entered* and *exited* succeeded — unless the event its exit follows
//! (`previousEventId`) is a failure (`TaskFailed`, `LambdaFunctionTimedOut`,
//! `ParallelStateFailed`, ...): AWS records a caught error as the failure, then the state's exit,
//! then the catcher's state, so that state was *caught*. A state entered and not exited is
//! failed when it is a Fail state or the execution is over; while the execution runs it is
//! *waiting* when it waits for a task token, else *running*. A state run several times (Map
//! iterations, loops) shows the gravest of its runs and the input and output of its last.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// What happened to a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Never entered.
    NotReached,
    /// Entered and exited normally.
    Succeeded,
    /// Running now.
    Running,
    /// Waiting for a task token (SendTaskSuccess/Failure).
    Waiting,
    /// Failed, and a Catch of its own took the execution elsewhere.
    Caught,
    /// Failed (or stopped while in it).
    Failed,
}

impl Status {
    /// Its name in class names, labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotReached => "not-reached",
            Status::Succeeded => "succeeded",
            Status::Running => "running",
            Status::Waiting => "waiting",
            Status::Caught => "caught",
            Status::Failed => "failed",
        }
    }

    /// All of them, in legend order.
    pub const ALL: [Status; 6] =
        [Status::Succeeded, Status::Failed, Status::Caught, Status::Running, Status::Waiting, Status::NotReached];
}

/// A state's runs, summed up.
#[derive(Debug, Clone, PartialEq)]
pub struct StateRun {
    /// The gravest status of its runs.
    pub status: Status,
    /// How many times it was entered.
    pub runs: usize,
    /// The input of its last run (JSON text).
    pub input: Option<String>,
    /// The output of its last exit (JSON text).
    pub output: Option<String>,
    /// When its last run began (the event's timestamp as the history gives it).
    pub entered: Option<Value>,
    /// When its last run ended.
    pub exited: Option<Value>,
}

/// What an execution did, state by state (by state name, as history events name them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The states it entered.
    pub states: BTreeMap<String, StateRun>,
}

impl Outcome {
    /// Reads `history` (events in id order). `running`: the execution has not ended;
    /// `waiting`: names of the states waiting for a task token now.
    pub fn of(history: &[Value], running: bool, waiting: &[String]) -> Outcome {
        let by_id: HashMap<i64, &Value> = history.iter().filter_map(|e| Some((e.get("id")?.as_i64()?, e))).collect();
        // Runs entered and not yet exited, by state name (first in, first out).
        let mut open: HashMap<String, VecDeque<(String, usize)>> = HashMap::new();
        let mut states: BTreeMap<String, StateRun> = BTreeMap::new();
        let mut finished: Vec<(String, Status)> = Vec::new();
        for (i, event) in history.iter().enumerate() {
            let ty = event.get("type").and_then(Value::as_str).unwrap_or_default();
            if let Some(details) = event.get("stateEnteredEventDetails") {
                let Some(name) = details.get("name").and_then(Value::as_str) else { continue };
                let run = states.entry(name.to_string()).or_insert_with(|| StateRun {
                    status: Status::NotReached,
                    runs: 0,
                    input: None,
                    output: None,
                    entered: None,
                    exited: None,
                });
                run.runs += 1;
                run.input = details.get("input").map(text);
                run.entered = event.get("timestamp").cloned();
                open.entry(name.to_string()).or_default().push_back((ty.to_string(), i));
            } else if let Some(details) = event.get("stateExitedEventDetails") {
                let Some(name) = details.get("name").and_then(Value::as_str) else { continue };
                open.get_mut(name).and_then(VecDeque::pop_front);
                let previous = event
                    .get("previousEventId")
                    .and_then(Value::as_i64)
                    .and_then(|p| by_id.get(&p).copied())
                    .or_else(|| i.checked_sub(1).and_then(|j| history.get(j)));
                let failed_before = previous
                    .and_then(|p| p.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("Failed") || t.ends_with("TimedOut"));
                finished.push((name.to_string(), if failed_before { Status::Caught } else { Status::Succeeded }));
                if let Some(run) = states.get_mut(name) {
                    run.output = details.get("output").map(text);
                    run.exited = event.get("timestamp").cloned();
                }
            }
        }
        for (name, status) in finished {
            if let Some(run) = states.get_mut(&name) {
                run.status = run.status.max(status);
            }
        }
        for (name, runs) in open {
            for (ty, _) in runs {
                let status = if ty == "FailStateEntered" || !running {
                    Status::Failed
                } else if waiting.contains(&name) {
                    Status::Waiting
                } else {
                    Status::Running
                };
                if let Some(run) = states.get_mut(&name) {
                    run.status = run.status.max(status);
                }
            }
        }
        Outcome { states }
    }

    /// A state's status (not reached when it was never entered).
    pub fn status(&self, name: &str) -> Status {
        self.states.get(name).map_or(Status::NotReached, |r| r.status)
    }
}

/// A JSON value of the history as text (inputs and outputs are JSON strings in AWS's form).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: i64, prev: i64, ty: &str, name: Option<&str>) -> Value {
        let mut e = json!({"id": id, "previousEventId": prev, "type": ty, "timestamp": id as f64});
        if let Some(n) = name {
            let key = if ty.ends_with("Entered") { "stateEnteredEventDetails" } else { "stateExitedEventDetails" };
            e[key] = json!({"name": n, "input": "{\"i\":1}", "output": "{\"o\":2}"});
        }
        e
    }

    #[test]
    fn a_caught_parallel_its_failed_branch_and_the_catcher() {
        // As AWS records it (the conformance corpus' parallel catch case).
        let h = vec![
            ev(1, 0, "ExecutionStarted", None),
            ev(2, 0, "ParallelStateEntered", Some("Fan out")),
            ev(3, 2, "ParallelStateStarted", None),
            ev(4, 3, "PassStateEntered", Some("Fine")),
            ev(5, 4, "PassStateExited", Some("Fine")),
            ev(6, 3, "FailStateEntered", Some("Break")),
            ev(7, 6, "ParallelStateFailed", None),
            ev(8, 7, "ParallelStateExited", Some("Fan out")),
            ev(9, 8, "PassStateEntered", Some("Recover")),
            ev(10, 9, "PassStateExited", Some("Recover")),
            ev(11, 10, "ExecutionSucceeded", None),
        ];
        let o = Outcome::of(&h, false, &[]);
        assert_eq!(o.status("Fan out"), Status::Caught);
        assert_eq!(o.status("Fine"), Status::Succeeded);
        assert_eq!(o.status("Break"), Status::Failed);
        assert_eq!(o.status("Recover"), Status::Succeeded);
        assert_eq!(o.status("Never"), Status::NotReached);
        assert_eq!(o.states["Recover"].input.as_deref(), Some("{\"i\":1}"));
        assert_eq!(o.states["Recover"].output.as_deref(), Some("{\"o\":2}"));
    }

    #[test]
    fn open_states_wait_run_or_fail_with_the_execution() {
        let h = vec![
            ev(1, 0, "ExecutionStarted", None),
            ev(2, 1, "TaskStateEntered", Some("Ask")),
            ev(3, 2, "TaskScheduled", None),
            ev(4, 1, "WaitStateEntered", Some("Pause")),
        ];
        let o = Outcome::of(&h, true, &["Ask".to_string()]);
        assert_eq!((o.status("Ask"), o.status("Pause")), (Status::Waiting, Status::Running));
        let o = Outcome::of(&h, false, &[]);
        assert_eq!((o.status("Ask"), o.status("Pause")), (Status::Failed, Status::Failed));
        assert_eq!(o.states["Ask"].output, None);
    }

    #[test]
    fn a_retried_task_that_succeeds_succeeded_and_repeated_runs_show_the_gravest() {
        let h = vec![
            ev(1, 0, "ExecutionStarted", None),
            ev(2, 1, "TaskStateEntered", Some("Work")),
            ev(3, 2, "TaskFailed", None),
            ev(4, 3, "TaskSucceeded", None),
            ev(5, 4, "TaskStateExited", Some("Work")),
            ev(6, 5, "TaskStateEntered", Some("Work")),
            ev(7, 6, "TaskFailed", None),
            ev(8, 7, "TaskStateExited", Some("Work")),
        ];
        let o = Outcome::of(&h[..5], false, &[]);
        assert_eq!(o.status("Work"), Status::Succeeded);
        let o = Outcome::of(&h, false, &[]);
        assert_eq!(o.status("Work"), Status::Caught);
        assert_eq!(o.states["Work"].runs, 2);
    }
}
