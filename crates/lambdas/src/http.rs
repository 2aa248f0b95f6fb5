//! The HTTP API handlers (API Gateway HTTP API, payload format 2.0): the task-token calls and
//! StartExecution, in the Step Functions API's request and error shapes.
//!
//! Two protocols are served:
//!
//! - **Paths**: `POST /send-task-success` (`{"taskToken", "output"}`), `POST /send-task-failure`
//!   (`{"taskToken", "error"?, "cause"?}`), `POST /send-task-heartbeat` (`{"taskToken"}`),
//!   `POST /executions` (`{"stateMachineArn", "name"?, "input"?}`). Only the last path segment
//!   counts, so a stage prefix (`/prod/executions`) is fine.
//! - **AWS JSON 1.0**, as the Step Functions endpoint speaks it: a `POST` on any path with
//!   `X-Amz-Target: AWSStepFunctions.SendTaskSuccess` (`SendTaskFailure`, `SendTaskHeartbeat`:
//!   the template routes `POST /` to the token completer; `StartExecution`: `POST /executions`)
//!   and the same bodies; answers are `application/x-amz-json-1.0`.
//!
//! Success is `200` with `{}` (StartExecution: `{"executionArn", "startDate"}`, the date in
//! epoch seconds). Errors are `{"__type": CODE, "message": ...}` with AWS's codes
//! ([`stepwise_runtime::Error::code`]): `400` for the caller's errors (`InvalidToken`,
//! `TaskDoesNotExist`, `TaskTimedOut`, `InvalidOutput`, `ValidationException`,
//! `SerializationException` for a body that is not the expected JSON,
//! `UnknownOperationException`), `500` for `InternalFailure` (the store or a queue failed: the
//! caller may retry).

use crate::sqs::start_execution_sqs;
use crate::start::{start, StartExecutionInput};
use aws_lambda_events::event::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::{json, Map, Value};
use stepwise_runtime::driver::token_hash;
use stepwise_runtime::ports::{Clock, Functions, Queue, Store, Topics};
use stepwise_runtime::{Error, Runtime};
use tracing::field::Empty;
use tracing::{error, info, info_span, warn, Instrument, Span};

/// The `X-Amz-Target` prefix of the Step Functions API.
const TARGET_PREFIX: &str = "AWSStepFunctions.";

/// The content type of the AWS JSON 1.0 protocol.
const AMZ_JSON: &str = "application/x-amz-json-1.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    SendTaskSuccess,
    SendTaskFailure,
    SendTaskHeartbeat,
    StartExecution,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::SendTaskSuccess => "SendTaskSuccess",
            Op::SendTaskFailure => "SendTaskFailure",
            Op::SendTaskHeartbeat => "SendTaskHeartbeat",
            Op::StartExecution => "StartExecution",
        }
    }
    fn from_target(target: &str) -> Option<Op> {
        Some(match target.strip_prefix(TARGET_PREFIX)? {
            "SendTaskSuccess" => Op::SendTaskSuccess,
            "SendTaskFailure" => Op::SendTaskFailure,
            "SendTaskHeartbeat" => Op::SendTaskHeartbeat,
            "StartExecution" => Op::StartExecution,
            _ => return None,
        })
    }
    fn from_path(path: &str) -> Option<Op> {
        Some(match path.trim_end_matches('/').rsplit('/').next()? {
            "send-task-success" => Op::SendTaskSuccess,
            "send-task-failure" => Op::SendTaskFailure,
            "send-task-heartbeat" => Op::SendTaskHeartbeat,
            "executions" => Op::StartExecution,
            _ => return None,
        })
    }
}

/// An error answer: HTTP status, `__type` and message.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into() }
    }
    fn serialization(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "SerializationException", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let text = e.to_string();
        // The runtime's messages start with the code (`InvalidToken: ...`); AWS's `message`
        // does not repeat it.
        let message = text.strip_prefix(code).and_then(|m| m.strip_prefix(": ")).unwrap_or(&text).to_string();
        let status = if code == "InternalFailure" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
        ApiError { status, code: code.into(), message }
    }
}

/// The HTTP answer for a runtime error: `{"__type": e.code(), "message": ...}`, status 400
/// (500 for `InternalFailure`).
pub fn api_error(e: Error) -> Response<Body> {
    respond(Err(ApiError::from(e)), false)
}

fn respond(result: Result<Value, ApiError>, amz_json: bool) -> Response<Body> {
    let (status, body) = match result {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (e.status, json!({"__type": e.code, "message": e.message})),
    };
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(if amz_json { AMZ_JSON } else { "application/json" }));
    resp
}

/// The operation a request asks for, and whether it speaks AWS JSON 1.0 (an `X-Amz-Target`).
fn route(req: &Request) -> (Result<Op, ApiError>, bool) {
    if let Some(target) = req.headers().get("x-amz-target") {
        let target = target.to_str().unwrap_or_default();
        let op = Op::from_target(target)
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "UnknownOperationException", format!("unknown operation '{target}'")));
        return (if req.method() == Method::POST { op } else { Err(not_post(req)) }, true);
    }
    let path = req.uri().path();
    let op = match Op::from_path(path) {
        Some(_) if req.method() != Method::POST => Err(not_post(req)),
        Some(op) => Ok(op),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "UnknownOperationException", format!("no operation at '{path}'"))),
    };
    (op, false)
}

fn not_post(req: &Request) -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "UnknownOperationException", format!("{} is not supported: use POST", req.method()))
}

/// The request body as a JSON object (an empty body is `{}`).
fn body_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let text = match req.body() {
        Body::Empty => return Ok(Map::new()),
        Body::Text(s) => s.as_str(),
        Body::Binary(b) => std::str::from_utf8(b).map_err(|_| ApiError::serialization("the request body is not UTF-8 text"))?,
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::serialization("the request body must be a JSON object")),
        Err(e) => Err(ApiError::serialization(format!("the request body is not valid JSON: {e}"))),
    }
}

/// A string field: absent (or null) is `None`; any other non-string is a serialization error.
fn string_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::serialization(format!("'{name}' must be a string"))),
    }
}

fn required(body: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    string_field(body, name)?.ok_or_else(|| {
        Error::Validation(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
        .into()
    })
}

async fn call<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>, op: Op, body: &Map<String, Value>) -> Result<Value, ApiError>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    if op == Op::StartExecution {
        let req: StartExecutionInput = serde_json::from_value(Value::Object(body.clone()))
            .map_err(|e| ApiError::serialization(format!("the request is not a StartExecution request: {e}")))?;
        let started = start(rt, &req, crate::uuid_v4, false).await?;
        return Ok(json!({"executionArn": started.arn, "startDate": crate::epoch_seconds(started.start)}));
    }
    let token = required(body, "taskToken")?;
    if let Ok(Some(entry)) = rt.store.find_token(&token_hash(&token)).await {
        let span = Span::current();
        span.record("execution_arn", entry.execution_arn.as_str());
        span.record("state", entry.state_name.as_str());
    }
    match op {
        Op::SendTaskSuccess => {
            let output = required(body, "output")?;
            rt.send_task_success(&token, &output).await?;
        }
        Op::SendTaskFailure => {
            let error = string_field(body, "error")?;
            let cause = string_field(body, "cause")?;
            rt.send_task_failure(&token, error.as_deref(), cause.as_deref()).await?;
        }
        Op::SendTaskHeartbeat => rt.send_task_heartbeat(&token).await?,
        Op::StartExecution => unreachable!("handled above"),
    }
    Ok(json!({}))
}

/// Serves a request for the operations in `allowed`, logging the outcome.
async fn serve<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>, req: Request, allowed: &[Op], span: Span) -> Response<Body>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    let (op, amz_json) = route(&req);
    let result = async {
        let op = op?;
        Span::current().record("operation", op.name());
        if !allowed.contains(&op) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                match op {
                    Op::StartExecution => "StartExecution is served at POST /executions".to_string(),
                    _ => format!("{} is not served by this function", op.name()),
                },
            ));
        }
        let body = body_object(&req)?;
        call(rt, op, &body).await
    }
    .instrument(span.clone())
    .await;
    span.in_scope(|| match &result {
        Ok(_) => info!(status = 200, "request served"),
        Err(e) if e.status.is_server_error() => error!(status = e.status.as_u16(), code = %e.code, message = %e.message, "request failed"),
        Err(e) => warn!(status = e.status.as_u16(), code = %e.code, message = %e.message, "request rejected"),
    });
    respond(result, amz_json)
}

/// The token completer: `SendTaskSuccess`, `SendTaskFailure` and `SendTaskHeartbeat` over the
/// HTTP API (see the [module documentation](self) for routes, bodies and errors).
/// `StartExecution` is the `start-execution` function's (`POST /executions`): here it is an
/// `UnknownOperationException`.
pub async fn token_completer<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>, req: Request) -> Response<Body>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    let span = info_span!("token_completer", execution_arn = Empty, state = Empty, operation = Empty);
    let allowed = [Op::SendTaskSuccess, Op::SendTaskFailure, Op::SendTaskHeartbeat];
    serve(rt, req, &allowed, span).await
}

/// StartExecution over the HTTP API: `POST /executions`, or `X-Amz-Target:
/// AWSStepFunctions.StartExecution`, with `{"stateMachineArn", "name"?, "input"?}`; answers
/// `{"executionArn", "startDate"}`. The name defaults to a UUID. Starting again with the name
/// and input of a running execution returns that execution (AWS's idempotent start); a name in
/// use otherwise is `ExecutionAlreadyExists`.
pub async fn start_execution_http<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>, req: Request) -> Response<Body>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    let span = info_span!("start_execution", execution_arn = Empty, state = Empty, operation = Empty);
    serve(rt, req, &[Op::StartExecution], span).await
}

/// The events the `start-execution` function receives: an SQS batch from the start queue, or
/// an HTTP API request.
#[derive(Debug)]
pub enum StartEvent {
    /// Records of the start queue.
    Sqs(SqsEvent),
    /// An HTTP API (payload 2.0) request.
    Http(Box<Request>),
}

impl StartEvent {
    /// Tells the event kind from its JSON: SQS events have `Records`, HTTP API requests a
    /// `requestContext`.
    pub fn parse(event: Value) -> Result<StartEvent, String> {
        if event.get("Records").is_some() {
            return serde_json::from_value(event).map(StartEvent::Sqs).map_err(|e| format!("not an SQS event: {e}"));
        }
        if event.get("requestContext").is_some() {
            return lambda_http::request::from_str(&event.to_string())
                .map(|r| StartEvent::Http(Box::new(r)))
                .map_err(|e| format!("not an HTTP API request: {e}"));
        }
        Err("the event is neither an SQS event (Records) nor an HTTP API request (requestContext)".into())
    }
}

/// What the `start-execution` function answers: a partial batch response to SQS, an HTTP API
/// response to API Gateway.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StartEventResponse {
    /// To SQS.
    Sqs(SqsBatchResponse),
    /// To the HTTP API.
    Http(Box<ApiGatewayV2httpResponse>),
}

/// Converts an HTTP response to the HTTP API's payload 2.0 response.
fn to_apigw_v2(resp: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = resp.into_parts();
    let (body, is_base64_encoded) = match body {
        Body::Empty => (None, false),
        b @ Body::Text(_) => (Some(b), false),
        b @ Body::Binary(_) => (Some(b), true),
    };
    ApiGatewayV2httpResponse {
        status_code: i64::from(parts.status.as_u16()),
        headers: parts.headers,
        multi_value_headers: Default::default(),
        body,
        is_base64_encoded,
        cookies: Vec::new(),
    }
}

/// The `start-execution` function: StartExecution from the start queue
/// ([`start_execution_sqs`]) or from the HTTP API ([`start_execution_http`]), told apart by
/// [`StartEvent::parse`]. An event of neither kind is a Lambda error (`InvalidEvent`).
pub async fn start_execution_event<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>, event: Value) -> Result<StartEventResponse, Diagnostic>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    match StartEvent::parse(event) {
        Ok(StartEvent::Sqs(e)) => Ok(StartEventResponse::Sqs(start_execution_sqs(rt, e).await)),
        Ok(StartEvent::Http(req)) => Ok(StartEventResponse::Http(Box::new(to_apigw_v2(start_execution_http(rt, *req).await)))),
        Err(message) => {
            error!(error = %message, "unknown event");
            Err(Diagnostic { error_type: stepwise_sample::INVALID_EVENT.into(), error_message: message })
        }
    }
}
