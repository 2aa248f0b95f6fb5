//! Lambda: bare function ARNs and the optimized `arn:aws:states:::lambda:invoke`.
//!
//! The optimized integration wraps the function's result in Lambda's response envelope
//! (`ExecutedVersion`, `Payload` parsed from JSON, `StatusCode`, `SdkHttpMetadata`,
//! `SdkResponseMetadata`); a `FunctionError` fails the task with the function's `errorType` as
//! the error and its error payload as the cause; `InvocationType: Event` answers 202 without
//! waiting; a bare function ARN yields the raw output.

use super::{failed, uuid, Call, Integration, InvokeContext};
use crate::stepper::{TaskOutcome, TaskRequest};
use serde_json::{json, Value};
use std::time::Duration;

/// What a function invocation produced.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionOutcome {
    /// The function's returned JSON payload.
    Ok(Value),
    /// The function raised: Lambda's error payload (`errorMessage`, `errorType`, ...).
    Error {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
        /// The whole error payload.
        payload: Value,
    },
    /// No such function.
    NotFound,
    /// It ran past the timeout given.
    TimedOut,
}

impl FunctionOutcome {
    /// An error with this type and message; the payload is Lambda's `{errorMessage, errorType}`.
    pub fn error(error_type: &str, message: &str) -> FunctionOutcome {
        let mut o = serde_json::Map::new();
        o.insert("errorMessage".into(), message.into());
        o.insert("errorType".into(), error_type.into());
        FunctionOutcome::Error {
            error_type: error_type.into(),
            error_message: message.into(),
            payload: Value::Object(o),
        }
    }

    /// A function's successful response body: empty is `null`, JSON is the result. Anything
    /// else is `Runtime.InvalidResponse` — unless it is larger than the payload limit: AWS
    /// checks the size first, so such a body fails the task with `States.DataLimitExceeded`
    /// (recorded against AWS for a function returning 257 KiB of bytes); it is passed on as a
    /// string for the stepper's size check to fail.
    pub fn from_output_body(body: &[u8]) -> FunctionOutcome {
        if body.iter().all(u8::is_ascii_whitespace) {
            return FunctionOutcome::Ok(Value::Null);
        }
        match serde_json::from_slice(body) {
            Ok(v) => FunctionOutcome::Ok(v),
            Err(_) if body.len() > crate::stepper::MAX_PAYLOAD_BYTES => {
                FunctionOutcome::Ok(Value::String(String::from_utf8_lossy(body).into_owned()))
            }
            Err(e) => {
                FunctionOutcome::error("Runtime.InvalidResponse", &format!("the function's output is not JSON: {e}"))
            }
        }
    }

    /// The error a function's response body reports, as Lambda's Invoke API and runtimes write
    /// it: a JSON object with `errorType` (and `errorMessage`), or, when the caller knows the
    /// invocation failed (`fallback_type`, e.g. from `X-Amz-Function-Error`), any body (its
    /// text becomes the message). `None`: the body reports no error.
    pub fn from_error_body(body: &[u8], fallback_type: Option<&str>) -> Option<FunctionOutcome> {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let parsed = serde_json::from_str::<Value>(text).ok();
        let object = match &parsed {
            Some(Value::Object(o)) => Some(o),
            _ => None,
        };
        let error_type = object.and_then(|o| o.get("errorType")).and_then(Value::as_str).or(fallback_type)?.to_string();
        let error_message = match object.and_then(|o| o.get("errorMessage")) {
            Some(Value::String(m)) => m.clone(),
            Some(other) => other.to_string(),
            None if object.is_some() => String::new(),
            None => text.to_string(),
        };
        let payload = match object {
            Some(o) if o.contains_key("errorType") => Value::Object(o.clone()),
            _ => {
                let mut o = object.cloned().unwrap_or_default();
                o.insert("errorMessage".into(), Value::String(error_message.clone()));
                o.insert("errorType".into(), Value::String(error_type.clone()));
                Value::Object(o)
            }
        };
        Some(FunctionOutcome::Error { error_type, error_message, payload })
    }
}

/// The invocation a Lambda task request needs.
pub(super) fn plan(req: &TaskRequest) -> Call {
    let timeout = req.timeout_seconds.map(Duration::from_secs);
    let p = &req.parameters;
    if req.integration == Integration::LambdaArn {
        return Call::Invoke { function: req.resource.clone(), payload: p.clone(), timeout, asynchronous: false };
    }
    let Some(name) = p.get("FunctionName").and_then(Value::as_str) else {
        return Call::Done(failed(
            "States.Runtime",
            "The field 'FunctionName' is required for arn:aws:states:::lambda:invoke",
        ));
    };
    // Lambda receives the Payload's bytes: a string is sent as is (so JSON text arrives
    // parsed), a missing or null Payload as `{}`.
    let payload = match p.get("Payload") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())),
        Some(v) => v.clone(),
    };
    let asynchronous = p.get("InvocationType").and_then(Value::as_str) == Some("Event");
    // A `Qualifier` (version or alias) travels in the function name, as Lambda's Invoke
    // API accepts it (`name:qualifier`), unless the name already has one.
    let function = match p.get("Qualifier").and_then(Value::as_str) {
        Some(q) if !has_qualifier(name) => format!("{name}:{q}"),
        _ => name.to_string(),
    };
    Call::Invoke { function, payload, timeout: if asynchronous { None } else { timeout }, asynchronous }
}

/// A Lambda task's outcome from the function's; `None` when a timed-out call is left to the
/// stepper's timeout timer.
pub(super) fn complete(
    req: &TaskRequest,
    function: &str,
    asynchronous: bool,
    outcome: FunctionOutcome,
    ctx: &InvokeContext,
    rng: &mut dyn FnMut() -> u64,
) -> Option<TaskOutcome> {
    let p = &req.parameters;
    if req.integration == Integration::LambdaArn {
        return match outcome {
            FunctionOutcome::Ok(v) => Some(TaskOutcome::Succeeded(v)),
            // The legacy integration reports the error payload as Lambda's runtime printed it.
            FunctionOutcome::Error { error_type, payload, .. } => {
                Some(TaskOutcome::Failed { error: Some(error_type), cause: Some(spaced_json(&payload)) })
            }
            other => function_failure(other, function, ctx, req.timeout_seconds.is_some(), rng),
        };
    }
    let qualifier = p.get("Qualifier").and_then(Value::as_str);
    let request_id = uuid(rng);
    match outcome {
        FunctionOutcome::Ok(_) | FunctionOutcome::Error { .. } if asynchronous => Some(TaskOutcome::Succeeded(
            lambda_envelope(Value::String(String::new()), 202, qualifier, &request_id, ctx.now),
        )),
        FunctionOutcome::Ok(v) => {
            let mut env = lambda_envelope(v, 200, qualifier, &request_id, ctx.now);
            if p.get("LogType").and_then(Value::as_str) == Some("Tail") {
                // base64 of the log tail: local functions' own output is not captured,
                // so the tail holds the runtime's START/END/REPORT lines.
                use base64::Engine;
                let tail = format!(
                    "START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\n"
                );
                let log = base64::engine::general_purpose::STANDARD.encode(tail);
                env["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"] = json!([log]);
                env["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"] = json!(log);
                env["LogResult"] = Value::String(log);
            }
            Some(TaskOutcome::Succeeded(env))
        }
        other => function_failure(other, function, ctx, req.timeout_seconds.is_some(), rng),
    }
}

/// Whether a function name, partial or full ARN already ends in a qualifier.
fn has_qualifier(name: &str) -> bool {
    let parts: Vec<&str> = name.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) => parts.len() > i + 2,
        None => parts.len() > 1,
    }
}

fn function_failure(
    outcome: FunctionOutcome,
    function: &str,
    ctx: &InvokeContext,
    has_timer: bool,
    rng: &mut dyn FnMut() -> u64,
) -> Option<TaskOutcome> {
    match outcome {
        FunctionOutcome::Ok(v) => Some(TaskOutcome::Succeeded(v)),
        FunctionOutcome::Error { error_type, payload, .. } => Some(TaskOutcome::Failed {
            error: Some(error_type),
            cause: Some(serde_json::to_string(&payload).unwrap_or_default()),
        }),
        FunctionOutcome::NotFound => Some(failed(
            "Lambda.ResourceNotFoundException",
            &format!(
                "Function not found: {}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {}; Proxy: null)",
                function_arn(function, ctx),
                uuid(rng)
            ),
        )),
        FunctionOutcome::TimedOut if has_timer => None,
        FunctionOutcome::TimedOut => Some(TaskOutcome::Failed { error: Some("States.Timeout".into()), cause: None }),
    }
}

/// The full, unqualified ARN of a function named by name, partial or full ARN.
pub fn function_arn(function: &str, ctx: &InvokeContext) -> String {
    let parts: Vec<&str> = function.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", ..] => parts[..7.min(parts.len())].join(":"),
        [acct, "function", name, ..] => format!("arn:aws:lambda:{}:{acct}:function:{name}", ctx.region),
        [name, ..] => format!("arn:aws:lambda:{}:{}:function:{name}", ctx.region, ctx.account),
        [] => String::new(),
    }
}

/// Lambda's response envelope as the optimized integration returns it.
pub fn lambda_envelope(
    payload: Value,
    status: u16,
    qualifier: Option<&str>,
    request_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let version = qualifier.filter(|q| q.chars().all(|c| c.is_ascii_digit())).unwrap_or("$LATEST");
    // The body length as a Python runtime serialises it (`json.dumps`, spaced separators).
    let len = spaced_json(&payload).len();
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let trace = format!("root=1-{}-{};sampled=0", &request_id[..8.min(request_id.len())], request_id.replace('-', ""));
    json!({
        "ExecutedVersion": version,
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": [version],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [len.to_string()],
                "Date": [date],
                "X-Amzn-Trace-Id": [trace],
                "Content-Type": ["application/json"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": len.to_string(),
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": version,
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": trace
            },
            "HttpStatusCode": status
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": status
    })
}

/// JSON as Python's `json.dumps` writes it by default: `", "` and `": "` separators, every
/// character outside printable ASCII escaped as `\uXXXX` (UTF-16 units), floats as Python's
/// `repr` (`1e-07`, `1e+16`, `1.0`). What a Python Lambda runtime answers, and what the
/// recorded tests sent as execution input.
pub fn spaced_json(v: &Value) -> String {
    struct Python;
    impl serde_json::ser::Formatter for Python {
        fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                w.write_all(b", ")
            }
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
            if first {
                Ok(())
            } else {
                w.write_all(b", ")
            }
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            w.write_all(b": ")
        }
        fn write_f64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, value: f64) -> std::io::Result<()> {
            w.write_all(python_float(value).as_bytes())
        }
        fn write_string_fragment<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> std::io::Result<()> {
            for c in fragment.chars() {
                if (' '..='~').contains(&c) {
                    w.write_all(&[c as u8])?;
                } else {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        write!(w, "\\u{unit:04x}")?;
                    }
                }
            }
            Ok(())
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Python);
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return v.to_string();
    }
    String::from_utf8(out).unwrap_or_default()
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

    #[test]
    fn function_arns_are_completed_from_names() {
        let ctx = InvokeContext { region: "eu-west-1", account: "111", now: chrono::Utc::now() };
        assert_eq!(function_arn("f", &ctx), "arn:aws:lambda:eu-west-1:111:function:f");
        assert_eq!(function_arn("222:function:f", &ctx), "arn:aws:lambda:eu-west-1:222:function:f");
        assert_eq!(
            function_arn("arn:aws:lambda:us-east-1:3:function:f:prod", &ctx),
            "arn:aws:lambda:us-east-1:3:function:f"
        );
    }

    #[test]
    fn qualifiers_are_detected() {
        assert!(!has_qualifier("f"));
        assert!(has_qualifier("f:prod"));
        assert!(!has_qualifier("arn:aws:lambda:us-east-1:1:function:f"));
        assert!(has_qualifier("arn:aws:lambda:us-east-1:1:function:f:7"));
        assert!(!has_qualifier("1:function:f"));
    }

    #[test]
    fn spaced_json_matches_python() {
        // Each expected text is what Python 3's json.dumps prints for the same value.
        assert_eq!(spaced_json(&json!({"a": [1, 2], "b": {"c": "d"}})), r#"{"a": [1, 2], "b": {"c": "d"}}"#);
        assert_eq!(spaced_json(&json!({"a": [1, 2], "b": "é\n\u{7f}"})), r#"{"a": [1, 2], "b": "\u00e9\n\u007f"}"#);
        assert_eq!(spaced_json(&json!([1.0, 0.5, 1e16, 1.5e-7, -0.0001])), "[1.0, 0.5, 1e+16, 1.5e-07, -0.0001]");
        assert_eq!(spaced_json(&json!("😀")), r#""\ud83d\ude00""#);
    }
}
