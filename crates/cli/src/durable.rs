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
use stepwise_asl::stepper::Status;
use stepwise_conformance::{Engine, EngineRun, Invoke, RunSettings};
use stepwise_embedded::Embedded;
use stepwise_runtime::ports::{Clock, Functions, Queue, STEP_QUEUE};
use stepwise_runtime::{Config, Runtime};

/// Runs cases on the embedded durable runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct DurableEngine;

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
        tokio.block_on(run_case(definition, input, settings, functions))
    }
}

async fn run_case(
    definition: &Value,
    input: Value,
    settings: &RunSettings,
    functions: &mut dyn Invoke,
) -> Result<EngineRun, String> {
    let clock = CaseClock(Arc::new(Mutex::new(settings.start_time)));
    let emb = Embedded::in_memory().map_err(|e| e.to_string())?.with_clock(Arc::new(clock.clone()));
    let config = Config {
        account: settings.account.clone(),
        region: settings.region.clone(),
        visibility: Duration::ZERO,
        ..Config::default()
    };
    let rt = Runtime::new(
        emb.store,
        emb.queue.clone(),
        emb.topics,
        CaseFunctions(Mutex::new(functions)),
        clock.clone(),
        config,
    );
    let machine = rt
        .create_machine(&settings.state_machine_name, definition.clone(), &settings.role_arn, settings.express)
        .await
        .map_err(|e| e.to_string())?;
    // The text the recorded tests sent (Python's json.dumps), shown verbatim by AWS.
    let text = stepwise_asl::integrations::spaced_json(&input);
    let (arn, _) = rt
        .start_execution_with_date(&machine.arn, &settings.execution_name, input, Some(text))
        .await
        .map_err(|e| e.to_string())?;
    for _ in 0..MAX_ROUNDS {
        let msgs = rt.queue().receive(STEP_QUEUE, 10, Duration::ZERO).await.map_err(|e| e.to_string())?;
        if !msgs.is_empty() {
            for m in msgs {
                rt.process(&m).await.map_err(|e| format!("step message {}: {e}", m.id))?;
            }
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
