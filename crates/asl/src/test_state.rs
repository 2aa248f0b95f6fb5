//! The TestState API: one state run on its own, with AWS's request rules, its statuses
//! (SUCCEEDED, FAILED, RETRIABLE, CAUGHT_ERROR) and the values between the steps of its
//! input/output pipeline (`inspectionData`).
//!
//! The state runs in the real stepper, not in a second interpreter: it becomes the start state
//! of a machine of its own (the states it may go to stand in as `Succeed` states, so that a
//! lone state may name targets that do not exist, as AWS allows), inside an invented EXPRESS
//! execution, with a [`Probe`] that records the pipeline's values, the error its Retry/Catch
//! handling saw and where it went. A mock answers a Task (and a Map or Parallel, whose
//! iterations or branches then do not run) through the same mocked-call path as Step Functions
//! Local's mock configuration; an unmocked Task calls its service through [`Services`].
//!
//! What AWS's messages say and when, comes from the TestState calls recorded against AWS
//! (`../shared/conformance/test_state_cases.jsonl`); checks without a recording use AWS's
//! generic validation wording.

use crate::integrations::{self, Integration, InvokeContext, Services};
use crate::mock::{ExecutionMocks, MockOutcome};
use crate::model::{QueryLanguage, StateKind, StateMachine};
use crate::stepper::{self, error_matches, Effect, Env, Event, ExecutionInfo, Phase, Probe, Status};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The name a single-state definition's state gets (AWS's: it shows in `$$.State.Name` and in
/// validation paths).
pub const LONE_STATE: &str = "StateName";

/// A TestState request, as the API takes it (JSON strings where AWS has them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStateRequest {
    /// One state, or a whole machine with `stateName`.
    pub definition: Option<String>,
    /// The role the state's calls would use.
    pub role_arn: Option<String>,
    /// The state's input (JSON text; `{}` when absent).
    pub input: Option<String>,
    /// INFO (default), DEBUG or TRACE.
    pub inspection_level: Option<String>,
    /// Show secrets in TRACE's HTTP request and response.
    pub reveal_secrets: Option<bool>,
    /// Workflow variables the state sees (a JSON object's text).
    pub variables: Option<String>,
    /// The state to test in a whole machine.
    pub state_name: Option<String>,
    /// The state's mocked result or error.
    pub mock: Option<MockInput>,
    /// The context object (`$$`) to use (JSON text).
    pub context: Option<String>,
    /// Where in its life the state is tested.
    pub state_configuration: Option<StateConfiguration>,
}

/// `mock`: a result or an error, and how strictly a result is checked against the API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MockInput {
    /// The mocked result (JSON text).
    pub result: Option<String>,
    /// The mocked error.
    pub error_output: Option<ErrorOutput>,
    /// STRICT (default), PRESENT or NONE.
    pub field_validation_mode: Option<String>,
}

/// A mocked error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorOutput {
    /// Error name.
    pub error: Option<String>,
    /// Cause.
    pub cause: Option<String>,
}

/// `stateConfiguration`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateConfiguration {
    /// Attempts the state's retriers have used.
    pub retrier_retry_count: Option<i64>,
    /// The state inside a Map or Parallel that caused the mocked error.
    pub error_caused_by_state: Option<String>,
    /// Map iterations that failed.
    pub map_iteration_failure_count: Option<i64>,
    /// What a Map's ItemReader reads (JSON text).
    pub map_item_reader_data: Option<String>,
}

/// A refused request: AWS's exception name and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestStateError {
    /// `InvalidDefinition`.
    InvalidDefinition(String),
    /// `ValidationException`.
    Validation(String),
}

impl TestStateError {
    /// AWS's exception name.
    pub fn code(&self) -> &'static str {
        match self {
            TestStateError::InvalidDefinition(_) => "InvalidDefinition",
            TestStateError::Validation(_) => "ValidationException",
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            TestStateError::InvalidDefinition(m) | TestStateError::Validation(m) => m,
        }
    }
}

impl std::fmt::Display for TestStateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for TestStateError {}

fn invalid(m: impl Into<String>) -> TestStateError {
    TestStateError::Validation(m.into())
}

/// How a mocked result is checked against the integration's API (`mock.fieldValidationMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Types, values, and every required field.
    Strict,
    /// Types and values of the fields present.
    Present,
}

/// Checks a mocked result against the API a Task's Resource calls: `Err(message)` with AWS's
/// "Mock result schema validation error: ..." text. The API layer supplies it from the service
/// models; `None` skips the check.
pub type MockCheck<'a> = &'a (dyn Fn(&str, &Value, FieldValidation) -> Result<(), String> + Sync);

/// Where the state runs: the account and region of the invented execution, the clock, the
/// randomness, and the mock check.
pub struct TestStateEnv<'a> {
    /// Account id.
    pub account: &'a str,
    /// Region.
    pub region: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
    /// Random bits (names of the invented execution, task tokens).
    pub random: &'a mut (dyn FnMut() -> u64 + Send),
    /// The mock result check.
    pub check_mock: Option<MockCheck<'a>>,
}

struct Env1<'a, 'b> {
    now: DateTime<Utc>,
    random: &'a mut (dyn FnMut() -> u64 + Send + 'b),
}

impl Env for Env1<'_, '_> {
    fn now(&mut self) -> DateTime<Utc> {
        self.now
    }
    fn random(&mut self) -> u64 {
        (self.random)()
    }
    fn child_executions(&self) -> bool {
        false
    }
}

fn parse_json(text: &str, what: &str) -> Result<Value, TestStateError> {
    serde_json::from_str(text).map_err(|e| invalid(format!("Invalid {what}: {e}")))
}

/// The state a definition tests: its JSON, its name, and the machine's query language.
struct Selected {
    name: String,
    state: Value,
    query_language: Option<Value>,
}

/// Finds state `name` anywhere in a machine (branches and item processors included).
fn find_state<'a>(states_owner: &'a Value, name: &str) -> Option<&'a Value> {
    let states = states_owner.get("States")?.as_object()?;
    if let Some(s) = states.get(name) {
        return Some(s);
    }
    for s in states.values() {
        for nested in s.get("Branches").and_then(Value::as_array).into_iter().flatten() {
            if let Some(found) = find_state(nested, name) {
                return Some(found);
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(found) = s.get(key).and_then(|p| find_state(p, name)) {
                return Some(found);
            }
        }
    }
    None
}

fn select(definition: &Value, state_name: Option<&str>) -> Result<Selected, TestStateError> {
    let is_machine = definition.get("States").is_some() && definition.get("Type").is_none();
    if !is_machine {
        return Ok(Selected { name: LONE_STATE.into(), state: definition.clone(), query_language: None });
    }
    // A whole machine is checked as CreateStateMachine would.
    crate::load(definition, false).map_err(|e| TestStateError::InvalidDefinition(e.to_string()))?;
    let name = match state_name {
        Some(n) => n.to_string(),
        None => definition.get("StartAt").and_then(Value::as_str).unwrap_or_default().to_string(),
    };
    let state = find_state(definition, &name).ok_or_else(|| invalid("State not found in definition"))?;
    Ok(Selected { name, state: state.clone(), query_language: definition.get("QueryLanguage").cloned() })
}

/// The states a state may go to.
fn targets(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(s) = v.and_then(Value::as_str) {
            out.push(s.to_string());
        }
    };
    add(state.get("Next"));
    add(state.get("Default"));
    for c in state.get("Choices").and_then(Value::as_array).into_iter().flatten() {
        add(c.get("Next"));
    }
    for c in state.get("Catch").and_then(Value::as_array).into_iter().flatten() {
        add(c.get("Next"));
    }
    out
}

/// The machine the state runs in: the state first, its targets as `Succeed` states.
fn test_machine(sel: &Selected) -> Value {
    let mut states = Map::new();
    states.insert(sel.name.clone(), sel.state.clone());
    for t in targets(&sel.state) {
        if !states.contains_key(&t) {
            states.insert(t, json!({"Type": "Succeed"}));
        }
    }
    let mut m = Map::new();
    if let Some(ql) = &sel.query_language {
        m.insert("QueryLanguage".into(), ql.clone());
    }
    m.insert("StartAt".into(), sel.name.clone().into());
    m.insert("States".into(), Value::Object(states));
    Value::Object(m)
}

/// The state's type name (`Pass`, `Task`, ...).
fn type_name(kind: &StateKind) -> &'static str {
    kind.event_prefix()
}

/// Checks the `context` the caller gave (`Invalid Context object provided: ...`).
fn check_context(ctx: &Value, token_task: bool) -> Result<(), TestStateError> {
    let bad = |m: String| invalid(format!("Invalid Context object provided: {m}"));
    let Some(top) = ctx.as_object() else { return Err(bad("the context object must be a JSON object".into())) };
    const SECTIONS: &[(&str, &[(&str, &str)])] = &[
        (
            "Execution",
            &[
                ("Id", "string"),
                ("Input", "any"),
                ("Name", "string"),
                ("RoleArn", "string"),
                ("StartTime", "string"),
                ("RedriveCount", "number"),
                ("RedriveTime", "string"),
            ],
        ),
        ("State", &[("EnteredTime", "string"), ("Name", "string"), ("RetryCount", "number")]),
        ("StateMachine", &[("Id", "string"), ("Name", "string")]),
        ("Task", &[("Token", "string")]),
    ];
    for (key, v) in top {
        if key == "Map" {
            return Err(bad("'Map' field is not supported when mocking a Context object".into()));
        }
        let Some((_, fields)) = SECTIONS.iter().find(|(k, _)| k == key) else {
            return Err(bad(format!("Field '{key}' is not allowed")));
        };
        if key == "Task" && !token_task {
            return Err(bad("Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".into()));
        }
        let Some(section) = v.as_object() else { return Err(bad(format!("{key} must be an object"))) };
        for (field, fv) in section {
            let Some((_, ty)) = fields.iter().find(|(f, _)| f == field) else {
                return Err(bad(format!("Field '{field}' is not allowed")));
            };
            let ok = match *ty {
                "string" => fv.is_string(),
                "number" => fv.is_number(),
                _ => true,
            };
            if !ok {
                return Err(bad(format!("{key}.{field} must be a {ty}")));
            }
        }
    }
    Ok(())
}

/// Runs a TestState request.
pub async fn test_state<S: Services>(
    req: &TestStateRequest,
    services: &mut S,
    env: TestStateEnv<'_>,
) -> Result<Value, TestStateError> {
    // --- the request's own fields
    let level = req.inspection_level.as_deref().unwrap_or("INFO");
    if !matches!(level, "INFO" | "DEBUG" | "TRACE") {
        return Err(invalid(format!(
            "1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
        )));
    }
    if req.state_name.as_deref() == Some("") {
        return Err(invalid("1 validation error detected: Value '' at 'stateName' failed to satisfy constraint: Member must have length greater than or equal to 1"));
    }
    let Some(text) = req.definition.as_deref() else {
        return Err(invalid("1 validation error detected: Value null at 'definition' failed to satisfy constraint: Member must not be null"));
    };
    let definition: Value = serde_json::from_str(text).map_err(|e| {
        TestStateError::InvalidDefinition(format!("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {e}'"))
    })?;
    let sel = select(&definition, req.state_name.as_deref())?;
    let machine_json = test_machine(&sel);
    // Checked as a STANDARD machine's state (callbacks allowed), run as an EXPRESS execution.
    let machine = crate::load(&machine_json, false).map_err(|e| TestStateError::InvalidDefinition(e.to_string()))?;
    let scope = &machine.scopes[0];
    let st = machine.state(0, scope.start_at);
    let kind = type_name(&st.kind);
    let jsonata = st.query_language == QueryLanguage::JsonAta;
    let config = req.state_configuration.clone().unwrap_or_default();
    let mock = req.mock.as_ref().filter(|m| m.result.is_some() || m.error_output.is_some());

    // --- what may be tested, with what (AWS's order)
    if config.map_iteration_failure_count.is_some() && mock.is_none() {
        return Err(invalid("TestState does not support MapIterationFailureCount when a mock is not specified."));
    }
    let map_or_parallel = matches!(st.kind, StateKind::Map(_) | StateKind::Parallel { .. });
    if map_or_parallel && mock.is_none() {
        return Err(TestStateError::InvalidDefinition("TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]".into()));
    }
    let task = match &st.kind {
        StateKind::Task(spec) => Some(spec),
        _ => None,
    };
    if mock.is_some() && task.is_none() && !map_or_parallel {
        return Err(invalid(format!("State type '{kind}' is not supported when a mock is specified")));
    }
    let mut outcome = None;
    if let Some(m) = req.mock.as_ref() {
        if mock.is_some() && req.reveal_secrets == Some(true) {
            return Err(invalid("TestState does not support RevealSecrets when a mock is specified."));
        }
        if m.result.is_some() && m.error_output.is_some() {
            return Err(invalid("A test mock should have only one of the following fields: [result, errorOutput]."));
        }
        if let Some(r) = &m.result {
            let v: Value = serde_json::from_str(r).map_err(|_| invalid("Mocked result must be valid JSON"))?;
            if let StateKind::Map(spec) = &st.kind {
                if spec.result_writer.is_some() && !v.is_object() {
                    return Err(invalid("Mocked result must be a JSON object."));
                }
                if spec.result_writer.is_none() && !v.is_array() {
                    return Err(invalid("Mocked result must be an array."));
                }
            }
            if let StateKind::Parallel { branches } = &st.kind {
                match v.as_array() {
                    None => return Err(invalid("Mocked result must be an array.")),
                    Some(a) if a.len() != branches.len() => {
                        return Err(invalid(
                            "Mocked result must contain the same number of items as number of Parallel branches.",
                        ))
                    }
                    Some(_) => {}
                }
            }
            let mode = match m.field_validation_mode.as_deref().unwrap_or("STRICT") {
                "STRICT" => Some(FieldValidation::Strict),
                "PRESENT" => Some(FieldValidation::Present),
                "NONE" => None,
                other => {
                    return Err(invalid(format!(
                        "1 validation error detected: Value '{other}' at 'mock.fieldValidationMode' failed to satisfy constraint: Member must satisfy enum value set: [STRICT, PRESENT, NONE]"
                    )))
                }
            };
            if let (Some(spec), Some(mode), Some(check)) = (task, mode, env.check_mock) {
                check(&spec.resource, &v, mode)
                    .map_err(|m| invalid(format!("Mock result schema validation error: {m}")))?;
            }
            outcome = Some(MockOutcome::Return(v));
        }
        if let Some(e) = &m.error_output {
            outcome = Some(MockOutcome::Throw { error: e.error.clone().unwrap_or_default(), cause: e.cause.clone() });
        }
    }
    let (integration, wait) = match task {
        Some(spec) => Integration::of(&spec.resource),
        None => (Integration::LambdaArn, false),
    };
    // `.sync` of any service (`states:startExecution.sync`, `ecs:runTask.sync`, ...).
    let sync = matches!(integration, Integration::StatesStartExecutionSync | Integration::StatesStartExecutionSync2)
        || task.is_some_and(|s| s.resource.contains(".sync"));
    let role = req.role_arn.clone().unwrap_or_default();
    // The caller's account: the role's, when one is given.
    let account = role.split(':').nth(4).filter(|a| a.len() == 12).unwrap_or(env.account).to_string();
    let context = match &req.context {
        Some(t) => {
            let mut c = parse_json(t, "context")?;
            check_context(&c, task.is_some() && (wait || sync))?;
            complete_arns(&mut c, env.region, &account);
            Some(c)
        }
        None => None,
    };
    if task.is_some() && outcome.is_none() {
        if req.role_arn.as_deref().unwrap_or("").is_empty() {
            return Err(invalid("RoleArn must be specified when testing a Task state"));
        }
        if wait || sync || integration == Integration::Activity {
            return Err(invalid(
                "TestState does not run a .waitForTaskToken, .sync or Activity task without a mock: give mock.result or mock.errorOutput",
            ));
        }
    }
    let input_text = req.input.clone().unwrap_or_else(|| "{}".into());
    let input = parse_json(&input_text, "input")?;
    let variables = match &req.variables {
        Some(t) => match parse_json(t, "variables")? {
            Value::Object(m) => Some(m),
            _ => return Err(invalid("Invalid variables: a JSON object is expected")),
        },
        None => None,
    };
    let reader_data = match &config.map_item_reader_data {
        Some(t) => Some(parse_json(t, "mapItemReaderData")?),
        None => None,
    };
    let retry_count = match config.retrier_retry_count {
        Some(n) if n < 0 => return Err(invalid("retrierRetryCount must be greater than or equal to 0")),
        Some(n) => Some(n as u32),
        None => None,
    };
    let map_failures = match config.map_iteration_failure_count {
        Some(n) if n < 0 => return Err(invalid("mapIterationFailureCount must be greater than or equal to 0")),
        Some(n) => Some(n as u64),
        None => None,
    };

    // --- the run, in an invented EXPRESS execution
    let random = env.random;
    let machine_name = crate::uuid::v4(random(), random());
    let execution_name = crate::uuid::v4(random(), random());
    let account = account.as_str();
    let info = ExecutionInfo::new(account, env.region, &machine_name, &execution_name, &role, true);
    let mut x = stepper::new_execution(info, input.clone(), env.now);
    x.input_text = Some(input_text.clone());
    x.mocks = outcome.map(|o| Box::new(ExecutionMocks::single(&sel.name, o)));
    x.probe = Some(Box::new(Probe { context, retry_count, map_failures, reader_data, variables, ..Probe::default() }));
    let mut e = Env1 { now: env.now, random };
    let mut pending = vec![Event::Start];
    let mut retriable = false;
    for _ in 0..64 {
        let Some(event) = pending.pop() else { break };
        let t = stepper::step(&machine, x, event, &mut e);
        x = t.execution;
        let probe = x.probe.as_deref().cloned().unwrap_or_default();
        if probe.exit.is_some() || x.status != Status::Running {
            break;
        }
        if matches!(x.frames.first().map(|f| &f.phase), Some(Phase::Backoff { .. })) {
            retriable = true;
            break;
        }
        for effect in t.effects {
            match effect {
                // A task's TimeoutSeconds and HeartbeatSeconds: TestState waits for the answer.
                Effect::Schedule { frame, timer: Some(id), .. } if is_task_timer(&x, frame, id) => {}
                Effect::Schedule { frame, timer, .. } => pending.insert(0, Event::Advance { frame, timer }),
                Effect::Invoke(req) => {
                    let ctx = InvokeContext { region: env.region, account, now: e.now };
                    let outcomes = integrations::perform(&req, &ctx, services, &mut *e.random).await;
                    for outcome in outcomes {
                        pending.insert(0, Event::Task { frame: req.frame, task: req.task, outcome });
                    }
                }
                _ => {}
            }
        }
    }
    let mut probe = x.probe.take().map(|p| *p).unwrap_or_default();
    // The variables after the state ran (its Assign applied on exit).
    if let Some(vars) = x.frames.first().map(|f| &f.vars).filter(|v| !v.is_empty()) {
        probe.notes.insert("variables".into(), Value::Object(vars.clone()));
    }
    if let Some(n) = map_failures {
        let items = probe.notes.get("itemCount").and_then(Value::as_u64).unwrap_or(0);
        if n > items {
            return Err(invalid(
                "Map iteration failure count must be less than or equal to the number of Map iterations",
            ));
        }
    }
    Ok(respond(&machine, level, &input_text, &probe, &x.status, retriable, retry_count.unwrap_or(0), jsonata))
}

/// Whether timer `id` is the TimeoutSeconds or HeartbeatSeconds of the task `frame` runs.
fn is_task_timer(x: &stepper::Execution, frame: usize, id: u64) -> bool {
    matches!(x.frames.get(frame).map(|f| &f.phase),
        Some(Phase::Running(rt)) if rt.timeout_timer == Some(id) || rt.heartbeat_timer == Some(id))
}

/// AWS fills the region and account an ARN of a given context leaves empty
/// (`arn:aws:states:::execution:M:E` → `arn:aws:states:REGION:ACCOUNT:execution:M:E`; IAM ARNs
/// have no region).
fn complete_arns(ctx: &mut Value, region: &str, account: &str) {
    for ptr in ["/Execution/Id", "/Execution/RoleArn", "/StateMachine/Id"] {
        if let Some(Value::String(s)) = ctx.pointer_mut(ptr) {
            let p: Vec<&str> = s.splitn(6, ':').collect();
            if p.len() == 6 && p[0] == "arn" {
                let r = if p[2] == "iam" || !p[3].is_empty() { p[3] } else { region };
                let a = if p[4].is_empty() { account } else { p[4] };
                *s = format!("arn:{}:{}:{r}:{a}:{}", p[1], p[2], p[5]);
            }
        }
    }
}

/// The response: status, output, next state, error, and (DEBUG, TRACE) the inspection data.
#[allow(clippy::too_many_arguments)]
fn respond(
    machine: &StateMachine,
    level: &str,
    input_text: &str,
    probe: &Probe,
    status: &Status,
    retriable: bool,
    retry_count: u32,
    jsonata: bool,
) -> Value {
    let st = machine.state(0, machine.scopes[0].start_at);
    let mut out = Map::new();
    let mut details = Map::new();
    let failure = probe.failure.as_ref();
    let name = failure.map(|f| f.name().to_string()).unwrap_or_default();
    let retrier = failure.and_then(|_| st.retry.iter().position(|r| error_matches(&r.error_equals, &name)));
    let put_error = |out: &mut Map<String, Value>, error: Option<&String>, cause: Option<&String>| {
        if let Some(e) = error {
            out.insert("error".into(), e.clone().into());
        }
        if let Some(c) = cause {
            out.insert("cause".into(), c.clone().into());
        }
    };
    if retriable {
        out.insert("status".into(), "RETRIABLE".into());
        let f = failure.cloned().unwrap_or_default();
        put_error(&mut out, f.error.as_ref(), f.cause.as_ref());
        if let Some(i) = retrier {
            let r = &st.retry[i];
            let mut delay = r.interval_seconds * r.backoff_rate.powi(retry_count as i32);
            if let Some(max) = r.max_delay_seconds {
                delay = delay.min(max);
            }
            details.insert("retryBackoffIntervalSeconds".into(), json!(delay.round() as i64));
            details.insert("retryIndex".into(), json!(i));
        }
    } else if let Some((output, next)) = &probe.exit {
        match failure {
            Some(f) => {
                out.insert("status".into(), "CAUGHT_ERROR".into());
                put_error(&mut out, f.error.as_ref(), f.cause.as_ref());
                if let Some(c) = st.catch.iter().position(|c| error_matches(&c.error_equals, f.name())) {
                    details.insert("catchIndex".into(), json!(c));
                }
            }
            None => {
                out.insert("status".into(), "SUCCEEDED".into());
            }
        }
        out.insert("output".into(), output.to_string().into());
        if let Some(n) = next {
            out.insert("nextState".into(), n.clone().into());
        }
    } else {
        out.insert("status".into(), "FAILED".into());
        let (error, cause) = match status {
            Status::Failed { error, cause } | Status::TimedOut { error, cause } | Status::Aborted { error, cause } => {
                (error.clone(), cause.clone())
            }
            _ => (None, None),
        };
        put_error(&mut out, error.as_ref(), cause.as_ref());
        if let (Some(i), Some(f)) = (retrier, failure) {
            if f.name() != "States.Runtime" {
                details.insert("retryIndex".into(), json!(i));
            }
        }
    }
    if level != "INFO" {
        out.insert("inspectionData".into(), Value::Object(inspection(st, input_text, probe, details, jsonata)));
    }
    Value::Object(out)
}

/// `inspectionData`: which pipeline values AWS shows for the state's kind and query language.
fn inspection(
    st: &crate::model::State,
    input_text: &str,
    probe: &Probe,
    details: Map<String, Value>,
    jsonata: bool,
) -> Map<String, Value> {
    let task = matches!(st.kind, StateKind::Task(_));
    let map = matches!(st.kind, StateKind::Map(_));
    let shown: &[&str] = match (&st.kind, jsonata) {
        (StateKind::Task(_), true) => &["afterArguments", "result"],
        (StateKind::Map(_), true) => &[],
        (_, true) => &[],
        (StateKind::Pass { result: Some(_) }, false) => &["result", "afterResultSelector", "afterResultPath"],
        (StateKind::Pass { result: None }, false) => {
            &["afterInputPath", "afterParameters", "afterResultSelector", "afterResultPath"]
        }
        (StateKind::Parallel { .. }, false) => &["afterResultSelector", "afterResultPath"],
        (StateKind::Map(_), false) => &[
            "afterInputPath",
            "afterItemsPath",
            "afterItemSelector",
            "afterItemBatcher",
            "afterResultSelector",
            "afterResultPath",
        ],
        (StateKind::Task(_), false) => {
            &["afterInputPath", "afterParameters", "result", "afterResultSelector", "afterResultPath"]
        }
        _ => &["afterInputPath"],
    };
    let mut d = Map::new();
    d.insert("input".into(), input_text.into());
    for k in shown {
        match probe.notes.get(*k) {
            Some(v) => {
                d.insert((*k).into(), v.to_string().into());
            }
            // A Fail state has no InputPath: what it sees is its input.
            None if *k == "afterInputPath" && matches!(st.kind, StateKind::Fail(_)) => {
                d.insert((*k).into(), input_text.into());
            }
            None => {}
        }
    }
    if let Some(v) = probe.notes.get("variables") {
        d.insert("variables".into(), v.to_string().into());
    }
    if map {
        for k in ["maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage"] {
            if let Some(v) = probe.notes.get(k) {
                d.insert(k.into(), v.clone());
            }
        }
    }
    if task && jsonata && !probe.notes.contains_key("afterArguments") {
        d.remove("afterArguments");
    }
    if !details.is_empty() {
        d.insert("errorDetails".into(), Value::Object(details));
    }
    d
}
