//! Threads of control: [`Frame`], its [`Phase`], and the table of the phase transitions a
//! step may make ([`PHASE_TRANSITIONS`]); starting, ending and aborting frames.
//!
//! The phase is what makes a message meaningful or stale: a step message counts only for a
//! `Ready` frame, a timer only for the phase that set it, a task result only for the task the
//! frame runs. Changing a phase anywhere but through the transitions listed in the table is a
//! bug; `tests/phase_transitions.rs` runs machines through every row and fails on a transition
//! missing from the table (or a row no machine exercises).

use super::{Effect, Failure, Join, Status, Stepper, TaskRequest};
use crate::history::state_event;
use crate::model::StateKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

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
    /// The event that `*StateEntered` event follows (AWS chains `EvaluationFailed` to it).
    #[serde(default)]
    pub entered_after: u64,
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
    /// The join of the Parallel or inline Map state this frame failed in: which children
    /// succeeded, with their results (RedriveExecution reruns only the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_join: Option<Box<super::Join>>,
    /// Set by RedriveExecution: the current state's next run keeps these children's results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_join: Option<Box<super::Join>>,
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
    /// A Distributed Map waiting for its items to be read, then for its Map Run.
    MapRun(Box<MapRunWait>),
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
    /// An activity task was taken by a worker (ActivityStarted recorded).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub started: bool,
    /// The child execution a `.sync` task waits for (stopped when the task ends without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
}

/// A Distributed Map's wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunWait {
    /// The id the read's answer and the run's outcome must quote.
    pub task: u64,
    /// The Map Run's ARN.
    pub run: String,
    /// Waiting for the ItemReader's answer (the run has no children yet).
    pub reading: bool,
}

/// A [`Phase`] without its payload, for the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PhaseKind {
    /// [`Phase::Ready`].
    Ready,
    /// [`Phase::Running`].
    Running,
    /// [`Phase::Waiting`].
    Waiting,
    /// [`Phase::Backoff`].
    Backoff,
    /// [`Phase::Children`].
    Children,
    /// [`Phase::MapRun`].
    MapRun,
    /// [`Phase::Done`].
    Done,
    /// [`Phase::Aborted`].
    Aborted,
}

impl Phase {
    /// The phase without its payload.
    pub fn kind(&self) -> PhaseKind {
        match self {
            Phase::Ready => PhaseKind::Ready,
            Phase::Running(_) => PhaseKind::Running,
            Phase::Waiting { .. } => PhaseKind::Waiting,
            Phase::Backoff { .. } => PhaseKind::Backoff,
            Phase::Children(_) => PhaseKind::Children,
            Phase::MapRun(_) => PhaseKind::MapRun,
            Phase::Done => PhaseKind::Done,
            Phase::Aborted => PhaseKind::Aborted,
        }
    }
}

/// One row of [`PHASE_TRANSITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseTransition {
    /// The phase before the step; `None`: the frame did not exist yet.
    pub from: Option<PhaseKind>,
    /// What causes it.
    pub on: &'static str,
    /// The phase after the step.
    pub to: PhaseKind,
}

const fn row(from: Option<PhaseKind>, on: &'static str, to: PhaseKind) -> PhaseTransition {
    PhaseTransition { from, on, to }
}

use PhaseKind::{Aborted, Backoff, Children, Done, MapRun, Ready, Running, Waiting};

/// Every change of a frame's phase one [`super::step`] can make, as a saved execution shows it
/// between two steps (a frame whose phase stays the same but whose data changes counts as a
/// transition to the same phase). `Done` and `Aborted` are final. "Step" is the
/// `Event::Advance` without a timer that enters a frame's state; "timer" one with the timer the
/// phase set; "ended" covers `Event::Stop`, the machine's timeout, the machine finishing
/// (success or failure, also `Event::Terminate`) and a sibling branch or iteration failing.
#[rustfmt::skip]
pub const PHASE_TRANSITIONS: &[PhaseTransition] = &[
    row(None,           "Start (frame 0); a Parallel/Map starts a branch or an iteration",              Ready),
    row(Some(Ready),    "step: the state finished at once (Pass, Choice, caught failure); next is due", Ready),
    row(Some(Ready),    "step: a Task invoked its integration",                                         Running),
    row(Some(Ready),    "step: a Wait set its timer",                                                   Waiting),
    row(Some(Ready),    "step: the state failed and a retrier applies",                                 Backoff),
    row(Some(Ready),    "step: a Parallel/Map started its children",                                    Children),
    row(Some(Ready),    "step: a Distributed Map started its Map Run, or the read of its items",        MapRun),
    row(Some(Ready),    "step: an end or Succeed/Fail state, or a failure nothing catches",             Done),
    row(Some(Ready),    "ended",                                                                        Aborted),
    row(Some(Running),  "task heartbeat (timer moved) or submitted (waitForTaskToken)",                 Running),
    row(Some(Running),  "task result, or caught failure or timeout; the next state is due",             Ready),
    row(Some(Running),  "task failure or timeout; a retrier applies",                                   Backoff),
    row(Some(Running),  "task result at an end state, or a failure nothing catches",                    Done),
    row(Some(Running),  "ended",                                                                        Aborted),
    row(Some(Waiting),  "timer: the next state is due",                                                 Ready),
    row(Some(Waiting),  "timer at an end state",                                                        Done),
    row(Some(Waiting),  "ended",                                                                        Aborted),
    row(Some(Backoff),  "timer: the Task runs again",                                                   Running),
    row(Some(Backoff),  "timer: the Parallel/Map runs again",                                           Children),
    row(Some(Backoff),  "timer: the Distributed Map runs again (a new Map Run)",                        MapRun),
    row(Some(Backoff),  "timer: the state fails again and a retrier applies",                           Backoff),
    row(Some(Backoff),  "timer: the state fails again and a Catch takes it",                            Ready),
    row(Some(Backoff),  "timer: the state fails again and nothing catches it",                          Done),
    row(Some(Backoff),  "ended",                                                                        Aborted),
    row(Some(Children), "a child finished, or the next iteration started",                              Children),
    row(Some(Children), "step after the join: the next state is due (also through a Catch)",            Ready),
    row(Some(Children), "step after the join: it failed and a retrier applies",                         Backoff),
    row(Some(Children), "step after the join at an end state, or a failure nothing catches",            Done),
    row(Some(Children), "ended",                                                                        Aborted),
    row(Some(MapRun),   "items read: the Map Run starts its children",                                  MapRun),
    row(Some(MapRun),   "the Map Run ended (or failed and a Catch takes it); the next state is due",    Ready),
    row(Some(MapRun),   "the Map Run failed (or the read); a retrier applies",                          Backoff),
    row(Some(MapRun),   "the Map Run ended at an end state, or a failure nothing catches",              Done),
    row(Some(MapRun),   "ended",                                                                        Aborted),
];

impl Stepper<'_> {
    /// Creates frame 0 at the machine's StartAt and records `ExecutionStarted`.
    pub(super) fn start(&mut self) {
        if !self.x.frames.is_empty() {
            return; // duplicate start
        }
        self.x.last_event_id += 1;
        let details = crate::history::Details::Started {
            input: self.x.input.clone(),
            text: self.x.input_text.clone(),
            role_arn: self.x.info.role_arn.clone(),
            version_arn: self.x.info.version_arn.clone(),
            alias_arn: self.x.info.alias_arn.clone(),
        };
        self.push(1, 0, "ExecutionStarted", details);
        let scope = &self.m.scopes[0];
        self.x.frames.push(Frame {
            scope: 0,
            parent: None,
            state: scope.start_at,
            input: self.x.input.clone(),
            phase: Phase::Ready,
            entered_event: 0,
            entered_after: 0,
            entered_time: self.now,
            prev_event: 0,
            retries: Vec::new(),
            silent: false,
            vars: self.x.probe.as_ref().and_then(|p| p.variables.clone()).unwrap_or_default(),
            failed_join: None,
            redrive_join: None,
        });
        if let Some(t) = self.m.timeout_seconds {
            let id = self.start_timer(0, t as i64);
            self.x.machine_timer = Some(id);
        }
        self.schedule(0, None, None);
    }

    /// Starts a child frame (branch `index` of a Parallel, item `index` of a Map) at the start
    /// of `scope`; returns its id.
    pub(super) fn spawn(&mut self, parent: usize, index: usize, scope: usize, input: Value, silent: bool) -> usize {
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
            entered_after: 0,
            entered_time: self.now,
            prev_event: prev,
            retries: Vec::new(),
            silent,
            vars: Map::new(),
            failed_join: None,
            redrive_join: None,
        });
        self.schedule(id, None, None);
        id
    }

    /// Moves the frame to state `next` with `input`; a step message will enter it.
    pub(super) fn goto(&mut self, frame: usize, next: usize, input: Value) {
        let f = &mut self.x.frames[frame];
        f.failed_join = None;
        f.state = next;
        f.input = input;
        f.phase = Phase::Ready;
        self.schedule(frame, None, None);
    }

    pub(super) fn frame_succeeded(&mut self, frame: usize, output: Value) {
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

    pub(super) fn frame_failed(&mut self, frame: usize, failure: Failure) {
        let parent = self.x.frames[frame].parent;
        self.x.frames[frame].phase = Phase::Done;
        if parent.is_some() {
            // The machine's frame keeps its state's input: a redrive enters that state again.
            self.x.frames[frame].input = Value::Null;
        }
        match parent {
            None => {
                self.emit(frame, "ExecutionFailed", Some(failure.details()));
                self.x.status = Status::Failed { error: failure.error, cause: failure.cause };
                self.finish_execution();
            }
            Some(p) => {
                let st = self.state(frame);
                let parallel = matches!(self.state(p.frame).kind, StateKind::Parallel { .. });
                if parallel && !matches!(st.kind, StateKind::Fail(_)) {
                    self.emit(frame, state_event(st.kind.event_prefix(), "Aborted"), None);
                }
                self.child_done(p, frame, Err(failure));
            }
        }
    }

    fn finish_execution(&mut self) {
        self.abort_frames(0);
        self.effects.push(Effect::Complete);
    }

    /// Marks every unfinished descendant of `frame` (not `frame` itself, unless root) aborted.
    pub(super) fn abort_frames(&mut self, root: usize) {
        for i in 0..self.x.frames.len() {
            if i == root && root != 0 {
                continue;
            }
            let f = &mut self.x.frames[i];
            if !matches!(f.phase, Phase::Done | Phase::Aborted) && self.is_descendant(i, root) {
                let phase = std::mem::replace(&mut self.x.frames[i].phase, Phase::Aborted);
                self.stop_child(&phase);
                if let (0, Phase::Children(join)) = (i, &phase) {
                    // The machine's Parallel or inline Map stopped mid-way: a redrive keeps
                    // the children that succeeded.
                    if !join.kind.is_distributed() {
                        self.x.frames[0].failed_join = Some(join.clone());
                    }
                }
            }
        }
    }

    /// Stops a frame and everything under it; a state caught mid-work gets `*StateAborted`.
    pub(super) fn abort_subtree(&mut self, frame: usize) {
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
                self.stop_child(&phase);
                self.emit(frame, state_event(prefix, "Aborted"), None);
            }
            Phase::MapRun(_) => {
                self.stop_child(&phase);
                self.emit(frame, "MapRunAborted", None);
                self.emit(frame, state_event(prefix, "Aborted"), None);
            }
        }
    }

    /// A `.sync` task that ends without its child stops the child, as AWS does; a Distributed
    /// Map that ends without its Map Run stops the run (and the run its children).
    pub(super) fn stop_child(&mut self, phase: &Phase) {
        match phase {
            Phase::Running(rt) => {
                if let Some(arn) = &rt.child {
                    self.effects.push(super::Effect::StopExecution { execution_arn: arn.clone() });
                }
            }
            Phase::MapRun(w) if !w.reading => {
                self.effects.push(super::Effect::StopExecution { execution_arn: w.run.clone() });
            }
            _ => {}
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
}
