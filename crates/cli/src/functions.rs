//! Local functions for `stepwise exec`: the embedded runtime's function router (Rust handlers,
//! commands, Lambda Invoke API endpoints) as the in-memory runner's integration port.
//!
//! Two file formats are accepted: the router's own (`{"functions": {"Name": {"command": ...} |
//! {"rust": ...} | {"endpoint": ...}}}`, as `stepwise run` uses), and the short one of `exec`,
//! a flat map from function name or ARN to a command:
//!
//! ```json
//! {
//!   "CheckStockPrice": "python3 functions/check.py",
//!   "arn:aws:lambda:us-east-1:123456789012:function:Echo": ["cat"],
//!   "Buy": {"command": "./buy.sh", "env": {"MODE": "test"}}
//! }
//! ```
//! A command reads the event JSON on stdin and writes its result JSON on stdout, from the file's
//! directory. A non-zero exit is a raised exception: if stdout holds `{"errorType",
//! "errorMessage"}` that is the error, otherwise the error type is `Runtime.ExitError`.

use anyhow::{Context as _, Result};
use serde_json::{json, Map, Value};
use std::path::Path;
use stepwise_asl::integrations::{Call, CallResult, Services};
use stepwise_embedded::functions::FunctionRouter;
use stepwise_runtime::services::invoke;

/// The router as the integration port: functions run locally; SQS and SNS messages are
/// accepted and dropped (an in-memory run keeps no queues; `stepwise run` does).
pub struct LocalFunctions {
    router: FunctionRouter,
    /// DynamoDB, EventBridge and `aws-sdk:*` tasks (see `run::aws_services`).
    aws: std::sync::Arc<stepwise_sdk::SdkClient>,
}

impl LocalFunctions {
    /// No functions: every invoke is `ResourceNotFoundException`.
    pub fn none() -> Result<LocalFunctions> {
        Self::with(FunctionRouter::default())
    }

    /// The functions of a file in either format.
    pub fn load(path: &Path) -> Result<LocalFunctions> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading functions file {}", path.display()))?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing functions file {}", path.display()))?;
        let config = match v {
            Value::Object(m) if !m.contains_key("functions") => {
                // the short format: name → command
                let functions: Map<String, Value> = m
                    .into_iter()
                    .map(|(name, spec)| match spec {
                        Value::Object(o) => (name, Value::Object(o)),
                        command => (name, json!({ "command": command })),
                    })
                    .collect();
                json!({ "functions": functions })
            }
            other => other,
        };
        let dir = path.parent().unwrap_or(Path::new(""));
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let router = FunctionRouter::from_config(&config, dir, &stepwise_sample::dyn_handler)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Self::with(router)
    }

    fn with(router: FunctionRouter) -> Result<LocalFunctions> {
        Ok(LocalFunctions { router, aws: crate::run::aws_services() })
    }
}

impl Services for LocalFunctions {
    async fn call(&mut self, call: &Call) -> CallResult {
        match call {
            Call::Invoke { function, payload, timeout, asynchronous } => {
                // Local functions check no identity.
                CallResult::Function(invoke(&self.router, function, payload, *timeout, *asynchronous, None).await)
            }
            Call::SendMessage { .. } | Call::Publish { .. } => CallResult::Delivered(Ok(None)),
            Call::StartExecution { .. } => stepwise_asl::integrations::states::not_supported_here(),
            Call::ScheduleActivity { .. } => stepwise_asl::integrations::activities_not_here(),
            Call::Aws(call) => CallResult::Aws(stepwise_runtime::AwsCalls::call(self.aws.as_ref(), call).await),
            Call::Done(_) => CallResult::Nothing,
        }
    }
}
