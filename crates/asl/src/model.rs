//! The definition model: every state type and field of the Amazon States Language.
//!
//! A definition is first checked by [`crate::validate`] on its raw JSON (that is where AWS's
//! diagnostics come from); this module then builds a typed, pre-compiled form the stepper runs
//! fast: JSONPaths and payload templates are parsed once, and every state container (the
//! machine, each Parallel branch, each Map processor) is flattened into a [`Scope`] addressed by
//! index, so a frame of an execution names its scope with one integer.

use crate::jsonata::Template as JTemplate;
use crate::jsonpath::Path;
use crate::payload::Template;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A failure to build the model from a definition, naming the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {location}")]
pub struct ModelError {
    /// What is wrong.
    pub message: String,
    /// Where, as `/States/Name/Field`.
    pub location: String,
}

/// The query language of a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    /// JSONPath (the default).
    #[default]
    JsonPath,
    /// JSONata.
    JsonAta,
}

/// A compiled state machine.
#[derive(Debug, Clone)]
pub struct StateMachine {
    /// Every state container; index 0 is the machine itself.
    pub scopes: Vec<Scope>,
    /// Machine-level TimeoutSeconds.
    pub timeout_seconds: Option<u64>,
    /// Machine-level QueryLanguage.
    pub query_language: QueryLanguage,
    /// The definition as given.
    pub definition: Value,
}

/// One container of states: the machine, a Parallel branch or a Map item processor.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The first state.
    pub start_at: usize,
    /// The states, in definition order.
    pub states: Vec<State>,
    /// Name → index into `states`.
    pub index: HashMap<String, usize>,
    /// Where this scope sits, for messages (`/States/P/Branches/0`).
    pub location: String,
}

/// Where a state goes when it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// `Next`: the index of the next state in the same scope.
    Next(usize),
    /// `End: true` (or a terminal state type).
    End,
}

/// An optional path field where JSON `null` has its own meaning (discard / keep input).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PathField {
    /// Absent: the default `$`.
    #[default]
    Default,
    /// Explicit `null`.
    Null,
    /// A path.
    Path(Path),
}

/// A state of the definition.
#[derive(Debug, Clone)]
pub struct State {
    /// The state's name.
    pub name: String,
    /// What it does.
    pub kind: StateKind,
    /// Where it goes next.
    pub transition: Transition,
    /// InputPath.
    pub input_path: PathField,
    /// OutputPath.
    pub output_path: PathField,
    /// ResultPath.
    pub result_path: PathField,
    /// Parameters (Pass, Task, Parallel, Map legacy).
    pub parameters: Option<Template>,
    /// ResultSelector.
    pub result_selector: Option<Template>,
    /// Retry.
    pub retry: Vec<Retrier>,
    /// Catch.
    pub catch: Vec<Catcher>,
    /// Assign: workflow variables set when the state completes.
    pub assign: Option<Assign>,
    /// The state's effective query language.
    pub query_language: QueryLanguage,
    /// JSONata fields (`Arguments`, `Output`, `Items`, and any field given as a `{% %}`
    /// expression), compiled; empty for JSONPath states.
    pub jsonata: HashMap<&'static str, JTemplate>,
}

/// Fields a JSONata state may give as expressions (or, for the first ones, only in JSONata).
pub const JSONATA_FIELDS: &[&str] = &[
    "Arguments",
    "Output",
    "Items",
    "ItemSelector",
    "Error",
    "Cause",
    "Seconds",
    "Timestamp",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];

/// Whether a field value is a JSONata expression string (`{% ... %}`).
fn is_expr(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| crate::jsonata::expression_of(s).is_some())
}

/// The state types and their own fields.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum StateKind {
    Pass { result: Option<Value> },
    Task(Box<TaskSpec>),
    Choice { choices: Vec<ChoiceBranch>, default: Option<usize> },
    Wait(WaitSpec),
    Succeed,
    Fail(FailSpec),
    Parallel { branches: Vec<usize> },
    Map(Box<MapSpec>),
}

impl StateKind {
    /// The prefix of the state's history event types (`Pass`, `Task`, ...).
    pub fn event_prefix(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice { .. } => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail(_) => "Fail",
            StateKind::Parallel { .. } => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

/// An integer field given literally or through a path.
#[derive(Debug, Clone, PartialEq)]
pub enum IntOrPath {
    /// Literal.
    Value(i64),
    /// `...Path`.
    Path(Path),
}

/// A Task state's fields.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Resource ARN.
    pub resource: String,
    /// TimeoutSeconds / TimeoutSecondsPath.
    pub timeout: Option<IntOrPath>,
    /// HeartbeatSeconds / HeartbeatSecondsPath.
    pub heartbeat: Option<IntOrPath>,
    /// Credentials (kept as given; the runtime assumes the role).
    pub credentials: Option<Value>,
}

/// Wait's one duration field.
#[derive(Debug, Clone)]
pub enum WaitSpec {
    /// `Seconds`, literal.
    Seconds(i64),
    /// `Timestamp`, literal (parsed when the state runs, where a bad one is a runtime error).
    Timestamp(String),
    /// `SecondsPath`.
    SecondsPath(Path),
    /// `TimestampPath`.
    TimestampPath(Path),
    /// `Seconds` of a JSONata state: a template in [`State::jsonata`].
    SecondsExpr,
    /// `Timestamp` of a JSONata state: a template in [`State::jsonata`].
    TimestampExpr,
}

/// Fail's fields.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct FailSpec {
    pub error: Option<String>,
    pub cause: Option<String>,
    pub error_path: Option<Template>,
    pub cause_path: Option<Template>,
}

/// A Map state's fields.
#[derive(Debug, Clone)]
pub struct MapSpec {
    /// The item processor's scope.
    pub processor: usize,
    /// ItemsPath.
    pub items_path: PathField,
    /// ItemSelector (or the legacy Parameters).
    pub item_selector: Option<Template>,
    /// MaxConcurrency(Path); 0 = unlimited.
    pub max_concurrency: Option<IntOrPath>,
    /// ToleratedFailureCount(Path).
    pub tolerated_failure_count: Option<IntOrPath>,
    /// ToleratedFailurePercentage(Path).
    pub tolerated_failure_percentage: Option<FloatOrPath>,
    /// DISTRIBUTED processor mode (run inline here, with map-run events).
    pub distributed: bool,
    /// ItemBatcher, as given.
    pub item_batcher: Option<Value>,
    /// Label.
    pub label: Option<String>,
    /// ItemReader, as given (a Distributed Map reading its items from S3).
    pub item_reader: Option<Value>,
    /// ResultWriter, as given.
    pub result_writer: Option<Value>,
    /// `ProcessorConfig.ExecutionType` is `EXPRESS` (a Distributed Map's children).
    pub express_children: bool,
    /// A Distributed Map's item processor as a state machine definition of its own (its
    /// children run it as executions): `StartAt`, `States`, and the query language it inherits.
    pub child_definition: Option<Value>,
}

/// A float field given literally or through a path.
#[derive(Debug, Clone, PartialEq)]
pub enum FloatOrPath {
    /// Literal.
    Value(f64),
    /// `...Path`.
    Path(Path),
}

/// A Retry entry.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter_full: bool,
}

/// A Catch entry.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub result_path: PathField,
    pub next: usize,
    pub assign: Option<Assign>,
    /// JSONata `Output` of the catcher.
    pub output: Option<JTemplate>,
}

/// An `Assign` block.
#[derive(Debug, Clone)]
pub enum Assign {
    /// JSONPath: a payload template (`.$` keys read paths, intrinsics and variables).
    JsonPath(Template),
    /// JSONata: values may be `{% %}` expressions.
    JsonAta(JTemplate),
}

/// A top-level Choice rule with its target.
#[derive(Debug, Clone)]
pub struct ChoiceBranch {
    /// The condition.
    pub rule: crate::choice::Rule,
    /// Index of the target state.
    pub next: usize,
    /// Variables assigned when this rule matches.
    pub assign: Option<Assign>,
    /// JSONata `Output` when this rule matches.
    pub output: Option<JTemplate>,
}

impl StateMachine {
    /// Builds the model from a definition that already passed validation.
    pub fn from_value(definition: &Value) -> Result<StateMachine, ModelError> {
        let obj = definition.as_object().ok_or_else(|| err("the definition must be a JSON object", ""))?;
        let query_language = match obj.get("QueryLanguage").and_then(Value::as_str) {
            Some("JSONata") => QueryLanguage::JsonAta,
            _ => QueryLanguage::JsonPath,
        };
        let mut b = Builder { scopes: Vec::new() };
        b.scope(obj, "", query_language)?;
        Ok(StateMachine {
            scopes: b.scopes,
            timeout_seconds: obj.get("TimeoutSeconds").and_then(Value::as_u64),
            query_language,
            definition: definition.clone(),
        })
    }

    /// The state `idx` of scope `scope`.
    #[inline]
    pub fn state(&self, scope: usize, idx: usize) -> &State {
        &self.scopes[scope].states[idx]
    }
}

fn err(message: impl Into<String>, location: impl Into<String>) -> ModelError {
    let location = location.into();
    ModelError { message: message.into(), location: if location.is_empty() { "/".into() } else { location } }
}

struct Builder {
    scopes: Vec<Scope>,
}

impl Builder {
    fn scope(&mut self, obj: &Map<String, Value>, loc: &str, ql: QueryLanguage) -> Result<usize, ModelError> {
        let id = self.scopes.len();
        self.scopes.push(Scope { start_at: 0, states: Vec::new(), index: HashMap::new(), location: loc.into() });
        let states = obj
            .get("States")
            .and_then(Value::as_object)
            .ok_or_else(|| err("These fields are required: [States]", loc))?;
        let index: HashMap<String, usize> = states.keys().enumerate().map(|(i, k)| (k.clone(), i)).collect();
        let start = obj
            .get("StartAt")
            .and_then(Value::as_str)
            .ok_or_else(|| err("These fields are required: [StartAt]", loc))?;
        let start_at = *index
            .get(start)
            .ok_or_else(|| err(format!("Missing 'Next' target: {start}"), format!("{loc}/StartAt")))?;
        let mut built = Vec::with_capacity(states.len());
        for (name, raw) in states {
            let sloc = format!("{loc}/States/{name}");
            built.push(self.state(name, raw, &index, &sloc, ql)?);
        }
        let s = &mut self.scopes[id];
        s.start_at = start_at;
        s.states = built;
        s.index = index;
        Ok(id)
    }

    fn state(
        &mut self,
        name: &str,
        raw: &Value,
        index: &HashMap<String, usize>,
        loc: &str,
        parent_ql: QueryLanguage,
    ) -> Result<State, ModelError> {
        let o = raw.as_object().ok_or_else(|| err("a state must be a JSON object", loc))?;
        let ql = match o.get("QueryLanguage").and_then(Value::as_str) {
            Some("JSONata") => QueryLanguage::JsonAta,
            Some("JSONPath") => QueryLanguage::JsonPath,
            _ => parent_ql,
        };
        let target = |field: &str, v: Option<&Value>| -> Result<Option<usize>, ModelError> {
            match v {
                None => Ok(None),
                Some(Value::String(t)) => index
                    .get(t)
                    .copied()
                    .map(Some)
                    .ok_or_else(|| err(format!("Missing 'Next' target: {t}"), format!("{loc}/{field}"))),
                Some(_) => Err(err(format!("the field '{field}' must be a string"), format!("{loc}/{field}"))),
            }
        };
        let ty = o.get("Type").and_then(Value::as_str).unwrap_or("");
        let transition = match target("Next", o.get("Next"))? {
            Some(n) => Transition::Next(n),
            None => Transition::End,
        };
        let kind = match ty {
            "Pass" => StateKind::Pass { result: o.get("Result").cloned() },
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail(FailSpec {
                error: o.get("Error").and_then(Value::as_str).map(String::from),
                cause: o.get("Cause").and_then(Value::as_str).map(String::from),
                error_path: opt_template(o.get("ErrorPath"), &format!("{loc}/ErrorPath"))?,
                cause_path: opt_template(o.get("CausePath"), &format!("{loc}/CausePath"))?,
            }),
            "Wait" => StateKind::Wait(wait_spec(o, ql, loc)?),
            "Choice" => {
                let mut choices = Vec::new();
                for (i, c) in o.get("Choices").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let cloc = format!("{loc}/Choices/{i}");
                    let rule = crate::choice::Rule::parse(c, ql).map_err(|m| err(m, &cloc))?;
                    let next = target("Next", c.get("Next"))?
                        .ok_or_else(|| err("These fields are required: [Next]", &cloc))?;
                    let assign = assign_field(c.get("Assign"), ql, &format!("{cloc}/Assign"))?;
                    let output = jtemplate(c.get("Output"), &format!("{cloc}/Output"))?;
                    choices.push(ChoiceBranch { rule, next, assign, output });
                }
                StateKind::Choice { choices, default: target("Default", o.get("Default"))? }
            }
            "Task" => StateKind::Task(Box::new(TaskSpec {
                resource: o.get("Resource").and_then(Value::as_str).unwrap_or_default().to_string(),
                timeout: int_or_path(o, "TimeoutSeconds", loc)?,
                heartbeat: int_or_path(o, "HeartbeatSeconds", loc)?,
                credentials: o.get("Credentials").cloned(),
            })),
            "Parallel" => {
                let mut branches = Vec::new();
                for (i, b) in o.get("Branches").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let bo = b.as_object().ok_or_else(|| err("a branch must be an object", loc))?;
                    branches.push(self.scope(bo, &format!("{loc}/Branches/{i}"), ql)?);
                }
                StateKind::Parallel { branches }
            }
            "Map" => {
                let (pkey, proc_) = match (o.get("ItemProcessor"), o.get("Iterator")) {
                    (Some(p), _) => ("ItemProcessor", p),
                    (None, Some(p)) => ("Iterator", p),
                    _ => return Err(err("These fields are required: [ItemProcessor]", loc)),
                };
                let po = proc_.as_object().ok_or_else(|| err("ItemProcessor must be an object", loc))?;
                let distributed = po.get("ProcessorConfig").and_then(|c| c.get("Mode")).and_then(Value::as_str)
                    == Some("DISTRIBUTED");
                let processor = self.scope(po, &format!("{loc}/{pkey}"), ql)?;
                let express_children =
                    po.get("ProcessorConfig").and_then(|c| c.get("ExecutionType")).and_then(Value::as_str)
                        == Some("EXPRESS");
                let child_definition = distributed.then(|| {
                    let mut d = po.clone();
                    d.remove("ProcessorConfig");
                    if ql == QueryLanguage::JsonAta && !d.contains_key("QueryLanguage") {
                        d.insert("QueryLanguage".into(), "JSONata".into());
                    }
                    Value::Object(d)
                });
                let selector = match (o.get("ItemSelector"), o.get("Parameters")) {
                    (Some(s), _) => Some(template(s, &format!("{loc}/ItemSelector"))?),
                    (None, Some(s)) => Some(template(s, &format!("{loc}/Parameters"))?),
                    _ => None,
                };
                StateKind::Map(Box::new(MapSpec {
                    processor,
                    items_path: path_field(o, "ItemsPath", loc)?,
                    item_selector: selector,
                    max_concurrency: int_or_path(o, "MaxConcurrency", loc)?,
                    tolerated_failure_count: int_or_path(o, "ToleratedFailureCount", loc)?,
                    tolerated_failure_percentage: match (
                        o.get("ToleratedFailurePercentage").filter(|v| !is_expr(Some(v))),
                        o.get("ToleratedFailurePercentagePath"),
                    ) {
                        (Some(v), _) => Some(FloatOrPath::Value(v.as_f64().unwrap_or(0.0))),
                        (None, Some(p)) => {
                            Some(FloatOrPath::Path(path(p, &format!("{loc}/ToleratedFailurePercentagePath"))?))
                        }
                        _ => None,
                    },
                    distributed,
                    item_batcher: o.get("ItemBatcher").cloned(),
                    label: o.get("Label").and_then(Value::as_str).map(String::from),
                    item_reader: o.get("ItemReader").cloned(),
                    result_writer: o.get("ResultWriter").cloned(),
                    express_children,
                    child_definition,
                }))
            }
            other => return Err(err(format!("unknown state type '{other}'"), format!("{loc}/Type"))),
        };
        let parameters = match (&kind, o.get("Parameters")) {
            (StateKind::Map(_), _) => None,
            (_, Some(p)) => Some(template(p, &format!("{loc}/Parameters"))?),
            _ => None,
        };
        let mut retry = Vec::new();
        for (i, r) in o.get("Retry").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let rloc = format!("{loc}/Retry/{i}");
            retry.push(Retrier {
                error_equals: strings(r.get("ErrorEquals")),
                interval_seconds: r.get("IntervalSeconds").and_then(Value::as_f64).unwrap_or(1.0),
                max_attempts: r.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3).min(u32::MAX as u64) as u32,
                backoff_rate: r.get("BackoffRate").and_then(Value::as_f64).unwrap_or(2.0),
                max_delay_seconds: r.get("MaxDelaySeconds").and_then(Value::as_f64),
                jitter_full: r.get("JitterStrategy").and_then(Value::as_str) == Some("FULL"),
            });
            let _ = rloc;
        }
        let mut catch: Vec<Catcher> = Vec::new();
        for (i, c) in o.get("Catch").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let cloc = format!("{loc}/Catch/{i}");
            let co = c.as_object().ok_or_else(|| err("a catcher must be an object", &cloc))?;
            catch.push(Catcher {
                error_equals: strings(c.get("ErrorEquals")),
                result_path: path_field(co, "ResultPath", &cloc)?,
                next: target("Next", c.get("Next"))?.ok_or_else(|| err("These fields are required: [Next]", &cloc))?,
                assign: assign_field(c.get("Assign"), ql, &format!("{cloc}/Assign"))?,
                output: jtemplate(c.get("Output"), &format!("{cloc}/Output"))?,
            });
        }
        Ok(State {
            name: name.to_string(),
            kind,
            transition,
            input_path: path_field(o, "InputPath", loc)?,
            output_path: path_field(o, "OutputPath", loc)?,
            result_path: path_field(o, "ResultPath", loc)?,
            parameters,
            result_selector: match o.get("ResultSelector") {
                Some(p) => Some(template(p, &format!("{loc}/ResultSelector"))?),
                None => None,
            },
            retry,
            catch,
            assign: assign_field(o.get("Assign"), ql, &format!("{loc}/Assign"))?,
            jsonata: if ql == QueryLanguage::JsonAta {
                let mut m = HashMap::new();
                for f in JSONATA_FIELDS {
                    if let Some(t) = jtemplate(o.get(*f), &format!("{loc}/{f}"))? {
                        m.insert(*f, t);
                    }
                }
                m
            } else {
                HashMap::new()
            },
            query_language: ql,
        })
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn path(v: &Value, loc: &str) -> Result<Path, ModelError> {
    let s = v.as_str().ok_or_else(|| err("a path must be a string", loc))?;
    Path::parse(s).map_err(|e| err(e.to_string(), loc))
}

fn path_field(o: &Map<String, Value>, field: &str, loc: &str) -> Result<PathField, ModelError> {
    Ok(match o.get(field) {
        None => PathField::Default,
        Some(Value::Null) => PathField::Null,
        Some(v) => PathField::Path(path(v, &format!("{loc}/{field}"))?),
    })
}

fn int_or_path(o: &Map<String, Value>, field: &str, loc: &str) -> Result<Option<IntOrPath>, ModelError> {
    if is_expr(o.get(field)) {
        return Ok(None); // a JSONata expression, evaluated per execution
    }
    if let Some(v) = o.get(field) {
        let n = v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| err(format!("{field} must be an integer"), format!("{loc}/{field}")))?;
        return Ok(Some(IntOrPath::Value(n)));
    }
    let pf = format!("{field}Path");
    match o.get(&pf) {
        Some(v) => Ok(Some(IntOrPath::Path(path(v, &format!("{loc}/{pf}"))?))),
        None => Ok(None),
    }
}

fn template(v: &Value, loc: &str) -> Result<Template, ModelError> {
    Template::compile(v).map_err(|m| err(m, loc))
}

fn opt_template(v: Option<&Value>, loc: &str) -> Result<Option<Template>, ModelError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Template::compile_expr(s).map(Some).map_err(|m| err(m, loc)),
        Some(_) => Err(err("must be a string", loc)),
    }
}

fn assign_field(v: Option<&Value>, ql: QueryLanguage, loc: &str) -> Result<Option<Assign>, ModelError> {
    match (v, ql) {
        (None, _) => Ok(None),
        (Some(v), QueryLanguage::JsonPath) => Ok(Some(Assign::JsonPath(template(v, loc)?))),
        (Some(v), QueryLanguage::JsonAta) => Ok(Some(Assign::JsonAta(JTemplate::compile(v).map_err(|m| err(m, loc))?))),
    }
}

fn jtemplate(v: Option<&Value>, loc: &str) -> Result<Option<JTemplate>, ModelError> {
    v.map(|v| JTemplate::compile(v).map_err(|m| err(m, loc))).transpose()
}

/// Wait's duration field. In a JSONata state Seconds and Timestamp are JSONata templates (a
/// literal number or string is a template too), evaluated as such.
fn wait_spec(o: &Map<String, Value>, ql: QueryLanguage, loc: &str) -> Result<WaitSpec, ModelError> {
    let jsonata = ql == QueryLanguage::JsonAta;
    Ok(if jsonata && o.contains_key("Seconds") {
        WaitSpec::SecondsExpr
    } else if jsonata && o.contains_key("Timestamp") {
        WaitSpec::TimestampExpr
    } else if let Some(v) = o.get("Seconds") {
        let secs = v.as_i64();
        WaitSpec::Seconds(secs.ok_or_else(|| err("Seconds must be an integer", loc))?)
    } else if let Some(v) = o.get("Timestamp") {
        WaitSpec::Timestamp(v.as_str().unwrap_or_default().to_string())
    } else if let Some(v) = o.get("SecondsPath") {
        WaitSpec::SecondsPath(path(v, &format!("{loc}/SecondsPath"))?)
    } else if let Some(v) = o.get("TimestampPath") {
        WaitSpec::TimestampPath(path(v, &format!("{loc}/TimestampPath"))?)
    } else {
        let fields = "Seconds, Timestamp, SecondsPath or TimestampPath";
        return Err(err(format!("a Wait state needs {fields}"), loc));
    })
}
