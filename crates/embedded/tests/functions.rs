//! The function router: Rust handlers, commands, HTTP endpoints, resolution and configuration.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use stepwise_asl::integrations::FunctionOutcome;
use stepwise_embedded::functions::{function_name, ConfigError, FunctionRouter, RustHandler};
use stepwise_runtime::ports::Functions;

fn handler(f: impl Fn(Value) -> Result<Value, (String, String)> + Send + Sync + 'static) -> RustHandler {
    Arc::new(f)
}

fn no_handlers(_: &str) -> Option<RustHandler> {
    None
}

/// Handlers named like the stock-trading sample's, answering their names.
fn sample_names(name: &str) -> Option<RustHandler> {
    match name {
        "CheckStockPrice" | "GenerateBuySellRecommendation" | "BuyStock" | "SellStock" => {
            let n = name.to_string();
            Some(handler(move |_| Ok(json!(n))))
        }
        _ => None,
    }
}

fn error_of(outcome: FunctionOutcome) -> (String, String, Value) {
    match outcome {
        FunctionOutcome::Error { error_type, error_message, payload } => (error_type, error_message, payload),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// A fresh scratch directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stepwise-functions-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

// ---------------------------------------------------------------- Rust handlers

#[tokio::test]
async fn rust_handlers_return_results_and_errors() {
    let mut r = FunctionRouter::new();
    r.rust("Double", handler(|v| Ok(json!(v["n"].as_i64().unwrap_or(0) * 2))));
    r.rust("Fail", handler(|_| Err(("Boom".into(), "it broke".into()))));
    r.rust("Panic", handler(|_| panic!("handler bug")));
    assert_eq!(r.invoke("Double", &json!({"n": 21}), None).await, FunctionOutcome::Ok(json!(42)));
    let (t, m, p) = error_of(r.invoke("Fail", &json!({}), None).await);
    assert_eq!((t.as_str(), m.as_str()), ("Boom", "it broke"));
    assert_eq!(p, json!({"errorMessage": "it broke", "errorType": "Boom"}));
    let (t, m, _) = error_of(r.invoke("Panic", &json!({}), None).await);
    assert_eq!(t, "Runtime.ExitError");
    assert!(m.contains("handler bug"), "{m}");
}

#[tokio::test]
async fn slow_rust_handlers_time_out() {
    let mut r = FunctionRouter::new();
    r.rust(
        "Slow",
        handler(|v| {
            std::thread::sleep(Duration::from_millis(500));
            Ok(v)
        }),
    );
    assert_eq!(r.invoke("Slow", &json!(1), Some(Duration::from_millis(50))).await, FunctionOutcome::TimedOut);
    assert_eq!(r.invoke("Slow", &json!(1), Some(Duration::from_secs(5))).await, FunctionOutcome::Ok(json!(1)));
}

// ---------------------------------------------------------------- commands

#[tokio::test]
async fn commands_read_stdin_and_write_stdout() {
    let mut r = FunctionRouter::new();
    r.command("Echo", vec!["cat".into()]);
    assert_eq!(r.invoke("Echo", &json!({"a": [1, 2]}), None).await, FunctionOutcome::Ok(json!({"a": [1, 2]})));
    r.command("Silent", vec!["true".into()]);
    assert_eq!(r.invoke("Silent", &json!({}), None).await, FunctionOutcome::Ok(Value::Null));
    r.command("Garbage", vec!["echo".into(), "not json".into()]);
    let (t, _, _) = error_of(r.invoke("Garbage", &json!({}), None).await);
    assert_eq!(t, "Runtime.InvalidResponse");
    // Over 256 KiB of non-JSON: AWS checks the size first (States.DataLimitExceeded, which the
    // stepper raises for a result this large), so the text is passed on, not refused.
    r.command("Huge", vec!["sh".into(), "-c".into(), "head -c 263168 /dev/zero | tr '\\0' a".into()]);
    match r.invoke("Huge", &json!({}), None).await {
        FunctionOutcome::Ok(Value::String(s)) => assert_eq!(s.len(), 263_168),
        other => panic!("expected the text, got {:?}", error_of(other)),
    }
}

#[tokio::test]
async fn failing_commands_raise_errors() {
    let mut r = FunctionRouter::new();
    r.command(
        "Raise",
        vec!["sh".into(), "-c".into(), r#"echo '{"errorType":"Boom","errorMessage":"no"}'; exit 1"#.into()],
    );
    r.command("Crash", vec!["sh".into(), "-c".into(), "echo oops >&2; exit 3".into()]);
    r.command("Missing", vec!["stepwise-no-such-program".into()]);
    let (t, m, p) = error_of(r.invoke("Raise", &json!({}), None).await);
    assert_eq!((t.as_str(), m.as_str()), ("Boom", "no"));
    assert_eq!(p, json!({"errorType": "Boom", "errorMessage": "no"}));
    let (t, m, _) = error_of(r.invoke("Crash", &json!({}), None).await);
    assert_eq!(t, "Runtime.ExitError");
    assert!(m.contains("exit status 3") && m.contains("oops"), "{m}");
    let (t, _, _) = error_of(r.invoke("Missing", &json!({}), None).await);
    assert_eq!(t, "Runtime.InvalidEntrypoint");
}

#[tokio::test]
async fn slow_commands_are_killed() {
    let mut r = FunctionRouter::new();
    r.command("Slow", vec!["sleep".into(), "5".into()]);
    let started = std::time::Instant::now();
    assert_eq!(r.invoke("Slow", &json!({}), Some(Duration::from_millis(100))).await, FunctionOutcome::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn configured_commands_run_in_the_config_directory() {
    let dir = scratch("cwd");
    std::fs::write(dir.join("answer.json"), r#"{"answer": 42}"#).expect("write");
    std::fs::write(
        dir.join("functions.json"),
        r#"{"functions": {
            "Answer": {"command": "cat answer.json"},
            "Env": {"command": ["sh", "-c", "printf '\"%s\"' \"$MODE\""], "env": {"MODE": "test"}}
        }}"#,
    )
    .expect("write");
    let r = FunctionRouter::load(&dir.join("functions.json"), &no_handlers).expect("loads");
    assert_eq!(r.invoke("Answer", &json!({}), None).await, FunctionOutcome::Ok(json!({"answer": 42})));
    assert_eq!(r.invoke("Env", &json!({}), None).await, FunctionOutcome::Ok(json!("test")));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- HTTP endpoints

/// Serves one connection with a canned response; the thread returns the request it read.
fn serve_once(response: String) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let t = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; length];
        let _ = reader.read_exact(&mut body);
        let mut stream = reader.into_inner();
        let _ = stream.write_all(response.as_bytes());
        let _ = stream.flush();
        head + &String::from_utf8_lossy(&body)
    });
    (base, t)
}

fn http(status: &str, headers: &[&str], body: &str) -> String {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r + "\r\n" + body
}

#[tokio::test]
async fn endpoints_answer_with_the_function_result() {
    let (base, server) = serve_once(http("200 OK", &[], r#"{"stock_price": 7}"#));
    let mut r = FunctionRouter::new();
    r.endpoint("arn:aws:lambda:us-east-1:123456789012:function:CheckStockPrice", base);
    let outcome = r.invoke("CheckStockPrice:prod", &json!({"x": "y"}), Some(Duration::from_secs(5))).await;
    assert_eq!(outcome, FunctionOutcome::Ok(json!({"stock_price": 7})));
    let request = server.join().expect("server");
    assert!(request.starts_with("POST /2015-03-31/functions/CheckStockPrice/invocations HTTP/1.1\r\n"), "{request}");
    assert!(request.ends_with(r#"{"x":"y"}"#), "{request}");
}

#[tokio::test]
async fn function_error_header_raises_the_body_error() {
    let body = r#"{"errorMessage":"bad price","errorType":"ValueError","stackTrace":[]}"#;
    let (base, server) = serve_once(http("200 OK", &["X-Amz-Function-Error: Unhandled"], body));
    let mut r = FunctionRouter::new();
    r.endpoint("F", base);
    let (t, m, p) = error_of(r.invoke("F", &json!({}), None).await);
    assert_eq!((t.as_str(), m.as_str()), ("ValueError", "bad price"));
    assert_eq!(p, json!({"errorMessage": "bad price", "errorType": "ValueError", "stackTrace": []}));
    server.join().expect("server");
}

#[tokio::test]
async fn function_error_without_error_type_uses_the_header() {
    let (base, server) = serve_once(http("200 OK", &["X-Amz-Function-Error: Unhandled"], r#""just text""#));
    let mut r = FunctionRouter::new();
    r.endpoint("F", base);
    let (t, m, _) = error_of(r.invoke("F", &json!({}), None).await);
    assert_eq!((t.as_str(), m.as_str()), ("Unhandled", r#""just text""#));
    server.join().expect("server");
}

#[tokio::test]
async fn cargo_lambda_500_raises_the_body_error() {
    let body = r#"{"errorType":"&alloc::string::String","errorMessage":"stock_price missing"}"#;
    let (base, server) = serve_once(http("500 Internal Server Error", &[], body));
    let mut r = FunctionRouter::new();
    r.endpoint("F", base);
    let (t, m, _) = error_of(r.invoke("F", &json!({}), None).await);
    assert_eq!((t.as_str(), m.as_str()), ("&alloc::string::String", "stock_price missing"));
    server.join().expect("server");
}

#[tokio::test]
async fn other_statuses_are_service_errors() {
    let (base, server) = serve_once(http("502 Bad Gateway", &[], "upstream down"));
    let mut r = FunctionRouter::new();
    r.endpoint("F", base);
    let (t, m, _) = error_of(r.invoke("F", &json!({}), None).await);
    assert_eq!((t.as_str(), m.as_str()), ("Lambda.ServiceException", "HTTP 502: upstream down"));
    server.join().expect("server");

    let (base, server) = serve_once(http(
        "429 Too Many Requests",
        &["x-amzn-ErrorType: TooManyRequestsException:http://internal"],
        r#"{"Type":"User","message":"Rate Exceeded."}"#,
    ));
    r.endpoint("F", base);
    let (t, m, _) = error_of(r.invoke("F", &json!({}), None).await);
    assert_eq!((t.as_str(), m.as_str()), ("Lambda.TooManyRequestsException", "HTTP 429: Rate Exceeded."));
    server.join().expect("server");
}

#[tokio::test]
async fn endpoint_404_is_not_found() {
    let (base, server) = serve_once(http("404 Not Found", &[], r#"{"message":"Function not found"}"#));
    let mut r = FunctionRouter::new();
    r.default_endpoint(base);
    assert_eq!(r.invoke("arn:aws:lambda:us-east-1:1:function:Nope", &json!({}), None).await, FunctionOutcome::NotFound);
    let request = server.join().expect("server");
    assert!(request.starts_with("POST /2015-03-31/functions/Nope/invocations "), "{request}");
}

#[tokio::test]
async fn slow_endpoints_time_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        std::thread::sleep(Duration::from_millis(800));
        drop(stream);
    });
    let mut r = FunctionRouter::new();
    r.endpoint("F", base);
    assert_eq!(r.invoke("F", &json!({}), Some(Duration::from_millis(100))).await, FunctionOutcome::TimedOut);
    server.join().expect("server");
}

#[tokio::test]
async fn unreachable_endpoints_are_client_errors() {
    // Bind and drop to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let mut r = FunctionRouter::new();
    r.endpoint("F", format!("http://127.0.0.1:{port}"));
    let (t, _, _) = error_of(r.invoke("F", &json!({}), Some(Duration::from_secs(5))).await);
    assert_eq!(t, "Lambda.SdkClientException");
}

#[tokio::test]
async fn configured_endpoints_can_rename_the_function() {
    let (base, server) = serve_once(http("200 OK", &[], r#""ok""#));
    let config = json!({"functions": {"Check": {"endpoint": base, "name": "check-stock-price"}}});
    let r = FunctionRouter::from_config(&config, Path::new(""), &no_handlers).expect("valid");
    assert_eq!(r.invoke("Check", &json!({}), None).await, FunctionOutcome::Ok(json!("ok")));
    let request = server.join().expect("server");
    assert!(request.starts_with("POST /2015-03-31/functions/check-stock-price/invocations "), "{request}");
}

// ---------------------------------------------------------------- resolution

#[tokio::test]
async fn functions_resolve_by_name_partial_and_full_arn() {
    let mut r = FunctionRouter::new();
    r.rust("ByName", handler(|_| Ok(json!("by name"))));
    r.rust("arn:aws:lambda:us-east-1:123456789012:function:ByArn", handler(|_| Ok(json!("east"))));
    r.rust("arn:aws:lambda:us-west-2:123456789012:function:ByArn", handler(|_| Ok(json!("west"))));
    for f in [
        "ByName",
        "ByName:prod",
        "123456789012:function:ByName",
        "arn:aws:lambda:us-east-1:123456789012:function:ByName",
        "arn:aws:lambda:eu-west-1:999999999999:function:ByName:$LATEST",
    ] {
        assert_eq!(r.invoke(f, &json!({}), None).await, FunctionOutcome::Ok(json!("by name")), "{f}");
    }
    let west = "arn:aws:lambda:us-west-2:123456789012:function:ByArn";
    assert_eq!(r.invoke(west, &json!({}), None).await, FunctionOutcome::Ok(json!("west")));
    assert_eq!(r.invoke(&format!("{west}:7"), &json!({}), None).await, FunctionOutcome::Ok(json!("west")));
    // A bare name or another ARN finds the first registration with that name.
    assert_eq!(r.invoke("ByArn", &json!({}), None).await, FunctionOutcome::Ok(json!("east")));
    assert_eq!(r.invoke("Unknown", &json!({}), None).await, FunctionOutcome::NotFound);
    assert_eq!(
        r.invoke("arn:aws:lambda:us-east-1:123456789012:function:Unknown", &json!({}), None).await,
        FunctionOutcome::NotFound
    );
    assert_eq!(r.invoke("", &json!({}), None).await, FunctionOutcome::NotFound);
    assert!(r.contains("ByArn:1") && !r.contains("Unknown"));
    assert_eq!(function_name("arn:aws:lambda:us-east-1:1:function:f:prod"), "f");
}

#[tokio::test]
async fn registering_a_key_again_replaces_it() {
    let mut r = FunctionRouter::new();
    r.rust("F", handler(|_| Ok(json!(1)))).rust("F", handler(|_| Ok(json!(2))));
    assert_eq!(r.invoke("F", &json!({}), None).await, FunctionOutcome::Ok(json!(2)));
    r.command("F", vec!["cat".into()]);
    assert_eq!(r.invoke("F", &json!(3), None).await, FunctionOutcome::Ok(json!(3)));
}

// ---------------------------------------------------------------- configuration

#[tokio::test]
async fn the_example_functions_file_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stock-trading/functions.json");
    let r = FunctionRouter::load(&path, &sample_names).expect("the example loads");
    for name in ["CheckStockPrice", "GenerateBuySellRecommendation", "BuyStock", "SellStock"] {
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
        assert_eq!(r.invoke(&arn, &json!({}), None).await, FunctionOutcome::Ok(json!(name)));
    }
    assert_eq!(r.invoke("ApproveSqs", &json!({}), None).await, FunctionOutcome::NotFound);
}

fn config_error(config: Value) -> String {
    match FunctionRouter::from_config(&config, Path::new(""), &sample_names) {
        Ok(r) => panic!("expected an error for {config}, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_errors_name_the_field() {
    let cases = [
        (json!([]), ": expected a JSON object, got an array"),
        (json!({"functions": []}), "functions: expected an object, got an array"),
        (json!({"function": {}}), "function: unknown field (expected \"functions\" or \"default_endpoint\")"),
        (
            json!({"functions": {"Echo": {"command": 3}}}),
            "functions.Echo.command: expected a string or an array of strings",
        ),
        (
            json!({"functions": {"Echo": {"command": ["cat", 1]}}}),
            "functions.Echo.command: expected a string or an array of strings",
        ),
        (json!({"functions": {"Echo": {"command": []}}}), "functions.Echo.command: the command is empty"),
        (
            json!({"functions": {"Echo": {"command": ["cat"], "env": {"A": 1}}}}),
            "functions.Echo.env.A: expected a string, got a number",
        ),
        (
            json!({"functions": {"Echo": {"command": ["cat"], "env": []}}}),
            "functions.Echo.env: expected an object of strings, got an array",
        ),
        (
            json!({"functions": {"Echo": "cat"}}),
            "functions.Echo: expected an object with \"rust\", \"command\" or \"endpoint\", got a string",
        ),
        (json!({"functions": {"Echo": {}}}), "functions.Echo: expected one of \"rust\", \"command\" or \"endpoint\""),
        (
            json!({"functions": {"F": {"rust": "BuyStock", "command": "cat"}}}),
            "functions.F: \"rust\" and \"command\" cannot both be given",
        ),
        (json!({"functions": {"F": {"rust": "Nope"}}}), "functions.F.rust: no Rust handler is named 'Nope'"),
        (json!({"functions": {"F": {"rust": 1}}}), "functions.F.rust: expected a string, got a number"),
        (json!({"functions": {"F": {"rust": "BuyStock", "env": {}}}}), "functions.F.env: only a command takes \"env\""),
        (json!({"functions": {"F": {"rust": "BuyStock", "timeout": 3}}}), "functions.F.timeout: unknown field"),
        (
            json!({"functions": {"F": {"endpoint": "https://example.com"}}}),
            "functions.F.endpoint: expected an http:// URL (https is not supported), got 'https://example.com'",
        ),
        (json!({"functions": {"F": {"endpoint": 9000}}}), "functions.F.endpoint: expected a URL string, got a number"),
        (json!({"functions": {"F": {"endpoint": "http://h", "name": ""}}}), "functions.F.name: the name is empty"),
        (
            json!({"functions": {"F": {"endpoint": "http://h", "name": 1}}}),
            "functions.F.name: expected a string, got a number",
        ),
        (json!({"default_endpoint": "http://"}), "default_endpoint: the URL 'http://' has no host"),
    ];
    for (config, want) in cases {
        assert_eq!(config_error(config), want);
    }
}

#[test]
fn config_file_errors_name_the_file() {
    let dir = scratch("errors");
    let missing = dir.join("missing.json");
    assert!(matches!(FunctionRouter::load(&missing, &no_handlers), Err(ConfigError::Read { .. })));
    std::fs::write(dir.join("bad.json"), "{").expect("write");
    match FunctionRouter::load(&dir.join("bad.json"), &no_handlers) {
        Err(e @ ConfigError::Parse { .. }) => assert!(e.to_string().contains("bad.json is not JSON"), "{e}"),
        other => panic!("{other:?}"),
    }
    std::fs::write(dir.join("field.json"), r#"{"functions": {"Echo": {"command": {}}}}"#).expect("write");
    match FunctionRouter::load(&dir.join("field.json"), &no_handlers) {
        Err(ConfigError::Field { field, message }) => {
            assert_eq!(
                (field.as_str(), message.as_str()),
                ("functions.Echo.command", "expected a string or an array of strings")
            );
        }
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
