//! The Step Functions API over the stepwise runtime, free of any transport.
//!
//! Clients of AWS Step Functions (the AWS CLI, boto3, the SDKs) speak **AWS JSON 1.0**: `POST /`
//! with `X-Amz-Target: AWSStepFunctions.<Operation>` and a JSON body with AWS's camelCase
//! fields; answers are `application/x-amz-json-1.0` with timestamps as epoch seconds
//! (milliseconds as the fraction), errors HTTP 400 with `{"__type": CODE, "message": ...}` and
//! AWS's exception names (500 `InternalFailure` when a store or queue fails), so the SDKs raise
//! their typed exceptions. This crate is that API as one function, [`call`]: operation name and
//! body bytes in, JSON or [`ApiError`] out. The transports are thin: `stepwise serve` (hyper,
//! over the embedded runtime) and the API Lambda behind API Gateway (over DynamoDB and SQS)
//! both hand requests to [`call`], so the two speak the same API by construction.
//!
//! Operations: CreateStateMachine, DescribeStateMachine, UpdateStateMachine,
//! DeleteStateMachine, ListStateMachines, ValidateStateMachineDefinition, StartExecution,
//! StartSyncExecution, DescribeExecution, DescribeStateMachineForExecution, StopExecution,
//! ListExecutions, GetExecutionHistory, SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat.
//! Anything else is `UnknownOperationException`.
//!
//! Semantics worth knowing:
//! - **Revisions.** Every configuration of a machine (definition, role, type) has a revision id
//!   (`revisionId`); an execution runs the revision it started with, so UpdateStateMachine
//!   never changes a running execution (as on AWS). DescribeStateMachineForExecution answers
//!   the execution's revision. As on AWS, a machine's first revision has no `revisionId` in
//!   answers (AWS: "null"); it appears with the first UpdateStateMachine.
//! - **Deletion.** DeleteStateMachine removes the machine for new requests at once and ends its
//!   running executions with `ExecutionFailed` (`States.Runtime`, "State machine NAME has been
//!   deleted.", AWS's failure) as soon as the step driver takes them; AWS lets them reach their
//!   next transition first and shows the machine `DELETING` meanwhile.
//! - **Idempotent starts.** A StartExecution repeating the name and input of a running
//!   execution answers that execution; any other reuse of a name is `ExecutionAlreadyExists`.
//! - **Pagination.** `nextToken` is an opaque position in the listing; a token this server did
//!   not issue is `InvalidToken`. ListExecutions reads only its page from the store (an index
//!   per machine), and its token stays valid while executions are added.
#![warn(missing_docs)]

mod activities;
mod map_runs;
mod start;
mod versions;

pub use start::{start, StartExecutionInput, Started};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::time::Duration;
use stepwise_asl::history::HistoryEvent;
use stepwise_asl::stepper::{Execution, Status};
use stepwise_runtime::aws::{self, check_arn, check_name};
use stepwise_runtime::driver::versions::{check_tags, check_version_description, merge_tags, split_arn, Qualifier};
use stepwise_runtime::driver::NewMachine;
use stepwise_runtime::ports::MachineSettings;
use stepwise_runtime::ports::{
    Clock, ExecutionPage, ExecutionQuery, ExecutionStatus, Functions, Machine, PageToken, Queue, Store, Topics,
};
use stepwise_runtime::{Error, Invalid, Runtime};

/// The `X-Amz-Target` prefix of the Step Functions API.
pub const TARGET_PREFIX: &str = "AWSStepFunctions.";

/// The content type of the AWS JSON 1.0 protocol.
pub const AMZ_JSON: &str = "application/x-amz-json-1.0";

/// The largest request body worth reading (a definition is at most 1 MB, an input 256 KiB).
pub const MAX_BODY: usize = 4 << 20;

/// How long StartSyncExecution waits for an execution (AWS's limit for EXPRESS: 5 minutes).
const SYNC_LIMIT: Duration = Duration::from_secs(300);

/// An error answer: HTTP status, AWS's exception name (`__type`) and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// HTTP status (400 for the caller's errors, 500 for `InternalFailure`).
    pub status: u16,
    /// AWS's exception name.
    pub code: String,
    /// The message.
    pub message: String,
}

impl ApiError {
    /// A 400 error with this code.
    pub fn bad(code: &str, message: impl Into<String>) -> Self {
        ApiError { status: 400, code: code.into(), message: message.into() }
    }
    /// A body that is not the JSON the operation takes.
    pub fn serialization(message: impl Into<String>) -> Self {
        ApiError::bad("SerializationException", message)
    }
    fn validation(message: impl Into<String>) -> Self {
        ApiError::bad("ValidationException", message)
    }
    /// An operation this API does not have.
    pub fn unknown_operation(what: &str) -> Self {
        ApiError::bad("UnknownOperationException", format!("unknown operation '{what}'"))
    }
    /// The answer's body: `{"__type": CODE, "message": ...}`.
    pub fn body(&self) -> Value {
        json!({"__type": self.code, "message": self.message})
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError { status: e.status(), code: e.code().into(), message: e.message() }
    }
}

type ApiResult = Result<Value, ApiError>;

/// The operation an `X-Amz-Target` header names (`AWSStepFunctions.StartExecution` →
/// `StartExecution`), or `UnknownOperationException`.
pub fn operation(target: &str) -> Result<&str, ApiError> {
    target.strip_prefix(TARGET_PREFIX).filter(|op| !op.is_empty()).ok_or_else(|| ApiError::unknown_operation(target))
}

/// A request body as the JSON object operations take (an empty body is `{}`).
pub fn parse_body(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::serialization("the request body is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::serialization("the request body must be a JSON object")),
        Err(e) => Err(ApiError::serialization(format!("the request body is not valid JSON: {e}"))),
    }
}

/// Runs operation `op` (without the `AWSStepFunctions.` prefix) on a request body, in the
/// runtime's region.
pub async fn call<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>, op: &str, body: &[u8]) -> ApiResult
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    call_in(rt, None, op, body).await
}

/// [`call`] for a client addressing `region` (the region of its request signature; `None`:
/// the runtime's): machines it creates get that region's ARNs (and partition), and it lists
/// the machines of that region only, as each AWS region is its own service.
pub async fn call_in<S, Q, T, F, C>(
    rt: &Runtime<S, Q, T, F, C>,
    region: Option<&str>,
    op: &str,
    body: &[u8],
) -> ApiResult
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    let body = Body(parse_body(body)?);
    let region = region.filter(|r| !r.is_empty()).unwrap_or(&rt.config().region).to_string();
    // Boxed: the operations' futures together are large (tens of KiB in debug builds), too
    // large for the stacks of callers that hold several of them.
    Box::pin(Api { rt, region }.call(op, &body)).await
}

/// The region a SigV4-signed request addresses: the third field of the credential scope in
/// its `Authorization` header (`AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/states/aws4_request, ...`).
pub fn signed_region(authorization: &str) -> Option<&str> {
    let scope = authorization.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    let region = scope.split('/').nth(2)?;
    (!region.is_empty()).then_some(region)
}

/// A time as the AWS JSON protocol writes timestamps: epoch seconds, milliseconds as the
/// fraction (`1700000000.123`).
pub fn epoch_seconds(t: DateTime<Utc>) -> Value {
    serde_json::Number::from_f64(t.timestamp_millis() as f64 / 1000.0).map(Value::Number).unwrap_or(Value::Null)
}

/// A random (version 4) UUID: default execution names, request ids.
pub fn uuid_v4() -> String {
    stepwise_asl::uuid::v4_u128(rand::random())
}

/// A request body field reader with AWS's validation errors.
struct Body(Map<String, Value>);

impl Body {
    fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::serialization(format!("'{name}' must be a string"))),
        }
    }
    fn required(&self, name: &str) -> Result<String, ApiError> {
        self.string(name)?.ok_or_else(|| ApiError::validation(aws::null_member(name)))
    }
    fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::serialization(format!("'{name}' must be a boolean"))),
        }
    }
    fn present(&self, name: &str) -> bool {
        !matches!(self.0.get(name), None | Some(Value::Null))
    }
    /// `maxResults`: 0 (the default) means `default`; above 1000 is a ValidationException.
    fn max_results(&self, default: usize) -> Result<usize, ApiError> {
        match self.0.get("maxResults") {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Ok(default),
                Some(v @ 1..=1000) => Ok(v as usize),
                _ => Err(ApiError::validation(aws::too_large("maxResults", &n.to_string(), 1000))),
            },
            Some(_) => Err(ApiError::serialization("'maxResults' must be an integer")),
        }
    }
    /// `nextToken`, within AWS's length limit for the operation's token shape (1024 for
    /// `PageToken`, 3096 for ListExecutions'): a longer one is a `ValidationException`.
    fn next_token(&self, max_len: usize) -> Result<Option<String>, ApiError> {
        let token = self.string("nextToken")?;
        match &token {
            Some(t) if t.len() > max_len => Err(ApiError::validation(aws::too_long_value("nextToken", t, max_len))),
            _ => Ok(token),
        }
    }
    /// `nextToken` as the offset it encodes (`InvalidToken` when it is not one of ours).
    fn offset(&self) -> Result<usize, ApiError> {
        match self.next_token(PAGE_TOKEN_MAX)? {
            None => Ok(0),
            Some(t) => t.strip_prefix("stepwise-page-").and_then(|n| n.parse().ok()).ok_or_else(|| invalid_token(&t)),
        }
    }
    /// `nextToken` as the listing position it encodes (`InvalidToken` when it is not one of ours).
    fn position(&self) -> Result<Option<PageToken>, ApiError> {
        self.next_token(EXECUTIONS_PAGE_TOKEN_MAX)?
            .map(|t| PageToken::decode(&t).ok_or_else(|| invalid_token(&t)))
            .transpose()
    }
    /// `type`: STANDARD (default) or EXPRESS; `true` for EXPRESS.
    fn express(&self) -> Result<bool, ApiError> {
        match self.string("type")?.as_deref() {
            None | Some("STANDARD") => Ok(false),
            Some("EXPRESS") => Ok(true),
            Some(t) => Err(ApiError::validation(aws::not_in_enum("type", t, &["STANDARD", "EXPRESS"]))),
        }
    }
    /// `roleArn`, checked to be an ARN.
    fn role(&self, required: bool) -> Result<Option<String>, ApiError> {
        let role = if required { Some(self.required("roleArn")?) } else { self.string("roleArn")? };
        if let Some(r) = &role {
            aws::check_role_arn(r)?;
        }
        Ok(role)
    }
    /// `definition`, parsed (`InvalidDefinition` when it is not JSON), with its text as sent.
    fn definition(&self, required: bool) -> Result<Option<(Value, String)>, ApiError> {
        let text = if required { Some(self.required("definition")?) } else { self.string("definition")? };
        text.map(|t| {
            let value = serde_json::from_str(&t).map_err(|e| {
                ApiError::from(Error::invalid(
                    Invalid::Definition,
                    format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {e}'"),
                ))
            })?;
            Ok((value, t))
        })
        .transpose()
    }
}

/// AWS's `PageToken` length limit (ListStateMachines, GetExecutionHistory, ...).
const PAGE_TOKEN_MAX: usize = 1024;
/// AWS's `ListExecutionsPageToken` length limit.
const EXECUTIONS_PAGE_TOKEN_MAX: usize = 3096;

/// One page of `items` from `offset`, with the `nextToken` of the next page if any.
fn page<T>(items: Vec<T>, offset: usize, max: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = offset.saturating_add(max).min(total);
    let page: Vec<T> = items.into_iter().skip(offset).take(max).collect();
    let next = (end < total).then(|| format!("stepwise-page-{end}"));
    (page, next)
}

fn invalid_token(token: &str) -> ApiError {
    ApiError::bad("InvalidToken", format!("Invalid Token: '{token}'"))
}

fn with_next(mut out: Value, next: Option<String>) -> Value {
    if let Some(n) = next {
        out["nextToken"] = n.into();
    }
    out
}

/// `loggingConfiguration`, `tracingConfiguration` and `encryptionConfiguration`, when given.
type Configs = (Option<Value>, Option<Value>, Option<Value>);

struct Api<'a, S, Q, T, F, C> {
    rt: &'a Runtime<S, Q, T, F, C>,
    /// The region the client addresses.
    region: String,
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Api<'_, S, Q, T, F, C> {
    async fn call(&self, op: &str, b: &Body) -> ApiResult {
        match op {
            "CreateStateMachine" => self.create_state_machine(b).await,
            "DescribeStateMachine" => {
                let arn = b.required("stateMachineArn")?;
                check_arn(&arn, &["stateMachine"])?;
                if let (_, Qualifier::Version(_)) = split_arn(&arn) {
                    // A version: its revision, its description, when it was published.
                    let (m, v) = self.rt.version_machine(&arn).await?;
                    let mut d = describe_machine(&m);
                    if let Some(desc) = v.description {
                        d["description"] = desc.into();
                    }
                    return Ok(d);
                }
                if let (_, Qualifier::Alias(_)) = split_arn(&arn) {
                    return Err(Error::no_machine(&arn).into());
                }
                Ok(describe_machine(&self.machine(&arn).await?))
            }
            "UpdateStateMachine" => self.update_state_machine(b).await,
            "DeleteStateMachine" => {
                let arn = b.required("stateMachineArn")?;
                check_arn(&arn, &["stateMachine"])?;
                if split_arn(&arn).1 != Qualifier::None {
                    return Err(ApiError::validation(format!(
                        "Invalid Arn: '{arn}': DeleteStateMachine takes a state machine's ARN, not a version's or an alias's (DeleteStateMachineVersion, DeleteStateMachineAlias)"
                    )));
                }
                self.rt.delete_machine(&arn).await?;
                Ok(json!({}))
            }
            "ListStateMachines" => self.list_state_machines(b).await,
            "ValidateStateMachineDefinition" => validate_definition(b),
            "TestState" => {
                let req: stepwise_asl::test_state::TestStateRequest =
                    serde_json::from_value(Value::Object(b.0.clone()))
                        .map_err(|e| ApiError::validation(format!("The TestState request is not valid: {e}")))?;
                Ok(self.rt.test_state(&req, Some(&self.region)).await?)
            }
            "StartExecution" => self.start_execution(b).await,
            "StartSyncExecution" => self.start_sync_execution(b).await,
            "DescribeExecution" => self.describe_execution(&b.required("executionArn")?).await,
            "DescribeStateMachineForExecution" => self.machine_for_execution(&b.required("executionArn")?).await,
            "StopExecution" => {
                let arn = b.required("executionArn")?;
                check_arn(&arn, &["execution", "express"])?;
                self.rt.stop_execution(&arn, b.string("error")?, b.string("cause")?).await?;
                Ok(json!({"stopDate": epoch_seconds(self.rt.now())}))
            }
            "GetExecutionHistory" => self.history(b).await,
            "ListExecutions" => self.list_executions(b).await,
            "SendTaskSuccess" => {
                let token = self.token(b).await?;
                let output = b.required("output")?;
                self.rt.send_task_success(&token, &output).await?;
                Ok(json!({}))
            }
            "SendTaskFailure" => {
                let token = self.token(b).await?;
                self.rt.send_task_failure(&token, b.string("error")?.as_deref(), b.string("cause")?.as_deref()).await?;
                Ok(json!({}))
            }
            "SendTaskHeartbeat" => {
                let token = self.token(b).await?;
                self.rt.send_task_heartbeat(&token).await?;
                Ok(json!({}))
            }
            other => match self.activity_call(other, b).await {
                Some(answer) => answer,
                None => match self.map_run_call(other, b).await {
                    Some(answer) => answer,
                    None => match self.versions_call(other, b).await {
                        Some(answer) => answer,
                        None => Err(ApiError::unknown_operation(other)),
                    },
                },
            },
        }
    }

    /// The task token of a SendTask* request; its execution and state go into the current
    /// tracing span when the token is known (so the log line names them).
    async fn token(&self, b: &Body) -> Result<String, ApiError> {
        let token = b.required("taskToken")?;
        self.rt.trace_token(&token).await;
        Ok(token)
    }

    /// The machine a state machine ARN names (a version's or an alias's: the machine itself).
    async fn machine(&self, arn: &str) -> Result<Machine, ApiError> {
        check_arn(arn, &["stateMachine"])?;
        match split_arn(arn) {
            (_, Qualifier::None) => Ok(self.rt.get_machine(arn).await?),
            _ => Ok(std::sync::Arc::unwrap_or_clone(self.rt.target(arn).await?.machine)),
        }
    }

    async fn create_state_machine(&self, b: &Body) -> ApiResult {
        let name = b.required("name")?;
        let (definition, text) = b.definition(true)?.unwrap_or_default();
        let role = b.role(true)?.unwrap_or_default();
        let express = b.express()?;
        if b.string("versionDescription")?.is_some() && !b.bool("publish", false)? {
            return Err(ApiError::validation("Version description can only be set when publish is true"));
        }
        let (logging, tracing, encryption) = self.configs(b)?;
        check_name(&name)?;
        let config = self.rt.config();
        let arn = aws::machine_arn(&self.region, &config.account, &name);
        // Everything checked before the one write (a refused request creates nothing).
        let tags = versions::tags_of(b, "tags")?;
        check_tags(&tags)?;
        let tags = merge_tags(&[], &tags, &[], &arn)?;
        check_version_description(&b.string("versionDescription")?, "versionDescription")?;
        if let Some(existing) = self.rt.find_machine(&arn).await? {
            // AWS: creating the same machine again is idempotent (the same request: the same
            // definition text); anything else is an error, a reformatted definition too.
            if existing.definition_text() == text && existing.role_arn == role && existing.express == express {
                return Ok(json!({"stateMachineArn": existing.arn, "creationDate": epoch_seconds(existing.created)}));
            }
            return Err(ApiError::bad("StateMachineAlreadyExists", format!("State Machine Already Exists: '{arn}'")));
        }
        let settings = MachineSettings { logging, tracing, encryption, tags, ..MachineSettings::default() };
        let new = NewMachine {
            name: &name,
            definition,
            definition_text: Some(text),
            role_arn: &role,
            express,
            region: Some(&self.region),
            settings,
        };
        let m = self.rt.create_machine_new(new).await?;
        let mut out = json!({"stateMachineArn": m.arn, "creationDate": epoch_seconds(m.created)});
        if let Some(v) = self.publish_on_request(&m.arn, b).await? {
            out["stateMachineVersionArn"] = v.into();
        }
        Ok(out)
    }

    /// `loggingConfiguration`, `tracingConfiguration`, `encryptionConfiguration`, checked.
    fn configs(&self, b: &Body) -> Result<Configs, ApiError> {
        let get = |k: &str| b.0.get(k).filter(|v| !v.is_null());
        Ok((
            get("loggingConfiguration").map(versions::logging_config).transpose()?,
            get("tracingConfiguration").map(versions::tracing_config).transpose()?,
            get("encryptionConfiguration").map(versions::encryption_config).transpose()?,
        ))
    }

    async fn update_state_machine(&self, b: &Body) -> ApiResult {
        let arn = b.required("stateMachineArn")?;
        check_arn(&arn, &["stateMachine"])?;
        let definition = b.definition(false)?;
        let role = b.role(false)?;
        let (logging, tracing, encryption) = self.configs(b)?;
        let publish = b.bool("publish", false)?;
        if b.string("versionDescription")?.is_some() && !publish {
            return Err(ApiError::validation("Version description can only be set when publish is true"));
        }
        check_version_description(&b.string("versionDescription")?, "versionDescription")?;
        let configured = logging.is_some() || tracing.is_some() || encryption.is_some();
        if let (_, Qualifier::Version(_) | Qualifier::Alias(_)) = split_arn(&arn) {
            return Err(ApiError::from(stepwise_runtime::Error::no_machine(&arn)));
        }
        let mut m = if definition.is_none() && role.is_none() && (configured || publish) {
            self.machine(&arn).await?
        } else {
            self.rt.update_machine(&arn, definition.map(|(v, t)| (v, Some(t))), role).await?
        };
        if configured {
            m = self.rt.configure(&arn, logging, tracing, encryption).await?;
        }
        let date = m.updated.unwrap_or(m.created);
        let mut out = json!({"updateDate": epoch_seconds(date)});
        if m.updated.is_some() {
            out["revisionId"] = m.revision_id.clone().into();
        }
        if let Some(v) = self.publish_on_request(&arn, b).await? {
            out["stateMachineVersionArn"] = v.into();
        }
        Ok(out)
    }

    async fn list_state_machines(&self, b: &Body) -> ApiResult {
        let (max, offset) = (b.max_results(100)?, b.offset()?);
        let mut machines = self.rt.list_machines().await?;
        // A Distributed Map's children run a machine of their own (`NAME/LABEL`), never listed.
        machines
            .retain(|m| stepwise_asl::arn::region_of(&m.arn) == Some(self.region.as_str()) && !m.name.contains('/'));
        // AWS lists them by name, byte for byte (`m_10` before `m_1_`: recorded against AWS).
        machines.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        let (items, next) = page(machines, offset, max);
        let items: Vec<Value> = items
            .iter()
            .map(|m| {
                json!({"stateMachineArn": m.arn, "name": m.name, "type": machine_type(m), "creationDate": epoch_seconds(m.created)})
            })
            .collect();
        Ok(with_next(json!({"stateMachines": items}), next))
    }

    async fn start(&self, b: &Body) -> Result<Started, ApiError> {
        let machine_arn = b.required("stateMachineArn")?;
        check_arn(&machine_arn, &["stateMachine"])?;
        let req = StartExecutionInput {
            state_machine_arn: Some(machine_arn),
            name: b.string("name")?,
            // JSON text as in the API; another JSON value is taken as the input itself (the
            // SDKs always send text: this only serves hand-written requests).
            input: b.0.get("input").filter(|v| !v.is_null()).cloned(),
        };
        Ok(start(self.rt, &req, uuid_v4, false).await?)
    }

    async fn start_execution(&self, b: &Body) -> ApiResult {
        let started = self.start(b).await?;
        Ok(json!({"executionArn": started.arn, "startDate": epoch_seconds(started.start)}))
    }

    async fn start_sync_execution(&self, b: &Body) -> ApiResult {
        let target = b.required("stateMachineArn")?;
        // `stateMachine:NAME#CASE` runs NAME (with a mock configuration's test case).
        let m = self.machine(target.split_once('#').map_or(target.as_str(), |(base, _)| base)).await?;
        if !m.express {
            return Err(ApiError::bad(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ));
        }
        let arn = self.start(b).await?.arn;
        let stored = self.rt.wait_for_end(&arn, SYNC_LIMIT).await?;
        let running = matches!(stored.execution.status, Status::Running);
        let mut d = self.describe_execution(&arn).await?;
        if let Some(o) = d.as_object_mut() {
            o.remove("redriveCount");
            if running {
                o.insert("status".into(), "TIMED_OUT".into());
            }
            o.insert("billingDetails".into(), json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}));
        }
        Ok(d)
    }

    /// When a finished execution stopped: its last history event's time.
    async fn stop_date(&self, arn: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        Ok(self.rt.history(arn).await?.last().map(|e| e.timestamp))
    }

    async fn describe_execution(&self, arn: &str) -> ApiResult {
        check_arn(arn, &["execution", "express"])?;
        let stored = self.rt.describe(arn).await?;
        let exec = &stored.execution;
        let mut d = describe_execution(exec, &stored.machine_arn);
        d["startDate"] = epoch_seconds(exec.start_time);
        if let Some(t) = &exec.redrive_time {
            d["redriveDate"] = epoch_seconds(*t);
        }
        if !exec.info.execution_arn.contains(":express:") {
            let failed =
                matches!(exec.status, Status::Failed { .. } | Status::TimedOut { .. } | Status::Aborted { .. });
            match self.rt.not_redrivable(&stored).await? {
                // A Map Run's failed child is redriven with its run.
                Some(_) if exec.map_run.is_some() && failed => d["redriveStatus"] = "REDRIVABLE_BY_MAP_RUN".into(),
                None => d["redriveStatus"] = "REDRIVABLE".into(),
                Some(reason) => {
                    d["redriveStatus"] = "NOT_REDRIVABLE".into();
                    d["redriveStatusReason"] = reason.into();
                }
            }
        }
        if let Some(child) = &exec.map_run {
            d["mapRunArn"] = child.run.clone().into();
        }
        if !matches!(exec.status, Status::Running) {
            // As stored with the execution (the history is read only when the store lacks it).
            let stop = match stored.stop_date {
                Some(t) => Some(t),
                None => self.stop_date(arn).await?,
            };
            if let Some(t) = stop {
                d["stopDate"] = epoch_seconds(t);
            }
        }
        Ok(d)
    }

    /// The machine as the execution runs it: its revision, even after updates or deletion.
    async fn machine_for_execution(&self, arn: &str) -> ApiResult {
        check_arn(arn, &["execution", "express"])?;
        let stored = self.rt.describe(arn).await?;
        let m = self.rt.machine_for_execution(&stored).await?;
        let mut d = describe_machine(&m);
        if let Some(o) = d.as_object_mut() {
            o.retain(|k, _| !["status", "type", "creationDate"].contains(&k.as_str()));
            o.insert("updateDate".into(), epoch_seconds(m.updated.unwrap_or(m.created)));
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
        let mut events = self.rt.history(&arn).await?;
        if reverse {
            events.reverse();
        }
        let (events, next) = page(events, offset, max);
        let events: Vec<Value> = events.iter().map(|e| api_event(e, data)).collect();
        Ok(with_next(json!({"events": events}), next))
    }

    async fn list_executions(&self, b: &Body) -> ApiResult {
        let status = match b.string("statusFilter")? {
            None => None,
            Some(s) => Some(ExecutionStatus::parse(&s).ok_or_else(|| {
                // In the order AWS lists them in this message (recorded; not the model's order).
                let allowed = ["SUCCEEDED", "TIMED_OUT", "PENDING_REDRIVE", "ABORTED", "FAILED", "RUNNING"];
                ApiError::validation(aws::not_in_enum("statusFilter", &s, &allowed))
            })?),
        };
        if b.present("mapRunArn") {
            return self.list_map_run_executions(b, status).await;
        }
        let machine_arn = b.required("stateMachineArn")?;
        self.machine(&machine_arn).await?;
        let redriven = match b.string("redriveFilter")?.as_deref() {
            None => None,
            Some("REDRIVEN") => Some(true),
            Some("NOT_REDRIVEN") => Some(false),
            Some(other) => {
                return Err(ApiError::validation(aws::not_in_enum(
                    "redriveFilter",
                    other,
                    &["REDRIVEN", "NOT_REDRIVEN"],
                )))
            }
        };
        let (base, qualifier) = split_arn(&machine_arn);
        let limit = b.max_results(100)?;
        let query = ExecutionQuery { machine_arn: base, status, limit, page: b.position()? };
        let page = if qualifier == Qualifier::None && redriven.is_none() {
            self.rt.list_executions(&query).await?
        } else {
            // Executions of a version or an alias, or (not) redriven: the machine's listing,
            // each execution looked at.
            self.filtered_executions(query, &machine_arn, &qualifier, redriven).await?
        };
        let rows: Vec<Value> = page
            .executions
            .iter()
            .map(|e| {
                let mut row = json!({
                    "executionArn": e.execution_arn,
                    "stateMachineArn": e.machine_arn,
                    "name": e.name,
                    "status": e.status.as_str(),
                    "startDate": epoch_seconds(e.start),
                });
                if let Some(t) = e.stop {
                    row["stopDate"] = epoch_seconds(t);
                }
                row
            })
            .collect();
        Ok(with_next(json!({"executions": rows}), page.next.map(|p| p.encode())))
    }

    /// A page of the executions of `query.machine_arn` started on `qualified` (a version: also
    /// through an alias routing to it; an alias: through it) and (not) redriven.
    async fn filtered_executions(
        &self,
        mut query: ExecutionQuery,
        qualified: &str,
        qualifier: &Qualifier,
        redriven: Option<bool>,
    ) -> Result<ExecutionPage, ApiError> {
        let limit = query.limit;
        query.limit = limit.max(100);
        let mut kept = Vec::new();
        loop {
            let page = self.rt.list_executions(&query).await?;
            for e in page.executions {
                let Ok(stored) = self.rt.describe(&e.execution_arn).await else { continue };
                let info = &stored.execution.info;
                let on_target = match qualifier {
                    Qualifier::None => true,
                    Qualifier::Version(_) => info.version_arn.as_deref() == Some(qualified),
                    Qualifier::Alias(_) => info.alias_arn.as_deref() == Some(qualified),
                };
                let redrive_ok = redriven.is_none_or(|r| (stored.execution.redrive_count > 0) == r);
                if on_target && redrive_ok {
                    kept.push(e);
                    if kept.len() == limit {
                        let next = kept.last().map(PageToken::after);
                        return Ok(ExecutionPage { executions: kept, next });
                    }
                }
            }
            match page.next {
                Some(n) => query.page = Some(n),
                None => return Ok(ExecutionPage { executions: kept, next: None }),
            }
        }
    }
}

fn machine_type(m: &Machine) -> &'static str {
    if m.express {
        "EXPRESS"
    } else {
        "STANDARD"
    }
}

/// DescribeStateMachine's answer for a machine.
fn describe_machine(m: &Machine) -> Value {
    let mut d = json!({
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": m.definition_text(),
        "roleArn": m.role_arn,
        "type": machine_type(m),
        "creationDate": epoch_seconds(m.created),
    });
    versions::describe_settings(m, &mut d);
    // AWS gives a machine no revisionId until its first UpdateStateMachine ("the first
    // revision ID when you create the state machine is null").
    if m.updated.is_some() && !m.revision_id.is_empty() {
        d["revisionId"] = m.revision_id.clone().into();
    }
    d
}

/// ValidateStateMachineDefinition: `{"result": "OK"|"FAIL", "diagnostics": [...]}`.
fn validate_definition(b: &Body) -> ApiResult {
    let text = b.required("definition")?;
    let express = b.express()?;
    let result =
        serde_json::from_str::<Value>(&text).map_err(|e| ("INVALID_JSON_DESCRIPTION", e.to_string())).and_then(|d| {
            stepwise_asl::load(&d, express).map(|_| ()).map_err(|e| ("SCHEMA_VALIDATION_FAILED", e.to_string()))
        });
    Ok(match result {
        Ok(()) => json!({"result": "OK", "diagnostics": [], "truncated": false}),
        Err((code, message)) => {
            json!({"result": "FAIL", "diagnostics": [{"severity": "ERROR", "code": code, "message": message}], "truncated": false})
        }
    })
}

/// DescribeExecution's fields that the execution alone gives (no `stopDate`; `startDate` as
/// an ISO 8601 text, which the callers replace with epoch seconds on the wire).
pub fn describe_execution(exec: &Execution, machine_arn: &str) -> Value {
    let mut d = json!({
        "executionArn": exec.info.execution_arn,
        "stateMachineArn": machine_arn,
        "name": exec.info.name,
        "status": exec.status.as_str(),
        "startDate": stepwise_asl::timestamp::format(&exec.start_time),
        "input": exec.input_text(),
        "inputDetails": {"included": true},
        "redriveCount": exec.redrive_count,
    });
    if let Some(v) = &exec.info.version_arn {
        d["stateMachineVersionArn"] = v.clone().into();
    }
    if let Some(a) = &exec.info.alias_arn {
        d["stateMachineAliasArn"] = a.clone().into();
    }
    if let Some(t) = &exec.redrive_time {
        d["redriveDate"] = stepwise_asl::timestamp::format(t).into();
    }
    match &exec.status {
        Status::Succeeded { output } => {
            d["output"] = Value::String(serde_json::to_string(output).unwrap_or_default());
            d["outputDetails"] = json!({"included": true});
        }
        Status::Failed { error, cause } | Status::TimedOut { error, cause } | Status::Aborted { error, cause } => {
            if let Some(e) = error {
                d["error"] = Value::String(e.clone());
            }
            if let Some(c) = cause {
                d["cause"] = Value::String(c.clone());
            }
        }
        Status::Running => {}
    }
    d
}

/// A history event as GetExecutionHistory returns it: `timestamp` in epoch seconds, and the
/// JSON payloads of details (`input`, `output`, `parameters`) as JSON text.
pub fn api_event(e: &HistoryEvent, include_data: bool) -> Value {
    let mut v = e.to_api_json(include_data);
    v["timestamp"] = epoch_seconds(e.timestamp);
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
    fn epoch_seconds_keep_milliseconds() {
        let t = DateTime::<Utc>::from_timestamp_millis(1_700_000_000_123).unwrap_or_default();
        assert_eq!(epoch_seconds(t), json!(1_700_000_000.123));
    }

    #[test]
    fn uuids_are_version_4() {
        let a = uuid_v4();
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{a}");
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_ne!(a, uuid_v4());
    }

    #[test]
    fn targets_name_operations() {
        assert_eq!(operation("AWSStepFunctions.StartExecution"), Ok("StartExecution"));
        assert_eq!(operation("AWSStepFunctions.").map_err(|e| e.code), Err("UnknownOperationException".to_string()));
        assert_eq!(
            operation("AmazonSQS.SendMessage").map_err(|e| e.code),
            Err("UnknownOperationException".to_string())
        );
    }
}
