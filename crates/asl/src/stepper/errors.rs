//! Failures of states and how they are handled: Retry (a backoff timer), Catch (on to the
//! catcher's state with the error as output) or failing the frame.
//!
//! [`Failure`] is the one shape an error takes inside the stepper, from a task's outcome, an
//! evaluation error or a Fail state, to the `{"Error", "Cause"}` a Catch passes on and the
//! `{"error", "cause"}` of history events; the JSON shapes are built only here.

use super::Stepper;
use crate::history::state_event;
use crate::jsonata;
use crate::jsonpath;
use crate::model::{Catcher, PathField, State, StateKind};
use crate::payload::EvalError;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A failure of a state, a frame or the execution: ASL error name and cause, either of which
/// may be unknown (a Fail state without Error, a task failing with no cause).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// ASL error name (`States.Timeout`, `States.TaskFailed`, a custom name, ...).
    pub error: Option<String>,
    /// Cause text.
    pub cause: Option<String>,
}

impl Failure {
    /// A failure with both a name and a cause.
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        Failure { error: Some(error.to_string()), cause: Some(cause.into()) }
    }

    /// A failure from parts that may be missing.
    pub fn from_parts(error: Option<String>, cause: Option<String>) -> Self {
        Failure { error, cause }
    }

    /// The error name as Retry and Catch match it (`""` when there is none).
    pub fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// `{"error", "cause"}` (the known ones, in this order): execution and map-run events.
    pub(super) fn details(&self) -> Value {
        Value::Object(self.fields("error", "cause", false))
    }

    /// `{"cause", "error"}` (the known ones, in this order), for details that add more keys:
    /// task failures and `EvaluationFailed`.
    pub(super) fn details_cause_first(&self) -> Map<String, Value> {
        self.fields("error", "cause", true)
    }

    /// `{"Error", "Cause"}` with only the known ones: a tolerated Map iteration's result.
    pub fn result_object(&self) -> Value {
        Value::Object(self.fields("Error", "Cause", false))
    }

    /// `{"Error", "Cause"}` as Catch passes it on: both keys, empty strings when unknown.
    pub(super) fn error_output(&self) -> Value {
        let mut m = Map::new();
        m.insert("Error".into(), self.error.clone().unwrap_or_default().into());
        m.insert("Cause".into(), self.cause.clone().unwrap_or_default().into());
        Value::Object(m)
    }

    fn fields(&self, error_key: &str, cause_key: &str, cause_first: bool) -> Map<String, Value> {
        let mut m = Map::new();
        let error = self.error.as_ref().map(|e| (error_key, e));
        let cause = self.cause.as_ref().map(|c| (cause_key, c));
        let order = if cause_first { [cause, error] } else { [error, cause] };
        for (k, v) in order.into_iter().flatten() {
            m.insert(k.into(), v.clone().into());
        }
        m
    }
}

/// Whether a Retry/Catch `ErrorEquals` list takes the error `name`. `States.ALL` takes every
/// error; `States.TaskFailed` every error but `States.Timeout` (the ASL rule, confirmed by the
/// recorded corpus: a Lambda `Exception` is caught by `States.TaskFailed`).
pub fn matches(error_equals: &[String], name: &str) -> bool {
    error_equals
        .iter()
        .any(|e| e == name || e == "States.ALL" || (e == "States.TaskFailed" && name != "States.Timeout"))
}

impl Stepper<'_> {
    /// "An error occurred while executing the state 'S' (entered at the event id #N). "
    pub(super) fn cause_prefix(&self, frame: usize) -> String {
        if self.x.probe.is_some() {
            // TestState runs no execution: AWS's causes there name no event.
            return String::new();
        }
        let f = &self.x.frames[frame];
        format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). ",
            self.m.state(f.scope, f.state).name,
            f.entered_event
        )
    }

    /// A failure named `error` whose cause is prefixed with the state, as AWS words them.
    pub(super) fn state_error(&self, frame: usize, error: &str, msg: impl AsRef<str>) -> Failure {
        Failure::new(error, format!("{}{}", self.cause_prefix(frame), msg.as_ref()))
    }

    /// `States.Runtime`: neither retried nor caught.
    pub(super) fn runtime(&self, frame: usize, msg: impl AsRef<str>) -> Failure {
        self.state_error(frame, "States.Runtime", msg)
    }

    /// `States.QueryEvaluationError`: a JSONata field returned something unusable.
    pub(super) fn query_error(&self, frame: usize, msg: impl AsRef<str>) -> Failure {
        self.state_error(frame, jsonata::QUERY_EVALUATION_ERROR, msg)
    }

    pub(super) fn eval_err(&self, frame: usize, e: EvalError) -> Failure {
        self.state_error(frame, &e.error, e.cause)
    }

    /// The current state's own work failed: record a JSONata evaluation failure as AWS does,
    /// then Retry/Catch.
    pub(super) fn state_failed(&mut self, frame: usize, f: Failure) {
        if f.name() == jsonata::QUERY_EVALUATION_ERROR {
            let st = self.state(frame);
            let mut d = f.details_cause_first();
            if let Some(location) = f.cause.as_deref().and_then(jsonata::error_location) {
                d.insert("location".into(), location.into());
            }
            d.insert("state".into(), st.name.clone().into());
            // AWS chains it to the event the state's `*StateEntered` follows, except in a Wait
            // state (whose Timestamp is evaluated after it was entered).
            if !matches!(st.kind, StateKind::Wait(_)) {
                self.x.frames[frame].prev_event = self.x.frames[frame].entered_after;
            }
            self.emit(frame, "EvaluationFailed", Some(Value::Object(d)));
        }
        if f.name() != "States.Runtime" {
            self.emit_state_failed(frame, &f);
        }
        self.handle_error(frame, f);
    }

    /// `MapStateFailed` / `ParallelStateFailed` unless the state is retried (also when a Catch
    /// takes the error), as AWS records them.
    pub(super) fn emit_state_failed(&mut self, frame: usize, failure: &Failure) {
        let st = self.state(frame);
        let emit =
            matches!(st.kind, StateKind::Map(_) | StateKind::Parallel { .. }) && self.retrier(frame, failure).is_none();
        if emit {
            self.emit(frame, state_event(st.kind.event_prefix(), "Failed"), None);
        }
    }

    /// The retrier that will retry the current state for this failure (it matches and has
    /// attempts left). AWS (recorded): States.Runtime is never retried or caught, even when
    /// named.
    fn retrier(&self, frame: usize, failure: &Failure) -> Option<usize> {
        let st = self.state(frame);
        let name = failure.name();
        if name == "States.Runtime" {
            return None;
        }
        let i = st.retry.iter().position(|r| matches(&r.error_equals, name))?;
        let used = self.x.frames[frame].retries.get(i).copied().unwrap_or(0);
        (used < st.retry[i].max_attempts).then_some(i)
    }

    /// The current state failed: Retry, Catch, or fail the frame.
    pub(super) fn handle_error(&mut self, frame: usize, failure: Failure) {
        if let Some(p) = self.x.probe.as_mut() {
            p.failure = Some(failure.clone());
        }
        let st = self.state(frame);
        let handles = matches!(st.kind, StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_));
        if handles && failure.name() != "States.Runtime" {
            if let Some(i) = self.retrier(frame, &failure) {
                return self.retry(frame, st, i);
            }
            if let Some(c) = st.catch.iter().find(|c| matches(&c.error_equals, failure.name())) {
                return self.catch(frame, st, c, &failure);
            }
        }
        self.frame_failed(frame, failure);
    }

    /// Waits out retrier `i`'s next interval (a Backoff timer), then runs the state again.
    fn retry(&mut self, frame: usize, st: &State, i: usize) {
        let r = &st.retry[i];
        let used = self.x.frames[frame].retries.get(i).copied().unwrap_or(0);
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
        self.x.frames[frame].phase = super::Phase::Backoff { timer };
        let ms = (delay * 1000.0).min(i64::MAX as f64 / 4.0) as i64;
        let at = self.now.checked_add_signed(Duration::milliseconds(ms)).unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.schedule(frame, Some(timer), Some(at));
    }

    /// Leaves the state through catcher `c`, its output built from the error output.
    fn catch(&mut self, frame: usize, st: &State, c: &Catcher, failure: &Failure) {
        let err_out = failure.error_output();
        let raw = self.x.frames[frame].input.clone();
        if super::context::is_jsonata(st) {
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
                    self.exit_to(frame, st, c.next, out);
                }
                Err(f) => self.frame_failed(frame, f),
            }
            return;
        }
        let out = match &c.result_path {
            PathField::Default => Ok(err_out.clone()),
            PathField::Null => Ok(raw),
            PathField::Path(p) => {
                let mut t = raw;
                jsonpath::set(&mut t, p, err_out.clone()).map(|_| t)
            }
        };
        let assigned = match self.eval_assign(frame, c.assign.as_ref(), &err_out) {
            Ok(a) => a,
            Err(f) => return self.frame_failed(frame, f),
        };
        match out {
            Ok(out) => {
                self.pending_assign = assigned;
                self.exit_to(frame, st, c.next, out);
            }
            Err(e) => {
                let f = self.state_error(frame, "States.ResultPathMatchFailure", e.to_string());
                self.frame_failed(frame, f);
            }
        }
    }
}
