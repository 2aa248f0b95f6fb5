//! `stepwise run examples/stock-trading` end to end, as a user runs it: in one command, and
//! killed mid-approval then run again (the execution resumes from the store).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stepwise-run-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn stepwise() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    c.current_dir(repo());
    c
}

#[test]
fn the_sample_runs_through_every_state_in_one_command() {
    let dir = data_dir("once");
    let out = stepwise()
        .args(["run", "examples/stock-trading", "--json", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("run stepwise");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    for state in [
        "Check Stock Price",
        "Generate Buy/Sell recommendation",
        "Request Human Approval",
        "Buy or Sell?",
        "Report Result",
    ] {
        assert!(stdout.contains(state), "{state} missing:\n{stdout}");
    }
    assert!(stdout.contains("Buy Stock") || stdout.contains("Sell Stock"), "{stdout}");
    assert!(stdout.contains("queue RequestHumanApprovalQueue received message"), "{stdout}");
    assert!(
        stdout.contains("topic arn:aws:sns:us-east-1:123456789012:ReportResultTopic published message"),
        "{stdout}"
    );
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("last line is JSON");
    assert_eq!(last["status"], "SUCCEEDED");
    assert!(last["output"].as_str().is_some_and(|o| o.contains("MessageId")), "{last}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killed_mid_approval_the_sample_resumes_and_succeeds() {
    let dir = data_dir("resume");
    let mut first = stepwise()
        .args(["run", "examples/stock-trading", "--manual-approval", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stepwise");
    let stdout = first.stdout.take().expect("stdout");
    let mut token = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(rest) = line.split("--task-token ").nth(1) {
            token = rest.split_whitespace().next().map(String::from);
            break;
        }
        assert!(Instant::now() < deadline, "no approval request within 60 s");
    }
    assert!(token.is_some(), "the run printed no send-task-success command");
    first.kill().expect("kill");
    let _ = first.wait();

    let out =
        stepwise().args(["run", "examples/stock-trading", "--json", "--data-dir"]).arg(&dir).output().expect("rerun");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("resuming execution"), "{stdout}");
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("JSON");
    assert_eq!(last["status"], "SUCCEEDED");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn manual_approval_is_completed_from_another_process() {
    let dir = data_dir("manual");
    let mut run = stepwise()
        .args(["run", "examples/stock-trading", "--manual-approval", "--json", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stepwise");
    let mut lines = BufReader::new(run.stdout.take().expect("stdout")).lines();
    let mut token = None;
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(rest) = line.split("--task-token ").nth(1) {
            token = rest.split_whitespace().next().map(String::from);
            break;
        }
    }
    let token = token.expect("a send-task-success command");
    // a forged token is refused with AWS's error, the real one accepted
    let bad = stepwise()
        .args(["send-task-success", "--task-token", &"B".repeat(32), "--task-output", "\"approved\"", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("forged");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("TaskDoesNotExist"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let ok = stepwise()
        .args(["send-task-success", "--task-token", &token, "--task-output", "\"approved\"", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("approve");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(run.wait().expect("wait").success(), "{rest:?}");
    let last: serde_json::Value = serde_json::from_str(rest.last().map(String::as_str).unwrap_or("")).expect("JSON");
    assert_eq!(last["status"], "SUCCEEDED");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The history event types of a `--json` run's printed events (`  #N Type ...` lines).
fn event_types(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect()
}

#[test]
fn the_jsonata_sample_gives_the_same_result_as_the_jsonpath_one() {
    let mut runs = Vec::new();
    for example in ["examples/stock-trading", "examples/stock-trading-jsonata"] {
        let dir = data_dir(&format!("same-{}", example.len()));
        let out = stepwise().args(["run", example, "--json", "--data-dir"]).arg(&dir).output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{example}: {stdout}");
        let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("JSON");
        assert_eq!(last["status"], "SUCCEEDED", "{example}");
        let output: serde_json::Value =
            serde_json::from_str(last["output"].as_str().unwrap_or("null")).expect("output");
        assert!(output["MessageId"].is_string(), "{example}: {output}");
        let published = stdout.lines().find(|l| l.contains("published message")).unwrap_or("").to_string();
        let message: serde_json::Value =
            serde_json::from_str(published.split_once(": ").map(|x| x.1).unwrap_or("null")).expect("message JSON");
        assert!(message["Input"]["type"].as_str().is_some_and(|t| t == "buy" || t == "sell"), "{example}: {message}");
        runs.push(event_types(&stdout));
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert_eq!(runs[0], runs[1], "the two definitions take the same steps");
}

/// `stepwise run --time-scale 0`: a project whose machine waits an hour ends at once, its
/// history keeping the hour.
#[test]
fn run_with_time_scale_zero_skips_an_hours_wait() {
    let project = data_dir("timescale-project");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::write(
        project.join("definition.asl.json"),
        r#"{"StartAt": "Hour", "States": {"Hour": {"Type": "Wait", "Seconds": 3600, "End": true}}}"#,
    )
    .expect("definition");
    let dir = data_dir("timescale");
    let begun = Instant::now();
    let out = stepwise()
        .args(["run", "--json", "--time-scale", "0", "--data-dir"])
        .arg(&dir)
        .arg(&project)
        .output()
        .expect("run stepwise");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(begun.elapsed() < Duration::from_secs(30), "took {:?}", begun.elapsed());
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).expect("a JSON line");
    assert_eq!(last["status"], "SUCCEEDED", "{last}");
    let (start, stop) = (last["startDate"].as_str().unwrap_or(""), last["stopDate"].as_str().unwrap_or(""));
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{t}: {e}"));
    let took = parse(stop) - parse(start);
    assert!(took.num_seconds() >= 3600, "the execution's clock shows {took}");
    let _ = std::fs::remove_dir_all(&project);
}
