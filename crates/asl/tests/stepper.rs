//! The pure stepper driven directly, one event at a time: every test feeds `stepper::step` an
//! event and asserts on what comes back (effects and history events), never on internals other
//! than the public, serialisable `Execution`. This is the contract a durable runtime relies on:
//! one state per step, effects as data, and duplicate / late / stale messages as no-ops.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::rc::Rc;
use stepwise_asl::history::{Details, HistoryEvent};
use stepwise_asl::stepper::{
    self, Effect, Env, Event, Execution, ExecutionInfo, Integration, Phase, Status, TaskOutcome, TaskRequest,
};
use stepwise_asl::StateMachine;

const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:fn";
const SQS_WAIT: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
const EXEC_ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:Machine:exec-1";

// ---------------------------------------------------------------------------------------------
// Test harness
// ---------------------------------------------------------------------------------------------

/// A settable clock and a counter-based random source (different seeds give different streams).
#[derive(Debug, Clone)]
struct TestEnv {
    now: DateTime<Utc>,
    seed: u64,
    counter: u64,
}

impl Env for TestEnv {
    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }
    fn random(&mut self) -> u64 {
        self.counter += 1;
        self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(self.counter)
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(secs)
}

/// One execution of one machine, stepped by hand. Every step checks that history ids continue
/// from the previous step by exactly one, with no gaps.
#[derive(Clone)]
struct Run {
    m: Rc<StateMachine>,
    x: Execution,
    env: TestEnv,
    history: Vec<HistoryEvent>,
}

/// What one step returned.
#[derive(Debug)]
struct Out {
    effects: Vec<Effect>,
    history: Vec<HistoryEvent>,
}

impl Out {
    fn types(&self) -> Vec<&str> {
        types(&self.history)
    }
    fn invoke(&self) -> TaskRequest {
        let v = invokes(&self.effects);
        assert_eq!(v.len(), 1, "expected exactly one Invoke effect: {:?}", self.effects);
        v.into_iter().next().expect("one")
    }
    fn schedules(&self) -> Vec<(usize, Option<u64>, Option<DateTime<Utc>>)> {
        schedules(&self.effects)
    }
    /// The single timer Schedule effect (frame, timer id, due time).
    fn timer(&self) -> (usize, u64, DateTime<Utc>) {
        let t: Vec<_> = self.schedules().into_iter().filter(|s| s.1.is_some()).collect();
        assert_eq!(t.len(), 1, "expected exactly one timer effect: {:?}", self.effects);
        (t[0].0, t[0].1.expect("a timer id"), t[0].2.expect("a timer has a due time"))
    }
    fn completes(&self) -> bool {
        self.effects.iter().any(|e| matches!(e, Effect::Complete))
    }
}

fn load(def: Value) -> StateMachine {
    stepwise_asl::load(&def, false).expect("definition loads")
}

impl Run {
    fn new(def: Value, input: Value) -> Self {
        Self::with_seed(def, input, 1)
    }

    fn with_seed(def: Value, input: Value, seed: u64) -> Self {
        let info = ExecutionInfo::new(
            "123456789012",
            "us-east-1",
            "Machine",
            "exec-1",
            "arn:aws:iam::123456789012:role/r",
            false,
        );
        Run {
            m: Rc::new(load(def)),
            x: stepper::new_execution(info, input, t0()),
            env: TestEnv { now: t0(), seed, counter: 0 },
            history: Vec::new(),
        }
    }

    fn set_time(&mut self, secs: i64) {
        self.env.now = at(secs);
    }

    fn step(&mut self, event: Event) -> Out {
        let t = stepper::step(&self.m, self.x.clone(), event, &mut self.env);
        let first = self.history.last().map_or(1, |h| h.id + 1);
        for (expect, h) in (first..).zip(&t.history) {
            assert_eq!(h.id, expect, "history ids must increase by 1 with no gaps: {:?}", types(&t.history));
            assert!(h.previous_event_id < h.id, "previousEventId points back");
        }
        self.history.extend(t.history.iter().cloned());
        assert_eq!(t.execution.last_event_id, self.history.len() as u64, "last_event_id tracks the history");
        self.x = t.execution;
        Out { effects: t.effects, history: t.history }
    }

    fn start(&mut self) -> Out {
        self.step(Event::Start)
    }

    fn advance(&mut self, frame: usize) -> Out {
        self.step(Event::Advance { frame, timer: None })
    }

    fn fire(&mut self, frame: usize, timer: u64) -> Out {
        self.step(Event::Advance { frame, timer: Some(timer) })
    }

    fn outcome(&mut self, req: &TaskRequest, outcome: TaskOutcome) -> Out {
        self.step(Event::Task { frame: req.frame, task: req.task, outcome })
    }

    /// The event changes nothing: same execution, no effects, no history.
    fn assert_noop(&mut self, event: Event) {
        let before = self.x.clone();
        let what = format!("{event:?}");
        let o = self.step(event);
        assert!(o.effects.is_empty(), "{what} should be a no-op, got effects {:?}", o.effects);
        assert!(o.history.is_empty(), "{what} should be a no-op, got history {:?}", o.types());
        assert_eq!(self.x, before, "{what} should leave the execution unchanged");
    }

    fn status(&self) -> &Status {
        &self.x.status
    }

    fn output(&self) -> Value {
        match &self.x.status {
            Status::Succeeded { output } => output.clone(),
            other => panic!("expected SUCCEEDED, got {other:?}"),
        }
    }

    fn failure(&self) -> (String, String) {
        match &self.x.status {
            Status::Failed { error, cause } => (error.clone().unwrap_or_default(), cause.clone().unwrap_or_default()),
            other => panic!("expected FAILED, got {other:?}"),
        }
    }

    fn count(&self, ty: &str) -> usize {
        self.history.iter().filter(|h| h.event_type == ty).count()
    }
}

fn types(h: &[HistoryEvent]) -> Vec<&str> {
    h.iter().map(|e| e.event_type.as_ref()).collect()
}

fn invokes(effects: &[Effect]) -> Vec<TaskRequest> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Invoke(r) => Some((**r).clone()),
            _ => None,
        })
        .collect()
}

fn schedules(effects: &[Effect]) -> Vec<(usize, Option<u64>, Option<DateTime<Utc>>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Schedule { frame, timer, at } => Some((*frame, *timer, *at)),
            _ => None,
        })
        .collect()
}

/// The output of the (last) `*StateExited` event in `h`.
fn exited_output(h: &[HistoryEvent]) -> Value {
    h.iter()
        .rev()
        .find_map(|e| match &e.details {
            Details::Exited { output, .. } => Some(output.clone()),
            _ => None,
        })
        .expect("a *StateExited event")
}

/// A small runtime around `Run`: ready messages in order, timers by due time, and outstanding
/// tasks answered by a pure function of the request. Cloneable, so a test can fork it at any step.
#[derive(Clone)]
struct Sim {
    run: Run,
    ready: VecDeque<Event>,
    timers: Vec<(DateTime<Utc>, u64, Event)>,
    tasks: VecDeque<TaskRequest>,
    /// Answer the most recently invoked task first (so completions come out of order).
    lifo: bool,
    done: bool,
    seq: u64,
    /// Round-trip the execution through JSON before every step (as a durable runtime does).
    reload: bool,
    /// Deliver every step message and every task outcome twice.
    dup: bool,
}

impl Sim {
    fn new(run: Run) -> Self {
        Sim {
            run,
            ready: VecDeque::from([Event::Start]),
            timers: Vec::new(),
            tasks: VecDeque::new(),
            lifo: false,
            done: false,
            seq: 0,
            reload: false,
            dup: false,
        }
    }

    fn route(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Schedule { frame, timer, at } => {
                    for _ in 0..if self.dup { 2 } else { 1 } {
                        match at {
                            Some(due) if due > self.run.env.now => {
                                self.seq += 1;
                                self.timers.push((due, self.seq, Event::Advance { frame, timer }));
                            }
                            _ => self.ready.push_back(Event::Advance { frame, timer }),
                        }
                    }
                }
                Effect::Invoke(r) => self.tasks.push_back(*r),
                Effect::Complete => self.done = true,
                // These machines have no Distributed Map reading from S3, and this environment
                // runs Distributed Map children as frames.
                Effect::StopExecution { .. } | Effect::ReadItems { .. } | Effect::StartMapRun(_) => {}
            }
        }
    }

    /// Takes one step (ready message, else a task answer, else the earliest timer); false when
    /// the execution completed or nothing is left to do.
    fn step_once(&mut self, respond: &dyn Fn(&TaskRequest) -> TaskOutcome) -> bool {
        if self.done {
            return false;
        }
        let event = if let Some(e) = self.ready.pop_front() {
            e
        } else if let Some(req) = if self.lifo { self.tasks.pop_back() } else { self.tasks.pop_front() } {
            let e = Event::Task { frame: req.frame, task: req.task, outcome: respond(&req) };
            if self.dup {
                self.ready.push_back(e.clone());
            }
            e
        } else if !self.timers.is_empty() {
            let i = (0..self.timers.len()).min_by_key(|&i| (self.timers[i].0, self.timers[i].1)).expect("a timer");
            let (due, _, e) = self.timers.remove(i);
            self.run.env.now = due;
            e
        } else {
            return false;
        };
        if self.reload {
            let text = serde_json::to_string(&self.run.x).expect("execution serialises");
            self.run.x = serde_json::from_str(&text).expect("execution deserialises");
        }
        let o = self.run.step(event);
        self.route(o.effects);
        true
    }

    fn run_to_end(&mut self, respond: &dyn Fn(&TaskRequest) -> TaskOutcome) {
        let mut n = 0;
        while self.step_once(respond) {
            n += 1;
            assert!(n < 10_000, "runaway execution");
        }
    }
}

fn ok(v: Value) -> TaskOutcome {
    TaskOutcome::Succeeded(v)
}

fn failed(error: &str, cause: &str) -> TaskOutcome {
    TaskOutcome::Failed { error: Some(error.into()), cause: Some(cause.into()) }
}

// ---------------------------------------------------------------------------------------------
// 1. One state per step
// ---------------------------------------------------------------------------------------------

/// Guards "one state per step": Start only records ExecutionStarted and schedules the first
/// step; every Advance moves the machine frame by exactly one state; history ids are gapless.
#[test]
fn one_state_per_step_in_a_pass_chain() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Result": {"b": 1}, "ResultPath": "$.b", "Next": "C"},
        "C": {"Type": "Pass", "End": true}}});
    let mut r = Run::new(def, json!({"in": 0}));

    let o = r.start();
    assert_eq!(o.types(), ["ExecutionStarted"]);
    assert_eq!(o.effects, [Effect::Schedule { frame: 0, timer: None, at: None }]);

    for name in ["A", "B"] {
        let o = r.advance(0);
        assert_eq!(o.types(), ["PassStateEntered", "PassStateExited"], "state {name}");
        assert!(matches!(&o.history[0].details, Details::Entered { name: n, .. } if n == name));
        assert_eq!(o.effects, [Effect::Schedule { frame: 0, timer: None, at: None }], "state {name}");
        assert_eq!(r.status(), &Status::Running);
    }

    let o = r.advance(0);
    assert_eq!(o.types(), ["PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
    assert_eq!(o.effects, [Effect::Complete]);
    assert_eq!(r.output(), json!({"in": 0, "b": {"b": 1}}));

    // A single frame: every event follows the previous one, except that the first state's
    // entered event has previousEventId 0, as in every AWS-recorded history.
    let ids: Vec<(u64, u64)> = r.history.iter().map(|h| (h.id, h.previous_event_id)).collect();
    let mut expected: Vec<(u64, u64)> = (1..=8).map(|i| (i, i - 1)).collect();
    expected[1] = (2, 0);
    assert_eq!(ids, expected);

    // Nothing moves a finished execution.
    r.assert_noop(Event::Advance { frame: 0, timer: None });
    r.assert_noop(Event::Start);
}

// ---------------------------------------------------------------------------------------------
// 2. Task with a bare Lambda ARN
// ---------------------------------------------------------------------------------------------

/// Guards the Invoke effect of a bare Lambda ARN (resolved Parameters incl. `$$` and `.$` paths,
/// timeout and its timer), the result pipeline (ResultSelector → ResultPath → OutputPath), and
/// that a duplicate result and a late timeout timer are no-ops.
#[test]
fn lambda_task_invokes_with_resolved_parameters_and_ignores_duplicates() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA,
              "Parameters": {"exec.$": "$$.Execution.Id", "state.$": "$$.State.Name",
                             "v.$": "$.a.b", "lit": "x", "nested": {"keep.$": "$.keep"}},
              "TimeoutSeconds": 30,
              "ResultSelector": {"picked.$": "$.payload"},
              "ResultPath": "$.res",
              "OutputPath": "$.res",
              "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}}});
    let mut r = Run::new(def, json!({"a": {"b": 42}, "keep": true}));
    r.start();
    r.set_time(1);
    let o = r.advance(0);
    assert_eq!(o.types(), ["TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted"]);
    let req = o.invoke();
    assert_eq!(req.parameters, json!({"exec": EXEC_ARN, "state": "T", "v": 42, "lit": "x", "nested": {"keep": true}}));
    assert_eq!(req.integration, Integration::LambdaArn);
    assert_eq!(req.resource, LAMBDA);
    assert_eq!(req.state_name, "T");
    assert_eq!(req.frame, 0);
    assert_eq!(req.timeout_seconds, Some(30));
    assert_eq!(req.heartbeat_seconds, None);
    assert!(!req.wait_for_task_token);
    assert_eq!(req.token, None);
    let (frame, timeout_timer, due) = o.timer();
    assert_eq!((frame, due), (0, at(31)), "the timeout timer is due at now + TimeoutSeconds");
    assert_eq!(o.effects.len(), 2, "one timer and one Invoke: {:?}", o.effects);
    // A duplicate step message while the task runs does not invoke it again.
    r.assert_noop(Event::Advance { frame: 0, timer: None });

    r.set_time(2);
    let result = ok(json!({"payload": {"z": 1}, "other": 2}));
    let o = r.outcome(&req, result.clone());
    assert_eq!(o.types(), ["LambdaFunctionSucceeded", "TaskStateExited"]);
    assert_eq!(exited_output(&o.history), json!({"picked": {"z": 1}}));
    assert_eq!(o.effects, [Effect::Schedule { frame: 0, timer: None, at: None }]);

    // Duplicate delivery of the same result, and the timeout timer after success.
    r.assert_noop(Event::Task { frame: 0, task: req.task, outcome: result.clone() });
    r.set_time(31);
    r.assert_noop(Event::Advance { frame: 0, timer: Some(timeout_timer) });

    let o = r.advance(0);
    assert_eq!(o.types(), ["PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
    assert_eq!(r.output(), json!({"picked": {"z": 1}}));
    r.assert_noop(Event::Task { frame: 0, task: req.task, outcome: result });
}

// ---------------------------------------------------------------------------------------------
// 3. Retry then Catch
// ---------------------------------------------------------------------------------------------

/// Guards the Retry schedule (IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds), that
/// a retry re-invokes without re-entering the state, that MaxAttempts counts retries, and that
/// the Catch afterwards merges {Error, Cause} into the raw input at its ResultPath.
#[test]
fn retry_backs_off_with_cap_then_catch_merges_error_into_input() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA,
              "Retry": [{"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 3,
                         "MaxAttempts": 3, "MaxDelaySeconds": 10}],
              "Catch": [{"ErrorEquals": ["E"], "ResultPath": "$.err", "Next": "Caught"}],
              "Next": "Done"},
        "Caught": {"Type": "Pass", "End": true},
        "Done": {"Type": "Pass", "End": true}}});
    let mut r = Run::new(def, json!({"in": 1}));
    r.start();
    let mut req = r.advance(0).invoke();
    let mut tasks = vec![req.task];
    let mut now = 0;
    for delay in [2, 6, 10] {
        now += 100;
        r.set_time(now);
        let o = r.outcome(&req, failed("E", "boom"));
        assert_eq!(o.types(), ["LambdaFunctionFailed"]);
        assert!(invokes(&o.effects).is_empty(), "no invoke before the interval");
        let (frame, timer, due) = o.timer();
        assert_eq!((frame, due), (0, at(now + delay)), "retry after {delay}s");
        assert_eq!(o.effects.len(), 1);

        // The retry timer, when it fires, invokes again without a new TaskStateEntered.
        r.set_time(now + delay);
        let o = r.fire(0, timer);
        assert_eq!(o.types(), ["LambdaFunctionScheduled", "LambdaFunctionStarted"]);
        req = o.invoke();
        assert!(!tasks.contains(&req.task), "each attempt has a new task id");
        tasks.push(req.task);
        // The same retry timer delivered again is a no-op.
        r.assert_noop(Event::Advance { frame: 0, timer: Some(timer) });
    }
    assert_eq!(r.count("TaskStateEntered"), 1);

    r.set_time(now + 100);
    let o = r.outcome(&req, failed("E", "boom"));
    assert_eq!(o.types(), ["LambdaFunctionFailed", "TaskStateExited"]);
    assert_eq!(exited_output(&o.history), json!({"in": 1, "err": {"Error": "E", "Cause": "boom"}}));
    assert_eq!(o.effects, [Effect::Schedule { frame: 0, timer: None, at: None }]);
    let o = r.advance(0);
    assert!(matches!(&o.history[0].details, Details::Entered { name, .. } if name == "Caught"));
    assert_eq!(r.output(), json!({"in": 1, "err": {"Error": "E", "Cause": "boom"}}));
}

// ---------------------------------------------------------------------------------------------
// 4. Error matching
// ---------------------------------------------------------------------------------------------

fn catching(error_equals: Value, timeout: Option<u64>) -> Value {
    let mut t = json!({"Type": "Task", "Resource": LAMBDA,
        "Catch": [{"ErrorEquals": error_equals, "Next": "Caught"}], "End": true});
    if let Some(s) = timeout {
        t["TimeoutSeconds"] = json!(s);
    }
    json!({"StartAt": "T", "States": {"T": t, "Caught": {"Type": "Pass", "End": true}}})
}

/// Guards that `States.ALL` catches an error name the user made up.
#[test]
fn states_all_catches_a_custom_error() {
    let mut r = Run::new(catching(json!(["States.ALL"]), None), json!({}));
    r.start();
    let req = r.advance(0).invoke();
    let o = r.outcome(&req, failed("MyError", "mine"));
    assert_eq!(o.types(), ["LambdaFunctionFailed", "TaskStateExited"]);
    r.advance(0);
    assert_eq!(r.output(), json!({"Error": "MyError", "Cause": "mine"}));
}

/// Guards that `States.TaskFailed` catches a custom error a task reports.
#[test]
fn task_failed_catches_a_custom_error() {
    let mut r = Run::new(catching(json!(["States.TaskFailed"]), None), json!({}));
    r.start();
    let req = r.advance(0).invoke();
    r.outcome(&req, failed("MyError", "mine"));
    r.advance(0);
    assert_eq!(r.output(), json!({"Error": "MyError", "Cause": "mine"}));
}

/// Guards that `States.TaskFailed` does NOT catch `States.Timeout` (a task's TimeoutSeconds
/// timer firing): the execution fails.
#[test]
fn task_failed_does_not_catch_a_task_timeout() {
    let mut r = Run::new(catching(json!(["States.TaskFailed"]), Some(5)), json!({}));
    r.start();
    let o = r.advance(0);
    let req = o.invoke();
    let (_, timer, due) = o.timer();
    assert_eq!(due, at(5));
    r.set_time(5);
    let o = r.fire(0, timer);
    assert_eq!(o.types(), ["LambdaFunctionTimedOut", "ExecutionFailed"]);
    assert!(o.completes());
    assert_eq!(r.failure().0, "States.Timeout");
    // The result arriving after the timeout is a no-op.
    r.assert_noop(Event::Task { frame: 0, task: req.task, outcome: ok(json!(1)) });
}

/// Guards that `States.Runtime` (here: an InputPath that selects nothing) is terminal: neither a
/// Retry nor a Catch naming it, nor States.ALL, handles it; the cause carries AWS's prefix with
/// the id of the state's entered event.
#[test]
fn states_runtime_is_never_retried_or_caught() {
    let def = json!({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "X"},
        "X": {"Type": "Task", "Resource": LAMBDA, "InputPath": "$.missing",
              "Retry": [{"ErrorEquals": ["States.Runtime"]}, {"ErrorEquals": ["States.ALL"]}],
              "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Caught"},
                        {"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
              "End": true},
        "Caught": {"Type": "Pass", "End": true}}});
    let mut r = Run::new(def, json!({"present": 1}));
    r.start();
    r.advance(0); // First: events 2, 3
    let o = r.advance(0);
    assert_eq!(o.types(), ["TaskStateEntered", "ExecutionFailed"]);
    assert_eq!(o.history[0].id, 4);
    assert!(invokes(&o.effects).is_empty());
    assert_eq!(o.effects, [Effect::Complete]);
    let (error, cause) = r.failure();
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.starts_with("An error occurred while executing the state 'X' (entered at the event id #4)."),
        "cause: {cause}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. HeartbeatSeconds
// ---------------------------------------------------------------------------------------------

/// Guards that a heartbeat issues a new, later heartbeat timer (no history event), that the old
/// heartbeat timer then is a no-op, and that the new one fails the task with States.Timeout
/// (what AWS records for an expired HeartbeatSeconds).
#[test]
fn heartbeat_moves_the_heartbeat_timer() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": SQS_WAIT, "HeartbeatSeconds": 10,
              "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                             "MessageBody": {"token.$": "$$.Task.Token"}},
              "End": true}}});
    let mut r = Run::new(def, json!({}));
    r.start();
    let o = r.advance(0);
    let req = o.invoke();
    assert_eq!(req.heartbeat_seconds, Some(10));
    let (_, old, due) = o.timer();
    assert_eq!(due, at(10));
    r.outcome(&req, TaskOutcome::Submitted(json!({"MessageId": "m"})));

    r.set_time(5);
    let o = r.outcome(&req, TaskOutcome::Heartbeat);
    assert!(o.history.is_empty(), "a heartbeat records no history event: {:?}", o.types());
    let (frame, new, due) = o.timer();
    assert_eq!(o.effects.len(), 1);
    assert_eq!((frame, due), (0, at(15)), "the new heartbeat timer is due at heartbeat + HeartbeatSeconds");
    assert_ne!(new, old);

    r.set_time(10);
    r.assert_noop(Event::Advance { frame: 0, timer: Some(old) });
    assert_eq!(r.status(), &Status::Running);

    r.set_time(15);
    let o = r.fire(0, new);
    assert_eq!(o.types(), ["TaskTimedOut", "ExecutionFailed"]);
    assert!(o.completes());
    assert_eq!(r.failure().0, "States.Timeout");
}

// ---------------------------------------------------------------------------------------------
// 6. .waitForTaskToken
// ---------------------------------------------------------------------------------------------

fn wait_for_token_machine() -> Value {
    json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": SQS_WAIT,
              "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                             "MessageBody": {"token.$": "$$.Task.Token", "v.$": "$.v"}},
              "End": true}}})
}

fn first_token(seed: u64) -> String {
    let mut r = Run::with_seed(wait_for_token_machine(), json!({"v": 1}), seed);
    r.start();
    r.advance(0).invoke().token.expect("a task token")
}

/// Guards the task token: present on the Invoke effect, resolvable as `$$.Task.Token`,
/// URL-safe base64 with at least 128 bits, different per random seed and reproducible per seed.
#[test]
fn wait_for_task_token_carries_an_unguessable_token() {
    let mut r = Run::with_seed(wait_for_token_machine(), json!({"v": 7}), 1);
    r.start();
    let req = r.advance(0).invoke();
    assert!(req.wait_for_task_token);
    assert_eq!(req.integration, Integration::SqsSendMessage);
    let token = req.token.clone().expect("a task token");
    assert!(token.len() >= 22, "at least 128 bits of base64: {token}");
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "URL-safe base64: {token}");
    assert_eq!(req.parameters["MessageBody"], json!({"token": token, "v": 7}));

    assert_eq!(first_token(1), token, "the same seed replays the same token");
    assert_ne!(first_token(2), token, "another seed gives another token");
}

/// Guards the callback lifecycle: Submitted records TaskSubmitted and keeps the task running
/// (no effects); the token's Succeeded later completes it.
#[test]
fn wait_for_task_token_runs_until_the_token_returns() {
    let mut r = Run::new(wait_for_token_machine(), json!({"v": 1}));
    r.start();
    let req = r.advance(0).invoke();
    let o = r.outcome(&req, TaskOutcome::Submitted(json!({"MessageId": "m-1"})));
    assert_eq!(o.types(), ["TaskSubmitted"]);
    assert!(o.effects.is_empty());
    assert!(matches!(r.x.frames[0].phase, Phase::Running(_)));
    assert_eq!(r.status(), &Status::Running);

    r.set_time(3600);
    let o = r.outcome(&req, ok(json!({"answer": 42})));
    assert_eq!(o.types(), ["TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]);
    assert!(o.completes());
    assert_eq!(r.output(), json!({"answer": 42}));
}

/// Guards at-least-once delivery of the integration's response: a duplicate Submitted must not
/// record a second TaskSubmitted event (AWS records one per task).
#[test]
fn duplicate_submitted_is_a_no_op() {
    let mut r = Run::new(wait_for_token_machine(), json!({"v": 1}));
    r.start();
    let req = r.advance(0).invoke();
    let submitted = TaskOutcome::Submitted(json!({"MessageId": "m-1"}));
    r.outcome(&req, submitted.clone());
    r.assert_noop(Event::Task { frame: req.frame, task: req.task, outcome: submitted });
}

/// Guards the order of an activity's events when the worker's answer overtakes the message of
/// its GetActivityTask (SQS does not keep order): ActivityStarted is recorded before
/// ActivitySucceeded, once, and the late start is a no-op; a start that came first is not
/// recorded again.
#[test]
fn an_activity_answer_before_its_start_records_the_start_first() {
    let activity = "arn:aws:states:us-east-1:123456789012:activity:work";
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": activity, "End": true}}});
    let mut r = Run::new(def.clone(), json!({}));
    r.start();
    let req = r.advance(0).invoke();
    assert_eq!(r.outcome(&req, TaskOutcome::Submitted(Value::Null)).types(), ["ActivityScheduled"]);
    let o = r.outcome(&req, ok(json!({"done": true})));
    assert_eq!(o.types(), ["ActivityStarted", "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"]);
    assert_eq!(
        o.history[0].details,
        Details::Other(json!({})),
        "the worker's name came with the start that was overtaken"
    );
    r.assert_noop(Event::Task {
        frame: req.frame,
        task: req.task,
        outcome: TaskOutcome::Started { worker_name: Some("w".into()) },
    });

    let mut r = Run::new(def, json!({}));
    r.start();
    let req = r.advance(0).invoke();
    r.outcome(&req, TaskOutcome::Submitted(Value::Null));
    let started = TaskOutcome::Started { worker_name: Some("w".into()) };
    let o = r.outcome(&req, started.clone());
    assert_eq!(o.types(), ["ActivityStarted"]);
    assert_eq!(o.history[0].details, Details::Other(json!({"workerName": "w"})));
    r.assert_noop(Event::Task { frame: req.frame, task: req.task, outcome: started });
    let o = r.outcome(&req, failed("Oops", "worker failed"));
    assert_eq!(o.types(), ["ActivityFailed", "ExecutionFailed"]);
}

// ---------------------------------------------------------------------------------------------
// 7. Parallel
// ---------------------------------------------------------------------------------------------

fn parallel_machine() -> Value {
    let branch = |name: &str| {
        json!({"StartAt": name, "States": {name: {"Type": "Task", "Resource": LAMBDA,
            "Parameters": {"branch": name}, "End": true}}})
    };
    json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [branch("A"), branch("B")],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handled"}],
              "End": true},
        "Handled": {"Type": "Pass", "End": true}}})
}

/// Starts the Parallel and both branch tasks; returns (branch A's request, branch B's request).
fn start_parallel(r: &mut Run) -> (TaskRequest, TaskRequest) {
    r.start();
    let o = r.advance(0);
    assert_eq!(o.types(), ["ParallelStateEntered", "ParallelStateStarted"]);
    let frames: Vec<usize> = o.schedules().iter().map(|s| s.0).collect();
    assert_eq!(frames.len(), 2, "one step message per branch: {:?}", o.effects);
    assert!(o.schedules().iter().all(|s| s.1.is_none() && s.2.is_none()));
    assert!(!frames.contains(&0));
    let a = r.advance(frames[0]).invoke();
    let b = r.advance(frames[1]).invoke();
    assert_eq!(a.parameters, json!({"branch": "A"}));
    assert_eq!(b.parameters, json!({"branch": "B"}));
    (a, b)
}

/// Guards the Parallel join: both branches run as their own frames, the parent completes only
/// after both, and its output is in branch order whatever the completion order.
#[test]
fn parallel_joins_after_both_branches_in_branch_order() {
    let mut r = Run::new(parallel_machine(), json!({"in": 1}));
    let (a, b) = start_parallel(&mut r);

    // B finishes first: no join yet; a premature parent message does nothing.
    let o = r.outcome(&b, ok(json!("from B")));
    assert_eq!(o.types(), ["LambdaFunctionSucceeded", "TaskStateExited"]);
    assert!(o.schedules().iter().all(|s| s.0 != 0), "no join before all branches end: {:?}", o.effects);
    r.assert_noop(Event::Advance { frame: 0, timer: None });

    let o = r.outcome(&a, ok(json!("from A")));
    assert_eq!(o.schedules(), [(0, None, None)], "the last branch schedules the join");
    let o = r.advance(0);
    assert_eq!(o.types(), ["ParallelStateSucceeded", "ParallelStateExited", "ExecutionSucceeded"]);
    assert_eq!(r.output(), json!(["from A", "from B"]));
}

/// Guards fail-fast: a failing branch aborts its sibling (whose later messages are no-ops) and
/// the Parallel's Catch applies to the branch's error.
#[test]
fn parallel_branch_failure_aborts_sibling_and_catch_applies() {
    let mut r = Run::new(parallel_machine(), json!({"in": 1}));
    let (a, b) = start_parallel(&mut r);

    let o = r.outcome(&b, failed("Boom", "bad"));
    assert_eq!(o.schedules(), [(0, None, None)], "the failure schedules the join");
    assert!(matches!(r.x.frames[a.frame].phase, Phase::Aborted), "the sibling is aborted");

    // The sibling's result and a stray step message for it change nothing.
    r.assert_noop(Event::Task { frame: a.frame, task: a.task, outcome: ok(json!("late")) });
    r.assert_noop(Event::Advance { frame: a.frame, timer: None });

    let o = r.advance(0);
    assert_eq!(o.types().last(), Some(&"ParallelStateExited"));
    assert_eq!(exited_output(&o.history), json!({"in": 1, "err": {"Error": "Boom", "Cause": "bad"}}));
    r.advance(0);
    assert_eq!(r.output(), json!({"in": 1, "err": {"Error": "Boom", "Cause": "bad"}}));
}

// ---------------------------------------------------------------------------------------------
// 8. Map
// ---------------------------------------------------------------------------------------------

fn map_machine(extra: Value) -> Value {
    let mut m = json!({"Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": LAMBDA, "End": true}}},
        "End": true});
    for (k, v) in extra.as_object().expect("an object") {
        m[k] = v.clone();
    }
    json!({"StartAt": "M", "States": {"M": m}})
}

/// Items are numbers; an item ≥ 100 fails, the others return item × 10.
fn map_worker(req: &TaskRequest) -> TaskOutcome {
    let n = req.parameters.as_i64().expect("item");
    if n >= 100 {
        failed("Boom", &format!("item {n}"))
    } else {
        ok(json!(n * 10))
    }
}

fn running_iterations(r: &Run) -> usize {
    r.count("MapIterationStarted") - r.count("MapIterationSucceeded") - r.count("MapIterationFailed")
}

/// Guards MaxConcurrency: never more than 2 iterations running at any step (with completions in
/// reverse order), and results in item order.
#[test]
fn map_max_concurrency_bounds_running_iterations_and_keeps_item_order() {
    let def = map_machine(json!({"MaxConcurrency": 2}));
    let mut sim = Sim::new(Run::new(def, json!({"items": [1, 2, 3, 4, 5]})));
    sim.lifo = true;
    let mut peak = 0;
    while sim.step_once(&map_worker) {
        let running = running_iterations(&sim.run);
        assert!(running <= 2, "{running} iterations running");
        peak = peak.max(running);
    }
    assert_eq!(peak, 2);
    assert_eq!(sim.run.count("MapIterationStarted"), 5);
    assert_eq!(sim.run.output(), json!([10, 20, 30, 40, 50]));
}

/// Guards ToleratedFailureCount: one failed item within the tolerance leaves the Map succeeding,
/// with the failure's {Error, Cause} in that item's slot.
#[test]
fn map_tolerates_one_failure_with_error_object_in_its_slot() {
    let def = map_machine(json!({"MaxConcurrency": 2, "ToleratedFailureCount": 1}));
    let mut sim = Sim::new(Run::new(def, json!({"items": [1, 2, 100, 4, 5]})));
    sim.run_to_end(&map_worker);
    assert_eq!(sim.run.output(), json!([10, 20, {"Error": "Boom", "Cause": "item 100"}, 40, 50]));
    assert_eq!(sim.run.count("MapIterationFailed"), 1);
}

/// Guards ToleratedFailureCount: failures beyond the tolerance fail the Map with
/// States.ExceedToleratedFailureThreshold.
#[test]
fn map_exceeding_tolerated_failures_fails() {
    let def = map_machine(json!({"MaxConcurrency": 2, "ToleratedFailureCount": 1}));
    let mut sim = Sim::new(Run::new(def, json!({"items": [1, 100, 3, 101, 5]})));
    sim.run_to_end(&map_worker);
    assert_eq!(sim.run.failure().0, "States.ExceedToleratedFailureThreshold");
    assert_eq!(sim.run.count("MapIterationFailed"), 2);
    assert!(sim.done);
}

// ---------------------------------------------------------------------------------------------
// 9. Wait
// ---------------------------------------------------------------------------------------------

/// Guards Wait as a timer effect: due at now + Seconds with a timer id; a step message without
/// the timer (a duplicate ready message) is a no-op; the timer message exits the state.
#[test]
fn wait_schedules_a_timer_and_only_the_timer_ends_it() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}});
    let mut r = Run::new(def, json!({"k": 1}));
    r.start();
    r.set_time(3);
    let o = r.advance(0);
    assert_eq!(o.types(), ["WaitStateEntered"]);
    assert_eq!(o.effects.len(), 1);
    let (frame, timer, due) = o.timer();
    assert_eq!((frame, due), (0, at(13)));

    r.assert_noop(Event::Advance { frame: 0, timer: None });
    r.assert_noop(Event::Advance { frame: 0, timer: Some(timer + 1000) });

    r.set_time(13);
    let o = r.fire(0, timer);
    assert_eq!(o.types(), ["WaitStateExited", "ExecutionSucceeded"]);
    assert_eq!(r.output(), json!({"k": 1}));
    r.assert_noop(Event::Advance { frame: 0, timer: Some(timer) });
}

// ---------------------------------------------------------------------------------------------
// 10. Serialisation
// ---------------------------------------------------------------------------------------------

fn serialisation_machine() -> Value {
    json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "Flaky", "States": {
                "Flaky": {"Type": "Task", "Resource": LAMBDA,
                          "Parameters": {"kind": "flaky", "attempt.$": "$$.State.RetryCount"},
                          "TimeoutSeconds": 60, "HeartbeatSeconds": 30,
                          "Retry": [{"ErrorEquals": ["Again"], "IntervalSeconds": 1}],
                          "ResultPath": "$.flaky", "Next": "Pause"},
                "Pause": {"Type": "Wait", "Seconds": 5, "Assign": {"paused": true}, "End": true}}},
            {"StartAt": "M", "States": {
                "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                      "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
                      "ItemProcessor": {"StartAt": "Work", "States": {
                          "Work": {"Type": "Task", "Resource": LAMBDA, "End": true}}},
                      "End": true}}}],
        "Next": "Done"},
        "Done": {"Type": "Succeed"}}})
}

fn serialisation_worker(req: &TaskRequest) -> TaskOutcome {
    let p = &req.parameters;
    if p["kind"] == "flaky" {
        if p["attempt"] == 0 {
            failed("Again", "first attempt")
        } else {
            ok(json!({"attempt": p["attempt"]}))
        }
    } else {
        ok(json!({"doubled": p["v"].as_f64().expect("a number") * 2.0, "i": p["i"]}))
    }
}

/// Guards that an execution is plain data: after every step it round-trips through JSON to an
/// equal value, and continuing from the reloaded copy gives the same history and final state as
/// continuing from the original.
#[test]
fn execution_round_trips_through_json_at_every_step() {
    let input = json!({"items": [1.5, 2, 0.1, -3], "note": "é ✓"});
    let mut sim = Sim::new(Run::new(serialisation_machine(), input));
    sim.lifo = true;
    let mut snapshots = Vec::new();
    loop {
        let text = serde_json::to_string(&sim.run.x).expect("serialises");
        let back: Execution = serde_json::from_str(&text).expect("deserialises");
        assert_eq!(back, sim.run.x, "round trip after {} events", sim.run.history.len());
        snapshots.push(sim.clone());
        if !sim.step_once(&serialisation_worker) {
            break;
        }
    }
    assert!(sim.done);
    let expected = json!([
        {"items": [1.5, 2, 0.1, -3], "note": "é ✓", "flaky": {"attempt": 1}},
        [{"doubled": 3.0, "i": 0}, {"doubled": 4.0, "i": 1}, {"doubled": 0.2, "i": 2}, {"doubled": -6.0, "i": 3}]
    ]);
    assert_eq!(sim.run.output(), expected);
    // The run went through every phase: task, backoff, wait, children.
    let tys = types(&sim.run.history);
    for t in ["LambdaFunctionFailed", "WaitStateExited", "MapIterationSucceeded", "ParallelStateSucceeded"] {
        assert!(tys.contains(&t), "{t} missing from {tys:?}");
    }

    assert!(snapshots.len() > 20);
    for (i, snap) in snapshots.into_iter().enumerate() {
        let mut fork = snap;
        fork.reload = true;
        fork.run_to_end(&serialisation_worker);
        assert_eq!(fork.run.history, sim.run.history, "history continuing from the copy reloaded at step {i}");
        assert_eq!(fork.run.x, sim.run.x, "final state continuing from the copy reloaded at step {i}");
    }
}

/// Guards at-least-once delivery end to end: with every step message, timer and task outcome
/// delivered twice, the execution ends the same way and records the same events (the
/// interleaving of concurrent branches may differ, so they are compared as a multiset).
#[test]
fn duplicate_delivery_of_every_message_changes_no_outcome() {
    let input = json!({"items": [1, 2, 3, 4]});
    let mut once = Sim::new(Run::new(serialisation_machine(), input.clone()));
    once.run_to_end(&serialisation_worker);
    let mut twice = Sim::new(Run::new(serialisation_machine(), input));
    twice.dup = true;
    twice.run_to_end(&serialisation_worker);
    assert_eq!(twice.run.output(), once.run.output());
    let key = |r: &Run| {
        let mut v: Vec<String> =
            r.history.iter().map(|h| format!("{} {:?} {}", h.event_type, h.details, h.timestamp)).collect();
        v.sort();
        v
    };
    assert_eq!(key(&twice.run), key(&once.run));
}

// ---------------------------------------------------------------------------------------------
// previousEventId as AWS records it (ground truth: the AWS-recorded conformance corpus)
// ---------------------------------------------------------------------------------------------

fn previous_ids(r: &Run) -> Vec<(String, u64)> {
    r.history.iter().map(|h| (h.event_type.to_string(), h.previous_event_id)).collect()
}

fn with_ids(r: &Run, prev: &[u64]) -> Vec<(String, u64)> {
    r.history.iter().zip(prev).map(|(h, p)| (h.event_type.to_string(), *p)).collect()
}

/// Guards previousEventId in an inline Map, as AWS recorded it for
/// `test_map_state_items_input_array[mixed]`: a MapIterationStarted that follows a finished
/// iteration points at the same event as that iteration's MapIterationSucceeded, and
/// MapStateExited points at the same event as MapStateSucceeded.
#[test]
fn map_history_previous_event_ids_match_aws() {
    let def = json!({"StartAt": "Start", "States": {
        "Start": {"Type": "Pass", "OutputPath": "$.items", "Next": "MapIterateState"},
        "MapIterateState": {"Type": "Map", "MaxConcurrency": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Pass",
                              "States": {"Pass": {"Type": "Pass", "End": true}}},
            "End": true}}});
    let mut sim = Sim::new(Run::new(def, json!({"items": [1, "two", true]})));
    sim.run_to_end(&|_| panic!("no tasks"));
    let aws = [0, 0, 2, 3, 4, 5, 6, 7, 8, 8, 10, 11, 12, 12, 14, 15, 16, 17, 17, 19];
    assert_eq!(sim.run.history.len(), aws.len());
    assert_eq!(previous_ids(&sim.run), with_ids(&sim.run, &aws));
}

/// Guards previousEventId of ParallelStateFailed, as AWS recorded it for
/// `test_parallel_state_fail`: it points at the failing branch's last event (FailStateEntered).
#[test]
fn parallel_failed_previous_event_id_matches_aws() {
    let def = json!({"StartAt": "ParallelState", "States": {
        "ParallelState": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Branch1", "States": {"Branch1": {"Type": "Fail", "Error": "FailureType"}}}]}}});
    let mut sim = Sim::new(Run::new(def, json!({})));
    sim.run_to_end(&|_| panic!("no tasks"));
    let aws = [0, 0, 2, 3, 4, 5];
    assert_eq!(
        types(&sim.run.history),
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "FailStateEntered",
            "ParallelStateFailed",
            "ExecutionFailed"
        ]
    );
    assert_eq!(previous_ids(&sim.run), with_ids(&sim.run, &aws));
}

/// Guards previousEventId of ExecutionAborted, as AWS recorded it for `test_stop_execution`
/// (StopExecution during a Wait): 0, with empty details when no error or cause was given.
#[test]
fn stop_during_wait_history_matches_aws() {
    let def = json!({"StartAt": "State_1", "States": {"State_1": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let mut r = Run::new(def, json!({}));
    r.start();
    r.advance(0);
    r.step(Event::Stop { error: None, cause: None });
    assert_eq!(types(&r.history), ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]);
    assert_eq!(r.history[2].to_aws_json()["executionAbortedEventDetails"], json!({}));
    assert_eq!(previous_ids(&r), with_ids(&r, &[0, 0, 0]));
}

// ---------------------------------------------------------------------------------------------
// 11. StopExecution
// ---------------------------------------------------------------------------------------------

/// Guards StopExecution: status ABORTED with the given error and cause, an ExecutionAborted
/// event and a Complete effect; later messages (task result, timers, steps, another stop) are
/// no-ops.
#[test]
fn stop_aborts_and_later_messages_are_no_ops() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": 100, "End": true}}});
    let mut r = Run::new(def, json!({}));
    r.start();
    let o = r.advance(0);
    let req = o.invoke();
    let (_, timer, _) = o.timer();

    r.set_time(5);
    let o = r.step(Event::Stop { error: Some("UserStop".into()), cause: Some("enough".into()) });
    assert_eq!(o.types().last(), Some(&"ExecutionAborted"));
    assert!(o.completes());
    assert_eq!(r.status(), &Status::Aborted { error: Some("UserStop".into()), cause: Some("enough".into()) });

    r.assert_noop(Event::Task { frame: 0, task: req.task, outcome: ok(json!(1)) });
    r.set_time(100);
    r.assert_noop(Event::Advance { frame: 0, timer: Some(timer) });
    r.assert_noop(Event::Advance { frame: 0, timer: None });
    r.assert_noop(Event::Stop { error: None, cause: None });
}

/// Guards Terminate (a deleted state machine's executions): FAILED with the runtime's error and
/// cause, ExecutionFailed as the last event, a Complete effect, even from inside a Parallel
/// branch; later messages are no-ops, and a finished execution ignores it.
#[test]
fn terminate_fails_the_execution_and_later_messages_are_no_ops() {
    let def = json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}}]}}});
    let mut r = Run::new(def, json!({}));
    r.start();
    r.advance(0);
    let o = r.advance(1);
    let req = o.invoke();
    let deleted =
        Event::Terminate { error: "States.Runtime".into(), cause: "State machine M has been deleted.".into() };
    let o = r.step(deleted.clone());
    assert_eq!(o.types().last(), Some(&"ExecutionFailed"));
    assert!(o.completes());
    assert_eq!(
        r.status(),
        &Status::Failed {
            error: Some("States.Runtime".into()),
            cause: Some("State machine M has been deleted.".into())
        }
    );
    assert_eq!(
        r.history.last().map(|e| e.to_aws_json()["executionFailedEventDetails"].clone()),
        Some(json!({"error": "States.Runtime", "cause": "State machine M has been deleted."}))
    );
    r.assert_noop(Event::Task { frame: req.frame, task: req.task, outcome: ok(json!(1)) });
    r.assert_noop(deleted);
    r.assert_noop(Event::Stop { error: None, cause: None });
}

// ---------------------------------------------------------------------------------------------
// 12. Machine TimeoutSeconds
// ---------------------------------------------------------------------------------------------

/// Guards the machine-level TimeoutSeconds: Start schedules its timer; when it fires while a
/// task runs, the execution times out (ExecutionTimedOut, TIMED_OUT, Complete), and the task's
/// late result is a no-op.
#[test]
fn machine_timeout_times_out_a_running_execution() {
    let def = json!({"TimeoutSeconds": 60, "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA, "End": true}}});
    let mut r = Run::new(def, json!({}));
    let o = r.start();
    assert_eq!(o.types(), ["ExecutionStarted"]);
    let (frame, timer, due) = o.timer();
    assert_eq!((frame, due), (0, at(60)));
    assert!(o.schedules().contains(&(0, None, None)));

    let req = r.advance(0).invoke();
    r.set_time(60);
    let o = r.fire(0, timer);
    assert_eq!(o.types(), ["ExecutionTimedOut"]);
    assert!(o.completes());
    assert!(matches!(r.status(), Status::TimedOut { .. }), "{:?}", r.status());
    assert_eq!(r.status().as_str(), "TIMED_OUT");

    r.assert_noop(Event::Task { frame: 0, task: req.task, outcome: ok(json!(1)) });
    r.assert_noop(Event::Advance { frame: 0, timer: Some(timer) });
}

// ---------------------------------------------------------------------------------------------
// 13. Variables
// ---------------------------------------------------------------------------------------------

/// Guards workflow variables: Assign in a Pass, read as `$var` in a later Task's Parameters;
/// a state's Assign values are all evaluated before any assignment applies (swap); a Map
/// iteration reads the outer variables.
#[test]
fn variables_assign_swap_and_map_iterations_see_outer_variables() {
    let def = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"x": 1, "y": 2}, "Next": "Swap"},
        "Swap": {"Type": "Pass", "Assign": {"x.$": "$y", "y.$": "$x"}, "Next": "Call"},
        "Call": {"Type": "Task", "Resource": LAMBDA,
                 "Parameters": {"x.$": "$x", "y.$": "$y"}, "ResultPath": "$.called", "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.list",
              "ItemProcessor": {"StartAt": "Inner", "States": {
                  "Inner": {"Type": "Pass", "Parameters": {"item.$": "$", "x.$": "$x", "y.$": "$y"},
                            "End": true}}},
              "End": true}}});
    let mut r = Run::new(def, json!({"list": ["a", "b"]}));
    r.start();
    r.advance(0);
    let o = r.advance(0);
    match &o.history[1].details {
        Details::Exited { assigned, .. } => {
            assert_eq!(assigned.clone().map(Value::Object), Some(json!({"x": 2, "y": 1})), "swapped");
        }
        d => panic!("expected Swap's exited event, got {d:?}"),
    }
    let req = r.advance(0).invoke();
    assert_eq!(req.parameters, json!({"x": 2, "y": 1}));

    let mut sim = Sim::new(r);
    sim.ready.clear();
    sim.ready.push_back(Event::Task { frame: req.frame, task: req.task, outcome: ok(json!("done")) });
    sim.run_to_end(&|_| panic!("no more tasks"));
    assert_eq!(sim.run.output(), json!([{"item": "a", "x": 2, "y": 1}, {"item": "b", "x": 2, "y": 1}]));
}

// ---------------------------------------------------------------------------------------------
// 14. JSONata
// ---------------------------------------------------------------------------------------------

fn jsonata_machine() -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "Prep", "States": {
        "Prep": {"Type": "Pass",
                 "Assign": {"base": "{% $states.input.n %}"},
                 "Output": "{% {'n2': $states.input.n * 2} %}",
                 "Next": "Call"},
        "Call": {"Type": "Task", "Resource": LAMBDA,
                 "Arguments": {"doubled": "{% $states.input.n2 %}", "base": "{% $base %}",
                               "exec": "{% $states.context.Execution.Name %}"},
                 "Assign": {"last": "{% $states.result.total %}"},
                 "Output": "{% $states.result.total %}",
                 "Next": "Check"},
        "Check": {"Type": "Choice",
                  "Choices": [{"Condition": "{% $states.input > 10 %}", "Next": "Big"}],
                  "Default": "Small"},
        "Big": {"Type": "Succeed", "Output": "{% {'size': 'big', 'v': $states.input, 'last': $last} %}"},
        "Small": {"Type": "Succeed", "Output": "{% {'size': 'small', 'v': $states.input} %}"}}})
}

fn run_jsonata(total: i64) -> (TaskRequest, Run) {
    let mut r = Run::new(jsonata_machine(), json!({"n": 3}));
    r.start();
    let o = r.advance(0);
    match &o.history[1].details {
        Details::Exited { output, assigned, .. } => {
            assert_eq!(output, &json!({"n2": 6}));
            assert_eq!(assigned.clone().map(Value::Object), Some(json!({"base": 3})));
        }
        d => panic!("expected Prep's exited event, got {d:?}"),
    }
    let req = r.advance(0).invoke();
    let mut sim = Sim::new(r);
    sim.ready.clear();
    sim.ready.push_back(Event::Task { frame: req.frame, task: req.task, outcome: ok(json!({"total": total})) });
    sim.run_to_end(&|_| panic!("no more tasks"));
    (req, sim.run)
}

/// Guards JSONata states: Arguments/Output/Assign with `$states.input`, `$states.result` and
/// `$states.context`, variables across states, and a Choice Condition picking either branch.
#[test]
fn jsonata_arguments_output_assign_and_choice_condition() {
    let (req, r) = run_jsonata(14);
    assert_eq!(req.parameters, json!({"doubled": 6, "base": 3, "exec": "exec-1"}));
    assert_eq!(r.output(), json!({"size": "big", "v": 14, "last": 14}));
    assert!(types(&r.history).contains(&"ChoiceStateExited"));

    let (_, r) = run_jsonata(5);
    assert_eq!(r.output(), json!({"size": "small", "v": 5}));
}
