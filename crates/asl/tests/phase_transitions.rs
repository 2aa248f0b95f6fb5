//! Coverage of the frame phase table (`stepper::PHASE_TRANSITIONS`), after temporal sdk-core's
//! `transition_coverage.rs`: a set of machines is driven through `stepper::step` to the end,
//! the execution saved and reloaded between steps, and every (from, to) phase change a frame
//! makes between two steps is recorded. The test fails when a change happens that the table
//! does not list, or when a row of the table is never exercised.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap, VecDeque};
use stepwise_asl::stepper::{
    self, Effect, Env, Event, Execution, ExecutionInfo, PhaseKind, Status, TaskOutcome, TaskRequest, PHASE_TRANSITIONS,
};
use stepwise_asl::StateMachine;

const OK: &str = "arn:aws:lambda:us-east-1:123456789012:function:ok";
const HEARTBEAT: &str = "arn:aws:lambda:us-east-1:123456789012:function:heartbeat";
const HANG: &str = "arn:aws:lambda:us-east-1:123456789012:function:hang";
const FAIL: &str = "arn:aws:lambda:us-east-1:123456789012:function:fail";
const FLAKY: &str = "arn:aws:lambda:us-east-1:123456789012:function:flaky";

type Seen = BTreeSet<(Option<PhaseKind>, PhaseKind)>;

struct TestEnv {
    now: DateTime<Utc>,
    counter: u64,
}

impl Env for TestEnv {
    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }
    fn random(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }
    fn child_executions(&self) -> bool {
        true
    }
}

/// What the fake Map Runs end with: a run whose inputs hold "hang" never ends, one holding
/// "flaky" fails the first time, one holding "fail" fails; the others succeed with their inputs.
fn run_outcome(start: &stepper::MapRunStart, calls: &mut HashMap<String, u32>) -> Option<TaskOutcome> {
    let text = serde_json::to_string(&start.inputs).expect("inputs serialise");
    let n = calls.entry(format!("run:{text}")).or_insert(0);
    *n += 1;
    let failed = TaskOutcome::Failed { error: Some("States.ExceedToleratedFailureThreshold".into()), cause: None };
    if text.contains("hang") {
        None
    } else if text.contains("fail") || (text.contains("flaky") && *n == 1) {
        Some(failed)
    } else {
        Some(TaskOutcome::Succeeded(Value::Array(start.inputs.clone())))
    }
}

/// What the fake integrations answer: `ok` echoes, `heartbeat` beats then echoes, `hang`
/// never answers, `fail` fails, `flaky` fails on its first call and then echoes.
fn respond(req: &TaskRequest, calls: &mut HashMap<String, u32>) -> Vec<TaskOutcome> {
    let n = calls.entry(req.resource.clone()).or_insert(0);
    *n += 1;
    let failed = TaskOutcome::Failed { error: Some("Boom".into()), cause: Some("boom".into()) };
    match req.resource.as_str() {
        OK => vec![TaskOutcome::Succeeded(req.parameters.clone())],
        HEARTBEAT => vec![TaskOutcome::Heartbeat, TaskOutcome::Succeeded(req.parameters.clone())],
        HANG => vec![],
        FAIL => vec![failed],
        FLAKY if *n == 1 => vec![failed],
        FLAKY => vec![TaskOutcome::Succeeded(req.parameters.clone())],
        other => panic!("no fake integration for {other}"),
    }
}

/// Runs `def` to the end: step messages and task outcomes in order, then timers earliest
/// first (moving the clock). Records every phase change into `seen`; returns the status.
fn drive(def: Value, seen: &mut Seen) -> Status {
    drive_with(def, json!({"a": 1}), seen)
}

/// [`drive`] with an input.
fn drive_with(def: Value, input: Value, seen: &mut Seen) -> Status {
    let m: StateMachine = stepwise_asl::load(&def, false).expect("valid definition");
    let info =
        ExecutionInfo::new("123456789012", "us-east-1", "Machine", "exec", "arn:aws:iam::123456789012:role/r", false);
    let t0 = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
    let mut env = TestEnv { now: t0, counter: 0 };
    let mut x = stepper::new_execution(info, input, t0);
    let mut queue = VecDeque::from([Event::Start]);
    let mut timers: Vec<(DateTime<Utc>, usize, u64)> = Vec::new();
    let mut calls = HashMap::new();
    for _ in 0..10_000 {
        let event = match queue.pop_front() {
            Some(e) => e,
            None => {
                let Some(i) = (0..timers.len()).min_by_key(|&i| timers[i].0) else {
                    break;
                };
                let (at, frame, timer) = timers.remove(i);
                env.now = env.now.max(at);
                Event::Advance { frame, timer: Some(timer) }
            }
        };
        let before = x.frames.clone();
        let t = stepper::step(&m, x, event, &mut env);
        for (i, f) in t.execution.frames.iter().enumerate() {
            if before.get(i) != Some(f) {
                seen.insert((before.get(i).map(|b| b.phase.kind()), f.phase.kind()));
            }
        }
        // Save and reload, as the durable runtime does between steps.
        let saved = serde_json::to_string(&t.execution).expect("serialise");
        x = serde_json::from_str::<Execution>(&saved).expect("deserialise");
        assert_eq!(x, t.execution, "the execution round-trips through serde");
        for e in t.effects {
            match e {
                Effect::Schedule { frame, timer: None, .. } => queue.push_back(Event::Advance { frame, timer: None }),
                Effect::Schedule { frame, timer: Some(timer), at } => {
                    timers.push((at.unwrap_or(env.now), frame, timer));
                }
                Effect::Invoke(req) => {
                    for outcome in respond(&req, &mut calls) {
                        queue.push_back(Event::Task { frame: req.frame, task: req.task, outcome });
                    }
                }
                Effect::ReadItems { frame, task, .. } => {
                    let answer = stepwise_asl::integrations::aws::AwsAnswer {
                        status: 200,
                        request_id: "r".into(),
                        output: json!({"Body": "[1, 2]"}),
                        body: String::new(),
                    };
                    let reply = stepwise_asl::integrations::aws::AwsReply::Answer(answer);
                    queue.push_back(Event::Items { frame, task, reply: Box::new(reply) });
                }
                Effect::StartMapRun(start) => {
                    if let Some(outcome) = run_outcome(&start, &mut calls) {
                        queue.push_back(Event::Task { frame: start.run.frame, task: start.run.task, outcome });
                    }
                }
                Effect::Complete | Effect::StopExecution { .. } => {}
            }
        }
        if x.status != Status::Running {
            return x.status;
        }
        env.now += Duration::milliseconds(1);
    }
    x.status
}

fn pass_chain(names: &[&str], end: Value) -> serde_json::Map<String, Value> {
    let mut states = serde_json::Map::new();
    for (i, n) in names.iter().enumerate() {
        let s = match names.get(i + 1) {
            Some(next) => json!({"Type": "Pass", "Next": next}),
            None => end.clone(),
        };
        states.insert((*n).into(), s);
    }
    states
}

/// Every state kind on the happy path: Pass, Task (with a heartbeat), Wait, Choice,
/// Parallel, Map with MaxConcurrency 1, Succeed.
fn happy_path() -> Value {
    json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": HEARTBEAT, "HeartbeatSeconds": 100, "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": 2, "Next": "S"}], "Default": "Par"},
        "Par": {"Type": "Parallel", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}], "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$", "MaxConcurrency": 1,
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "Next": "S"},
        "S": {"Type": "Succeed"}
    }})
}

/// A state whose Arguments fail every time (a JSONata error), retried twice.
fn failing_parameters(catch: bool) -> Value {
    let mut t = json!({"Type": "Task", "Resource": OK, "QueryLanguage": "JSONata", "Arguments": "{% $number('x') %}",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}], "End": true});
    if catch {
        t["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]);
    }
    let mut def = json!({"StartAt": "Pre", "States": {"Pre": {"Type": "Pass", "Next": "T"}, "T": t}});
    if catch {
        def["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    }
    def
}

/// One branch fails while its siblings are running a task, waiting, running a nested
/// Parallel, backing off before a retry, and between two Pass states.
fn failing_branch() -> Value {
    let branch = |start: &str, states: Value| json!({"StartAt": start, "States": states});
    json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true, "Branches": [
        branch("H", json!({"H": {"Type": "Task", "Resource": HANG, "End": true}})),
        branch("W", json!({"W": {"Type": "Wait", "Seconds": 1000, "End": true}})),
        branch("N", json!({"N": {"Type": "Parallel", "End": true, "Branches": [
            branch("NH", json!({"NH": {"Type": "Task", "Resource": HANG, "End": true}}))]}})),
        branch("R", json!({"R": {"Type": "Task", "Resource": FAIL, "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1000}]}})),
        branch("F1", json!({"F1": {"Type": "Pass", "Next": "F2"}, "F2": {"Type": "Pass", "Next": "F"},
            "F": {"Type": "Fail", "Error": "Stop", "Cause": "stop"}})),
        branch("L1", Value::Object(pass_chain(&["L1", "L2", "L3", "L4", "L5", "L6"], json!({"Type": "Pass", "End": true})))),
    ]}}})
}

#[test]
fn every_phase_transition_is_in_the_table_and_every_row_is_exercised() {
    let mut seen = Seen::new();
    let run = |def: Value, seen: &mut Seen| drive(def, seen);

    assert!(matches!(run(happy_path(), &mut seen), Status::Succeeded { .. }));
    // Retry then succeed at an end state.
    let retried = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FLAKY, "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}]}}});
    assert!(matches!(run(retried, &mut seen), Status::Succeeded { .. }));
    // A Wait at an end state.
    let wait_end = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}});
    assert!(matches!(run(wait_end, &mut seen), Status::Succeeded { .. }));
    let status = run(failing_parameters(true), &mut seen);
    assert!(matches!(status, Status::Succeeded { .. }), "{status:?}");
    assert!(matches!(run(failing_parameters(false), &mut seen), Status::Failed { .. }));
    // A Parallel retried after its branch failed.
    let parallel_retried = json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}],
        "Branches": [{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FLAKY, "End": true}}}]}}});
    assert!(matches!(run(parallel_retried, &mut seen), Status::Succeeded { .. }));
    let status = run(failing_branch(), &mut seen);
    assert!(matches!(&status, Status::Failed { error: Some(e), .. } if e == "Stop"), "{status:?}");
    // Distributed Maps: items read from S3, then a Map Run, then the next state.
    let processor = json!({"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
        "States": {"P": {"Type": "Pass", "End": true}}});
    let reader = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "Next": "After",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "b", "Key": "k"}}},
        "After": {"Type": "Pass", "End": true}}});
    assert!(matches!(run(reader, &mut seen), Status::Succeeded { output } if output == json!([1, 2])));
    // A Map Run that fails, is retried (a new run) and succeeds at an end state.
    let retried = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": true,
        "ItemsPath": "$.items", "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1}]}}});
    let status = drive_with(retried, json!({"items": ["flaky"]}), &mut seen);
    assert!(matches!(&status, Status::Succeeded { .. }), "{status:?}");
    // A Map Run stopped because a sibling branch failed.
    let aborted = json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": true,
            "ItemsPath": "$.items"}}},
        {"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": FAIL, "End": true}}}]}}});
    let status = drive_with(aborted, json!({"items": ["hang"]}), &mut seen);
    assert!(matches!(&status, Status::Failed { .. }), "{status:?}");

    let table: BTreeSet<(Option<PhaseKind>, PhaseKind)> = PHASE_TRANSITIONS.iter().map(|r| (r.from, r.to)).collect();
    assert_eq!(table.len(), PHASE_TRANSITIONS.len(), "the table lists each (from, to) once");
    let unlisted: Vec<_> = seen.difference(&table).collect();
    let unexercised: Vec<_> = table.difference(&seen).collect();
    assert!(unlisted.is_empty(), "phase transitions missing from PHASE_TRANSITIONS: {unlisted:?}");
    assert!(unexercised.is_empty(), "rows of PHASE_TRANSITIONS no machine exercised: {unexercised:?}");
}
