//! The 103 definitions AWS rejected (`validation_cases.jsonl`) are rejected, with AWS's message;
//! and none of the 1,151 definitions that ran on AWS is rejected.

use stepwise_conformance::{default_corpus_dir, run_validation_cases};

/// Floors: raise, never lower.
const REJECTED_FLOOR: usize = 103;
const AWS_EXACT_FLOOR: usize = 14;
const LOCALSTACK_REASON_FLOOR: usize = 89;

fn corpus_dir() -> std::path::PathBuf {
    std::env::var_os("STEPWISE_CORPUS").map(Into::into).unwrap_or_else(default_corpus_dir)
}

#[test]
fn recorded_rejections_are_rejected_with_aws_messages() {
    let path = corpus_dir().join("validation_cases.jsonl");
    let mut report = Vec::new();
    let s = run_validation_cases(&path, None, &mut report)
        .unwrap_or_else(|e| panic!("the validation corpus {} is required: {e}", path.display()));
    let report = String::from_utf8_lossy(&report);
    assert!(s.total >= 100, "{report}");
    assert!(s.rejected >= REJECTED_FLOOR, "{report}");
    assert!(s.aws_exact >= AWS_EXACT_FLOOR, "{report}");
    assert!(s.localstack_reason >= LOCALSTACK_REASON_FLOOR, "{report}");
}

#[test]
fn definitions_that_ran_on_aws_are_accepted() {
    let path = corpus_dir().join("cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} is required: {e}", path.display()));
    let mut rejected = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let c: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        n += 1;
        let express = c["context"]["state_machine_type"] == "EXPRESS";
        if let Err(e) = stepwise_asl::load(&c["definition"], express) {
            rejected.push(format!("{}: {e}", c["id"]));
        }
    }
    assert!(n >= 1000, "only {n} cases");
    assert!(rejected.is_empty(), "{} valid definitions rejected:\n{}", rejected.len(), rejected.join("\n"));
}
