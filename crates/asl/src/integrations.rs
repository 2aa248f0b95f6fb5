//! Task integrations: turning a [`TaskRequest`] into task outcomes with AWS's result shapes.
//!
//! The optimized `arn:aws:states:::lambda:invoke` integration wraps the function's result in
//! Lambda's response envelope (`ExecutedVersion`, `Payload` parsed from JSON, `StatusCode`,
//! `SdkHttpMetadata`, `SdkResponseMetadata`); a `FunctionError` fails the task with the
//! function's `errorType` as the error and its error payload as the cause; `InvocationType:
//! Event` answers 202 without waiting; a bare function ARN yields the raw output. SQS
//! `sendMessage` and SNS `publish` answer with their services' response shapes.
//!
//! The actual I/O is behind [`FunctionInvoker`], so the in-memory runner, the durable local
//! runtime and the AWS adapters share this code.

use crate::stepper::{Integration, TaskOutcome, TaskRequest};
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

/// The I/O behind Task states: functions, and optionally queues and topics.
pub trait FunctionInvoker {
    /// Invokes `function` (a name, partial or full ARN, maybe with a qualifier) with `payload`.
    fn invoke(&mut self, function: &str, payload: &Value, timeout: Option<Duration>) -> FunctionOutcome;

    /// SQS SendMessage with the task's parameters (`QueueUrl`, `MessageBody`, ...). The default
    /// accepts and drops the message: an in-memory run keeps no queues.
    fn send_message(&mut self, _queue_url: &str, _body: &str, _params: &Value) -> Result<(), (String, String)> {
        Ok(())
    }

    /// SNS Publish with the task's parameters (`TopicArn`, `Message`, ...). The default accepts
    /// and drops the message.
    fn publish(&mut self, _topic_arn: &str, _message: &str, _params: &Value) -> Result<(), (String, String)> {
        Ok(())
    }
}

/// Where the task runs, for ARNs in error messages.
pub struct InvokeContext<'a> {
    /// Region.
    pub region: &'a str,
    /// Account id.
    pub account: &'a str,
    /// The runtime's clock at the call (for response headers), so replays are identical.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// The I/O a task request needs, decided without doing it.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// Invoke a Lambda function.
    Invoke {
        /// Name, partial or full ARN (maybe qualified).
        function: String,
        /// The event.
        payload: Value,
        /// Give up after this long.
        timeout: Option<Duration>,
        /// `InvocationType: Event`: start it and don't wait for its result.
        asynchronous: bool,
    },
    /// SQS SendMessage.
    SendMessage {
        /// `QueueUrl`.
        queue_url: String,
        /// `MessageBody`, serialised when it is JSON.
        body: String,
    },
    /// SNS Publish.
    Publish {
        /// `TopicArn` (or `TargetArn`).
        topic_arn: String,
        /// `Message`, serialised when it is JSON.
        message: String,
    },
    /// No I/O: the outcome is already known (a malformed request, an unsupported resource).
    Done(TaskOutcome),
}

/// What the I/O of a [`Call`] returned.
#[derive(Debug, Clone, PartialEq)]
pub enum CallResult {
    /// A function's outcome.
    Function(FunctionOutcome),
    /// A message was sent or published (its id, when the service gave one) or refused
    /// (error name, cause).
    Delivered(Result<Option<String>, (String, String)>),
    /// Nothing was done ([`Call::Done`]).
    Nothing,
}

/// Decides the I/O for a task request.
pub fn plan(req: &TaskRequest) -> Call {
    let timeout = req.timeout_seconds.map(Duration::from_secs);
    let p = &req.parameters;
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    match req.integration {
        Integration::LambdaArn => {
            Call::Invoke { function: req.resource.clone(), payload: p.clone(), timeout, asynchronous: false }
        }
        Integration::LambdaInvoke => {
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
        Integration::SqsSendMessage => Call::SendMessage {
            queue_url: p.get("QueueUrl").and_then(Value::as_str).unwrap_or_default().to_string(),
            body: text(p.get("MessageBody")),
        },
        Integration::SnsPublish => Call::Publish {
            topic_arn: p
                .get("TopicArn")
                .or_else(|| p.get("TargetArn"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            message: text(p.get("Message")),
        },
        Integration::Unsupported => Call::Done(failed(
            "States.Runtime",
            &format!(
                "stepwise does not support the resource '{}' (supported: Lambda function ARNs, \
                 arn:aws:states:::lambda:invoke, arn:aws:states:::sqs:sendMessage and \
                 arn:aws:states:::sns:publish, each also with .waitForTaskToken where AWS allows it)",
                req.resource
            ),
        )),
    }
}

/// Turns what the I/O returned into what to report to the stepper, in order, with AWS's
/// result shapes.
///
/// A `.waitForTaskToken` request yields `Submitted` only: the result comes later through the
/// token. A function that timed out yields nothing when the stepper holds a timeout timer (the
/// timer reports it).
pub fn complete(
    req: &TaskRequest,
    call: &Call,
    result: CallResult,
    ctx: &InvokeContext,
    rng: &mut dyn FnMut() -> u64,
) -> Vec<TaskOutcome> {
    let p = &req.parameters;
    let outcome = match (call, result) {
        (Call::Done(outcome), _) => outcome.clone(),
        (Call::Invoke { function, .. }, CallResult::Function(f)) if req.integration == Integration::LambdaArn => {
            match f {
                FunctionOutcome::Ok(v) => TaskOutcome::Succeeded(v),
                // The legacy integration reports the error payload as Lambda's runtime printed it.
                FunctionOutcome::Error { error_type, payload, .. } => {
                    TaskOutcome::Failed { error: Some(error_type), cause: Some(spaced_json(&payload)) }
                }
                other => match function_failure(other, function, ctx, req.timeout_seconds.is_some(), rng) {
                    Some(f) => f,
                    None => return Vec::new(),
                },
            }
        }
        (Call::Invoke { function, asynchronous, .. }, CallResult::Function(f)) => {
            let qualifier = p.get("Qualifier").and_then(Value::as_str);
            let request_id = uuid(rng);
            match f {
                FunctionOutcome::Ok(_) | FunctionOutcome::Error { .. } if *asynchronous => TaskOutcome::Succeeded(
                    lambda_envelope(Value::String(String::new()), 202, qualifier, &request_id, ctx.now),
                ),
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
                    TaskOutcome::Succeeded(env)
                }
                other => match function_failure(other, function, ctx, req.timeout_seconds.is_some(), rng) {
                    Some(f) => f,
                    None => return Vec::new(),
                },
            }
        }
        (Call::SendMessage { body, .. }, CallResult::Delivered(r)) => match r {
            Ok(id) => {
                let rid = uuid(rng);
                let mut out = json!({
                    "MD5OfMessageBody": md5_hex(body.as_bytes()),
                    "MessageId": id.unwrap_or_else(|| uuid(rng)),
                });
                add_sdk_metadata(&mut out, &rid, body.len());
                TaskOutcome::Succeeded(out)
            }
            Err((e, c)) => failed(&e, &c),
        },
        (Call::Publish { .. }, CallResult::Delivered(r)) => match r {
            Ok(id) => {
                let rid = uuid(rng);
                let mut out = json!({"MessageId": id.unwrap_or_else(|| uuid(rng))});
                add_sdk_metadata(&mut out, &rid, 0);
                TaskOutcome::Succeeded(out)
            }
            Err((e, c)) => failed(&e, &c),
        },
        (call, result) => {
            failed("States.Runtime", &format!("internal: the result {result:?} does not answer the call {call:?}"))
        }
    };
    if req.wait_for_task_token {
        return match outcome {
            TaskOutcome::Succeeded(v) => vec![TaskOutcome::Submitted(v)],
            other => vec![other],
        };
    }
    vec![outcome]
}

/// Whether a function name, partial or full ARN already ends in a qualifier.
fn has_qualifier(name: &str) -> bool {
    let parts: Vec<&str> = name.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) => parts.len() > i + 2,
        None => parts.len() > 1,
    }
}

/// Performs a task request synchronously through `functions` (plan, I/O, complete).
pub fn perform(
    req: &TaskRequest,
    ctx: &InvokeContext,
    functions: &mut dyn FunctionInvoker,
    rng: &mut dyn FnMut() -> u64,
) -> Vec<TaskOutcome> {
    let call = plan(req);
    let result = match &call {
        Call::Invoke { function, payload, timeout, .. } => {
            CallResult::Function(functions.invoke(function, payload, *timeout))
        }
        Call::SendMessage { queue_url, body } => {
            CallResult::Delivered(functions.send_message(queue_url, body, &req.parameters).map(|_| None))
        }
        Call::Publish { topic_arn, message } => {
            CallResult::Delivered(functions.publish(topic_arn, message, &req.parameters).map(|_| None))
        }
        Call::Done(_) => CallResult::Nothing,
    };
    complete(req, &call, result, ctx, rng)
}

fn failed(error: &str, cause: &str) -> TaskOutcome {
    TaskOutcome::Failed { error: Some(error.into()), cause: Some(cause.into()) }
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

fn add_sdk_metadata(out: &mut Value, request_id: &str, len: usize) {
    if let Some(o) = out.as_object_mut() {
        o.insert(
            "SdkHttpMetadata".into(),
            json!({
                "AllHttpHeaders": {
                    "x-amzn-RequestId": [request_id],
                    "Content-Length": [len.to_string()],
                    "Content-Type": ["text/xml"]
                },
                "HttpHeaders": {
                    "Content-Length": len.to_string(),
                    "Content-Type": "text/xml",
                    "x-amzn-RequestId": request_id
                },
                "HttpStatusCode": 200
            }),
        );
        o.insert("SdkResponseMetadata".into(), json!({"RequestId": request_id}));
    }
}

/// A version-4 UUID from the random source.
pub fn uuid(rng: &mut dyn FnMut() -> u64) -> String {
    let a = rng();
    let b = rng();
    let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

/// JSON with `", "` and `": "` separators, as Python's `json.dumps` writes it.
pub fn spaced_json(v: &Value) -> String {
    struct Spaced;
    impl serde_json::ser::Formatter for Spaced {
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
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return v.to_string();
    }
    String::from_utf8(out).unwrap_or_default()
}

fn md5_hex(b: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
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
        assert_eq!(spaced_json(&json!({"a": [1, 2], "b": {"c": "d"}})), r#"{"a": [1, 2], "b": {"c": "d"}}"#);
    }

    #[test]
    fn uuids_are_version_4() {
        let mut n = 0u64;
        let u = uuid(&mut || {
            n += 0x1234_5678_9abc_def1;
            n
        });
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
