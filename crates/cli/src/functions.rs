//! Local functions for Task states: a registry file mapping function names or ARNs to commands.
//!
//! ```json
//! {
//!   "CheckStockPrice": "python3 functions/check.py",
//!   "arn:aws:lambda:us-east-1:123456789012:function:Echo": ["cat"],
//!   "Buy": {"command": "./buy.sh", "env": {"MODE": "test"}}
//! }
//! ```
//! A command reads the event JSON on stdin and writes its result JSON on stdout. A non-zero exit
//! is a raised exception: if stdout holds `{"errorType", "errorMessage"}` that is the error,
//! otherwise the error type is `Runtime.ExitError`, as Lambda reports a crashed runtime.

use anyhow::{bail, Context as _, Result};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use stepwise_asl::integrations::{FunctionInvoker, FunctionOutcome};

/// One registered command.
#[derive(Debug, Clone)]
pub struct FunctionCommand {
    argv: Vec<String>,
    shell: bool,
    env: Vec<(String, String)>,
}

/// Functions by name or ARN, run as commands from the registry file's directory.
#[derive(Debug, Default)]
pub struct Registry {
    functions: HashMap<String, FunctionCommand>,
    dir: PathBuf,
}

impl Registry {
    /// Loads a registry file.
    pub fn load(path: &Path) -> Result<Registry> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading functions file {}", path.display()))?;
        let v: Value = serde_json::from_str(&text).with_context(|| format!("parsing functions file {}", path.display()))?;
        let Value::Object(m) = v else { bail!("{}: the functions file must be a JSON object", path.display()) };
        let mut functions = HashMap::new();
        for (name, spec) in m {
            let cmd = parse_spec(&spec).with_context(|| format!("{}: function '{name}'", path.display()))?;
            functions.insert(name, cmd);
        }
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Registry { functions, dir })
    }

    fn resolve(&self, function: &str) -> Option<&FunctionCommand> {
        if let Some(c) = self.functions.get(function) {
            return Some(c);
        }
        let name = function_name(function);
        self.functions.get(name).or_else(|| self.functions.iter().find(|(k, _)| function_name(k) == name).map(|(_, c)| c))
    }
}

/// The bare function name of a name, partial ARN or full ARN (qualifier dropped).
pub fn function_name(f: &str) -> &str {
    let parts: Vec<&str> = f.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => parts.first().copied().unwrap_or(f),
    }
}

fn parse_spec(spec: &Value) -> Result<FunctionCommand> {
    Ok(match spec {
        Value::String(s) => FunctionCommand { argv: vec![s.clone()], shell: true, env: Vec::new() },
        Value::Array(a) => {
            let argv: Vec<String> = a.iter().map(|x| x.as_str().map(String::from)).collect::<Option<_>>().context("argv entries must be strings")?;
            if argv.is_empty() {
                bail!("the command is empty");
            }
            FunctionCommand { argv, shell: false, env: Vec::new() }
        }
        Value::Object(o) => {
            let mut c = parse_spec(o.get("command").context("missing field 'command'")?)?;
            if let Some(Value::Object(env)) = o.get("env") {
                c.env = env.iter().map(|(k, v)| (k.clone(), v.as_str().map(String::from).unwrap_or_else(|| v.to_string()))).collect();
            }
            c
        }
        _ => bail!("a function is a command string, an argv array or {{\"command\", \"env\"}}"),
    })
}

impl FunctionInvoker for Registry {
    fn invoke(&mut self, function: &str, payload: &Value, timeout: Option<Duration>) -> FunctionOutcome {
        let Some(cmd) = self.resolve(function) else { return FunctionOutcome::NotFound };
        run_command(cmd, &self.dir, payload, timeout)
    }
}

fn run_command(cmd: &FunctionCommand, dir: &Path, payload: &Value, timeout: Option<Duration>) -> FunctionOutcome {
    let mut c = if cmd.shell {
        let mut c = Command::new("sh");
        c.arg("-c").arg(&cmd.argv[0]);
        c
    } else {
        let mut c = Command::new(&cmd.argv[0]);
        c.args(&cmd.argv[1..]);
        c
    };
    if !dir.as_os_str().is_empty() {
        c.current_dir(dir);
    }
    c.envs(cmd.env.iter().cloned()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match c.spawn() {
        Ok(ch) => ch,
        Err(e) => return error("Runtime.InvalidEntrypoint", &format!("cannot start {:?}: {e}", cmd.argv)),
    };
    let body = serde_json::to_vec(payload).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body);
    }
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_end(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(o) = stderr.as_mut() {
            let _ = o.read_to_end(&mut s);
        }
        s
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {
                if timeout.is_some_and(|t| started.elapsed() >= t) {
                    let _ = child.kill();
                    let _ = child.wait();
                    return FunctionOutcome::TimedOut;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return error("Runtime.ExitError", &e.to_string()),
        }
    };
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    if status.success() {
        let t = text.trim();
        if t.is_empty() {
            return FunctionOutcome::Ok(Value::Null);
        }
        return match serde_json::from_str(t) {
            Ok(v) => FunctionOutcome::Ok(v),
            Err(e) => error("Runtime.InvalidResponse", &format!("the function's output is not JSON: {e}")),
        };
    }
    if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text.trim()) {
        if let Some(t) = o.get("errorType").and_then(Value::as_str) {
            let msg = o.get("errorMessage").and_then(Value::as_str).unwrap_or_default().to_string();
            return FunctionOutcome::Error { error_type: t.to_string(), error_message: msg, payload: Value::Object(o) };
        }
    }
    let stderr = String::from_utf8_lossy(&err);
    let tail: String = stderr.trim().lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    error("Runtime.ExitError", &format!("exit status {}: {tail}", status.code().unwrap_or(-1)))
}

fn error(t: &str, msg: &str) -> FunctionOutcome {
    let mut o = Map::new();
    o.insert("errorMessage".into(), msg.into());
    o.insert("errorType".into(), t.into());
    FunctionOutcome::Error { error_type: t.into(), error_message: msg.into(), payload: Value::Object(o) }
}

/// No functions at all: every invoke is `ResourceNotFoundException`.
pub struct NoFunctions;

impl FunctionInvoker for NoFunctions {
    fn invoke(&mut self, _: &str, _: &Value, _: Option<Duration>) -> FunctionOutcome {
        FunctionOutcome::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_come_from_arns() {
        assert_eq!(function_name("arn:aws:lambda:us-east-1:1:function:f:prod"), "f");
        assert_eq!(function_name("1:function:f"), "f");
        assert_eq!(function_name("f"), "f");
    }

    #[test]
    fn commands_return_json_and_errors() {
        let ok = FunctionCommand { argv: vec!["cat".into()], shell: false, env: vec![] };
        assert_eq!(run_command(&ok, Path::new(""), &json!({"a": 1}), None), FunctionOutcome::Ok(json!({"a": 1})));
        let bad = FunctionCommand {
            argv: vec![r#"echo '{"errorType":"Boom","errorMessage":"no"}'; exit 1"#.into()],
            shell: true,
            env: vec![],
        };
        match run_command(&bad, Path::new(""), &json!({}), None) {
            FunctionOutcome::Error { error_type, error_message, .. } => {
                assert_eq!((error_type.as_str(), error_message.as_str()), ("Boom", "no"))
            }
            other => panic!("{other:?}"),
        }
        let slow = FunctionCommand { argv: vec!["sleep 5".into()], shell: true, env: vec![] };
        assert_eq!(
            run_command(&slow, Path::new(""), &json!({}), Some(Duration::from_millis(100))),
            FunctionOutcome::TimedOut
        );
    }
}
