//! What expressions of a frame read besides their input: the context object (`$$`, or
//! `$states.context` in JSONata), workflow variables (the frame's own, then its ancestors'),
//! and the random source intrinsics and JSONata's `$random` draw from.
//!
//! Every evaluation in the stepper gets these from [`Stepper::with_ctx`] (JSONPath) or
//! [`Stepper::jeval`] (JSONata), so the context object is built the same way everywhere and
//! only when a path asks for it.

use super::{Execution, Failure, Stepper};
use crate::jsonata::{self, Template as JTemplate};
use crate::model::{QueryLanguage, State, StateKind, StateMachine};
use crate::payload::Context;
use crate::timestamp;
use serde_json::{json, Map, Value};

/// Whether the state's fields are JSONata (else JSONPath).
pub(super) fn is_jsonata(st: &State) -> bool {
    st.query_language == QueryLanguage::JsonAta
}

impl Stepper<'_> {
    /// Runs `f` with the evaluation context of `frame`'s current state: the context object
    /// (built on first use, with `extra` added at its top level, e.g. `Map` or `Task`), the
    /// frame's variables, and the random source.
    pub(super) fn with_ctx<R>(
        &mut self,
        frame: usize,
        extra: Option<(&str, Value)>,
        f: impl FnOnce(&Context, &mut dyn FnMut() -> u64) -> R,
    ) -> R {
        let Stepper { x, m, env, .. } = self;
        let (x, m): (&Execution, &StateMachine) = (x, m);
        let make = || context_value(x, m, frame, extra.clone());
        let vars = |n: &str| lookup_var(x, frame, n);
        let ctx = Context::with_vars(&make, &vars);
        f(&ctx, &mut || env.random())
    }

    /// `$states`: the state's input, the context object, and the result or error output.
    pub(super) fn states_var(
        &self,
        frame: usize,
        input: &Value,
        extra: Option<(&str, Value)>,
        more: &[(&str, &Value)],
    ) -> Value {
        let mut m = Map::new();
        m.insert("input".into(), input.clone());
        m.insert("context".into(), context_value(&self.x, self.m, frame, extra));
        for (k, v) in more {
            m.insert((*k).into(), (*v).clone());
        }
        Value::Object(m)
    }

    /// Evaluates a JSONata field of the current state against `$states`.
    pub(super) fn jeval(&mut self, frame: usize, t: &JTemplate, field: &str, states: &Value) -> Result<Value, Failure> {
        let Stepper { x, env, .. } = self;
        let x: &Execution = x;
        let vars = |n: &str| lookup_var(x, frame, n);
        let scope = jsonata::Scope { states, variables: &vars };
        let r = t.eval(&scope, field, &mut || env.random());
        r.map_err(|e| self.eval_err(frame, e))
    }

    /// A JSONata field of the state, if given, evaluated with `$states.input` = the raw input.
    pub(super) fn jfield(&mut self, frame: usize, st: &State, field: &'static str) -> Result<Option<Value>, Failure> {
        let Some(t) = st.jsonata.get(field) else {
            return Ok(None);
        };
        let raw = self.x.frames[frame].input.clone();
        let states = self.states_var(frame, &raw, None, &[]);
        self.jeval(frame, t, field, &states).map(Some)
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
    if let Some(given) = x.probe.as_ref().and_then(|p| p.context.as_ref()) {
        // TestState with a `context`: `$$` is exactly what the caller gave.
        return given.clone();
    }
    let f = &x.frames[frame];
    let st = m.state(f.scope, f.state);
    let mut state = Map::new();
    state.insert("EnteredTime".into(), timestamp::format(&f.entered_time).into());
    // TestState (a probe) names the state it tests "StateName" whatever its name, shows
    // RetryCount for the states with Retry (Task, Map, Parallel: the attempts it was told were
    // used), and a null RoleArn when it was given none (as recorded against AWS).
    let probe = x.probe.as_deref();
    let name = match probe {
        Some(_) if f.parent.is_none() => crate::test_state::LONE_STATE.to_string(),
        _ => st.name.clone(),
    };
    state.insert("Name".into(), name.into());
    match probe {
        Some(p) if matches!(st.kind, StateKind::Task(_) | StateKind::Map(_) | StateKind::Parallel { .. }) => {
            state.insert("RetryCount".into(), p.retry_count.unwrap_or(0).into());
        }
        Some(_) => {}
        None if matches!(st.kind, StateKind::Task(_)) => {
            state.insert("RetryCount".into(), f.retries.iter().sum::<u32>().into());
        }
        None => {}
    }
    let role: Value = match probe {
        Some(_) if x.info.role_arn.is_empty() => Value::Null,
        _ => x.info.role_arn.clone().into(),
    };
    let mut ctx = json!({
        "Execution": {
            "Id": x.info.execution_arn,
            "Input": x.input,
            "Name": x.info.name,
            "RoleArn": role,
            "StartTime": timestamp::format(&x.start_time),
            "RedriveCount": x.redrive_count,
        },
        "State": state,
        // Started on a version or an alias: the version's ARN (as LocalStack; AWS does not say).
        "StateMachine": {
            "Id": x.info.version_arn.as_deref().unwrap_or(&x.info.state_machine_arn),
            "Name": x.info.state_machine_name,
        },
    });
    if let (Some(t), Some(e)) = (x.redrive_time, ctx.get_mut("Execution").and_then(Value::as_object_mut)) {
        e.insert("RedriveTime".into(), timestamp::format(&t).into());
    }
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
