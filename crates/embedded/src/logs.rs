//! Execution logs as JSON lines: each log group a file under a directory (its name as a path:
//! `/aws/vendedlogs/states/Orders` → `DIR/aws/vendedlogs/states/Orders.log`), or every record
//! on stdout. One record per line, in Step Functions' log format
//! ([`stepwise_runtime::logs`]).

use serde_json::Value;
use std::future::Future;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use stepwise_runtime::logs::{group_name, ExecutionLogs};

/// Where the records go.
#[derive(Debug)]
pub enum LogFiles {
    /// A file per log group under this directory.
    Dir(PathBuf),
    /// Standard output.
    Stdout,
}

/// Execution logs written as JSON lines.
#[derive(Debug)]
pub struct JsonLineLogs {
    to: LogFiles,
    lock: Mutex<()>,
}

impl JsonLineLogs {
    /// Logs going to `to`.
    pub fn new(to: LogFiles) -> Self {
        JsonLineLogs { to, lock: Mutex::new(()) }
    }

    /// The file of a log group: its name's segments under the directory (no `..`, no root).
    pub fn file_of(dir: &Path, group_arn: &str) -> PathBuf {
        let mut path = dir.to_path_buf();
        for c in Path::new(group_name(group_arn)).components() {
            if let Component::Normal(part) = c {
                path.push(part);
            }
        }
        path.set_extension("log");
        path
    }

    fn append(&self, group_arn: &str, records: &[Value]) -> std::io::Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut text = String::new();
        for r in records {
            text.push_str(&r.to_string());
            text.push('\n');
        }
        match &self.to {
            LogFiles::Stdout => std::io::stdout().lock().write_all(text.as_bytes()),
            LogFiles::Dir(dir) => {
                let file = Self::file_of(dir, group_arn);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::OpenOptions::new().create(true).append(true).open(file)?.write_all(text.as_bytes())
            }
        }
    }
}

impl ExecutionLogs for JsonLineLogs {
    fn write<'a>(
        &'a self,
        log_group_arn: &'a str,
        _execution_arn: &'a str,
        records: Vec<Value>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if let Err(e) = self.append(log_group_arn, &records) {
                eprintln!("stepwise: execution log records for {log_group_arn} were not written: {e}");
            }
        })
    }
}
