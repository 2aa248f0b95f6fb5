//! Selecting, running and judging cases, and the report.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::case::{load_corpus, Case, Corpus, NOTE_HISTORY_NORMALISED, NOTE_OUTPUT_MASKED};
use crate::compare::{first_diff, first_diff_by, placeholder_str_eq, truncate};
use crate::engine::LocalEngine;
use crate::events;
use crate::history::{compare_history, compare_history_lenient, event_types};
use crate::invoker::{Invoke, PythonInvoker};
use crate::transform::{apply_transformers, normalise_placeholders, Defaults, Snapshot, Transformer};

/// The role every case runs under (what the recording's `snf_role_arn` transformer expects).
pub const ROLE_NAME: &str = "sfn_role";

/// Everything an engine needs to run one case.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The case being run (for engines that log or look cases up).
    pub case_id: String,
    /// AWS account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// State machine name.
    pub state_machine_name: String,
    /// Execution name.
    pub execution_name: String,
    /// Execution role ARN.
    pub role_arn: String,
    /// EXPRESS machine.
    pub express: bool,
    /// Real seconds slept per simulated second (0: instant).
    pub time_scale: f64,
    /// The execution's start time.
    pub start_time: DateTime<Utc>,
    /// Random seed.
    pub seed: u64,
    /// Run in the engine's replay mode (save/reload between steps).
    pub replay: bool,
    /// The case's `setup` (service cases: resources, nested machines, actors), or null.
    pub setup: Value,
}

impl RunSettings {
    /// The settings for `case` under `options`.
    pub fn for_case(case: &Case, options: &RunnerOptions, start_time: DateTime<Utc>) -> RunSettings {
        let c = &case.context;
        RunSettings {
            case_id: case.id.clone(),
            account: c.account.clone(),
            region: c.region.clone(),
            state_machine_name: c.state_machine_name.clone(),
            execution_name: c.execution_name.clone(),
            role_arn: format!("arn:aws:iam::{}:role/{ROLE_NAME}", c.account),
            express: case.is_express(),
            time_scale: options.time_scale,
            start_time,
            seed: options.seed,
            replay: false,
            setup: case.raw.get("setup").cloned().unwrap_or(Value::Null),
        }
    }
}

/// What an engine returns for one execution.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineRun {
    /// SUCCEEDED | FAILED | TIMED_OUT | ABORTED (| RUNNING).
    pub status: String,
    /// Output when SUCCEEDED.
    pub output: Option<Value>,
    /// Error when not SUCCEEDED.
    pub error: Option<String>,
    /// Cause when not SUCCEEDED.
    pub cause: Option<String>,
    /// AWS-shaped history events.
    pub history: Vec<Value>,
}

/// The interpreter, as the runner sees it. [`LocalEngine`] is the real one.
pub trait Engine: Send + Sync {
    /// Run `definition` on `input`. `Err` means the definition was rejected (the reason).
    fn run(
        &self,
        definition: &Value,
        input: Value,
        settings: &RunSettings,
        functions: &mut dyn Invoke,
    ) -> Result<EngineRun, String>;

    /// Whether this engine can run `case` (`Err`: why not; the case is skipped with that
    /// reason). The default runs the self-contained cases only.
    fn accepts(&self, case: &Case) -> Result<(), String> {
        if case.self_contained {
            Ok(())
        } else {
            Err("not self-contained".into())
        }
    }
}

/// Which cases to run.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Run only these families (exact name, or a substring of it); empty: all.
    pub families: Vec<String>,
    /// Run only these ids (exact id; a filter matching no id exactly matches as a substring);
    /// empty: all.
    pub ids: Vec<String>,
    /// Skip cases that are not exactly comparable.
    pub exact_only: bool,
}

impl Filter {
    /// Everything.
    pub fn all() -> Filter {
        Filter::default()
    }

    fn family_ok(&self, family: &str) -> bool {
        self.families.is_empty() || self.families.iter().any(|f| f == family || family.contains(f.as_str()))
    }

    fn id_ok(&self, id: &str, exact_ids: &HashSet<&str>) -> bool {
        self.ids.is_empty()
            || self.ids.iter().any(|f| if exact_ids.contains(f.as_str()) { f == id } else { id.contains(f.as_str()) })
    }
}

/// When executions start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTime {
    /// The time the corpus run starts (one instant shared by all cases).
    Now,
    /// A fixed instant.
    Fixed(DateTime<Utc>),
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Worker threads (1: sequential).
    pub threads: usize,
    /// A case without a result after this long is failed and abandoned.
    pub case_timeout: Duration,
    /// Real seconds per simulated second (0: waits are instant).
    pub time_scale: f64,
    /// Execution start time.
    pub start_time: StartTime,
    /// Random seed for every case.
    pub seed: u64,
    /// Also run every case through [`replay_check`].
    pub replay: bool,
    /// Print a line for every case as it finishes.
    pub verbose: bool,
    /// Python interpreter for Lambda handlers (`None`: `$STEPWISE_PYTHON` or `python3`).
    pub python: Option<String>,
    /// Wait at most this long (real time) for a Python handler, even when the state's timeout
    /// is longer, and report it as timed out. `None` (the default) waits the full timeout,
    /// which is faithful; a cap of a couple of seconds makes the few cases whose handler
    /// sleeps past `TimeoutSeconds` fast (nothing in the corpus legitimately runs that long).
    pub function_wait_cap: Option<Duration>,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            threads: 1,
            case_timeout: Duration::from_secs(120),
            time_scale: 0.0,
            start_time: StartTime::Now,
            seed: 0x5eed,
            replay: false,
            verbose: false,
            python: None,
            function_wait_cap: None,
        }
    }
}

/// The verdict on one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The result matches the recording.
    Pass,
    /// It does not (the reason).
    Fail(String),
}

/// The verdict on one case's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryVerdict {
    /// The case has no recorded history types.
    NotRecorded,
    /// Event types match.
    Match,
    /// The recording was normalised (lossy); ours is compatible with it.
    LenientMatch,
    /// Event types differ (the reason).
    Mismatch(String),
}

/// The outcome of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// Family.
    pub family: String,
    /// Exactly comparable (counts in the headline).
    pub exact: bool,
    /// Result verdict.
    pub verdict: Verdict,
    /// History verdict.
    pub history: HistoryVerdict,
    /// Wall-clock time taken.
    pub elapsed: Duration,
}

/// Per-family counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyCounts {
    /// Exactly comparable cases that passed.
    pub passed: usize,
    /// Exactly comparable cases that failed.
    pub failed: usize,
    /// Cases not run.
    pub skipped: usize,
    /// Inexact cases that matched after transformers.
    pub inexact_passed: usize,
    /// Inexact cases that did not.
    pub inexact_failed: usize,
}

/// One failing case, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Case id.
    pub id: String,
    /// Family.
    pub family: String,
    /// Whether the case is exactly comparable.
    pub exact: bool,
    /// Short reason.
    pub reason: String,
}

/// The outcome of a corpus run.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Exactly comparable cases that passed.
    pub passed: usize,
    /// Exactly comparable cases that failed.
    pub failed: usize,
    /// Cases not run (not self-contained, filtered out, unusable expectation).
    pub skipped: usize,
    /// Inexact cases (placeholders in the expectation) that matched after transformers.
    pub inexact_passed: usize,
    /// Inexact cases that did not match.
    pub inexact_failed: usize,
    /// Malformed corpus lines (not counted above).
    pub malformed: usize,
    /// Counts by family.
    pub per_family: BTreeMap<String, FamilyCounts>,
    /// Why cases were skipped, with counts.
    pub skip_reasons: BTreeMap<String, usize>,
    /// Cases whose history matched (exactly or, for normalised recordings, leniently).
    pub history_matched: usize,
    /// Cases run that have a recorded history.
    pub history_total: usize,
    /// Of `history_matched`, those matched leniently.
    pub history_lenient: usize,
    /// Every failing case (exact and inexact).
    pub failures: Vec<Failure>,
    /// History mismatches: (id, reason).
    pub history_mismatches: Vec<(String, String)>,
    /// Every case result, in corpus order.
    pub results: Vec<CaseResult>,
    /// Problems that prevented running (corpus missing, malformed lines).
    pub errors: Vec<String>,
}

impl Summary {
    /// No failures, no malformed lines, no errors, and at least one case ran.
    pub fn is_success(&self) -> bool {
        self.failed == 0
            && self.errors.is_empty()
            && self.malformed == 0
            && self.passed + self.inexact_passed + self.inexact_failed > 0
    }

    /// The closing line: `N passed, N failed, N skipped`.
    pub fn headline(&self) -> String {
        format!("{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)
    }
}

const SHOW: usize = 160;

/// Key/value transformers implied by the recording: LocalStack's Step Functions snapshot masks
/// some keys with built-in transformers that `snapshot_transformers` does not list (HTTP headers
/// such as `"x-amzn-RequestId": "x-amzn-RequestId"`, `"Date": "date"`). When a key of the
/// expected value holds exactly one of the case's `placeholders`, the same key of ours is masked
/// the same way.
pub fn inferred_key_transformers(case: &Case) -> Vec<Transformer> {
    fn walk(v: &Value, names: &HashSet<&str>, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    match c {
                        Value::String(s) if names.contains(s.as_str()) => {
                            if !out.iter().any(|(a, b)| a == k && b == s) {
                                out.push((k.clone(), s.clone()));
                            }
                        }
                        _ => walk(c, names, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, names, out)),
            _ => {}
        }
    }
    let names: HashSet<&str> = case.placeholders.iter().map(String::as_str).filter(|p| !p.starts_with('<')).collect();
    if names.is_empty() {
        return Vec::new();
    }
    let mut pairs = Vec::new();
    for v in [&case.expected.output, &case.expected.cause].into_iter().flatten() {
        walk(v, &names, &mut pairs);
    }
    pairs.into_iter().map(|(k, r)| Transformer::key_value(&k, &r, false)).collect()
}

/// The transformers (the case's and those inferred from its placeholders) and defaults that
/// line our output up with the recording.
fn case_transformers(case: &Case) -> (Vec<Transformer>, Defaults) {
    let defaults = Defaults { account: case.context.account.clone(), region: case.context.region.clone() };
    // Service cases: the setup may replace the recorded list or add to it (corpus README).
    let setup = case.raw.get("setup");
    let listed = |key: &str| -> Option<Vec<Transformer>> {
        let list = setup?.get(key)?.as_array()?;
        Some(list.iter().filter_map(|t| Transformer::from_json(t).ok()).collect())
    };
    let mut transformers = match listed("snapshot_transformers_override") {
        Some(t) => t,
        None => {
            let mut t = case.snapshot_transformers.clone();
            t.extend(listed("snapshot_transformers_extra").unwrap_or_default());
            t
        }
    };
    transformers.extend(inferred_key_transformers(case));
    (transformers, defaults)
}

/// Compare our result with the case's recording (after transformers). `Err`: the first difference.
///
/// For cases that are not exactly comparable, placeholders in the expectation match any text.
pub fn check_result(case: &Case, run: &EngineRun) -> Result<(), String> {
    let exp = &case.expected;
    let exact_eq = |e: &str, a: &str| e == a;
    let str_eq: &dyn Fn(&str, &str) -> bool = if case.exact_comparable { &exact_eq } else { &placeholder_str_eq };
    let first_diff = |e: &Value, a: &Value| first_diff_by(e, a, str_eq);
    if run.status != exp.status {
        let detail = if run.status == "SUCCEEDED" {
            format!("output {}", truncate(&run.output.as_ref().map(Value::to_string).unwrap_or_default(), SHOW))
        } else {
            format!(
                "error {:?}, cause {:?}",
                run.error.as_deref().unwrap_or(""),
                truncate(run.cause.as_deref().unwrap_or(""), SHOW)
            )
        };
        return Err(format!("status: expected {}, got {} ({detail})", exp.status, run.status));
    }
    let cause_json = case.cause_is_json();
    let cause = run.cause.as_ref().map(|c| {
        if cause_json {
            serde_json::from_str::<Value>(c).unwrap_or_else(|_| Value::String(c.clone()))
        } else {
            Value::String(c.clone())
        }
    });
    let mut snap = Snapshot { output: run.output.clone(), error: run.error.clone().map(Value::String), cause };
    let (transformers, defaults) = case_transformers(case);
    apply_transformers(&mut snap, &transformers, &defaults);

    if let Some(expected_output) = &exp.output {
        let Some(ours) = &snap.output else {
            return Err("output: expected a value, got none".into());
        };
        if let Some(d) = first_diff(&normalise_placeholders(expected_output), ours) {
            return Err(format!("output {}", d.describe(SHOW)));
        }
    }
    // Absent error/cause in a recorded history means AWS reported none.
    let strict_absent = exp.status != "SUCCEEDED" && case.expected_source == "history";
    let is_empty = |v: &Value| v.as_str().is_some_and(str::is_empty);
    match (&exp.error, &snap.error) {
        (Some(e), Some(a)) => {
            if let Some(d) = first_diff(&normalise_placeholders(&Value::String(e.clone())), a) {
                return Err(format!("error {}{}", d.describe(SHOW), our_cause(run)));
            }
        }
        (Some(e), None) => return Err(format!("error: expected {e:?}, got none")),
        (None, Some(a)) if strict_absent && !is_empty(a) => {
            return Err(format!("error: expected none, got {}{}", truncate(&a.to_string(), SHOW), our_cause(run)))
        }
        _ => {}
    }
    match (&exp.cause, &snap.cause) {
        (Some(e), Some(a)) => {
            if cause_json && !a.is_object() && !a.is_array() && (e.is_object() || e.is_array()) {
                return Err(format!("cause: expected JSON, got {}", truncate(&a.to_string(), SHOW)));
            }
            if let Some(d) = first_diff(&normalise_placeholders(e), a) {
                return Err(format!("cause {}", d.describe(SHOW)));
            }
        }
        (Some(e), None) => return Err(format!("cause: expected {}, got none", truncate(&e.to_string(), SHOW))),
        (None, Some(a)) if strict_absent && !is_empty(a) => {
            return Err(format!("cause: expected none, got {}", truncate(&a.to_string(), SHOW)))
        }
        _ => {}
    }
    Ok(())
}

fn our_cause(run: &EngineRun) -> String {
    match run.cause.as_deref() {
        Some(c) if !c.is_empty() => format!(" (our cause: {})", truncate(c, SHOW)),
        _ => String::new(),
    }
}

/// Compare our history with the recording: every field of every event when the whole history
/// was recorded ([`crate::events`]), else the event types.
pub fn check_history(case: &Case, history: &[Value]) -> HistoryVerdict {
    if let Some(recorded) = &case.history {
        let (transformers, defaults) = case_transformers(case);
        let ours = events::prepare(history, &transformers, &defaults);
        let mode = if case.has_note(NOTE_HISTORY_NORMALISED) {
            events::Mode::Normalised
        } else if case.exact_comparable {
            events::Mode::Exact
        } else {
            events::Mode::Placeholders
        };
        return match events::compare_events(recorded, &ours, mode) {
            Ok(()) if mode == events::Mode::Normalised => HistoryVerdict::LenientMatch,
            Ok(()) => HistoryVerdict::Match,
            Err(e) => HistoryVerdict::Mismatch(e),
        };
    }
    let Some(recorded) = &case.history_types else {
        return HistoryVerdict::NotRecorded;
    };
    let ours = event_types(history);
    match compare_history(recorded, &ours) {
        Ok(()) => HistoryVerdict::Match,
        Err(e) if case.has_note(NOTE_HISTORY_NORMALISED) => match compare_history_lenient(recorded, &ours) {
            Ok(()) => HistoryVerdict::LenientMatch,
            Err(l) => HistoryVerdict::Mismatch(format!("{e}; lenient: {l}")),
        },
        Err(e) => HistoryVerdict::Mismatch(e),
    }
}

/// The second run mode: run `case` again in the engine's replay mode (the execution saved and
/// reloaded between steps, as a durable runtime does) and require the same result and history
/// as the first run. Further run modes (e.g. crash/resume) plug in here.
pub fn replay_check(
    case: &Case,
    settings: &RunSettings,
    engine: &dyn Engine,
    first: &EngineRun,
    options: &RunnerOptions,
) -> Result<(), String> {
    let mut settings = settings.clone();
    settings.replay = true;
    let mut invoker = make_invoker(case, &settings, options);
    let second = engine
        .run(&case.definition, case.input.clone(), &settings, &mut invoker)
        .map_err(|e| format!("replay: definition rejected: {e}"))?;
    if second.status != first.status {
        return Err(format!("replay: status {} vs {}", second.status, first.status));
    }
    for (what, a, b) in [
        ("output", first.output.clone(), second.output.clone()),
        ("error", first.error.clone().map(Value::String), second.error.clone().map(Value::String)),
        ("cause", first.cause.clone().map(Value::String), second.cause.clone().map(Value::String)),
    ] {
        if let Some(d) = first_diff(&a.unwrap_or(Value::Null), &b.unwrap_or(Value::Null)) {
            return Err(format!("replay: {what} {}", d.describe(SHOW)));
        }
    }
    if let Some(d) = first_diff(&Value::Array(first.history.clone()), &Value::Array(second.history.clone())) {
        return Err(format!("replay: history {}", d.describe(SHOW)));
    }
    Ok(())
}

fn make_invoker(case: &Case, settings: &RunSettings, options: &RunnerOptions) -> PythonInvoker {
    let mut inv = PythonInvoker::new(&case.lambda_functions).with_seed(settings.seed);
    inv.wait_cap = options.function_wait_cap;
    match options.python.as_deref() {
        Some(p) => inv.with_python(p),
        None => inv,
    }
}

/// Run one case (no watchdog; see [`run_corpus_with`] for that).
pub fn run_case(case: &Case, settings: &RunSettings, engine: &dyn Engine, options: &RunnerOptions) -> CaseResult {
    let started = Instant::now();
    let mut invoker = make_invoker(case, settings, options);
    let (verdict, history) = match engine.run(&case.definition, case.input.clone(), settings, &mut invoker) {
        Err(e) => {
            let h = if case.has_history() {
                HistoryVerdict::Mismatch("definition rejected".into())
            } else {
                HistoryVerdict::NotRecorded
            };
            (Verdict::Fail(format!("definition rejected: {}", truncate(&e, 300))), h)
        }
        Ok(run) => {
            let mut verdict = match check_result(case, &run) {
                Ok(()) => Verdict::Pass,
                Err(e) => Verdict::Fail(e),
            };
            if options.replay && verdict == Verdict::Pass {
                if let Err(e) = replay_check(case, settings, engine, &run, options) {
                    verdict = Verdict::Fail(e);
                }
            }
            (verdict, check_history(case, &run.history))
        }
    };
    CaseResult {
        id: case.id.clone(),
        family: case.family.clone(),
        exact: case.exact_comparable,
        verdict,
        history,
        elapsed: started.elapsed(),
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".into()
    }
}

/// Run one case on its own thread: a panic or a hang fails the case instead of the run.
fn run_case_guarded(
    case: &Case,
    settings: RunSettings,
    engine: Arc<dyn Engine>,
    options: &RunnerOptions,
) -> CaseResult {
    let (tx, rx) = mpsc::channel();
    let c = case.clone();
    let opts = options.clone();
    let started = Instant::now();
    let spawned =
        thread::Builder::new().name("conformance-case".into()).stack_size(64 * 1024 * 1024).spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| run_case(&c, &settings, &*engine, &opts)));
            let _ = tx.send(r.map_err(|p| panic_message(&*p)));
        });
    let failed = |reason: String| CaseResult {
        id: case.id.clone(),
        family: case.family.clone(),
        exact: case.exact_comparable,
        verdict: Verdict::Fail(reason),
        history: if case.has_history() {
            HistoryVerdict::Mismatch("no run".into())
        } else {
            HistoryVerdict::NotRecorded
        },
        elapsed: started.elapsed(),
    };
    if let Err(e) = spawned {
        return failed(format!("could not start a thread: {e}"));
    }
    match rx.recv_timeout(options.case_timeout) {
        Ok(Ok(r)) => r,
        Ok(Err(msg)) => failed(format!("panicked: {}", truncate(&msg, 300))),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            failed(format!("no result after {}s (abandoned)", options.case_timeout.as_secs()))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => failed("worker thread died".into()),
    }
}

enum Selected<'a> {
    Run(&'a Case),
    Skip(String),
}

fn select<'a>(case: &'a Case, filter: &Filter, exact_ids: &HashSet<&str>, engine: &dyn Engine) -> Selected<'a> {
    if !filter.family_ok(&case.family) || !filter.id_ok(&case.id, exact_ids) {
        return Selected::Skip("filtered out".into());
    }
    if let Err(why) = engine.accepts(case) {
        return Selected::Skip(why);
    }
    if case.has_note(NOTE_OUTPUT_MASKED) {
        return Selected::Skip("expected output unusable".into());
    }
    if filter.exact_only && !case.exact_comparable {
        return Selected::Skip("not exactly comparable".into());
    }
    Selected::Run(case)
}

/// Run the cases of an already loaded corpus.
pub fn run_cases(
    corpus: &Corpus,
    filter: &Filter,
    options: &RunnerOptions,
    engine: Arc<dyn Engine>,
    out: &mut dyn Write,
) -> Summary {
    let mut summary = Summary { malformed: corpus.errors.len(), ..Summary::default() };
    for e in &corpus.errors {
        summary.errors.push(format!("malformed line {e}"));
    }
    let exact_ids: HashSet<&str> = corpus.cases.iter().map(|c| c.id.as_str()).collect();
    let start_time = match options.start_time {
        StartTime::Now => Utc::now(),
        StartTime::Fixed(t) => t,
    };
    let mut to_run: Vec<&Case> = Vec::new();
    for case in &corpus.cases {
        match select(case, filter, &exact_ids, &*engine) {
            Selected::Run(c) => to_run.push(c),
            Selected::Skip(reason) => {
                summary.skipped += 1;
                summary.per_family.entry(case.family.clone()).or_default().skipped += 1;
                *summary.skip_reasons.entry(reason).or_insert(0) += 1;
            }
        }
    }

    let results: Mutex<Vec<Option<CaseResult>>> = Mutex::new(vec![None; to_run.len()]);
    let next = AtomicUsize::new(0);
    let threads = options.threads.max(1).min(to_run.len().max(1));
    let (line_tx, line_rx) = mpsc::channel::<String>();
    thread::scope(|s| {
        for _ in 0..threads {
            let line_tx = line_tx.clone();
            let (next, results, to_run, engine) = (&next, &results, &to_run, &engine);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = to_run.get(i) else { break };
                let settings = RunSettings::for_case(case, options, start_time);
                let r = run_case_guarded(case, settings, engine.clone(), options);
                if options.verbose {
                    let mark = match &r.verdict {
                        Verdict::Pass => "PASS",
                        Verdict::Fail(_) => "FAIL",
                    };
                    let _ = line_tx.send(format!("{mark} {} ({} ms)", r.id, r.elapsed.as_millis()));
                }
                if let Ok(mut v) = results.lock() {
                    v[i] = Some(r);
                }
            });
        }
        drop(line_tx);
        for line in line_rx {
            let _ = writeln!(out, "{line}");
        }
    });

    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    for r in results.into_iter().flatten() {
        let fam = summary.per_family.entry(r.family.clone()).or_default();
        match (&r.verdict, r.exact) {
            (Verdict::Pass, true) => {
                summary.passed += 1;
                fam.passed += 1;
            }
            (Verdict::Fail(reason), true) => {
                summary.failed += 1;
                fam.failed += 1;
                summary.failures.push(Failure {
                    id: r.id.clone(),
                    family: r.family.clone(),
                    exact: true,
                    reason: reason.clone(),
                });
            }
            (Verdict::Pass, false) => {
                summary.inexact_passed += 1;
                fam.inexact_passed += 1;
            }
            (Verdict::Fail(reason), false) => {
                summary.inexact_failed += 1;
                fam.inexact_failed += 1;
                summary.failures.push(Failure {
                    id: r.id.clone(),
                    family: r.family.clone(),
                    exact: false,
                    reason: reason.clone(),
                });
            }
        }
        match &r.history {
            HistoryVerdict::NotRecorded => {}
            HistoryVerdict::Match => {
                summary.history_total += 1;
                summary.history_matched += 1;
            }
            HistoryVerdict::LenientMatch => {
                summary.history_total += 1;
                summary.history_matched += 1;
                summary.history_lenient += 1;
            }
            HistoryVerdict::Mismatch(why) => {
                summary.history_total += 1;
                summary.history_mismatches.push((r.id.clone(), why.clone()));
            }
        }
        summary.results.push(r);
    }
    write_report(&summary, out);
    summary
}

/// Write the report: failures, per-family table, history match rate, and the closing line.
pub fn write_report(summary: &Summary, out: &mut dyn Write) {
    let _ = (|| -> std::io::Result<()> {
        for e in &summary.errors {
            writeln!(out, "ERROR {e}")?;
        }
        let exact: Vec<&Failure> = summary.failures.iter().filter(|f| f.exact).collect();
        let inexact: Vec<&Failure> = summary.failures.iter().filter(|f| !f.exact).collect();
        if !exact.is_empty() {
            writeln!(out, "== failures ({})", exact.len())?;
            for f in exact {
                writeln!(out, "FAIL [{}] {}\n     {}", f.family, f.id, f.reason)?;
            }
        }
        if !inexact.is_empty() {
            writeln!(out, "== inexact cases that differ after transformers ({}; not in the headline)", inexact.len())?;
            for f in inexact {
                writeln!(out, "DIFF [{}] {}\n     {}", f.family, f.id, f.reason)?;
            }
        }
        if !summary.history_mismatches.is_empty() {
            writeln!(out, "== history mismatches ({})", summary.history_mismatches.len())?;
            for (id, why) in &summary.history_mismatches {
                writeln!(out, "HIST {id}\n     {why}")?;
            }
        }
        writeln!(out, "== by family")?;
        writeln!(out, "{:<24} {:>6} {:>6} {:>7} {:>13}", "family", "pass", "fail", "skip", "inexact ok/no")?;
        for (fam, c) in &summary.per_family {
            writeln!(
                out,
                "{:<24} {:>6} {:>6} {:>7} {:>13}",
                fam,
                c.passed,
                c.failed,
                c.skipped,
                format!("{}/{}", c.inexact_passed, c.inexact_failed)
            )?;
        }
        if !summary.skip_reasons.is_empty() {
            let reasons: Vec<String> = summary.skip_reasons.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
            writeln!(out, "skip reasons: {}", reasons.join("; "))?;
        }
        let pct = |a: usize, b: usize| {
            if b == 0 {
                0.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        writeln!(
            out,
            "histories: {}/{} equal field for field ({:.1}%), {} more whose recording the recorder normalised (every recorded event found)",
            summary.history_matched - summary.history_lenient,
            summary.history_total,
            pct(summary.history_matched - summary.history_lenient, summary.history_total),
            summary.history_lenient
        )?;
        writeln!(
            out,
            "inexact cases (placeholders; not in the headline): {} matched, {} differ",
            summary.inexact_passed, summary.inexact_failed
        )?;
        if summary.malformed > 0 {
            writeln!(out, "malformed corpus lines: {}", summary.malformed)?;
        }
        writeln!(out, "{}", summary.headline())
    })();
}

/// Run the corpus at `path` (a directory holding `cases.jsonl`, or that file) with `engine`.
pub fn run_corpus_with(
    path: &Path,
    filter: &Filter,
    options: &RunnerOptions,
    engine: Arc<dyn Engine>,
    out: &mut dyn Write,
) -> Summary {
    match load_corpus(path) {
        Ok(corpus) => run_cases(&corpus, filter, options, engine, out),
        Err(e) => {
            let summary = Summary { errors: vec![format!("cannot load the corpus: {e}")], ..Summary::default() };
            write_report(&summary, out);
            summary
        }
    }
}

/// Run the corpus at `path` sequentially against the interpreter, writing the report to `out`.
pub fn run_corpus(path: &Path, filter: &Filter, out: &mut dyn Write) -> Summary {
    run_corpus_with(path, filter, &RunnerOptions::default(), Arc::new(LocalEngine), out)
}

/// Like [`run_corpus`] with `threads` worker threads (Python handler processes dominate, so 2
/// threads on 2 cores roughly halve the time).
pub fn run_corpus_parallel(path: &Path, filter: &Filter, threads: usize, out: &mut dyn Write) -> Summary {
    let options = RunnerOptions { threads, ..RunnerOptions::default() };
    run_corpus_with(path, filter, &options, Arc::new(LocalEngine), out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::parse_cases;
    use serde_json::json;
    use std::collections::HashMap;

    fn case(v: Value) -> Case {
        Case::from_json(v, 1).unwrap()
    }

    fn base(id: &str, expected: Value) -> Value {
        json!({
            "id": id, "family": "pass/io",
            "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "input": {}, "expected": expected, "self_contained": true, "exact_comparable": true,
            "expected_source": "history",
            "context": {"account": "111111111111", "region": "us-east-1", "state_machine_type": "STANDARD",
                        "state_machine_name": "sm_0001", "execution_name": "exec_0002", "start_api": "start_execution"},
            "snapshot_transformers": [
                {"kind": "regex", "regex": "sm_0001", "replacement": "<ArnPart_0idx>"},
                {"kind": "regex", "regex": "exec_0002", "replacement": "<ExecArnPart_0idx>"}
            ]
        })
    }

    fn run(status: &str, output: Option<Value>, error: Option<&str>, cause: Option<&str>) -> EngineRun {
        EngineRun {
            status: status.into(),
            output,
            error: error.map(str::to_string),
            cause: cause.map(str::to_string),
            history: Vec::new(),
        }
    }

    #[test]
    fn output_compared_after_transformers_with_numbers_by_value() {
        let c = case(base(
            "a",
            json!({"status": "SUCCEEDED", "output": {"Id": "arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>", "n": 1}}),
        ));
        let ok = run(
            "SUCCEEDED",
            Some(json!({"Id": "arn:aws:states:us-east-1:111111111111:execution:sm_0001:exec_0002", "n": 1.0})),
            None,
            None,
        );
        assert_eq!(check_result(&c, &ok), Ok(()));
        let bad = run(
            "SUCCEEDED",
            Some(json!({"Id": "arn:aws:states:us-east-1:111111111111:execution:sm_0001:other", "n": 1})),
            None,
            None,
        );
        let err = check_result(&c, &bad).unwrap_err();
        assert!(err.starts_with("output at $.Id: expected"), "{err}");
        let failed = run("FAILED", None, Some("States.Runtime"), Some("boom"));
        let err = check_result(&c, &failed).unwrap_err();
        assert!(err.starts_with("status: expected SUCCEEDED, got FAILED"), "{err}");
        assert!(err.contains("boom"), "{err}");
    }

    #[test]
    fn error_and_cause() {
        let c = case(base("a", json!({"status": "FAILED", "error": "E", "cause": "C <ArnPart_0idx>"})));
        assert_eq!(check_result(&c, &run("FAILED", None, Some("E"), Some("C sm_0001"))), Ok(()));
        assert!(check_result(&c, &run("FAILED", None, Some("E2"), Some("C sm_0001")))
            .unwrap_err()
            .starts_with("error at $"));
        assert!(check_result(&c, &run("FAILED", None, Some("E"), Some("C"))).unwrap_err().starts_with("cause at $"));
        assert!(check_result(&c, &run("FAILED", None, Some("E"), None)).unwrap_err().starts_with("cause: expected"));

        // Absent in a recorded history: AWS reported none.
        let c = case(base("b", json!({"status": "FAILED", "error": "States.Timeout"})));
        assert_eq!(check_result(&c, &run("FAILED", None, Some("States.Timeout"), None)), Ok(()));
        assert_eq!(check_result(&c, &run("FAILED", None, Some("States.Timeout"), Some(""))), Ok(()));
        assert!(check_result(&c, &run("FAILED", None, Some("States.Timeout"), Some("x")))
            .unwrap_err()
            .starts_with("cause: expected none"));
        let c = case(base("c", json!({"status": "FAILED"})));
        assert!(check_result(&c, &run("FAILED", None, Some("X"), None))
            .unwrap_err()
            .starts_with("error: expected none"));
        // ... but not for other sources, which may simply not have recorded it.
        let mut v = base("d", json!({"status": "TIMED_OUT"}));
        v["expected_source"] = json!("describe_execution");
        assert_eq!(check_result(&case(v), &run("TIMED_OUT", None, Some("States.Timeout"), Some("x"))), Ok(()));
    }

    #[test]
    fn cause_compared_as_json() {
        let mut v = base(
            "a",
            json!({"status": "FAILED", "error": "Exception", "cause_is_json": true,
            "cause": {"errorMessage": "m", "errorType": "Exception", "requestId": "<uuid:1>", "stackTrace": []}}),
        );
        v["exact_comparable"] = json!(false);
        v["notes"] = json!(["cause_json_parsed_by_snapshot: compare json.loads(actual_cause)"]);
        let c = case(v);
        let cause = r#"{"errorType": "Exception", "errorMessage": "m", "requestId": "0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b", "stackTrace": []}"#;
        assert_eq!(check_result(&c, &run("FAILED", None, Some("Exception"), Some(cause))), Ok(()));
        let err = check_result(&c, &run("FAILED", None, Some("Exception"), Some("not json"))).unwrap_err();
        assert!(err.starts_with("cause: expected JSON"), "{err}");
    }

    #[test]
    fn inexact_placeholders_and_inferred_keys() {
        let mut v = base(
            "a",
            json!({"status": "SUCCEEDED", "output": {
                "H": {"x-amzn-RequestId": "x-amzn-RequestId", "Date": "date", "Content-Length": "2"},
                "msg": "found in the input '<json-input:1>'"
            }}),
        );
        v["exact_comparable"] = json!(false);
        v["placeholders"] = json!(["<json-input:1>", "date", "x-amzn-RequestId"]);
        let c = case(v);
        assert_eq!(inferred_key_transformers(&c).len(), 2);
        let ours = json!({
            "H": {"x-amzn-RequestId": "abc", "Date": "Sat, 21 Nov 2026 17:00:04 GMT", "Content-Length": "2"},
            "msg": "found in the input '{\"a\":1}'"
        });
        assert_eq!(check_result(&c, &run("SUCCEEDED", Some(ours.clone()), None, None)), Ok(()));
        let mut wrong = ours;
        wrong["H"]["Content-Length"] = json!("3");
        assert!(check_result(&c, &run("SUCCEEDED", Some(wrong), None, None)).is_err());
    }

    #[test]
    fn history_verdicts() {
        let mut v = base("a", json!({"status": "SUCCEEDED", "output": {}}));
        v["history_types"] = json!(["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]);
        let c = case(v);
        let h: Vec<Value> = ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
            .iter()
            .map(|t| json!({"type": t}))
            .collect();
        assert_eq!(check_history(&c, &h), HistoryVerdict::Match);
        assert!(matches!(check_history(&c, &h[..3]), HistoryVerdict::Mismatch(_)));
        let c = case(base("b", json!({"status": "SUCCEEDED", "output": {}})));
        assert_eq!(check_history(&c, &h), HistoryVerdict::NotRecorded);
    }

    /// Returns canned results by case id, or misbehaves on request.
    struct FakeEngine {
        results: HashMap<String, Result<EngineRun, String>>,
    }

    impl Engine for FakeEngine {
        fn run(&self, _d: &Value, _i: Value, s: &RunSettings, functions: &mut dyn Invoke) -> Result<EngineRun, String> {
            match s.case_id.as_str() {
                "panics" => panic!("boom"),
                "hangs" => {
                    thread::sleep(Duration::from_secs(5));
                    Err("late".into())
                }
                "lambda" => match functions.invoke("fn1", &json!({"x": 1}), None) {
                    crate::invoker::Invocation::Ok(v) => Ok(run("SUCCEEDED", Some(v), None, None)),
                    other => Err(format!("{other:?}")),
                },
                id => self.results.get(id).cloned().unwrap_or_else(|| Err("unknown".into())),
            }
        }
    }

    fn corpus_of(lines: Vec<Value>) -> Corpus {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect::<String>() + "{broken\n";
        let (cases, errors) = parse_cases(text.as_bytes(), Path::new("cases.jsonl"));
        Corpus { cases, histories: BTreeMap::new(), errors }
    }

    #[test]
    fn corpus_run_counts_and_report() {
        let ok = json!({"status": "SUCCEEDED", "output": {"a": 1}});
        let mut lines = vec![base("pass", ok.clone()), base("fail", ok.clone()), base("rejected", ok.clone())];
        let mut v = base("panics", ok.clone());
        v["family"] = json!("map");
        lines.push(v);
        lines.push(base("hangs", ok.clone()));
        let mut v = base("needs-s3", ok.clone());
        v["self_contained"] = json!(false);
        lines.push(v);
        let mut v = base("inexact", json!({"status": "SUCCEEDED", "output": {"a": "<uuid:1>"}}));
        v["exact_comparable"] = json!(false);
        lines.push(v);
        let mut v = base("lambda", json!({"status": "SUCCEEDED", "output": {"x": 1}}));
        v["lambda_functions"] = json!({"arn:aws:lambda:us-east-1:111111111111:function:fn1": {
            "function_name": "fn1", "handler_file": "id_function.py", "code": "def handler(event, context):\n    return event\n"}});
        lines.push(v);
        let corpus = corpus_of(lines);

        let mut results = HashMap::new();
        results.insert("pass".to_string(), Ok(run("SUCCEEDED", Some(json!({"a": 1.0})), None, None)));
        results.insert("fail".to_string(), Ok(run("SUCCEEDED", Some(json!({"a": 2})), None, None)));
        results.insert("rejected".to_string(), Err("bad definition".to_string()));
        results.insert(
            "inexact".to_string(),
            Ok(run("SUCCEEDED", Some(json!({"a": "0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b"})), None, None)),
        );
        let engine: Arc<dyn Engine> = Arc::new(FakeEngine { results });
        let options = RunnerOptions { threads: 2, case_timeout: Duration::from_secs(2), ..RunnerOptions::default() };
        let mut out = Vec::new();
        let s = run_cases(&corpus, &Filter::default(), &options, engine.clone(), &mut out);
        let report = String::from_utf8(out).unwrap();
        assert_eq!((s.passed, s.failed, s.skipped), (2, 4, 1), "{report}");
        assert_eq!((s.inexact_passed, s.inexact_failed), (1, 0), "{report}");
        assert_eq!(s.malformed, 1);
        assert!(!s.is_success());
        assert_eq!(s.per_family["map"].failed, 1);
        assert_eq!(s.per_family["pass/io"].skipped, 1);
        assert_eq!(report.lines().last().unwrap(), "2 passed, 4 failed, 1 skipped");
        assert!(report.contains("FAIL [pass/io] fail\n     output at $.a: expected 1, got 2"), "{report}");
        assert!(report.contains("definition rejected: bad definition"), "{report}");
        assert!(report.contains("panicked: boom"), "{report}");
        assert!(report.contains("no result after 2s"), "{report}");
        assert!(report.contains("malformed line cases.jsonl:9"), "{report}");
        let ids: Vec<&str> = s.results.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["pass", "fail", "rejected", "panics", "hangs", "inexact", "lambda"], "corpus order kept");

        // Filters: family (substring), id (exact beats substring), exact-only.
        let f = Filter { families: vec!["map".into()], ..Filter::default() };
        let s = run_cases(&corpus, &f, &options, engine.clone(), &mut Vec::new());
        assert_eq!((s.passed, s.failed, s.skipped), (0, 1, 7));
        let f = Filter { ids: vec!["pass".into()], ..Filter::default() };
        let s = run_cases(&corpus, &f, &options, engine.clone(), &mut Vec::new());
        assert_eq!((s.passed, s.failed, s.skipped), (1, 0, 7));
        let f = Filter { ids: vec!["ex".into()], exact_only: true, ..Filter::default() };
        let s = run_cases(&corpus, &f, &options, engine.clone(), &mut Vec::new());
        assert_eq!((s.passed, s.failed, s.skipped, s.inexact_passed), (0, 0, 8, 0));
    }

    #[test]
    fn missing_corpus_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        let s = run_corpus(Path::new("/nonexistent/stepwise/corpus"), &Filter::default(), &mut out);
        assert!(!s.is_success());
        assert_eq!(s.errors.len(), 1);
        let report = String::from_utf8(out).unwrap();
        assert!(report.starts_with("ERROR cannot load the corpus"), "{report}");
        assert_eq!(report.lines().last().unwrap(), "0 passed, 0 failed, 0 skipped");
    }
}
