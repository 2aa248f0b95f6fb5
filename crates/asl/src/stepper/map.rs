//! Map states: resolve the items (ItemsPath or JSONata Items), batch them (ItemBatcher), build
//! each iteration's input (ItemSelector, with `$$.Map.Item`), read the concurrency and failure
//! tolerance, and start the first iterations; the join ([`super::join`]) starts the rest as
//! earlier ones finish.

use super::context::is_jsonata;
use super::{display_value, Failure, Join, JoinKind, MapRunWait, Phase, Stepper, TaskOutcome};
use crate::history::state_event;
use crate::jsonata::{self, Template as JTemplate};
use crate::model::StateKind;
use crate::model::{FloatOrPath, MapSpec, PathField, State};

/// A whole number given as a number or a numeric string (AWS accepts `"2"` from a variable).
fn whole_number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}
use crate::payload::Template;
use serde_json::{json, Map, Value};

impl Stepper<'_> {
    pub(super) fn run_map(&mut self, frame: usize, st: &State, spec: &MapSpec) -> Result<(), Failure> {
        if self.x.mocks.as_ref().is_some_and(|m| m.mocks(&st.name)) {
            return self.mocked_map(frame, st, spec);
        }
        let effective = self.effective_input(frame, st)?;
        if spec.distributed && spec.item_reader.is_some() {
            self.read_items(frame, st, spec, &effective);
            return Ok(());
        }
        let items = self.map_items(frame, st, spec, &effective)?;
        self.launch_map(frame, st, spec, &effective, items, None)
    }

    /// A mocked Map (the TestState API): its items, concurrency and tolerance are resolved and
    /// noted, the iterations do not run, and the mocked response is the state's result (or
    /// error). Iterations the TestState request says failed count against the tolerance.
    fn mocked_map(&mut self, frame: usize, st: &State, spec: &MapSpec) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let given = self.x.probe.as_ref().and_then(|p| p.reader_data.clone());
        let items = match given {
            Some(Value::Array(items)) => items,
            Some(other) => vec![other],
            None if spec.item_reader.is_some() => Vec::new(),
            None => self.map_items(frame, st, spec, &effective)?,
        };
        let n = items.len();
        if !is_jsonata(st) {
            self.note("afterItemsPath", &Value::Array(items.clone()));
            if let Some(t) = &spec.item_selector {
                let mut selected = Vec::with_capacity(n);
                for (index, item) in items.iter().enumerate() {
                    let map_ctx = ("Map", json!({"Item": {"Index": index, "Value": item}}));
                    selected.push(self.template(frame, t, &effective, Some(map_ctx))?);
                }
                self.note("afterItemSelector", &Value::Array(selected));
            }
            if spec.item_batcher.is_some() {
                let batches = self.batch(frame, st, spec, &effective, items)?;
                self.note("afterItemBatcher", &Value::Array(batches));
            }
        }
        self.note("itemCount", &json!(n));
        let max = self.resolve_int(frame, st, &spec.max_concurrency, &effective, "MaxConcurrency")?.unwrap_or(0);
        self.note("maxConcurrency", &json!(max));
        let tol_count =
            self.resolve_int(frame, st, &spec.tolerated_failure_count, &effective, "ToleratedFailureCount")?;
        if let Some(c) = tol_count {
            self.note("toleratedFailureCount", &json!(c));
        }
        let tol_pct = self.tolerated_percentage(frame, st, spec, &effective)?;
        if let Some(p) = tol_pct {
            self.note("toleratedFailurePercentage", &json!(p));
        }
        let outcome = self.x.mocks.as_mut().and_then(|m| m.next_call(&st.name));
        let result = match outcome {
            Some(crate::mock::MockOutcome::Return(v)) => v,
            Some(crate::mock::MockOutcome::Throw { error, cause }) => {
                return Err(Failure::from_parts(Some(error), cause));
            }
            None => Value::Array(Vec::new()),
        };
        let failed = self.x.probe.as_ref().and_then(|p| p.map_failures).unwrap_or(0);
        let over_count = tol_count.is_some_and(|c| failed as i64 > c);
        let over_pct = tol_pct.is_some_and(|p| n > 0 && failed as f64 * 100.0 / n as f64 > p);
        if over_count || over_pct {
            return Err(Failure::new(
                "States.ExceedToleratedFailureThreshold",
                "The specified tolerated failure threshold was exceeded",
            ));
        }
        let out = self.process_result(frame, st, result)?;
        self.exit_state(frame, out);
        Ok(())
    }

    /// Batches the items, builds each child's input, and starts them: as frames of this
    /// execution (inline Map, or a Distributed Map where the runtime has no child executions),
    /// or as a Map Run. `run` is the Map Run already recorded (items read by an ItemReader).
    fn launch_map(
        &mut self,
        frame: usize,
        st: &State,
        spec: &MapSpec,
        effective: &Value,
        items: Vec<Value>,
        run: Option<String>,
    ) -> Result<(), Failure> {
        let item_count = items.len();
        let batches = self.batch(frame, st, spec, effective, items)?;
        let n = batches.len();
        let max = self.resolve_int(frame, st, &spec.max_concurrency, effective, "MaxConcurrency")?.unwrap_or(0);
        if run.is_none() {
            self.emit(frame, "MapStateStarted", Some(json!({"length": n})));
        }
        let tol_count =
            self.resolve_int(frame, st, &spec.tolerated_failure_count, effective, "ToleratedFailureCount")?;
        if tol_count.is_some_and(|c| c < 0) {
            return Err(self.runtime(frame, "ToleratedFailureCount cannot be negative."));
        }
        let tol_pct = self.tolerated_percentage(frame, st, spec, effective)?;
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
                    let states = self.states_var(frame, effective, Some(map_ctx()), &[]);
                    self.jeval(frame, t, "ItemSelector", &states)?
                }
                (None, Some(t)) => self.template(frame, t, effective, Some(map_ctx()))?,
                (None, None) => item,
            };
            inputs.push(v);
        }
        if spec.distributed {
            let arn = match run {
                Some(arn) => arn,
                None => {
                    let arn = self.map_run_arn(spec);
                    self.emit(frame, "MapRunStarted", Some(json!({"mapRunArn": arn})));
                    arn
                }
            };
            if self.env.child_executions() {
                let writer = self.result_writer(frame, st, spec, effective)?;
                let task = self.next_seq();
                let x = &self.x;
                let machine_arn = x.info.state_machine_arn.clone();
                // `mapRun:MACHINE/LABEL:ID` -> the children's machine `stateMachine:MACHINE/LABEL`.
                let label_part = arn.rsplit_once(':').map(|(head, _)| head).unwrap_or(&arn);
                let state_machine_arn = label_part.replacen(":mapRun:", ":stateMachine:", 1);
                let run = crate::map_run::MapRun {
                    arn: arn.clone(),
                    execution_arn: x.info.execution_arn.clone(),
                    parent_machine_arn: machine_arn,
                    frame,
                    task,
                    state_name: st.name.clone(),
                    state_machine_arn,
                    express: spec.express_children,
                    status: crate::map_run::RunStatus::Running,
                    start_date: self.now,
                    stop_date: None,
                    max_concurrency: max.max(0) as u64,
                    tolerated_count: tol_count.map(|c| c as u64),
                    tolerated_pct: tol_pct,
                    total: n as u64,
                    items: item_count as u64,
                    next: 0,
                    ended_below: 0,
                    ended: Vec::new(),
                    counts: Default::default(),
                    writer,
                    output_transformation: spec
                        .result_writer
                        .as_ref()
                        .filter(|w| w.get("Resource").is_none())
                        .and_then(|w| w.pointer("/WriterConfig/Transformation"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    outcome: None,
                    results_written: 0,
                    mocks: x.mocks.as_deref().map(crate::mock::ExecutionMocks::fresh),
                };
                let definition = spec.child_definition.clone().unwrap_or(Value::Null);
                self.effects.push(super::Effect::StartMapRun(Box::new(super::MapRunStart { run, inputs, definition })));
                self.x.frames[frame].phase = Phase::MapRun(Box::new(MapRunWait { task, run: arn, reading: false }));
                return Ok(());
            }
        }
        let kind = JoinKind::Map {
            distributed: spec.distributed,
            tolerated_count: tol_count.map(|c| c as u64),
            tolerated_pct: tol_pct,
        };
        let previous = self.x.frames[frame].redrive_join.take();
        let mut join = Join::resumed(kind, n, previous.as_deref());
        join.pending = inputs;
        join.max_concurrency = max.max(0) as usize;
        self.start_iterations(frame, spec.processor, &mut join);
        self.await_children(frame, join);
        Ok(())
    }

    /// AWS: `mapRun:MACHINE/LABEL:UUID`, the label a UUID when the state sets none (the
    /// recordings mask both parts, and never the state's name).
    fn map_run_arn(&mut self, spec: &MapSpec) -> String {
        let label = match &spec.label {
            Some(l) => l.clone(),
            None => crate::uuid::v4(self.env.random(), self.env.random()),
        };
        format!(
            "{}/{label}:{}",
            self.x.info.state_machine_arn.replacen(":stateMachine:", ":mapRun:", 1),
            crate::uuid::v4(self.env.random(), self.env.random())
        )
    }

    /// A Distributed Map with an ItemReader: records the Map Run (AWS records it before
    /// reading, so a read that fails fails the run) and asks the runtime for the items.
    fn read_items(&mut self, frame: usize, st: &State, spec: &MapSpec, effective: &Value) {
        self.emit(frame, "MapStateStarted", Some(json!({"length": 0})));
        let arn = self.map_run_arn(spec);
        self.emit(frame, "MapRunStarted", Some(json!({"mapRunArn": arn})));
        let task = self.next_seq();
        let manifest = spec.item_reader.as_ref().and_then(|r| r.pointer("/ReaderConfig/InputType"))
            == Some(&Value::String("MANIFEST".into()));
        match self.reader_call(frame, st, spec, effective) {
            Ok(call) => {
                self.x.frames[frame].phase = Phase::MapRun(Box::new(MapRunWait { task, run: arn, reading: true }));
                self.effects.push(super::Effect::ReadItems { frame, task, call: Box::new(call), manifest });
            }
            Err(f) => self.map_run_failed(frame, f),
        }
    }

    /// The S3 call of the state's ItemReader (`Parameters` or JSONata `Arguments` resolved).
    fn reader_call(
        &mut self,
        frame: usize,
        st: &State,
        spec: &MapSpec,
        effective: &Value,
    ) -> Result<crate::integrations::aws::AwsCall, Failure> {
        let reader = spec.item_reader.clone().unwrap_or(Value::Null);
        let resource = reader.get("Resource").and_then(Value::as_str).unwrap_or_default().to_string();
        let params = self.resolve_payload(frame, st, &reader, effective, "ItemReader")?;
        crate::item_reader::read_call(&resource, &params).map_err(|m| self.runtime(frame, m))
    }

    /// `Parameters` (JSONPath) or `Arguments` (JSONata) of an ItemReader or ResultWriter.
    fn resolve_payload(
        &mut self,
        frame: usize,
        st: &State,
        field: &Value,
        effective: &Value,
        name: &str,
    ) -> Result<Value, Failure> {
        if is_jsonata(st) {
            let Some(args) = field.get("Arguments") else { return Ok(json!({})) };
            let t = JTemplate::compile(args).map_err(|m| self.runtime(frame, m))?;
            let states = self.states_var(frame, effective, None, &[]);
            self.jeval(frame, &t, &format!("{name}.Arguments"), &states)
        } else {
            let Some(params) = field.get("Parameters") else { return Ok(json!({})) };
            let t = Template::compile(params).map_err(|m| self.runtime(frame, m))?;
            self.template(frame, &t, effective, None)
        }
    }

    /// `ReaderConfig` with its `MaxItems` (literal, `MaxItemsPath`, or JSONata) resolved.
    fn reader_config(
        &mut self,
        frame: usize,
        st: &State,
        spec: &MapSpec,
        effective: &Value,
    ) -> Result<(crate::item_reader::ReaderConfig, Option<usize>), Failure> {
        let failed = |cause: String| Failure::new("States.ItemReaderFailed", cause);
        let config = spec.item_reader.as_ref().and_then(|r| r.get("ReaderConfig")).cloned();
        let parsed = crate::item_reader::ReaderConfig::parse(config.as_ref()).map_err(failed)?;
        let max = match config.as_ref().map(|c| (c.get("MaxItems"), c.get("MaxItemsPath"))) {
            Some((Some(Value::String(s)), _)) if is_jsonata(st) => {
                let t = JTemplate::compile(&Value::String(s.clone())).map_err(|m| self.runtime(frame, m))?;
                let states = self.states_var(frame, effective, None, &[]);
                Some(self.jeval(frame, &t, "MaxItems", &states)?)
            }
            Some((Some(v), _)) => Some(v.clone()),
            Some((None, Some(Value::String(p)))) => {
                let path = crate::jsonpath::Path::parse(p).map_err(|e| self.runtime(frame, e.to_string()))?;
                Some(self.path_value(frame, &path, effective)?)
            }
            _ => None,
        };
        let max = match max {
            None => None,
            Some(v) => match whole_number(&v) {
                Some(n) => Some(n),
                None => return Err(failed(format!("field MaxItems must be a number, but was: {}", display_value(&v)))),
            },
        };
        let limit = crate::item_reader::max_items(max).map_err(failed)?;
        Ok((parsed, limit))
    }

    /// The ItemReader's answer: the items, then the Map Run's children.
    pub(super) fn items_read(&mut self, frame: usize, task: u64, reply: crate::integrations::aws::AwsReply) {
        let arn = match self.x.frames.get(frame).map(|f| &f.phase) {
            Some(Phase::MapRun(w)) if w.task == task && w.reading => w.run.clone(),
            _ => return,
        };
        let st = self.state(frame);
        let StateKind::Map(spec) = &st.kind else { return };
        self.x.frames[frame].phase = Phase::Ready;
        let r = (|| {
            let effective = self.effective_input(frame, st)?;
            let call = self.reader_call(frame, st, spec, &effective)?;
            let (config, limit) = self.reader_config(frame, st, spec, &effective)?;
            let items = crate::item_reader::items_of_reply(&call, reply, &config, limit)
                .map_err(|(e, c)| Failure::new(&e, c))?;
            self.launch_map(frame, st, spec, &effective, items, Some(arn))
        })();
        if let Err(f) = r {
            self.map_run_failed(frame, f);
        }
    }

    /// `ResultWriter`: where the Map Run writes its results (none: the state's output).
    fn result_writer(
        &mut self,
        frame: usize,
        st: &State,
        spec: &MapSpec,
        effective: &Value,
    ) -> Result<Option<crate::map_run::Writer>, Failure> {
        let Some(w) = spec.result_writer.clone() else { return Ok(None) };
        if w.get("Resource").is_none() {
            // WriterConfig alone shapes the output without writing to S3 (the run's
            // `output_transformation`).
            return Ok(None);
        }
        let params = self.resolve_payload(frame, st, &w, effective, "ResultWriter")?;
        crate::map_run::writer(&params, w.get("WriterConfig"))
            .map(Some)
            .map_err(|m| Failure::new("States.ResultWriterFailed", m))
    }

    /// The Map Run's outcome, reported by the runtime.
    pub(super) fn map_run_ended(&mut self, frame: usize, task: u64, outcome: TaskOutcome) {
        match self.x.frames.get(frame).map(|f| &f.phase) {
            Some(Phase::MapRun(w)) if w.task == task && !w.reading => {}
            _ => return,
        }
        self.x.frames[frame].phase = Phase::Ready;
        let st = self.state(frame);
        match outcome {
            TaskOutcome::Succeeded(result) => {
                // As the inline join records it: MapStateSucceeded and MapStateExited follow
                // MapRunSucceeded (most recordings; docs/conformance.md lists those that differ).
                self.emit(frame, "MapRunSucceeded", None);
                self.emit_side(frame, state_event(st.kind.event_prefix(), "Succeeded"), None);
                match self.process_result(frame, st, result) {
                    Ok(out) => self.exit_state(frame, out),
                    Err(f) => self.state_failed(frame, f),
                }
            }
            TaskOutcome::Failed { error, cause } => self.map_run_failed(frame, Failure::from_parts(error, cause)),
            _ => {}
        }
    }

    /// The Map Run failed (or the read of its items): `MapRunFailed`, then the state fails.
    fn map_run_failed(&mut self, frame: usize, failure: Failure) {
        self.x.frames[frame].phase = Phase::Ready;
        self.emit(frame, "MapRunFailed", Some(failure.details()));
        self.emit_state_failed(frame, &failure);
        self.handle_error(frame, failure);
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
                if self.x.probe.is_some() {
                    // TestState words it as AWS's TestState does (a `$$` path shown as `$`).
                    let shown = path.strip_prefix('$').filter(|r| r.starts_with('$')).unwrap_or(&path);
                    return Err(Failure::new(
                        "States.Runtime",
                        format!("Reference path \"{shown}\" must point to array."),
                    ));
                }
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

    /// ItemBatcher: items in batches of at most MaxItemsPerBatch items and MaxInputBytesPerBatch
    /// bytes (each given literally, by a path, or as JSONata), each `{"BatchInput"?, "Items"}`.
    fn batch(
        &mut self,
        frame: usize,
        st: &State,
        spec: &MapSpec,
        effective: &Value,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, Failure> {
        let Some(b) = spec.item_batcher.clone() else {
            return Ok(items);
        };
        let per = self.batcher_limit(frame, st, &b, "MaxItemsPerBatch", effective)?;
        let bytes = self.batcher_limit(frame, st, &b, "MaxInputBytesPerBatch", effective)?;
        let batch_input = match b.get("BatchInput") {
            Some(t) if is_jsonata(st) => {
                let t = JTemplate::compile(t).map_err(|m| self.runtime(frame, m))?;
                let states = self.states_var(frame, effective, None, &[]);
                Some(self.jeval(frame, &t, "BatchInput", &states)?)
            }
            Some(t) => {
                let tpl = Template::compile(t).map_err(|m| self.runtime(frame, m))?;
                Some(self.template(frame, &tpl, effective, None)?)
            }
            None => None,
        };
        let per = per.unwrap_or(u64::MAX).max(1) as usize;
        let bytes = bytes.unwrap_or(u64::MAX);
        let wrap = |items: Vec<Value>| {
            let mut o = Map::new();
            if let Some(bi) = &batch_input {
                o.insert("BatchInput".into(), bi.clone());
            }
            o.insert("Items".into(), Value::Array(items));
            Value::Object(o)
        };
        let mut batches = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut size = 0u64;
        for item in items {
            let len = serde_json::to_vec(&item).map(|v| v.len() as u64 + 1).unwrap_or(0);
            if !current.is_empty() && (current.len() >= per || size + len > bytes) {
                batches.push(wrap(std::mem::take(&mut current)));
                size = 0;
            }
            size += len;
            current.push(item);
        }
        if !current.is_empty() {
            batches.push(wrap(current));
        }
        Ok(batches)
    }

    /// One ItemBatcher limit: `FIELD` (a number, or JSONata) or `FIELDPath`.
    fn batcher_limit(
        &mut self,
        frame: usize,
        st: &State,
        b: &Value,
        field: &'static str,
        effective: &Value,
    ) -> Result<Option<u64>, Failure> {
        let got = match (b.get(field), b.get(format!("{field}Path").as_str())) {
            (Some(Value::String(s)), _) if is_jsonata(st) => {
                let t = JTemplate::compile(&Value::String(s.clone())).map_err(|m| self.runtime(frame, m))?;
                let states = self.states_var(frame, effective, None, &[]);
                self.jeval(frame, &t, field, &states)?
            }
            (Some(v), _) => v.clone(),
            (None, Some(Value::String(p))) => {
                let path = crate::jsonpath::Path::parse(p).map_err(|e| self.runtime(frame, e.to_string()))?;
                self.path_value(frame, &path, effective)?
            }
            _ => return Ok(None),
        };
        match whole_number(&got) {
            Some(n) if n >= 0 => Ok(Some(n as u64)),
            _ => Err(self.runtime(
                frame,
                format!("The {field} field must be a positive integer, but was: {}", display_value(&got)),
            )),
        }
    }
}
