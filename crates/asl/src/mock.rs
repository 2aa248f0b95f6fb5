//! Mocked service integrations in Step Functions Local's mock configuration format: which Task
//! states of which state machine answer with what, per test case, call after call.
//!
//! ```json
//! {"StateMachines": {"MACHINE": {"TestCases": {"CASE": {"STATE": "RESPONSE"}}}},
//!  "MockedResponses": {"RESPONSE": {"0": {"Return": {...}}, "1-2": {"Throw": {"Error": "...", "Cause": "..."}}}}}
//! ```
//!
//! A mocked response's keys number the state's calls from 0 (each retry is a call); `N-M` is an
//! inclusive range. The keys must cover `0..=last` without a gap or an overlap, and each entry
//! is exactly one of `Return` (the task's result) or `Throw` (`Error`, optional `Cause`). A call
//! past the last key gets the last entry again. A file that breaks a rule is refused with the
//! JSON pointer of the offending place and what is wrong, never half loaded.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What a mocked call answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MockOutcome {
    /// The task's result.
    Return(Value),
    /// The task fails.
    Throw {
        /// Error name.
        error: String,
        /// Cause.
        cause: Option<String>,
    },
}

/// A refused mock configuration: where (a JSON pointer into the file) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockError {
    /// JSON pointer of the offending place (`""`: the whole file).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for MockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "mock config: {}", self.message)
        } else {
            write!(f, "mock config at {}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for MockError {}

/// One mocked response: its entries by the first call each covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MockedResponse {
    /// `(first, last, outcome)`, ascending, contiguous from 0.
    entries: Vec<(u64, u64, MockOutcome)>,
}

impl MockedResponse {
    fn outcome(&self, call: u64) -> Option<&MockOutcome> {
        self.entries
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&call))
            .or(self.entries.last())
            .map(|(_, _, o)| o)
    }
}

/// A loaded mock configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MockConfig {
    /// machine name → test case → state name → mocked response name.
    machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    responses: BTreeMap<String, MockedResponse>,
}

/// One test case of one state machine.
#[derive(Debug, Clone, Copy)]
pub struct TestCase<'a> {
    states: &'a BTreeMap<String, String>,
    responses: &'a BTreeMap<String, MockedResponse>,
}

impl TestCase<'_> {
    /// What call `call` (from 0) of `state` answers; `None`: the state is not mocked (it runs
    /// for real).
    pub fn outcome(&self, state: &str, call: u64) -> Option<&MockOutcome> {
        let name = self.states.get(state)?;
        self.responses.get(name)?.outcome(call)
    }

    /// Whether `state` is mocked in this test case.
    pub fn mocks(&self, state: &str) -> bool {
        self.states.contains_key(state)
    }

    /// The test case as an execution carries it: named `case`, its states' responses copied
    /// (a later change of the file does not change a running execution), no call made yet.
    pub fn for_execution(&self, case: &str) -> ExecutionMocks {
        let states = self
            .states
            .iter()
            .filter_map(|(state, name)| Some((state.clone(), self.responses.get(name)?.clone())))
            .collect();
        ExecutionMocks { case: case.to_string(), states, calls: BTreeMap::new() }
    }
}

/// The mocked states of one execution (`StartExecution` on `stateMachine:NAME#CASE`) and how
/// many times each was called: part of the execution's data, so a restart carries on counting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionMocks {
    /// The test case's name.
    pub case: String,
    states: BTreeMap<String, MockedResponse>,
    calls: BTreeMap<String, u64>,
}

impl ExecutionMocks {
    /// The same test case with no call made yet (for a Distributed Map's child executions).
    pub fn fresh(&self) -> ExecutionMocks {
        ExecutionMocks { case: self.case.clone(), states: self.states.clone(), calls: BTreeMap::new() }
    }

    /// Whether `state` is mocked.
    pub fn mocks(&self, state: &str) -> bool {
        self.states.contains_key(state)
    }

    /// A test case of one state answering `outcome` to every call (the TestState API's mock).
    pub fn single(state: &str, outcome: MockOutcome) -> ExecutionMocks {
        let response = MockedResponse { entries: vec![(0, 0, outcome)] };
        ExecutionMocks { case: String::new(), states: [(state.to_string(), response)].into(), calls: BTreeMap::new() }
    }

    /// The answer to the next call of `state` (counted: each retry is a call); `None` when the
    /// state is not mocked and runs for real.
    pub fn next_call(&mut self, state: &str) -> Option<MockOutcome> {
        let response = self.states.get(state)?;
        let n = self.calls.entry(state.to_string()).or_insert(0);
        let outcome = response.outcome(*n).cloned();
        *n += 1;
        outcome
    }
}

fn err(path: impl Into<String>, message: impl Into<String>) -> MockError {
    MockError { path: path.into(), message: message.into() }
}

/// `~` and `/` escaped as a JSON pointer token.
fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn object<'a>(v: &'a Value, path: &str, what: &str) -> Result<&'a Map<String, Value>, MockError> {
    v.as_object().ok_or_else(|| err(path, format!("{what} must be a JSON object")))
}

impl MockConfig {
    /// Parses and checks a mock configuration file's text.
    pub fn parse(text: &str) -> Result<MockConfig, MockError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| err("", format!("not valid JSON: {e}")))?;
        let top = object(&doc, "", "the file")?;
        if let Some(unknown) = top.keys().find(|k| *k != "StateMachines" && *k != "MockedResponses") {
            return Err(err(
                format!("/{}", token(unknown)),
                "unknown field (the file has StateMachines and MockedResponses)",
            ));
        }
        let mut config = MockConfig::default();
        let empty = Value::Object(Map::new());
        let responses = object(top.get("MockedResponses").unwrap_or(&empty), "/MockedResponses", "MockedResponses")?;
        for (name, response) in responses {
            let path = format!("/MockedResponses/{}", token(name));
            config.responses.insert(name.clone(), parse_response(response, &path)?);
        }
        let machines = object(top.get("StateMachines").unwrap_or(&empty), "/StateMachines", "StateMachines")?;
        for (machine, m) in machines {
            let mpath = format!("/StateMachines/{}", token(machine));
            let m = object(m, &mpath, "a state machine's entry")?;
            let cases_path = format!("{mpath}/TestCases");
            let cases = object(
                m.get("TestCases").ok_or_else(|| err(&mpath, "TestCases is missing"))?,
                &cases_path,
                "TestCases",
            )?;
            let mut by_case = BTreeMap::new();
            for (case, states) in cases {
                let cpath = format!("{cases_path}/{}", token(case));
                let mut by_state = BTreeMap::new();
                for (state, response) in object(states, &cpath, "a test case")? {
                    let spath = format!("{cpath}/{}", token(state));
                    let name =
                        response.as_str().ok_or_else(|| err(&spath, "must name a mocked response (a string)"))?;
                    if !config.responses.contains_key(name) {
                        return Err(err(&spath, format!("mocked response '{name}' is not defined in MockedResponses")));
                    }
                    by_state.insert(state.clone(), name.to_string());
                }
                by_case.insert(case.clone(), by_state);
            }
            config.machines.insert(machine.clone(), by_case);
        }
        Ok(config)
    }

    /// Test case `case` of the state machine named `machine`; `None` when either is unknown.
    pub fn test_case(&self, machine: &str, case: &str) -> Option<TestCase<'_>> {
        let states = self.machines.get(machine)?.get(case)?;
        Some(TestCase { states, responses: &self.responses })
    }
}

/// One mocked response: `{"0": {...}, "1-2": {...}}`.
fn parse_response(v: &Value, path: &str) -> Result<MockedResponse, MockError> {
    let mut entries = Vec::new();
    for (key, entry) in object(v, path, "a mocked response")? {
        let epath = format!("{path}/{}", token(key));
        let number = |s: &str| {
            s.parse::<u64>().map_err(|_| {
                err(&epath, format!("'{key}' is not a call number or range (\"0\", \"1-2\": calls counted from 0)"))
            })
        };
        let (first, last) = match key.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(key)?, number(key)?),
        };
        if first > last {
            return Err(err(&epath, format!("the range '{key}' ends before it starts")));
        }
        let e = object(entry, &epath, "a mocked response entry")?;
        let outcome = match (e.get("Return"), e.get("Throw")) {
            (Some(_), Some(_)) => return Err(err(&epath, "has both Return and Throw: give one")),
            (None, None) => return Err(err(&epath, "has neither Return nor Throw: give one")),
            (Some(r), None) => MockOutcome::Return(r.clone()),
            (None, Some(t)) => {
                let tpath = format!("{epath}/Throw");
                let t = object(t, &tpath, "Throw")?;
                let error = t
                    .get("Error")
                    .and_then(Value::as_str)
                    .ok_or_else(|| err(format!("{tpath}/Error"), "Error is missing (a string naming the error)"))?;
                let cause = match t.get("Cause") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(c)) => Some(c.clone()),
                    Some(_) => return Err(err(format!("{tpath}/Cause"), "Cause must be a string")),
                };
                MockOutcome::Throw { error: error.to_string(), cause }
            }
        };
        if let Some(other) = e.keys().find(|k| *k != "Return" && *k != "Throw") {
            return Err(err(format!("{epath}/{}", token(other)), "unknown field (an entry has Return or Throw)"));
        }
        entries.push((first, last, outcome));
    }
    entries.sort_by_key(|(first, _, _)| *first);
    let mut next = 0u64;
    for (first, last, _) in &entries {
        if *first > next {
            let gap = if *first - 1 == next { next.to_string() } else { format!("{next}-{}", first - 1) };
            return Err(err(path, format!("call {gap} has no response: the keys must cover every call from 0")));
        }
        if *first < next {
            return Err(err(path, format!("call {first} has two responses: the keys overlap")));
        }
        next = last + 1;
    }
    if entries.is_empty() {
        return Err(err(path, "has no responses"));
    }
    Ok(MockedResponse { entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> String {
        json!({
            "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"}}}},
            "MockedResponses": {
                "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"body": "Hello"}}}},
                "MockedSQSSuccess": {"0": {"Return": {"MessageId": "m-1"}}},
                "MockedLambdaRetry": {
                    "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
                    "1-2": {"Throw": {"Error": "Lambda.TimeoutException"}},
                    "3": {"Return": {"StatusCode": 200}}}}
        })
        .to_string()
    }

    #[test]
    fn the_documented_example_loads_and_answers_call_by_call() {
        let c = MockConfig::parse(&sample()).expect("valid");
        let retry = c.test_case("LambdaSQSIntegration", "RetryPath").expect("case");
        let throw = |e: &str| MockOutcome::Throw { error: e.into(), cause: None };
        assert_eq!(
            retry.outcome("LambdaState", 0),
            Some(&MockOutcome::Throw {
                error: "Lambda.ResourceNotReadyException".into(),
                cause: Some("not ready".into())
            })
        );
        assert_eq!(retry.outcome("LambdaState", 1), Some(&throw("Lambda.TimeoutException")));
        assert_eq!(retry.outcome("LambdaState", 2), Some(&throw("Lambda.TimeoutException")));
        assert_eq!(retry.outcome("LambdaState", 3), Some(&MockOutcome::Return(json!({"StatusCode": 200}))));
        assert_eq!(retry.outcome("LambdaState", 9), retry.outcome("LambdaState", 3), "past the last: the last");
        assert_eq!(retry.outcome("Unmocked", 0), None);
        assert!(retry.mocks("SQSState") && !retry.mocks("Unmocked"));
        assert!(c.test_case("LambdaSQSIntegration", "Nope").is_none());
        assert!(c.test_case("Other", "HappyPath").is_none());
    }

    #[test]
    fn bad_files_are_refused_with_the_place_and_the_reason() {
        let refuse = |doc: Value| MockConfig::parse(&doc.to_string()).expect_err("refused").to_string();
        let with = |response: Value| json!({"MockedResponses": {"R": response}});
        assert_eq!(
            refuse(with(json!({"0": {"Return": 1, "Throw": {"Error": "E"}}}))),
            "mock config at /MockedResponses/R/0: has both Return and Throw: give one"
        );
        assert_eq!(
            refuse(with(json!({"0": {"Return": 1}, "2-3": {"Return": 2}}))),
            "mock config at /MockedResponses/R: call 1 has no response: the keys must cover every call from 0"
        );
        assert_eq!(
            refuse(with(json!({"0-2": {"Return": 1}, "2": {"Return": 2}}))),
            "mock config at /MockedResponses/R: call 2 has two responses: the keys overlap"
        );
        assert_eq!(
            refuse(with(json!({"0": {"Throw": {"Cause": "c"}}}))),
            "mock config at /MockedResponses/R/0/Throw/Error: Error is missing (a string naming the error)"
        );
        assert_eq!(
            refuse(with(json!({"first": {"Return": 1}}))),
            "mock config at /MockedResponses/R/first: 'first' is not a call number or range (\"0\", \"1-2\": calls counted from 0)"
        );
        assert_eq!(
            refuse(json!({"StateMachines": {"M": {"TestCases": {"C": {"S": "Missing"}}}}, "MockedResponses": {}})),
            "mock config at /StateMachines/M/TestCases/C/S: mocked response 'Missing' is not defined in MockedResponses"
        );
        assert_eq!(refuse(json!([])), "mock config: the file must be a JSON object");
        assert!(refuse(json!({"MockResponses": {}})).starts_with("mock config at /MockResponses: unknown field"));
        assert!(MockConfig::parse("{").expect_err("refused").to_string().starts_with("mock config: not valid JSON"));
    }
}
