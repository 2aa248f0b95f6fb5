//! Local functions for `stepwise exec`: the embedded runtime's function router (Rust handlers,
//! commands, Lambda Invoke API endpoints), called synchronously by the in-memory runner.
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
use std::time::Duration;
use stepwise_asl::integrations::{FunctionInvoker, FunctionOutcome};
use stepwise_embedded::functions::FunctionRouter;
use stepwise_runtime::ports::Functions;

/// The router, driven from synchronous code.
pub struct LocalFunctions {
    router: FunctionRouter,
    rt: tokio::runtime::Runtime,
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
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
        Ok(LocalFunctions { router, rt })
    }
}

impl FunctionInvoker for LocalFunctions {
    fn invoke(&mut self, function: &str, payload: &Value, timeout: Option<Duration>) -> FunctionOutcome {
        self.rt.block_on(self.router.invoke(function, payload, timeout))
    }
}
