//! The HTTP API handlers (API Gateway HTTP API, payload format 2.0): the Step Functions API
//! (`stepwise-api`, the same operations `stepwise serve` answers) and the path routes of the
//! task-token calls and StartExecution.
//!
//! Two protocols are served:
//!
//! - **AWS JSON 1.0**, as the Step Functions endpoint speaks it: a `POST` with `X-Amz-Target:
//!   AWSStepFunctions.<Operation>` and the operation's JSON body; answers are
//!   `application/x-amz-json-1.0`. The API function ([`api_function`], at `POST /`) serves
//!   every operation of [`stepwise_api`]: CreateStateMachine through SendTaskHeartbeat, so
//!   `aws stepfunctions --endpoint-url` and the SDKs work against the deployment; the
//!   `start-execution` function serves `StartExecution`.
//! - **Paths**: `POST /send-task-success` (`{"taskToken", "output"}`), `POST /send-task-failure`
//!   (`{"taskToken", "error"?, "cause"?}`), `POST /send-task-heartbeat` (`{"taskToken"}`),
//!   `POST /executions` (`{"stateMachineArn", "name"?, "input"?}`). Only the last path segment
//!   counts, so a stage prefix (`/prod/executions`) is fine.
//!
//! Errors are `{"__type": CODE, "message": ...}` with AWS's codes ([`stepwise_api::ApiError`]):
//! `400` for the caller's errors, `500` for `InternalFailure` (the store or a queue failed: the
//! caller may retry).

use crate::sqs::start_execution_sqs;
use aws_lambda_events::event::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;
use stepwise_api::{ApiError, AMZ_JSON};
use stepwise_runtime::ports::{Clock, Functions, Queue, Store, Topics};
use stepwise_runtime::{Error, Runtime};
use tracing::field::Empty;
use tracing::{error, info, info_span, warn, Instrument, Span};

/// Which operations a function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serves {
    /// Every operation of the API, and the task-token paths.
    Api,
    /// StartExecution only (`POST /executions`).
    StartExecution,
}

/// The operation a path names.
fn path_operation(path: &str) -> Option<&'static str> {
    Some(match path.trim_end_matches('/').rsplit('/').next()? {
        "send-task-success" => "SendTaskSuccess",
        "send-task-failure" => "SendTaskFailure",
        "send-task-heartbeat" => "SendTaskHeartbeat",
        "executions" => "StartExecution",
        _ => return None,
    })
}

/// The HTTP answer for a runtime error: `{"__type": e.code(), "message": ...}`, status 400
/// (500 for `InternalFailure`).
pub fn api_error(e: Error) -> Response<Body> {
    respond(Err(ApiError::from(e)), false)
}

fn respond(result: Result<Value, ApiError>, amz_json: bool) -> Response<Body> {
    let (status, body) = match result {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => (StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), e.body()),
    };
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(if amz_json { AMZ_JSON } else { "application/json" }));
    resp
}

fn not_post(req: &Request) -> ApiError {
    ApiError {
        status: 405,
        code: "UnknownOperationException".into(),
        message: format!("{} is not supported: use POST", req.method()),
    }
}

/// The operation a request asks for, and whether it speaks AWS JSON 1.0 (an `X-Amz-Target`).
fn route(req: &Request, serves: Serves) -> (Result<String, ApiError>, bool) {
    let amz_json = req.headers().contains_key("x-amz-target");
    let op = if req.method() != Method::POST {
        Err(not_post(req))
    } else if let Some(target) = req.headers().get("x-amz-target") {
        stepwise_api::operation(target.to_str().unwrap_or_default()).map(str::to_string)
    } else {
        let path = req.uri().path();
        path_operation(path).map(str::to_string).ok_or_else(|| ApiError {
            status: 404,
            code: "UnknownOperationException".into(),
            message: format!("no operation at '{path}'"),
        })
    };
    let op = op.and_then(|op| match serves {
        Serves::Api if op == "StartExecution" && !amz_json => {
            Err(ApiError::bad("UnknownOperationException", "StartExecution by path is served at POST /executions"))
        }
        Serves::StartExecution if op != "StartExecution" => {
            Err(ApiError::bad("UnknownOperationException", format!("{op} is not served by this function")))
        }
        _ => Ok(op),
    });
    (op, amz_json)
}

fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(s) => s.as_bytes(),
        Body::Binary(b) => b,
    }
}

/// Serves a request, logging the outcome.
async fn serve<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>, req: Request, serves: Serves, span: Span) -> Response<Body>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    let (op, amz_json) = route(&req, serves);
    let result = async {
        let op = op?;
        Span::current().record("operation", op.as_str());
        let result = stepwise_api::call(rt, &op, body_bytes(&req)).await;
        if let Ok(arn) = result.as_ref().map(|v| v.get("executionArn").and_then(Value::as_str).unwrap_or_default()) {
            if !arn.is_empty() {
                Span::current().record("execution_arn", arn);
            }
        }
        result
    }
    .instrument(span.clone())
    .await;
    span.in_scope(|| match &result {
        Ok(_) => info!(status = 200, "request served"),
        Err(e) if e.status >= 500 => error!(status = e.status, code = %e.code, message = %e.message, "request failed"),
        Err(e) => warn!(status = e.status, code = %e.code, message = %e.message, "request rejected"),
    });
    respond(result, amz_json)
}

/// The API function: the whole Step Functions API at `POST /` (AWS JSON 1.0, see
/// [`stepwise_api`]), and the task-token paths `POST /send-task-success`, `/send-task-failure`,
/// `/send-task-heartbeat` (see the [module documentation](self)). StartExecution by path is
/// the `start-execution` function's (`POST /executions`).
pub async fn api_function<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>, req: Request) -> Response<Body>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    let span = info_span!("api", execution_arn = Empty, state = Empty, operation = Empty);
    serve(rt, req, Serves::Api, span).await
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
    serve(rt, req, Serves::StartExecution, span).await
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
pub async fn start_execution_event<S, Q, T, F, C>(
    rt: &Runtime<S, Q, T, F, C>,
    event: Value,
) -> Result<StartEventResponse, Diagnostic>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    match StartEvent::parse(event) {
        Ok(StartEvent::Sqs(e)) => Ok(StartEventResponse::Sqs(start_execution_sqs(rt, e).await)),
        Ok(StartEvent::Http(req)) => {
            Ok(StartEventResponse::Http(Box::new(to_apigw_v2(start_execution_http(rt, *req).await))))
        }
        Err(message) => {
            error!(error = %message, "unknown event");
            Err(Diagnostic { error_type: stepwise_sample::INVALID_EVENT.into(), error_message: message })
        }
    }
}
