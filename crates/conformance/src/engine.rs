//! The glue between the runner and the interpreter (`stepwise_asl::local`). Everything else in
//! this crate talks to the interpreter through [`Engine`](crate::runner::Engine).

use serde_json::Value;
use stepwise_asl::integrations::{Call, CallResult, Services};
use stepwise_asl::local::{self, ExecutionContext, RunOptions};

use crate::invoker::Invoke;
use crate::runner::{Engine, EngineRun, RunSettings};

/// Runs cases with `stepwise_asl::local::run`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalEngine;

/// The corpus' functions as the integration port: invocations run the recorded handlers;
/// SQS and SNS messages are accepted and dropped (the self-contained cases send none that a
/// later step reads).
struct Adapter<'a>(&'a mut dyn Invoke);

impl Services for Adapter<'_> {
    async fn call(&mut self, call: &Call) -> CallResult {
        match call {
            Call::Invoke { function, payload, timeout, .. } => {
                CallResult::Function(self.0.invoke(function, payload, *timeout))
            }
            Call::SendMessage { .. } | Call::Publish { .. } => CallResult::Delivered(Ok(None)),
            Call::StartExecution { .. } => stepwise_asl::integrations::states::not_supported_here(),
            Call::ScheduleActivity { .. } => stepwise_asl::integrations::activities_not_here(),
            Call::Aws(call) => stepwise_asl::integrations::no_aws(call),
            Call::Done(_) => CallResult::Nothing,
        }
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
            // The text the recorded tests sent (Python's json.dumps), which AWS echoes.
            input_text: Some(stepwise_asl::integrations::spaced_json(&input)),
            mocks: None,
        };
        // The run awaits only the handlers, which run synchronously: any executor will do.
        let r = futures_executor::block_on(local::run(definition, input, &opts, &mut Adapter(functions)))
            .map_err(|e| e.to_string())?;
        let history = r.history.iter().map(|e| e.to_api_json(true)).collect();
        Ok(EngineRun {
            status: r.status.as_str().to_string(),
            output: r.output,
            error: r.error,
            cause: r.cause,
            history,
        })
    }
}
