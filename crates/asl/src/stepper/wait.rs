//! Wait states: resolve the time to wait until (Seconds, Timestamp, their `...Path` forms, or
//! JSONata), then hold the state's output and variables in [`super::Phase::Waiting`] until the
//! timer fires.

use super::{display_value, Failure, Phase, Stepper};
use crate::jsonata;
use crate::model::{State, WaitSpec};
use crate::timestamp;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// The longest wait in seconds that still fits a `chrono::Duration` with room to spare.
const MAX_SECONDS: i64 = i64::MAX / 2_000_000;

impl Stepper<'_> {
    pub(super) fn run_wait(&mut self, frame: usize, st: &State, w: &WaitSpec) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let until = self.wait_until(frame, st, w, &effective)?;
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

    fn wait_until(
        &mut self,
        frame: usize,
        st: &State,
        w: &WaitSpec,
        effective: &Value,
    ) -> Result<DateTime<Utc>, Failure> {
        Ok(match w {
            WaitSpec::SecondsExpr => {
                let v = self.jfield(frame, st, "Seconds")?.unwrap_or(Value::Null);
                match v.as_i64() {
                    Some(secs) if secs >= 0 => self.now + Duration::seconds(secs.min(MAX_SECONDS)),
                    _ => {
                        return Err(self.query_error(
                            frame,
                            format!(
                                "The JSONata expression specified for the field 'Seconds' returned an unexpected result type. Expected 'integer', but was '{}' for value: {v}",
                                jsonata::type_name(&v)
                            ),
                        ))
                    }
                }
            }
            WaitSpec::TimestampExpr => {
                let v = self.jfield(frame, st, "Timestamp")?.unwrap_or(Value::Null);
                v.as_str().and_then(timestamp::parse).ok_or_else(|| {
                    self.query_error(
                        frame,
                        format!(
                            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {}",
                            display_value(&v)
                        ),
                    )
                })?
            }
            WaitSpec::Seconds(s) => self.now + Duration::seconds(*s),
            WaitSpec::Timestamp(t) => timestamp::parse(t).ok_or_else(|| {
                self.runtime(frame, format!("The Timestamp parameter is not a valid ISO-8601 timestamp: {t}"))
            })?,
            WaitSpec::SecondsPath(p) => {
                let v = self.read_path(frame, p, effective).map_err(|_| {
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
                self.now + Duration::seconds(secs.min(MAX_SECONDS))
            }
            WaitSpec::TimestampPath(p) => {
                let v = self.read_path(frame, p, effective).map_err(|_| {
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
        })
    }
}
