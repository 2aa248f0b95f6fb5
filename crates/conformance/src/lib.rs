//! Conformance runner: runs the AWS-recorded ASL corpus (`shared/conformance`, see its
//! README) against the stepwise interpreter and reports how many cases match.
//!
//! Entry points for the CLI: [`run_corpus`], [`run_corpus_parallel`] and, with every knob,
//! [`run_corpus_with`]. The corpus path is a directory holding `cases.jsonl` (and optionally
//! `histories.jsonl`), or the `cases.jsonl` file; [`default_corpus_dir`] is where it sits
//! relative to this repository.
//!
//! The corpus is derived from the LocalStack project's Step Functions parity tests
//! (Apache-2.0, © LocalStack contributors); its expectations were recorded against AWS.

pub mod case;
pub mod compare;
pub mod engine;
pub mod events;
pub mod history;
pub mod invoker;
pub mod runner;
pub mod transform;
pub mod validation;

pub use case::{default_corpus_dir, load_corpus, Case, Corpus, LoadError};
pub use compare::{first_diff, json_equal, Diff};
pub use engine::LocalEngine;
pub use invoker::{Invocation, Invoke, PythonInvoker};
pub use runner::{
    check_history, check_result, replay_check, run_case, run_cases, run_corpus, run_corpus_parallel, run_corpus_with,
    write_report, CaseResult, Engine, EngineRun, Failure, FamilyCounts, Filter, HistoryVerdict, RunSettings,
    RunnerOptions, StartTime, Summary, Verdict,
};
pub use validation::{is_validation_file, run_validation_cases, run_validation_cases_with, ValidationSummary};
