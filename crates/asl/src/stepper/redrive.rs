//! RedriveExecution: a FAILED, TIMED_OUT or ABORTED execution runs again from where it
//! stopped. Steps that finished keep their results; the machine's frame enters again the state
//! it was in (its input was kept for this): a Task is scheduled again, a Choice evaluated
//! again, a Fail fails again. A Parallel or inline Map state reruns only its branches or
//! iterations that did not succeed (the failed join is kept on the frame for this; a state
//! that exceeded the data limit reruns whole, as on AWS). Retry counts and the machine's
//! TimeoutSeconds start again; `$$.Execution.RedriveCount` counts the redrives and
//! `$$.Execution.RedriveTime` tells the last one.

use super::{Phase, Status, Stepper};
use serde_json::json;

impl Stepper<'_> {
    pub(super) fn redrive(&mut self, count: u32, client_token: Option<String>) {
        if !matches!(self.x.status, Status::Failed { .. } | Status::TimedOut { .. } | Status::Aborted { .. })
            || self.x.redrive_count != count
        {
            return;
        }
        let Some(f0) = self.x.frames.first() else { return };
        if matches!(f0.phase, Phase::Running(_)) {
            return;
        }
        self.x.redrive_count += 1;
        self.x.redrive_time = Some(self.now);
        if let Some(t) = client_token {
            self.x.redrive_tokens.push((t, self.now));
            let extra = self.x.redrive_tokens.len().saturating_sub(10);
            self.x.redrive_tokens.drain(..extra);
        }
        self.x.status = Status::Running;
        // ExecutionRedriven follows the event that ended the execution.
        self.x.frames[0].prev_event = self.x.last_event_id;
        self.emit_root("ExecutionRedriven", Some(json!({"redriveCount": self.x.redrive_count})));
        self.x.frames[0].phase = Phase::Ready;
        // A Parallel or inline Map that failed reruns only its unsuccessful children.
        self.x.frames[0].redrive_join = self.x.frames[0].failed_join.take();
        if let Some(t) = self.m.timeout_seconds {
            let id = self.start_timer(0, t as i64);
            self.x.machine_timer = Some(id);
        }
        self.schedule(0, None, None);
    }
}
