//! Robustness: no input makes the language layer panic. Deterministic pseudo-random inputs
//! (SplitMix64), so a failure reproduces: paths, intrinsic calls and JSONata templates from a
//! grammar-ish alphabet, and definitions of the recorded corpus with random nodes replaced,
//! loaded and (when valid) run to completion in memory with instant time.

use serde_json::{json, Value};
use stepwise_asl::integrations::{Call, CallResult, FunctionOutcome, Services};
use stepwise_asl::local::{run_machine, RunOptions};
use stepwise_asl::stepper::ExecutionStatus;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "$",
    "$$",
    ".",
    "..",
    "[",
    "]",
    "*",
    "'",
    "\"",
    "\\",
    "(",
    ")",
    "?",
    "@",
    "==",
    "<",
    "&&",
    "||",
    "!",
    ":",
    ",",
    "-1",
    "0",
    "2",
    "a",
    "b",
    "length()",
    "States.",
    "Format",
    "Array",
    "MathAdd",
    "StringToJson",
    "Hash",
    "{}",
    "{",
    "}",
    "%",
    " ",
    "é",
    "\u{0}",
    "ArrayRange",
    "1e309",
    "'x'",
    "$x",
    "$states.input",
    "$count(",
    "function($a){$a}",
];

fn random_text(r: &mut Rng) -> String {
    (0..1 + r.below(12)).map(|_| PIECES[r.below(PIECES.len())]).collect()
}

#[test]
fn parsers_never_panic() {
    let mut r = Rng(7);
    let input = json!({"a": [1, {"b": "x"}], "x": 2, "s": "{\"k\": 1}"});
    for _ in 0..20_000 {
        let t = random_text(&mut r);
        if let Ok(p) = stepwise_asl::jsonpath::Path::parse(&t) {
            let _ = p.eval(&input, &input);
        }
        if let Ok(c) = stepwise_asl::intrinsics::parse(&t) {
            let _ = stepwise_asl::intrinsics::evaluate(&c, &input, &input, &mut || 4);
        }
        let _ = stepwise_asl::payload::Template::compile_expr(&t);
        let _ = stepwise_asl::jsonata::Template::compile(&Value::String(format!("{{% {t} %}}")));
    }
}

/// Every function echoes its input; messages are accepted.
struct Echo;
impl Services for Echo {
    async fn call(&mut self, call: &Call) -> CallResult {
        match call {
            Call::Invoke { payload, .. } => CallResult::Function(FunctionOutcome::Ok(payload.clone())),
            _ => CallResult::Delivered(Ok(None)),
        }
    }
}

fn random_value(r: &mut Rng, depth: usize) -> Value {
    match r.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(r.below(2) == 0),
        2 => json!(r.below(200) as i64 - 100),
        3 => json!(-1.5),
        4 => Value::String(random_text(r)),
        5 => Value::String(["Pass", "End", "$.a", "States.ALL", "Next", "INLINE", "JSONata"][r.below(7)].into()),
        6 => Value::Array((0..r.below(3)).map(|_| random_value(r, depth + 1)).collect()),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..r.below(3) {
                let k = ["Type", "Next", "End", "Result", "Parameters", "x.$"][r.below(6)];
                m.insert(k.into(), random_value(r, depth + 1));
            }
            Value::Object(m)
        }
    }
}

/// Replaces one node of `v`, reached by a random walk, with a random value.
fn mutate(v: &mut Value, r: &mut Rng, depth: usize) {
    // Walk deep enough to hit a field of a state rather than the whole States map.
    let stop = depth > 3 && r.below(3) == 0;
    match v {
        Value::Object(m) if !m.is_empty() && !stop => {
            let i = r.below(m.len());
            if let Some(child) = m.values_mut().nth(i) {
                mutate(child, r, depth + 1);
            }
        }
        Value::Array(a) if !a.is_empty() && !stop => {
            let i = r.below(a.len());
            mutate(&mut a[i], r, depth + 1);
        }
        _ => *v = random_value(r, 0),
    }
}

#[test]
fn mutated_corpus_definitions_never_panic() {
    let path = std::env::var_os("STEPWISE_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"))
        .join("cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{} is required: {e}", path.display()));
    let cases: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(cases.len() > 1000);
    let mut r = Rng(11);
    let opts = RunOptions { time_scale: 0.0, ..Default::default() };
    let mut loaded = 0;
    for _round in 0..4 {
        for c in &cases {
            let mut def = c["definition"].clone();
            mutate(&mut def, &mut r, 0);
            let mut input = c["input"].clone();
            if r.below(3) == 0 {
                mutate(&mut input, &mut r, 3);
            }
            if let Ok(m) = stepwise_asl::load(&def, false) {
                loaded += 1;
                let res = futures_executor::block_on(run_machine(&m, input, &opts, &mut Echo));
                // A run ends with an output exactly when it succeeded.
                assert_eq!(res.status == ExecutionStatus::Succeeded, res.output.is_some(), "{res:?}");
            }
        }
    }
    eprintln!("mutated definitions that loaded and ran: {loaded}");
    assert!(loaded > 400, "the mutations should leave many definitions valid, got {loaded}");
}
