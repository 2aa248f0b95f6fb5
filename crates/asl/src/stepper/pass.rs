//! The states that finish in the step that enters them: Pass, Succeed and Fail.

use super::context::is_jsonata;
use super::{display_value, Failure, Stepper};
use crate::model::{FailSpec, State};
use crate::payload::Template;
use serde_json::Value;

impl Stepper<'_> {
    pub(super) fn run_pass(&mut self, frame: usize, st: &State, result: Option<&Value>) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let result = match result {
            Some(r) => {
                self.note("result", r);
                r.clone()
            }
            None => self.parameters(frame, st, effective, None)?,
        };
        let out = self.process_result(frame, st, result)?;
        self.exit_state(frame, out);
        Ok(())
    }

    pub(super) fn run_succeed(&mut self, frame: usize, st: &State) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let out = self.output_path(frame, st, effective)?;
        self.exit_state(frame, out);
        Ok(())
    }

    /// Fails the frame with the state's Error and Cause (literal, `...Path` or JSONata).
    pub(super) fn run_fail(&mut self, frame: usize, st: &State, spec: &FailSpec) -> Result<(), Failure> {
        if is_jsonata(st) {
            let error = self.jfield(frame, st, "Error")?.map(|v| display_value(&v));
            let cause = self.jfield(frame, st, "Cause")?.map(|v| display_value(&v));
            self.frame_failed(frame, Failure::from_parts(error, cause));
            return Ok(());
        }
        let raw = self.x.frames[frame].input.clone();
        let picked = self.with_ctx(frame, None, |ctx, rng| {
            let mut pick = |t: &Option<Template>, lit: &Option<String>, field: &str| match t {
                Some(t) => match t.eval(&raw, ctx, rng) {
                    Ok(Value::String(s)) => Ok(Some(s)),
                    Ok(other) => Ok(Some(other.to_string())),
                    Err(_) => {
                        let path = match t {
                            Template::Path(p) => p.to_string(),
                            _ => String::new(),
                        };
                        Err(format!(
                            "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
                            serde_json::to_string(&raw).unwrap_or_default()
                        ))
                    }
                },
                None => Ok(lit.clone()),
            };
            let error = pick(&spec.error_path, &spec.error, "ErrorPath")?;
            let cause = pick(&spec.cause_path, &spec.cause, "CausePath")?;
            Ok(Failure::from_parts(error, cause))
        });
        let failure = picked.unwrap_or_else(|m: String| self.runtime(frame, m));
        self.frame_failed(frame, failure);
        Ok(())
    }
}
