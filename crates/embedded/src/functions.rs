//! Local Lambda functions: a [`FunctionRouter`] sends each invocation to an in-process Rust
//! handler, a command, or an HTTP endpoint serving Lambda's Invoke API.
//!
//! A requested function (a name, partial ARN or full ARN, maybe qualified; the qualifier is
//! ignored) is resolved against the registered keys, which may themselves be names or ARNs:
//! first an exact key, then the unqualified ARN, then the bare name, then any key with the same
//! bare name; failing that, the default endpoint if there is one, else
//! [`FunctionOutcome::NotFound`].
//!
//! The three kinds of function:
//!
//! - **Rust** ([`RustHandler`]): called on the blocking thread pool; `Err((errorType,
//!   errorMessage))` is a raised exception. A timeout abandons the call (the thread cannot be
//!   stopped) and reports [`FunctionOutcome::TimedOut`].
//! - **Command**: reads the event JSON on stdin and writes its result JSON on stdout, run in the
//!   configuration file's directory. A non-zero exit is a raised exception: if stdout holds
//!   `{"errorType", "errorMessage"}` that is the error, otherwise the error type is
//!   `Runtime.ExitError`, as Lambda reports a crashed runtime. A timeout kills it.
//! - **Endpoint**: `POST {base}/2015-03-31/functions/{name}/invocations` with the event as body
//!   (plain `http://` only), as served by the Lambda runtime interface emulator or `cargo lambda
//!   watch`. A 200 is the result unless it carries `X-Amz-Function-Error`, then the body is the
//!   error payload; a 500 whose body has an `errorType` (`cargo lambda watch`'s way of
//!   reporting a raised error) is that error; 404 is `NotFound`; other statuses are Lambda
//!   service errors (`Lambda.ServiceException`, or `Lambda.{x-amzn-ErrorType}`); connection
//!   failures are `Lambda.SdkClientException`.
//!
//! The configuration file ([`FunctionRouter::load`]):
//!
//! ```json
//! {
//!   "functions": {
//!     "CheckStockPrice": {"rust": "CheckStockPrice"},
//!     "Echo": {"command": ["cat"]},
//!     "Shell": {"command": "python3 handler.py", "env": {"MODE": "test"}},
//!     "arn:aws:lambda:us-east-1:123456789012:function:Remote": {"endpoint": "http://127.0.0.1:9000"},
//!     "Renamed": {"endpoint": "http://127.0.0.1:9000", "name": "renamed-function"}
//!   },
//!   "default_endpoint": "http://127.0.0.1:9000"
//! }
//! ```
//!
//! A command given as a string runs with `sh -c`, as an array it is the argv. `rust` names are
//! looked up in the registry given to `load`. An endpoint's `name` is the function name used
//! in the URL (default: the key's bare name); unknown functions go to `default_endpoint` under
//! their bare name.

use serde_json::Value;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepwise_asl::integrations::FunctionOutcome;
use stepwise_runtime::ports::Functions;

/// An in-process function: the event in, the result or `(errorType, errorMessage)` out.
pub type RustHandler = Arc<dyn Fn(Value) -> Result<Value, (String, String)> + Send + Sync>;

/// How long an endpoint may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response body read from an endpoint (Lambda's synchronous payload limit is 6 MB).
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// A configuration file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// The file is not JSON.
    #[error("{path} is not JSON: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        message: String,
    },
    /// A field is wrong; `field` is its path, like `functions.Echo.command`.
    #[error("{field}: {message}")]
    Field {
        /// The path of the field, dot-separated (empty for the whole document).
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn field_error(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Field { field: field.into(), message: message.into() }
}

/// A command function.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CommandSpec {
    argv: Vec<String>,
    shell: bool,
    env: Vec<(String, String)>,
}

#[derive(Clone)]
enum Target {
    Rust(RustHandler),
    Command(Arc<CommandSpec>),
    Endpoint { base: String, name: Option<String> },
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Rust(_) => f.write_str("Rust(..)"),
            Target::Command(c) => f.debug_tuple("Command").field(&c.argv).finish(),
            Target::Endpoint { base, name } => {
                f.debug_struct("Endpoint").field("base", base).field("name", name).finish()
            }
        }
    }
}

/// Local functions by name or ARN: Rust handlers, commands and HTTP endpoints (see the
/// [module documentation](self)). Implements the runtime's [`Functions`] port.
#[derive(Clone)]
pub struct FunctionRouter {
    /// Registered functions in registration order (a later registration of a key replaces the
    /// earlier one in place).
    functions: Vec<(String, Target)>,
    default_endpoint: Option<String>,
    dir: PathBuf,
    agent: ureq::Agent,
}

impl fmt::Debug for FunctionRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionRouter")
            .field("functions", &self.functions)
            .field("default_endpoint", &self.default_endpoint)
            .field("dir", &self.dir)
            .finish()
    }
}

impl Default for FunctionRouter {
    fn default() -> Self {
        FunctionRouter::new()
    }
}

impl FunctionRouter {
    /// A router without functions (every invocation is `NotFound`); commands run in the
    /// current directory.
    pub fn new() -> Self {
        FunctionRouter {
            functions: Vec::new(),
            default_endpoint: None,
            dir: PathBuf::new(),
            agent: ureq::AgentBuilder::new().timeout_connect(CONNECT_TIMEOUT).build(),
        }
    }

    /// Loads a configuration file (see the [module documentation](self)); `rust` entries are
    /// looked up in `registry`, commands run in the file's directory.
    pub fn load(path: &Path, registry: &dyn Fn(&str) -> Option<RustHandler>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_path_buf(), message: e.to_string() })?;
        let config: Value = serde_json::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_config(&config, &dir, registry)
    }

    /// Builds a router from a parsed configuration document; commands run in `dir` (empty: the
    /// current directory).
    pub fn from_config(
        config: &Value,
        dir: &Path,
        registry: &dyn Fn(&str) -> Option<RustHandler>,
    ) -> Result<Self, ConfigError> {
        let Value::Object(top) = config else {
            return Err(field_error(
                "",
                format!("expected a JSON object, got {}", stepwise_asl::value_type::with_article(config)),
            ));
        };
        let mut router = FunctionRouter::new();
        router.dir = dir.to_path_buf();
        for (key, value) in top {
            match key.as_str() {
                "functions" => {
                    let Value::Object(functions) = value else {
                        return Err(field_error(
                            "functions",
                            format!("expected an object, got {}", stepwise_asl::value_type::with_article(value)),
                        ));
                    };
                    for (name, spec) in functions {
                        let target = parse_function(&format!("functions.{name}"), spec, registry)?;
                        router.insert(name.clone(), target);
                    }
                }
                "default_endpoint" => {
                    let base = parse_endpoint("default_endpoint", value)?;
                    router.default_endpoint = Some(base);
                }
                other => {
                    return Err(field_error(other, "unknown field (expected \"functions\" or \"default_endpoint\")"));
                }
            }
        }
        Ok(router)
    }

    /// Registers an in-process handler under `name` (a function name or ARN).
    pub fn rust(&mut self, name: impl Into<String>, handler: RustHandler) -> &mut Self {
        self.insert(name.into(), Target::Rust(handler));
        self
    }

    /// Registers a command (`argv[0]` is the program; an empty argv fails when invoked) under
    /// `name`.
    pub fn command(&mut self, name: impl Into<String>, argv: Vec<String>) -> &mut Self {
        self.insert(name.into(), Target::Command(Arc::new(CommandSpec { argv, shell: false, env: Vec::new() })));
        self
    }

    /// Registers an HTTP endpoint (a base URL like `http://127.0.0.1:9000`) serving the
    /// function under `name`; the URL names the function by `name`'s bare name.
    pub fn endpoint(&mut self, name: impl Into<String>, base_url: impl Into<String>) -> &mut Self {
        self.insert(name.into(), Target::Endpoint { base: base_url.into(), name: None });
        self
    }

    /// Sends functions that are not registered to this endpoint, under their bare names.
    pub fn default_endpoint(&mut self, base_url: impl Into<String>) -> &mut Self {
        self.default_endpoint = Some(base_url.into());
        self
    }

    /// Runs commands in `dir` (empty: the current directory).
    pub fn dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.dir = dir.into();
        self
    }

    /// Whether `function` resolves to something (a registered function or the default
    /// endpoint).
    pub fn contains(&self, function: &str) -> bool {
        self.resolve(function).is_some()
    }

    fn insert(&mut self, key: String, target: Target) {
        match self.functions.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = target,
            None => self.functions.push((key, target)),
        }
    }

    /// The target of `function` and the function name to use in an endpoint's URL.
    fn resolve(&self, function: &str) -> Option<(Target, String)> {
        let name = function_name(function);
        if name.is_empty() {
            return None;
        }
        let unqualified = unqualified(function);
        let found = self
            .functions
            .iter()
            .find(|(k, _)| k == function)
            .or_else(|| self.functions.iter().find(|(k, _)| k == unqualified))
            .or_else(|| self.functions.iter().find(|(k, _)| k == name))
            .or_else(|| self.functions.iter().find(|(k, _)| function_name(k) == name));
        match found {
            Some((key, target)) => {
                let url_name = match target {
                    Target::Endpoint { name: Some(n), .. } => n.clone(),
                    _ => function_name(key).to_string(),
                };
                Some((target.clone(), url_name))
            }
            None => self
                .default_endpoint
                .as_ref()
                .map(|base| (Target::Endpoint { base: base.clone(), name: None }, name.to_string())),
        }
    }
}

impl Functions for FunctionRouter {
    async fn invoke(&self, function: &str, payload: &Value, timeout: Option<Duration>) -> FunctionOutcome {
        let Some((target, name)) = self.resolve(function) else { return FunctionOutcome::NotFound };
        let payload = payload.clone();
        match target {
            Target::Rust(handler) => {
                let call = tokio::task::spawn_blocking(move || handler(payload));
                let joined = match timeout {
                    Some(t) => match tokio::time::timeout(t, call).await {
                        Ok(joined) => joined,
                        Err(_) => return FunctionOutcome::TimedOut,
                    },
                    None => call.await,
                };
                match joined {
                    Ok(Ok(v)) => FunctionOutcome::Ok(v),
                    Ok(Err((error_type, error_message))) => error(&error_type, &error_message),
                    Err(e) => error("Runtime.ExitError", &format!("the handler panicked: {}", panic_message(e))),
                }
            }
            Target::Command(spec) => {
                let dir = self.dir.clone();
                blocking(move || run_command(&spec, &dir, &payload, timeout)).await
            }
            Target::Endpoint { base, .. } => {
                let agent = self.agent.clone();
                blocking(move || invoke_endpoint(&agent, &base, &name, &payload, timeout)).await
            }
        }
    }
}

/// Runs blocking work on the blocking thread pool.
async fn blocking(f: impl FnOnce() -> FunctionOutcome + Send + 'static) -> FunctionOutcome {
    match tokio::task::spawn_blocking(f).await {
        Ok(outcome) => outcome,
        Err(e) => error("Runtime.ExitError", &format!("the invocation panicked: {}", panic_message(e))),
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return e.to_string();
    }
    let payload = e.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic".to_string()
    }
}

/// The bare function name of a name, partial ARN (`ACCOUNT:function:NAME`) or full ARN, with
/// any qualifier (`:VERSION`, `:ALIAS`) dropped.
pub fn function_name(function: &str) -> &str {
    let parts: Vec<&str> = function.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => parts[i + 1],
        _ => parts.first().copied().unwrap_or(function),
    }
}

/// `function` without its qualifier: `arn:...:function:NAME`, `ACCOUNT:function:NAME` or `NAME`.
fn unqualified(function: &str) -> &str {
    let parts: Vec<&str> = function.split(':').collect();
    let keep = match parts.iter().position(|p| *p == "function") {
        Some(i) if i + 1 < parts.len() => i + 2,
        _ => 1,
    };
    let len: usize = parts[..keep.min(parts.len())].iter().map(|p| p.len() + 1).sum::<usize>().saturating_sub(1);
    &function[..len.min(function.len())]
}

fn parse_function(
    field: &str,
    spec: &Value,
    registry: &dyn Fn(&str) -> Option<RustHandler>,
) -> Result<Target, ConfigError> {
    const KINDS: [&str; 3] = ["rust", "command", "endpoint"];
    let Value::Object(o) = spec else {
        return Err(field_error(
            field,
            format!(
                "expected an object with \"rust\", \"command\" or \"endpoint\", got {}",
                stepwise_asl::value_type::with_article(spec)
            ),
        ));
    };
    let kinds: Vec<&str> = KINDS.iter().copied().filter(|k| o.contains_key(*k)).collect();
    let kind = match kinds.as_slice() {
        [] => return Err(field_error(field, "expected one of \"rust\", \"command\" or \"endpoint\"")),
        [k] => *k,
        [a, b, ..] => return Err(field_error(field, format!("\"{a}\" and \"{b}\" cannot both be given"))),
    };
    for key in o.keys() {
        let allowed = match kind {
            "command" => key == "command" || key == "env",
            "endpoint" => key == "endpoint" || key == "name",
            _ => key == kind,
        };
        if !allowed {
            let message = match key.as_str() {
                "env" => "only a command takes \"env\"".to_string(),
                "name" => "only an endpoint takes \"name\"".to_string(),
                _ => "unknown field".to_string(),
            };
            return Err(field_error(format!("{field}.{key}"), message));
        }
    }
    match kind {
        "rust" => {
            let f = format!("{field}.rust");
            let Some(Value::String(name)) = o.get("rust") else {
                return Err(field_error(
                    f,
                    format!(
                        "expected a string, got {}",
                        o.get("rust").map_or("nothing", stepwise_asl::value_type::with_article)
                    ),
                ));
            };
            let handler = registry(name).ok_or_else(|| field_error(f, format!("no Rust handler is named '{name}'")))?;
            Ok(Target::Rust(handler))
        }
        "command" => {
            let f = format!("{field}.command");
            let expected = || field_error(&f, "expected a string or an array of strings");
            let (argv, shell) = match o.get("command") {
                Some(Value::String(s)) if s.trim().is_empty() => return Err(field_error(&f, "the command is empty")),
                Some(Value::String(s)) => (vec![s.clone()], true),
                Some(Value::Array(a)) => {
                    let argv = a
                        .iter()
                        .map(|x| x.as_str().map(String::from))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(expected)?;
                    if argv.is_empty() {
                        return Err(field_error(&f, "the command is empty"));
                    }
                    (argv, false)
                }
                _ => return Err(expected()),
            };
            let mut env = Vec::new();
            if let Some(e) = o.get("env") {
                let Value::Object(vars) = e else {
                    return Err(field_error(
                        format!("{field}.env"),
                        format!("expected an object of strings, got {}", stepwise_asl::value_type::with_article(e)),
                    ));
                };
                for (k, v) in vars {
                    let Value::String(s) = v else {
                        return Err(field_error(
                            format!("{field}.env.{k}"),
                            format!("expected a string, got {}", stepwise_asl::value_type::with_article(v)),
                        ));
                    };
                    env.push((k.clone(), s.clone()));
                }
            }
            Ok(Target::Command(Arc::new(CommandSpec { argv, shell, env })))
        }
        _ => {
            let base = parse_endpoint(&format!("{field}.endpoint"), o.get("endpoint").unwrap_or(&Value::Null))?;
            let name = match o.get("name") {
                None => None,
                Some(Value::String(n)) if n.is_empty() => {
                    return Err(field_error(format!("{field}.name"), "the name is empty"))
                }
                Some(Value::String(n)) => Some(n.clone()),
                Some(other) => {
                    return Err(field_error(
                        format!("{field}.name"),
                        format!("expected a string, got {}", stepwise_asl::value_type::with_article(other)),
                    ))
                }
            };
            Ok(Target::Endpoint { base, name })
        }
    }
}

fn parse_endpoint(field: &str, value: &Value) -> Result<String, ConfigError> {
    let Value::String(base) = value else {
        return Err(field_error(
            field,
            format!("expected a URL string, got {}", stepwise_asl::value_type::with_article(value)),
        ));
    };
    let Some(host) = base.strip_prefix("http://") else {
        return Err(field_error(field, format!("expected an http:// URL (https is not supported), got '{base}'")));
    };
    if host.is_empty() || host.starts_with('/') {
        return Err(field_error(field, format!("the URL '{base}' has no host")));
    }
    Ok(base.clone())
}

/// A raised error with Lambda's error payload.
fn error(error_type: &str, message: &str) -> FunctionOutcome {
    FunctionOutcome::error(error_type, message)
}

/// A function's output ([`FunctionOutcome::from_output_body`]).
fn parse_output(text: &str) -> FunctionOutcome {
    FunctionOutcome::from_output_body(text.trim().as_bytes())
}

fn run_command(cmd: &CommandSpec, dir: &Path, payload: &Value, timeout: Option<Duration>) -> FunctionOutcome {
    let Some(program) = cmd.argv.first() else { return error("Runtime.InvalidEntrypoint", "the command is empty") };
    let mut c = if cmd.shell {
        let mut c = Command::new("sh");
        c.arg("-c").arg(program);
        c
    } else {
        let mut c = Command::new(program);
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
    // Feed stdin from its own thread: a command that writes a lot before reading must not
    // deadlock against us.
    let body = serde_json::to_vec(payload).unwrap_or_default();
    let stdin = child.stdin.take();
    let in_t = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&body);
        }
    });
    let out_t = read_all(child.stdout.take());
    let err_t = read_all(child.stderr.take());
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
    let _ = in_t.join();
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    if status.success() {
        return parse_output(&text);
    }
    if let Some(e) = FunctionOutcome::from_error_body(text.as_bytes(), None) {
        return e;
    }
    let stderr = String::from_utf8_lossy(&err);
    let mut tail: Vec<&str> = stderr.trim().lines().rev().take(5).collect();
    tail.reverse();
    let code = status.code().map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
    error("Runtime.ExitError", &format!("exit status {code}: {}", tail.join("\n")))
}

fn read_all<R: Read + Send + 'static>(stream: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(mut r) = stream {
            let _ = r.read_to_end(&mut s);
        }
        s
    })
}

/// Percent-encodes a path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn invoke_endpoint(
    agent: &ureq::Agent,
    base: &str,
    name: &str,
    payload: &Value,
    timeout: Option<Duration>,
) -> FunctionOutcome {
    let url = format!("{}/2015-03-31/functions/{}/invocations", base.trim_end_matches('/'), encode_segment(name));
    let body = serde_json::to_string(payload).unwrap_or_else(|_| "null".into());
    let mut request =
        agent.post(&url).set("Content-Type", "application/json").set("X-Amz-Invocation-Type", "RequestResponse");
    if let Some(t) = timeout {
        request = request.timeout(t);
    }
    let (status, response) = match request.send_string(&body) {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(status, r)) => (status, r),
        Err(ureq::Error::Transport(t)) => {
            if is_timeout(&t) {
                return FunctionOutcome::TimedOut;
            }
            return error("Lambda.SdkClientException", &format!("cannot invoke {url}: {t}"));
        }
    };
    let function_error = response.header("X-Amz-Function-Error").map(String::from);
    let service_error = response
        .header("x-amzn-ErrorType")
        .map(|h| h.split(':').next().unwrap_or(h).trim().to_string())
        .filter(|h| !h.is_empty());
    let mut bytes = Vec::new();
    if let Err(e) = response.into_reader().take(MAX_RESPONSE).read_to_end(&mut bytes) {
        if is_timeout(&e) {
            return FunctionOutcome::TimedOut;
        }
        return error("Lambda.SdkClientException", &format!("reading the response of {url}: {e}"));
    }
    let text = String::from_utf8_lossy(&bytes);
    match status {
        200..=299 => match function_error {
            Some(kind) => FunctionOutcome::from_error_body(
                text.as_bytes(),
                Some(if kind.is_empty() { "Unhandled" } else { &kind }),
            )
            .unwrap_or_else(|| error("Unhandled", text.trim())),
            None => parse_output(&text),
        },
        404 => FunctionOutcome::NotFound,
        _ => {
            if let Some(e) = FunctionOutcome::from_error_body(text.as_bytes(), None) {
                return e;
            }
            let error_type = match service_error {
                Some(t) => format!("Lambda.{t}"),
                None if status >= 500 => "Lambda.ServiceException".to_string(),
                None => "Lambda.AWSLambdaException".to_string(),
            };
            let message = serde_json::from_str::<Value>(text.trim())
                .ok()
                .and_then(|v| {
                    ["message", "Message"].iter().find_map(|k| v.get(k).and_then(Value::as_str).map(String::from))
                })
                .unwrap_or_else(|| text.trim().to_string());
            error(&error_type, &format!("HTTP {status}: {message}"))
        }
    }
}

/// Whether an error (or one of its sources) is an I/O timeout.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) {
                return true;
            }
        }
        current = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_arns() {
        assert_eq!(function_name("arn:aws:lambda:us-east-1:1:function:f:prod"), "f");
        assert_eq!(function_name("1:function:f"), "f");
        assert_eq!(function_name("f:prod"), "f");
        assert_eq!(function_name("f"), "f");
        assert_eq!(unqualified("arn:aws:lambda:us-east-1:1:function:f:prod"), "arn:aws:lambda:us-east-1:1:function:f");
        assert_eq!(unqualified("arn:aws:lambda:us-east-1:1:function:f"), "arn:aws:lambda:us-east-1:1:function:f");
        assert_eq!(unqualified("1:function:f:$LATEST"), "1:function:f");
        assert_eq!(unqualified("f:prod"), "f");
        assert_eq!(unqualified(""), "");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("my-func_1"), "my-func_1");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
