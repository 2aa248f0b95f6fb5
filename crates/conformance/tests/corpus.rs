//! Checks against the real corpus (`shared/conformance` beside the repository): it loads
//! cleanly, and replaying the recorded results through the runner passes every case, which
//! shows the transformers and comparisons never disturb a correct result.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use stepwise_conformance::{
    default_corpus_dir, load_corpus, run_cases, Engine, EngineRun, Filter, Invoke, RunSettings, RunnerOptions,
};

#[test]
fn corpus_loads_cleanly() {
    let corpus = load_corpus(&default_corpus_dir()).expect("corpus at ../../../shared/conformance");
    assert!(
        corpus.errors.is_empty(),
        "{:?}",
        corpus.errors.iter().map(std::string::ToString::to_string).collect::<Vec<_>>()
    );
    assert!(corpus.cases.len() >= 1000, "{}", corpus.cases.len());
    let sc: Vec<_> = corpus.cases.iter().filter(|c| c.self_contained).collect();
    assert!(sc.len() >= 900);
    assert!(sc.iter().filter(|c| c.exact_comparable).count() >= 800);
    for c in &corpus.cases {
        if let Some(t) = &c.history_types {
            if let Some(h) = corpus.histories.get(&c.id) {
                let types: Vec<&str> = h.iter().filter_map(|e| e["type"].as_str()).collect();
                assert_eq!(&types, t, "{}", c.id);
            }
        }
        for f in c.lambda_functions.values() {
            assert!(f.code.contains("def handler("), "{}: handler entry point", c.id);
        }
    }
}

/// A recorded event as AWS sent it, before the recorder parsed JSON text: the payloads of
/// the details (and `assignedVariables` values) back to text.
fn as_sent_by_aws(e: &Value) -> Value {
    let mut e = e.clone();
    let text = |v: &mut Value| {
        if v.is_object() || v.is_array() {
            *v = Value::String(v.to_string());
        }
    };
    if let Some(m) = e.as_object_mut() {
        for (k, d) in m.iter_mut() {
            let Some(d) = d.as_object_mut().filter(|_| k.ends_with("EventDetails")) else { continue };
            for field in ["input", "output", "parameters", "cause"] {
                if let Some(v) = d.get_mut(field) {
                    text(v);
                }
            }
            if let Some(Value::Object(vars)) = d.get_mut("assignedVariables") {
                vars.values_mut().for_each(text);
            }
        }
    }
    e
}

/// Plays back what AWS recorded.
struct Recorded {
    runs: HashMap<String, EngineRun>,
}

impl Engine for Recorded {
    fn run(&self, _d: &Value, _i: Value, s: &RunSettings, _f: &mut dyn Invoke) -> Result<EngineRun, String> {
        self.runs.get(&s.case_id).cloned().ok_or_else(|| "no recording".into())
    }
}

#[test]
fn recorded_results_pass() {
    let corpus = load_corpus(&default_corpus_dir()).expect("corpus");
    let mut runs = HashMap::new();
    for c in &corpus.cases {
        let e = &c.expected;
        let cause = e.cause.as_ref().map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let history = match (&c.history_types, corpus.histories.get(&c.id)) {
            (_, Some(h)) => h.iter().map(as_sent_by_aws).collect(),
            (Some(t), None) => t.iter().map(|t| serde_json::json!({ "type": t })).collect(),
            _ => Vec::new(),
        };
        runs.insert(
            c.id.clone(),
            EngineRun { status: e.status.clone(), output: e.output.clone(), error: e.error.clone(), cause, history },
        );
    }
    let options = RunnerOptions { threads: 2, ..RunnerOptions::default() };
    let mut out = Vec::new();
    let s = run_cases(&corpus, &Filter::default(), &options, Arc::new(Recorded { runs }), &mut out);
    let report = String::from_utf8(out).unwrap();
    assert_eq!(s.failed, 0, "{report}");
    assert_eq!(s.inexact_failed, 0, "{report}");
    assert_eq!(s.history_matched, s.history_total, "{report}");
    assert!(s.passed >= 800, "{report}");
    assert!(report.ends_with(&format!("{} passed, 0 failed, {} skipped\n", s.passed, s.skipped)));
}
