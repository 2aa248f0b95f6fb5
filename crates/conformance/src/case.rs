//! The case model of the AWS-recorded corpus (`cases.jsonl`, `histories.jsonl`) and its loading.
//!
//! Every line is parsed on its own: a malformed line becomes a [`LoadError`] and never a panic.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::transform::Transformer;

/// Note flagging that AWS's `cause` was parsed as JSON by the snapshot before it was stored.
pub const NOTE_CAUSE_JSON: &str = "cause_json_parsed_by_snapshot";
/// Note flagging that the recorded history was sorted inside Parallel blocks (and is lossy).
pub const NOTE_HISTORY_NORMALISED: &str = "history_order_normalised";
/// Note flagging that the recorded output was replaced wholesale by a snapshot transformer.
pub const NOTE_OUTPUT_MASKED: &str = "output_masked_by_snapshot_transformer";

/// One embedded Lambda function of a case (`lambda_functions` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFunction {
    /// The function's ARN (the key in `lambda_functions`).
    pub arn: String,
    /// The bare function name.
    pub function_name: String,
    /// Where the code came from in the LocalStack test tree (informational).
    pub handler_file: String,
    /// The Python source; the entry point is the module-level function `handler(event, context)`.
    pub code: String,
}

/// The recording context (`context`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseContext {
    /// AWS account id.
    pub account: String,
    /// AWS region.
    pub region: String,
    /// `STANDARD` or `EXPRESS`.
    pub state_machine_type: String,
    /// State machine name used at recording.
    pub state_machine_name: String,
    /// Execution name used at recording.
    pub execution_name: String,
    /// `start_execution` or `start_sync_execution`.
    pub start_api: String,
}

impl Default for CaseContext {
    fn default() -> Self {
        CaseContext {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            state_machine_type: "STANDARD".into(),
            state_machine_name: "state_machine".into(),
            execution_name: "execution".into(),
            start_api: "start_execution".into(),
        }
    }
}

/// The recorded result (`expected`). Fields absent from the recording are `None`
/// (an `output` of JSON `null` is `Some(Value::Null)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// SUCCEEDED | FAILED | TIMED_OUT | ABORTED.
    pub status: String,
    /// The execution output, when recorded.
    pub output: Option<Value>,
    /// The error, when recorded.
    pub error: Option<String>,
    /// The cause, when recorded: a string, or (with `cause_is_json`) the parsed JSON.
    pub cause: Option<Value>,
    /// The recording stored `cause` parsed as JSON.
    pub cause_is_json: bool,
}

/// One execution case.
#[derive(Debug, Clone)]
pub struct Case {
    /// Stable id.
    pub id: String,
    /// Feature family (choice, map, ...).
    pub family: String,
    /// 1-based line number in `cases.jsonl`.
    pub line: usize,
    /// The state machine definition.
    pub definition: Value,
    /// The execution input.
    pub input: Value,
    /// The recorded result.
    pub expected: Expected,
    /// Where the expectation was taken from (`history`, `cases_list`, `describe_execution`, ...).
    pub expected_source: String,
    /// Recorded sequence of history event types, when known.
    pub history_types: Option<Vec<String>>,
    /// The whole recorded history (`histories.jsonl`), when the corpus has it.
    pub history: Option<Vec<Value>>,
    /// Services needed besides the interpreter.
    pub needs: Vec<String>,
    /// Runs without any AWS service.
    pub self_contained: bool,
    /// Embedded Lambda functions, keyed by ARN.
    pub lambda_functions: BTreeMap<String, LambdaFunction>,
    /// False when the expected value holds a placeholder.
    pub exact_comparable: bool,
    /// Placeholders present in the expected value.
    pub placeholders: Vec<String>,
    /// Placeholders present in the input.
    pub input_placeholders: Vec<String>,
    /// Transformers the recording applied.
    pub snapshot_transformers: Vec<Transformer>,
    /// Recording context.
    pub context: CaseContext,
    /// Known quirks.
    pub notes: Vec<String>,
    /// The raw JSON object, for anything not modelled above.
    pub raw: Value,
}

impl Case {
    /// Whether some note starts with `prefix` (notes look like `name: explanation`).
    pub fn has_note(&self, prefix: &str) -> bool {
        self.notes.iter().any(|n| n.starts_with(prefix))
    }

    /// Whether some history was recorded (types or whole events).
    pub fn has_history(&self) -> bool {
        self.history_types.is_some() || self.history.is_some()
    }

    /// Whether the cause must be compared as parsed JSON.
    pub fn cause_is_json(&self) -> bool {
        self.expected.cause_is_json || self.has_note(NOTE_CAUSE_JSON)
    }

    /// Whether the case is an express state machine.
    pub fn is_express(&self) -> bool {
        self.context.state_machine_type.eq_ignore_ascii_case("EXPRESS")
    }

    /// Parse one case from its JSON object. `line` is 1-based.
    pub fn from_json(v: Value, line: usize) -> Result<Case, String> {
        let obj = v.as_object().ok_or("not a JSON object")?;
        let id = req_str(obj, "id")?;
        let family = opt_str(obj, "family").unwrap_or_else(|| "unknown".into());
        let definition = obj.get("definition").cloned().ok_or("missing `definition`")?;
        let input = obj.get("input").cloned().unwrap_or(Value::Null);
        let expected =
            parse_expected(obj.get("expected").ok_or("missing `expected`")?).map_err(|e| format!("`expected`: {e}"))?;
        let history_types = match obj.get("history_types") {
            None | Some(Value::Null) => None,
            Some(v) => Some(str_list(v).map_err(|e| format!("`history_types`: {e}"))?),
        };
        let needs = opt_list(obj, "needs")?;
        let self_contained = obj.get("self_contained").and_then(Value::as_bool).unwrap_or(false);
        let exact_comparable = obj.get("exact_comparable").and_then(Value::as_bool).unwrap_or(false);
        let placeholders = opt_list(obj, "placeholders")?;
        let input_placeholders = opt_list(obj, "input_placeholders")?;
        let notes = opt_list(obj, "notes")?;
        let mut lambda_functions = BTreeMap::new();
        match obj.get("lambda_functions") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (arn, f) in m {
                    let fo = f.as_object().ok_or_else(|| format!("lambda_functions[{arn}] is not an object"))?;
                    let code = req_str(fo, "code").map_err(|e| format!("lambda_functions[{arn}]: {e}"))?;
                    let function_name = opt_str(fo, "function_name")
                        .unwrap_or_else(|| arn.rsplit(':').next().unwrap_or(arn).to_string());
                    let handler_file = opt_str(fo, "handler_file").unwrap_or_default();
                    lambda_functions
                        .insert(arn.clone(), LambdaFunction { arn: arn.clone(), function_name, handler_file, code });
                }
            }
            Some(_) => return Err("`lambda_functions` is not an object".into()),
        }
        let mut snapshot_transformers = Vec::new();
        match obj.get("snapshot_transformers") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for (i, t) in a.iter().enumerate() {
                    snapshot_transformers
                        .push(Transformer::from_json(t).map_err(|e| format!("snapshot_transformers[{i}]: {e}"))?);
                }
            }
            Some(_) => return Err("`snapshot_transformers` is not an array".into()),
        }
        let mut context = CaseContext::default();
        if let Some(c) = obj.get("context").and_then(Value::as_object) {
            let set = |field: &mut String, key: &str| {
                if let Some(s) = c.get(key).and_then(Value::as_str) {
                    *field = s.to_string();
                }
            };
            set(&mut context.account, "account");
            set(&mut context.region, "region");
            set(&mut context.state_machine_type, "state_machine_type");
            set(&mut context.state_machine_name, "state_machine_name");
            set(&mut context.execution_name, "execution_name");
            set(&mut context.start_api, "start_api");
        }
        Ok(Case {
            id,
            family,
            line,
            definition,
            input,
            expected,
            expected_source: opt_str(obj, "expected_source").unwrap_or_default(),
            history_types,
            history: None,
            needs,
            self_contained,
            lambda_functions,
            exact_comparable,
            placeholders,
            input_placeholders,
            snapshot_transformers,
            context,
            notes,
            raw: v,
        })
    }
}

fn parse_expected(v: &Value) -> Result<Expected, String> {
    let o = v.as_object().ok_or("not an object")?;
    let status = req_str(o, "status")?;
    let error = match o.get("error") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) => None,
        Some(other) => Some(other.to_string()),
    };
    let cause = match o.get("cause") {
        None | Some(Value::Null) => None,
        Some(c) => Some(c.clone()),
    };
    Ok(Expected {
        status,
        output: o.get("output").cloned(),
        error,
        cause,
        cause_is_json: o.get("cause_is_json").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn req_str(o: &Map<String, Value>, k: &str) -> Result<String, String> {
    match o.get(k) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("`{k}` is not a string")),
        None => Err(format!("missing `{k}`")),
    }
}

fn opt_str(o: &Map<String, Value>, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_string)
}

fn str_list(v: &Value) -> Result<Vec<String>, String> {
    let a = v.as_array().ok_or("not an array")?;
    a.iter().map(|x| x.as_str().map(str::to_string).ok_or_else(|| "non-string element".to_string())).collect()
}

fn opt_list(o: &Map<String, Value>, k: &str) -> Result<Vec<String>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => str_list(v).map_err(|e| format!("`{k}`: {e}")),
    }
}

/// A line of a corpus file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// The case id, when it could be read.
    pub id: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        write!(f, "{name}:{}", self.line)?;
        if let Some(id) = &self.id {
            write!(f, " ({id})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The loaded corpus.
#[derive(Debug, Default)]
pub struct Corpus {
    /// The cases, in file order.
    pub cases: Vec<Case>,
    /// Full recorded histories by case id (from `histories.jsonl`, when present).
    pub histories: BTreeMap<String, Vec<Value>>,
    /// Malformed lines.
    pub errors: Vec<LoadError>,
}

/// Where the corpus is expected relative to this crate: `<repo>/../shared/conformance`.
pub fn default_corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
}

/// Resolve `path` (a corpus directory, or a `cases.jsonl` file) to (cases file, directory).
pub fn resolve_corpus_path(path: &Path) -> (PathBuf, PathBuf) {
    if path.is_dir() {
        (path.join("cases.jsonl"), path.to_path_buf())
    } else {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        (path.to_path_buf(), dir)
    }
}

/// Parse cases from a reader of JSON lines. Blank lines are ignored.
pub fn parse_cases<R: BufRead>(reader: R, file: &Path) -> (Vec<Case>, Vec<LoadError>) {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let lineno = i + 1;
        let bytes = match line {
            Ok(b) => b,
            Err(e) => {
                errors.push(LoadError {
                    file: file.into(),
                    line: lineno,
                    id: None,
                    message: format!("read error: {e}"),
                });
                break;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                errors.push(LoadError {
                    file: file.into(),
                    line: lineno,
                    id: None,
                    message: format!("invalid JSON: {e}"),
                });
                continue;
            }
        };
        let id = v.get("id").and_then(Value::as_str).map(str::to_string);
        match Case::from_json(v, lineno) {
            Ok(c) => cases.push(c),
            Err(message) => errors.push(LoadError { file: file.into(), line: lineno, id, message }),
        }
    }
    (cases, errors)
}

/// Parse `histories.jsonl` lines (`{"id", "events"}`).
pub fn parse_histories<R: BufRead>(reader: R, file: &Path) -> (BTreeMap<String, Vec<Value>>, Vec<LoadError>) {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let lineno = i + 1;
        let bytes = match line {
            Ok(b) => b,
            Err(e) => {
                errors.push(LoadError {
                    file: file.into(),
                    line: lineno,
                    id: None,
                    message: format!("read error: {e}"),
                });
                break;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                errors.push(LoadError {
                    file: file.into(),
                    line: lineno,
                    id: None,
                    message: format!("invalid JSON: {e}"),
                });
                continue;
            }
        };
        let id = v.get("id").and_then(Value::as_str).map(str::to_string);
        match (id, v.get("events").and_then(Value::as_array)) {
            (Some(id), Some(ev)) => {
                out.insert(id, ev.clone());
            }
            (id, _) => errors.push(LoadError {
                file: file.into(),
                line: lineno,
                id,
                message: "expected {\"id\": string, \"events\": array}".into(),
            }),
        }
    }
    (out, errors)
}

/// Load the corpus at `path` (a directory holding `cases.jsonl`, or the `cases.jsonl` file
/// itself). `histories.jsonl` beside it is optional. Fails only when the cases file can't be read.
pub fn load_corpus(path: &Path) -> io::Result<Corpus> {
    let (cases_file, dir) = resolve_corpus_path(path);
    let f =
        fs::File::open(&cases_file).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", cases_file.display())))?;
    let (mut cases, mut errors) = parse_cases(BufReader::new(f), &cases_file);
    let hist_file = dir.join("histories.jsonl");
    let histories = match fs::File::open(&hist_file) {
        Ok(f) => {
            let (h, e) = parse_histories(BufReader::new(f), &hist_file);
            errors.extend(e);
            h
        }
        Err(_) => BTreeMap::new(),
    };
    for c in &mut cases {
        c.history = histories.get(&c.id).cloned();
    }
    Ok(Corpus { cases, histories, errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_case_and_reports_malformed_lines() {
        let data = concat!(
            r#"{"id":"a","family":"pass/io","definition":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"input":{},"expected":{"status":"SUCCEEDED","output":null},"self_contained":true,"exact_comparable":true,"lambda_functions":null,"snapshot_transformers":[{"kind":"regex","regex":"x","replacement":"y"}],"context":{"account":"1","region":"r","state_machine_type":"EXPRESS","state_machine_name":"sm","execution_name":"ex","start_api":"s"},"notes":["cause_json_parsed_by_snapshot: compare"]}"#,
            "\n",
            "{not json\n",
            "\n",
            r#"{"id":"b","definition":{}}"#,
            "\n",
            "[1,2]\n",
        );
        let (cases, errors) = parse_cases(data.as_bytes(), Path::new("cases.jsonl"));
        assert_eq!(cases.len(), 1);
        let c = &cases[0];
        assert_eq!(c.id, "a");
        assert_eq!(c.expected.output, Some(Value::Null));
        assert!(c.is_express());
        assert!(c.cause_is_json());
        assert_eq!(c.context.state_machine_name, "sm");
        assert_eq!(c.snapshot_transformers.len(), 1);
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0].line, 2);
        assert_eq!(errors[1].id.as_deref(), Some("b"));
        assert!(errors[1].message.contains("expected"));
        assert_eq!(errors[2].line, 5);
    }

    #[test]
    fn absent_output_differs_from_null_output() {
        let e = parse_expected(&serde_json::json!({"status":"FAILED","error":"E"})).unwrap();
        assert_eq!(e.output, None);
        assert_eq!(e.error.as_deref(), Some("E"));
        assert_eq!(e.cause, None);
    }

    #[test]
    fn histories_parse() {
        let data = "{\"id\":\"a\",\"events\":[{\"type\":\"ExecutionStarted\"}]}\n{\"id\":1}\n";
        let (h, e) = parse_histories(data.as_bytes(), Path::new("histories.jsonl"));
        assert_eq!(h["a"].len(), 1);
        assert_eq!(e.len(), 1);
    }
}
