//! `stepwise conformance --runtime durable`: the corpus through the durable runtime that
//! `serve` and `run` use — the SQLite store and queue, the step driver, one step message per
//! transition — instead of the in-memory runner.
//!
//! Each case gets a private in-memory database and a clock of its own, set to the case's start
//! time and moved to the next queued message whenever nothing is due, so Wait states and retry
//! intervals cost nothing and timestamps are the ones the recording expects. The case's Lambda
//! functions are the runtime's `Functions` port.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Duration as CDuration, Utc};
use serde_json::Value;
use stepwise_asl::integrations::FunctionOutcome;
use stepwise_asl::integrations::Integration;
use stepwise_asl::stepper::Status;
use stepwise_conformance::{Case, Engine, EngineRun, Invoke, RunSettings};
use stepwise_embedded::Embedded;
use stepwise_runtime::ports::{Clock, Functions, Queue, STEP_QUEUE};
use stepwise_runtime::{Config, Runtime};

mod endpoint;

/// Runs cases on the embedded durable runtime.
#[derive(Debug, Clone, Default)]
pub struct DurableEngine {
    /// A local AWS endpoint (a moto server as account 111111111111): each case's setup is
    /// created there (after a reset), the runtime's AWS calls and Task SQS/SNS messages go
    /// there, and the actors and post-checks read from it. Cases then run one at a time.
    pub aws_endpoint: Option<String>,
}

/// A clock that moves only when told to (forward only).
#[derive(Clone)]
struct CaseClock(Arc<Mutex<DateTime<Utc>>>);

impl CaseClock {
    fn advance_to(&self, t: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            if t > *now {
                *now = t;
            }
        }
    }
}

impl Clock for CaseClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_else(|_| Utc::now())
    }
}

/// The case's functions as the runtime's port.
struct CaseFunctions<'a>(Mutex<&'a mut dyn Invoke>);

impl Functions for CaseFunctions<'_> {
    fn invoke(
        &self,
        function: &str,
        payload: &Value,
        timeout: Option<Duration>,
    ) -> impl Future<Output = FunctionOutcome> + Send {
        let outcome = match self.0.lock() {
            Ok(mut f) => f.invoke(function, payload, timeout),
            Err(_) => FunctionOutcome::error("Runtime.Unknown", "the function runner panicked"),
        };
        std::future::ready(outcome)
    }
}

/// Step messages one case may take before it counts as hung.
const MAX_ROUNDS: usize = 100_000;

impl Engine for DurableEngine {
    fn run(
        &self,
        definition: &Value,
        input: Value,
        settings: &RunSettings,
        functions: &mut dyn Invoke,
    ) -> Result<EngineRun, String> {
        let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        let aws = self.aws_endpoint.as_deref().map(|url| {
            // The recorded cases' resources live in the endpoint's account and their machines'
            // roles are not provisioned there: calls keep the endpoint's credentials.
            Arc::new(stepwise_sdk::SdkClient::new(stepwise_sdk::Settings {
                assume_identities: stepwise_sdk::AssumeIdentities::Never,
                ..stepwise_sdk::Settings::for_endpoint(url, &settings.region)
            }))
        });
        tokio.block_on(run_case(definition, input, settings, functions, aws))
    }

    /// Self-contained cases, and the service cases whose setup and Task resources the durable
    /// runtime provides by itself: nested executions, activities, SQS and SNS (embedded), with
    /// their actors (SQS callbacks, activity workers, StopExecution).
    fn accepts(&self, case: &Case) -> Result<(), String> {
        if case.self_contained {
            return Ok(());
        }
        let Some(setup) = case.raw.get("setup").and_then(Value::as_object) else {
            return Err("not self-contained".into());
        };
        // Functions only a nested machine calls: the case's own functions must hold them (the
        // runner serves those).
        for arn in setup.get("lambda_functions").and_then(Value::as_object).into_iter().flat_map(|m| m.keys()) {
            if !case.lambda_functions.contains_key(arn) {
                return Err(format!("needs the function {arn}, which the case does not embed"));
            }
        }
        for key in setup.keys() {
            let on_endpoint = self.aws_endpoint.is_some() && SETUP_ON_ENDPOINT.contains(&key.as_str());
            if !SETUP_RUN_HERE.contains(&key.as_str()) && !on_endpoint {
                let hint = if SETUP_ON_ENDPOINT.contains(&key.as_str()) { ": run with --aws-endpoint" } else { "" };
                return Err(format!("needs setup `{key}` (not run by the durable runtime yet{hint})"));
            }
        }
        let mut resources = Vec::new();
        task_resources(&case.definition, &mut resources);
        for sm in setup.get("state_machines").and_then(Value::as_array).into_iter().flatten() {
            task_resources(&sm["definition"], &mut resources);
        }
        if let Some(r) = resources.iter().find(|r| Integration::of(r).0 == Integration::Unsupported) {
            return Err(format!("needs {r} (not supported yet)"));
        }
        Ok(())
    }
}

/// The setup parts a service case may have for the durable runtime to run it alone.
const SETUP_RUN_HERE: [&str; 11] = [
    "lambda_functions",
    "activities",
    "state_machines",
    "actors",
    "names",
    "notes",
    "sqs",
    "timing",
    "input_override",
    "snapshot_transformers_extra",
    "snapshot_transformers_override",
];

/// The setup parts created on the AWS endpoint (`--aws-endpoint`); `accounts` and
/// `iam_roles`: the execution runs in the case's execution account, machines of the other
/// account are created there too, the roles on the endpoint.
const SETUP_ON_ENDPOINT: [&str; 11] = [
    "s3",
    "dynamodb",
    "sns",
    "events",
    "secretsmanager",
    "absent",
    "post_checks",
    "moto_gap",
    "sqs",
    "accounts",
    "iam_roles",
];

fn task_resources(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("Type").and_then(Value::as_str) == Some("Task") {
                if let Some(r) = m.get("Resource").and_then(Value::as_str) {
                    out.push(r.to_string());
                }
            }
            m.values().for_each(|c| task_resources(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| task_resources(c, out)),
        _ => {}
    }
}

async fn run_case(
    definition: &Value,
    input: Value,
    settings: &RunSettings,
    functions: &mut dyn Invoke,
    aws: Option<Arc<stepwise_sdk::SdkClient>>,
) -> Result<EngineRun, String> {
    if let Some(sdk) = &aws {
        endpoint::provision(sdk, &settings.setup).await?;
    }
    let clock = CaseClock(Arc::new(Mutex::new(settings.start_time)));
    let emb = Embedded::in_memory().map_err(|e| e.to_string())?.with_clock(Arc::new(clock.clone()));
    // Cross-account cases run the execution in their execution account.
    let account = settings.setup["accounts"]["execution_account"].as_str().unwrap_or(&settings.account).to_string();
    let config = Config { account, region: settings.region.clone(), visibility: Duration::ZERO, ..Config::default() };
    let rt = Runtime::new(
        emb.store,
        emb.queue.clone(),
        emb.topics,
        CaseFunctions(Mutex::new(functions)),
        clock.clone(),
        config,
    );
    let rt = match &aws {
        Some(sdk) => rt.with_aws(sdk.clone()),
        None => rt,
    };
    provision(&rt, &settings.setup, &settings.role_arn).await?;
    let machine = rt
        .create_machine(&settings.state_machine_name, definition.clone(), &settings.role_arn, settings.express)
        .await
        .map_err(|e| e.to_string())?;
    let input = settings.setup.get("input_override").cloned().unwrap_or(input);
    // The text the recorded tests sent (Python's json.dumps), shown verbatim by AWS.
    let text = stepwise_asl::integrations::spaced_json(&input);
    let (arn, _) = rt
        .start_execution_with_date(&machine.arn, &settings.execution_name, input, Some(text))
        .await
        .map_err(|e| e.to_string())?;
    let mut actors = Actors::new(&settings.setup, aws.clone());
    for _ in 0..MAX_ROUNDS {
        let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.map_err(|e| e.to_string())?;
        if !msgs.is_empty() {
            for m in msgs {
                rt.process(&m).await.map_err(|e| format!("step message {}: {e}", m.id))?;
            }
            continue;
        }
        if actors.act(&rt, &clock, &arn).await? {
            continue;
        }
        let status = rt.describe(&arn).await.map_err(|e| e.to_string())?.execution.status;
        if !matches!(status, Status::Running) {
            break;
        }
        match emb.queue.next_visible_at(STEP_QUEUE).map_err(|e| e.to_string())? {
            Some(t) => clock.advance_to(t + CDuration::milliseconds(1)),
            None => return Err("the execution is RUNNING with no step message queued (hung)".into()),
        }
    }
    let stored = rt.describe(&arn).await.map_err(|e| e.to_string())?;
    let history = rt.history(&arn).await.map_err(|e| e.to_string())?;
    let history = history.iter().map(|e| e.to_api_json(true)).collect();
    let x = stored.execution;
    if let Some(sdk) = &aws {
        let output = match &x.status {
            Status::Succeeded { output } => output.clone(),
            _ => Value::Null,
        };
        endpoint::post_checks(sdk, &settings.setup, &actors.consumed, &output).await?;
    }
    let (output, error, cause) = match x.status.clone() {
        Status::Succeeded { output } => (Some(output), None, None),
        Status::Failed { error, cause } | Status::TimedOut { error, cause } | Status::Aborted { error, cause } => {
            (None, error, cause)
        }
        _ => (None, None, None),
    };
    Ok(EngineRun { status: x.status.as_str().to_string(), output, error, cause, history })
}

/// Checks a definition as CreateStateMachine does on the durable runtime: `Err` is the
/// refusal's message.
pub fn validate(definition: &Value, express: bool) -> Result<(), String> {
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    tokio.block_on(async {
        let emb = Embedded::in_memory().map_err(|e| e.to_string())?;
        let clock = CaseClock(Arc::new(Mutex::new(Utc::now())));
        let rt = Runtime::new(emb.store, emb.queue, emb.topics, NoFunctions, clock, Config::default());
        match rt.create_machine("validation", definition.clone(), "arn:aws:iam::123456789012:role/r", express).await {
            Ok(_) => Ok(()),
            Err(e) => Err(e.message()),
        }
    })
}

/// Validation runs no function.
struct NoFunctions;

impl Functions for NoFunctions {
    fn invoke(&self, _: &str, _: &Value, _: Option<Duration>) -> impl Future<Output = FunctionOutcome> + Send {
        std::future::ready(FunctionOutcome::NotFound)
    }
}

type CaseRuntime<'a> = Runtime<
    stepwise_embedded::SqliteStore,
    stepwise_embedded::SqliteQueue,
    stepwise_embedded::SqliteTopics,
    CaseFunctions<'a>,
    CaseClock,
>;

/// Creates what a service case's setup names: its activities and nested state machines.
async fn provision(rt: &CaseRuntime<'_>, setup: &Value, role: &str) -> Result<(), String> {
    for a in setup.get("activities").and_then(Value::as_array).into_iter().flatten() {
        let name = a["name"].as_str().unwrap_or_default();
        rt.create_activity(name, None).await.map_err(|e| format!("activity {name}: {e}"))?;
    }
    for sm in setup.get("state_machines").and_then(Value::as_array).into_iter().flatten() {
        let name = sm["name"].as_str().unwrap_or_default();
        let express = sm["type"].as_str() == Some("EXPRESS");
        let created = match sm.get("account").and_then(Value::as_str) {
            // A machine of another account (cross-account cases): this runtime holds it too.
            Some(account) => rt.create_machine_in_account(account, name, sm["definition"].clone(), role, express).await,
            None => rt.create_machine(name, sm["definition"].clone(), role, express).await,
        };
        created.map_err(|e| format!("state machine {name}: {e}"))?;
    }
    Ok(())
}

/// The value at a JSONPath of the simple `$` / `$.a.b` form the setups use.
fn at_path<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    let rest = path.strip_prefix('$')?;
    let mut v = doc;
    for key in rest.split('.').filter(|k| !k.is_empty()) {
        v = v.get(key)?;
    }
    Some(v)
}

/// What the actors of a service case do while it runs (see the corpus README): SQS consumers
/// that answer with the token of each message, activity workers, a StopExecution.
struct Actors {
    pending: Vec<(Value, usize)>,
    /// The AWS endpoint whose queues the SQS actors read, when there is one.
    aws: Option<Arc<stepwise_sdk::SdkClient>>,
    /// Messages the actors took, by queue (the recorded tests' post-checks count them).
    consumed: std::collections::HashMap<String, usize>,
}

impl Actors {
    fn new(setup: &Value, aws: Option<Arc<stepwise_sdk::SdkClient>>) -> Actors {
        let pending = setup
            .get("actors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|a| (a.clone(), a["messages"].as_u64().unwrap_or(1) as usize))
            .collect();
        Actors { pending, aws, consumed: std::collections::HashMap::new() }
    }

    /// Lets every actor act once; `true` when one did something.
    async fn act(&mut self, rt: &CaseRuntime<'_>, clock: &CaseClock, arn: &str) -> Result<bool, String> {
        let mut acted = false;
        for (actor, left) in &mut self.pending {
            if *left == 0 {
                continue;
            }
            match actor["kind"].as_str() {
                Some("activity_worker") => {
                    let name = actor["activity"].as_str().unwrap_or_default();
                    let activity =
                        stepwise_runtime::driver::activity_arn(&rt.config().region, &rt.config().account, name);
                    let worker = actor["worker_name"].as_str();
                    let task =
                        rt.get_activity_task(&activity, worker, Duration::ZERO).await.map_err(|e| e.to_string())?;
                    if let Some(task) = task {
                        let source: Value = serde_json::from_str(&task.input).unwrap_or(Value::Null);
                        respond(rt, clock, actor, &task.token, &source).await?;
                        *left -= 1;
                        acted = true;
                    }
                }
                Some("sqs_callback") => {
                    let queue = actor["queue"].as_str().unwrap_or_default().to_string();
                    let bodies = match &self.aws {
                        Some(sdk) => endpoint::receive(sdk, &queue, 1).await?,
                        None => {
                            let msgs = rt
                                .queue()
                                .receive(&queue, 1, Duration::from_secs(3600))
                                .await
                                .map_err(|e| e.to_string())?;
                            let mut bodies = Vec::new();
                            for m in msgs {
                                rt.queue().ack(&queue, &m.receipt).await.map_err(|e| e.to_string())?;
                                bodies.push(m.body);
                            }
                            bodies
                        }
                    };
                    *self.consumed.entry(queue.clone()).or_default() += bodies.len();
                    for body in bodies {
                        let mut source: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
                        if actor["envelope"].as_str() == Some("sns") {
                            if let Some(inner) = source.get("Message").and_then(Value::as_str) {
                                source = serde_json::from_str(inner).unwrap_or(Value::String(inner.to_string()));
                            }
                        }
                        let path = actor["token_path"].as_str().unwrap_or("$.TaskToken");
                        let Some(token) = at_path(&source, path).and_then(Value::as_str).map(str::to_string) else {
                            continue;
                        };
                        respond(rt, clock, actor, &token, &source).await?;
                        *left -= 1;
                        acted = true;
                    }
                }
                Some("stop_execution") => {
                    let state = actor["when"]["state_entered"].as_str().unwrap_or_default();
                    let history = rt.history(arn).await.map_err(|e| e.to_string())?;
                    let entered = history.iter().any(|e| {
                        e.event_type.ends_with("StateEntered")
                            && matches!(&e.details, stepwise_asl::history::Details::Entered { name, .. } if name == state)
                    });
                    if entered {
                        let text = |k: &str| actor[k].as_str().map(str::to_string);
                        rt.stop_execution(arn, text("error"), text("cause")).await.map_err(|e| e.to_string())?;
                        *left = 0;
                        acted = true;
                    }
                }
                _ => *left = 0,
            }
        }
        Ok(acted)
    }
}

/// An actor's `before` steps, then its `respond`, for the task of `token` (`source`: the task
/// input or the message).
async fn respond(
    rt: &CaseRuntime<'_>,
    clock: &CaseClock,
    actor: &Value,
    token: &str,
    source: &Value,
) -> Result<(), String> {
    for step in actor["before"].as_array().into_iter().flatten() {
        if let Some(s) = step["wait_seconds"].as_i64() {
            clock.advance_to(clock.now() + CDuration::seconds(s));
        }
        for _ in 0..step["heartbeat"].as_u64().unwrap_or(0) {
            // A task that already ended answers TaskTimedOut: the actor goes on, as the test did.
            let _ = rt.send_task_heartbeat(token).await;
        }
    }
    let r = &actor["respond"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let outcome = if let Some(v) = r.get("success") {
        rt.send_task_success(token, &v.to_string()).await
    } else if let Some(p) = r.get("success_from").and_then(Value::as_str) {
        let v = at_path(source, p).cloned().unwrap_or(Value::Null);
        rt.send_task_success(token, &v.to_string()).await
    } else if let Some(f) = r.get("failure") {
        rt.send_task_failure(token, f.get("error").map(text).as_deref(), f.get("cause").map(text).as_deref()).await
    } else if let Some(f) = r.get("failure_from") {
        let cause = f["cause_from"].as_str().and_then(|p| at_path(source, p)).map(text);
        rt.send_task_failure(token, f["error"].as_str(), cause.as_deref()).await
    } else {
        Ok(()) // `none`: take the task, never answer
    };
    // An answer the runtime refuses (the task already ended) is what the recorded test saw too.
    let _ = outcome;
    Ok(())
}
