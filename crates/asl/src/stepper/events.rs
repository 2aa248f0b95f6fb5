//! Writing history events: ids, the `previousEventId` chain of each frame, and the silent
//! frames (distributed Map children) whose events stay out of the history.
//!
//! Every event the stepper records goes through here, so the chain rules AWS follows (which
//! event a new one follows) live in one place.

use super::Stepper;
use crate::history::{state_event, Details, HistoryEvent};
use crate::model::State;
use serde_json::Value;
use std::borrow::Cow;

impl Stepper<'_> {
    /// Records an event of `frame` with an optional details object; returns its id.
    pub(super) fn emit(&mut self, frame: usize, ty: &'static str, details: Option<Value>) -> u64 {
        let details = match details {
            Some(v) => Details::Other(v),
            None => Details::None,
        };
        self.emit_details(frame, ty, details)
    }

    /// Records an event that follows the frame's latest event without becoming the one later
    /// events follow (AWS chains `*StateSucceeded` of Map/Parallel this way).
    pub(super) fn emit_side(&mut self, frame: usize, ty: &'static str, details: Option<Value>) {
        let prev = self.x.frames[frame].prev_event;
        self.emit(frame, ty, details);
        self.x.frames[frame].prev_event = prev;
    }

    pub(super) fn emit_details(&mut self, frame: usize, ty: &'static str, details: Details) -> u64 {
        let f = &mut self.x.frames[frame];
        if f.silent {
            self.changed_silently = true;
            return f.prev_event;
        }
        self.x.last_event_id += 1;
        let id = self.x.last_event_id;
        let prev = f.prev_event;
        f.prev_event = id;
        self.push(id, prev, ty, details);
        id
    }

    /// Records an execution-level event, following frame 0's latest event (or nothing).
    pub(super) fn emit_root(&mut self, ty: &'static str, details: Option<Value>) {
        let prev = self.x.frames.first().map(|f| f.prev_event).unwrap_or(0);
        self.x.last_event_id += 1;
        let id = self.x.last_event_id;
        if let Some(f) = self.x.frames.first_mut() {
            f.prev_event = id;
        }
        self.push(id, prev, ty, details.map(Details::Other).unwrap_or(Details::None));
    }

    pub(super) fn push(&mut self, id: u64, previous_event_id: u64, ty: &'static str, details: Details) {
        self.history.push(HistoryEvent {
            id,
            previous_event_id,
            timestamp: self.now,
            event_type: Cow::Borrowed(ty),
            details,
        });
    }

    /// `*StateExited` of the current state, with the variables it assigned (applied now).
    pub(super) fn emit_exited(&mut self, frame: usize, st: &State, output: &Value) {
        let details = self.exited_details(frame, &st.name, output);
        self.emit_details(frame, state_event(st.kind.event_prefix(), "Exited"), details);
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
}
