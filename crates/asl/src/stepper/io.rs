//! The input/output pipeline every state shares, in AWS's order: InputPath, Parameters
//! (JSONata: Arguments), the state's work, ResultSelector, Assign, ResultPath, OutputPath
//! (JSONata: Assign and Output), and the limits on assigned variables.
//!
//! State kinds call these pieces; none of them knows which kind of state it serves.

use super::context::is_jsonata;
use super::{display_value, Failure, Stepper, MAX_PAYLOAD_BYTES};
use crate::jsonata;
use crate::jsonpath::{self, Path, PathError};
use crate::model::{Assign, IntOrPath, PathField, State};
use crate::payload::{eval_path, Template};
use serde_json::{json, Map, Value};

/// Variables an Assign block sets, applied when the state exits.
pub(super) type Assigned = Option<Map<String, Value>>;

impl Stepper<'_> {
    /// Reads a JSONPath (`$`, `$$`, `$var`) of `frame` against `input`.
    pub(super) fn read_path(&mut self, frame: usize, p: &Path, input: &Value) -> Result<Value, PathError> {
        self.with_ctx(frame, None, |ctx, _| eval_path(p, input, ctx))
    }

    /// [`Self::read_path`], failing with AWS's `Invalid path` runtime error.
    pub(super) fn path_value(&mut self, frame: usize, p: &Path, input: &Value) -> Result<Value, Failure> {
        self.read_path(frame, p, input).map_err(|e| self.runtime(frame, format!("Invalid path '{p}' : {e}")))
    }

    /// Evaluates a payload template (Parameters, ResultSelector, ItemSelector, ...) of `frame`
    /// with `$` = `input`; `extra` joins the context object.
    pub(super) fn template(
        &mut self,
        frame: usize,
        t: &Template,
        input: &Value,
        extra: Option<(&str, Value)>,
    ) -> Result<Value, Failure> {
        self.with_ctx(frame, extra, |ctx, rng| t.eval(input, ctx, rng)).map_err(|e| self.eval_err(frame, e))
    }

    /// The state's input after InputPath (JSONata: the raw input).
    pub(super) fn effective_input(&mut self, frame: usize, st: &State) -> Result<Value, Failure> {
        let raw = &self.x.frames[frame].input;
        if is_jsonata(st) {
            return Ok(raw.clone());
        }
        let v = match &st.input_path {
            PathField::Default => raw.clone(),
            PathField::Null => json!({}),
            PathField::Path(p) => {
                let raw = raw.clone();
                self.path_value(frame, p, &raw)?
            }
        };
        self.note("afterInputPath", &v);
        Ok(v)
    }

    /// Parameters (JSONata: Arguments) applied to the effective input; the input itself when
    /// the state has none.
    pub(super) fn parameters(
        &mut self,
        frame: usize,
        st: &State,
        effective: Value,
        extra: Option<(&str, Value)>,
    ) -> Result<Value, Failure> {
        if is_jsonata(st) {
            let v = match st.jsonata.get("Arguments") {
                None => effective,
                Some(t) => {
                    let states = self.states_var(frame, &effective, extra, &[]);
                    self.jeval(frame, t, "Arguments", &states)?
                }
            };
            self.note("afterArguments", &v);
            return Ok(v);
        }
        let v = match &st.parameters {
            None => effective,
            Some(t) => self.template(frame, t, &effective, extra)?,
        };
        self.note("afterParameters", &v);
        Ok(v)
    }

    /// ResultSelector, Assign, ResultPath and OutputPath, in AWS's order (JSONata: Assign and
    /// Output, both seeing `$states.result`).
    pub(super) fn process_result(&mut self, frame: usize, st: &State, result: Value) -> Result<Value, Failure> {
        if is_jsonata(st) {
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
            Some(t) => self.template(frame, t, &result, None)?,
            None => result,
        };
        self.note("afterResultSelector", &result);
        let assigned = self.eval_assign(frame, st.assign.as_ref(), &result)?;
        let raw = &self.x.frames[frame].input;
        let merged = match &st.result_path {
            PathField::Default => result,
            PathField::Null => raw.clone(),
            PathField::Path(p) => {
                let mut target = raw.clone();
                jsonpath::set(&mut target, p, result).map_err(|e| {
                    self.state_error(
                        frame,
                        "States.ResultPathMatchFailure",
                        format!(
                            "Unable to apply ResultPath \"{}\" to input \"{}\": {e}",
                            p,
                            serde_json::to_string(raw).unwrap_or_default()
                        ),
                    )
                })?;
                target
            }
        };
        self.note("afterResultPath", &merged);
        let out = self.output_path(frame, st, merged)?;
        self.pending_assign = assigned;
        Ok(out)
    }

    /// OutputPath (JSONata: Output, with `$states.input` = the raw input).
    pub(super) fn output_path(&mut self, frame: usize, st: &State, v: Value) -> Result<Value, Failure> {
        if is_jsonata(st) {
            return Ok(self.jfield(frame, st, "Output")?.unwrap_or(v));
        }
        match &st.output_path {
            PathField::Default => Ok(v),
            PathField::Null => Ok(json!({})),
            PathField::Path(p) => self.path_value(frame, p, &v),
        }
    }

    /// Evaluates a JSONata Assign block against `$states`.
    pub(super) fn eval_assign_states(
        &mut self,
        frame: usize,
        assign: Option<&Assign>,
        states: &Value,
    ) -> Result<Assigned, Failure> {
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
    pub(super) fn eval_assign(
        &mut self,
        frame: usize,
        assign: Option<&Assign>,
        dollar: &Value,
    ) -> Result<Assigned, Failure> {
        let Some(assign) = assign else {
            return Ok(None);
        };
        let v = match assign {
            Assign::JsonAta(_) => {
                let raw = self.x.frames[frame].input.clone();
                let states = self.states_var(frame, &raw, None, &[]);
                return self.eval_assign_states(frame, Some(assign), &states);
            }
            Assign::JsonPath(t) => self.template(frame, t, dollar, None)?,
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
}

impl Stepper<'_> {
    /// An integer field given literally, through a `...Path`, or (JSONata) as an expression:
    /// TimeoutSeconds, HeartbeatSeconds, MaxConcurrency, ToleratedFailureCount.
    pub(super) fn resolve_int(
        &mut self,
        frame: usize,
        st: &State,
        v: &Option<IntOrPath>,
        input: &Value,
        field: &'static str,
    ) -> Result<Option<i64>, Failure> {
        if let Some(got) = self.jfield(frame, st, field)? {
            return match got.as_f64() {
                Some(f) if f.fract() == 0.0 => Ok(Some(f as i64)),
                _ => Err(self.query_error(
                    frame,
                    format!(
                        "The JSONata expression specified for the field '{field}' returned an unexpected result type. Expected 'integer', but was '{}' for value: {got}",
                        jsonata::type_name(&got)
                    ),
                )),
            };
        }
        match v {
            None => Ok(None),
            Some(IntOrPath::Value(n)) => Ok(Some(*n)),
            Some(IntOrPath::Path(p)) => {
                let got = self.path_value(frame, p, input)?;
                match &got {
                    Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64()),
                    Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                        Ok(n.as_f64().map(|f| f as i64))
                    }
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
}
