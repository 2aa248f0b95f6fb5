//! The pure stepper: `step(&machine, execution, event, env) -> Transition`.
//!
//! An [`Execution`] is plain data (serde), so a runtime can save it between any two steps and
//! load it anywhere. It holds one [`Frame`] per running thread of control: the machine's own
//! (frame 0), one per Parallel branch and one per Map iteration. Each step advances **one frame
//! by one state** (or consumes one task result / timer), and returns:
//! - the new execution state,
//! - [`Effect`]s for the runtime: schedule the next step message (now or at a time), invoke a
//!   task integration, and completion,
//! - the history events of the transition.
//!
//! Messages that no longer match (a late timer, a duplicate task result, a step for an aborted
//! branch) are recognised by the frame's phase and ids and change nothing, which is what makes
//! at-least-once delivery safe for the runtime.

use crate::history::{state_event, Details, HistoryEvent};
use std::borrow::Cow;
use crate::model::{
    Assign, FloatOrPath, IntOrPath, PathField, State, StateKind, StateMachine, Transition as Next, WaitSpec,
};
use crate::payload::{eval_path, Context, EvalError};
use crate::jsonata::{self, Template as JTemplate};
use crate::model::QueryLanguage;
use crate::{jsonpath, timestamp};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// AWS's payload size limit (256 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// The clock and randomness a step may use; injected so steps replay exactly.
pub trait Env {
    /// The current time.
    fn now(&mut self) -> DateTime<Utc>;
    /// 64 random bits.
    fn random(&mut self) -> u64;
}

/// Names of an execution, as they appear in ARNs and the context object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    /// Execution ARN.
    pub execution_arn: String,
    /// Execution name.
    pub name: String,
    /// State machine ARN.
    pub state_machine_arn: String,
    /// State machine name.
    pub state_machine_name: String,
    /// The role the execution runs as.
    pub role_arn: String,
    /// The revision of the state machine it runs (the durable runtime's `revisionId`; an update
    /// of the machine does not change what a running execution runs). `None`: the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_machine_revision: Option<String>,
}

impl ExecutionInfo {
    /// Builds ARNs the way AWS does from account, region and names.
    pub fn new(account: &str, region: &str, machine: &str, execution: &str, role_arn: &str, express: bool) -> Self {
        let kind = if express { "express" } else { "execution" };
        ExecutionInfo {
            execution_arn: format!("arn:aws:states:{region}:{account}:{kind}:{machine}:{execution}"),
            name: execution.into(),
            state_machine_arn: format!("arn:aws:states:{region}:{account}:stateMachine:{machine}"),
            state_machine_name: machine.into(),
            role_arn: role_arn.into(),
            state_machine_revision: None,
        }
    }
}

/// The lifecycle of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status")]
pub enum Status {
    /// Not finished.
    #[serde(rename = "RUNNING")]
    Running,
    /// Finished with an output.
    #[serde(rename = "SUCCEEDED")]
    Succeeded {
        /// The execution output.
        output: Value,
    },
    /// Failed with an error.
    #[serde(rename = "FAILED")]
    Failed {
        /// ASL error name.
        error: Option<String>,
        /// Cause text.
        cause: Option<String>,
    },
    /// The machine's TimeoutSeconds elapsed.
    #[serde(rename = "TIMED_OUT")]
    TimedOut {
        /// Error name.
        error: Option<String>,
        /// Cause text.
        cause: Option<String>,
    },
    /// Stopped from outside.
    #[serde(rename = "ABORTED")]
    Aborted {
        /// Error given to StopExecution.
        error: Option<String>,
        /// Cause given to StopExecution.
        cause: Option<String>,
    },
}

impl Status {
    /// The status word (`RUNNING`, `SUCCEEDED`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded { .. } => "SUCCEEDED",
            Status::Failed { .. } => "FAILED",
            Status::TimedOut { .. } => "TIMED_OUT",
            Status::Aborted { .. } => "ABORTED",
        }
    }
}

/// The persisted state of one execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Names and ARNs.
    pub info: ExecutionInfo,
    /// The execution input.
    pub input: Value,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// Lifecycle.
    pub status: Status,
    /// Threads of control; index = frame id; 0 is the machine.
    pub frames: Vec<Frame>,
    /// Id of the last history event.
    pub last_event_id: u64,
    /// Source of task and timer ids.
    pub seq: u64,
    /// Redrives so far.
    pub redrive_count: u32,
    /// Id of the machine-timeout timer, if the machine has TimeoutSeconds.
    pub machine_timer: Option<u64>,
}

/// Where a child frame reports when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parent {
    /// The Parallel/Map frame.
    pub frame: usize,
    /// Branch index or item index.
    pub index: usize,
}

/// One thread of control: where it is and what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The scope (state container) it runs in.
    pub scope: usize,
    /// Where it reports when it ends (None for the machine).
    pub parent: Option<Parent>,
    /// Current state index in the scope.
    pub state: usize,
    /// The raw input of the current state.
    pub input: Value,
    /// What the frame is doing.
    pub phase: Phase,
    /// Id of the current state's `*StateEntered` event.
    pub entered_event: u64,
    /// When the current state was entered.
    pub entered_time: DateTime<Utc>,
    /// Id of the frame's latest history event (for previousEventId).
    pub prev_event: u64,
    /// Attempts used per retrier of the current state.
    pub retries: Vec<u32>,
    /// Events of this frame stay out of the history (distributed Map children).
    pub silent: bool,
    /// Workflow variables assigned in this frame (children see their ancestors' too).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub vars: Map<String, Value>,
}

/// What a frame is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    /// A step message will enter the current state.
    Ready,
    /// Waiting for a task integration's result.
    Running(Box<RunningTask>),
    /// A Wait state waiting for its timer.
    Waiting {
        /// Timer id.
        timer: u64,
        /// The state's output once the wait is over.
        output: Value,
        /// Variables to assign when the wait is over.
        #[serde(default)]
        assigned: Option<Map<String, Value>>,
    },
    /// Waiting out a Retry interval before trying the state again.
    Backoff {
        /// Timer id.
        timer: u64,
    },
    /// A Parallel or Map waiting for its children.
    Children(Box<Join>),
    /// Finished (reported to the parent or completed the execution).
    Done,
    /// Stopped because a sibling failed or the execution ended.
    Aborted,
}

/// A task in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningTask {
    /// Task id; results must carry it.
    pub task: u64,
    /// The request as sent.
    pub request: TaskRequest,
    /// Timer of TimeoutSeconds.
    pub timeout_timer: Option<u64>,
    /// Timer of HeartbeatSeconds (moved by heartbeats).
    pub heartbeat_timer: Option<u64>,
    /// A `.waitForTaskToken` request was delivered (TaskSubmitted recorded).
    #[serde(default)]
    pub submitted: bool,
}

/// The join of a Parallel or Map state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Join {
    /// Map (true) or Parallel.
    pub map: bool,
    /// Distributed Map (children silent, map-run events).
    pub distributed: bool,
    /// Frame id of each child once started.
    pub children: Vec<Option<usize>>,
    /// Inputs of children not yet started (Map), by index.
    pub pending: Vec<Value>,
    /// Results by index.
    pub results: Vec<Value>,
    /// Children finished (ok or tolerated failure).
    pub done: usize,
    /// Children running now.
    pub running: usize,
    /// Next index to start.
    pub next: usize,
    /// 0 = unbounded.
    pub max_concurrency: usize,
    /// Failed iterations.
    pub failed: usize,
    /// ToleratedFailureCount.
    pub tolerated_count: Option<u64>,
    /// ToleratedFailurePercentage.
    pub tolerated_pct: Option<f64>,
    /// The failure that ends the state.
    pub failure: Option<(Option<String>, Option<String>)>,
    /// The failing child's latest event (the state's failure event follows it).
    #[serde(default)]
    pub failure_event: u64,
}

/// The integration a Task state's Resource selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Integration {
    /// A bare Lambda function ARN: the payload is the function's input, the output its result.
    LambdaArn,
    /// `arn:aws:states:::lambda:invoke`: the optimized integration with its response envelope.
    LambdaInvoke,
    /// `arn:aws:states:::sqs:sendMessage`.
    SqsSendMessage,
    /// `arn:aws:states:::sns:publish`.
    SnsPublish,
    /// Anything else: the runtime reports it as unsupported.
    Unsupported,
}

impl Integration {
    /// Classifies a Resource ARN; also says whether it waits for a task token.
    pub fn of(resource: &str) -> (Integration, bool) {
        if let Some(rest) = resource.strip_prefix("arn:aws:states:::").or_else(|| {
            resource.find(":states:::").map(|i| &resource[i + ":states:::".len()..])
        }) {
            let (service, wait) = match rest.strip_suffix(".waitForTaskToken") {
                Some(s) => (s, true),
                None => (rest, false),
            };
            let i = match service {
                "lambda:invoke" => Integration::LambdaInvoke,
                "sqs:sendMessage" => Integration::SqsSendMessage,
                "sns:publish" => Integration::SnsPublish,
                _ => Integration::Unsupported,
            };
            return (i, wait);
        }
        if resource.contains(":lambda:") && resource.contains(":function:") {
            return (Integration::LambdaArn, false);
        }
        (Integration::Unsupported, false)
    }

    /// `resourceType` and `resource` as history events name them.
    fn names(self, resource: &str) -> (String, String) {
        let tail = resource.rsplit(":::").next().unwrap_or(resource);
        let mut parts = tail.splitn(2, ':');
        let ty = parts.next().unwrap_or_default().to_string();
        let res = parts.next().unwrap_or_default().to_string();
        (ty, res)
    }
}

/// What the runtime must do for a Task state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRequest {
    /// The frame waiting for it.
    pub frame: usize,
    /// Task id to quote in the result.
    pub task: u64,
    /// The state's name.
    pub state_name: String,
    /// Resource ARN as written.
    pub resource: String,
    /// Which integration.
    pub integration: Integration,
    /// Whether the task ends only with a task token callback.
    pub wait_for_task_token: bool,
    /// Resolved parameters (the function input for bare Lambda ARNs).
    pub parameters: Value,
    /// The task token, for `.waitForTaskToken`.
    pub token: Option<String>,
    /// TimeoutSeconds, if any.
    pub timeout_seconds: Option<u64>,
    /// HeartbeatSeconds, if any.
    pub heartbeat_seconds: Option<u64>,
    /// Credentials to assume, as given.
    pub credentials: Option<Value>,
}

/// Inputs to [`step`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Start the execution.
    Start,
    /// A step message for a frame: enter its state, or a timer of the frame fired.
    Advance {
        /// Frame id.
        frame: usize,
        /// The timer that fired, if this is a timer message.
        timer: Option<u64>,
    },
    /// The outcome of a task.
    Task {
        /// Frame id.
        frame: usize,
        /// Task id.
        task: u64,
        /// What happened.
        outcome: TaskOutcome,
    },
    /// StopExecution.
    Stop {
        /// Error.
        error: Option<String>,
        /// Cause.
        cause: Option<String>,
    },
    /// The runtime ends a running execution with a failure (`ExecutionFailed`), as AWS does to
    /// the executions of a deleted state machine (`States.Runtime`, "State machine NAME has
    /// been deleted.").
    Terminate {
        /// Error.
        error: String,
        /// Cause.
        cause: String,
    },
}

/// What a task integration reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TaskOutcome {
    /// The task finished with this result.
    Succeeded(Value),
    /// The task failed.
    Failed {
        /// Error name.
        error: Option<String>,
        /// Cause.
        cause: Option<String>,
    },
    /// A `.waitForTaskToken` request was delivered (the integration's response).
    Submitted(Value),
    /// SendTaskHeartbeat.
    Heartbeat,
}

/// Work for the runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Effect {
    /// Deliver `Event::Advance { frame, timer }`, not before `at` when given.
    Schedule {
        /// Frame id.
        frame: usize,
        /// Timer id, for timer messages.
        timer: Option<u64>,
        /// Earliest delivery time.
        at: Option<DateTime<Utc>>,
    },
    /// Perform a task integration and report `Event::Task`.
    Invoke(Box<TaskRequest>),
    /// The execution finished; its status is in the execution.
    Complete,
}

/// The result of one step.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The new execution state.
    pub execution: Execution,
    /// Work for the runtime, in order.
    pub effects: Vec<Effect>,
    /// New history events.
    pub history: Vec<HistoryEvent>,
}

/// A new execution, not yet started (feed it [`Event::Start`]).
pub fn new_execution(info: ExecutionInfo, input: Value, start_time: DateTime<Utc>) -> Execution {
    Execution {
        info,
        input,
        start_time,
        status: Status::Running,
        frames: Vec::new(),
        last_event_id: 0,
        seq: 0,
        redrive_count: 0,
        machine_timer: None,
    }
}

/// Applies one event to an execution.
pub fn step(machine: &StateMachine, execution: Execution, event: Event, env: &mut dyn Env) -> Transition {
    let now = env.now();
    let mut s = Stepper { m: machine, x: execution, env, now, effects: Vec::new(), history: Vec::new(), pending_assign: None };
    if s.x.status == Status::Running || matches!(event, Event::Start) {
        s.apply(event);
    }
    Transition { execution: s.x, effects: s.effects, history: s.history }
}

struct Stepper<'a> {
    m: &'a StateMachine,
    x: Execution,
    env: &'a mut dyn Env,
    now: DateTime<Utc>,
    effects: Vec<Effect>,
    history: Vec<HistoryEvent>,
    /// Variables the current state assigns, applied when it exits.
    pending_assign: Option<Map<String, Value>>,
}

/// A failure of the current state: ASL error name and cause.
type Failure = (Option<String>, Option<String>);

fn fail(error: &str, cause: impl Into<String>) -> Failure {
    (Some(error.to_string()), Some(cause.into()))
}

impl<'a> Stepper<'a> {
    fn apply(&mut self, event: Event) {
        match event {
            Event::Start => self.start(),
            Event::Advance { frame, timer } => self.advance(frame, timer),
            Event::Task { frame, task, outcome } => self.task_outcome(frame, task, outcome),
            Event::Stop { error, cause } => {
                if self.x.status == Status::Running {
                    self.abort_frames(0);
                    let mut d = Map::new();
                    if let Some(e) = &error {
                        d.insert("error".into(), e.clone().into());
                    }
                    if let Some(c) = &cause {
                        d.insert("cause".into(), c.clone().into());
                    }
                    if let Some(f) = self.x.frames.first_mut() {
                        f.prev_event = 0; // AWS records ExecutionAborted as following nothing
                    }
                    self.emit_root("ExecutionAborted", Some(Value::Object(d)));
                    self.x.status = Status::Aborted { error, cause };
                    self.effects.push(Effect::Complete);
                }
            }
            Event::Terminate { error, cause } => {
                if self.x.status == Status::Running {
                    self.abort_frames(0);
                    self.frame_failed(0, (Some(error), Some(cause)));
                }
            }
        }
    }

    // ---------- history ----------

    fn emit(&mut self, frame: usize, ty: &'static str, details: Option<Value>) -> u64 {
        let details = match details {
            Some(v) => Details::Other(v),
            None => Details::None,
        };
        self.emit_details(frame, ty, details)
    }

    /// Records an event that follows the frame's latest event without becoming the one later
    /// events follow (AWS chains `*StateSucceeded` of Map/Parallel this way).
    fn emit_side(&mut self, frame: usize, ty: &'static str, details: Option<Value>) {
        let prev = self.x.frames[frame].prev_event;
        self.emit(frame, ty, details);
        self.x.frames[frame].prev_event = prev;
    }

    fn emit_details(&mut self, frame: usize, ty: &'static str, details: Details) -> u64 {
        let f = &mut self.x.frames[frame];
        if f.silent {
            return f.prev_event;
        }
        self.x.last_event_id += 1;
        let id = self.x.last_event_id;
        let prev = f.prev_event;
        f.prev_event = id;
        self.history.push(HistoryEvent {
            id,
            previous_event_id: prev,
            timestamp: self.now,
            event_type: Cow::Borrowed(ty),
            details,
        });
        id
    }

    fn emit_root(&mut self, ty: &'static str, details: Option<Value>) {
        let prev = self.x.frames.first().map(|f| f.prev_event).unwrap_or(0);
        self.x.last_event_id += 1;
        let id = self.x.last_event_id;
        if let Some(f) = self.x.frames.first_mut() {
            f.prev_event = id;
        }
        self.history.push(HistoryEvent {
            id,
            previous_event_id: prev,
            timestamp: self.now,
            event_type: Cow::Borrowed(ty),
            details: details.map(Details::Other).unwrap_or(Details::None),
        });
    }

    fn next_seq(&mut self) -> u64 {
        self.x.seq += 1;
        self.x.seq
    }

    fn schedule(&mut self, frame: usize, timer: Option<u64>, at: Option<DateTime<Utc>>) {
        self.effects.push(Effect::Schedule { frame, timer, at });
    }

    // ---------- lifecycle ----------

    fn start(&mut self) {
        if !self.x.frames.is_empty() {
            return; // duplicate start
        }
        self.x.last_event_id += 1;
        self.history.push(HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp: self.now,
            event_type: Cow::Borrowed("ExecutionStarted"),
            details: Details::Other(
                json!({"input": self.x.input, "inputDetails": {"truncated": false}, "roleArn": self.x.info.role_arn}),
            ),
        });
        let scope = &self.m.scopes[0];
        self.x.frames.push(Frame {
            scope: 0,
            parent: None,
            state: scope.start_at,
            input: self.x.input.clone(),
            phase: Phase::Ready,
            entered_event: 0,
            entered_time: self.now,
            prev_event: 0,
            retries: Vec::new(),
            silent: false,
            vars: Map::new(),
        });
        if let Some(t) = self.m.timeout_seconds {
            let id = self.next_seq();
            self.x.machine_timer = Some(id);
            self.schedule(0, Some(id), Some(self.now + Duration::seconds(t as i64)));
        }
        self.schedule(0, None, None);
    }

    fn advance(&mut self, frame: usize, timer: Option<u64>) {
        if timer.is_some() && timer == self.x.machine_timer {
            self.abort_frames(0);
            self.emit_root("ExecutionTimedOut", Some(json!({})));
            self.x.status = Status::TimedOut { error: Some("States.Timeout".into()), cause: None };
            self.effects.push(Effect::Complete);
            return;
        }
        let Some(f) = self.x.frames.get(frame) else { return };
        match (&f.phase, timer) {
            (Phase::Ready, None) => self.enter(frame),
            (Phase::Waiting { timer: t, .. }, Some(got)) if *t == got => {
                let Phase::Waiting { output, assigned, .. } =
                    std::mem::replace(&mut self.x.frames[frame].phase, Phase::Ready)
                else {
                    return;
                };
                self.pending_assign = assigned;
                self.exit_state(frame, output);
            }
            (Phase::Backoff { timer: t }, Some(got)) if *t == got => {
                self.x.frames[frame].phase = Phase::Ready;
                self.run_state(frame);
            }
            (Phase::Running(rt), Some(got)) if rt.timeout_timer == Some(got) || rt.heartbeat_timer == Some(got) => {
                let heartbeat = rt.heartbeat_timer == Some(got);
                let rt = match std::mem::replace(&mut self.x.frames[frame].phase, Phase::Ready) {
                    Phase::Running(rt) => rt,
                    _ => return,
                };
                let error = if heartbeat { "States.HeartbeatTimeout" } else { "States.Timeout" };
                let ty = if rt.request.integration == Integration::LambdaArn {
                    "LambdaFunctionTimedOut"
                } else {
                    "TaskTimedOut"
                };
                let mut d = Map::new();
                if rt.request.integration != Integration::LambdaArn {
                    let (rty, res) = rt.request.integration.names(&rt.request.resource);
                    d.insert("resourceType".into(), rty.into());
                    d.insert("resource".into(), res.into());
                }
                d.insert("error".into(), error.into());
                self.emit(frame, ty, Some(Value::Object(d)));
                self.handle_error(frame, (Some(error.into()), None));
            }
            (Phase::Children(j), None) if j.failure.is_some() || j.done == j.children.len() => self.join(frame),
            _ => {} // duplicate or late message: nothing to do
        }
    }

    fn state(&self, frame: usize) -> &'a State {
        let f = &self.x.frames[frame];
        self.m.state(f.scope, f.state)
    }

    fn cause_prefix(&self, frame: usize) -> String {
        let f = &self.x.frames[frame];
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). ",
            self.m.state(f.scope, f.state).name,
            f.entered_event
        )
    }

    fn runtime(&self, frame: usize, msg: impl AsRef<str>) -> Failure {
        fail("States.Runtime", format!("{}{}", self.cause_prefix(frame), msg.as_ref()))
    }

    fn eval_err(&self, frame: usize, e: EvalError) -> Failure {
        (Some(e.error), Some(format!("{}{}", self.cause_prefix(frame), e.cause)))
    }

    // ---------- entering and leaving states ----------

    fn enter(&mut self, frame: usize) {
        let st = self.state(frame);
        let input = self.x.frames[frame].input.clone();
        let prefix = st.kind.event_prefix();
        {
            let f = &mut self.x.frames[frame];
            f.entered_time = self.now;
            f.retries = vec![0; st.retry.len()];
        }
        let id = self.emit_details(
            frame,
            state_event(prefix, "Entered"),
            Details::Entered { name: st.name.clone(), input },
        );
        self.x.frames[frame].entered_event = id;
        self.run_state(frame);
    }

    /// Does the work of the current state after it was entered (and again after a retry).
    fn run_state(&mut self, frame: usize) {
        let st = self.state(frame);
        let r = match &st.kind {
            StateKind::Pass { result } => self.run_pass(frame, st, result.as_ref()),
            StateKind::Succeed => self
                .effective_input(frame, st)
                .and_then(|v| self.output_path(frame, st, v))
                .map(|v| self.exit_state(frame, v)),
            StateKind::Fail(_) => self.run_fail(frame, st),
            StateKind::Choice { .. } => self.run_choice(frame, st),
            StateKind::Wait(w) => self.run_wait(frame, st, w),
            StateKind::Task(_) => self.run_task(frame, st),
            StateKind::Parallel { branches } => self.run_parallel(frame, st, branches),
            StateKind::Map(_) => self.run_map(frame, st),
        };
        if let Err(f) = r {
            self.state_failed(frame, f);
        }
    }

    /// The current state's own work failed: record a JSONata evaluation failure as AWS does,
    /// then Retry/Catch.
    fn state_failed(&mut self, frame: usize, f: Failure) {
        if f.0.as_deref() == Some(jsonata::QUERY_EVALUATION_ERROR) {
            let st = self.state(frame);
            let mut d = Map::new();
            if let Some(c) = &f.1 {
                d.insert("cause".into(), c.clone().into());
            }
            d.insert("error".into(), jsonata::QUERY_EVALUATION_ERROR.into());
            d.insert("state".into(), st.name.clone().into());
            self.emit(frame, "EvaluationFailed", Some(Value::Object(d)));
        }
        if f.0.as_deref() != Some("States.Runtime") {
            self.emit_state_failed(frame, &f);
        }
        self.handle_error(frame, f);
    }

    /// `MapStateFailed` / `ParallelStateFailed` unless the state is retried (also when a Catch
    /// takes the error), as AWS records them.
    fn emit_state_failed(&mut self, frame: usize, failure: &Failure) {
        let st = self.state(frame);
        let emit = matches!(st.kind, StateKind::Map(_) | StateKind::Parallel { .. }) && !self.will_retry(frame, failure);
        if emit {
            self.emit(frame, state_event(st.kind.event_prefix(), "Failed"), None);
        }
    }



    // ---------- JSONata ----------

    fn jsonata(st: &State) -> bool {
        st.query_language == QueryLanguage::JsonAta
    }

    /// `$states`: the state's input, the context object, and the result or error output.
    fn states_var(&self, frame: usize, input: &Value, extra: Option<(&str, Value)>, more: &[(&str, &Value)]) -> Value {
        let mut m = Map::new();
        m.insert("input".into(), input.clone());
        m.insert("context".into(), context_value(&self.x, self.m, frame, extra));
        for (k, v) in more {
            m.insert((*k).into(), (*v).clone());
        }
        Value::Object(m)
    }

    fn jeval(&mut self, frame: usize, t: &JTemplate, field: &str, states: &Value) -> Result<Value, Failure> {
        let vars = |n: &str| lookup_var(&self.x, frame, n);
        let scope = jsonata::Scope { states, variables: &vars };
        let mut rng = Rng(self.env);
        let r = t.eval(&scope, field, &mut || rng.next());
        r.map_err(|e| self.eval_err(frame, e))
    }

    /// A JSONata field of the state, if given, evaluated with `$states.input` = the raw input.
    fn jfield(&mut self, frame: usize, st: &State, field: &'static str) -> Result<Option<Value>, Failure> {
        let Some(t) = st.jsonata.get(field) else { return Ok(None) };
        let raw = self.x.frames[frame].input.clone();
        let states = self.states_var(frame, &raw, None, &[]);
        self.jeval(frame, t, field, &states).map(Some)
    }

    fn effective_input(&self, frame: usize, st: &State) -> Result<Value, Failure> {
        let raw = &self.x.frames[frame].input;
        if Self::jsonata(st) {
            return Ok(raw.clone());
        }
        match &st.input_path {
            PathField::Default => Ok(raw.clone()),
            PathField::Null => Ok(json!({})),
            PathField::Path(p) => {
                let make = || context_value(&self.x, self.m, frame, None);
                let vars = |n: &str| lookup_var(&self.x, frame, n);
                let ctx = Context::with_vars(&make, &vars);
                eval_path(p, raw, &ctx)
                    .map_err(|e| self.runtime(frame, format!("Invalid path '{p}' : {e}")))
            }
        }
    }

    fn parameters(&mut self, frame: usize, st: &State, effective: Value, extra: Option<(&str, Value)>) -> Result<Value, Failure> {
        if Self::jsonata(st) {
            let Some(t) = st.jsonata.get("Arguments") else { return Ok(effective) };
            let states = self.states_var(frame, &effective, extra, &[]);
            return self.jeval(frame, t, "Arguments", &states);
        }
        let Some(t) = &st.parameters else { return Ok(effective) };
        let ctx_val = std::cell::OnceCell::new();
        let make = || ctx_val.get_or_init(|| context_value(&self.x, self.m, frame, extra.clone())).clone();
        let vars = |n: &str| lookup_var(&self.x, frame, n);
        let ctx = Context::with_vars(&make, &vars);
        let mut rng = Rng(self.env);
        let r = t.eval(&effective, &ctx, &mut || rng.next());
        r.map_err(|e| self.eval_err(frame, e))
    }

    /// ResultSelector, Assign, ResultPath and OutputPath, in AWS's order (JSONata: Assign and
    /// Output, both seeing `$states.result`).
    fn process_result(&mut self, frame: usize, st: &State, result: Value) -> Result<Value, Failure> {
        if Self::jsonata(st) {
            let raw = self.x.frames[frame].input.clone();
            let states = self.states_var(frame, &raw, None, &[("result", &result)]);
            let assigned = self.eval_assign_states(frame, st.assign.as_ref(), &states)?;
            let out = match st.jsonata.get("Output") {
                Some(t) => self.jeval(frame, t, "Output", &states)?,
                None => result,
            };
            self.pending_assign = assigned;
            return Ok(out);
        }
        let result = match &st.result_selector {
            Some(t) => {
                let make = || context_value(&self.x, self.m, frame, None);
                let vars = |n: &str| lookup_var(&self.x, frame, n);
                let ctx = Context::with_vars(&make, &vars);
                let mut rng = Rng(self.env);
                t.eval(&result, &ctx, &mut || rng.next()).map_err(|e| self.eval_err(frame, e))?
            }
            None => result,
        };
        let assigned = self.eval_assign(frame, st.assign.as_ref(), &result)?;
        let raw = &self.x.frames[frame].input;
        let merged = match &st.result_path {
            PathField::Default => result,
            PathField::Null => raw.clone(),
            PathField::Path(p) => {
                let mut target = raw.clone();
                jsonpath::set(&mut target, p, result).map_err(|e| {
                    fail(
                        "States.ResultPathMatchFailure",
                        format!(
                            "{}Unable to apply ResultPath \"{}\" to input \"{}\": {e}",
                            self.cause_prefix(frame),
                            p,
                            serde_json::to_string(raw).unwrap_or_default()
                        ),
                    )
                })?;
                target
            }
        };
        let out = self.output_path(frame, st, merged)?;
        self.pending_assign = assigned;
        Ok(out)
    }

    /// Evaluates a JSONata Assign block against `$states`.
    fn eval_assign_states(&mut self, frame: usize, assign: Option<&Assign>, states: &Value) -> Result<Option<Map<String, Value>>, Failure> {
        match assign {
            Some(Assign::JsonAta(t)) => match self.jeval(frame, t, "Assign", states)? {
                Value::Object(m) => self.check_variables(frame, m).map(Some),
                _ => Ok(None),
            },
            Some(Assign::JsonPath(_)) => self.eval_assign(frame, assign, states.get("input").unwrap_or(&Value::Null)),
            None => Ok(None),
        }
    }

    /// Evaluates an Assign block with `$` = `dollar` (JSONata: `$states.input` = the raw input);
    /// the variables apply when the state exits.
    fn eval_assign(&mut self, frame: usize, assign: Option<&Assign>, dollar: &Value) -> Result<Option<Map<String, Value>>, Failure> {
        let Some(assign) = assign else { return Ok(None) };
        let v = match assign {
            Assign::JsonAta(_) => {
                let raw = self.x.frames[frame].input.clone();
                let states = self.states_var(frame, &raw, None, &[]);
                return self.eval_assign_states(frame, Some(assign), &states);
            }
            Assign::JsonPath(t) => {
                let make = || context_value(&self.x, self.m, frame, None);
                let vars = |n: &str| lookup_var(&self.x, frame, n);
                let ctx = Context::with_vars(&make, &vars);
                let mut rng = Rng(self.env);
                let r = t.eval(dollar, &ctx, &mut || rng.next());
                r.map_err(|e| self.eval_err(frame, e))?
            }
        };
        match v {
            Value::Object(m) => self.check_variables(frame, m).map(Some),
            _ => Ok(None),
        }
    }

    /// AWS's limits on workflow variables: 256 KiB for one variable's value and for all the
    /// variables one Assign sets together.
    fn check_variables(&self, frame: usize, vars: Map<String, Value>) -> Result<Map<String, Value>, Failure> {
        let mut total = 0usize;
        for (name, value) in &vars {
            let size = serde_json::to_vec(value).map(|b| b.len()).unwrap_or(usize::MAX);
            if size > MAX_PAYLOAD_BYTES {
                return Err(self.runtime(
                    frame,
                    format!("The value assigned to the variable '{name}' is {size} bytes, above the maximum of {MAX_PAYLOAD_BYTES} bytes."),
                ));
            }
            total = total.saturating_add(size).saturating_add(name.len());
        }
        if total > MAX_PAYLOAD_BYTES {
            return Err(self.runtime(
                frame,
                format!("The variables assigned by this state total {total} bytes, above the maximum of {MAX_PAYLOAD_BYTES} bytes."),
            ));
        }
        Ok(vars)
    }

    /// Details of a `*StateExited` event, with the variables the state assigned (which are
    /// applied to the frame now).
    fn exited_details(&mut self, frame: usize, name: &str, output: &Value) -> Details {
        let assigned = self.pending_assign.take();
        if let Some(vars) = &assigned {
            let f = &mut self.x.frames[frame];
            for (k, v) in vars {
                f.vars.insert(k.clone(), v.clone());
            }
        }
        Details::Exited { name: name.to_string(), output: output.clone(), assigned }
    }

    fn output_path(&mut self, frame: usize, st: &State, v: Value) -> Result<Value, Failure> {
        if Self::jsonata(st) {
            return Ok(self.jfield(frame, st, "Output")?.unwrap_or(v));
        }
        match &st.output_path {
            PathField::Default => Ok(v),
            PathField::Null => Ok(json!({})),
            PathField::Path(p) => {
                let make = || context_value(&self.x, self.m, frame, None);
                let vars = |n: &str| lookup_var(&self.x, frame, n);
                let ctx = Context::with_vars(&make, &vars);
                eval_path(p, &v, &ctx).map_err(|e| self.runtime(frame, format!("Invalid path '{p}' : {e}")))
            }
        }
    }

    /// Emits `*StateExited` and moves on: to the next state, or ends the frame.
    fn exit_state(&mut self, frame: usize, output: Value) {
        let st = self.state(frame);
        if exceeds_size(&output, MAX_PAYLOAD_BYTES) {
            self.pending_assign = None;
            let f = fail(
                "States.DataLimitExceeded",
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    st.name
                ),
            );
            return self.fail_frame(frame, f);
        }
        let details = self.exited_details(frame, &st.name, &output);
        self.emit_details(frame, state_event(st.kind.event_prefix(), "Exited"), details);
        match (&st.kind, &st.transition) {
            (StateKind::Succeed, _) | (_, Next::End) => self.frame_succeeded(frame, output),
            (_, Next::Next(n)) => self.goto(frame, *n, output),
        }
    }

    fn goto(&mut self, frame: usize, next: usize, input: Value) {
        let f = &mut self.x.frames[frame];
        f.state = next;
        f.input = input;
        f.phase = Phase::Ready;
        self.schedule(frame, None, None);
    }

    fn frame_succeeded(&mut self, frame: usize, output: Value) {
        let parent = self.x.frames[frame].parent;
        self.x.frames[frame].phase = Phase::Done;
        self.x.frames[frame].input = Value::Null;
        match parent {
            None => {
                self.emit(
                    frame,
                    "ExecutionSucceeded",
                    Some(json!({"output": output, "outputDetails": {"truncated": false}})),
                );
                self.x.status = Status::Succeeded { output };
                self.finish_execution();
            }
            Some(p) => self.child_done(p, frame, Ok(output)),
        }
    }

    fn frame_failed(&mut self, frame: usize, (error, cause): Failure) {
        let parent = self.x.frames[frame].parent;
        self.x.frames[frame].phase = Phase::Done;
        self.x.frames[frame].input = Value::Null;
        match parent {
            None => {
                let mut d = Map::new();
                if let Some(e) = &error {
                    d.insert("error".into(), e.clone().into());
                }
                if let Some(c) = &cause {
                    d.insert("cause".into(), c.clone().into());
                }
                self.emit(frame, "ExecutionFailed", Some(Value::Object(d)));
                self.x.status = Status::Failed { error, cause };
                self.finish_execution();
            }
            Some(p) => {
                let st = self.state(frame);
                let parallel = matches!(self.state(p.frame).kind, StateKind::Parallel { .. });
                if parallel && !matches!(st.kind, StateKind::Fail(_)) {
                    self.emit(frame, state_event(st.kind.event_prefix(), "Aborted"), None);
                }
                self.child_done(p, frame, Err((error, cause)))
            }
        }
    }

    fn finish_execution(&mut self) {
        self.abort_frames(0);
        self.effects.push(Effect::Complete);
    }

    /// Marks every unfinished descendant of `frame` (not `frame` itself, unless root) aborted.
    fn abort_frames(&mut self, root: usize) {
        for i in 0..self.x.frames.len() {
            if i == root && root != 0 {
                continue;
            }
            let f = &mut self.x.frames[i];
            if !matches!(f.phase, Phase::Done | Phase::Aborted) && self.is_descendant(i, root) {
                self.x.frames[i].phase = Phase::Aborted;
            }
        }
    }

    /// Stops a frame and everything under it; a state caught mid-work gets `*StateAborted`.
    fn abort_subtree(&mut self, frame: usize) {
        let phase = std::mem::replace(&mut self.x.frames[frame].phase, Phase::Aborted);
        let prefix = self.state(frame).kind.event_prefix();
        match phase {
            Phase::Done | Phase::Aborted => self.x.frames[frame].phase = phase,
            Phase::Ready => {}
            Phase::Children(join) => {
                for c in join.children.iter().flatten() {
                    self.abort_subtree(*c);
                }
                self.emit(frame, state_event(prefix, "Aborted"), None);
            }
            Phase::Running(_) | Phase::Waiting { .. } | Phase::Backoff { .. } => {
                self.emit(frame, state_event(prefix, "Aborted"), None);
            }
        }
    }

    fn is_descendant(&self, mut i: usize, root: usize) -> bool {
        loop {
            if i == root {
                return true;
            }
            match self.x.frames[i].parent {
                Some(p) => i = p.frame,
                None => return false,
            }
        }
    }

    // ---------- error handling ----------

    /// The current state failed: Retry, Catch, or fail the frame.
    fn handle_error(&mut self, frame: usize, failure: Failure) {
        let st = self.state(frame);
        let name = failure.0.as_deref().unwrap_or("");
        // AWS (recorded): States.Runtime is never retried or caught, even when named.
        let terminal = name == "States.Runtime";
        let handles = matches!(st.kind, StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_));
        if handles && !terminal {
            if let Some(i) = st.retry.iter().position(|r| matches(&r.error_equals, name)) {
                let r = &st.retry[i];
                let used = self.x.frames[frame].retries.get(i).copied().unwrap_or(0);
                if used < r.max_attempts {
                    let mut delay = r.interval_seconds * r.backoff_rate.powi(used as i32);
                    if let Some(max) = r.max_delay_seconds {
                        delay = delay.min(max);
                    }
                    if r.jitter_full {
                        delay *= (self.env.random() % 10_000) as f64 / 10_000.0;
                    }
                    if let Some(c) = self.x.frames[frame].retries.get_mut(i) {
                        *c += 1;
                    }
                    let timer = self.next_seq();
                    self.x.frames[frame].phase = Phase::Backoff { timer };
                    let at = self.now + Duration::milliseconds((delay * 1000.0) as i64);
                    self.schedule(frame, Some(timer), Some(at));
                    return;
                }
            }
            if let Some(c) = st.catch.iter().find(|c| matches(&c.error_equals, name)) {
                let err_out = json!({"Error": failure.0.clone().unwrap_or_default(), "Cause": failure.1.clone().unwrap_or_default()});
                let err_out_for_assign = err_out.clone();
                let raw = self.x.frames[frame].input.clone();
                if Self::jsonata(st) {
                    let states = self.states_var(frame, &raw, None, &[("errorOutput", &err_out)]);
                    let r = self.eval_assign_states(frame, c.assign.as_ref(), &states).and_then(|a| {
                        let out = match &c.output {
                            Some(t) => self.jeval(frame, t, "Output", &states)?,
                            None => err_out.clone(),
                        };
                        Ok((a, out))
                    });
                    match r {
                        Ok((assigned, out)) => {
                            self.pending_assign = assigned;
                            let details = self.exited_details(frame, &st.name, &out);
                            self.emit_details(frame, state_event(st.kind.event_prefix(), "Exited"), details);
                            self.goto(frame, c.next, out);
                        }
                        Err(f) => self.fail_frame(frame, f),
                    }
                    return;
                }
                let out = match &c.result_path {
                    PathField::Default => Ok(err_out),
                    PathField::Null => Ok(raw),
                    PathField::Path(p) => {
                        let mut t = raw;
                        jsonpath::set(&mut t, p, err_out).map(|_| t)
                    }
                };
                let assigned = match self.eval_assign(frame, c.assign.as_ref(), &err_out_for_assign) {
                    Ok(a) => a,
                    Err(f) => return self.fail_frame(frame, f),
                };
                match out {
                    Ok(out) => {
                        self.pending_assign = assigned;
                        let details = self.exited_details(frame, &st.name, &out);
                        self.emit_details(frame, state_event(st.kind.event_prefix(), "Exited"), details);
                        self.goto(frame, c.next, out);
                    }
                    Err(e) => {
                        let f = fail("States.ResultPathMatchFailure", format!("{}{e}", self.cause_prefix(frame)));
                        self.fail_frame(frame, f);
                    }
                }
                return;
            }
        }
        self.fail_frame(frame, failure);
    }

    /// Whether `handle_error` will retry the current state for this failure.
    fn will_retry(&self, frame: usize, failure: &Failure) -> bool {
        let st = self.state(frame);
        let name = failure.0.as_deref().unwrap_or("");
        if name == "States.Runtime" {
            return false;
        }
        st.retry.iter().position(|r| matches(&r.error_equals, name)).is_some_and(|i| {
            self.x.frames[frame].retries.get(i).copied().unwrap_or(0) < st.retry[i].max_attempts
        })
    }

    fn fail_frame(&mut self, frame: usize, failure: Failure) {
        self.frame_failed(frame, failure)
    }

    // ---------- state types ----------

    fn run_pass(&mut self, frame: usize, st: &State, result: Option<&Value>) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let result = match result {
            Some(r) => r.clone(),
            None => self.parameters(frame, st, effective, None)?,
        };
        let out = self.process_result(frame, st, result)?;
        self.exit_state(frame, out);
        Ok(())
    }

    fn run_fail(&mut self, frame: usize, st: &State) -> Result<(), Failure> {
        let StateKind::Fail(spec) = &st.kind else { return Ok(()) };
        if Self::jsonata(st) {
            let error = self.jfield(frame, st, "Error")?.map(|v| display_value(&v));
            let cause = self.jfield(frame, st, "Cause")?.map(|v| display_value(&v));
            self.fail_frame(frame, (error, cause));
            return Ok(());
        }
        let raw = self.x.frames[frame].input.clone();
        let make = || context_value(&self.x, self.m, frame, None);
        let vars = |n: &str| lookup_var(&self.x, frame, n);
        let ctx = Context::with_vars(&make, &vars);
        let mut rng = Rng(self.env);
        let mut pick = |t: &Option<crate::payload::Template>, lit: &Option<String>, field: &str| -> Result<Option<String>, Failure> {
            match t {
                Some(t) => match t.eval(&raw, &ctx, &mut || rng.next()) {
                    Ok(Value::String(s)) => Ok(Some(s)),
                    Ok(other) => Ok(Some(other.to_string())),
                    Err(_) => {
                        let path = match t {
                            crate::payload::Template::Path(p) => p.to_string(),
                            _ => String::new(),
                        };
                        Err((None, Some(format!(
                            "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
                            serde_json::to_string(&raw).unwrap_or_default()
                        ))))
                    }
                },
                None => Ok(lit.clone()),
            }
        };
        let error = pick(&spec.error_path, &spec.error, "ErrorPath");
        let cause = error.as_ref().ok().map(|_| pick(&spec.cause_path, &spec.cause, "CausePath"));
        drop(pick);
        let (error, cause) = match (error, cause) {
            (Ok(e), Some(Ok(c))) => (e, c),
            (Err((_, m)), _) | (_, Some(Err((_, m)))) => {
                let f = self.runtime(frame, m.unwrap_or_default());
                self.fail_frame(frame, f);
                return Ok(());
            }
            (Ok(e), None) => (e, None),
        };
        self.fail_frame(frame, (error, cause));
        Ok(())
    }

    fn run_choice(&mut self, frame: usize, st: &State) -> Result<(), Failure> {
        let StateKind::Choice { choices, default } = &st.kind else { return Ok(()) };
        let effective = self.effective_input(frame, st)?;
        let mut target = None;
        let mut assign = st.assign.as_ref();
        let mut output = st.jsonata.get("Output");
        if Self::jsonata(st) {
            let states = self.states_var(frame, &effective, None, &[]);
            for c in choices {
                let crate::choice::Rule::Condition(t) = &c.rule else { continue };
                match self.jeval(frame, t, "Condition", &states)? {
                    Value::Bool(true) => {
                        target = Some(c.next);
                        assign = c.assign.as_ref();
                        output = c.output.as_ref();
                        break;
                    }
                    Value::Bool(false) => {}
                    other => {
                        let text = match t {
                            JTemplate::Expr(e) => e.text().to_string(),
                            _ => other.to_string(),
                        };
                        return Err(fail(
                            "States.QueryEvaluationError",
                            format!(
                                "{}The JSONata expression '{text}' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '{}' for value: {other}",
                                self.cause_prefix(frame),
                                jsonata::type_name(&other)
                            ),
                        ));
                    }
                }
            }
            let Some(next) = target.or(*default) else {
                return Err(fail("States.NoChoiceMatched", format!("{}No Matches!", self.cause_prefix(frame))));
            };
            let assigned = self.eval_assign_states(frame, assign, &states)?;
            let out = match output {
                Some(t) => self.jeval(frame, t, "Output", &states)?,
                None => effective,
            };
            self.pending_assign = assigned;
            let details = self.exited_details(frame, &st.name, &out);
            self.emit_details(frame, "ChoiceStateExited", details);
            self.goto(frame, next, out);
            return Ok(());
        }
        let _ = output;
        {
            let make = || context_value(&self.x, self.m, frame, None);
            let vars = |n: &str| lookup_var(&self.x, frame, n);
            let ctx = Context::with_vars(&make, &vars);
            for c in choices {
                match c.rule.eval(&effective, &ctx) {
                    Ok(true) => {
                        target = Some(c.next);
                        assign = c.assign.as_ref();
                        break;
                    }
                    Ok(false) => {}
                    Err(m) => return Err(self.runtime(frame, m)),
                }
            }
        }
        let Some(next) = target.or(*default) else {
            return Err(fail(
                "States.NoChoiceMatched",
                format!("{}No Matches!", self.cause_prefix(frame)),
            ));
        };
        let assigned = self.eval_assign(frame, assign, &effective)?;
        let out = self.output_path(frame, st, effective)?;
        self.pending_assign = assigned;
        let details = self.exited_details(frame, &st.name, &out);
        self.emit_details(frame, "ChoiceStateExited", details);
        self.goto(frame, next, out);
        Ok(())
    }

    fn run_wait(&mut self, frame: usize, st: &State, w: &WaitSpec) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let jseconds = self.jfield(frame, st, "Seconds")?;
        let jstamp = self.jfield(frame, st, "Timestamp")?;
        let until = match (jseconds, jstamp, w) {
            (Some(v), _, _) => match v.as_i64() {
                Some(secs) if secs >= 0 => self.now + Duration::seconds(secs.min(i64::MAX / 2_000_000)),
                _ => {
                    return Err(fail(
                        "States.QueryEvaluationError",
                        format!(
                            "{}The JSONata expression specified for the field 'Seconds' returned an unexpected result type. Expected 'integer', but was '{}' for value: {v}",
                            self.cause_prefix(frame),
                            jsonata::type_name(&v)
                        ),
                    ))
                }
            },
            (None, Some(v), _) => match v.as_str().and_then(timestamp::parse) {
                Some(t) => t,
                None => {
                    return Err(fail(
                        "States.QueryEvaluationError",
                        format!(
                            "{}The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                            self.cause_prefix(frame),
                            display_value(&v)
                        ),
                    ))
                }
            },
            (None, None, w) => match w {
            WaitSpec::Seconds(s) => self.now + Duration::seconds(*s),
            WaitSpec::Timestamp(t) => timestamp::parse(t).ok_or_else(|| {
                self.runtime(frame, format!("The Timestamp parameter is not a valid ISO-8601 timestamp: {t}"))
            })?,
            WaitSpec::SecondsPath(p) => {
                let v = eval_path(p, &effective, &Context::with_vars(&|| context_value(&self.x, self.m, frame, None), &|n: &str| lookup_var(&self.x, frame, n))).map_err(|_| {
                    self.runtime(frame, format!("The SecondsPath parameter does not reference an input value: {p}"))
                })?;
                let shown = display_value(&v);
                let secs = match &v {
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(i64::MAX),
                    _ => {
                        return Err(self.runtime(
                            frame,
                            format!("The SecondsPath parameter cannot be parsed as a long value: {p} == {shown}"),
                        ))
                    }
                };
                if secs < 0 {
                    return Err(self.runtime(
                        frame,
                        format!("The SecondsPath parameter references a negative value: {p} == {shown}"),
                    ));
                }
                self.now + Duration::seconds(secs.min(i64::MAX / 2_000_000))
            }
            WaitSpec::TimestampPath(p) => {
                let v = eval_path(p, &effective, &Context::with_vars(&|| context_value(&self.x, self.m, frame, None), &|n: &str| lookup_var(&self.x, frame, n))).map_err(|_| {
                    self.runtime(frame, format!("The TimestampPath parameter does not reference an input value: {p}"))
                })?;
                v.as_str().and_then(timestamp::parse).ok_or_else(|| {
                    self.runtime(
                        frame,
                        format!(
                            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                            display_value(&v)
                        ),
                    )
                })?
            }
            },
        };
        if (until - self.now).num_seconds() > i32::MAX as i64 {
            return Err(self.runtime(frame, "Wait state delay is too long."));
        }
        let assigned = self.eval_assign(frame, st.assign.as_ref(), &effective)?;
        let out = self.output_path(frame, st, effective)?;
        let timer = self.next_seq();
        self.x.frames[frame].phase = Phase::Waiting { timer, output: out, assigned };
        self.schedule(frame, Some(timer), Some(until));
        Ok(())
    }

    fn resolve_int(&mut self, frame: usize, v: &Option<IntOrPath>, input: &Value, field: &'static str) -> Result<Option<i64>, Failure> {
        let st = self.state(frame);
        if let Some(got) = self.jfield(frame, st, field)? {
            return match got.as_f64() {
                Some(f) if f.fract() == 0.0 => Ok(Some(f as i64)),
                _ => Err(fail(
                    "States.QueryEvaluationError",
                    format!(
                        "{}The JSONata expression specified for the field '{field}' returned an unexpected result type. Expected 'integer', but was '{}' for value: {got}",
                        self.cause_prefix(frame),
                        jsonata::type_name(&got)
                    ),
                )),
            };
        }
        match v {
            None => Ok(None),
            Some(IntOrPath::Value(n)) => Ok(Some(*n)),
            Some(IntOrPath::Path(p)) => {
                let got = eval_path(p, input, &Context::with_vars(&|| context_value(&self.x, self.m, frame, None), &|n: &str| lookup_var(&self.x, frame, n)))
                    .map_err(|e| self.runtime(frame, format!("Invalid path '{p}' : {e}")))?;
                match &got {
                    Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64()),
                    Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => Ok(n.as_f64().map(|f| f as i64)),
                    Value::String(s) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse::<i64>().ok()),
                    _ => Err(self.runtime(
                        frame,
                        format!(
                            "The {field}Path field refers to value \"{}\" which is not a valid integer: {p}",
                            display_value(&got)
                        ),
                    )),
                }
            }
        }
    }

    fn run_task(&mut self, frame: usize, st: &State) -> Result<(), Failure> {
        let StateKind::Task(spec) = &st.kind else { return Ok(()) };
        let effective = self.effective_input(frame, st)?;
        let (integration, wait) = Integration::of(&spec.resource);
        let token = if wait { Some(self.new_token()) } else { None };
        let extra = token.as_ref().map(|t| ("Task", json!({"Token": t})));
        let params = self.parameters(frame, st, effective.clone(), extra)?;
        let timeout = self.resolve_int(frame, &spec.timeout, &effective, "TimeoutSeconds")?;
        let heartbeat = self.resolve_int(frame, &spec.heartbeat, &effective, "HeartbeatSeconds")?;
        let task = self.next_seq();
        let request = TaskRequest {
            frame,
            task,
            state_name: st.name.clone(),
            resource: spec.resource.clone(),
            integration,
            wait_for_task_token: wait,
            parameters: params.clone(),
            token,
            timeout_seconds: timeout.map(|t| t.max(0) as u64),
            heartbeat_seconds: heartbeat.map(|t| t.max(0) as u64),
            credentials: spec.credentials.clone(),
        };
        if integration == Integration::LambdaArn {
            let mut d = json!({"input": params, "inputDetails": {"truncated": false}, "resource": spec.resource});
            if let (Some(t), Some(o)) = (timeout, d.as_object_mut()) {
                o.insert("timeoutInSeconds".into(), t.into());
            }
            self.emit(frame, "LambdaFunctionScheduled", Some(d));
            self.emit(frame, "LambdaFunctionStarted", None);
        } else {
            let (rty, res) = integration.names(&spec.resource);
            let region = spec.resource.split(':').nth(3).filter(|r| !r.is_empty()).map(String::from);
            let region = region.unwrap_or_else(|| self.x.info.state_machine_arn.split(':').nth(3).unwrap_or("").to_string());
            let mut d = Map::new();
            d.insert("parameters".into(), params);
            d.insert("region".into(), region.into());
            d.insert("resource".into(), res.clone().into());
            d.insert("resourceType".into(), rty.clone().into());
            if let Some(t) = timeout {
                d.insert("timeoutInSeconds".into(), t.into());
            }
            if let Some(h) = heartbeat {
                d.insert("heartbeatInSeconds".into(), h.into());
            }
            self.emit(frame, "TaskScheduled", Some(Value::Object(d)));
            self.emit(frame, "TaskStarted", Some(json!({"resource": res, "resourceType": rty})));
        }
        let timeout_timer = timeout.map(|t| {
            let id = self.next_seq();
            self.schedule(frame, Some(id), Some(self.now + Duration::seconds(t)));
            id
        });
        let heartbeat_timer = heartbeat.map(|h| {
            let id = self.next_seq();
            self.schedule(frame, Some(id), Some(self.now + Duration::seconds(h)));
            id
        });
        self.effects.push(Effect::Invoke(Box::new(request.clone())));
        self.x.frames[frame].phase =
            Phase::Running(Box::new(RunningTask { task, request, timeout_timer, heartbeat_timer, submitted: false }));
        Ok(())
    }

    fn new_token(&mut self) -> String {
        use base64::Engine;
        let mut bytes = Vec::with_capacity(24);
        for _ in 0..3 {
            bytes.extend_from_slice(&self.env.random().to_le_bytes());
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn task_outcome(&mut self, frame: usize, task: u64, outcome: TaskOutcome) {
        let Some(Frame { phase: Phase::Running(rt), .. }) = self.x.frames.get(frame) else { return };
        if rt.task != task {
            return;
        }
        let lambda = rt.request.integration == Integration::LambdaArn;
        let (rty, res) = rt.request.integration.names(&rt.request.resource);
        match outcome {
            TaskOutcome::Heartbeat => {
                if let Some(h) = rt.request.heartbeat_seconds {
                    let id = self.next_seq();
                    if let Phase::Running(rt) = &mut self.x.frames[frame].phase {
                        rt.heartbeat_timer = Some(id);
                    }
                    self.schedule(frame, Some(id), Some(self.now + Duration::seconds(h as i64)));
                }
            }
            TaskOutcome::Submitted(_) if rt.submitted => {} // duplicate delivery
            TaskOutcome::Submitted(output) => {
                if let Phase::Running(rt) = &mut self.x.frames[frame].phase {
                    rt.submitted = true;
                }
                self.emit(
                    frame,
                    "TaskSubmitted",
                    Some(json!({"output": output, "outputDetails": {"truncated": false}, "resource": res, "resourceType": rty})),
                );
            }
            TaskOutcome::Succeeded(output) if exceeds_size(&output, MAX_PAYLOAD_BYTES) => {
                let who = if lambda { rt.request.resource.clone() } else { rty.clone() };
                let cause = format!(
                    "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
                );
                self.task_outcome(frame, task, TaskOutcome::Failed { error: Some("States.DataLimitExceeded".into()), cause: Some(cause) });
            }
            TaskOutcome::Succeeded(output) => {
                self.x.frames[frame].phase = Phase::Ready;
                if lambda {
                    self.emit(
                        frame,
                        "LambdaFunctionSucceeded",
                        Some(json!({"output": output, "outputDetails": {"truncated": false}})),
                    );
                } else {
                    self.emit(
                        frame,
                        "TaskSucceeded",
                        Some(json!({"output": output, "outputDetails": {"truncated": false}, "resource": res, "resourceType": rty})),
                    );
                }
                let st = self.state(frame);
                match self.process_result(frame, st, output) {
                    Ok(out) => self.exit_state(frame, out),
                    Err(f) => self.state_failed(frame, f),
                }
            }
            TaskOutcome::Failed { error, cause } => {
                self.x.frames[frame].phase = Phase::Ready;
                let mut d = Map::new();
                if let Some(c) = &cause {
                    d.insert("cause".into(), c.clone().into());
                }
                if let Some(e) = &error {
                    d.insert("error".into(), e.clone().into());
                }
                if lambda {
                    self.emit(frame, "LambdaFunctionFailed", Some(Value::Object(d)));
                } else {
                    d.insert("resource".into(), res.into());
                    d.insert("resourceType".into(), rty.into());
                    self.emit(frame, "TaskFailed", Some(Value::Object(d)));
                }
                self.handle_error(frame, (error, cause));
            }
        }
    }

    fn run_parallel(&mut self, frame: usize, st: &State, branches: &[usize]) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let input = self.parameters(frame, st, effective, None)?;
        self.emit(frame, "ParallelStateStarted", None);
        let n = branches.len();
        let mut join = Join {
            map: false,
            distributed: false,
            children: vec![None; n],
            pending: Vec::new(),
            results: vec![Value::Null; n],
            done: 0,
            running: 0,
            next: n,
            max_concurrency: 0,
            failed: 0,
            tolerated_count: None,
            tolerated_pct: None,
            failure: None,
            failure_event: 0,
        };
        for (i, &scope) in branches.iter().enumerate() {
            let id = self.spawn(frame, i, scope, input.clone(), false);
            join.children[i] = Some(id);
            join.running += 1;
        }
        self.x.frames[frame].phase = Phase::Children(Box::new(join));
        if n == 0 {
            self.schedule(frame, None, None);
        }
        Ok(())
    }

    fn spawn(&mut self, parent: usize, index: usize, scope: usize, input: Value, silent: bool) -> usize {
        let id = self.x.frames.len();
        let prev = self.x.frames[parent].prev_event;
        let silent = silent || self.x.frames[parent].silent;
        self.x.frames.push(Frame {
            scope,
            parent: Some(Parent { frame: parent, index }),
            state: self.m.scopes[scope].start_at,
            input,
            phase: Phase::Ready,
            entered_event: 0,
            entered_time: self.now,
            prev_event: prev,
            retries: Vec::new(),
            silent,
            vars: Map::new(),
        });
        self.schedule(id, None, None);
        id
    }

    fn run_map(&mut self, frame: usize, st: &State) -> Result<(), Failure> {
        let StateKind::Map(spec) = &st.kind else { return Ok(()) };
        let effective = self.effective_input(frame, st)?;
        let items_val = if Self::jsonata(st) {
            match self.jfield(frame, st, "Items")? {
                Some(Value::Array(a)) => Value::Array(a),
                Some(other) => {
                    let text = match st.jsonata.get("Items") {
                        Some(JTemplate::Expr(e)) => e.text().to_string(),
                        _ => other.to_string(),
                    };
                    return Err(fail(
                        "States.QueryEvaluationError",
                        format!(
                            "{}The JSONata expression '{text}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                            self.cause_prefix(frame),
                            jsonata::type_name(&other)
                        ),
                    ));
                }
                None if effective.is_array() => effective.clone(),
                None => {
                    return Err(fail(
                        "States.QueryEvaluationError",
                        format!("{}Map state input must be an array but was: {effective}", self.cause_prefix(frame)),
                    ))
                }
            }
        } else {
            match &spec.items_path {
            PathField::Path(p) => eval_path(p, &effective, &Context::with_vars(&|| context_value(&self.x, self.m, frame, None), &|n: &str| lookup_var(&self.x, frame, n)))
                .map_err(|e| self.runtime(frame, format!("Invalid path '{p}' : {e}")))?,
            _ => effective.clone(),
            }
        };
        let Value::Array(items) = items_val else {
            let path = match &spec.items_path {
                PathField::Path(p) => p.to_string(),
                _ => "$".into(),
            };
            return Err(self.runtime(
                frame,
                format!("Invalid path '{path}': The Map state's items must be an array, but was: {}", display_value(&items_val)),
            ));
        };
        let batches = self.batch(frame, spec, &effective, items)?;
        let n = batches.len();
        let max = self.resolve_int(frame, &spec.max_concurrency, &effective, "MaxConcurrency")?.unwrap_or(0);
        self.emit(frame, "MapStateStarted", Some(json!({"length": n})));
        let tol_count = self.resolve_int(frame, &spec.tolerated_failure_count, &effective, "ToleratedFailureCount")?;
        if tol_count.is_some_and(|c| c < 0) {
            return Err(self.runtime(frame, "ToleratedFailureCount cannot be negative."));
        }
        let jpct = self.jfield(frame, st, "ToleratedFailurePercentage")?;
        let tol_pct = match &spec.tolerated_failure_percentage {
            None if jpct.is_some() => jpct.as_ref().and_then(Value::as_f64),
            None => None,
            Some(FloatOrPath::Value(v)) => Some(*v),
            Some(FloatOrPath::Path(p)) => {
                let got = eval_path(p, &effective, &Context::with_vars(&|| context_value(&self.x, self.m, frame, None), &|n: &str| lookup_var(&self.x, frame, n)))
                    .map_err(|e| self.runtime(frame, format!("Invalid path '{p}' : {e}")))?;
                match &got {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) if s.trim().parse::<f64>().is_ok() => s.trim().parse::<f64>().ok(),
                    _ => {
                        return Err(self.runtime(
                            frame,
                            format!(
                                "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                                display_value(&got)
                            ),
                        ))
                    }
                }
            }
        };
        if tol_pct.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(self.runtime(frame, "ToleratedFailurePercentage must be between 0 and 100."));
        }
        // Item inputs: ItemSelector (with $$.Map.Item) or the item itself; batched when asked.
        let mut inputs = Vec::with_capacity(n);
        let jselector = st.jsonata.get("ItemSelector");
        for (index, item) in batches.into_iter().enumerate() {
            if let Some(t) = jselector {
                let map_ctx = json!({"Item": {"Index": index, "Value": item}});
                let states = self.states_var(frame, &effective, Some(("Map", map_ctx)), &[]);
                inputs.push(self.jeval(frame, t, "ItemSelector", &states)?);
                continue;
            }
            let v = match &spec.item_selector {
                Some(t) => {
                    let make = || context_value(&self.x, self.m, frame, Some(("Map", json!({"Item": {"Index": index, "Value": item}}))));
                    let vars = |n: &str| lookup_var(&self.x, frame, n);
                    let ctx = Context::with_vars(&make, &vars);
                    let mut rng = Rng(self.env);
                    t.eval(&effective, &ctx, &mut || rng.next()).map_err(|e| self.eval_err(frame, e))?
                }
                None => item,
            };
            inputs.push(v);
        }
        if spec.distributed {
            let arn = format!(
                "{}/{}:{}",
                self.x.info.state_machine_arn.replacen(":stateMachine:", ":mapRun:", 1),
                spec.label.clone().unwrap_or_else(|| st.name.clone()),
                self.env.random() % 1_000_000_000
            );
            self.emit(frame, "MapRunStarted", Some(json!({"mapRunArn": arn})));
        }
        let mut join = Join {
            map: true,
            distributed: spec.distributed,
            children: vec![None; n],
            pending: inputs,
            results: vec![Value::Null; n],
            done: 0,
            running: 0,
            next: 0,
            max_concurrency: max.max(0) as usize,
            failed: 0,
            tolerated_count: tol_count.map(|c| c as u64),
            tolerated_pct: tol_pct,
            failure: None,
            failure_event: 0,
        };
        self.x.frames[frame].phase = Phase::Children(Box::new(Join { ..join.clone() }));
        self.start_iterations(frame, spec.processor, &mut join);
        self.x.frames[frame].phase = Phase::Children(Box::new(join));
        if n == 0 {
            self.schedule(frame, None, None);
        }
        Ok(())
    }

    fn batch(
        &mut self,
        frame: usize,
        spec: &crate::model::MapSpec,
        effective: &Value,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, Failure> {
        let Some(b) = &spec.item_batcher else { return Ok(items) };
        let per = match (b.get("MaxItemsPerBatch"), b.get("MaxItemsPerBatchPath")) {
            (Some(v), _) => v.as_u64(),
            (None, Some(Value::String(p))) => jsonpath::eval(p, effective, &Value::Null).ok().and_then(|v| v.as_u64()),
            _ => None,
        }
        .unwrap_or(u64::MAX)
        .max(1) as usize;
        let batch_input = match b.get("BatchInput") {
            Some(t) => {
                let tpl = crate::payload::Template::compile(t).map_err(|m| self.runtime(frame, m))?;
                let make = || context_value(&self.x, self.m, frame, None);
                let vars = |n: &str| lookup_var(&self.x, frame, n);
                let ctx = Context::with_vars(&make, &vars);
                let mut rng = Rng(self.env);
                Some(tpl.eval(effective, &ctx, &mut || rng.next()).map_err(|e| self.eval_err(frame, e))?)
            }
            None => None,
        };
        Ok(items
            .chunks(per)
            .map(|c| {
                let mut o = Map::new();
                if let Some(bi) = &batch_input {
                    o.insert("BatchInput".into(), bi.clone());
                }
                o.insert("Items".into(), Value::Array(c.to_vec()));
                Value::Object(o)
            })
            .collect())
    }

    fn start_iterations(&mut self, frame: usize, scope: usize, join: &mut Join) {
        let total = join.children.len();
        while join.next < total && (join.max_concurrency == 0 || join.running < join.max_concurrency) {
            let i = join.next;
            join.next += 1;
            let input = std::mem::take(&mut join.pending[i]);
            if !join.distributed {
                let st = self.state(frame);
                self.emit(frame, "MapIterationStarted", Some(json!({"index": i, "name": st.name})));
            }
            let id = self.spawn(frame, i, scope, input, join.distributed);
            join.children[i] = Some(id);
            join.running += 1;
        }
    }

    /// A child frame of a Parallel/Map ended.
    fn child_done(&mut self, p: Parent, child: usize, result: Result<Value, Failure>) {
        let parent = p.frame;
        let Phase::Children(mut join) = std::mem::replace(&mut self.x.frames[parent].phase, Phase::Ready) else {
            return;
        };
        if join.failure.is_some() {
            self.x.frames[parent].phase = Phase::Children(join);
            return;
        }
        join.running = join.running.saturating_sub(1);
        let st = self.state(parent);
        let last_child_event = self.x.frames[child].prev_event;
        match result {
            Ok(out) => {
                if join.map && !join.distributed {
                    self.x.frames[parent].prev_event = last_child_event;
                    self.emit(parent, "MapIterationSucceeded", Some(json!({"index": p.index, "name": st.name})));
                }
                join.results[p.index] = out;
                join.done += 1;
            }
            Err((error, cause)) => {
                if join.map && !join.distributed {
                    self.x.frames[parent].prev_event = last_child_event;
                    self.emit(parent, "MapIterationFailed", Some(json!({"index": p.index, "name": st.name})));
                }
                join.failed += 1;
                let total = join.children.len();
                let tolerated = join.map
                    && (join.tolerated_count.is_some_and(|c| join.failed as u64 <= c)
                        || join.tolerated_pct.is_some_and(|pct| (join.failed as f64) * 100.0 / (total.max(1) as f64) <= pct));
                if tolerated {
                    let mut o = Map::new();
                    if let Some(e) = &error {
                        o.insert("Error".into(), e.clone().into());
                    }
                    if let Some(c) = &cause {
                        o.insert("Cause".into(), c.clone().into());
                    }
                    join.results[p.index] = Value::Object(o);
                    join.done += 1;
                } else {
                    join.failure_event = last_child_event;
                    join.failure = Some(if join.map && (join.tolerated_count.is_some() || join.tolerated_pct.is_some()) {
                        (
                            Some("States.ExceedToleratedFailureThreshold".into()),
                            Some("The specified tolerated failure threshold was exceeded".into()),
                        )
                    } else {
                        (error, cause)
                    });
                    // stop the siblings
                    for c in join.children.iter().flatten() {
                        if !matches!(self.x.frames[*c].phase, Phase::Done | Phase::Aborted) {
                            self.abort_subtree(*c);
                            if join.map && !join.distributed {
                                let idx = self.x.frames[*c].parent.map(|p| p.index).unwrap_or(0);
                                self.emit(parent, "MapIterationAborted", Some(json!({"index": idx, "name": st.name})));
                            }
                        }
                    }
                    self.x.frames[parent].phase = Phase::Children(join);
                    self.schedule(parent, None, None);
                    return;
                }
            }
        }
        if join.map {
            if let StateKind::Map(spec) = &st.kind {
                if join.next < join.children.len() && !join.distributed {
                    // AWS chains the next MapIterationStarted to the finished iteration's last event.
                    self.x.frames[parent].prev_event = last_child_event;
                }
                self.start_iterations(parent, spec.processor, &mut join);
            }
        }
        let complete = join.done == join.children.len();
        self.x.frames[parent].phase = Phase::Children(join);
        if complete {
            self.schedule(parent, None, None);
        }
    }

    /// A Parallel/Map whose children are all done (or one failed) finishes.
    fn join(&mut self, frame: usize) {
        let Phase::Children(join) = std::mem::replace(&mut self.x.frames[frame].phase, Phase::Ready) else { return };
        let st = self.state(frame);
        let prefix = st.kind.event_prefix();
        if let Some(failure) = join.failure {
            if join.distributed {
                let mut d = Map::new();
                if let Some(e) = &failure.0 {
                    d.insert("error".into(), e.clone().into());
                }
                if let Some(c) = &failure.1 {
                    d.insert("cause".into(), c.clone().into());
                }
                self.emit(frame, "MapRunFailed", Some(Value::Object(d)));
            }
            if join.failure_event > 0 && !join.map {
                self.x.frames[frame].prev_event = join.failure_event;
            }
            self.emit_state_failed(frame, &failure);
            return self.handle_error(frame, failure);
        }
        if join.distributed {
            self.emit(frame, "MapRunSucceeded", None);
        }
        self.emit_side(frame, state_event(prefix, "Succeeded"), None);
        let result = Value::Array(join.results);
        match self.process_result(frame, st, result) {
            Ok(out) => self.exit_state(frame, out),
            Err(f) => self.state_failed(frame, f),
        }
    }
}

/// A workflow variable as frame `frame` sees it: its own, then its ancestors'.
fn lookup_var(x: &Execution, mut frame: usize, name: &str) -> Option<Value> {
    loop {
        let f = x.frames.get(frame)?;
        if let Some(v) = f.vars.get(name) {
            return Some(v.clone());
        }
        frame = f.parent?.frame;
    }
}

/// The context object (`$$`) of a frame's current state.
fn context_value(x: &Execution, m: &StateMachine, frame: usize, extra: Option<(&str, Value)>) -> Value {
    let f = &x.frames[frame];
    let st = m.state(f.scope, f.state);
    let mut state = Map::new();
    state.insert("EnteredTime".into(), timestamp::format(&f.entered_time).into());
    state.insert("Name".into(), st.name.clone().into());
    if matches!(st.kind, StateKind::Task(_)) {
        state.insert("RetryCount".into(), f.retries.iter().sum::<u32>().into());
    }
    let mut ctx = json!({
        "Execution": {
            "Id": x.info.execution_arn,
            "Input": x.input,
            "Name": x.info.name,
            "RoleArn": x.info.role_arn,
            "StartTime": timestamp::format(&x.start_time),
            "RedriveCount": x.redrive_count,
        },
        "State": state,
        "StateMachine": {"Id": x.info.state_machine_arn, "Name": x.info.state_machine_name},
    });
    if x.info.execution_arn.contains(":express:") {
        // Express executions cannot be redriven: their context has no RedriveCount.
        if let Some(e) = ctx.get_mut("Execution").and_then(Value::as_object_mut) {
            e.remove("RedriveCount");
        }
    }
    if let (Some((k, v)), Some(o)) = (extra, ctx.as_object_mut()) {
        o.insert(k.into(), v);
    }
    ctx
}

/// Whether a Retry/Catch `ErrorEquals` list takes the error `name`. `States.ALL` takes every
/// error; `States.TaskFailed` every error but `States.Timeout` (the ASL rule, confirmed by the
/// recorded corpus: a Lambda `Exception` is caught by `States.TaskFailed`).
fn matches(error_equals: &[String], name: &str) -> bool {
    error_equals
        .iter()
        .any(|e| e == name || e == "States.ALL" || (e == "States.TaskFailed" && name != "States.Timeout"))
}

/// Whether `v` serialises to more than `limit` bytes, without serialising small values.
pub fn exceeds_size(v: &Value, limit: usize) -> bool {
    fn walk(v: &Value, budget: &mut isize) {
        if *budget < 0 {
            return;
        }
        match v {
            Value::Null | Value::Bool(_) => *budget -= 5,
            Value::Number(_) => *budget -= 24,
            Value::String(s) => *budget -= s.len() as isize + 2,
            Value::Array(a) => {
                *budget -= 2 + a.len() as isize;
                a.iter().for_each(|x| walk(x, budget));
            }
            Value::Object(m) => {
                *budget -= 2;
                for (k, x) in m {
                    *budget -= k.len() as isize + 4;
                    walk(x, budget);
                }
            }
        }
    }
    // The estimate over-counts numbers and escapes under-count; only near the limit is the
    // exact serialisation needed.
    let mut budget = limit as isize;
    walk(v, &mut budget);
    if budget >= 0 {
        return false;
    }
    serde_json::to_vec(v).map(|b| b.len() > limit).unwrap_or(true)
}

/// How AWS shows a value in a cause: strings raw, everything else as JSON.
fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Rng<'a>(&'a mut dyn Env);

impl Rng<'_> {
    fn next(&mut self) -> u64 {
        self.0.random()
    }
}
