//! `stepwise serve`: the Step Functions API on 127.0.0.1, over the durable embedded runtime.
//!
//! The server speaks the **AWS JSON 1.0** protocol as the Step Functions endpoint does: `POST /`
//! with `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON body with AWS's (camelCase)
//! field names; answers are `application/x-amz-json-1.0`, timestamps are epoch seconds with
//! milliseconds as the fraction, and errors are HTTP 400 with `{"__type": CODE, "message": ...}`
//! and AWS's exception names (500 with `InternalFailure` when the store fails), so the AWS CLI
//! and SDKs raise their typed exceptions. SigV4 signatures are accepted and not checked.
//!
//! Operations: CreateStateMachine, DescribeStateMachine, ListStateMachines,
//! ValidateStateMachineDefinition, StartExecution, StartSyncExecution, DescribeExecution,
//! DescribeStateMachineForExecution, StopExecution, GetExecutionHistory, ListExecutions,
//! SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat. Anything else is
//! `UnknownOperationException`.
//!
//! Executions advance in the background: the server runs the step driver (`work_until`) on the
//! same runtime. Everything lives in the data directory, so a restarted server carries on with
//! the executions it left running.

use crate::run::{open_runtime, LocalRuntime};
use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_asl::history::HistoryEvent;
use stepwise_asl::stepper::{ExecutionInfo, Status};
use stepwise_runtime::ports::{Clock, Machine, Store};
use stepwise_runtime::Error;

/// The `X-Amz-Target` prefix of the Step Functions API.
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";

/// The content type of the AWS JSON 1.0 protocol.
pub const AMZ_JSON: &str = "application/x-amz-json-1.0";

/// The largest request body accepted (a definition is at most 1 MB, an input 256 KiB).
const MAX_BODY: usize = 4 << 20;

/// How long StartSyncExecution waits for an execution (AWS's limit for EXPRESS: 5 minutes).
const SYNC_LIMIT: Duration = Duration::from_secs(300);

/// Options of `stepwise serve`.
pub struct ServeArgs {
    /// TCP port on 127.0.0.1 (0: any free port; the address is printed).
    pub port: u16,
    /// Data directory of the embedded runtime.
    pub data_dir: PathBuf,
    /// Functions registry (`functions.json` format) for Lambda tasks.
    pub functions: Option<PathBuf>,
}

/// `stepwise serve`: binds 127.0.0.1:`port`, prints `listening on http://ADDR`, starts the
/// step driver and serves requests until the process is killed.
pub async fn serve(args: ServeArgs) -> Result<()> {
    let rt = Arc::new(open_runtime(&args.data_dir, args.functions.as_deref())?);
    let api = Arc::new(Api { rt: rt.clone() });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    // The step driver; if its queue fails it is restarted after a pause.
    tokio::spawn(async move {
        loop {
            if let Err(e) = rt.work_until(|| false).await {
                eprintln!("stepwise serve: step driver stopped ({e}); restarting");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("stepwise serve: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let api = api.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                eprintln!("stepwise serve: connection error: {e}");
            }
        });
    }
}

/// An error answer: HTTP status, `__type` and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    fn bad(code: &str, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code: code.into(), message: message.into() }
    }
    fn serialization(message: impl Into<String>) -> Self {
        ApiError::bad("SerializationException", message)
    }
    fn validation(message: impl Into<String>) -> Self {
        ApiError::bad("ValidationException", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        let text = e.to_string();
        // The runtime's messages start with the code; AWS's `message` does not repeat it.
        let message = text.strip_prefix(code).and_then(|m| m.strip_prefix(": ")).unwrap_or(&text).to_string();
        let status = if code == "InternalFailure" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
        ApiError { status, code: code.into(), message }
    }
}

type ApiResult = std::result::Result<Value, ApiError>;

/// A time as the AWS JSON protocol writes timestamps: epoch seconds, milliseconds as the fraction.
pub fn epoch_seconds(t: DateTime<Utc>) -> Value {
    serde_json::Number::from_f64(t.timestamp_millis() as f64 / 1000.0).map(Value::Number).unwrap_or(Value::Null)
}

fn uuid_v4() -> String {
    let bits: u128 = rand::random();
    let b = (((bits & !(0xf000u128 << 64)) | (0x4000u128 << 64)) & !(0xc000u128 << 48)) | (0x8000u128 << 48);
    let h = format!("{b:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A request body field reader with AWS's validation errors.
struct Body(Map<String, Value>);

impl Body {
    fn string(&self, name: &str) -> std::result::Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::serialization(format!("'{name}' must be a string"))),
        }
    }
    fn required(&self, name: &str) -> std::result::Result<String, ApiError> {
        self.string(name)?.ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }
    fn bool(&self, name: &str, default: bool) -> std::result::Result<bool, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::serialization(format!("'{name}' must be a boolean"))),
        }
    }
    /// `maxResults`: 0 (the default) means `default`; above 1000 is a ValidationException.
    fn max_results(&self, default: usize) -> std::result::Result<usize, ApiError> {
        match self.0.get("maxResults") {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Ok(default),
                Some(v @ 1..=1000) => Ok(v as usize),
                _ => Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
                ))),
            },
            Some(_) => Err(ApiError::serialization("'maxResults' must be an integer")),
        }
    }
    /// `nextToken` as the offset it encodes (`InvalidToken` when it is not one of ours).
    fn offset(&self) -> std::result::Result<usize, ApiError> {
        match self.string("nextToken")? {
            None => Ok(0),
            Some(t) => t
                .strip_prefix("stepwise-page-")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| ApiError::bad("InvalidToken", format!("Invalid Token: '{t}'"))),
        }
    }
}

/// One page of `items` from `offset`, with the `nextToken` of the next page if any.
fn page<T>(items: Vec<T>, offset: usize, max: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = offset.saturating_add(max).min(total);
    let page: Vec<T> = items.into_iter().skip(offset).take(max).collect();
    let next = (end < total).then(|| format!("stepwise-page-{end}"));
    (page, next)
}

fn check_arn(arn: &str, kinds: &[&str]) -> std::result::Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() >= 7
        && parts[0] == "arn"
        && parts[2] == "states"
        && kinds.contains(&parts[5])
        && parts[6..].iter().all(|p| !p.is_empty());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad("InvalidArn", format!("Invalid Arn: '{arn}'")))
    }
}

/// The server's state: the runtime and where its database lives.
pub struct Api {
    rt: Arc<LocalRuntime>,
}

impl Api {
    /// Serves one HTTP request; never fails (errors are AWS error answers).
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let result = self.handle_inner(req).await;
        let (status, body) = match result {
            Ok(v) => (StatusCode::OK, v),
            Err(e) => (e.status, json!({"__type": e.code, "message": e.message})),
        };
        let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
        *resp.status_mut() = status;
        resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON));
        if let Ok(id) = HeaderValue::from_str(&uuid_v4()) {
            resp.headers_mut().insert("x-amzn-requestid", id);
        }
        resp
    }

    async fn handle_inner(&self, req: Request<Incoming>) -> ApiResult {
        if req.method() != Method::POST {
            return Err(ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                code: "UnknownOperationException".into(),
                message: format!("{} is not supported: use POST /", req.method()),
            });
        }
        let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let Some(op) = target.strip_prefix(TARGET_PREFIX).map(str::to_string) else {
            return Err(ApiError::bad("UnknownOperationException", format!("unknown operation '{target}'")));
        };
        let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return Err(ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "SerializationException".into(),
                    message: format!("the request body could not be read: {e}"),
                })
            }
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::serialization("the request body is not UTF-8 text"))?;
        let body = if text.trim().is_empty() {
            Map::new()
        } else {
            match serde_json::from_str(text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(ApiError::serialization("the request body must be a JSON object")),
                Err(e) => return Err(ApiError::serialization(format!("the request body is not valid JSON: {e}"))),
            }
        };
        self.call(&op, &Body(body)).await
    }

    /// Runs one operation on a parsed body.
    async fn call(&self, op: &str, b: &Body) -> ApiResult {
        match op {
            "CreateStateMachine" => self.create_state_machine(b).await,
            "DescribeStateMachine" => {
                let arn = b.required("stateMachineArn")?;
                Ok(describe_machine(&self.machine(&arn).await?))
            }
            "ListStateMachines" => self.list_state_machines(b).await,
            "ValidateStateMachineDefinition" => validate_definition(b),
            "StartExecution" => self.start_execution(b).await,
            "StartSyncExecution" => self.start_sync_execution(b).await,
            "DescribeExecution" => {
                let arn = b.required("executionArn")?;
                self.describe_execution(&arn).await
            }
            "DescribeStateMachineForExecution" => {
                let arn = b.required("executionArn")?;
                check_arn(&arn, &["execution", "express"])?;
                let stored = self.rt.describe(&arn).await?;
                let m = self.machine(&stored.machine_arn).await?;
                let mut d = describe_machine(&m);
                if let Some(o) = d.as_object_mut() {
                    o.retain(|k, _| !["status", "type", "creationDate"].contains(&k.as_str()));
                    o.insert("updateDate".into(), epoch_seconds(m.created));
                }
                Ok(d)
            }
            "StopExecution" => {
                let arn = b.required("executionArn")?;
                check_arn(&arn, &["execution", "express"])?;
                let (error, cause) = (b.string("error")?, b.string("cause")?);
                if error.as_ref().is_some_and(|e| e.chars().count() > 256) {
                    return Err(ApiError::validation("1 validation error detected: Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256"));
                }
                self.rt.stop_execution(&arn, error, cause).await?;
                Ok(json!({"stopDate": epoch_seconds(self.rt.clock.now())}))
            }
            "GetExecutionHistory" => self.history(b).await,
            "ListExecutions" => self.list_executions(b).await,
            "SendTaskSuccess" => {
                let token = b.required("taskToken")?;
                let output = b.required("output")?;
                self.rt.send_task_success(&token, &output).await?;
                Ok(json!({}))
            }
            "SendTaskFailure" => {
                let token = b.required("taskToken")?;
                self.rt.send_task_failure(&token, b.string("error")?.as_deref(), b.string("cause")?.as_deref()).await?;
                Ok(json!({}))
            }
            "SendTaskHeartbeat" => {
                let token = b.required("taskToken")?;
                self.rt.send_task_heartbeat(&token).await?;
                Ok(json!({}))
            }
            other => Err(ApiError::bad("UnknownOperationException", format!("unknown operation '{other}'"))),
        }
    }

    async fn machine(&self, arn: &str) -> std::result::Result<Machine, ApiError> {
        check_arn(arn, &["stateMachine"])?;
        self.rt
            .store
            .get_machine(arn)
            .await?
            .ok_or_else(|| Error::StateMachineDoesNotExist(arn.into()).into())
    }

    async fn create_state_machine(&self, b: &Body) -> ApiResult {
        let name = b.required("name")?;
        let text = b.required("definition")?;
        let role = b.required("roleArn")?;
        let express = match b.string("type")?.as_deref() {
            None | Some("STANDARD") => false,
            Some("EXPRESS") => true,
            Some(t) => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
                )))
            }
        };
        if !role.starts_with("arn:") || role.split(':').count() < 6 {
            return Err(ApiError::bad("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {role}'")));
        }
        stepwise_runtime::driver::check_name(&name)?;
        let definition: Value = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidDefinition(format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {e}'")))?;
        let arn = format!("arn:aws:states:{}:{}:stateMachine:{name}", self.rt.config.region, self.rt.config.account);
        if let Some(existing) = self.rt.store.get_machine(&arn).await? {
            // AWS: creating the same machine again is idempotent; a different one is an error.
            if existing.definition == definition && existing.role_arn == role && existing.express == express {
                return Ok(json!({"stateMachineArn": existing.arn, "creationDate": epoch_seconds(existing.created)}));
            }
            return Err(ApiError::bad("StateMachineAlreadyExists", format!("State Machine Already Exists: '{arn}'")));
        }
        let m = self.rt.create_machine(&name, definition, &role, express).await?;
        Ok(json!({"stateMachineArn": m.arn, "creationDate": epoch_seconds(m.created)}))
    }

    async fn list_state_machines(&self, b: &Body) -> ApiResult {
        let (max, offset) = (b.max_results(100)?, b.offset()?);
        let (items, next) = page(self.rt.store.list_machines().await?, offset, max);
        let items: Vec<Value> = items
            .iter()
            .map(|m| {
                json!({"stateMachineArn": m.arn, "name": m.name, "type": if m.express {"EXPRESS"} else {"STANDARD"}, "creationDate": epoch_seconds(m.created)})
            })
            .collect();
        let mut out = json!({"stateMachines": items});
        if let Some(n) = next {
            out["nextToken"] = n.into();
        }
        Ok(out)
    }

    async fn start(&self, b: &Body) -> std::result::Result<(String, DateTime<Utc>), ApiError> {
        let machine_arn = b.required("stateMachineArn")?;
        check_arn(&machine_arn, &["stateMachine"])?;
        let name = b.string("name")?.unwrap_or_else(uuid_v4);
        let input = match b.string("input")? {
            None => json!({}),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| Error::InvalidExecutionInput(format!("Invalid State Machine Execution Input: '{e}'")))?,
        };
        match self.rt.start_execution(&machine_arn, &name, input.clone()).await {
            Ok(arn) => {
                let start = match self.rt.store.load(&arn).await {
                    Ok(Some(s)) => s.execution.start_time,
                    _ => self.rt.clock.now(),
                };
                Ok((arn, start))
            }
            Err(Error::ExecutionAlreadyExists(existing)) => {
                // AWS: the same name and input while the execution runs returns it again.
                let m = self.machine(&machine_arn).await?;
                let cfg = &self.rt.config;
                let arn = ExecutionInfo::new(&cfg.account, &cfg.region, &m.name, &name, &m.role_arn, m.express).execution_arn;
                if let Some(stored) = self.rt.store.load(&arn).await? {
                    if stored.execution.input == input && matches!(stored.execution.status, Status::Running) {
                        return Ok((arn, stored.execution.start_time));
                    }
                }
                let _ = existing;
                Err(ApiError::bad("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn start_execution(&self, b: &Body) -> ApiResult {
        let (arn, start) = self.start(b).await?;
        Ok(json!({"executionArn": arn, "startDate": epoch_seconds(start)}))
    }

    async fn start_sync_execution(&self, b: &Body) -> ApiResult {
        let machine_arn = b.required("stateMachineArn")?;
        let m = self.machine(&machine_arn).await?;
        if !m.express {
            return Err(ApiError::bad(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ));
        }
        let (arn, _) = self.start(b).await?;
        let deadline = Instant::now() + SYNC_LIMIT;
        let mut pause = Duration::from_millis(1);
        loop {
            let stored = self.rt.describe(&arn).await?;
            if !matches!(stored.execution.status, Status::Running) || Instant::now() > deadline {
                let mut d = self.describe_execution(&arn).await?;
                if let Some(o) = d.as_object_mut() {
                    o.remove("redriveCount");
                    if matches!(stored.execution.status, Status::Running) {
                        o.insert("status".into(), "TIMED_OUT".into());
                    }
                    o.insert("billingDetails".into(), json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}));
                }
                return Ok(d);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// When a finished execution stopped: its last history event's time.
    async fn stop_date(&self, arn: &str) -> std::result::Result<Option<DateTime<Utc>>, ApiError> {
        Ok(self.rt.store.history(arn).await?.last().map(|e| e.timestamp))
    }

    async fn describe_execution(&self, arn: &str) -> ApiResult {
        check_arn(arn, &["execution", "express"])?;
        let stored = self.rt.describe(arn).await?;
        let exec = &stored.execution;
        let mut d = crate::run::describe_execution(exec, &stored.machine_arn);
        d["startDate"] = epoch_seconds(exec.start_time);
        if !matches!(exec.status, Status::Running) {
            if let Some(t) = self.stop_date(arn).await? {
                d["stopDate"] = epoch_seconds(t);
            }
        }
        Ok(d)
    }

    async fn history(&self, b: &Body) -> ApiResult {
        let arn = b.required("executionArn")?;
        check_arn(&arn, &["execution", "express"])?;
        let (max, offset) = (b.max_results(100)?, b.offset()?);
        let reverse = b.bool("reverseOrder", false)?;
        let data = b.bool("includeExecutionData", true)?;
        self.rt.describe(&arn).await?;
        let mut events = self.rt.store.history(&arn).await?;
        if reverse {
            events.reverse();
        }
        let (events, next) = page(events, offset, max);
        let events: Vec<Value> = events.iter().map(|e| api_event(e, data)).collect();
        let mut out = json!({"events": events});
        if let Some(n) = next {
            out["nextToken"] = n.into();
        }
        Ok(out)
    }

    async fn list_executions(&self, b: &Body) -> ApiResult {
        let machine_arn = b.required("stateMachineArn")?;
        self.machine(&machine_arn).await?;
        let status = b.string("statusFilter")?;
        const STATUSES: [&str; 6] = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];
        if let Some(s) = &status {
            if !STATUSES.contains(&s.as_str()) {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    STATUSES.join(", ")
                )));
            }
        }
        let (max, offset) = (b.max_results(100)?, b.offset()?);
        let all: Vec<_> = self
            .rt
            .store
            .list()
            .await?
            .into_iter()
            .filter(|e| e.machine_arn == machine_arn && status.as_ref().is_none_or(|s| *s == e.status))
            .collect();
        let (items, next) = page(all, offset, max);
        let mut out = Vec::with_capacity(items.len());
        for e in items {
            let mut row = json!({
                "executionArn": e.execution_arn,
                "stateMachineArn": e.machine_arn,
                "name": e.name,
                "status": e.status,
                "startDate": epoch_seconds(e.start),
            });
            if e.status != "RUNNING" {
                if let Some(t) = self.stop_date(&e.execution_arn).await? {
                    row["stopDate"] = epoch_seconds(t);
                }
            }
            out.push(row);
        }
        let mut res = json!({"executions": out});
        if let Some(n) = next {
            res["nextToken"] = n.into();
        }
        Ok(res)
    }
}

/// DescribeStateMachine's answer for a machine.
fn describe_machine(m: &Machine) -> Value {
    json!({
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": serde_json::to_string(&m.definition).unwrap_or_default(),
        "roleArn": m.role_arn,
        "type": if m.express { "EXPRESS" } else { "STANDARD" },
        "creationDate": epoch_seconds(m.created),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
    })
}

/// ValidateStateMachineDefinition: `{"result": "OK"|"FAIL", "diagnostics": [...]}`.
fn validate_definition(b: &Body) -> ApiResult {
    let text = b.required("definition")?;
    let express = match b.string("type")?.as_deref() {
        None | Some("STANDARD") => false,
        Some("EXPRESS") => true,
        Some(t) => return Err(ApiError::validation(format!("Value '{t}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"))),
    };
    let result = serde_json::from_str::<Value>(&text)
        .map_err(|e| ("INVALID_JSON_DESCRIPTION", e.to_string()))
        .and_then(|d| stepwise_asl::load(&d, express).map(|_| ()).map_err(|e| ("SCHEMA_VALIDATION_FAILED", e.to_string())));
    Ok(match result {
        Ok(()) => json!({"result": "OK", "diagnostics": [], "truncated": false}),
        Err((code, message)) => {
            json!({"result": "FAIL", "diagnostics": [{"severity": "ERROR", "code": code, "message": message}], "truncated": false})
        }
    })
}

/// A history event as GetExecutionHistory returns it: `timestamp` in epoch seconds, and the
/// JSON payloads of details (`input`, `output`, `parameters`) as JSON text.
pub fn api_event(e: &HistoryEvent, include_data: bool) -> Value {
    let mut v = e.to_aws_json();
    v["timestamp"] = epoch_seconds(e.timestamp);
    if let Some(o) = v.as_object_mut() {
        for (k, d) in o.iter_mut() {
            if !k.ends_with("EventDetails") {
                continue;
            }
            let Some(d) = d.as_object_mut() else { continue };
            for field in ["input", "output", "parameters"] {
                if let Some(x) = d.get_mut(field) {
                    if include_data {
                        *x = Value::String(x.to_string());
                    } else {
                        d.remove(field);
                    }
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_a_next_token_until_the_end() {
        let (p, n) = page((0..5).collect::<Vec<_>>(), 0, 2);
        assert_eq!((p, n.as_deref()), (vec![0, 1], Some("stepwise-page-2")));
        let (p, n) = page((0..5).collect::<Vec<_>>(), 4, 2);
        assert_eq!((p, n), (vec![4], None));
    }

    #[test]
    fn arns_are_checked_by_kind() {
        assert!(check_arn("arn:aws:states:us-east-1:123456789012:stateMachine:M", &["stateMachine"]).is_ok());
        assert!(check_arn("arn:aws:states:us-east-1:123456789012:execution:M:e", &["stateMachine"]).is_err());
        assert!(check_arn("not-an-arn", &["execution"]).is_err());
    }

    #[test]
    fn epoch_seconds_keep_milliseconds() {
        let t = DateTime::<Utc>::from_timestamp_millis(1_700_000_000_123).unwrap_or_default();
        assert_eq!(epoch_seconds(t), json!(1_700_000_000.123));
    }
}
