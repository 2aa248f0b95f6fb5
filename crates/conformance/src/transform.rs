//! The snapshot transformers the recording applied (LocalStack's snapshot library), re-applied
//! to our own result so it lines up with the recorded expectation.
//!
//! LocalStack applies structural transformers (JSONPath, key/value) to the data in order, while
//! regex and "reference" transformers are registered as text replacements that run afterwards,
//! in registration order, over the serialised snapshot. We do the same, applying the text
//! replacements to every string (and object key) of the result instead of to serialised text.
//! After the case's transformers come the defaults named in the corpus README: account →
//! `111111111111`, region → `<region>`, `arn:aws:` → `arn:<partition>:`, ISO timestamps →
//! `date`, and UUIDs → `<uuid>` (the recording numbers them `<uuid:N>`; see
//! [`normalise_placeholders`]).

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::{NoExpand, Regex};
use serde_json::{Map, Value};

use crate::compare::json_equal;

/// One snapshot transformer of a case.
#[derive(Debug, Clone)]
pub enum Transformer {
    /// Replace every match of `regex` (Python syntax) in the snapshot text by `replacement`.
    Regex {
        /// The pattern as written in the corpus.
        pattern: String,
        /// The compiled pattern (a literal match when the pattern is not valid Rust regex).
        regex: Regex,
        /// Literal replacement.
        replacement: String,
    },
    /// Replace the values a JSONPath selects.
    JsonPath {
        /// The path as written in the corpus, e.g. `$..StartTime`.
        path: String,
        /// Parsed path.
        segments: Vec<Segment>,
        /// Replacement (direct) or reference name (with `replace_reference`).
        replacement: String,
        /// Reference mode: every occurrence of each selected value becomes `<replacement:N>`.
        replace_reference: bool,
    },
    /// Replace the value of every object key named `key`.
    KeyValue {
        /// The key.
        key: String,
        /// Replacement (direct) or reference name (with `replace_reference`).
        replacement: String,
        /// Reference mode: every occurrence of each value becomes `<replacement:N>`.
        replace_reference: bool,
    },
}

impl Transformer {
    /// Parse a `snapshot_transformers` element.
    pub fn from_json(v: &Value) -> Result<Transformer, String> {
        let o = v.as_object().ok_or("not an object")?;
        let s = |k: &str| -> Result<String, String> {
            o.get(k).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("missing string `{k}`"))
        };
        let replace_reference = o.get("replace_reference").and_then(Value::as_bool).unwrap_or(false);
        match o.get("kind").and_then(Value::as_str) {
            Some("regex") => {
                let pattern = s("regex")?;
                let regex = compile_python_regex(&pattern)?;
                Ok(Transformer::Regex { pattern, regex, replacement: s("replacement")? })
            }
            Some("jsonpath") => {
                let path = s("jsonpath")?;
                let segments = parse_path(&path)?;
                Ok(Transformer::JsonPath { path, segments, replacement: s("replacement")?, replace_reference })
            }
            Some("key_value") => {
                Ok(Transformer::KeyValue { key: s("key")?, replacement: s("replacement")?, replace_reference })
            }
            Some(k) => Err(format!("unknown transformer kind `{k}`")),
            None => Err("missing `kind`".into()),
        }
    }

    /// A regex transformer (for tests and callers building cases by hand).
    pub fn regex(pattern: &str, replacement: &str) -> Result<Transformer, String> {
        Ok(Transformer::Regex {
            pattern: pattern.into(),
            regex: compile_python_regex(pattern)?,
            replacement: replacement.into(),
        })
    }

    /// A JSONPath transformer.
    pub fn jsonpath(path: &str, replacement: &str, replace_reference: bool) -> Result<Transformer, String> {
        Ok(Transformer::JsonPath {
            path: path.into(),
            segments: parse_path(path)?,
            replacement: replacement.into(),
            replace_reference,
        })
    }

    /// A key/value transformer.
    pub fn key_value(key: &str, replacement: &str, replace_reference: bool) -> Transformer {
        Transformer::KeyValue { key: key.into(), replacement: replacement.into(), replace_reference }
    }
}

/// Compile a pattern written for Python's `re`. Python accepts a few things Rust's `regex`
/// rejects (e.g. a bare `{}`); such a pattern is matched literally, which is what Python does
/// with those characters.
fn compile_python_regex(pattern: &str) -> Result<Regex, String> {
    match Regex::new(pattern) {
        Ok(r) => Ok(r),
        Err(_) => Regex::new(&regex::escape(pattern)).map_err(|e| format!("bad regex `{pattern}`: {e}")),
    }
}

/// One step of a JSONPath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.name` / `['name']`
    Child(String),
    /// `..name`: the key at any depth.
    Descendant(String),
    /// `.*` / `[*]`
    Wildcard,
    /// `[n]`
    Index(usize),
}

/// Parse the JSONPath subset the corpus uses (`$`, `.name`, `..name`, `.*`, `[*]`, `[n]`, `['name']`).
pub fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let err = |m: &str| format!("unsupported JSONPath `{path}`: {m}");
    let b = path.as_bytes();
    if b.first() != Some(&b'$') {
        return Err(err("must start with `$`"));
    }
    let mut i = 1;
    let mut out = Vec::new();
    let name_end = |mut j: usize| {
        while j < b.len() && b[j] != b'.' && b[j] != b'[' {
            j += 1;
        }
        j
    };
    while i < b.len() {
        if b[i..].starts_with(b"..") {
            let j = name_end(i + 2);
            let name = &path[i + 2..j];
            if name.is_empty() || name == "*" {
                return Err(err("`..` must be followed by a name"));
            }
            out.push(Segment::Descendant(name.to_string()));
            i = j;
        } else if b[i] == b'.' {
            let j = name_end(i + 1);
            let name = &path[i + 1..j];
            match name {
                "" => return Err(err("empty name")),
                "*" => out.push(Segment::Wildcard),
                _ => out.push(Segment::Child(name.to_string())),
            }
            i = j;
        } else if b[i] == b'[' {
            let close = path[i..].find(']').map(|k| i + k).ok_or_else(|| err("unclosed `[`"))?;
            let inner = path[i + 1..close].trim();
            if inner == "*" {
                out.push(Segment::Wildcard);
            } else if let Ok(n) = inner.parse::<usize>() {
                out.push(Segment::Index(n));
            } else if inner.len() >= 2
                && ((inner.starts_with('\'') && inner.ends_with('\''))
                    || (inner.starts_with('"') && inner.ends_with('"')))
            {
                out.push(Segment::Child(inner[1..inner.len() - 1].to_string()));
            } else {
                return Err(err("unsupported bracket expression"));
            }
            i = close + 1;
        } else {
            return Err(err("unexpected character"));
        }
    }
    Ok(out)
}

/// Call `f` on every value `segs` selects under `v`.
pub fn visit_path(v: &mut Value, segs: &[Segment], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = segs.split_first() else {
        f(v);
        return;
    };
    match first {
        Segment::Child(name) => {
            if let Value::Object(m) = v {
                if let Some(c) = m.get_mut(name) {
                    visit_path(c, rest, f);
                }
            }
        }
        Segment::Index(n) => {
            if let Value::Array(a) = v {
                if let Some(c) = a.get_mut(*n) {
                    visit_path(c, rest, f);
                }
            }
        }
        Segment::Wildcard => match v {
            Value::Object(m) => m.values_mut().for_each(|c| visit_path(c, rest, f)),
            Value::Array(a) => a.iter_mut().for_each(|c| visit_path(c, rest, f)),
            _ => {}
        },
        Segment::Descendant(name) => {
            if let Value::Object(m) = v {
                if let Some(c) = m.get_mut(name) {
                    visit_path(c, rest, f);
                }
            }
            match v {
                Value::Object(m) => m.values_mut().for_each(|c| visit_path(c, segs, f)),
                Value::Array(a) => a.iter_mut().for_each(|c| visit_path(c, segs, f)),
                _ => {}
            }
        }
    }
}

/// Where in the recording a JSONPath points, seen from the execution result.
///
/// Structural transformers run over a document `{"output": …, "error": …, "cause": …}` built from
/// our result, the shape of AWS's execution-level event details. Recorded paths address the
/// snapshot LocalStack took (often the whole history, e.g.
/// `$..events..executionSucceededEventDetails.output.FunctionResult`): a path through an
/// execution-level `execution…EventDetails` continues at the document root (`$.output.FunctionResult`);
/// a path through any other event's details (`stateExitedEventDetails`) does not apply to the
/// result at all; any other path (`$..StartTime`) applies as written.
fn rebase_for_result(segs: &[Segment]) -> Option<Vec<Segment>> {
    let details = |s: &Segment| match s {
        Segment::Child(n) | Segment::Descendant(n) if n.ends_with("EventDetails") => Some(n.clone()),
        _ => None,
    };
    let Some(pos) = segs.iter().rposition(|s| details(s).is_some()) else {
        return Some(segs.to_vec());
    };
    let name = details(&segs[pos]).unwrap_or_default();
    if !name.starts_with("execution") {
        return None;
    }
    Some(segs[pos + 1..].to_vec())
}

/// Our execution result in the shape the transformers apply to.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The output (SUCCEEDED).
    pub output: Option<Value>,
    /// The error name.
    pub error: Option<Value>,
    /// The cause: a string, or parsed JSON when the case compares the cause as JSON.
    pub cause: Option<Value>,
}

impl Snapshot {
    fn take_doc(&mut self) -> Value {
        let mut m = Map::new();
        for (k, v) in [("output", self.output.take()), ("error", self.error.take()), ("cause", self.cause.take())] {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        }
        Value::Object(m)
    }

    fn put_doc(&mut self, doc: Value) {
        if let Value::Object(mut m) = doc {
            self.output = m.remove("output");
            self.error = m.remove("error");
            self.cause = m.remove("cause");
        }
    }
}

/// Values the defaults replace (from the case's `context`).
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The account our run used (replaced by `111111111111`).
    pub account: String,
    /// The region our run used (replaced by `<region>`).
    pub region: String,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { account: "111111111111".into(), region: "us-east-1".into() }
    }
}

enum TextOp {
    Regex(Regex, String),
    Literal(String, String),
    /// A non-string reference value: equal values are replaced whole.
    Whole(Value, String),
}

/// Apply the case's transformers, then the README's defaults, to `snap`.
pub fn apply_transformers(snap: &mut Snapshot, transformers: &[Transformer], defaults: &Defaults) {
    let mut doc = snap.take_doc();
    transform_doc(&mut doc, transformers, defaults, &rebase_for_result);
    snap.put_doc(doc);
}

/// Apply the case's transformers, then the README's defaults, to a whole history (AWS-shaped
/// events). Recorded paths address LocalStack's snapshot of `GetExecutionHistory`
/// (`$..events..output`), so they apply to `{"events": [...]}` as written.
pub fn apply_to_history(events: &mut Vec<Value>, transformers: &[Transformer], defaults: &Defaults) {
    let mut doc = serde_json::json!({ "events": std::mem::take(events) });
    transform_doc(&mut doc, transformers, defaults, &|segs| Some(segs.to_vec()));
    if let Value::Object(mut m) = doc {
        if let Some(Value::Array(a)) = m.remove("events") {
            *events = a;
        }
    }
}

type Rebase = dyn Fn(&[Segment]) -> Option<Vec<Segment>>;

fn transform_doc(doc: &mut Value, transformers: &[Transformer], defaults: &Defaults, rebase: &Rebase) {
    let mut ops: Vec<TextOp> = Vec::new();
    let mut scopes: HashMap<String, usize> = HashMap::new();
    let mut seen: Vec<(Value, String)> = Vec::new();
    let mut register = |value: Value, name: &str, ops: &mut Vec<TextOp>| {
        if seen.iter().any(|(v, n)| n == name && json_equal(v, &value)) {
            return;
        }
        let n = scopes.entry(name.to_string()).or_insert(1);
        let placeholder = format!("<{name}:{n}>");
        *n += 1;
        seen.push((value.clone(), name.to_string()));
        match value {
            Value::String(s) if !s.is_empty() => ops.push(TextOp::Literal(s, placeholder)),
            Value::String(_) => {}
            other => ops.push(TextOp::Whole(other, placeholder)),
        }
    };
    for t in transformers {
        match t {
            Transformer::Regex { regex, replacement, .. } => {
                ops.push(TextOp::Regex(regex.clone(), replacement.clone()));
            }
            Transformer::JsonPath { segments, replacement, replace_reference, .. } => {
                let Some(segs) = rebase(segments) else {
                    continue;
                };
                if *replace_reference {
                    let mut found = Vec::new();
                    visit_path(doc, &segs, &mut |v| found.push(v.clone()));
                    for v in found {
                        register(v, replacement, &mut ops);
                    }
                } else {
                    visit_path(doc, &segs, &mut |v| *v = Value::String(replacement.clone()));
                }
            }
            Transformer::KeyValue { key, replacement, replace_reference } => {
                if *replace_reference {
                    let mut found = Vec::new();
                    collect_key(doc, key, &mut found);
                    for v in found {
                        register(v, replacement, &mut ops);
                    }
                } else {
                    replace_key(doc, key, replacement);
                }
            }
        }
    }
    // Text replacements run over the values only (not the wrapper's own keys).
    let parts: Vec<&mut Value> = match doc {
        Value::Object(m) => m.values_mut().collect(),
        other => vec![other],
    };
    for part in parts {
        for op in &ops {
            apply_op(part, op);
        }
        apply_defaults(part, defaults);
    }
}

fn collect_key(v: &Value, key: &str, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                if k == key && !c.is_object() && !c.is_array() {
                    out.push(c.clone());
                } else {
                    collect_key(c, key, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_key(c, key, out)),
        _ => {}
    }
}

fn replace_key(v: &mut Value, key: &str, replacement: &str) {
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                if k == key {
                    *c = Value::String(replacement.to_string());
                } else {
                    replace_key(c, key, replacement);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| replace_key(c, key, replacement)),
        _ => {}
    }
}

fn map_strings(v: &mut Value, f: &dyn Fn(&str) -> Option<String>) {
    match v {
        Value::String(s) => {
            if let Some(n) = f(s) {
                *s = n;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| map_strings(c, f)),
        Value::Object(m) => {
            let needs_key_change = m.keys().any(|k| f(k).is_some());
            if needs_key_change {
                let old = std::mem::take(m);
                let mut new = Map::new();
                for (k, c) in old {
                    new.insert(f(&k).unwrap_or(k), c);
                }
                *m = new;
            }
            m.values_mut().for_each(|c| map_strings(c, f));
        }
        _ => {}
    }
}

fn apply_op(v: &mut Value, op: &TextOp) {
    match op {
        TextOp::Regex(re, rep) => map_strings(v, &|s| {
            if re.is_match(s) {
                Some(re.replace_all(s, NoExpand(rep)).into_owned())
            } else {
                None
            }
        }),
        TextOp::Literal(from, to) => map_strings(v, &|s| {
            if s.contains(from.as_str()) {
                Some(s.replace(from.as_str(), to))
            } else {
                None
            }
        }),
        TextOp::Whole(value, to) => replace_whole(v, value, to),
    }
}

fn replace_whole(v: &mut Value, value: &Value, to: &str) {
    if json_equal(v, value) {
        *v = Value::String(to.to_string());
        return;
    }
    match v {
        Value::Array(a) => a.iter_mut().for_each(|c| replace_whole(c, value, to)),
        Value::Object(m) => m.values_mut().for_each(|c| replace_whole(c, value, to)),
        _ => {}
    }
}

fn iso8601() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(?:[1-9]\d{3}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)",
            r"|(?:[1-9]\d(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)-02-29)",
            r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-][01]\d:[0-5]\d)"
        ))
        .expect("static regex")
    })
}

/// Whether `s` is exactly an ISO 8601 date-time (what the defaults turn into `date`).
pub fn is_iso_date(s: &str) -> bool {
    iso8601().find(s).is_some_and(|m| m.start() == 0 && m.end() == s.len())
}

fn uuid_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}")
            .expect("static regex")
    })
}

fn partition_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:").expect("static regex"))
}

fn uuid_placeholder_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"<uuid:\d+>").expect("static regex"))
}

fn apply_defaults(v: &mut Value, d: &Defaults) {
    let account = d.account.clone();
    let region = d.region.clone();
    map_strings(v, &|s| {
        let mut out = s.to_string();
        if !account.is_empty() && account != "111111111111" {
            out = out.replace(account.as_str(), "111111111111");
        }
        if !region.is_empty() {
            out = out.replace(region.as_str(), "<region>");
        }
        out = partition_re().replace_all(&out, "arn:<partition>:").into_owned();
        out = iso8601().replace_all(&out, "date").into_owned();
        out = uuid_re().replace_all(&out, "<uuid>").into_owned();
        if out != s {
            Some(out)
        } else {
            None
        }
    });
}

/// Placeholders whose numbering depends on the whole recorded snapshot (`<uuid:N>`) are made
/// comparable: `<uuid:N>` → `<uuid>`. Apply to the expected value before comparing with a
/// transformed result.
pub fn normalise_placeholders(v: &Value) -> Value {
    let mut v = v.clone();
    map_strings(&mut v, &|s| {
        if uuid_placeholder_re().is_match(s) {
            Some(uuid_placeholder_re().replace_all(s, "<uuid>").into_owned())
        } else {
            None
        }
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snap(output: Value) -> Snapshot {
        Snapshot { output: Some(output), error: None, cause: None }
    }

    #[test]
    fn regex_applies_to_every_string_error_and_cause() {
        let ts = vec![
            Transformer::regex("statemachine_0001", "<ArnPart_0idx>").unwrap(),
            Transformer::regex("Request ID: [a-zA-Z0-9-]+", "Request ID: <request_id>").unwrap(),
        ];
        let mut s = Snapshot {
            output: Some(json!({"a": ["x statemachine_0001 y"], "statemachine_0001": 1, "n": 5})),
            error: Some(json!("E statemachine_0001")),
            cause: Some(json!("failed (Request ID: ab-12; more)")),
        };
        apply_transformers(&mut s, &ts, &Defaults::default());
        assert_eq!(s.output.unwrap(), json!({"a": ["x <ArnPart_0idx> y"], "<ArnPart_0idx>": 1, "n": 5}));
        assert_eq!(s.error.unwrap(), json!("E <ArnPart_0idx>"));
        assert_eq!(s.cause.unwrap(), json!("failed (Request ID: <request_id>; more)"));
    }

    #[test]
    fn regex_replacement_is_literal_and_python_only_patterns_work() {
        let ts = vec![
            Transformer::regex("X", "$LATEST").unwrap(),
            Transformer::regex("{}", "<trusted_role_arn>").unwrap(),
            Transformer::regex("Extended Request ID: [a-zA-Z0-9-/=+]+", "Extended Request ID: <e>").unwrap(),
        ];
        let mut s = snap(json!(["aXb", "p{}q", "Extended Request ID: a/b=c+d-e"]));
        apply_transformers(&mut s, &ts, &Defaults::default());
        assert_eq!(s.output.unwrap(), json!(["a$LATESTb", "p<trusted_role_arn>q", "Extended Request ID: <e>"]));
    }

    #[test]
    fn defaults() {
        let mut s = Snapshot {
            output: Some(json!({
                "Id": "arn:aws:states:us-east-1:222222222222:execution:sm:ex",
                "t": "2024-01-02T03:04:05.123Z",
                "u": "req 0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
                "n": 1
            })),
            error: None,
            cause: Some(json!("arn:aws:lambda:us-east-1:222222222222:function:f")),
        };
        let d = Defaults { account: "222222222222".into(), region: "us-east-1".into() };
        apply_transformers(&mut s, &[], &d);
        assert_eq!(
            s.output.unwrap(),
            json!({
                "Id": "arn:<partition>:states:<region>:111111111111:execution:sm:ex",
                "t": "date",
                "u": "req <uuid>",
                "n": 1
            })
        );
        assert_eq!(s.cause.unwrap(), json!("arn:<partition>:lambda:<region>:111111111111:function:f"));
    }

    #[test]
    fn case_regex_runs_before_defaults() {
        // The recording's own regexes are written against raw values.
        let ts = vec![Transformer::regex("arn:aws:iam::111111111111:role/sfn_role", "snf_role_arn").unwrap()];
        let mut s = snap(json!({"RoleArn": "arn:aws:iam::111111111111:role/sfn_role"}));
        apply_transformers(&mut s, &ts, &Defaults::default());
        assert_eq!(s.output.unwrap(), json!({"RoleArn": "snf_role_arn"}));
    }

    #[test]
    fn jsonpath_direct() {
        let ts = vec![
            Transformer::jsonpath("$..StartTime", "start-time", false).unwrap(),
            Transformer::jsonpath("$..events..executionSucceededEventDetails.output.FunctionResult", "Rnd", false)
                .unwrap(),
            Transformer::jsonpath("$..events..stateExitedEventDetails.output.FunctionResult", "Other", false).unwrap(),
        ];
        let mut s = snap(json!({"a": {"StartTime": "x", "b": [{"StartTime": 3}]}, "FunctionResult": 0.5}));
        apply_transformers(&mut s, &ts, &Defaults::default());
        assert_eq!(
            s.output.unwrap(),
            json!({"a": {"StartTime": "start-time", "b": [{"StartTime": "start-time"}]}, "FunctionResult": "Rnd"})
        );
    }

    #[test]
    fn jsonpath_whole_output() {
        let ts = vec![
            Transformer::jsonpath("$..stateExitedEventDetails.output", "stateExitedEventDetails.output", false)
                .unwrap(),
            Transformer::jsonpath(
                "$..executionSucceededEventDetails.output",
                "executionSucceededEventDetails.output",
                false,
            )
            .unwrap(),
        ];
        let mut s = snap(json!([1, 2]));
        apply_transformers(&mut s, &ts, &Defaults::default());
        assert_eq!(s.output.unwrap(), json!("executionSucceededEventDetails.output"));
    }

    #[test]
    fn jsonpath_reference() {
        let ts = vec![Transformer::jsonpath("$..LogResult", "LogResult", true).unwrap()];
        let mut s = snap(json!({"LogResult": "abc==", "H": {"X-Amz-Log-Result": ["abc=="]}}));
        apply_transformers(&mut s, &ts, &Defaults::default());
        assert_eq!(
            s.output.unwrap(),
            json!({"LogResult": "<LogResult:1>", "H": {"X-Amz-Log-Result": ["<LogResult:1>"]}})
        );
    }

    #[test]
    fn key_value_direct_and_reference() {
        let ts = vec![
            Transformer::key_value("MD5OfMessageBody", "MD5OfMessageBody", true),
            Transformer::key_value("Date", "date-x", false),
        ];
        let mut s = snap(json!({
            "a": {"MD5OfMessageBody": "m1", "echo": "m1 m2"},
            "b": [{"MD5OfMessageBody": "m2"}, {"MD5OfMessageBody": "m1"}],
            "Date": {"deep": 1}
        }));
        apply_transformers(&mut s, &ts, &Defaults::default());
        assert_eq!(
            s.output.unwrap(),
            json!({
                "a": {"MD5OfMessageBody": "<MD5OfMessageBody:1>", "echo": "<MD5OfMessageBody:1> <MD5OfMessageBody:2>"},
                "b": [{"MD5OfMessageBody": "<MD5OfMessageBody:2>"}, {"MD5OfMessageBody": "<MD5OfMessageBody:1>"}],
                "Date": "date-x"
            })
        );
    }

    #[test]
    fn parsed_cause_is_transformed() {
        let ts = vec![Transformer::jsonpath("$..cause.StartDate", "start-date", false).unwrap()];
        let mut s = Snapshot {
            output: None,
            error: Some(json!("States.TaskFailed")),
            cause: Some(json!({"StartDate": 1, "x": {"cause": {"StartDate": 2}}})),
        };
        apply_transformers(&mut s, &ts, &Defaults::default());
        // The result is seen as `{"output", "error", "cause"}`, as in AWS's event details.
        assert_eq!(s.cause.unwrap(), json!({"StartDate": "start-date", "x": {"cause": {"StartDate": "start-date"}}}));
    }

    #[test]
    fn uuid_placeholders_normalised() {
        assert_eq!(
            normalise_placeholders(&json!({"c": "{\"requestId\":\"<uuid:4>\"}", "d": "<uuid:12>"})),
            json!({"c": "{\"requestId\":\"<uuid>\"}", "d": "<uuid>"})
        );
    }

    #[test]
    fn path_parsing() {
        assert_eq!(
            parse_path("$..events..a.b[0][*].*['c d']").unwrap(),
            vec![
                Segment::Descendant("events".into()),
                Segment::Descendant("a".into()),
                Segment::Child("b".into()),
                Segment::Index(0),
                Segment::Wildcard,
                Segment::Wildcard,
                Segment::Child("c d".into()),
            ]
        );
        assert!(parse_path("a.b").is_err());
        assert!(parse_path("$[?(@.x)]").is_err());
        assert!(parse_path("$..").is_err());
    }

    #[test]
    fn transformer_from_json() {
        let t = Transformer::from_json(
            &json!({"kind": "jsonpath", "jsonpath": "$..X", "replacement": "r", "replace_reference": true}),
        )
        .unwrap();
        assert!(matches!(t, Transformer::JsonPath { replace_reference: true, .. }));
        assert!(Transformer::from_json(&json!({"kind": "nope"})).is_err());
        assert!(Transformer::from_json(&json!({"kind": "regex"})).is_err());
    }
}
