//! JSONata expressions as AWS Step Functions evaluates them (`"QueryLanguage": "JSONata"`).
//!
//! Built on the `jsonata-core` engine, with Step Functions' dialect on top:
//!
//! - the reserved variable `$states` (`input`, `result`, `errorOutput`, `context`) and the
//!   workflow variables (`$name`), bound as JSONata variables;
//! - the six functions Step Functions adds: `$partition`, `$range`, `$hash`, `$random` (with an
//!   optional seed, drawn like `java.util.Random`), `$uuid` and `$parse`; `$eval` is disabled;
//! - AWS's number rules: a whole number that fits in a 64-bit integer comes back as an integer,
//!   anything larger as a double, and a non-finite result as the string JavaScript names it by
//!   (`"Infinity"`, `"-Infinity"`, `"NaN"`);
//! - AWS's error texts (`States.QueryEvaluationError` with the expression and field named), and
//!   jsonata-js's wording of the engine's messages (which AWS reports verbatim);
//! - AWS's evaluation bounds: 100 levels of nesting, a bounded sequence size and a time limit.
//!
//! Evaluation is replayable: randomness (`$random()`, `$uuid()`) comes only from the caller's
//! `rng`, and `$now()`/`$millis()` read the state's entered time from `$states.context` when it
//! is there.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use jsonata_core::ast::{AstNode, PathStep, Stage};
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::value::{JArray, JValue};
use serde_json::{Map, Number, Value};

use crate::payload::EvalError;

/// The ASL error every failed JSONata evaluation raises.
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// The field a `States.QueryEvaluationError` cause names (`Items`, `Output/result`, the Wait
/// state's `Timestamp`): `EvaluationFailed`'s `location`. Read back from the cause, which this
/// module and the states word with the field in it, so one text carries both; `None` when the
/// error is not about a field (a Map whose input is not an array).
pub fn error_location(cause: &str) -> Option<&str> {
    const FIELD: &str = "specified for the field '";
    if let Some(at) = cause.find(FIELD) {
        let rest = &cause[at + FIELD.len()..];
        return rest.find('\'').map(|end| &rest[..end]);
    }
    cause.contains("The Timestamp field cannot be parsed").then_some("Timestamp")
}

/// What [`eval_expr`] returns as its error when the expression produced something JSON cannot
/// hold (a function, a regular expression). [`field_error`] turns it into AWS's cause.
pub const UNSUPPORTED_RESULT: &str = "returned an unsupported result type.";

/// How deep an evaluation may nest: AWS accepts depth 100 and refuses 101.
const MAX_DEPTH: usize = 100;
/// The longest sequence an evaluation may build (AWS's memory bound, counted in elements: it
/// accepts `[1..873782]` and refuses one element more).
const MAX_SEQUENCE: usize = 873_782;
/// Wall-clock bound on one evaluation, so that a runaway (tail-recursive) expression ends.
const TIMEOUT_MS: u64 = 5_000;
/// The magnitude below which a whole double is written as an integer (2^63).
const I64_BOUND: f64 = 9.223372036854776e18;
/// AWS's bare message (no JSONata code) for an evaluation that exceeds its memory bound.
const MEMORY_LIMIT: &str = "Expression evaluation memory limit exceeded";
/// The deepest result an expression may return (the JSON writers' usual bound), so that a value
/// built by iteration (`$reduce`) cannot exhaust the stack of whoever walks it next.
const MAX_NESTING: usize = 1000;
/// The (bare) message for a result nested deeper than [`MAX_NESTING`].
const NESTING_LIMIT: &str = "The result is nested more than 1000 levels deep";
/// The longest string an evaluation may build (AWS accepts 2^22 characters, refuses 2^23).
const MAX_STRING: f64 = 6_990_256.0;
/// The host function that checks `$pad`'s width (see `rewrite_calls`).
const PAD_GUARD: &str = "__padWidth";

/// A parsed JSONata expression (parse once at definition load, evaluate many times).
#[derive(Clone)]
pub struct Expr {
    inner: Arc<Compiled>,
}

struct Compiled {
    /// The expression text (inside `{% %}`, trimmed), as AWS quotes it in causes.
    text: String,
    ast: AstNode,
    /// `$states.a.b` / `$var.a.b` with plain steps: evaluated directly on the JSON, which keeps
    /// numbers exact and avoids converting the payload.
    simple: Option<SimplePath>,
    /// Whether the expression mentions `$states` at all.
    uses_states: bool,
    /// The members of `$states` the expression reads, when it only reads `$states.<name>...`;
    /// `None` when it uses `$states` some other way (then all of it is bound).
    states_keys: Option<Vec<String>>,
    /// Every other `$name` the expression mentions (workflow variables are bound from these).
    variables: Vec<String>,
    /// Step Functions functions (and overrides) the expression uses.
    uses: Uses,
    /// Names of the engine's built-in functions the expression calls (to name the function in
    /// an error message that the engine leaves unnamed).
    builtin_calls: Vec<String>,
}

#[derive(Default, Clone, Copy)]
struct Uses {
    partition: bool,
    range: bool,
    hash: bool,
    random: bool,
    uuid: bool,
    parse: bool,
    eval: bool,
    millis: bool,
    pad_guard: bool,
}

struct SimplePath {
    root: String,
    keys: Vec<String>,
}

// A compiled definition is shared across threads.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Expr>();
    shareable::<Template>();
};

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.inner.text).finish()
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.inner.text == other.inner.text
    }
}

impl Expr {
    /// Parses an expression (the text inside `{% %}`). The error is the JSONata parser's
    /// message (`S0201: Syntax error: ...`).
    pub fn compile(text: &str) -> Result<Expr, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("S0207: Unexpected end of expression".to_string());
        }
        let parsed = std::panic::catch_unwind(|| jsonata_core::parser::parse(text))
            .map_err(|_| "S0201: Syntax error".to_string())?;
        let mut ast = parsed.map_err(|e| parse_message(&e.to_string()))?;
        rewrite_calls(&mut ast);
        let mut facts = Facts::default();
        walk(&ast, &mut facts);
        let simple = simple_path(&ast);
        let uses_states = facts.states_refs > 0;
        let states_keys = if facts.states_refs == facts.states_keys.len() {
            let mut keys = facts.states_keys;
            keys.sort();
            keys.dedup();
            Some(keys)
        } else {
            None
        };
        let mut variables: Vec<String> =
            facts.variables.into_iter().filter(|v| v != "states" && !v.is_empty()).collect();
        variables.sort();
        variables.dedup();
        let mut builtin_calls = facts.builtin_calls;
        builtin_calls.sort();
        builtin_calls.dedup();
        Ok(Expr {
            inner: Arc::new(Compiled {
                text: text.to_string(),
                ast,
                simple,
                uses_states,
                states_keys,
                variables,
                uses: facts.uses,
                builtin_calls,
            }),
        })
    }

    /// The expression text, as AWS quotes it in error causes.
    pub fn text(&self) -> &str {
        &self.inner.text
    }
}

/// Whether `s` is a JSONata expression string: it begins with `{%` and ends with `%}`,
/// exactly. AWS's documented syntax is `"{% <JSONata expression> %}"`, and AWS runs a string
/// with spaces around it (`" {% x %} "`, recorded in the conformance corpus) as a literal.
/// Validation ([`crate::validate`]) and evaluation ([`Template::compile`]) both decide by this.
pub fn is_expression(s: &str) -> bool {
    s.len() >= 4 && s.starts_with("{%") && s.ends_with("%}")
}

/// Whether `s` opens a JSONata expression (begins with `{%`): validation rejects one that
/// does so without being an expression ("JSONata string must start with {% and end with %}").
pub fn opens_expression(s: &str) -> bool {
    s.starts_with("{%")
}

/// If `s` is a JSONata template string `"{% expr %}"` ([`is_expression`]) return the inner
/// expression text (trimmed); `" {% x %} "` is a literal.
pub fn expression_of(s: &str) -> Option<&str> {
    if is_expression(s) {
        Some(s[2..s.len() - 2].trim())
    } else {
        None
    }
}

/// A field value in a JSONata state (Arguments, Output, Assign values, Items, ItemSelector,
/// Error, Cause, Seconds, ...): strings of the form `"{% ... %}"` are expressions, everything
/// else is literal; objects and arrays nest.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value with no expression in it.
    Literal(Value),
    /// `"{% expr %}"`.
    Expr(Expr),
    /// An object with at least one expression inside, in key order.
    Object(Vec<(String, Template)>),
    /// An array with at least one expression inside.
    Array(Vec<Template>),
}

impl Template {
    /// Compiles a field value; the error is the first expression's parse error.
    pub fn compile(v: &Value) -> Result<Template, String> {
        Ok(match v {
            Value::String(s) => match expression_of(s) {
                Some(text) => Template::Expr(Expr::compile(text)?),
                None => Template::Literal(v.clone()),
            },
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                for (k, x) in m {
                    fields.push((k.clone(), Template::compile(x)?));
                }
                if fields.iter().all(|(_, t)| matches!(t, Template::Literal(_))) {
                    Template::Literal(v.clone())
                } else {
                    Template::Object(fields)
                }
            }
            Value::Array(a) => {
                let items = a.iter().map(Template::compile).collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(v.clone())
                } else {
                    Template::Array(items)
                }
            }
            _ => Template::Literal(v.clone()),
        })
    }

    /// Whether the template holds no expression.
    pub fn is_literal(&self) -> bool {
        matches!(self, Template::Literal(_))
    }

    /// Evaluates the template. `field` names the field for error messages (e.g. "Output",
    /// "Arguments", "Items"); nested keys extend it AWS's way (`Output/FunctionResult`,
    /// `Items[1]`). Any expression that returns nothing fails the state, at any depth.
    pub fn eval(&self, scope: &Scope, field: &str, rng: &mut dyn FnMut() -> u64) -> Result<Value, EvalError> {
        let mut cache = Cache::default();
        self.eval_in(scope, field, rng, &mut cache)
    }

    fn eval_in(
        &self,
        scope: &Scope,
        field: &str,
        rng: &mut dyn FnMut() -> u64,
        cache: &mut Cache,
    ) -> Result<Value, EvalError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Expr(e) => match eval_cached(e, scope, rng, cache) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(undefined_error(e, field)),
                Err(msg) => Err(field_error(e, field, &msg)),
            },
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    let v = t.eval_in(scope, &format!("{field}/{k}"), rng, cache)?;
                    m.insert(k.clone(), v);
                }
                Ok(Value::Object(m))
            }
            Template::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, t) in items.iter().enumerate() {
                    out.push(t.eval_in(scope, &format!("{field}[{i}]"), rng, cache)?);
                }
                Ok(Value::Array(out))
            }
        }
    }
}

/// What an expression can see: `$states` = `{"input", "result"?, "errorOutput"?, "context"}`
/// and the workflow variables `$name`.
pub struct Scope<'a> {
    /// The value bound to `$states`.
    pub states: &'a Value,
    /// Looks up a workflow variable by name (without `$`).
    pub variables: &'a dyn Fn(&str) -> Option<Value>,
}

/// Evaluates one expression; `Ok(None)` = undefined. The error is the JSONata message as AWS
/// reports it (`T1006: Attempted to invoke a non-function`), or [`UNSUPPORTED_RESULT`] when the
/// result is not JSON (a function). [`field_error`] builds AWS's cause from it.
pub fn eval_expr(expr: &Expr, scope: &Scope, rng: &mut dyn FnMut() -> u64) -> Result<Option<Value>, String> {
    eval_cached(expr, scope, rng, &mut Cache::default())
}

/// Evaluates one expression held by `field`, failing as AWS does when it returns nothing,
/// something JSON cannot hold, or throws.
pub fn eval_field(expr: &Expr, scope: &Scope, field: &str, rng: &mut dyn FnMut() -> u64) -> Result<Value, EvalError> {
    match eval_expr(expr, scope, rng) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(undefined_error(expr, field)),
        Err(msg) => Err(field_error(expr, field, &msg)),
    }
}

/// AWS's error for an expression in `field` that returned nothing.
pub fn undefined_error(expr: &Expr, field: &str) -> EvalError {
    EvalError {
        error: QUERY_EVALUATION_ERROR.to_string(),
        cause: format!(
            "The JSONata expression '{}' specified for the field '{}' returned nothing (undefined).",
            expr.text(),
            field
        ),
    }
}

/// AWS's error for an expression in `field` whose evaluation failed with `message` (an error
/// from [`eval_expr`]).
pub fn field_error(expr: &Expr, field: &str, message: &str) -> EvalError {
    let head = format!("The JSONata expression '{}' specified for the field '{}'", expr.text(), field);
    let cause = if message == UNSUPPORTED_RESULT {
        format!("{head} {UNSUPPORTED_RESULT}")
    } else if jsonata_core::evaluator::error_code_prefix(message).is_some() {
        format!("{head} threw an error during evaluation. {message}")
    } else {
        format!("{head} threw an error during evaluation: {message}")
    };
    EvalError { error: QUERY_EVALUATION_ERROR.to_string(), cause }
}

/// AWS's error for an expression in `field` whose value has the wrong JSON type, e.g. Items:
/// "... returned an unexpected result type. Expected 'array', but was 'number' for value: 1".
pub fn unexpected_type_error(expr: &Expr, field: &str, expected: &str, value: &Value) -> EvalError {
    EvalError {
        error: QUERY_EVALUATION_ERROR.to_string(),
        cause: format!(
            "The JSONata expression '{}' specified for the field '{}' returned an unexpected result type. Expected '{}', but was '{}' for value: {}",
            expr.text(),
            field,
            expected,
            type_name(value),
            serde_json::to_string(value).unwrap_or_default()
        ),
    }
}

/// AWS's name for a JSON type in messages ("array", "number", "string", "boolean", "object",
/// "null").
pub use crate::value_type::name as type_name;

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Conversions of `$states` members and variables, shared by the expressions of one template.
#[derive(Default)]
struct Cache {
    states_all: Option<JValue>,
    states_keys: HashMap<String, JValue>,
    variables: HashMap<String, Option<JValue>>,
    variable_json: HashMap<String, Option<Value>>,
}

impl Cache {
    fn variable_json(&mut self, scope: &Scope, name: &str) -> Option<&Value> {
        if !self.variable_json.contains_key(name) {
            let v = (scope.variables)(name);
            self.variable_json.insert(name.to_string(), v);
        }
        self.variable_json.get(name).and_then(|v| v.as_ref())
    }

    fn variable(&mut self, scope: &Scope, name: &str) -> Option<JValue> {
        if let Some(v) = self.variables.get(name) {
            return v.clone();
        }
        let j = self.variable_json(scope, name).map(to_jvalue);
        self.variables.insert(name.to_string(), j.clone());
        j
    }

    fn states(&mut self, scope: &Scope, keys: Option<&[String]>) -> JValue {
        let Some(keys) = keys else {
            return self.states_all.get_or_insert_with(|| to_jvalue(scope.states)).clone();
        };
        if let Some(all) = &self.states_all {
            return all.clone();
        }
        let Value::Object(m) = scope.states else {
            return to_jvalue(scope.states);
        };
        let mut entries = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(v) = m.get(k) {
                let j = self.states_keys.entry(k.clone()).or_insert_with(|| to_jvalue(v)).clone();
                entries.push((k.clone(), j));
            }
        }
        JValue::object(entries.into_iter().collect())
    }
}

fn eval_cached(
    expr: &Expr,
    scope: &Scope,
    rng: &mut dyn FnMut() -> u64,
    cache: &mut Cache,
) -> Result<Option<Value>, String> {
    let c = &*expr.inner;
    if let Some(p) = &c.simple {
        if let Some(r) = eval_simple(p, scope, cache) {
            return Ok(r);
        }
    }
    let mut ctx = Context::new();
    for name in &c.variables {
        if let Some(v) = cache.variable(scope, name) {
            ctx.bind(name.clone(), v);
        }
    }
    if c.uses_states {
        ctx.bind("states".to_string(), cache.states(scope, c.states_keys.as_deref()));
    }
    let options = EvaluatorOptions {
        timeout_ms: Some(TIMEOUT_MS),
        max_stack_depth: Some(MAX_DEPTH),
        max_sequence_length: Some(MAX_SEQUENCE),
        ..Default::default()
    };
    let mut ev = Evaluator::with_options(ctx, options);
    register_functions(&mut ev, c.uses, scope, rng)?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ev.evaluate(&c.ast, &JValue::Undefined)));
    match outcome {
        Err(_) => Err("The JSONata engine failed on this expression".to_string()),
        Ok(Err(e)) => Err(aws_message(&e, &c.builtin_calls)),
        Ok(Ok(v)) => to_json_top(&v),
    }
}

/// `$root.k1.k2...` straight on the JSON. `None` = not decidable here (an array on the way, an
/// unknown root): the engine decides.
fn eval_simple(p: &SimplePath, scope: &Scope, cache: &mut Cache) -> Option<Option<Value>> {
    let root: &Value = if p.root == "states" { scope.states } else { cache.variable_json(scope, &p.root)? };
    let mut cur = root;
    for k in &p.keys {
        match cur {
            Value::Object(m) => match m.get(k) {
                Some(v) => cur = v,
                None => return Some(None),
            },
            Value::Array(_) => return None,
            _ => return Some(None),
        }
    }
    Some(Some(normalize_numbers(cur)))
}

/// AWS's number rules on a JSON value that bypassed the engine: a whole double that fits in a
/// 64-bit integer becomes that integer, an integer beyond `i64` becomes a double.
fn normalize_numbers(v: &Value) -> Value {
    match v {
        Value::Number(n) => {
            if n.is_i64() {
                v.clone()
            } else if let Some(u) = n.as_u64() {
                number(u as f64)
            } else {
                number(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(normalize_numbers).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), normalize_numbers(x))).collect()),
        _ => v.clone(),
    }
}

fn number(n: f64) -> Value {
    if n.is_nan() {
        return Value::String("NaN".to_string());
    }
    if n.is_infinite() {
        return Value::String(if n > 0.0 { "Infinity" } else { "-Infinity" }.to_string());
    }
    if n.fract() == 0.0 && n.abs() < I64_BOUND {
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
}

fn to_jvalue(v: &Value) -> JValue {
    match v {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(a) => {
            let flat = !a.iter().any(Value::is_array);
            JValue::Array(JArray::new_flat(a.iter().map(to_jvalue).collect(), flat))
        }
        Value::Object(m) => JValue::object(m.iter().map(|(k, x)| (k.clone(), to_jvalue(x))).collect()),
    }
}

/// The evaluation result as JSON: `None` for undefined (an empty sequence included), a
/// one-item sequence unwrapped.
fn to_json_top(v: &JValue) -> Result<Option<Value>, String> {
    if let JValue::Array(a) = v {
        if a.sequence && !a.keep_singleton {
            match a.len() {
                0 => return Ok(None),
                1 => return to_json_top(&a[0]),
                _ => {}
            }
        }
    }
    to_json(v, 0)
}

fn to_json(v: &JValue, depth: usize) -> Result<Option<Value>, String> {
    if depth > MAX_NESTING {
        return Err(NESTING_LIMIT.to_string());
    }
    Ok(Some(match v {
        JValue::Undefined => return Ok(None),
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for x in a.iter() {
                if let Some(j) = to_json(x, depth + 1)? {
                    out.push(j);
                }
            }
            Value::Array(out)
        }
        JValue::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, x) in m.iter() {
                if let Some(j) = to_json(x, depth + 1)? {
                    out.insert(k.clone(), j);
                }
            }
            Value::Object(out)
        }
        _ => return Err(UNSUPPORTED_RESULT.to_string()),
    }))
}

// ---------------------------------------------------------------------------------------------
// Compile-time analysis

#[derive(Default)]
struct Facts {
    states_refs: usize,
    states_keys: Vec<String>,
    variables: Vec<String>,
    uses: Uses,
    builtin_calls: Vec<String>,
}

fn note_name(facts: &mut Facts, name: &str) {
    match name {
        "partition" => facts.uses.partition = true,
        "range" => facts.uses.range = true,
        "hash" => facts.uses.hash = true,
        "random" => facts.uses.random = true,
        "uuid" => facts.uses.uuid = true,
        "parse" => facts.uses.parse = true,
        "eval" => facts.uses.eval = true,
        "millis" => facts.uses.millis = true,
        PAD_GUARD => facts.uses.pad_guard = true,
        _ => {}
    }
}

fn is_step_functions_name(name: &str) -> bool {
    matches!(name, "partition" | "range" | "hash" | "random" | "uuid" | "parse" | "eval" | "millis" | PAD_GUARD)
}

fn plain_step(s: &PathStep) -> bool {
    s.stages.is_empty()
        && s.focus.is_none()
        && s.index_var.is_none()
        && s.ancestor_label.is_none()
        && !s.is_tuple
        && !s.inner_tuple
}

fn simple_path(ast: &AstNode) -> Option<SimplePath> {
    match ast {
        AstNode::Variable(v) if !v.is_empty() => Some(SimplePath { root: v.clone(), keys: Vec::new() }),
        AstNode::Path { steps } => {
            let first = steps.first()?;
            let AstNode::Variable(root) = &first.node else { return None };
            if root.is_empty() || !steps.iter().all(plain_step) {
                return None;
            }
            let mut keys = Vec::with_capacity(steps.len() - 1);
            for s in &steps[1..] {
                let AstNode::Name(k) = &s.node else { return None };
                keys.push(k.clone());
            }
            Some(SimplePath { root: root.clone(), keys })
        }
        _ => None,
    }
}

fn walk_steps(steps: &[PathStep], facts: &mut Facts) {
    if let [first, second, ..] = steps {
        if matches!(&first.node, AstNode::Variable(v) if v == "states")
            && first.stages.is_empty()
            && first.focus.is_none()
            && first.index_var.is_none()
        {
            if let AstNode::Name(k) = &second.node {
                facts.states_keys.push(k.clone());
            }
        }
    }
    for s in steps {
        walk(&s.node, facts);
        for st in &s.stages {
            match st {
                Stage::Filter(e) => walk(e, facts),
                Stage::KeepArray | Stage::Index(_) => {}
            }
        }
    }
}

/// Collects the facts the evaluator needs. The match is exhaustive on purpose: a new node kind
/// in the engine must be looked at here (a missed `$states` would bind too little of it).
fn walk(node: &AstNode, facts: &mut Facts) {
    match node {
        AstNode::String(_)
        | AstNode::Name(_)
        | AstNode::Number(_)
        | AstNode::Boolean(_)
        | AstNode::Null
        | AstNode::Undefined
        | AstNode::Placeholder
        | AstNode::Regex { .. }
        | AstNode::ParentVariable(_)
        | AstNode::Wildcard
        | AstNode::Descendant
        | AstNode::Parent(_) => {}
        AstNode::Variable(v) => {
            if v == "states" {
                facts.states_refs += 1;
            }
            note_name(facts, v);
            facts.variables.push(v.clone());
        }
        AstNode::Path { steps } => walk_steps(steps, facts),
        AstNode::Binary { lhs, rhs, .. } => {
            walk(lhs, facts);
            walk(rhs, facts);
        }
        AstNode::Unary { operand, .. } => walk(operand, facts),
        AstNode::Function { name, args, is_builtin } => {
            note_name(facts, name);
            // A call `$f(...)` may call a workflow variable's value (never a function) or a
            // local binding; either way the name must be looked up.
            facts.variables.push(name.clone());
            if *is_builtin && !is_step_functions_name(name) {
                facts.builtin_calls.push(name.clone());
            }
            for a in args {
                walk(a, facts);
            }
        }
        AstNode::Call { procedure, args } => {
            walk(procedure, facts);
            for a in args {
                walk(a, facts);
            }
        }
        AstNode::Lambda { body, .. } => walk(body, facts),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            for i in items {
                walk(i, facts);
            }
        }
        AstNode::Object(pairs) => {
            for (k, v) in pairs {
                walk(k, facts);
                walk(v, facts);
            }
        }
        AstNode::ObjectTransform { input, pattern } => {
            walk(input, facts);
            for (k, v) in pattern {
                walk(k, facts);
                walk(v, facts);
            }
        }
        AstNode::Conditional { condition, then_branch, else_branch } => {
            walk(condition, facts);
            walk(then_branch, facts);
            if let Some(e) = else_branch {
                walk(e, facts);
            }
        }
        AstNode::FunctionApplication(e) => walk(e, facts),
        AstNode::Sort { input, terms } => {
            walk(input, facts);
            for (t, _) in terms {
                walk(t, facts);
            }
        }
        AstNode::Transform { location, update, delete } => {
            walk(location, facts);
            walk(update, facts);
            if let Some(d) = delete {
                walk(d, facts);
            }
        }
    }
}

/// Two rewrites of built-in calls:
/// - `$now(args...)` is jsonata-js's `$fromMillis($millis(), args...)`: rewritten so, `$now`
///   reads the same (replayable) clock as `$millis`, and accepts its picture and timezone;
/// - `$pad(s, width, ...)` gets its width checked first (`$__padWidth(width)`), so that a
///   huge width fails on AWS's memory bound instead of building the string.
fn rewrite_calls(node: &mut AstNode) {
    match node {
        AstNode::Function { name, args, is_builtin: true } if name == "now" => {
            let mut new_args = Vec::with_capacity(args.len() + 1);
            new_args.push(AstNode::Function { name: "millis".to_string(), args: Vec::new(), is_builtin: true });
            new_args.append(args);
            *name = "fromMillis".to_string();
            *args = new_args;
            for a in args.iter_mut().skip(1) {
                rewrite_calls(a);
            }
        }
        AstNode::Function { name, args, is_builtin: true } if name == "pad" && args.len() >= 2 => {
            args.iter_mut().for_each(rewrite_calls);
            let width = std::mem::replace(&mut args[1], AstNode::Null);
            args[1] = AstNode::Function { name: PAD_GUARD.to_string(), args: vec![width], is_builtin: true };
        }
        AstNode::Function { args, .. } => args.iter_mut().for_each(rewrite_calls),
        AstNode::Path { steps } => {
            for s in steps {
                rewrite_calls(&mut s.node);
                for st in &mut s.stages {
                    if let Stage::Filter(e) = st {
                        rewrite_calls(e);
                    }
                }
            }
        }
        AstNode::Binary { lhs, rhs, .. } => {
            rewrite_calls(lhs);
            rewrite_calls(rhs);
        }
        AstNode::Unary { operand, .. } => rewrite_calls(operand),
        AstNode::Call { procedure, args } => {
            rewrite_calls(procedure);
            args.iter_mut().for_each(rewrite_calls);
        }
        AstNode::Lambda { body, .. } => rewrite_calls(body),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            items.iter_mut().for_each(rewrite_calls);
        }
        AstNode::Object(pairs) => {
            for (k, v) in pairs {
                rewrite_calls(k);
                rewrite_calls(v);
            }
        }
        AstNode::ObjectTransform { input, pattern } => {
            rewrite_calls(input);
            for (k, v) in pattern {
                rewrite_calls(k);
                rewrite_calls(v);
            }
        }
        AstNode::Conditional { condition, then_branch, else_branch } => {
            rewrite_calls(condition);
            rewrite_calls(then_branch);
            if let Some(e) = else_branch {
                rewrite_calls(e);
            }
        }
        AstNode::FunctionApplication(e) => rewrite_calls(e),
        AstNode::Sort { input, terms } => {
            rewrite_calls(input);
            for (t, _) in terms {
                rewrite_calls(t);
            }
        }
        AstNode::Transform { location, update, delete } => {
            rewrite_calls(location);
            rewrite_calls(update);
            if let Some(d) = delete {
                rewrite_calls(d);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Step Functions' functions

fn sig_error(function: &str, argument: usize) -> EvaluatorError {
    EvaluatorError::TypeError(format!(
        "T0410: Argument {argument} of function \"{function}\" does not match function signature"
    ))
}

fn d3137(message: &str) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!("D3137: {message}"))
}

/// The argument in slot `i`, `None` when absent or undefined.
fn arg(args: &[JValue], i: usize) -> Option<&JValue> {
    args.get(i).filter(|v| !v.is_undefined())
}

/// AWS rejects a call with more arguments than the function takes, naming the first surplus.
fn no_surplus(args: &[JValue], function: &str, allowed: usize) -> Result<(), EvaluatorError> {
    if arg(args, allowed).is_some() {
        return Err(sig_error(function, allowed + 1));
    }
    Ok(())
}

/// A numeric argument rounded towards zero, as AWS does (`-1.7` is `-1`).
fn integer_arg(v: Option<&JValue>, function: &str, argument: usize) -> Result<i64, EvaluatorError> {
    match v {
        Some(JValue::Number(n)) if n.is_finite() => Ok(n.trunc() as i64),
        _ => Err(sig_error(function, argument)),
    }
}

fn register_functions(
    ev: &mut Evaluator,
    uses: Uses,
    scope: &Scope,
    rng: &mut dyn FnMut() -> u64,
) -> Result<(), String> {
    let reg = |r: Result<(), EvaluatorError>| r.map_err(|e| e.message().to_string());
    if uses.partition {
        reg(ev.register_fn("partition", fn_partition))?;
    }
    if uses.range {
        reg(ev.register_fn("range", fn_range))?;
    }
    if uses.hash {
        reg(ev.register_fn("hash", fn_hash))?;
    }
    if uses.parse {
        reg(ev.register_fn("parse", fn_parse))?;
    }
    if uses.eval {
        reg(ev.register_fn_override("eval", |_: &[JValue]| {
            Err(EvaluatorError::ReferenceError("T1006: Attempted to invoke a non-function".to_string()))
        }))?;
    }
    if uses.random || uses.uuid {
        // One draw from the caller's generator seeds this evaluation's stream.
        let state = Rc::new(Cell::new(rng()));
        if uses.random {
            let s = Rc::clone(&state);
            reg(ev.register_fn_override("random", move |args: &[JValue]| fn_random(args, &s)))?;
        }
        if uses.uuid {
            let s = Rc::clone(&state);
            reg(ev.register_fn("uuid", move |args: &[JValue]| fn_uuid(args, &s)))?;
        }
    }
    if uses.pad_guard {
        reg(ev.register_fn(PAD_GUARD, |args: &[JValue]| match args.first() {
            Some(JValue::Number(w)) if w.abs() > MAX_STRING => {
                Err(EvaluatorError::EvaluationError(MEMORY_LIMIT.to_string()))
            }
            Some(v) => Ok(v.clone()),
            None => Ok(JValue::Undefined),
        }))?;
    }
    if uses.millis {
        if let Some(ms) = clock_millis(scope.states) {
            reg(ev.register_fn_override("millis", move |args: &[JValue]| {
                no_surplus(args, "millis", 0)?;
                Ok(JValue::Number(ms as f64))
            }))?;
        }
    }
    Ok(())
}

/// The replayable clock behind `$millis()`/`$now()`: the state's entered time from
/// `$states.context` (else the execution's start time).
fn clock_millis(states: &Value) -> Option<i64> {
    let ctx = states.get("context")?;
    let t = ctx.pointer("/State/EnteredTime").or_else(|| ctx.pointer("/Execution/StartTime"))?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp_millis())
}

/// `$partition(array, size)`: chunks of `size`, the last one holding the rest.
fn fn_partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    no_surplus(args, "partition", 2)?;
    let Some(array) = arg(args, 0) else { return Ok(JValue::Undefined) };
    let JValue::Array(items) = array else {
        return Err(EvaluatorError::TypeError(
            "T0412: Argument 1 of function \"partition\" must be an array of undefined".to_string(),
        ));
    };
    if items.is_empty() {
        return Ok(JValue::Undefined);
    }
    let Some(size) = arg(args, 1) else {
        return Ok(JValue::array(vec![JValue::array(items.to_vec())]));
    };
    let size = integer_arg(Some(size), "partition", 2)?;
    if size < 0 {
        return Err(d3137("Second argument must be zero or greater"));
    }
    if size == 0 {
        return Ok(JValue::Undefined);
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(JValue::array(items.chunks(size).map(|c| JValue::array(c.to_vec())).collect()))
}

/// `$range(start, end, step)`: `start`, `start+step`, ... up to `end` inclusive; one element is
/// returned bare, a step that never reaches `end` is undefined.
fn fn_range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    no_surplus(args, "range", 3)?;
    let start = integer_arg(arg(args, 0), "range", 1)?;
    let end = integer_arg(arg(args, 1), "range", 2)?;
    let Some(step) = arg(args, 2) else { return Ok(JValue::Undefined) };
    let step = integer_arg(Some(step), "range", 3)?;
    if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
        return Ok(JValue::Undefined);
    }
    let count = (i128::from(end) - i128::from(start)) / i128::from(step) + 1;
    if count > MAX_SEQUENCE as i128 {
        return Err(EvaluatorError::EvaluationError(MEMORY_LIMIT.to_string()));
    }
    if count == 1 {
        return Ok(JValue::Number(start as f64));
    }
    let values = (0..count).map(|i| JValue::Number((i128::from(start) + i * i128::from(step)) as f64)).collect();
    Ok(JValue::array(values))
}

/// `$hash(value, algorithm)`: the lower-case hex digest of the UTF-8 string.
fn fn_hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    use sha2::Digest;
    no_surplus(args, "hash", 2)?;
    let Some(JValue::String(data)) = arg(args, 0) else { return Err(sig_error("hash", 1)) };
    let Some(algorithm) = arg(args, 1) else { return Ok(JValue::Undefined) };
    let JValue::String(algorithm) = algorithm else { return Err(sig_error("hash", 2)) };
    let bytes = data.as_bytes();
    let digest: Vec<u8> = match &**algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
        "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
        "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
        "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
        other => {
            return Err(d3137(&format!(
                "Hash algorithm '{other}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
            )));
        }
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(JValue::string(hex))
}

/// `$parse(json)`: the JSON value of a string; AWS's parser refuses trailing data and repeated
/// keys.
fn fn_parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    no_surplus(args, "parse", 1)?;
    let Some(text) = arg(args, 0) else { return Ok(JValue::Undefined) };
    let JValue::String(text) = text else { return Err(sig_error("parse", 1)) };
    let parsed: StrictJson = serde_json::from_str(text).map_err(|_| d3137("Invalid JSON"))?;
    Ok(to_jvalue(&parsed.0))
}

/// `$random()` / `$random(seed)`: a number in [0, 1); seeded, the first `nextDouble()` of a
/// `java.util.Random` (what AWS returns), else the next draw of this evaluation's stream.
fn fn_random(args: &[JValue], state: &Cell<u64>) -> Result<JValue, EvaluatorError> {
    no_surplus(args, "random", 1)?;
    match arg(args, 0) {
        None => Ok(JValue::Number((splitmix64(state) >> 11) as f64 / (1u64 << 53) as f64)),
        Some(seed) => Ok(JValue::Number(java_random_double(integer_arg(Some(seed), "random", 1)?))),
    }
}

/// `$uuid()`: a version 4 UUID.
fn fn_uuid(args: &[JValue], state: &Cell<u64>) -> Result<JValue, EvaluatorError> {
    no_surplus(args, "uuid", 0)?;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&splitmix64(state).to_be_bytes());
    bytes[8..].copy_from_slice(&splitmix64(state).to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(JValue::string(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])))
}

fn splitmix64(state: &Cell<u64>) -> u64 {
    let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    state.set(s);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `new java.util.Random(seed).nextDouble()`.
fn java_random_double(seed: i64) -> f64 {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;
    let mut s = (seed ^ MULTIPLIER) & MASK;
    let mut next = |bits: u32| -> i64 {
        s = (s.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        i64::from((s >> (48 - bits)) as i32)
    };
    let hi = next(26);
    let lo = next(27);
    ((hi << 27) + lo) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A JSON document parsed strictly: a repeated key in an object is an error.
struct StrictJson(Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictJson(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictJson(v) = map.next_value()?;
            if out.insert(key, v).is_some() {
                return Err(serde::de::Error::custom("duplicate key"));
            }
        }
        Ok(Value::Object(out))
    }
}

// ---------------------------------------------------------------------------------------------
// Messages

fn parse_message(m: &str) -> String {
    m.strip_prefix("Invalid syntax: ").unwrap_or(m).to_string()
}

/// The engine's message in jsonata-js's words, which is what AWS reports: the function and
/// operator named in quotes, the type of an array's items in the plural.
fn aws_message(e: &EvaluatorError, builtin_calls: &[String]) -> String {
    let m = e.message();
    let Some(code) = jsonata_core::evaluator::error_code_prefix(m) else { return m.to_string() };
    let rest = m[6..].trim_start();
    let only_call = match builtin_calls {
        [one] => Some(one.as_str()),
        _ => None,
    };
    match code {
        "T1006" if rest.starts_with("Attempted to invoke a non-function") => {
            "T1006: Attempted to invoke a non-function".to_string()
        }
        "T2001" | "T2002" => {
            for (side, code) in [("left", "T2001"), ("right", "T2002")] {
                let head = format!("The {side} side of the ");
                if let Some(op) =
                    rest.strip_prefix(&head).and_then(|r| r.strip_suffix(" operator must evaluate to a number"))
                {
                    let op = op.trim_matches('"');
                    return format!("{code}: The {side} side of the \"{op}\" operator must evaluate to a number");
                }
            }
            m.to_string()
        }
        "T0410" => t0410(rest, only_call).unwrap_or_else(|| m.to_string()),
        "T0412" => t0412(rest, only_call).unwrap_or_else(|| m.to_string()),
        "D3030" => match rest.strip_prefix("Cannot convert '").and_then(|r| r.strip_suffix("' to number")) {
            Some(v) => format!("D3030: Unable to cast value to a number: {}", Value::String(v.to_string())),
            None => m.to_string(),
        },
        "D3100" => match rest.strip_prefix("Radix must be between 2 and 36, got ") {
            Some(v) => {
                format!("D3100: The radix of the formatBase function must be between 2 and 36.  It was given {v}")
            }
            None => m.to_string(),
        },
        _ => match fixed_message(code) {
            Some(text) => format!("{code}: {text}"),
            None => m.to_string(),
        },
    }
}

/// jsonata-js's text for the codes whose message has no value in it.
fn fixed_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "T1008" => "Attempted to partially apply a non-function",
        "T2003" => "The left side of the range operator (..) must evaluate to an integer",
        "T2004" => "The right side of the range operator (..) must evaluate to an integer",
        "T2006" => "The right side of the function application operator ~> must be a function",
        "T2008" => "The expressions within an order-by clause must evaluate to numeric or string values",
        "D1004" => "Regular expression matches zero length string",
        "D3001" => "Attempting to invoke string function on Infinity or NaN",
        "D3010" => "Second argument of replace function cannot be an empty string",
        "D3011" => "Fourth argument of replace function must evaluate to a positive number",
        "D3012" => "Attempted to replace a matched string with a non-string value",
        "D3020" => "Third argument of split function must evaluate to a positive number",
        "D3040" => "Third argument of match function must evaluate to a positive number",
        "D3050" => "The second argument of reduce function must be a function with at least two arguments",
        "D3070" => "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function",
        "D3080" => "The picture string must only contain a maximum of two sub-pictures",
        "D3081" => "The sub-picture must not contain more than one instance of the \"decimal-separator\" character",
        "D3082" => "The sub-picture must not contain more than one instance of the \"percent\" character",
        "D3083" => "The sub-picture must not contain more than one instance of the \"per-mille\" character",
        "D3084" => "The sub-picture must not contain both a \"percent\" and a \"per-mille\" character",
        "D3085" => "The mantissa part of a sub-picture must contain at least one character that is either an \"optional digit character\" or a member of the \"decimal digit family\"",
        "D3086" => "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character",
        "D3087" => "The sub-picture must not contain a \"grouping-separator\" character that appears adjacent to a \"decimal-separator\" character",
        "D3088" => "The sub-picture must not contain a \"grouping-separator\" at the end of the integer part",
        "D3089" => "The sub-picture must not contain two adjacent instances of the \"grouping-separator\" character",
        "D3090" => "The integer part of the sub-picture must not contain a member of the \"decimal digit family\" that is followed by an instance of the \"optional digit character\"",
        "D3091" => "The fractional part of the sub-picture must not contain an instance of the \"optional digit character\" that is followed by a member of the \"decimal digit family\"",
        "D3092" => "A sub-picture that contains a \"percent\" or \"per-mille\" character must not contain a character treated as an \"exponent-separator\"",
        "D3093" => "The exponent part of the sub-picture must comprise only of one or more characters that are members of the \"decimal digit family\"",
        "D3131" => "In a decimal digit pattern, all digits must be from the same decimal group",
        "D3134" => "The timezone integer format specifier cannot have more than four digits",
        "D3135" => "No matching closing bracket \"]\" in date/time picture string",
        "D3136" => "The date/time picture string is missing specifiers required to parse the timestamp",
        "D3138" => "The $single() function expected exactly 1 matching result.  Instead it matched more.",
        "D3139" => "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
        _ => return None,
    })
}

/// The most arguments a built-in function takes (jsonata-js signatures), to name the first
/// surplus argument of an over-long call.
fn max_arity(name: &str) -> Option<usize> {
    Some(match name {
        "random" | "millis" => 0,
        "length" | "uppercase" | "lowercase" | "trim" | "base64encode" | "base64decode" | "encodeUrlComponent"
        | "encodeUrl" | "decodeUrlComponent" | "decodeUrl" | "number" | "abs" | "floor" | "ceil" | "sqrt" | "sum"
        | "max" | "min" | "average" | "boolean" | "not" | "exists" | "count" | "reverse" | "shuffle" | "distinct"
        | "keys" | "spread" | "merge" | "error" | "type" => 1,
        "string" | "substringBefore" | "substringAfter" | "contains" | "join" | "eval" | "round" | "power"
        | "formatBase" | "formatInteger" | "parseInteger" | "append" | "sort" | "lookup" | "sift" | "each"
        | "assert" | "now" | "toMillis" | "map" | "filter" | "single" => 2,
        "substring" | "pad" | "split" | "match" | "formatNumber" | "fromMillis" | "reduce" => 3,
        "replace" => 4,
        _ => return None,
    })
}

/// Splits "Argument N[ of function NAME]<tail>" into (N, NAME?, tail).
fn argument_head(rest: &str) -> Option<(usize, Option<String>, &str)> {
    let r = rest.strip_prefix("Argument ")?;
    let digits = r.bytes().take_while(u8::is_ascii_digit).count();
    let index: usize = r[..digits].parse().ok()?;
    let r = &r[digits..];
    if let Some(after) = r.strip_prefix(" of function ") {
        let name_len = after.find(' ').unwrap_or(after.len());
        let name = after[..name_len].trim_matches('"').trim_start_matches('$');
        let name =
            (!name.is_empty() && name != "does" && name != "must" && name != "undefined").then(|| name.to_string());
        let tail = if name.is_some() { &after[name_len..] } else { r };
        return Some((index, name, tail));
    }
    Some((index, None, r))
}

fn t0410(rest: &str, only_call: Option<&str>) -> Option<String> {
    let render = |index: usize, name: &str| {
        format!("T0410: Argument {index} of function \"{name}\" does not match function signature")
    };
    if let Some(r) = rest.strip_prefix("Argument count mismatch: expected ") {
        let (expected, got) = r.split_once(", got ")?;
        let expected: usize = expected.trim().parse().ok()?;
        let got: usize = got.trim().parse().ok()?;
        let name = only_call?;
        let index = if got > expected { max_arity(name).unwrap_or(expected) + 1 } else { got + 1 };
        return Some(render(index, name));
    }
    if let Some(name) = rest.strip_suffix("() takes no arguments") {
        return Some(render(1, name));
    }
    let (index, name, _) = argument_head(rest)?;
    let name = name.as_deref().or(only_call)?;
    Some(render(index, name))
}

fn t0412(rest: &str, only_call: Option<&str>) -> Option<String> {
    let (index, name, tail) = argument_head(rest)?;
    let name = name.as_deref().or(only_call)?;
    let ty = tail.trim().strip_prefix("must be an array of ")?.trim_matches('"');
    let plural = match ty.to_ascii_lowercase().as_str() {
        "number" | "numbers" | "n" => "numbers",
        "string" | "strings" | "s" => "strings",
        "boolean" | "booleans" | "b" => "booleans",
        "object" | "objects" | "o" => "objects",
        "array" | "arrays" | "a" => "arrays",
        "function" | "functions" | "f" => "functions",
        _ => return None,
    };
    Some(format!("T0412: Argument {index} of function \"{name}\" must be an array of \"{plural}\""))
}

#[cfg(test)]
mod tests {
    //! Expected values are AWS's, from the recorded conformance corpus (case ids in comments)
    //! unless marked otherwise.
    use super::*;
    use serde_json::json;

    fn counter_rng() -> impl FnMut() -> u64 {
        let mut n = 0u64;
        move || {
            n += 1;
            n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        }
    }

    fn eval_in(text: &str, states: &Value, vars: &[(&str, Value)]) -> Result<Option<Value>, String> {
        let e = Expr::compile(text).unwrap_or_else(|m| panic!("{text}: {m}"));
        let vars: HashMap<String, Value> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let lookup = |n: &str| vars.get(n).cloned();
        let scope = Scope { states, variables: &lookup };
        eval_expr(&e, &scope, &mut counter_rng())
    }

    fn run(text: &str, input: Value) -> Result<Option<Value>, String> {
        eval_in(text, &json!({ "input": input }), &[])
    }

    fn ok(text: &str, input: Value) -> Value {
        match run(text, input) {
            Ok(Some(v)) => v,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn template(field_value: Value, field: &str, input: Value, vars: &[(&str, Value)]) -> Result<Value, EvalError> {
        let t = Template::compile(&field_value).unwrap();
        let states = json!({ "input": input });
        let vars: HashMap<String, Value> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let lookup = |n: &str| vars.get(n).cloned();
        t.eval(&Scope { states: &states, variables: &lookup }, field, &mut counter_rng())
    }

    fn cause(r: Result<Value, EvalError>) -> String {
        let e = r.expect_err("expected a failure");
        assert_eq!(e.error, "States.QueryEvaluationError");
        e.cause
    }

    #[test]
    fn jsonata_expression_of_needs_exact_delimiters() {
        assert_eq!(expression_of("{% $states.input %}"), Some("$states.input"));
        assert_eq!(expression_of("{%$x%}"), Some("$x"));
        assert_eq!(expression_of(" {% states.input %} "), None);
        assert_eq!(expression_of("$states.input"), None);
        assert_eq!(expression_of("{%"), None);
        assert_eq!(Expr::compile("  $a  ").unwrap().text(), "$a");
    }

    #[test]
    fn jsonata_template_literals_stay_literal() {
        // arguments/test_arguments.py::...[BASE_LAMBDA_LITERALS], outputdecl/...[BASE_LITERALS]
        let v = json!({
            "constant_null": null, "constant_int": 0, "constant_float": 0.1, "constant_bool": true,
            "constant_not_jsonata": " {% states.input %} ", "constant_varpath_states": "$states.input",
            "constant_jp_input.$": "$", "constant_if": "States.Format('Format:{}', 101)",
            "constant_lst": [null, 0, 0.1, true, [], {"constant": 0}, " {% states.input %} ", "$no.such.var.path"],
        });
        let t = Template::compile(&v).unwrap();
        assert!(t.is_literal());
        assert_eq!(template(v.clone(), "Arguments", json!({}), &[]).unwrap(), v);
    }

    #[test]
    fn jsonata_template_mixes_expressions_and_literals() {
        // outputdecl/test_output.py::...[LIST_RICH]
        let out = template(
            json!([null, 0, 0.1, true, "string", [], "$nosuchvar", "$.no.such.path", "{% $states.input %}", {"key": "{% true %}"}]),
            "Output",
            json!({"input_value": "stringliteral"}),
            &[],
        )
        .unwrap();
        assert_eq!(
            out,
            json!([null, 0, 0.1, true, "string", [], "$nosuchvar", "$.no.such.path", {"input_value": "stringliteral"}, {"key": true}])
        );
        // arguments/test_arguments.py::...[BASE_LAMBDA_EXPRESSION]
        let input = json!({"input_value": "string literal", "input_values": [1, 2, 3]});
        let out = template(
            json!({
                "ja_states_input": "{% $states.input %}",
                "ja_var_access": "{% $var_input_value %}",
                "ja_expr": "{% $sum($states.input.input_values) + $var_constant_1 %}"
            }),
            "Arguments",
            input.clone(),
            &[("var_input_value", json!("string literal")), ("var_constant_1", json!(1))],
        )
        .unwrap();
        assert_eq!(out, json!({"ja_states_input": input, "ja_var_access": "string literal", "ja_expr": 7}));
    }

    #[test]
    fn jsonata_undefined_fails_with_the_field_path() {
        // assign/test_assign_reference_variables.py::...[BASE_UNDEFINED_OUTPUT]
        assert_eq!(
            cause(template(json!("{% $doesNotExist %}"), "Output", json!({}), &[])),
            "The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing (undefined)."
        );
        // ...[BASE_UNDEFINED_OUTPUT_FIELD]
        assert_eq!(
            cause(template(json!({"result": "{% $doesNotExist %}"}), "Output", json!({}), &[])),
            "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
        );
        // ...[BASE_UNDEFINED_ARGUMENTS_FIELD]
        assert_eq!(
            cause(template(json!({"FunctionName": "{% $doesNotExist %}"}), "Arguments", json!({}), &[])),
            "The JSONata expression '$doesNotExist' specified for the field 'Arguments/FunctionName' returned nothing (undefined)."
        );
        // states_variables/test_error_output.py::...[MAP_CATCH_ERROR_OUTPUT_WITH_RETRY]
        assert_eq!(
            cause(template(json!({"error": "{% $stateError %}"}), "Output", json!(1), &[])),
            "The JSONata expression '$stateError' specified for the field 'Output/error' returned nothing (undefined)."
        );
        // Arrays extend the path with the index.
        assert_eq!(
            cause(template(json!({"a": [1, {"b": "{% $nope %}"}]}), "Output", json!({}), &[])),
            "The JSONata expression '$nope' specified for the field 'Output/a[1]/b' returned nothing (undefined)."
        );
        // An empty sequence is undefined too.
        assert_eq!(run("$states.input.arr[$ > 10]", json!({"arr": [1, 2]})), Ok(None));
        assert_eq!(run("$states.input.missing.deeper", json!({"arr": [1, 2]})), Ok(None));
    }

    #[test]
    fn jsonata_thrown_error_cause() {
        // intrinsic_functions/test_math_operations_jsonata.py::...::test_math_random_seeded
        assert_eq!(
            cause(template(
                json!({"FunctionResult": "{% $randomSeeded($states.input.FunctionInput.fst) %}"}),
                "Output",
                json!({"FunctionInput": "fst"}),
                &[]
            )),
            "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field \
             'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function"
        );
        // AWS disables $eval (its message is the non-function one).
        assert_eq!(run("$eval('1+1')", json!({})), Err("T1006: Attempted to invoke a non-function".to_string()));
    }

    #[test]
    fn jsonata_result_type_errors() {
        // scenarios/test_base_scenarios.py::...::test_map_state_items_eval_jsonata_fail[*]
        let cases = [
            ("1", "The JSONata expression '1' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'number' for value: 1"),
            ("'string'", "The JSONata expression ''string'' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'string' for value: \"string\""),
            ("true", "The JSONata expression 'true' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'boolean' for value: true"),
            ("{'foo': 'bar'}", "The JSONata expression '{'foo': 'bar'}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"),
            ("null", "The JSONata expression 'null' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'null' for value: null"),
        ];
        for (text, expected) in cases {
            let e = Expr::compile(text).unwrap();
            let v = run(text, json!({})).unwrap().unwrap();
            assert_eq!(unexpected_type_error(&e, "Items", "array", &v).cause, expected);
        }
        // ...[function]
        assert_eq!(
            cause(template(json!("{% $fn := function($x){$x} %}"), "Items", json!({}), &[])),
            "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' returned an unsupported result type."
        );
        assert_eq!(type_name(&json!([])), "array");
    }

    #[test]
    fn jsonata_partition() {
        // intrinsic_functions/test_array_jsonata.py::TestArrayJSONata::test_array_partition#*
        let cases = [
            (json!([0]), 1, json!([[0]])),
            (json!([0]), 5, json!([[0]])),
            (json!([0, 1]), 1, json!([[0], [1]])),
            (json!([0, 1, 2]), 2, json!([[0, 1], [2]])),
            (json!([0, 1, 2, 3]), 3, json!([[0, 1, 2], [3]])),
            (json!([0, 1, 2, 3]), 4, json!([[0, 1, 2, 3]])),
        ];
        for (fst, snd, expected) in cases {
            let input = json!({"FunctionInput": {"fst": fst, "snd": snd}});
            assert_eq!(
                ok("$partition($states.input.FunctionInput.fst, $states.input.FunctionInput.snd)", input),
                expected
            );
        }
        assert_eq!(ok("$partition([1,2,3])", json!({})), json!([[1, 2, 3]]));
        assert_eq!(run("$partition([], 2)", json!({})), Ok(None));
        assert_eq!(run("$partition([1], 0)", json!({})), Ok(None));
        assert_eq!(
            run("$partition([1], -2)", json!({})),
            Err("D3137: Second argument must be zero or greater".to_string())
        );
        assert_eq!(
            run("$partition([1], 1, 1)", json!({})),
            Err("T0410: Argument 3 of function \"partition\" does not match function signature".to_string())
        );
    }

    #[test]
    fn jsonata_range() {
        // intrinsic_functions/test_array_jsonata.py::TestArrayJSONata::test_array_range#*
        let cases = [
            ((0, 9, 3), json!([0, 3, 6, 9])),
            ((0, 10, 3), json!([0, 3, 6, 9])),
            ((1, 9, 9), json!(1)),
            ((1, 9, 2), json!([1, 3, 5, 7, 9])),
        ];
        for ((a, b, c), expected) in cases {
            let input = json!({"FunctionInput": {"fst": a, "snd": b, "trd": c}});
            let text = "$range($states.input.FunctionInput.fst, $states.input.FunctionInput.snd, $states.input.FunctionInput.trd)";
            assert_eq!(ok(text, input), expected);
        }
        assert_eq!(ok("$range(6, 0, -2)", json!({})), json!([6, 4, 2, 0]));
        assert_eq!(ok("$range(-1.7, 2.9, 1)", json!({})), json!([-1, 0, 1, 2]));
        assert_eq!(run("$range(0, 5, -1)", json!({})), Ok(None));
        assert_eq!(run("$range(0, 5, 0)", json!({})), Ok(None));
        assert_eq!(
            run("$range('a', 5, 1)", json!({})),
            Err("T0410: Argument 1 of function \"range\" does not match function signature".to_string())
        );
        assert_eq!(run("$range(0, 1e12, 1)", json!({})), Err(MEMORY_LIMIT.to_string()));
    }

    #[test]
    fn jsonata_parse() {
        // intrinsic_functions/test_json_manipulation_jsonata.py::...::test_parse#*
        let cases = [
            ("-0", json!(0)),
            ("1", json!(1)),
            ("1.1", json!(1.1)),
            ("true", json!(true)),
            ("\"HelloWorld\"", json!("HelloWorld")),
            ("[1, 2, \"HelloWorld\"]", json!([1, 2, "HelloWorld"])),
            ("{\"Arg1\": 1, \"Arg2\": []}", json!({"Arg1": 1, "Arg2": []})),
        ];
        for (text, expected) in cases {
            assert_eq!(ok("$parse($states.input.FunctionInput)", json!({ "FunctionInput": text })), expected, "{text}");
        }
        assert_eq!(ok("$parse('{\"a\":{\"b\":[1,2]}}').a.b[1]", json!({})), json!(2));
        for bad in ["", "{", "1 2", "{\"a\":1,\"a\":2}"] {
            assert_eq!(
                run("$parse($states.input.s)", json!({ "s": bad })),
                Err("D3137: Invalid JSON".to_string()),
                "{bad}"
            );
        }
        assert_eq!(
            run("$parse(1)", json!({})),
            Err("T0410: Argument 1 of function \"parse\" does not match function signature".to_string())
        );
        assert_eq!(run("$parse($states.input.nothing)", json!({})), Ok(None));
    }

    #[test]
    fn jsonata_hash() {
        // Digests of "input"; AWS's SHA-1 of it is 140f86aa... (reported from live AWS).
        let cases = [
            ("MD5", "a43c1b0aa53a0c908810c06ab1ff3967"),
            ("SHA-1", "140f86aae51ab9e1cda9b4254fe98a74eb54c1a1"),
            ("SHA-256", "c96c6d5be8d08a12e7b5cdc1b207fa6b2430974c86803d8891675e76fd992c20"),
            ("SHA-384", "4fbd200eb6266698f0846c66607c98797e2b9b3af5bf82aa1aa330a0e2b12aba97755e3bc955c9765e9edcc70278ca2c"),
            ("SHA-512", "dc6d6c30f2be9c976d6318c9a534d85e9a1c3f3608321a04b4678ef408124d45d7164f3e562e68c6c0b6c077340a785824017032fddfa924f4cf400e6cbb6adc"),
        ];
        for (alg, hex) in cases {
            assert_eq!(ok(&format!("$hash('input', '{alg}')"), json!({})), json!(hex));
        }
        assert_eq!(
            run("$hash('input', 'sha-1')", json!({})),
            Err("D3137: Hash algorithm 'sha-1' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5".to_string())
        );
        assert_eq!(
            run("$hash(1, 'MD5')", json!({})),
            Err("T0410: Argument 1 of function \"hash\" does not match function signature".to_string())
        );
        assert_eq!(run("$hash('x')", json!({})), Ok(None));
    }

    #[test]
    fn jsonata_random_and_uuid_are_replayable() {
        // $random(seed) is java.util.Random's first nextDouble(); AWS answers this for 42.
        assert_eq!(ok("$random(42)", json!({})), json!(0.7275636800328681));
        assert_eq!(ok("$random(42.9)", json!({})), json!(0.7275636800328681));
        let a = ok("[$random(), $random(), $uuid()]", json!({}));
        let b = ok("[$random(), $random(), $uuid()]", json!({}));
        assert_eq!(a, b, "same rng, same values");
        let r0 = a[0].as_f64().unwrap();
        assert!((0.0..1.0).contains(&r0) && a[0] != a[1]);
        let u = a[2].as_str().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(
            run("$uuid(1)", json!({})),
            Err("T0410: Argument 1 of function \"uuid\" does not match function signature".to_string())
        );
        assert_eq!(
            run("$random(1, 2)", json!({})),
            Err("T0410: Argument 2 of function \"random\" does not match function signature".to_string())
        );
        // No call to the rng when the expression draws nothing.
        let e = Expr::compile("1 + 1").unwrap();
        let states = json!({});
        let scope = Scope { states: &states, variables: &|_| None };
        let mut calls = 0;
        eval_expr(&e, &scope, &mut || {
            calls += 1;
            0
        })
        .unwrap();
        assert_eq!(calls, 0);
    }

    #[test]
    fn jsonata_corpus_expressions() {
        // evaluate_jsonata/test_base_evaluate_expressions.py
        assert_eq!(ok("$contains(\"hello$world\", /^hello\\$/)", json!({})), json!(true));
        assert_eq!(ok("$contains('hello$world', /^hello\\ /)", json!({})), json!(false));
        assert_eq!(ok("$number('2')", json!({})), json!(2));
        assert_eq!(ok("$variable := 1", json!({})), json!(1));
        assert_eq!(
            ok(
                "$merge([$states.input.part1, $states.input.part2])",
                json!({"part1": {"hello": "world"}, "part2": {"foo": "bar"}})
            ),
            json!({"hello": "world", "foo": "bar"})
        );
        assert_eq!(ok("[1, 'two', 3]", json!({})), json!([1, "two", 3]));
        assert_eq!(ok("[0]", json!({})), json!([0]));
        assert_eq!(ok("[]", json!({})), json!([]));
        // scenarios/test_base_scenarios.py choice conditions
        let input = json!({"type": "Private", "value": 22});
        assert_eq!(ok("$not($states.input.type = 'Private')", input.clone()), json!(false));
        assert_eq!(ok("$states.input.value >= 20 and $states.input.value < 30", input), json!(true));
        // ...test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONATA_COMPARISON_ASSIGN]
        assert_eq!(eval_in("$var = '\"'", &json!({}), &[("var", json!("\""))]), Ok(Some(json!(true))));
        // local_mocking/test_base_scenarios.py: a variable that does not exist yet
        assert_eq!(ok("$exists($status) ? 'completed' : 'running'", json!({})), json!("running"));
        assert_eq!(
            eval_in("$exists($status) ? 'completed' : 'running'", &json!({}), &[("status", json!("x"))]),
            Ok(Some(json!("completed")))
        );
        // outputdecl/test_output.py::...[BASE_LAMBDA]: $states.result
        let states = json!({"input": {"a": 1}, "result": {"ja_expr": 7}});
        assert_eq!(eval_in("$states.result.ja_expr", &states, &[]), Ok(Some(json!(7))));
        assert_eq!(
            eval_in("{'r': $states.result, 'i': $states.input}", &states, &[]),
            Ok(Some(json!({"r": {"ja_expr": 7}, "i": {"a": 1}})))
        );
        // map ItemSelector: $states.context.Map.Item.Value and a variable
        let states = json!({"input": {}, "context": {"Map": {"Item": {"Index": 0, "Value": "Item1"}}}});
        assert_eq!(eval_in("$states.context.Map.Item.Value", &states, &[]), Ok(Some(json!("Item1"))));
        assert_eq!(
            eval_in("$ItemsVar", &states, &[("ItemsVar", json!(["Item1", "Item2"]))]),
            Ok(Some(json!(["Item1", "Item2"])))
        );
    }

    #[test]
    fn jsonata_states_is_bound_whole_or_in_part() {
        let states =
            json!({"input": {"a": [1, 2]}, "context": {"State": {"Name": "S"}}, "errorOutput": {"Error": "E"}});
        assert_eq!(eval_in("$keys($states)", &states, &[]), Ok(Some(json!(["input", "context", "errorOutput"]))));
        assert_eq!(eval_in("$states.input.a[1] & $states.context.State.Name", &states, &[]), Ok(Some(json!("2S"))));
        assert_eq!(eval_in("$count($states.input.a) + $count($states.errorOutput)", &states, &[]), Ok(Some(json!(3))));
        // A workflow variable cannot hide $states.
        assert_eq!(eval_in("$states.input.a", &states, &[("states", json!(5))]), Ok(Some(json!([1, 2]))));
        // Paths through arrays go to the engine.
        let states = json!({"input": {"items": [{"n": 1}, {"n": 2}], "nested": [[1, 2], [3]]}});
        assert_eq!(eval_in("$states.input.items.n", &states, &[]), Ok(Some(json!([1, 2]))));
        assert_eq!(eval_in("$states.input.nested", &states, &[]), Ok(Some(json!([[1, 2], [3]]))));
    }

    #[test]
    fn jsonata_numbers_as_aws_writes_them() {
        assert_eq!(ok("$states.input.f", json!({"f": 1.0})), json!(1));
        assert_eq!(ok("$states.input.f * 1", json!({"f": 1.0})), json!(1));
        assert_eq!(ok("1e2", json!({})), json!(100));
        assert_eq!(ok("1e18 + 1", json!({})), json!(1_000_000_000_000_000_000i64));
        assert_eq!(ok("1e20", json!({})), json!(1e20));
        assert_eq!(ok("0.1 + 0.2", json!({})), json!(0.30000000000000004));
        assert_eq!(ok("$string(1e20)", json!({})), json!("100000000000000000000"));
        // An integer the engine cannot hold exactly stays exact on a plain path.
        assert_eq!(ok("$states.input.id", json!({"id": 9007199254740993i64})), json!(9007199254740993i64));
        assert_eq!(ok("$states.input", json!({"id": u64::MAX})), json!({"id": 1.8446744073709552e19}));
        // JSON has no non-finite numbers: AWS writes JavaScript's names.
        assert_eq!(ok("1/0", json!({})), json!("Infinity"));
        assert_eq!(ok("-1/0", json!({})), json!("-Infinity"));
    }

    #[test]
    fn jsonata_error_messages_in_jsonata_js_words() {
        assert_eq!(
            run("$sum('a')", json!({})),
            Err("T0412: Argument 1 of function \"sum\" must be an array of \"numbers\"".to_string())
        );
        assert_eq!(
            run("1 + 'a'", json!({})),
            Err("T2002: The right side of the \"+\" operator must evaluate to a number".to_string())
        );
        assert_eq!(
            run("'a' * 1", json!({})),
            Err("T2001: The left side of the \"*\" operator must evaluate to a number".to_string())
        );
        assert_eq!(
            run("$uppercase(1)", json!({})),
            Err("T0410: Argument 1 of function \"uppercase\" does not match function signature".to_string())
        );
        assert_eq!(run("$nothing(1)", json!({})), Err("T1006: Attempted to invoke a non-function".to_string()));
        assert_eq!(
            run("$keys(1, 2)", json!({})),
            Err("T0410: Argument 2 of function \"keys\" does not match function signature".to_string())
        );
        assert_eq!(
            run("$exists()", json!({})),
            Err("T0410: Argument 1 of function \"exists\" does not match function signature".to_string())
        );
        assert_eq!(
            run("$number('abc')", json!({})),
            Err("D3030: Unable to cast value to a number: \"abc\"".to_string())
        );
        assert_eq!(
            run("$formatNumber(1, 'x')", json!({})),
            Err("D3086: The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character".to_string())
        );
        assert_eq!(
            run("[1..'a']", json!({})),
            Err("T2004: The right side of the range operator (..) must evaluate to an integer".to_string())
        );
        // Two candidate functions: the engine's unnamed message is kept.
        assert!(run("$sum($map([1], function($v){'a'}))", json!({})).unwrap_err().starts_with("T0412: Argument 1"));
        let e = Expr::compile("1 + 'a'").unwrap();
        assert_eq!(
            field_error(&e, "Output", "T2002: x").cause,
            "The JSONata expression '1 + 'a'' specified for the field 'Output' threw an error during evaluation. T2002: x"
        );
        assert_eq!(
            field_error(&e, "Output", MEMORY_LIMIT).cause,
            "The JSONata expression '1 + 'a'' specified for the field 'Output' threw an error during evaluation: Expression evaluation memory limit exceeded"
        );
    }

    #[test]
    fn jsonata_evaluation_is_bounded() {
        let sum = |n: usize| vec!["1"; n].join("+");
        assert_eq!(ok(&sum(90), json!({})), json!(90));
        let deep = run(&sum(200), json!({})).unwrap_err();
        assert!(deep.starts_with("D1011"), "{deep}");
        let e = run("[1..900000] ~> $count()", json!({})).unwrap_err();
        assert!(e.starts_with('D'), "{e}");
        let recursive = "( $f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(20) )";
        assert_eq!(ok(recursive, json!({})), json!(20));
        assert_eq!(run("$pad('x', 1e9)", json!({})), Err(MEMORY_LIMIT.to_string()));
        let nest = |n: usize| format!("$reduce([1..{n}], function($a, $b){{ {{'x': $a}} }}, {{}})");
        assert!(run(&nest(900), json!({})).is_ok());
        assert_eq!(run(&nest(100_000), json!({})), Err(NESTING_LIMIT.to_string()));
        assert_eq!(ok("$pad('x', -3, '#')", json!({})), json!("##x"));
        assert_eq!(ok("$pad($pad('x', 2), 3)", json!({})), json!("x  "));
    }

    #[test]
    fn jsonata_now_reads_the_state_clock() {
        let states =
            json!({"input": {}, "context": {"State": {"EnteredTime": "2024-03-05T21:29:29.243Z", "Name": "S"}}});
        assert_eq!(eval_in("$now()", &states, &[]), Ok(Some(json!("2024-03-05T21:29:29.243Z"))));
        assert_eq!(eval_in("$millis()", &states, &[]), Ok(Some(json!(1709674169243i64))));
        assert_eq!(eval_in("$now('[Y0001]-[M01]-[D01]')", &states, &[]), Ok(Some(json!("2024-03-05"))));
    }

    #[test]
    fn jsonata_never_panics() {
        let deep_parens = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        let bad = [
            "",
            "(((",
            "$",
            "$$",
            "{",
            "}",
            "[1..",
            "'unterminated",
            "/[/",
            "$states.",
            "..",
            "%",
            "#$i",
            "@$x",
            "$f(",
            "function($x){",
            "?:",
            "1 ? : 2",
            "~>",
            "|a|{}|",
            "$states.input ~> |$|{'a':1}|",
            "**",
            "*",
            "$string($)",
            "$sort([3,1,2], function($a,$b){$a>$b})",
            "$reduce([1,2,3], function($a,$b){$a+$b})",
            "$formatNumber(1, 'x')",
            "$toMillis('bogus')",
            "$fromMillis(1e30)",
            "$pad('x', 1e9)",
            "$split('a', '')",
            "$match('a', /(/)",
            &deep_parens,
        ];
        let states = json!({"input": {"a": [1, {"b": null}], "s": "x"}});
        for text in bad {
            if let Ok(e) = Expr::compile(text) {
                let scope = Scope { states: &states, variables: &|_| None };
                let _ = eval_expr(&e, &scope, &mut counter_rng());
            }
        }
        assert!(Expr::compile("").is_err());
        assert!(Template::compile(&json!({"a": ["{% ( %}"]})).is_err());
    }
}
