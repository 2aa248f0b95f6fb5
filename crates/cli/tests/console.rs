//! The console of `stepwise serve` in a real browser, and `stepwise graph`.
//!
//! `the_console_in_headless_chromium` starts a server with the sample's functions and runs
//! `tests/console/console_test.py` (Selenium driving Debian's headless Chromium and
//! chromedriver; nothing is downloaded): the sample and a caught Parallel failure shown as
//! graphs with the right nodes, edges and colours, the history rows, a clicked state's input and
//! output, an execution started and approved from the page, one stopped from it, the status
//! filter, and a 200-state machine with nested Maps rendered under a second. Screenshots of
//! every page go to `target/console-screenshots/`. Without Chromium, chromedriver or the
//! project's Python environment (with selenium) the test fails under CI and is skipped with a
//! notice otherwise.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stepwise(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stepwise")).args(args).output().expect("run stepwise")
}

/// What the browser test needs: `(python, chromium, chromedriver)`.
fn browser_env() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let python = repo().join(".venv/bin/python");
    let from_env = |var: &str, default: &str| PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_string()));
    let chromium = from_env("CHROMIUM", "/usr/bin/chromium");
    let driver = from_env("CHROMEDRIVER", "/usr/bin/chromedriver");
    let has_selenium = python.exists()
        && Command::new(&python).args(["-c", "import selenium, boto3"]).output().is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = [
        (!has_selenium)
            .then_some("the project's Python environment with selenium and boto3 (scripts/test.sh makes it)"),
        (!chromium.exists()).then_some("Chromium (Debian's chromium package)"),
        (!driver.exists()).then_some("chromedriver (Debian's chromium-driver package)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        let msg = format!("the console's browser test needs {}", missing.join(", "));
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("skipped: {msg}");
        return None;
    }
    Some((python, chromium, driver))
}

/// `stepwise serve` with the sample's functions on a free port; killed on drop.
struct Server {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Server {
    fn start(tag: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("stepwise-console-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let functions = repo().join("examples/stock-trading/functions.json");
        let mut child = Command::new(env!("CARGO_BIN_EXE_stepwise"))
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(&dir)
            .arg("--functions")
            .arg(&functions)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start stepwise serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        let second = lines.next().and_then(Result::ok).unwrap_or_default();
        assert_eq!(second, format!("console: {url}/"), "the console's address is printed");
        Server { child, url, dir }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_console_in_headless_chromium() {
    let Some((python, chromium, driver)) = browser_env() else { return };
    let server = Server::start("browser");
    // Served assets: the page, its script and styles, all from the binary.
    for (path, ty) in [("/", "text/html"), ("/console/app.js", "text/javascript"), ("/console/app.css", "text/css")] {
        let resp = ureq::get(&format!("{}{path}", server.url)).call().expect(path);
        assert!(resp.content_type().starts_with(ty), "{path}: {}", resp.content_type());
    }
    let screenshots = repo().join("target/console-screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot dir");
    let out = Command::new(&python)
        .arg(repo().join("tests/console/console_test.py"))
        .arg(&server.url)
        .arg(&screenshots)
        .env("CHROMIUM", &chromium)
        .env("CHROMEDRIVER", &driver)
        .output()
        .expect("run console_test.py");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && stdout.contains("console: all checks passed"),
        "console_test.py failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in stdout.lines().filter(|l| l.starts_with("render-200")) {
        eprintln!("{line}");
    }
    for shot in ["machines.png", "execution-sample.png", "execution-parallel.png"] {
        let p = screenshots.join(shot);
        assert!(p.metadata().is_ok_and(|m| m.len() > 10_000), "screenshot {} written", p.display());
    }
}

#[test]
fn the_console_answers_unknown_resources_with_aws_errors() {
    let server = Server::start("errors");
    let get = |path: &str| match ureq::get(&format!("{}{path}", server.url)).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{path}: {e}"),
    };
    let arn = "arn:aws:states:us-east-1:123456789012:execution:Nope:nope";
    let (status, body) = get(&format!("/console/api/execution?arn={}", arn.replace(':', "%3A")));
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).ok().map(|v| v["__type"].clone()),
        Some("ExecutionDoesNotExist".into())
    );
    let (status, body) = get("/console/api/graph");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("?machine=ARN"), "{body}");
    assert_eq!(get("/nothing/here").0, 404);
}

fn sample() -> PathBuf {
    repo().join("examples/stock-trading")
}

#[test]
fn graph_writes_svg_dot_and_mermaid() {
    let project = sample();
    let svg = stepwise(&["graph", project.to_str().expect("path")]);
    assert!(svg.status.success(), "{}", String::from_utf8_lossy(&svg.stderr));
    let svg = String::from_utf8_lossy(&svg.stdout).to_string();
    assert!(svg.starts_with("<svg "), "{}", &svg[..svg.len().min(200)]);
    assert_eq!(svg.matches(r#"<g class="node "#).count(), 7, "the sample's seven states");
    assert_eq!(svg.matches(r#"<g class="edge edge-choice""#).count(), 2, "Buy or Sell?'s two rules");
    assert_eq!(svg.matches(r#"<g class="edge "#).count(), 7);
    let dot = stepwise(&["graph", project.to_str().expect("path"), "--format", "dot"]);
    let dot = String::from_utf8_lossy(&dot.stdout).to_string();
    assert!(dot.starts_with("digraph stepwise {") && dot.contains("\"Buy or Sell?\" -> \"Buy Stock\""), "{dot}");
    let out = std::env::temp_dir().join(format!("stepwise-graph-{}.mmd", std::process::id()));
    let m = stepwise(&[
        "graph",
        project.to_str().expect("path"),
        "--format",
        "mermaid",
        "--output",
        out.to_str().expect("path"),
    ]);
    assert!(m.status.success());
    let mermaid = std::fs::read_to_string(&out).expect("written");
    assert!(mermaid.starts_with("flowchart TD\n") && mermaid.contains("{\"Choice: Buy or Sell?\"}"), "{mermaid}");
    let _ = std::fs::remove_file(&out);
    let bad = stepwise(&["graph", project.to_str().expect("path"), "--format", "png"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("use svg, dot or mermaid"));
}

#[test]
fn graph_colours_an_execution_of_the_data_directory() {
    let data = std::env::temp_dir().join(format!("stepwise-graph-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let project = sample();
    let run = stepwise(&["run", project.to_str().expect("path"), "--data-dir", data.to_str().expect("path"), "--json"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    let result: Value = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).expect("the JSON result line");
    let arn = result["executionArn"].as_str().expect("arn").to_string();
    let out = stepwise(&[
        "graph",
        project.to_str().expect("path"),
        "--execution",
        &arn,
        "--data-dir",
        data.to_str().expect("path"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let svg = String::from_utf8_lossy(&out.stdout).to_string();
    // Six states on the path succeeded; Buy Stock or Sell Stock was not taken.
    assert_eq!(svg.matches("data-status=\"succeeded\"").count(), 6, "{svg}");
    assert_eq!(svg.matches("data-status=\"not-reached\"").count(), 1);
    let missing = stepwise(&[
        "graph",
        project.to_str().expect("path"),
        "--execution",
        "arn:aws:states:us-east-1:123456789012:execution:X:y",
        "--data-dir",
        data.to_str().expect("path"),
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ExecutionDoesNotExist"));
    let _ = std::fs::remove_dir_all(&data);
}
