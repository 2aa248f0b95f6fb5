//! The glue between the runner and the interpreter (`stepwise_asl::local`). Everything else in
//! this crate talks to the interpreter through [`Engine`](crate::runner::Engine).

use std::time::Duration;

use serde_json::Value;
use stepwise_asl::local::{self, ExecutionContext, FunctionInvoker, FunctionOutcome, RunOptions};

use crate::invoker::Invoke;
use crate::runner::{Engine, EngineRun, RunSettings};

/// Runs cases with `stepwise_asl::local::run`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalEngine;

struct Adapter<'a>(&'a mut dyn Invoke);

impl FunctionInvoker for Adapter<'_> {
    fn invoke(&mut self, function: &str, payload: &Value, timeout: Option<Duration>) -> FunctionOutcome {
        self.0.invoke(function, payload, timeout)
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
        };
        let r = local::run(definition, input, &opts, &mut Adapter(functions)).map_err(|e| e.to_string())?;
        let history = r.history_json();
        Ok(EngineRun { status: r.status, output: r.output, error: r.error, cause: r.cause, history })
    }
}
