//! The children of a Parallel or Map state: the [`Join`] a parent frame holds while they run,
//! a child reporting back ([`Stepper::child_done`]), and the parent finishing once all are
//! done or one failed ([`Stepper::join`]).
//!
//! [`JoinKind`] says which of the three behaviours applies: a Parallel (any failure fails
//! the state), an inline Map (iteration events, tolerated failures) or a distributed Map
//! (children silent, map-run events, tolerated failures).

use super::{Failure, Parent, Phase, Stepper};
use crate::history::state_event;
use crate::model::StateKind;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Which kind of state waits for its children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JoinKind {
    /// A Parallel state: one child per branch; any failure fails the state.
    Parallel,
    /// A Map state: one child per item (or batch).
    Map {
        /// DISTRIBUTED processor mode: children are silent and the state records map-run
        /// events instead of iteration events.
        distributed: bool,
        /// ToleratedFailureCount.
        tolerated_count: Option<u64>,
        /// ToleratedFailurePercentage.
        tolerated_pct: Option<f64>,
    },
}

impl JoinKind {
    /// A distributed Map.
    pub fn is_distributed(&self) -> bool {
        matches!(self, JoinKind::Map { distributed: true, .. })
    }

    /// An inline Map, which records `MapIteration*` events.
    fn records_iterations(&self) -> bool {
        matches!(self, JoinKind::Map { distributed: false, .. })
    }

    /// A Map with a tolerated failure threshold.
    fn has_threshold(&self) -> bool {
        matches!(self, JoinKind::Map { tolerated_count, tolerated_pct, .. } if tolerated_count.is_some() || tolerated_pct.is_some())
    }

    /// Whether `failed` failures out of `total` children are within the threshold.
    fn tolerates(&self, failed: usize, total: usize) -> bool {
        let JoinKind::Map { tolerated_count, tolerated_pct, .. } = self else {
            return false;
        };
        tolerated_count.is_some_and(|c| failed as u64 <= c)
            || tolerated_pct.is_some_and(|pct| (failed as f64) * 100.0 / (total.max(1) as f64) <= pct)
    }
}

/// The join of a Parallel or Map state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Join {
    /// Parallel, inline Map or distributed Map.
    pub kind: JoinKind,
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
    /// The failure that ends the state.
    pub failure: Option<Failure>,
    /// The failing child's latest event (the state's failure event follows it).
    #[serde(default)]
    pub failure_event: u64,
    /// Which children succeeded (a redriven state keeps their results).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub succeeded: Vec<bool>,
}

impl Join {
    /// A join of `n` children, none started yet.
    pub(super) fn new(kind: JoinKind, n: usize) -> Self {
        Join {
            kind,
            children: vec![None; n],
            pending: Vec::new(),
            results: vec![Value::Null; n],
            done: 0,
            running: 0,
            next: 0,
            max_concurrency: 0,
            failed: 0,
            failure: None,
            failure_event: 0,
            succeeded: vec![false; n],
        }
    }

    /// A join of `n` children in which those `previous` (a failed run of the same state)
    /// saw succeed are done already, with their results: what a redrive runs.
    pub(super) fn resumed(kind: JoinKind, n: usize, previous: Option<&Join>) -> Self {
        let mut join = Join::new(kind, n);
        if let Some(prev) = previous.filter(|p| p.succeeded.len() == n) {
            for i in (0..n).filter(|i| prev.succeeded[*i]) {
                join.succeeded[i] = true;
                join.results[i] = prev.results[i].clone();
                join.done += 1;
            }
        }
        join
    }

    /// Whether child `i` is done already (a redrive keeps its result).
    fn kept(&self, i: usize) -> bool {
        self.succeeded.get(i).copied().unwrap_or(false) && self.children.get(i).is_some_and(Option::is_none)
    }
}

impl Stepper<'_> {
    /// Starts Map iterations while the concurrency limit allows.
    pub(super) fn start_iterations(&mut self, frame: usize, scope: usize, join: &mut Join) {
        let total = join.children.len();
        let distributed = join.kind.is_distributed();
        // Iterations started together all follow the same event (AWS: each MapIterationStarted
        // of a batch follows MapStateStarted, or the iteration whose end made room).
        let head = self.x.frames[frame].prev_event;
        while join.next < total && (join.max_concurrency == 0 || join.running < join.max_concurrency) {
            let i = join.next;
            join.next += 1;
            if join.kept(i) {
                continue;
            }
            let input = std::mem::take(&mut join.pending[i]);
            if !distributed {
                let st = self.state(frame);
                self.x.frames[frame].prev_event = head;
                self.emit(frame, "MapIterationStarted", Some(json!({"index": i, "name": st.name})));
            }
            let id = self.spawn(frame, i, scope, input, distributed);
            join.children[i] = Some(id);
            join.running += 1;
        }
    }

    /// Holds the join in the frame; a join with nothing to wait for is due at once.
    pub(super) fn await_children(&mut self, frame: usize, join: Join) {
        let empty = join.children.is_empty();
        self.x.frames[frame].phase = Phase::Children(Box::new(join));
        if empty {
            self.schedule(frame, None, None);
        }
    }

    /// A child frame of a Parallel/Map ended.
    pub(super) fn child_done(&mut self, p: Parent, child: usize, result: Result<Value, Failure>) {
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
        let iterations = join.kind.records_iterations();
        match result {
            Ok(out) => {
                if iterations {
                    self.x.frames[parent].prev_event = last_child_event;
                    self.emit(parent, "MapIterationSucceeded", Some(json!({"index": p.index, "name": st.name})));
                }
                join.results[p.index] = out;
                if let Some(s) = join.succeeded.get_mut(p.index) {
                    *s = true;
                }
                join.done += 1;
            }
            Err(failure) => {
                if iterations {
                    self.x.frames[parent].prev_event = last_child_event;
                    self.emit(parent, "MapIterationFailed", Some(json!({"index": p.index, "name": st.name})));
                }
                join.failed += 1;
                if join.kind.tolerates(join.failed, join.children.len()) {
                    join.results[p.index] = failure.result_object();
                    join.done += 1;
                } else {
                    join.failure_event = last_child_event;
                    // A Distributed Map fails with the threshold error even without one set
                    // (its default tolerance is 0), as its Map Runs do; an inline Map with the
                    // iteration's own error.
                    join.failure = Some(if join.kind.has_threshold() || join.kind.is_distributed() {
                        Failure::new(
                            "States.ExceedToleratedFailureThreshold",
                            "The specified tolerated failure threshold was exceeded",
                        )
                    } else {
                        failure
                    });
                    // stop the siblings
                    for c in join.children.iter().flatten() {
                        if !matches!(self.x.frames[*c].phase, Phase::Done | Phase::Aborted) {
                            self.abort_subtree(*c);
                            if iterations {
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
        if let StateKind::Map(spec) = &st.kind {
            if join.next < join.children.len() && iterations {
                // AWS chains the next MapIterationStarted to the finished iteration's last event.
                self.x.frames[parent].prev_event = last_child_event;
            }
            self.start_iterations(parent, spec.processor, &mut join);
        }
        let complete = join.done == join.children.len();
        self.x.frames[parent].phase = Phase::Children(join);
        if complete {
            self.schedule(parent, None, None);
        }
    }

    /// A Parallel/Map whose children are all done (or one failed) finishes.
    pub(super) fn join(&mut self, frame: usize) {
        let Phase::Children(join) = std::mem::replace(&mut self.x.frames[frame].phase, Phase::Ready) else {
            return;
        };
        let st = self.state(frame);
        let prefix = st.kind.event_prefix();
        if let Some(failure) = join.failure.clone() {
            if join.kind.is_distributed() {
                self.emit(frame, "MapRunFailed", Some(failure.details()));
            } else if !failure.name().starts_with("States.DataLimitExceeded") {
                // Kept for a redrive (AWS reruns a state that exceeded the data limit whole).
                self.x.frames[frame].failed_join = Some(Box::new(Join { failure: None, ..*join }));
            }
            if join.failure_event > 0 {
                self.x.frames[frame].prev_event = join.failure_event;
            }
            self.emit_state_failed(frame, &failure);
            return self.handle_error(frame, failure);
        }
        if join.kind.is_distributed() {
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
