//! The glue between the runner and the interpreter (`stepwise_asl::local`). Everything else in
//! this crate talks to the interpreter through [`Engine`](crate::runner::Engine).

use serde_json::Value;
use stepwise_asl::integrations::{Call, CallResult, Services};
use stepwise_asl::local::{self, ExecutionContext, RunOptions};

use crate::invoker::Invoke;
use crate::runner::{Engine, EngineRun, RunSettings};

/// Runs cases with `stepwise_asl::local::run`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalEngine;

/// The corpus' functions as the integration port: invocations run the recorded handlers;
/// SQS and SNS messages are accepted and dropped (the self-contained cases send none that a
/// later step reads).
struct Adapter<'a>(&'a mut dyn Invoke);

impl Services for Adapter<'_> {
    async fn call(&mut self, call: &Call) -> CallResult {
        match call {
            Call::Invoke { function, payload, timeout, .. } => {
                CallResult::Function(self.0.invoke(function, payload, *timeout))
            }
            Call::SendMessage { .. } | Call::Publish { .. } => CallResult::Delivered(Ok(None)),
            Call::Done(_) => CallResult::Nothing,
        }
    }
}

impl Engine for LocalEngine {
    fn run(
        &self,
        definition: &Value,
        input: Value,
        settings: &RunSettings,
        functions: &mut dyn Invoke,
    ) -> Result<EngineRun, String> {
        let opts = RunOptions {
            context: ExecutionContext {
                account: settings.account.clone(),
                region: settings.region.clone(),
                state_machine_name: settings.state_machine_name.clone(),
                execution_name: settings.execution_name.clone(),
                role_arn: settings.role_arn.clone(),
                express: settings.express,
            },
            time_scale: settings.time_scale,
            start_time: settings.start_time,
            seed: settings.seed,
            replay: settings.replay,
            input_text: Some(python_json_dumps(&input)),
        };
        // The run awaits only the handlers, which run synchronously: any executor will do.
        let r = futures_executor::block_on(local::run(definition, input, &opts, &mut Adapter(functions)))
            .map_err(|e| e.to_string())?;
        let history = r.history.iter().map(|e| e.to_api_json(true)).collect();
        Ok(EngineRun {
            status: r.status.as_str().to_string(),
            output: r.output,
            error: r.error,
            cause: r.cause,
            history,
        })
    }
}

/// The input text the recorded tests sent: Python's `json.dumps(input)` (`", "` and `": "`
/// separators, non-ASCII escaped as `\uXXXX`, floats as Python's `repr`). AWS echoes the text
/// it was given, so our `ExecutionStarted` shows this text too.
pub fn python_json_dumps(v: &Value) -> String {
    let mut out = String::new();
    write_py(v, &mut out);
    out
}

fn write_py(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.is_f64(), n.as_f64()) {
            (true, Some(f)) => out.push_str(&python_float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_py_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_str(k, out);
                out.push_str(": ");
                write_py(x, out);
            }
            out.push('}');
        }
    }
}

fn write_py_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr` of a float: the shortest digits that round-trip, positional for
/// 1e-4 <= |x| < 1e16, else `d.ddde±XX`.
fn python_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sci = format!("{f:e}"); // shortest round-trip digits, e.g. "-1.5e-7"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f == 0.0 || (-4..16).contains(&exp) {
        let s = format!("{f}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dumps_like_python() {
        assert_eq!(python_json_dumps(&json!({"a": [1, 2], "b": "é\n"})), r#"{"a": [1, 2], "b": "\u00e9\n"}"#);
        assert_eq!(python_json_dumps(&json!([1.0, 0.5, 1e16, 1.5e-7, -0.0001])), "[1.0, 0.5, 1e+16, 1.5e-07, -0.0001]");
        assert_eq!(python_json_dumps(&json!("😀")), r#""\ud83d\ude00""#);
    }
}
