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
//!
//! ## Layout
//! One `impl Stepper` is spread over a file per concern; every file adds methods to the same
//! private [`Stepper`], which holds the execution being stepped and what the step produced.
//! - `mod.rs` (here): the public types a runtime stores and exchanges, [`step`], and the
//!   dispatch of an event to the frame it concerns (entering, running and leaving a state).
//! - `frames`: [`Frame`], [`Phase`] and the table of phase transitions; starting, ending and
//!   aborting frames.
//! - `context`: what expressions read: the context object `$$`, `$states`, workflow variables
//!   and the random source, built in one place for a frame.
//! - `io`: the input/output pipeline of a state (InputPath, Parameters/Arguments,
//!   ResultSelector, ResultPath, OutputPath, Output, Assign).
//! - `errors`: [`Failure`], Retry and Catch.
//! - `events`: writing history events.
//! - `task`, `choice`, `wait`, `pass` (Pass, Succeed, Fail), `parallel`, `map`, `join`
//!   (children of Parallel and Map reporting back): one file per kind of state.

mod choice;
mod context;
mod errors;
mod events;
mod frames;
mod io;
mod join;
mod map;
mod parallel;
mod pass;
mod redrive;
mod task;
mod wait;

pub use crate::integrations::Integration;
pub use errors::{matches as error_matches, Failure};
pub use frames::{Frame, MapRunWait, Parent, Phase, PhaseKind, PhaseTransition, RunningTask, PHASE_TRANSITIONS};
pub use join::{Join, JoinKind};
pub use task::TaskRequest;

use crate::history::{state_event, Details, HistoryEvent};
use crate::model::{State, StateKind, StateMachine, Transition as Next};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// AWS's payload size limit (256 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// The clock and randomness a step may use; injected so steps replay exactly.
pub trait Env {
    /// The current time.
    fn now(&mut self) -> DateTime<Utc>;
    /// 64 random bits.
    fn random(&mut self) -> u64;
    /// Whether the runtime runs a Distributed Map's children as executions of their own
    /// ([`Effect::StartMapRun`]); without, they run inline as silent frames.
    fn child_executions(&self) -> bool {
        false
    }
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
    /// The version it runs, when started on a version or an alias (`stateMachine:NAME:N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_arn: Option<String>,
    /// The alias it was started on (`stateMachine:NAME:ALIAS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_arn: Option<String>,
}

impl ExecutionInfo {
    /// Builds ARNs the way AWS does from account, region and names.
    pub fn new(account: &str, region: &str, machine: &str, execution: &str, role_arn: &str, express: bool) -> Self {
        ExecutionInfo {
            execution_arn: crate::arn::execution(region, account, machine, execution, express),
            name: execution.into(),
            state_machine_arn: crate::arn::state_machine(region, account, machine),
            state_machine_name: machine.into(),
            role_arn: role_arn.into(),
            state_machine_revision: None,
            version_arn: None,
            alias_arn: None,
        }
    }
}

/// An execution's status without its output or error: what listings show and filter by, and
/// what a run ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Still running.
    Running,
    /// Ended with an output.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ran past its TimeoutSeconds.
    TimedOut,
    /// Stopped (StopExecution).
    Aborted,
    /// Failed and waiting for a redrive (AWS's; no stepwise execution has it).
    PendingRedrive,
}

impl ExecutionStatus {
    /// Every status, in the API model's order.
    pub const ALL: [ExecutionStatus; 6] = [
        ExecutionStatus::Running,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
        ExecutionStatus::PendingRedrive,
    ];

    /// AWS's name (`RUNNING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
            ExecutionStatus::PendingRedrive => "PENDING_REDRIVE",
        }
    }

    /// The status named `name` (AWS's name), if any.
    pub fn parse(name: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The status of an execution state.
    pub fn of(status: &Status) -> ExecutionStatus {
        match status {
            Status::Running => ExecutionStatus::Running,
            Status::Succeeded { .. } => ExecutionStatus::Succeeded,
            Status::Failed { .. } => ExecutionStatus::Failed,
            Status::TimedOut { .. } => ExecutionStatus::TimedOut,
            Status::Aborted { .. } => ExecutionStatus::Aborted,
        }
    }

    /// Whether the execution ended.
    pub fn is_finished(self) -> bool {
        self != ExecutionStatus::Running
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    /// The status without its output or error.
    pub fn kind(&self) -> ExecutionStatus {
        ExecutionStatus::of(self)
    }

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
    /// The input exactly as the client sent it (AWS echoes this text in DescribeExecution and
    /// `ExecutionStarted`); `None`: the compact serialization of `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_text: Option<String>,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// The task of another execution that started this one (`states:startExecution`); a
    /// `.sync` task waits for this one's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<crate::integrations::states::ParentTask>,
    /// The Map Run that started this execution (a Distributed Map's child), and its index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run: Option<MapRunChild>,
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
    /// When it was last redriven (`$$.Execution.RedriveTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_time: Option<DateTime<Utc>>,
    /// The client tokens of the last redrives and when each was made (a repeated request
    /// answers its redrive: AWS keeps the last ten, for 15 minutes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redrive_tokens: Vec<(String, DateTime<Utc>)>,
    /// Id of the machine-timeout timer, if the machine has TimeoutSeconds.
    pub machine_timer: Option<u64>,
    /// How far this execution's clock runs ahead of the wall clock, in milliseconds: a runtime
    /// with a time scale below 1 fires timers early and moves the execution's clock to each
    /// timer's time, so its history shows the definition's waits (0 at AWS's pace).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clock_offset_ms: i64,
    /// Under such a time scale, the execution's timers and when they are due by its clock, so
    /// that a timer fired early never overtakes one due before it (kept by the runtime).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaled_timers: Vec<(u64, DateTime<Utc>)>,
    /// The test case of a mock configuration this execution runs (`stateMachine:NAME#CASE`):
    /// its mocked Task states answer from it instead of calling anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mocks: Option<Box<crate::mock::ExecutionMocks>>,
    /// The TestState API's view into the run of one state (`crate::test_state`); `None` in
    /// executions.
    #[serde(skip)]
    pub probe: Option<Box<Probe>>,
}

/// What the TestState API sets up for the one state it runs, and what it learns from the run:
/// the values between the steps of the input/output pipeline (`inspectionData`), the error the
/// state's error handling saw, where it went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    /// Pipeline values by inspectionData name (`afterInputPath`, `afterParameters`, `result`,
    /// `afterResultSelector`, `afterResultPath`, `afterArguments`, `afterItemsPath`,
    /// `maxConcurrency`, `toleratedFailureCount`, `toleratedFailurePercentage`, `itemCount`).
    pub notes: Map<String, Value>,
    /// The context object to use instead of the execution's (`$$` is exactly this).
    pub context: Option<Value>,
    /// The attempts every retrier of the state has used so far.
    pub retry_count: Option<u32>,
    /// How many iterations of a mocked Map failed.
    pub map_failures: Option<u64>,
    /// The items a mocked Map's ItemReader reads.
    pub reader_data: Option<Value>,
    /// The workflow variables the state sees.
    pub variables: Option<Map<String, Value>>,
    /// The error the state's Retry/Catch handling saw.
    pub failure: Option<Failure>,
    /// The state's output when it exited, and the state it went to (`None`: End).
    pub exit: Option<(Value, Option<String>)>,
}

impl Execution {
    /// The execution's clock when the wall clock shows `now` (see `clock_offset_ms`).
    pub fn clock(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::milliseconds(self.clock_offset_ms)
    }

    /// Whether timer `id` still matters: a frame waits on it (Wait, Retry backoff, a task's
    /// TimeoutSeconds or HeartbeatSeconds) or it is the machine's TimeoutSeconds.
    pub fn timer_is_pending(&self, id: u64) -> bool {
        self.status == Status::Running
            && (self.machine_timer == Some(id)
                || self.frames.iter().any(|f| match &f.phase {
                    Phase::Waiting { timer, .. } | Phase::Backoff { timer } => *timer == id,
                    Phase::Running(rt) => rt.timeout_timer == Some(id) || rt.heartbeat_timer == Some(id),
                    _ => false,
                }))
    }
}

fn is_zero(x: &i64) -> bool {
    *x == 0
}

/// A Distributed Map's child: its Map Run and its index there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRunChild {
    /// The Map Run's ARN.
    pub run: String,
    /// The item's (or batch's) index.
    pub index: u64,
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
    /// The answer to [`Effect::ReadItems`].
    Items {
        /// Frame id.
        frame: usize,
        /// The id the read quoted.
        task: u64,
        /// What S3 answered.
        reply: Box<crate::integrations::aws::AwsReply>,
    },
    /// An event of a Map Run ([`crate::map_run`]); the runtime routes it to the run, and an
    /// execution ignores it.
    Run(crate::map_run::RunEvent),
    /// The runtime ends a running execution with a failure (`ExecutionFailed`), as AWS does to
    /// the executions of a deleted state machine (`States.Runtime`, "State machine NAME has
    /// been deleted.").
    Terminate {
        /// Error.
        error: String,
        /// Cause.
        cause: String,
    },
    /// RedriveExecution: a FAILED, TIMED_OUT or ABORTED execution runs again from the state
    /// that did not finish (`ExecutionRedriven`) — if it has been redriven `count` times (two
    /// racing redrives make one).
    Redrive {
        /// Redrives so far, as the requester saw them.
        count: u32,
        /// The request's idempotency token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_token: Option<String>,
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
    /// A worker took an activity task (GetActivityTask).
    Started {
        /// The worker's `workerName`, when it gave one.
        worker_name: Option<String>,
    },
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
    /// Stop another execution: the child a `.sync` task waited for, when the task ends
    /// without it (the parent stopped, timed out, or a sibling failed).
    StopExecution {
        /// The execution to stop.
        execution_arn: String,
    },
    /// The execution finished; its status is in the execution.
    Complete,
    /// Read a Distributed Map's items from S3 and report `Event::Items` (at once: the answer
    /// can be large, so it never travels as a message).
    ReadItems {
        /// Frame id.
        frame: usize,
        /// Id to quote.
        task: u64,
        /// The S3 call (boxed: it is the largest effect, and the rarest).
        call: Box<crate::integrations::aws::AwsCall>,
        /// `InputType: MANIFEST`: the call reads an S3 inventory manifest; the items are the
        /// rows of the CSV files it lists, answered as one CSV whose first row is its schema.
        manifest: bool,
    },
    /// Start a Map Run: its children's inputs are kept apart from the execution; its outcome
    /// comes back as `Event::Task` with the run's `task`.
    StartMapRun(Box<MapRunStart>),
}

/// What a Distributed Map hands the runtime to start its Map Run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunStart {
    /// The run, not yet started.
    pub run: crate::map_run::MapRun,
    /// The children's inputs, by index (the runtime stores them apart and empties this).
    pub inputs: Vec<Value>,
    /// The children's state machine definition (the item processor).
    pub definition: Value,
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
    /// The step changed frames whose events stay out of the history (distributed Map
    /// children): a step with no events and no effects still changed the execution.
    pub changed_silently: bool,
}

impl Transition {
    /// Whether the step changed nothing (a stale or duplicate message): nothing to commit.
    pub fn is_no_op(&self) -> bool {
        self.history.is_empty() && self.effects.is_empty() && !self.changed_silently
    }
}

/// A new execution, not yet started (feed it [`Event::Start`]).
pub fn new_execution(info: ExecutionInfo, input: Value, start_time: DateTime<Utc>) -> Execution {
    Execution {
        info,
        input,
        input_text: None,
        start_time,
        parent: None,
        map_run: None,
        status: Status::Running,
        frames: Vec::new(),
        last_event_id: 0,
        seq: 0,
        redrive_count: 0,
        redrive_time: None,
        redrive_tokens: Vec::new(),
        machine_timer: None,
        clock_offset_ms: 0,
        scaled_timers: Vec::new(),
        mocks: None,
        probe: None,
    }
}

impl Execution {
    /// The input as AWS shows it: the client's text when it was kept, else compact JSON.
    pub fn input_text(&self) -> String {
        match &self.input_text {
            Some(t) => t.clone(),
            None => self.input.to_string(),
        }
    }
}

/// Applies one event to an execution.
pub fn step(machine: &StateMachine, execution: Execution, event: Event, env: &mut dyn Env) -> Transition {
    let now = env.now();
    let mut s = Stepper {
        m: machine,
        x: execution,
        env,
        now,
        effects: Vec::new(),
        history: Vec::new(),
        pending_assign: None,
        changed_silently: false,
    };
    if s.x.status == Status::Running || matches!(event, Event::Start | Event::Redrive { .. }) {
        s.apply(event);
    }
    Transition { execution: s.x, effects: s.effects, history: s.history, changed_silently: s.changed_silently }
}

/// One step in progress: the execution being changed and what the step produced so far.
struct Stepper<'a> {
    m: &'a StateMachine,
    x: Execution,
    env: &'a mut dyn Env,
    now: DateTime<Utc>,
    effects: Vec<Effect>,
    history: Vec<HistoryEvent>,
    /// Variables the current state assigns, applied when it exits.
    pending_assign: Option<Map<String, Value>>,
    /// A silent frame recorded an event (see [`Transition::changed_silently`]).
    changed_silently: bool,
}

impl<'a> Stepper<'a> {
    fn apply(&mut self, event: Event) {
        match event {
            Event::Start => self.start(),
            Event::Advance { frame, timer } => self.advance(frame, timer),
            Event::Task { frame, task, outcome } => self.task_outcome(frame, task, outcome),
            Event::Items { frame, task, reply } => self.items_read(frame, task, *reply),
            Event::Run(_) => {}
            Event::Stop { error, cause } => {
                if self.x.status == Status::Running {
                    self.abort_frames(0);
                    let details = Failure::from_parts(error.clone(), cause.clone()).details();
                    if let Some(f) = self.x.frames.first_mut() {
                        f.prev_event = 0; // AWS records ExecutionAborted as following nothing
                    }
                    self.emit_root("ExecutionAborted", Some(details));
                    self.x.status = Status::Aborted { error, cause };
                    self.effects.push(Effect::Complete);
                }
            }
            Event::Terminate { error, cause } => {
                if self.x.status == Status::Running {
                    self.abort_frames(0);
                    self.frame_failed(0, Failure::from_parts(Some(error), Some(cause)));
                }
            }
            Event::Redrive { count, client_token } => self.redrive(count, client_token),
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.x.seq += 1;
        self.x.seq
    }

    /// Records a pipeline value for the TestState API (nothing in executions).
    fn note(&mut self, key: &str, v: &Value) {
        if let Some(p) = self.x.probe.as_mut() {
            p.notes.insert(key.into(), v.clone());
        }
    }

    fn schedule(&mut self, frame: usize, timer: Option<u64>, at: Option<DateTime<Utc>>) {
        self.effects.push(Effect::Schedule { frame, timer, at });
    }

    /// Schedules a timer message for `frame` `seconds` from now; returns its id.
    fn start_timer(&mut self, frame: usize, seconds: i64) -> u64 {
        let id = self.next_seq();
        self.schedule(frame, Some(id), Some(self.now + Duration::seconds(seconds)));
        id
    }

    fn advance(&mut self, frame: usize, timer: Option<u64>) {
        if timer.is_some() && timer == self.x.machine_timer {
            self.abort_frames(0);
            self.emit_root("ExecutionTimedOut", Some(serde_json::json!({})));
            self.x.status = Status::TimedOut { error: Some("States.Timeout".into()), cause: None };
            self.effects.push(Effect::Complete);
            return;
        }
        let Some(f) = self.x.frames.get(frame) else {
            return;
        };
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
                self.task_timed_out(frame);
            }
            (Phase::Children(j), None) if j.failure.is_some() || j.done == j.children.len() => self.join(frame),
            _ => {} // duplicate or late message: nothing to do
        }
    }

    /// The current state of `frame`.
    fn state(&self, frame: usize) -> &'a State {
        let f = &self.x.frames[frame];
        self.m.state(f.scope, f.state)
    }

    // ---------- entering and leaving states ----------

    fn enter(&mut self, frame: usize) {
        let st = self.state(frame);
        let input = self.x.frames[frame].input.clone();
        let prefix = st.kind.event_prefix();
        {
            let f = &mut self.x.frames[frame];
            f.entered_time = self.now;
            let used = self.x.probe.as_ref().and_then(|p| p.retry_count).unwrap_or(0);
            f.retries = vec![used; st.retry.len()];
        }
        let after = self.x.frames[frame].prev_event;
        // The machine's first state gets the execution input as sent: AWS shows its text.
        let text = if frame == 0 && self.x.frames[0].entered_event == 0 { self.x.input_text.clone() } else { None };
        let details = Details::Entered { name: st.name.clone(), input, text };
        let id = self.emit_details(frame, state_event(prefix, "Entered"), details);
        self.x.frames[frame].entered_event = id;
        self.x.frames[frame].entered_after = after;
        self.run_state(frame);
    }

    /// Does the work of the current state after it was entered (and again after a retry).
    fn run_state(&mut self, frame: usize) {
        let st = self.state(frame);
        let r = match &st.kind {
            StateKind::Pass { result } => self.run_pass(frame, st, result.as_ref()),
            StateKind::Succeed => self.run_succeed(frame, st),
            StateKind::Fail(spec) => self.run_fail(frame, st, spec),
            StateKind::Choice { choices, default } => self.run_choice(frame, st, choices, *default),
            StateKind::Wait(w) => self.run_wait(frame, st, w),
            StateKind::Task(spec) => self.run_task(frame, st, spec),
            StateKind::Parallel { branches } => self.run_parallel(frame, st, branches),
            StateKind::Map(spec) => self.run_map(frame, st, spec),
        };
        if let Err(f) = r {
            self.state_failed(frame, f);
        }
    }

    /// Emits `*StateExited` and moves on: to the next state, or ends the frame.
    fn exit_state(&mut self, frame: usize, output: Value) {
        let st = self.state(frame);
        if exceeds_size(&output, MAX_PAYLOAD_BYTES) {
            self.pending_assign = None;
            let f = Failure::new(
                "States.DataLimitExceeded",
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    st.name
                ),
            );
            return self.frame_failed(frame, f);
        }
        self.emit_exited(frame, st, &output);
        if let Some(p) = self.x.probe.as_mut() {
            let next = match &st.transition {
                Next::Next(n) if !matches!(st.kind, StateKind::Succeed) => {
                    Some(self.m.state(self.x.frames[frame].scope, *n).name.clone())
                }
                _ => None,
            };
            p.exit = Some((output.clone(), next));
        }
        match (&st.kind, &st.transition) {
            (StateKind::Succeed, _) | (_, Next::End) => self.frame_succeeded(frame, output),
            (_, Next::Next(n)) => self.goto(frame, *n, output),
        }
    }

    /// Emits `*StateExited` (with the pending variables) and goes to `next`: how Choice and
    /// Catch leave a state.
    fn exit_to(&mut self, frame: usize, st: &State, next: usize, output: Value) {
        self.emit_exited(frame, st, &output);
        if let Some(p) = self.x.probe.as_mut() {
            p.exit = Some((output.clone(), Some(self.m.state(self.x.frames[frame].scope, next).name.clone())));
        }
        self.goto(frame, next, output);
    }
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
