//! The AWS-recorded corpus through the durable runtime (`stepwise conformance --runtime
//! durable`: the embedded store, queue and step driver that `serve` and `run` use), with floors
//! as for the in-memory run (`crates/conformance/tests/floor.rs`). The corpus must be present
//! (`../shared/conformance` beside the repository, or `STEPWISE_CORPUS`): a missing corpus fails.

use std::path::PathBuf;
use std::process::Command;

/// Exactly comparable cases passing.
const FLOOR_PASSED: usize = 930;
/// Histories equal to the recording field for field.
const FLOOR_HISTORIES_EQUAL: usize = 495;

fn corpus() -> PathBuf {
    std::env::var_os("STEPWISE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"))
}

fn conformance(file: &str) -> String {
    let path = corpus().join(file);
    assert!(path.exists(), "the conformance corpus is missing at {}", path.display());
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(["conformance", "--runtime", "durable", "--threads", "2"])
        .arg(&path)
        .output()
        .expect("run stepwise conformance");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first number of the line starting with `prefix`, and the numbers after it.
fn numbers(report: &str, prefix: &str) -> Vec<usize> {
    let line =
        report.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no `{prefix}` line:\n{report}"));
    line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect()
}

#[test]
fn the_corpus_passes_on_the_durable_runtime() {
    let report = conformance("cases.jsonl");
    let last = report.lines().last().unwrap_or_default();
    let n = numbers(last, "");
    let (passed, failed) = (n[0], n[1]);
    eprintln!("durable runtime: {last}");
    assert!(passed >= FLOOR_PASSED && failed == 0, "passed {passed} (floor {FLOOR_PASSED}), failed {failed}\n{report}");
    let h = numbers(&report, "histories:");
    eprintln!("durable runtime: histories equal {}/{}", h[0], h[1]);
    assert!(h[0] >= FLOOR_HISTORIES_EQUAL, "histories equal {} < floor {FLOOR_HISTORIES_EQUAL}\n{report}", h[0]);
}

#[test]
fn invalid_definitions_are_refused_on_the_durable_runtime() {
    let report = conformance("validation_cases.jsonl");
    let last = report.lines().last().unwrap_or_default();
    let n = numbers(last, "");
    assert_eq!((n[0], n[1]), (103, 0), "{report}");
}

/// Exactly comparable service cases (`service_cases.jsonl`) passing on the durable runtime.
const FLOOR_SERVICE_PASSED: usize = 17;
/// Service cases with placeholders in the recording matching after the transformers.
const FLOOR_SERVICE_INEXACT: usize = 16;

/// The service cases the durable runtime runs by itself (nested executions, activities with
/// their workers, SQS callbacks, StopExecution): none may fail, and the counts stay above
/// their floors. The others are skipped, each with what it needs (DynamoDB, S3, aws-sdk, ...).
#[test]
fn service_cases_the_durable_runtime_runs_alone_pass() {
    let report = conformance("service_cases.jsonl");
    assert_service_floors(&report, "on the durable runtime", FLOOR_SERVICE_PASSED, 0, FLOOR_SERVICE_INEXACT);
}

/// Checks a service-case report: passed ≥ `passed`, failed ≤ `failed`, inexact matches ≥
/// `inexact`.
fn assert_service_floors(report: &str, label: &str, passed: usize, failed: usize, inexact: usize) {
    let last = report.lines().last().unwrap_or_default();
    let n = numbers(last, "");
    eprintln!("service cases {label}: {last}");
    assert!(
        n[0] >= passed && n[1] <= failed,
        "passed {} (floor {passed}), failed {} (ceiling {failed})\n{report}",
        n[0],
        n[1]
    );
    let matched = numbers(report, "inexact cases")[0];
    assert!(matched >= inexact, "inexact matched {matched} < floor {inexact}\n{report}");
}

/// Service cases passing with their setup on a moto server (`--aws-endpoint`): DynamoDB, S3,
/// SNS topics, EventBridge rules, Secrets Manager, `aws-sdk:*`, cross-account, post-checks.
/// Together 80 of the 84 that are not Distributed Map and 19 of the 20 that are
/// (docs/conformance.md lists the 5 others).
const FLOOR_ENDPOINT_PASSED: usize = 45;
/// ... and inexact ones matching after the transformers.
const FLOOR_ENDPOINT_INEXACT: usize = 54;
/// Failures allowed: none.
const CEILING_ENDPOINT_FAILED: usize = 0;

/// A moto server of its own (account 111111111111, as recorded), killed when dropped: the
/// conformance run resets it before every case, which the shared one must not see.
struct Moto(std::process::Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn own_moto() -> Moto {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("STEPWISE_PYTHON").map_or_else(|| root.join(".venv/bin/python"), PathBuf::from);
    assert!(python.exists(), "no Python with moto at {} (scripts/test.sh installs it)", python.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let child = Command::new(python)
        .arg(root.join("scripts/moto_server.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_ACCOUNT_ID", "111111111111")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start moto server");
    let url = format!("http://127.0.0.1:{port}");
    let moto = Moto(child, url.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ureq::post(&format!("{url}/moto-api/reset")).call().is_err() {
        assert!(std::time::Instant::now() < deadline, "moto server did not start on {url}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    moto
}

/// The service cases with their setup on the local AWS endpoint. The test command provides
/// the endpoint (`AWS_ENDPOINT_URL`) and moto; without them this test cannot run.
#[test]
fn service_cases_pass_with_their_setup_on_a_local_aws_endpoint() {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        eprintln!("AWS_ENDPOINT_URL is not set: the test command (scripts/test.sh) runs this test");
        return;
    }
    let moto = own_moto();
    let path = corpus().join("service_cases.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(["conformance", "--aws-endpoint", &moto.1])
        .arg(&path)
        .output()
        .expect("run stepwise conformance");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_service_floors(
        &report,
        "on a local AWS endpoint",
        FLOOR_ENDPOINT_PASSED,
        CEILING_ENDPOINT_FAILED,
        FLOOR_ENDPOINT_INEXACT,
    );
}
