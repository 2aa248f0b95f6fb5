//! Runs a case's embedded Python Lambda handlers with `python3`.
//!
//! Each case's handlers are written once to a private temporary directory; every invocation is
//! a fresh `python3` process running a small wrapper that loads the handler's source as module
//! `handler` (file name `/var/task/handler.py`, as on Lambda, so stack traces read like AWS's),
//! reads the event JSON on stdin, calls `handler(event, context)` and prints one JSON envelope
//! on stdout. A raised exception becomes Lambda's error payload
//! `{"errorMessage", "errorType", "requestId", "stackTrace"}`; a returned `bytes` value is
//! passed on raw (parsed as JSON when it is JSON, else as a string), as Lambda does; a process
//! running past the timeout is killed.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::case::LambdaFunction;

/// The result of invoking a function: the interpreter's own type.
pub use stepwise_asl::integrations::FunctionOutcome as Invocation;

/// Something that can invoke Lambda functions by name or ARN.
pub trait Invoke: Send {
    /// Invoke `function` (full/partial ARN or name, maybe with a qualifier) with `payload`.
    fn invoke(&mut self, function: &str, payload: &Value, timeout: Option<Duration>) -> Invocation;
}

/// Parsed form of a requested function identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FunctionRef<'a> {
    name: &'a str,
    account: Option<&'a str>,
    region: Option<&'a str>,
}

fn parse_function_ref(s: &str) -> Option<FunctionRef<'_>> {
    let s = s.trim();
    if s.starts_with("arn:") {
        // arn:partition:lambda:region:account:function:name[:qualifier]
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() < 7 || parts[2] != "lambda" || parts[5] != "function" {
            return None;
        }
        return Some(FunctionRef { name: parts[6], account: Some(parts[4]), region: Some(parts[3]) });
    }
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() >= 3 && parts[1] == "function" {
        // account:function:name[:qualifier]
        return Some(FunctionRef { name: parts[2], account: Some(parts[0]), region: None });
    }
    // name[:qualifier]
    Some(FunctionRef { name: parts[0], account: None, region: None })
}

/// Find the function `requested` names among `functions` (by full ARN, partial ARN or name;
/// qualifiers and partitions are ignored).
pub fn resolve_function<'a>(functions: &'a [LambdaFunction], requested: &str) -> Option<&'a LambdaFunction> {
    let want = parse_function_ref(requested)?;
    if want.name.is_empty() {
        return None;
    }
    functions.iter().find(|f| {
        let have = parse_function_ref(&f.arn);
        let name_ok = f.function_name == want.name;
        if !name_ok {
            return false;
        }
        match have {
            Some(h) if h.account.is_some() => {
                want.account.is_none_or(|a| Some(a) == h.account)
                    && want.region.is_none_or(|r| h.region.is_none() || Some(r) == h.region)
            }
            _ => true,
        }
    })
}

const RUNNER_FILE: &str = "_stepwise_lambda_runner.py";
const LAMBDA_FILE: &str = "/var/task/handler.py";

const RUNNER_PY: &str = r#"import json, linecache, sys, time, traceback, types

FAKE = "/var/task/handler.py"

class LambdaContext:
    def __init__(self, name, arn, request_id, timeout_ms):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = "128"
        self.aws_request_id = request_id
        self.log_group_name = "/aws/lambda/" + name
        self.log_stream_name = "stepwise"
        self.identity = None
        self.client_context = None
        self._deadline = time.time() * 1000 + timeout_ms
    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline - time.time() * 1000))

def frames(exc):
    out = []
    for f in traceback.extract_tb(exc.__traceback__):
        if f.filename.endswith("_stepwise_lambda_runner.py"):
            continue
        s = '  File "%s", line %d, in %s\n' % (f.filename, f.lineno, f.name)
        if f.line:
            s += "    %s\n" % f.line.strip()
        out.append(s)
    return out

def main():
    code_path, name, arn, request_id, timeout_ms = sys.argv[1:6]
    out = sys.stdout
    sys.stdout = sys.stderr
    def emit(obj):
        out.write(json.dumps(obj))
        out.flush()
    with open(code_path, encoding="utf-8") as f:
        src = f.read()
    linecache.cache[FAKE] = (len(src), None, src.splitlines(True), FAKE)
    mod = types.ModuleType("handler")
    mod.__file__ = FAKE
    sys.modules["handler"] = mod
    try:
        raw = sys.stdin.buffer.read()
        event = json.loads(raw) if raw.strip() else None
        exec(compile(src, FAKE, "exec"), mod.__dict__)
        result = mod.handler(event, LambdaContext(name, arn, request_id, int(timeout_ms)))
    except Exception as e:
        emit({"kind": "error", "errorMessage": str(e), "errorType": type(e).__name__, "stackTrace": frames(e)})
        return
    if isinstance(result, (bytes, bytearray)):
        emit({"kind": "bytes", "hex": bytes(result).hex()})
        return
    try:
        text = json.dumps(result)
    except Exception as e:
        emit({"kind": "error", "errorMessage": "Unable to marshal response: %s" % e, "errorType": "Runtime.MarshalError", "stackTrace": []})
        return
    emit({"kind": "ok", "json": text})

main()
"#;

/// A private temporary directory, removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let p = base.join(format!("stepwise-conformance-{}-{n}-{nanos}", std::process::id()));
            match fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "could not create a temporary directory"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The Python interpreter to use: `$STEPWISE_PYTHON`, else `python3`.
pub fn python_command() -> String {
    std::env::var("STEPWISE_PYTHON").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "python3".into())
}

/// Invokes a case's embedded Python handlers.
#[derive(Debug)]
pub struct PythonInvoker {
    functions: Vec<LambdaFunction>,
    dir: Option<TempDir>,
    python: String,
    /// Used when the caller passes no timeout (Lambda's own limit on the function).
    pub default_timeout: Duration,
    /// Never wait longer than this (real time), whatever the timeout; past it the call is
    /// reported as timed out. `None`: wait the full timeout.
    pub wait_cap: Option<Duration>,
    seed: u64,
    counter: u64,
    /// The function identifiers invoked so far, in order.
    pub calls: Vec<String>,
}

impl PythonInvoker {
    /// An invoker for `functions` (`lambda_functions` of a case). Nothing is written to disk
    /// until the first invocation.
    pub fn new(functions: &BTreeMap<String, LambdaFunction>) -> PythonInvoker {
        PythonInvoker {
            functions: functions.values().cloned().collect(),
            dir: None,
            python: python_command(),
            default_timeout: Duration::from_secs(60),
            wait_cap: None,
            seed: 0x5eed,
            counter: 0,
            calls: Vec::new(),
        }
    }

    /// Use `python` instead of `$STEPWISE_PYTHON`/`python3`.
    pub fn with_python(mut self, python: &str) -> Self {
        self.python = python.to_string();
        self
    }

    /// Seed of the generated request ids.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The functions this invoker knows.
    pub fn functions(&self) -> &[LambdaFunction] {
        &self.functions
    }

    fn ensure_dir(&mut self) -> io::Result<PathBuf> {
        if let Some(d) = &self.dir {
            return Ok(d.0.clone());
        }
        let d = TempDir::new()?;
        fs::write(d.0.join(RUNNER_FILE), RUNNER_PY)?;
        for (i, f) in self.functions.iter().enumerate() {
            fs::write(d.0.join(format!("fn{i}.py")), &f.code)?;
        }
        let p = d.0.clone();
        self.dir = Some(d);
        Ok(p)
    }

    fn next_request_id(&mut self) -> String {
        self.counter += 1;
        let mut x = self.seed ^ self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let (a, b) = (next(), next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    fn run_python(&mut self, index: usize, payload: &Value, timeout: Duration) -> Invocation {
        let dir = match self.ensure_dir() {
            Ok(d) => d,
            Err(e) => return runner_failure(format!("cannot write handler files: {e}")),
        };
        let request_id = self.next_request_id();
        let f = &self.functions[index];
        let mut cmd = Command::new(&self.python);
        cmd.arg("-I")
            .arg("-S")
            .arg("-B")
            .arg(dir.join(RUNNER_FILE))
            .arg(dir.join(format!("fn{index}.py")))
            .arg(&f.function_name)
            .arg(&f.arn)
            .arg(&request_id)
            .arg(timeout.as_millis().to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return runner_failure(format!("cannot run `{}`: {e}", self.python)),
        };
        let input = serde_json::to_vec(payload).unwrap_or_else(|_| b"null".to_vec());
        let mut stdin = child.stdin.take();
        let writer = thread::spawn(move || {
            if let Some(s) = stdin.as_mut() {
                let _ = s.write_all(&input);
            }
            drop(stdin);
        });
        let mut stdout = child.stdout.take();
        let out_reader = thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        });
        let mut stderr = child.stderr.take();
        let err_reader = thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stderr.as_mut() {
                let _ = s.read_to_end(&mut buf);
            }
            buf
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) => {}
                Err(_) => break None,
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writer.join();
                let _ = out_reader.join();
                let _ = err_reader.join();
                return Invocation::TimedOut;
            }
            thread::sleep(Duration::from_millis(5));
        };
        let _ = writer.join();
        let out = out_reader.join().unwrap_or_default();
        let err = err_reader.join().unwrap_or_default();
        let envelope: Option<Value> = serde_json::from_slice(&out).ok();
        let Some(env) = envelope else {
            let tail = String::from_utf8_lossy(&err);
            let tail: String = tail.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
            return runner_failure(format!(
                "python exited ({}) without a result: {}",
                status.map(|s| s.to_string()).unwrap_or_else(|| "unknown status".into()),
                tail.trim()
            ));
        };
        match env.get("kind").and_then(Value::as_str) {
            Some("ok") => {
                let text = env.get("json").and_then(Value::as_str).unwrap_or("null");
                match serde_json::from_str(text) {
                    Ok(v) => Invocation::Ok(v),
                    // e.g. NaN/Infinity, which Python's json writes: pass the raw text on.
                    Err(_) => Invocation::Ok(Value::String(text.to_string())),
                }
            }
            Some("bytes") => {
                let bytes = decode_hex(env.get("hex").and_then(Value::as_str).unwrap_or(""));
                match serde_json::from_slice(&bytes) {
                    Ok(v) => Invocation::Ok(v),
                    Err(_) => Invocation::Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned())),
                }
            }
            Some("error") => {
                let error_type = env.get("errorType").and_then(Value::as_str).unwrap_or("Exception").to_string();
                let error_message = env.get("errorMessage").and_then(Value::as_str).unwrap_or("").to_string();
                let stack = env.get("stackTrace").cloned().unwrap_or_else(|| json!([]));
                Invocation::Error {
                    payload: json!({
                        "errorMessage": error_message,
                        "errorType": error_type,
                        "requestId": request_id,
                        "stackTrace": stack,
                    }),
                    error_type,
                    error_message,
                }
            }
            _ => runner_failure(format!("unexpected runner output: {}", String::from_utf8_lossy(&out))),
        }
    }
}

fn decode_hex(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let val = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    };
    b.chunks(2).filter(|c| c.len() == 2).map(|c| (val(c[0]) << 4) | val(c[1])).collect()
}

/// The runner itself failed (python missing, crashed, ...): reported as a function error so the
/// case fails visibly instead of hanging.
fn runner_failure(message: String) -> Invocation {
    Invocation::Error {
        error_type: "Runtime.StepwiseRunnerError".into(),
        payload: json!({"errorMessage": message, "errorType": "Runtime.StepwiseRunnerError"}),
        error_message: message,
    }
}

impl Invoke for PythonInvoker {
    fn invoke(&mut self, function: &str, payload: &Value, timeout: Option<Duration>) -> Invocation {
        self.calls.push(function.to_string());
        let Some(index) = resolve_function(&self.functions, function)
            .and_then(|f| self.functions.iter().position(|g| g.arn == f.arn))
        else {
            return Invocation::NotFound;
        };
        let mut t = timeout.unwrap_or(self.default_timeout);
        if let Some(cap) = self.wait_cap {
            t = t.min(cap);
        }
        self.run_python(index, payload, t)
    }
}

/// The file name handlers are loaded under (what their stack traces show).
pub fn lambda_file_name() -> &'static Path {
    Path::new(LAMBDA_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(arn: &str, code: &str) -> LambdaFunction {
        LambdaFunction {
            arn: arn.into(),
            function_name: arn.rsplit(':').next().unwrap().into(),
            handler_file: "x.py".into(),
            code: code.into(),
        }
    }

    fn map(fs: Vec<LambdaFunction>) -> BTreeMap<String, LambdaFunction> {
        fs.into_iter().map(|f| (f.arn.clone(), f)).collect()
    }

    const ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:lambda_func_1";

    #[test]
    fn resolution() {
        let fs = vec![f(ARN, ""), f("arn:aws:lambda:us-east-1:111111111111:function:other", "")];
        let r = |s: &str| resolve_function(&fs, s).map(|f| f.function_name.clone());
        assert_eq!(r(ARN).as_deref(), Some("lambda_func_1"));
        assert_eq!(r(&format!("{ARN}:$LATEST")).as_deref(), Some("lambda_func_1"));
        assert_eq!(r("lambda_func_1").as_deref(), Some("lambda_func_1"));
        assert_eq!(r("lambda_func_1:prod").as_deref(), Some("lambda_func_1"));
        assert_eq!(r("111111111111:function:lambda_func_1").as_deref(), Some("lambda_func_1"));
        assert_eq!(r("111111111111:function:lambda_func_1:1").as_deref(), Some("lambda_func_1"));
        assert_eq!(r("other").as_deref(), Some("other"));
        assert_eq!(r("arn:aws-us-gov:lambda:us-east-1:111111111111:function:other").as_deref(), Some("other"));
        assert_eq!(r("no_such_lambda_func_1"), None);
        assert_eq!(r("lambda_func"), None);
        assert_eq!(r("222222222222:function:lambda_func_1"), None);
        assert_eq!(r("arn:aws:lambda:eu-west-1:111111111111:function:lambda_func_1"), None);
        assert_eq!(r("arn:aws:states:us-east-1:111111111111:function:lambda_func_1"), None);
        assert_eq!(r(""), None);
    }

    #[test]
    fn unknown_function_is_not_found() {
        let mut inv = PythonInvoker::new(&map(vec![f(ARN, "def handler(e, c):\n    return e\n")]));
        assert_eq!(inv.invoke("nope", &json!({}), None), Invocation::NotFound);
        assert!(inv.dir.is_none(), "nothing written for an unknown function");
    }

    #[test]
    fn python_returns() {
        let mut inv = PythonInvoker::new(&map(vec![
            f(ARN, "def handler(event, context):\n    return event\n"),
            f(
                "arn:aws:lambda:us-east-1:111111111111:function:deco",
                "def handler(event, context):\n    print('noise')\n    return f\"input-event-{event}\"\n",
            ),
            f("arn:aws:lambda:us-east-1:111111111111:function:bytes", "def handler(event, context):\n    return b'\"HelloWorld!\"'\n"),
            f("arn:aws:lambda:us-east-1:111111111111:function:raw", "def handler(event, context):\n    return 'aaa'.encode('utf-8')\n"),
            f(
                "arn:aws:lambda:us-east-1:111111111111:function:ctx",
                "def handler(event, ctx):\n    return [ctx.function_name, ctx.invoked_function_arn, ctx.get_remaining_time_in_millis() > 0]\n",
            ),
        ]));
        let payload = json!({"a": [1, 2.5, null, true], "s": "é"});
        assert_eq!(inv.invoke(ARN, &payload, Some(Duration::from_secs(30))), Invocation::Ok(payload.clone()));
        assert_eq!(inv.invoke("deco", &json!({"k": 1}), None), Invocation::Ok(json!("input-event-{'k': 1}")));
        assert_eq!(inv.invoke("bytes", &Value::Null, None), Invocation::Ok(json!("HelloWorld!")));
        assert_eq!(inv.invoke("raw", &Value::Null, None), Invocation::Ok(json!("aaa")));
        assert_eq!(
            inv.invoke("ctx", &Value::Null, None),
            Invocation::Ok(json!(["ctx", "arn:aws:lambda:us-east-1:111111111111:function:ctx", true]))
        );
        assert_eq!(inv.calls.len(), 5);
    }

    #[test]
    fn python_raises() {
        let mut inv = PythonInvoker::new(&map(vec![
            f(ARN, "def handler(event, context):\n    raise Exception(\"Some exception was raised.\")\n"),
            f(
                "arn:aws:lambda:us-east-1:111111111111:function:custom",
                "class CustomException(Exception):\n    message: str\n\n    def __init__(self):\n        self.message = \"CustomException message\"\n\n\ndef handler(event, context):\n    raise CustomException()\n",
            ),
        ]));
        match inv.invoke(ARN, &Value::Null, None) {
            Invocation::Error { error_type, error_message, payload } => {
                assert_eq!(error_type, "Exception");
                assert_eq!(error_message, "Some exception was raised.");
                let keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["errorMessage", "errorType", "requestId", "stackTrace"]);
                assert_eq!(payload["errorMessage"], "Some exception was raised.");
                assert_eq!(payload["errorType"], "Exception");
                assert_eq!(
                    payload["stackTrace"],
                    json!(["  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n"])
                );
                let rid = payload["requestId"].as_str().unwrap();
                assert_eq!(rid.len(), 36);
                assert_eq!(rid.matches('-').count(), 4);
            }
            other => panic!("expected an error, got {other:?}"),
        }
        match inv.invoke("custom", &Value::Null, None) {
            Invocation::Error { error_type, error_message, payload } => {
                assert_eq!(error_type, "CustomException");
                assert_eq!(error_message, "");
                assert_eq!(
                    payload["stackTrace"],
                    json!(["  File \"/var/task/handler.py\", line 9, in handler\n    raise CustomException()\n"])
                );
            }
            other => panic!("expected an error, got {other:?}"),
        }
        // Request ids differ per invocation.
        let a = match inv.invoke(ARN, &Value::Null, None) {
            Invocation::Error { payload, .. } => payload["requestId"].clone(),
            _ => unreachable!(),
        };
        let b = match inv.invoke(ARN, &Value::Null, None) {
            Invocation::Error { payload, .. } => payload["requestId"].clone(),
            _ => unreachable!(),
        };
        assert_ne!(a, b);
    }

    #[test]
    fn python_times_out() {
        let mut inv = PythonInvoker::new(&map(vec![f(
            ARN,
            "import time\n\n\ndef handler(event, context):\n    time.sleep(60)\n    return event\n",
        )]));
        let start = Instant::now();
        assert_eq!(inv.invoke(ARN, &Value::Null, Some(Duration::from_millis(700))), Invocation::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
        // The default timeout applies when none is given.
        inv.default_timeout = Duration::from_millis(500);
        assert_eq!(inv.invoke(ARN, &Value::Null, None), Invocation::TimedOut);
        // The cap shortens long timeouts.
        inv.wait_cap = Some(Duration::from_millis(500));
        let start = Instant::now();
        assert_eq!(inv.invoke(ARN, &Value::Null, Some(Duration::from_secs(60))), Invocation::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
    }

    #[test]
    fn missing_python_is_a_visible_error() {
        let mut inv = PythonInvoker::new(&map(vec![f(ARN, "def handler(e, c):\n    return e\n")]))
            .with_python("/nonexistent/python3-for-stepwise-tests");
        match inv.invoke(ARN, &Value::Null, None) {
            Invocation::Error { error_type, error_message, .. } => {
                assert_eq!(error_type, "Runtime.StepwiseRunnerError");
                assert!(error_message.contains("cannot run"), "{error_message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn temp_dir_removed_on_drop() {
        let mut inv = PythonInvoker::new(&map(vec![f(ARN, "def handler(e, c):\n    return 1\n")]));
        assert_eq!(inv.invoke(ARN, &Value::Null, None), Invocation::Ok(json!(1)));
        let dir = inv.dir.as_ref().unwrap().0.clone();
        assert!(dir.join("fn0.py").exists());
        drop(inv);
        assert!(!dir.exists());
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("22410a"), b"\"A\n");
    }
}
