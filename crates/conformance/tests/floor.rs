//! The whole AWS-recorded corpus against the interpreter, every execution saved and reloaded
//! between steps (replay mode): fails when a pass count drops below its committed floor.
//!
//! Raise the floors when the interpreter gets better; `docs/conformance.md` lists what still
//! fails and why. The corpus must be present (`../shared/conformance` beside the repository, or
//! `STEPWISE_CORPUS`): a missing corpus fails this test.

use std::sync::Arc;
use stepwise_conformance::{
    default_corpus_dir, load_corpus, run_cases, Filter, HistoryVerdict, LocalEngine, RunnerOptions, StartTime, Verdict,
};

/// Exactly comparable cases passing, all families.
const FLOOR_PASSED: usize = 930;
/// Exactly comparable cases passing outside the `jsonata` and `assign/variables` families.
const FLOOR_TARGET_PASSED: usize = 870;
/// Cases whose whole recorded history (`histories.jsonl`) equals ours field for field.
const FLOOR_HISTORY_EQUAL: usize = 495;
/// Of the recordings the recorder normalised (ids lost inside blocks), those whose every
/// recorded event is in ours.
const FLOOR_HISTORY_NORMALISED: usize = 7;

#[test]
fn corpus_pass_counts_stay_above_their_floors() {
    let dir = std::env::var_os("STEPWISE_CORPUS").map(Into::into).unwrap_or_else(default_corpus_dir);
    let corpus =
        load_corpus(&dir).unwrap_or_else(|e| panic!("the conformance corpus is missing at {}: {e}", dir.display()));
    let options = RunnerOptions {
        threads: 2,
        replay: true,
        start_time: StartTime::Fixed("2026-11-21T17:00:04Z".parse().expect("time")),
        ..RunnerOptions::default()
    };
    let mut report = Vec::new();
    let s = run_cases(&corpus, &Filter::default(), &options, Arc::new(LocalEngine), &mut report);
    let report = String::from_utf8_lossy(&report);
    let target =
        |r: &&stepwise_conformance::CaseResult| r.exact && r.family != "jsonata" && r.family != "assign/variables";
    let target_total = s.results.iter().filter(target).count();
    let target_passed = s.results.iter().filter(target).filter(|r| r.verdict == Verdict::Pass).count();
    let equal = s.results.iter().filter(|r| r.history == HistoryVerdict::Match).count();
    let normalised = s.results.iter().filter(|r| r.history == HistoryVerdict::LenientMatch).count();
    eprintln!(
        "corpus: {} passed, {} failed; target {target_passed}/{target_total}; histories equal {equal}/{} (+{normalised} normalised recordings)",
        s.passed, s.failed, s.history_total
    );
    for f in s.results.iter().filter(|r| r.exact && r.verdict != Verdict::Pass) {
        eprintln!("failed: {} ({:?})", f.id, f.verdict);
    }
    assert!(s.errors.is_empty(), "corpus errors: {:?}", s.errors);
    assert!(s.passed >= FLOOR_PASSED, "passed {} < floor {FLOOR_PASSED}\n{report}", s.passed);
    assert!(
        target_passed >= FLOOR_TARGET_PASSED,
        "target passed {target_passed} < floor {FLOOR_TARGET_PASSED}\n{report}"
    );
    assert!(equal >= FLOOR_HISTORY_EQUAL, "histories equal {equal} < floor {FLOOR_HISTORY_EQUAL}\n{report}");
    assert!(
        normalised >= FLOOR_HISTORY_NORMALISED,
        "normalised histories found {normalised} < floor {FLOOR_HISTORY_NORMALISED}\n{report}"
    );
}
