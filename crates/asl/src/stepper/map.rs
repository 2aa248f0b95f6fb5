//! Map states: resolve the items (ItemsPath or JSONata Items), batch them (ItemBatcher), build
//! each iteration's input (ItemSelector, with `$$.Map.Item`), read the concurrency and failure
//! tolerance, and start the first iterations; the join ([`super::join`]) starts the rest as
//! earlier ones finish.

use super::context::is_jsonata;
use super::{display_value, Failure, Join, JoinKind, Stepper};
use crate::jsonata::{self, Template as JTemplate};
use crate::jsonpath;
use crate::model::{FloatOrPath, MapSpec, PathField, State};
use crate::payload::Template;
use serde_json::{json, Map, Value};

impl Stepper<'_> {
    pub(super) fn run_map(&mut self, frame: usize, st: &State, spec: &MapSpec) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let items = self.map_items(frame, st, spec, &effective)?;
        let batches = self.batch(frame, spec, &effective, items)?;
        let n = batches.len();
        let max = self.resolve_int(frame, st, &spec.max_concurrency, &effective, "MaxConcurrency")?.unwrap_or(0);
        self.emit(frame, "MapStateStarted", Some(json!({"length": n})));
        let tol_count =
            self.resolve_int(frame, st, &spec.tolerated_failure_count, &effective, "ToleratedFailureCount")?;
        if tol_count.is_some_and(|c| c < 0) {
            return Err(self.runtime(frame, "ToleratedFailureCount cannot be negative."));
        }
        let tol_pct = self.tolerated_percentage(frame, st, spec, &effective)?;
        if tol_pct.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err(self.runtime(frame, "ToleratedFailurePercentage must be between 0 and 100."));
        }
        // Item inputs: ItemSelector (with $$.Map.Item) or the item itself; batched when asked.
        let mut inputs = Vec::with_capacity(n);
        let jselector = st.jsonata.get("ItemSelector");
        for (index, item) in batches.into_iter().enumerate() {
            let map_ctx = || ("Map", json!({"Item": {"Index": index, "Value": item}}));
            let v = match (jselector, &spec.item_selector) {
                (Some(t), _) => {
                    let states = self.states_var(frame, &effective, Some(map_ctx()), &[]);
                    self.jeval(frame, t, "ItemSelector", &states)?
                }
                (None, Some(t)) => self.template(frame, t, &effective, Some(map_ctx()))?,
                (None, None) => item,
            };
            inputs.push(v);
        }
        if spec.distributed {
            // AWS: `mapRun:MACHINE/LABEL:UUID`, the label a UUID when the state sets none (the
            // recordings mask both parts, and never the state's name).
            let label = match &spec.label {
                Some(l) => l.clone(),
                None => crate::uuid::v4(self.env.random(), self.env.random()),
            };
            let arn = format!(
                "{}/{label}:{}",
                self.x.info.state_machine_arn.replacen(":stateMachine:", ":mapRun:", 1),
                crate::uuid::v4(self.env.random(), self.env.random())
            );
            self.emit(frame, "MapRunStarted", Some(json!({"mapRunArn": arn})));
        }
        let kind = JoinKind::Map {
            distributed: spec.distributed,
            tolerated_count: tol_count.map(|c| c as u64),
            tolerated_pct: tol_pct,
        };
        let mut join = Join::new(kind, n);
        join.pending = inputs;
        join.max_concurrency = max.max(0) as usize;
        self.start_iterations(frame, spec.processor, &mut join);
        self.await_children(frame, join);
        Ok(())
    }

    /// The items to iterate over: ItemsPath (or the input), JSONata Items (or the input).
    fn map_items(
        &mut self,
        frame: usize,
        st: &State,
        spec: &MapSpec,
        effective: &Value,
    ) -> Result<Vec<Value>, Failure> {
        let items = if is_jsonata(st) {
            match self.jfield(frame, st, "Items")? {
                Some(Value::Array(a)) => Value::Array(a),
                Some(other) => {
                    let text = match st.jsonata.get("Items") {
                        Some(JTemplate::Expr(e)) => e.text().to_string(),
                        _ => other.to_string(),
                    };
                    return Err(self.query_error(
                        frame,
                        format!(
                            "The JSONata expression '{text}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                            jsonata::type_name(&other)
                        ),
                    ));
                }
                None if effective.is_array() => effective.clone(),
                None => {
                    return Err(
                        self.query_error(frame, format!("Map state input must be an array but was: {effective}"))
                    )
                }
            }
        } else {
            match &spec.items_path {
                PathField::Path(p) => self.path_value(frame, p, effective)?,
                _ => effective.clone(),
            }
        };
        match items {
            Value::Array(items) => Ok(items),
            other => {
                let path = match &spec.items_path {
                    PathField::Path(p) => p.to_string(),
                    _ => "$".into(),
                };
                Err(self.runtime(
                    frame,
                    format!(
                        "Invalid path '{path}': The Map state's items must be an array, but was: {}",
                        display_value(&other)
                    ),
                ))
            }
        }
    }

    /// ToleratedFailurePercentage(Path), or its JSONata form.
    fn tolerated_percentage(
        &mut self,
        frame: usize,
        st: &State,
        spec: &MapSpec,
        effective: &Value,
    ) -> Result<Option<f64>, Failure> {
        let jpct = self.jfield(frame, st, "ToleratedFailurePercentage")?;
        Ok(match &spec.tolerated_failure_percentage {
            None => jpct.as_ref().and_then(Value::as_f64),
            Some(FloatOrPath::Value(v)) => Some(*v),
            Some(FloatOrPath::Path(p)) => {
                let got = self.path_value(frame, p, effective)?;
                match &got {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) if s.trim().parse::<f64>().is_ok() => s.trim().parse::<f64>().ok(),
                    _ => {
                        return Err(self.runtime(
                            frame,
                            format!(
                                "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                                display_value(&got)
                            ),
                        ))
                    }
                }
            }
        })
    }

    /// ItemBatcher: items in batches of MaxItemsPerBatch, each `{"BatchInput"?, "Items"}`.
    fn batch(
        &mut self,
        frame: usize,
        spec: &MapSpec,
        effective: &Value,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, Failure> {
        let Some(b) = &spec.item_batcher else {
            return Ok(items);
        };
        let per = match (b.get("MaxItemsPerBatch"), b.get("MaxItemsPerBatchPath")) {
            (Some(v), _) => v.as_u64(),
            (None, Some(Value::String(p))) => jsonpath::eval(p, effective, &Value::Null).ok().and_then(|v| v.as_u64()),
            _ => None,
        }
        .unwrap_or(u64::MAX)
        .max(1) as usize;
        let batch_input = match b.get("BatchInput") {
            Some(t) => {
                let tpl = Template::compile(t).map_err(|m| self.runtime(frame, m))?;
                Some(self.template(frame, &tpl, effective, None)?)
            }
            None => None,
        };
        Ok(items
            .chunks(per)
            .map(|c| {
                let mut o = Map::new();
                if let Some(bi) = &batch_input {
                    o.insert("BatchInput".into(), bi.clone());
                }
                o.insert("Items".into(), Value::Array(c.to_vec()));
                Value::Object(o)
            })
            .collect())
    }
}
