//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector`.
//!
//! A template is compiled once from the definition. Keys ending in `.$` take their value from a
//! path (`$`, `$$`) or an intrinsic function call; everything else is copied. Subtrees with no
//! dynamic part compile to a single literal, so evaluating a static template is one clone.

use crate::intrinsics::{self, Call};
use crate::jsonpath::{Path, PathError, Root};
use serde_json::{Map, Value};
use std::cell::OnceCell;

/// A compiled payload template.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value with nothing to resolve.
    Literal(Value),
    /// An object whose values may be dynamic (keys already stripped of `.$`).
    Object(Vec<(String, Template)>),
    /// An array whose elements may be dynamic.
    Array(Vec<Template>),
    /// A JSONPath (from a `.$` key).
    Path(Path),
    /// An intrinsic function call (from a `.$` key).
    Intrinsic(Call),
}

/// What paths other than `$` read: the context object (`$$`), built only when a path asks
/// for it, and workflow variables (`$name`).
pub struct Context<'a> {
    cell: OnceCell<Value>,
    make: &'a dyn Fn() -> Value,
    vars: Option<VarLookup<'a>>,
}

/// Looks up a workflow variable by name.
type VarLookup<'a> = &'a dyn Fn(&str) -> Option<Value>;

impl<'a> Context<'a> {
    /// A context whose value `make` builds on first use; no variables.
    pub fn new(make: &'a dyn Fn() -> Value) -> Self {
        Context { cell: OnceCell::new(), make, vars: None }
    }
    /// The same, with workflow variables looked up through `vars`.
    pub fn with_vars(make: &'a dyn Fn() -> Value, vars: &'a dyn Fn(&str) -> Option<Value>) -> Self {
        Context { cell: OnceCell::new(), make, vars: Some(vars) }
    }
    /// The context object.
    pub fn get(&self) -> &Value {
        self.cell.get_or_init(|| (self.make)())
    }
    /// A workflow variable.
    pub fn var(&self, name: &str) -> Option<Value> {
        self.vars.and_then(|v| v(name))
    }
}

/// Why a template could not be evaluated, as an ASL error name and cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// ASL error name (`States.Runtime`, `States.IntrinsicFailure`, ...).
    pub error: String,
    /// The cause text (without the "An error occurred while executing the state" prefix).
    pub cause: String,
}

impl Template {
    /// Compiles a template from its JSON form.
    pub fn compile(v: &Value) -> Result<Template, String> {
        let t = Self::compile_inner(v)?;
        Ok(t)
    }

    /// Compiles the value of a `.$` key (or of ErrorPath/CausePath): a path or an intrinsic.
    pub fn compile_expr(s: &str) -> Result<Template, String> {
        if intrinsics::is_intrinsic(s) {
            intrinsics::parse(s).map(Template::Intrinsic).map_err(|e| e.to_string())
        } else {
            Path::parse(s).map(Template::Path).map_err(|e| e.to_string())
        }
    }

    fn compile_inner(v: &Value) -> Result<Template, String> {
        match v {
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                let mut dynamic = false;
                for (k, x) in m {
                    if let Some(base) = k.strip_suffix(".$") {
                        let s = x.as_str().ok_or_else(|| format!("The value for the field '{k}' must be a STRING"))?;
                        fields.push((base.to_string(), Self::compile_expr(s)?));
                        dynamic = true;
                    } else {
                        let t = Self::compile_inner(x)?;
                        dynamic |= !matches!(t, Template::Literal(_));
                        fields.push((k.clone(), t));
                    }
                }
                if dynamic {
                    Ok(Template::Object(fields))
                } else {
                    Ok(Template::Literal(v.clone()))
                }
            }
            Value::Array(a) => {
                let items: Vec<Template> = a.iter().map(Self::compile_inner).collect::<Result<_, _>>()?;
                if items.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Ok(Template::Literal(v.clone()))
                } else {
                    Ok(Template::Array(items))
                }
            }
            other => Ok(Template::Literal(other.clone())),
        }
    }

    /// Evaluates the template against `input` (`$`) and the context (`$$`).
    pub fn eval(&self, input: &Value, ctx: &Context, rng: &mut dyn FnMut() -> u64) -> Result<Value, EvalError> {
        self.eval_at(input, ctx, rng, "")
    }

    fn eval_at(
        &self,
        input: &Value,
        ctx: &Context,
        rng: &mut dyn FnMut() -> u64,
        field: &str,
    ) -> Result<Value, EvalError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    let key_field = match t {
                        Template::Path(_) | Template::Intrinsic(_) => format!("{k}.$"),
                        _ => k.clone(),
                    };
                    m.insert(k.clone(), t.eval_at(input, ctx, rng, &key_field)?);
                }
                Ok(Value::Object(m))
            }
            Template::Array(items) => {
                items.iter().map(|t| t.eval_at(input, ctx, rng, field)).collect::<Result<Vec<_>, _>>().map(Value::Array)
            }
            Template::Path(p) => eval_path(p, input, ctx).map_err(|_| EvalError {
                error: "States.Runtime".into(),
                cause: format!(
                    "The JSONPath '{}' specified for the field '{}' could not be found in the input '{}'",
                    p,
                    field,
                    serde_json::to_string(input).unwrap_or_default()
                ),
            }),
            Template::Intrinsic(call) => {
                let c = if call_uses_context(call) { ctx.get().clone() } else { Value::Null };
                let vars = |n: &str| ctx.var(n);
                intrinsics::evaluate_with_variables(call, input, &c, &vars, rng)
                    .map_err(|e| EvalError { error: e.error().to_string(), cause: e.cause() })
            }
        }
    }
}

fn call_uses_context(call: &Call) -> bool {
    call.args.iter().any(|a| match a {
        intrinsics::Arg::Path(p) => p.root == Root::Context,
        intrinsics::Arg::Call(c) => call_uses_context(c),
        _ => false,
    })
}

/// Evaluates a path against the input, the lazily built context (`$$`) or a variable (`$x`).
pub fn eval_path(p: &Path, input: &Value, ctx: &Context) -> Result<Value, PathError> {
    match &p.root {
        Root::Context => p.eval_root(ctx.get()),
        Root::Variable(name) => match ctx.var(name) {
            Some(v) => p.eval_root(&v),
            None => Err(PathError::NotFound(format!("Variable '{name}' is not defined"))),
        },
        _ => p.eval_root(input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_resolve_paths_and_keep_literals() {
        let t = Template::compile(&json!({
            "a.$": "$.x", "b": {"c.$": "$$.Execution.Id", "d": 1}, "e": [{"f.$": "$.y[0]"}], "g": "lit"
        }))
        .unwrap();
        let make = || json!({"Execution": {"Id": "exec"}});
        let ctx = Context::new(&make);
        let out = t.eval(&json!({"x": 5, "y": [true]}), &ctx, &mut || 4).unwrap();
        assert_eq!(out, json!({"a": 5, "b": {"c": "exec", "d": 1}, "e": [{"f": true}], "g": "lit"}));
    }

    #[test]
    fn static_templates_compile_to_literals() {
        assert!(matches!(Template::compile(&json!({"a": [1, {"b": 2}]})).unwrap(), Template::Literal(_)));
    }

    #[test]
    fn missing_paths_name_the_field() {
        let t = Template::compile(&json!({"value.$": "$.no_such_jsonpath"})).unwrap();
        let make = || Value::Null;
        let e = t.eval(&json!({}), &Context::new(&make), &mut || 0).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(
            e.cause,
            "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{}'"
        );
    }
}
