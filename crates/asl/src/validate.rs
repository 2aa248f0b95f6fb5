//! Static validation of a state machine definition, reported the way AWS Step Functions
//! reports it when `CreateStateMachine` refuses a definition.
//!
//! [`validate`] walks the raw JSON (no model is built first, so every problem can be reported
//! with the location AWS gives it) and returns one [`Diagnostic`] per problem; [`aws_message`]
//! renders them into the text of the `InvalidDefinition` error.
//!
//! The checks run in two phases, as the service's do: first the *schema* (fields, types, value
//! ranges, paths, query-language rules, resources), then, only when the schema holds, the
//! *graph* (transition targets, reachability, terminal states). Both JSONPath and JSONata state
//! machines are checked; JSONata expressions are checked structurally (`{% ... %}` framing)
//! and never evaluated.
//!
//! Wording: the messages AWS is known to use are reproduced exactly (for instance
//! `The field 'RoleArn' is required but was missing`, `String does not match RFC3339
//! timestamp`, `These fields are required: [States]`, `Missing 'Next' target: X`,
//! `State "X" is not reachable.`). Where AWS's wording is not known the message follows the
//! same style.

use crate::jsonata;
use crate::jsonpath::{Path, Root};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// AWS's diagnostic code: `SCHEMA_VALIDATION_FAILED`, `MISSING_TRANSITION_TARGET`,
    /// `MISSING_END_STATE`, `INVALID_STATE_NAME`, `INVALID_LABEL_NAME`, ...
    pub code: String,
    /// What is wrong, in AWS's words where known.
    pub message: String,
    /// Where: a JSON-pointer-like path such as `/States/State0/Credentials` (`/` is the root).
    pub location: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} at {}", self.code, self.message, self.location)
    }
}

/// How to validate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// The machine is an EXPRESS state machine (no `.sync`, `.waitForTaskToken` or activities).
    pub express: bool,
}

/// All problems found; empty = valid.
///
/// Never panics, whatever the JSON: a definition that is not an object is itself a problem.
pub fn validate(definition: &Value, opts: &ValidateOptions) -> Vec<Diagnostic> {
    let mut v = Validator { opts: *opts, schema: Vec::new(), graph: Vec::new(), top: Lang::JsonPath };
    v.root(definition);
    if v.schema.is_empty() {
        v.graph
    } else {
        v.schema
    }
}

/// The text AWS puts in an InvalidDefinition error for these diagnostics, e.g.
/// `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'RoleArn' is required but was missing at /States/State0/Credentials'`.
///
/// Several diagnostics are joined with `, ` inside the one pair of quotes, as AWS does
/// (`'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next,
/// MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2'`). An empty
/// slice renders the prefix with empty quotes.
pub fn aws_message(diags: &[Diagnostic]) -> String {
    let parts: Vec<String> = diags.iter().map(std::string::ToString::to_string).collect();
    format!("Invalid State Machine Definition: '{}'", parts.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

const SCHEMA: &str = "SCHEMA_VALIDATION_FAILED";
const MISSING_TARGET: &str = "MISSING_TRANSITION_TARGET";

const STATE_TYPES: [&str; 8] = ["Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map"];

/// Fields every state accepts.
const COMMON_FIELDS: [&str; 3] = ["Type", "Comment", "QueryLanguage"];

/// Fields each state type accepts besides [`COMMON_FIELDS`].
fn allowed_fields(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &["InputPath", "OutputPath", "Result", "ResultPath", "Parameters", "Output", "Assign", "Next", "End"],
        "Task" => &[
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Arguments",
            "Output",
            "Assign",
            "Resource",
            "Credentials",
            "ResultSelector",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Next",
            "End",
        ],
        "Wait" => &[
            "InputPath",
            "OutputPath",
            "Output",
            "Assign",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Next",
            "End",
        ],
        "Parallel" => &[
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Arguments",
            "Output",
            "Assign",
            "ResultSelector",
            "Retry",
            "Catch",
            "Branches",
            "Next",
            "End",
        ],
        "Map" => &[
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Output",
            "Assign",
            "ResultSelector",
            "Retry",
            "Catch",
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "Items",
            "ItemSelector",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Label",
            "Next",
            "End",
        ],
        "Choice" => &["InputPath", "OutputPath", "Output", "Assign", "Choices", "Default"],
        "Succeed" => &["InputPath", "OutputPath", "Output"],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        _ => &[],
    }
}

/// State fields only a JSONPath state may carry.
const JSONPATH_ONLY: [&str; 16] = [
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Result",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
    "ErrorPath",
    "CausePath",
];

/// State fields only a JSONata state may carry.
const JSONATA_ONLY: [&str; 3] = ["Arguments", "Output", "Items"];

/// The comparison operators of a JSONPath Choice Rule.
const COMPARISONS: [&str; 40] = [
    "StringEquals",
    "StringEqualsPath",
    "StringLessThan",
    "StringLessThanPath",
    "StringGreaterThan",
    "StringGreaterThanPath",
    "StringLessThanEquals",
    "StringLessThanEqualsPath",
    "StringGreaterThanEquals",
    "StringGreaterThanEqualsPath",
    "StringMatches",
    "NumericEquals",
    "NumericEqualsPath",
    "NumericLessThan",
    "NumericLessThanPath",
    "NumericGreaterThan",
    "NumericGreaterThanPath",
    "NumericLessThanEquals",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEquals",
    "NumericGreaterThanEqualsPath",
    "BooleanEquals",
    "BooleanEqualsPath",
    "TimestampEquals",
    "TimestampEqualsPath",
    "TimestampLessThan",
    "TimestampLessThanPath",
    "TimestampGreaterThan",
    "TimestampGreaterThanPath",
    "TimestampLessThanEquals",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEquals",
    "TimestampGreaterThanEqualsPath",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
    "IsArray",
];

/// The error names AWS reserves under the `States.` prefix.
const RESERVED_ERRORS: [&str; 17] = [
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.Timeout",
    "States.TaskFailed",
    "States.BranchFailed",
    "States.QueryEvaluationError",
];

/// Optimized integrations whose whole action list is known: `(service, action, patterns)`,
/// where a pattern is `""` (request-response), `sync`, `sync:2` or `waitForTaskToken`. A
/// resource of one of these services that is not listed is refused as AWS refuses it ("is not
/// recognized"); services not listed here are accepted as they are.
const INTEGRATIONS: [(&str, &str, &[&str]); 10] = [
    ("lambda", "invoke", &["", "waitForTaskToken"]),
    ("dynamodb", "getItem", &[""]),
    ("dynamodb", "putItem", &[""]),
    ("dynamodb", "updateItem", &[""]),
    ("dynamodb", "deleteItem", &[""]),
    ("sns", "publish", &["", "waitForTaskToken"]),
    ("sqs", "sendMessage", &["", "waitForTaskToken"]),
    ("states", "startExecution", &["", "sync", "sync:2", "waitForTaskToken"]),
    ("events", "putEvents", &["", "waitForTaskToken"]),
    ("apigateway", "invoke", &["", "waitForTaskToken"]),
];

/// The largest integer most ASL numeric fields accept.
const MAX_INT: i64 = 99_999_999;

// ---------------------------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    JsonPath,
    JsonAta,
}

/// Which kind of workflow a `States` block belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Top,
    Nested,
}

struct Validator {
    opts: ValidateOptions,
    schema: Vec<Diagnostic>,
    graph: Vec<Diagnostic>,
    top: Lang,
}

/// `/` for the root, the location itself otherwise.
fn at(loc: &str) -> String {
    if loc.is_empty() {
        "/".to_string()
    } else {
        loc.to_string()
    }
}

/// An integer, accepting whole floats (`1.0`).
fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
        }
        _ => None,
    }
}

/// A `{% ... %}` JSONata expression string, exactly as evaluation sees one
/// ([`jsonata::is_expression`]: no whitespace around).
fn is_jsonata_expr(v: &Value) -> bool {
    v.as_str().is_some_and(jsonata::is_expression)
}

impl Validator {
    fn push(&mut self, code: &str, loc: &str, message: impl Into<String>) {
        self.schema.push(Diagnostic { code: code.to_string(), message: message.into(), location: at(loc) });
    }

    fn fail(&mut self, loc: &str, message: impl Into<String>) {
        self.push(SCHEMA, loc, message);
    }

    fn graph_fail(&mut self, code: &str, loc: &str, message: impl Into<String>) {
        self.graph.push(Diagnostic { code: code.to_string(), message: message.into(), location: at(loc) });
    }

    fn expect_type(&mut self, loc: &str, expected: &str) {
        self.fail(loc, format!("Expected value of type [{expected}]"));
    }

    /// Reports fields of `obj` outside `allowed`; the location is the object's.
    fn unknown_fields(&mut self, obj: &Map<String, Value>, allowed: &[&str], loc: &str) {
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                self.fail(loc, format!("Field '{k}' is not supported"));
            }
        }
    }

    /// `These fields are required: [..]` for those of `fields` that `obj` lacks; true when
    /// none is missing.
    fn required(&mut self, obj: &Map<String, Value>, fields: &[&str], loc: &str) -> bool {
        let missing: Vec<&str> = fields.iter().copied().filter(|f| !obj.contains_key(*f)).collect();
        if missing.is_empty() {
            return true;
        }
        self.fail(loc, format!("These fields are required: [{}]", missing.join(", ")));
        false
    }

    /// At most one of `fields`.
    fn at_most_one(&mut self, obj: &Map<String, Value>, fields: &[&str], loc: &str) -> bool {
        let present = fields.iter().filter(|f| obj.contains_key(**f)).count();
        if present > 1 {
            self.fail(loc, format!("There should only be one of the following fields: [{}]", fields.join(", ")));
            return false;
        }
        true
    }

    fn string_field(&mut self, obj: &Map<String, Value>, field: &str, loc: &str) {
        if let Some(v) = obj.get(field) {
            if !v.is_string() {
                self.expect_type(&format!("{loc}/{field}"), "STRING");
            }
        }
    }

    // ----- root and workflows ------------------------------------------------------------

    fn root(&mut self, def: &Value) {
        let Some(root) = def.as_object() else {
            self.fail("", "Definition must be a valid JSON object");
            return;
        };
        if !self.required(root, &["States", "StartAt"], "") {
            return;
        }
        self.unknown_fields(root, &["Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"], "");
        self.string_field(root, "Comment", "");
        if let Some(v) = root.get("Version") {
            match v.as_str() {
                Some("1.0") => {}
                Some(_) => self.fail("/Version", "Value should be one of the following: [1.0]"),
                None => self.expect_type("/Version", "STRING"),
            }
        }
        if let Some(v) = root.get("TimeoutSeconds") {
            self.int_range(v, "/TimeoutSeconds", 1, MAX_INT, false);
        }
        self.top = match root.get("QueryLanguage") {
            None => Lang::JsonPath,
            Some(v) => match v.as_str() {
                Some("JSONata") => Lang::JsonAta,
                Some("JSONPath") => Lang::JsonPath,
                Some(_) => {
                    self.fail("/QueryLanguage", "Value should be one of the following: [JSONPath, JSONata]");
                    Lang::JsonPath
                }
                None => {
                    self.expect_type("/QueryLanguage", "STRING");
                    Lang::JsonPath
                }
            },
        };
        self.workflow(root, "", Scope::Top);
    }

    /// A `StartAt` + `States` block: the machine, a Parallel branch or a Map's processor.
    fn workflow(&mut self, obj: &Map<String, Value>, base: &str, scope: Scope) {
        let start_at = match obj.get("StartAt") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.expect_type(&format!("{base}/StartAt"), "STRING");
                None
            }
            None => None,
        };
        let states = match obj.get("States") {
            Some(Value::Object(m)) => m,
            Some(_) => {
                self.expect_type(&format!("{base}/States"), "OBJECT");
                return;
            }
            None => return,
        };
        if states.is_empty() {
            self.fail(&format!("{base}/States"), "Value cannot be empty");
            return;
        }
        let names: HashSet<&str> = states.keys().map(String::as_str).collect();
        let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut terminal = false;
        for (name, state) in states {
            let loc = format!("{base}/States/{name}");
            self.state_name(name, &loc);
            let info = self.state(state, &loc);
            terminal |= info.terminal;
            for (target, field_loc, field) in &info.targets {
                if !names.contains(target.as_str()) {
                    self.graph_fail(MISSING_TARGET, field_loc, format!("Missing '{field}' target: {target}"));
                }
            }
            let list = edges.entry(name.as_str()).or_default();
            for (target, _, _) in info.targets {
                if let Some(t) = names.get(target.as_str()) {
                    list.push(t);
                }
            }
        }
        if let Some(start) = start_at {
            if !names.contains(start) {
                self.graph_fail(
                    MISSING_TARGET,
                    &format!("{base}/StartAt"),
                    format!("Missing 'StartAt' target: {start}"),
                );
            }
        }
        if scope == Scope::Top && !terminal {
            self.graph_fail("MISSING_END_STATE", &format!("{base}/States"), "Workflow has no terminal state");
            return;
        }
        // Reachability from StartAt, reported in document order.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        if let Some(start) = start_at.and_then(|s| names.get(s).copied()) {
            seen.insert(start);
            queue.push_back(start);
        }
        while let Some(n) = queue.pop_front() {
            for &t in edges.get(n).map(Vec::as_slice).unwrap_or(&[]) {
                if seen.insert(t) {
                    queue.push_back(t);
                }
            }
        }
        for name in states.keys() {
            if !seen.contains(name.as_str()) {
                self.graph_fail(
                    MISSING_TARGET,
                    &format!("{base}/States/{name}"),
                    format!("State \"{name}\" is not reachable."),
                );
            }
        }
    }

    fn state_name(&mut self, name: &str, loc: &str) {
        let len = name.chars().count();
        if len == 0 {
            self.push("INVALID_STATE_NAME", loc, "State name cannot be empty");
        } else if len > 80 {
            self.push(
                "INVALID_STATE_NAME",
                loc,
                format!("State name '{name}' exceeds the maximum length of 80 characters"),
            );
        } else if name.chars().any(is_control) {
            self.push(
                "INVALID_STATE_NAME",
                loc,
                format!("State name '{}' contains invalid characters", name.escape_debug()),
            );
        }
    }

    // ----- states ------------------------------------------------------------------------

    fn state(&mut self, v: &Value, loc: &str) -> StateInfo {
        let mut info = StateInfo::default();
        let Some(st) = v.as_object() else {
            self.expect_type(loc, "OBJECT");
            info.terminal = true; // don't pile graph errors on a broken state
            return info;
        };
        let ty = match st.get("Type") {
            None => {
                self.fail(loc, "These fields are required: [Type]");
                info.terminal = true;
                return info;
            }
            Some(t) => match t.as_str() {
                Some(t) if STATE_TYPES.contains(&t) => t,
                _ => {
                    self.fail(
                        &format!("{loc}/Type"),
                        "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
                    );
                    info.terminal = true;
                    return info;
                }
            },
        };

        // Query language.
        let lang = match st.get("QueryLanguage") {
            None => self.top,
            Some(q) => match q.as_str() {
                Some("JSONata") => Lang::JsonAta,
                Some("JSONPath") => {
                    if self.top == Lang::JsonAta {
                        self.fail(
                            loc,
                            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
                        );
                        Lang::JsonAta
                    } else {
                        Lang::JsonPath
                    }
                }
                Some(_) => {
                    self.fail(
                        &format!("{loc}/QueryLanguage"),
                        "Value should be one of the following: [JSONPath, JSONata]",
                    );
                    self.top
                }
                None => {
                    self.expect_type(&format!("{loc}/QueryLanguage"), "STRING");
                    self.top
                }
            },
        };

        // Fields: unknown ones, then the other query language's.
        let allowed = allowed_fields(ty);
        for k in st.keys() {
            let k = k.as_str();
            if COMMON_FIELDS.contains(&k) {
                continue;
            }
            if !allowed.contains(&k) {
                self.fail(loc, format!("Field '{k}' is not supported"));
            } else if lang == Lang::JsonAta && JSONPATH_ONLY.contains(&k) {
                self.fail(
                    loc,
                    format!("The QueryLanguage is set to 'JSONata', but field '{k}' is only supported for the 'JSONPath' QueryLanguage"),
                );
            } else if lang == Lang::JsonPath && JSONATA_ONLY.contains(&k) {
                self.fail(
                    loc,
                    format!("The QueryLanguage is set to 'JSONPath', but field '{k}' is only supported for the 'JSONata' QueryLanguage"),
                );
            }
        }
        self.string_field(st, "Comment", loc);

        // Transitions.
        match ty {
            "Succeed" | "Fail" => info.terminal = true,
            "Choice" => {}
            _ => {
                let end = match st.get("End") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        self.expect_type(&format!("{loc}/End"), "BOOLEAN");
                        true
                    }
                };
                let next = st.get("Next");
                match (next, end) {
                    (Some(_), true) => self.fail(loc, "There should only be one of the following fields: [Next, End]"),
                    (None, false) => {
                        self.fail(loc, "This object should have only one of the following fields: [Next, End]");
                    }
                    _ => {}
                }
                info.terminal = end;
                self.target(st, "Next", loc, &mut info);
            }
        }

        // Input and output processing.
        if lang == Lang::JsonPath {
            for f in ["InputPath", "OutputPath"] {
                if let Some(p) = st.get(f) {
                    self.path_field(p, f, loc, PathRule::Path, true);
                }
            }
            if let Some(p) = st.get("ResultPath") {
                self.path_field(p, "ResultPath", loc, PathRule::ResultPath, true);
            }
            for f in ["Parameters", "ResultSelector"] {
                if let Some(p) = st.get(f) {
                    self.template(p, &format!("{loc}/{f}"));
                }
            }
        } else {
            for f in ["Arguments", "Output"] {
                if let Some(p) = st.get(f) {
                    self.jsonata_value(p, &format!("{loc}/{f}"));
                }
            }
            if let Some(a) = st.get("Arguments") {
                if !a.is_object() && !is_jsonata_expr(a) {
                    self.fail(&format!("{loc}/Arguments"), "Expected value of type [OBJECT] or a JSONata expression");
                }
            }
        }
        if let Some(a) = st.get("Assign") {
            self.assign(a, &format!("{loc}/Assign"), lang);
        }

        match ty {
            "Task" => self.task(st, loc, lang),
            "Wait" => self.wait(st, loc, lang),
            "Choice" => self.choice(st, loc, lang, &mut info),
            "Fail" => self.fail_state(st, loc, lang),
            "Parallel" => self.parallel(st, loc),
            "Map" => self.map(st, loc, lang),
            _ => {}
        }
        if matches!(ty, "Task" | "Parallel" | "Map") {
            self.retry(st, loc);
            self.catch(st, loc, lang, &mut info);
        }
        info
    }

    /// Records the transition `field` of `obj` (a string naming a sibling state).
    fn target(&mut self, obj: &Map<String, Value>, field: &str, loc: &str, info: &mut StateInfo) {
        match obj.get(field) {
            None => {}
            Some(Value::String(t)) => info.targets.push((t.clone(), format!("{loc}/{field}"), field.to_string())),
            Some(_) => self.expect_type(&format!("{loc}/{field}"), "STRING"),
        }
    }

    // ----- Task ----------------------------------------------------------------------------

    fn task(&mut self, st: &Map<String, Value>, loc: &str, lang: Lang) {
        match st.get("Resource") {
            None => {
                self.fail(loc, "These fields are required: [Resource]");
            }
            Some(Value::String(r)) => self.resource(r, &format!("{loc}/Resource")),
            Some(_) => self.expect_type(&format!("{loc}/Resource"), "STRING"),
        }
        let timeout = self.seconds_pair(st, "TimeoutSeconds", loc, lang, 1);
        let heartbeat = self.seconds_pair(st, "HeartbeatSeconds", loc, lang, 1);
        if let (Some(t), Some(h)) = (timeout, heartbeat) {
            if h >= t {
                self.fail(loc, "The value of HeartbeatSeconds must be smaller than the value of TimeoutSeconds");
            }
        }
        if let Some(c) = st.get("Credentials") {
            let cloc = format!("{loc}/Credentials");
            match c {
                Value::Object(cred) => {
                    let role = cred.get("RoleArn").or_else(|| cred.get("RoleArn.$"));
                    if role.is_none() {
                        self.fail(&cloc, "The field 'RoleArn' is required but was missing");
                    } else {
                        self.unknown_fields(cred, &["RoleArn", "RoleArn.$"], &cloc);
                        self.at_most_one(cred, &["RoleArn", "RoleArn.$"], &cloc);
                        if let Some(r) = cred.get("RoleArn") {
                            if !r.is_string() {
                                self.expect_type(&format!("{cloc}/RoleArn"), "STRING");
                            }
                        }
                        if cred.contains_key("RoleArn.$") {
                            self.template(c, &cloc);
                        }
                    }
                }
                _ => self.expect_type(&cloc, "OBJECT"),
            }
        }
    }

    fn resource(&mut self, r: &str, loc: &str) {
        if !r.starts_with("arn:") {
            self.fail(loc, "Value is not a valid resource ARN");
            return;
        }
        let parts: Vec<&str> = r.splitn(6, ':').collect();
        if parts.len() < 6 {
            self.fail(loc, "Value is not a valid resource ARN");
            return;
        }
        let (service, region, account, rest) = (parts[2], parts[3], parts[4], parts[5]);
        if service == "states" && region.is_empty() && account.is_empty() {
            // An integration: arn:<partition>:states:::<service>:<action>[.<pattern>]
            let (svc, api) = rest.split_once(':').unwrap_or((rest, ""));
            let (action, pattern) = match api.split_once('.') {
                Some((a, p)) => (a, p),
                None => (api, ""),
            };
            if self.opts.express {
                if pattern == "waitForTaskToken" {
                    self.fail(loc, "Express state machine does not support '.waitForTaskToken' service integration ");
                    return;
                }
                if pattern == "sync" || pattern.starts_with("sync:") {
                    self.fail(loc, "Express state machine does not support '.sync' service integration");
                    return;
                }
            }
            let known_service = INTEGRATIONS.iter().any(|(s, _, _)| *s == svc);
            let recognized = if known_service {
                INTEGRATIONS.iter().any(|(s, a, ps)| *s == svc && *a == action && ps.contains(&pattern))
            } else if svc == "aws-sdk" {
                // aws-sdk:<service>:<action>[.waitForTaskToken]; no .sync.
                !action.is_empty() && action.contains(':') && (pattern.is_empty() || pattern == "waitForTaskToken")
            } else {
                !svc.is_empty() && !api.is_empty()
            };
            if !recognized {
                self.fail(
                    loc,
                    format!("The resource provided {r} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."),
                );
            }
        } else if service == "states" && rest.starts_with("activity:") && self.opts.express {
            self.fail(loc, "Express state machine does not support Activity ARN");
        }
    }

    /// `<field>` (integer ≥ `min`, or a JSONata expression) and `<field>Path` (a Reference
    /// Path), at most one of them. Returns the literal value when there is one.
    fn seconds_pair(&mut self, st: &Map<String, Value>, field: &str, loc: &str, lang: Lang, min: i64) -> Option<i64> {
        let path_field = format!("{field}Path");
        self.at_most_one(st, &[field, path_field.as_str()], loc);
        if let Some(p) = st.get(&path_field) {
            if lang == Lang::JsonPath {
                self.path_field(p, &path_field, loc, PathRule::Reference, false);
            }
        }
        let v = st.get(field)?;
        self.int_range(v, &format!("{loc}/{field}"), min, MAX_INT, lang == Lang::JsonAta)
    }

    /// An integer in `[min, max]` (or, when `jsonata`, a JSONata expression).
    fn int_range(&mut self, v: &Value, loc: &str, min: i64, max: i64, jsonata: bool) -> Option<i64> {
        if jsonata && is_jsonata_expr(v) {
            return None;
        }
        match as_int(v) {
            Some(n) if n < min => {
                self.fail(loc, format!("Value should be greater than or equal to {min}"));
                None
            }
            Some(n) if n > max => {
                self.fail(loc, format!("Value should be less than or equal to {max}"));
                None
            }
            Some(n) => Some(n),
            None => {
                if jsonata && v.as_str().is_some_and(jsonata::opens_expression) {
                    self.fail(loc, "JSONata string must start with {% and end with %}");
                } else if jsonata {
                    self.fail(loc, "Expected value of type [INTEGER] or a JSONata expression");
                } else {
                    self.expect_type(loc, "INTEGER");
                }
                None
            }
        }
    }

    // ----- Wait --------------------------------------------------------------------------

    fn wait(&mut self, st: &Map<String, Value>, loc: &str, lang: Lang) {
        const FIELDS: [&str; 4] = ["SecondsPath", "Seconds", "TimestampPath", "Timestamp"];
        let n = FIELDS.iter().filter(|f| st.contains_key(**f)).count();
        if n > 1 {
            self.fail(
                loc,
                "There should only be one of the following fields: [SecondsPath, Seconds, TimestampPath, Timestamp]",
            );
        } else if n == 0 {
            self.fail(loc, "This object should have only one of the following fields: [SecondsPath, Seconds, TimestampPath, Timestamp]");
        }
        if let Some(s) = st.get("Seconds") {
            self.int_range(s, &format!("{loc}/Seconds"), 0, MAX_INT, lang == Lang::JsonAta);
        }
        if let Some(t) = st.get("Timestamp") {
            let tloc = format!("{loc}/Timestamp");
            match t {
                Value::String(_) if lang == Lang::JsonAta && is_jsonata_expr(t) => {}
                Value::String(s) => {
                    if !is_rfc3339(s) {
                        self.fail(&tloc, "String does not match RFC3339 timestamp");
                    }
                }
                _ => self.expect_type(&tloc, "STRING"),
            }
        }
        if lang == Lang::JsonPath {
            for f in ["SecondsPath", "TimestampPath"] {
                if let Some(p) = st.get(f) {
                    self.path_field(p, f, loc, PathRule::Reference, false);
                }
            }
        }
    }

    // ----- Choice ------------------------------------------------------------------------

    fn choice(&mut self, st: &Map<String, Value>, loc: &str, lang: Lang, info: &mut StateInfo) {
        self.target(st, "Default", loc, info);
        let cloc = format!("{loc}/Choices");
        match st.get("Choices") {
            None => {
                self.fail(loc, "These fields are required: [Choices]");
            }
            Some(Value::Array(rules)) => {
                if rules.is_empty() {
                    self.fail(&cloc, "Value cannot be empty");
                }
                for (i, rule) in rules.iter().enumerate() {
                    let rloc = format!("{cloc}[{i}]");
                    let Some(r) = rule.as_object() else {
                        self.expect_type(&rloc, "OBJECT");
                        continue;
                    };
                    if !r.contains_key("Next") {
                        self.fail(&rloc, "These fields are required: [Next]");
                    }
                    self.target(r, "Next", &rloc, info);
                    if let Some(a) = r.get("Assign") {
                        self.assign(a, &format!("{rloc}/Assign"), lang);
                    }
                    if let Some(o) = r.get("Output") {
                        self.jsonata_value(o, &format!("{rloc}/Output"));
                    }
                    self.string_field(r, "Comment", &rloc);
                    if lang == Lang::JsonAta {
                        self.jsonata_rule(r, &rloc);
                    } else {
                        self.rule(r, &rloc, true);
                    }
                }
            }
            Some(_) => self.expect_type(&cloc, "ARRAY"),
        }
    }

    fn jsonata_rule(&mut self, r: &Map<String, Value>, loc: &str) {
        for k in r.keys() {
            let k = k.as_str();
            if matches!(k, "Condition" | "Next" | "Assign" | "Output" | "Comment") {
                continue;
            }
            if k == "Variable" || k == "And" || k == "Or" || k == "Not" || COMPARISONS.contains(&k) {
                self.fail(
                    loc,
                    format!("The QueryLanguage is set to 'JSONata', but field '{k}' is only supported for the 'JSONPath' QueryLanguage"),
                );
            } else {
                self.fail(loc, format!("Field '{k}' is not supported"));
            }
        }
        match r.get("Condition") {
            None => {
                self.fail(loc, "These fields are required: [Condition]");
            }
            Some(Value::Bool(_)) => {}
            Some(c) if is_jsonata_expr(c) => {}
            Some(Value::String(_)) => {
                self.fail(&format!("{loc}/Condition"), "JSONata string must start with {% and end with %}");
            }
            Some(_) => self.expect_type(&format!("{loc}/Condition"), "BOOLEAN"),
        }
    }

    /// A JSONPath Choice Rule (`top`: a rule of `Choices` itself, which may carry Next).
    fn rule(&mut self, r: &Map<String, Value>, loc: &str, top: bool) {
        // Fields.
        for k in r.keys() {
            let k = k.as_str();
            let ok = matches!(k, "Variable" | "And" | "Or" | "Not" | "Comment")
                || COMPARISONS.contains(&k)
                || (top && matches!(k, "Next" | "Assign"));
            if k == "Condition" || (top && k == "Output") {
                self.fail(
                    loc,
                    format!("The QueryLanguage is set to 'JSONPath', but field '{k}' is only supported for the 'JSONata' QueryLanguage"),
                );
            } else if !ok {
                self.fail(loc, format!("Field '{k}' is not supported"));
            }
        }
        // Exactly one of And / Or / Not / Variable.
        let kinds: Vec<&str> = ["And", "Or", "Not", "Variable"].into_iter().filter(|k| r.contains_key(*k)).collect();
        if kinds.len() != 1 {
            self.fail(
                loc,
                "The object must have only one of the following fields, [And, Or, Not, Variable, Condition]",
            );
            return;
        }
        let ops: Vec<&str> = COMPARISONS.iter().copied().filter(|k| r.contains_key(*k)).collect();
        match kinds[0] {
            "Variable" => {
                if let Some(v) = r.get("Variable") {
                    self.path_field(v, "Variable", loc, PathRule::Path, false);
                }
                if ops.len() != 1 {
                    if ops.is_empty() {
                        self.fail(loc, "A Choice Rule with 'Variable' requires a comparison operator");
                    } else {
                        self.fail(
                            loc,
                            format!("There should only be one of the following fields: [{}]", ops.join(", ")),
                        );
                    }
                    return;
                }
                let op = ops[0];
                if let Some(v) = r.get(op) {
                    self.comparison(op, v, loc);
                }
            }
            "Not" => {
                if !ops.is_empty() {
                    self.fail(loc, format!("Field '{}' is not supported", ops[0]));
                }
                let nloc = format!("{loc}/Not");
                match r.get("Not") {
                    Some(Value::Object(inner)) => self.rule(inner, &nloc, false),
                    _ => self.expect_type(&nloc, "OBJECT"),
                }
            }
            kind => {
                if !ops.is_empty() {
                    self.fail(loc, format!("Field '{}' is not supported", ops[0]));
                }
                let aloc = format!("{loc}/{kind}");
                match r.get(kind) {
                    Some(Value::Array(list)) if !list.is_empty() => {
                        for (i, x) in list.iter().enumerate() {
                            let iloc = format!("{aloc}[{i}]");
                            match x {
                                Value::Object(inner) => self.rule(inner, &iloc, false),
                                _ => self.expect_type(&iloc, "OBJECT"),
                            }
                        }
                    }
                    Some(Value::Array(_)) => self.fail(&aloc, "Value cannot be empty"),
                    _ => self.expect_type(&aloc, "ARRAY"),
                }
            }
        }
    }

    fn comparison(&mut self, op: &str, v: &Value, loc: &str) {
        let oloc = format!("{loc}/{op}");
        if op.ends_with("Path") {
            self.path_field(v, op, loc, PathRule::Path, false);
            return;
        }
        let ok = if op.starts_with("String") {
            v.is_string()
        } else if op.starts_with("Numeric") {
            v.is_number()
        } else if op.starts_with("Boolean") || op.starts_with("Is") {
            v.is_boolean()
        } else if op.starts_with("Timestamp") {
            match v.as_str() {
                Some(s) => {
                    if !is_rfc3339(s) {
                        self.fail(&oloc, "String does not match RFC3339 timestamp");
                    }
                    true
                }
                None => false,
            }
        } else {
            true
        };
        if !ok {
            let expected = if op.starts_with("String") || op.starts_with("Timestamp") {
                "STRING"
            } else if op.starts_with("Numeric") {
                "NUMBER"
            } else {
                "BOOLEAN"
            };
            self.expect_type(&oloc, expected);
        }
    }

    // ----- Fail ----------------------------------------------------------------------------

    fn fail_state(&mut self, st: &Map<String, Value>, loc: &str, lang: Lang) {
        self.at_most_one(st, &["Error", "ErrorPath"], loc);
        self.at_most_one(st, &["Cause", "CausePath"], loc);
        for f in ["Error", "Cause"] {
            if let Some(v) = st.get(f) {
                match v {
                    Value::String(_) if lang == Lang::JsonAta => self.jsonata_value(v, &format!("{loc}/{f}")),
                    Value::String(_) => {}
                    _ => self.expect_type(&format!("{loc}/{f}"), "STRING"),
                }
            }
        }
        if lang == Lang::JsonPath {
            for f in ["ErrorPath", "CausePath"] {
                if let Some(v) = st.get(f) {
                    let ok = v.as_str().is_some_and(|s| dollar_value_ok(s).is_ok());
                    if !ok {
                        self.fail(loc, format!("The value for the field '{f}' must be a valid JSONPath or a valid intrinsic function call"));
                    }
                }
            }
        }
    }

    // ----- Parallel and Map ----------------------------------------------------------------

    fn parallel(&mut self, st: &Map<String, Value>, loc: &str) {
        let bloc = format!("{loc}/Branches");
        match st.get("Branches") {
            None => {
                self.fail(loc, "These fields are required: [Branches]");
            }
            Some(Value::Array(branches)) => {
                if branches.is_empty() {
                    self.fail(&bloc, "Value cannot be empty");
                }
                for (i, b) in branches.iter().enumerate() {
                    let iloc = format!("{bloc}[{i}]");
                    match b {
                        Value::Object(br) => {
                            if self.required(br, &["States", "StartAt"], &iloc) {
                                self.unknown_fields(br, &["StartAt", "States", "Comment"], &iloc);
                                self.string_field(br, "Comment", &iloc);
                                self.workflow(br, &iloc, Scope::Nested);
                            }
                        }
                        _ => self.expect_type(&iloc, "OBJECT"),
                    }
                }
            }
            Some(_) => self.expect_type(&bloc, "ARRAY"),
        }
    }

    fn map(&mut self, st: &Map<String, Value>, loc: &str, lang: Lang) {
        let has_proc = st.contains_key("ItemProcessor");
        let has_iter = st.contains_key("Iterator");
        if has_proc && has_iter {
            self.fail(loc, "There should only be one of the following fields: [ItemProcessor, Iterator]");
        } else if !has_proc && !has_iter {
            self.fail(loc, "This object should have only one of the following fields: [ItemProcessor, Iterator]");
        }
        for field in ["ItemProcessor", "Iterator"] {
            let Some(p) = st.get(field) else { continue };
            let ploc = format!("{loc}/{field}");
            let Some(proc_) = p.as_object() else {
                self.expect_type(&ploc, "OBJECT");
                continue;
            };
            if !self.required(proc_, &["States", "StartAt"], &ploc) {
                continue;
            }
            self.unknown_fields(proc_, &["ProcessorConfig", "StartAt", "States", "Comment"], &ploc);
            self.string_field(proc_, "Comment", &ploc);
            if let Some(cfg) = proc_.get("ProcessorConfig") {
                self.processor_config(cfg, &format!("{ploc}/ProcessorConfig"));
            }
            self.workflow(proc_, &ploc, Scope::Nested);
        }

        if lang == Lang::JsonPath {
            if let Some(p) = st.get("ItemsPath") {
                self.path_field(p, "ItemsPath", loc, PathRule::Reference, false);
            }
            if let Some(s) = st.get("ItemSelector") {
                self.template(s, &format!("{loc}/ItemSelector"));
            }
        } else {
            if let Some(items) = st.get("Items") {
                let iloc = format!("{loc}/Items");
                match items {
                    Value::Array(_) => self.jsonata_value(items, &iloc),
                    _ if is_jsonata_expr(items) => {}
                    Value::String(_) => self.fail(&iloc, "JSONata string must start with {% and end with %}"),
                    _ => self.expect_type(&iloc, "ARRAY"),
                }
            }
            if let Some(s) = st.get("ItemSelector") {
                self.jsonata_value(s, &format!("{loc}/ItemSelector"));
            }
        }

        let jsonata = lang == Lang::JsonAta;
        self.at_most_one(st, &["MaxConcurrency", "MaxConcurrencyPath"], loc);
        if let Some(v) = st.get("MaxConcurrency") {
            self.int_range(v, &format!("{loc}/MaxConcurrency"), 0, MAX_INT, jsonata);
        }
        self.at_most_one(st, &["ToleratedFailureCount", "ToleratedFailureCountPath"], loc);
        if let Some(v) = st.get("ToleratedFailureCount") {
            self.int_range(v, &format!("{loc}/ToleratedFailureCount"), 0, MAX_INT, jsonata);
        }
        self.at_most_one(st, &["ToleratedFailurePercentage", "ToleratedFailurePercentagePath"], loc);
        if let Some(v) = st.get("ToleratedFailurePercentage") {
            let ploc = format!("{loc}/ToleratedFailurePercentage");
            if !(jsonata && is_jsonata_expr(v)) {
                match v.as_f64() {
                    Some(x) if x < 0.0 => self.fail(&ploc, "Value should be greater than or equal to 0"),
                    Some(x) if x > 100.0 => self.fail(&ploc, "Value should be less than or equal to 100"),
                    Some(_) => {}
                    None => self.expect_type(&ploc, "NUMBER"),
                }
            }
        }
        if lang == Lang::JsonPath {
            for f in ["MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"] {
                if let Some(p) = st.get(f) {
                    self.path_field(p, f, loc, PathRule::Reference, false);
                }
            }
        }
        if let Some(label) = st.get("Label") {
            self.label(label, &format!("{loc}/Label"));
        }
        for f in ["ItemReader", "ItemBatcher", "ResultWriter"] {
            if let Some(x) = st.get(f) {
                self.map_config(x, f, &format!("{loc}/{f}"), lang);
            }
        }
    }

    /// `ProcessorConfig`: Mode INLINE | DISTRIBUTED, ExecutionType for DISTRIBUTED only.
    fn processor_config(&mut self, cfg: &Value, loc: &str) {
        let Some(c) = cfg.as_object() else {
            self.expect_type(loc, "OBJECT");
            return;
        };
        self.unknown_fields(c, &["Mode", "ExecutionType"], loc);
        let mode = match c.get("Mode") {
            None => "INLINE",
            Some(Value::String(m)) if m == "INLINE" || m == "DISTRIBUTED" => m.as_str(),
            Some(Value::String(_)) => {
                self.fail(&format!("{loc}/Mode"), "Value should be one of the following: [INLINE, DISTRIBUTED]");
                "INLINE"
            }
            Some(_) => {
                self.expect_type(&format!("{loc}/Mode"), "STRING");
                "INLINE"
            }
        };
        match c.get("ExecutionType") {
            None if mode == "DISTRIBUTED" => self.fail(loc, "These fields are required: [ExecutionType]"),
            None => {}
            Some(_) if mode == "INLINE" => self.fail(loc, "Field 'ExecutionType' is not supported"),
            Some(Value::String(e)) if e == "STANDARD" || e == "EXPRESS" => {}
            Some(Value::String(_)) => {
                self.fail(&format!("{loc}/ExecutionType"), "Value should be one of the following: [STANDARD, EXPRESS]");
            }
            Some(_) => self.expect_type(&format!("{loc}/ExecutionType"), "STRING"),
        }
    }

    /// The Map Run label: at most 40 characters, none of the characters AWS forbids.
    fn label(&mut self, v: &Value, loc: &str) {
        let Some(s) = v.as_str() else {
            self.expect_type(loc, "STRING");
            return;
        };
        if s.is_empty() {
            self.push("INVALID_LABEL_NAME", loc, "Label cannot be empty");
        } else if s.chars().count() > 40 {
            self.push("INVALID_LABEL_NAME", loc, "Label cannot exceed 40 characters");
        } else if let Some(c) = s.chars().find(|c| is_forbidden_label_char(*c)) {
            self.push("INVALID_LABEL_NAME", loc, format!("Label contains invalid character: {}", py_repr_char(c)));
        }
    }

    /// ItemReader / ItemBatcher / ResultWriter: their payload templates and enumerations. Other
    /// fields are left to the service (they grow with new readers).
    fn map_config(&mut self, v: &Value, field: &str, loc: &str, lang: Lang) {
        let Some(o) = v.as_object() else {
            self.expect_type(loc, "OBJECT");
            return;
        };
        if lang == Lang::JsonPath {
            for f in ["Parameters", "BatchInput"] {
                if let Some(p) = o.get(f) {
                    self.template(p, &format!("{loc}/{f}"));
                }
            }
        } else {
            self.jsonata_value(v, loc);
        }
        if field == "ItemReader" {
            if let Some(Value::Object(rc)) = o.get("ReaderConfig") {
                let rloc = format!("{loc}/ReaderConfig");
                if let Some(t) = rc.get("InputType") {
                    if !matches!(t.as_str(), Some("CSV" | "JSON" | "JSONL" | "MANIFEST" | "PARQUET")) {
                        self.fail(
                            &format!("{rloc}/InputType"),
                            "Value should be one of the following: [CSV, JSON, JSONL, MANIFEST, PARQUET]",
                        );
                    }
                }
                if let Some(h) = rc.get("CSVHeaderLocation") {
                    if !matches!(h.as_str(), Some("FIRST_ROW" | "GIVEN")) {
                        self.fail(
                            &format!("{rloc}/CSVHeaderLocation"),
                            "Value should be one of the following: [FIRST_ROW, GIVEN]",
                        );
                    }
                }
                if lang == Lang::JsonPath {
                    if let Some(p) = rc.get("MaxItemsPath") {
                        self.path_field(p, "MaxItemsPath", &rloc, PathRule::Reference, false);
                    }
                }
            }
        }
    }

    // ----- Retry and Catch -----------------------------------------------------------------

    fn retry(&mut self, st: &Map<String, Value>, loc: &str) {
        let Some(r) = st.get("Retry") else { return };
        let rloc = format!("{loc}/Retry");
        let Some(list) = r.as_array() else {
            self.expect_type(&rloc, "ARRAY");
            return;
        };
        for (i, x) in list.iter().enumerate() {
            let iloc = format!("{rloc}[{i}]");
            let Some(o) = x.as_object() else {
                self.expect_type(&iloc, "OBJECT");
                continue;
            };
            self.unknown_fields(
                o,
                &[
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ],
                &iloc,
            );
            if self.required(o, &["ErrorEquals"], &iloc) {
                self.error_equals(o, &iloc, i + 1 == list.len());
            }
            self.string_field(o, "Comment", &iloc);
            if let Some(v) = o.get("IntervalSeconds") {
                self.int_range(v, &format!("{iloc}/IntervalSeconds"), 1, MAX_INT, false);
            }
            if let Some(v) = o.get("MaxAttempts") {
                self.int_range(v, &format!("{iloc}/MaxAttempts"), 0, MAX_INT, false);
            }
            if let Some(v) = o.get("MaxDelaySeconds") {
                self.int_range(v, &format!("{iloc}/MaxDelaySeconds"), 1, 31_622_400, false);
            }
            if let Some(v) = o.get("BackoffRate") {
                let bloc = format!("{iloc}/BackoffRate");
                match v.as_f64() {
                    Some(b) if b < 1.0 => self.fail(&bloc, "Value should be greater than or equal to 1.0"),
                    Some(_) => {}
                    None => self.expect_type(&bloc, "NUMBER"),
                }
            }
            if let Some(v) = o.get("JitterStrategy") {
                if !matches!(v.as_str(), Some("FULL" | "NONE")) {
                    self.fail(&format!("{iloc}/JitterStrategy"), "Value should be one of the following: [NONE, FULL]");
                }
            }
        }
    }

    fn catch(&mut self, st: &Map<String, Value>, loc: &str, lang: Lang, info: &mut StateInfo) {
        let Some(c) = st.get("Catch") else { return };
        let cloc = format!("{loc}/Catch");
        let Some(list) = c.as_array() else {
            self.expect_type(&cloc, "ARRAY");
            return;
        };
        for (i, x) in list.iter().enumerate() {
            let iloc = format!("{cloc}[{i}]");
            let Some(o) = x.as_object() else {
                self.expect_type(&iloc, "OBJECT");
                continue;
            };
            for k in o.keys() {
                let k = k.as_str();
                match k {
                    "ErrorEquals" | "Next" | "Comment" | "Assign" => {}
                    "ResultPath" if lang == Lang::JsonPath => {}
                    "Output" if lang == Lang::JsonAta => {}
                    "ResultPath" => self.fail(
                        &iloc,
                        "The QueryLanguage is set to 'JSONata', but field 'ResultPath' is only supported for the 'JSONPath' QueryLanguage",
                    ),
                    "Output" => self.fail(
                        &iloc,
                        "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage",
                    ),
                    _ => self.fail(&iloc, format!("Field '{k}' is not supported")),
                }
            }
            let missing: Vec<&str> = ["ErrorEquals", "Next"].into_iter().filter(|f| !o.contains_key(*f)).collect();
            if !missing.is_empty() {
                self.fail(&iloc, format!("These fields are required: [{}]", missing.join(", ")));
            }
            if o.contains_key("ErrorEquals") {
                self.error_equals(o, &iloc, i + 1 == list.len());
            }
            self.target(o, "Next", &iloc, info);
            self.string_field(o, "Comment", &iloc);
            if lang == Lang::JsonPath {
                if let Some(p) = o.get("ResultPath") {
                    self.path_field(p, "ResultPath", &iloc, PathRule::ResultPath, true);
                }
            } else if let Some(out) = o.get("Output") {
                self.jsonata_value(out, &format!("{iloc}/Output"));
            }
            if let Some(a) = o.get("Assign") {
                self.assign(a, &format!("{iloc}/Assign"), lang);
            }
        }
    }

    /// `ErrorEquals` of a retrier or catcher (`last`: the last of its list).
    fn error_equals(&mut self, o: &Map<String, Value>, loc: &str, last: bool) {
        let eloc = format!("{loc}/ErrorEquals");
        let Some(names) = o.get("ErrorEquals").and_then(Value::as_array) else {
            self.expect_type(&eloc, "ARRAY");
            return;
        };
        if names.is_empty() {
            self.fail(&eloc, "Value cannot be empty");
            return;
        }
        let mut has_all = false;
        for n in names {
            match n.as_str() {
                None => {
                    self.expect_type(&eloc, "STRING");
                    return;
                }
                Some(s) => {
                    if s == "States.ALL" {
                        has_all = true;
                    } else if s.starts_with("States.") && !RESERVED_ERRORS.contains(&s) {
                        self.fail(&eloc, format!("'{s}' is not a valid error name: the prefix 'States.' is reserved"));
                    }
                }
            }
        }
        if has_all && (names.len() > 1 || !last) {
            self.fail(&eloc, "States.ALL must appear alone and at end of list");
        }
    }

    // ----- payloads and paths ----------------------------------------------------------------

    /// A JSONPath payload template (Parameters, ResultSelector, ItemSelector, ...): every
    /// `key.$` must hold a path or an intrinsic function call. Problems are located at the
    /// object holding the key, as AWS locates them.
    fn template(&mut self, v: &Value, loc: &str) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k.ends_with(".$") {
                        let ok = x.as_str().is_some_and(|s| dollar_value_ok(s).is_ok());
                        if !ok {
                            self.fail(
                                loc,
                                format!("The value for the field '{k}' must be a valid JSONPath or a valid intrinsic function call"),
                            );
                        }
                    } else {
                        self.template(x, &format!("{loc}/{k}"));
                    }
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    self.template(x, &format!("{loc}[{i}]"));
                }
            }
            _ => {}
        }
    }

    /// A JSONata payload: every string opening `{%` must close it.
    fn jsonata_value(&mut self, v: &Value, loc: &str) {
        match v {
            Value::String(s) if jsonata::opens_expression(s) && !jsonata::is_expression(s) => {
                self.fail(loc, "JSONata string must start with {% and end with %}");
            }
            Value::Object(m) => {
                for (k, x) in m {
                    self.jsonata_value(x, &format!("{loc}/{k}"));
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    self.jsonata_value(x, &format!("{loc}[{i}]"));
                }
            }
            _ => {}
        }
    }

    /// `Assign`: an object of variable names; in JSONPath its `name.$` keys hold paths or
    /// intrinsic calls, in JSONata its strings may be expressions.
    fn assign(&mut self, v: &Value, loc: &str, lang: Lang) {
        let Some(m) = v.as_object() else {
            self.expect_type(loc, "OBJECT");
            return;
        };
        for k in m.keys() {
            let name = if lang == Lang::JsonPath { k.strip_suffix(".$").unwrap_or(k) } else { k.as_str() };
            if name == "states" {
                self.push("RESERVED_VARIABLE_NAME", loc, "Cannot assign to reserved variable '$states'.");
            } else if !is_variable_name(name) {
                self.push(
                    "INVALID_VARIABLE_NAME",
                    loc,
                    format!("Invalid variable name '{name}': the variable name contains invalid characters."),
                );
            }
        }
        match lang {
            Lang::JsonPath => self.template(v, loc),
            Lang::JsonAta => self.jsonata_value(v, loc),
        }
    }

    /// A path-valued field (`InputPath`, `ResultPath`, `ItemsPath`, `*Path`, `Variable`). The
    /// problem is located at the object holding the field, as AWS locates it.
    fn path_field(&mut self, v: &Value, field: &str, loc: &str, rule: PathRule, nullable: bool) {
        let ok = match v {
            Value::Null => nullable,
            Value::String(s) => path_ok(s, rule),
            _ => false,
        };
        if !ok {
            let what = match rule {
                PathRule::Path => "JSONPath",
                PathRule::Reference | PathRule::ResultPath => "ReferencePath",
            };
            self.fail(loc, format!("The value for the field '{field}' must be a valid {what}"));
        }
    }
}

/// What a state tells the workflow about its transitions.
#[derive(Default)]
struct StateInfo {
    /// `(target, location of the field, field name)`.
    targets: Vec<(String, String, String)>,
    /// A Succeed or Fail state, or one with `"End": true`.
    terminal: bool,
}

/// How strict a path field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathRule {
    /// Any JSONPath: `$`, `$$` or a variable, definite or not.
    Path,
    /// A Reference Path (names and indices only), from `$`, `$$` or a variable.
    Reference,
    /// A Reference Path into the state's own data: from `$` only.
    ResultPath,
}

/// Splits a variable reference `$name.rest` into `(name, rest)`.
fn split_variable(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix('$')?;
    let first = rest.chars().next()?;
    if !(first.is_alphabetic() || first == '_') {
        return None;
    }
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
    Some((&rest[..end], &rest[end..]))
}

fn path_ok(s: &str, rule: PathRule) -> bool {
    let s = s.trim();
    if let Some((_, rest)) = split_variable(s) {
        if rule == PathRule::ResultPath {
            return false;
        }
        if !(rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')) {
            return false;
        }
        return match Path::parse(&format!("${rest}")) {
            Ok(p) => rule == PathRule::Path || p.is_definite(),
            Err(_) => false,
        };
    }
    match Path::parse(s) {
        Ok(p) => match rule {
            PathRule::Path => p.root != Root::Current,
            PathRule::Reference => match p.root {
                Root::Input => p.is_reference(),
                Root::Context | Root::Variable(_) => p.is_definite(),
                Root::Current => false,
            },
            PathRule::ResultPath => p.is_reference(),
        },
        Err(_) => false,
    }
}

/// The value of a `key.$` field: a path (`$...`, `$$...`, a variable) or an intrinsic call.
fn dollar_value_ok(s: &str) -> Result<(), String> {
    if s.starts_with("States.") || crate::intrinsics::is_intrinsic(s) {
        return intrinsic_ok(s);
    }
    if path_ok(s, PathRule::Path) {
        Ok(())
    } else {
        Err(format!("'{s}' is not a valid JSONPath"))
    }
}

fn intrinsic_ok(s: &str) -> Result<(), String> {
    crate::intrinsics::parse(s).map(|_| ()).map_err(|e| e.to_string())
}

/// A variable name: a letter or underscore, then letters, digits and underscores.
fn is_variable_name(s: &str) -> bool {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) if c.is_alphabetic() || c == '_' => cs.all(|c| c.is_alphanumeric() || c == '_'),
        _ => false,
    }
}

/// Control characters: U+0000–001F and U+007F–009F.
fn is_control(c: char) -> bool {
    matches!(c as u32, 0x00..=0x1f | 0x7f..=0x9f)
}

/// The characters a Map Run label must not contain: white space, brackets, wildcards, the
/// special characters AWS lists, and control characters.
fn is_forbidden_label_char(c: char) -> bool {
    c.is_whitespace() || is_control(c) || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
}

/// Python's `repr` of a one-character string, the way the reason text quotes the character.
fn py_repr_char(c: char) -> String {
    match c {
        '\\' => "'\\\\'".to_string(),
        '\'' => "\"'\"".to_string(),
        '\t' => "'\\t'".to_string(),
        '\n' => "'\\n'".to_string(),
        '\r' => "'\\r'".to_string(),
        c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) || c == '\u{ad}' => {
            format!("'\\x{:02x}'", c as u32)
        }
        c if c.is_whitespace() && c != ' ' && (c as u32) <= 0xffff => {
            format!("'\\u{:04x}'", c as u32)
        }
        c => format!("'{c}'"),
    }
}

/// An RFC 3339 date-time as ASL requires it: uppercase `T`, and `Z` or a numeric offset.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(10) != Some(&b'T') {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)) {
        return false;
    }
    if !(digits(11..13) && b[13] == b':' && digits(14..16) && b[16] == b':' && digits(17..19)) {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    let zone = &s[i..];
    let zone_ok = zone == "Z"
        || (zone.len() == 6
            && (zone.starts_with('+') || zone.starts_with('-'))
            && zone.as_bytes()[3] == b':'
            && zone.as_bytes()[1..3].iter().all(u8::is_ascii_digit)
            && zone.as_bytes()[4..6].iter().all(u8::is_ascii_digit));
    zone_ok && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STD: ValidateOptions = ValidateOptions { express: false };
    const EXPRESS: ValidateOptions = ValidateOptions { express: true };

    /// The one message for `def`, or a test failure listing what came back.
    fn message(def: Value, opts: &ValidateOptions) -> String {
        let d = validate(&def, opts);
        assert!(!d.is_empty(), "expected a rejection of {def}");
        aws_message(&d)
    }

    fn ok(def: Value) {
        let d = validate(&def, &STD);
        assert!(d.is_empty(), "expected {def} to be valid, got {}", aws_message(&d));
    }

    fn pass_machine(extra: Value) -> Value {
        let mut st = json!({"Type": "Pass", "End": true});
        if let (Some(s), Some(e)) = (st.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        json!({"StartAt": "S", "States": {"S": st}})
    }

    fn single(state: Value) -> Value {
        json!({"StartAt": "S", "States": {"S": state}})
    }

    // ----- the API -------------------------------------------------------------------------

    #[test]
    fn aws_message_joins_like_aws() {
        let d = vec![
            Diagnostic {
                code: MISSING_TARGET.into(),
                message: "Missing 'Next' target: pass3".into(),
                location: "/States/pass1/Next".into(),
            },
            Diagnostic {
                code: MISSING_TARGET.into(),
                message: "State \"pass2\" is not reachable.".into(),
                location: "/States/pass2".into(),
            },
        ];
        assert_eq!(
            aws_message(&d),
            "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State \"pass2\" is not reachable. at /States/pass2'"
        );
    }

    #[test]
    fn graph_problems_reported_together_in_document_order() {
        let def = json!({"StartAt": "pass1", "States": {
            "pass1": {"Type": "Pass", "Next": "pass3"},
            "pass2": {"Type": "Pass", "End": true}
        }});
        assert_eq!(
            message(def, &STD),
            "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State \"pass2\" is not reachable. at /States/pass2'"
        );
    }

    #[test]
    fn schema_problems_hide_graph_problems() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Nowhere", "Bogus": 1},
            "B": {"Type": "Pass", "End": true}
        }});
        let d = validate(&def, &STD);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "Field 'Bogus' is not supported");
    }

    #[test]
    fn not_an_object_and_missing_top_fields() {
        for v in [json!(null), json!(1), json!("x"), json!([])] {
            assert!(message(v, &STD).contains("Definition must be a valid JSON object"));
        }
        assert_eq!(
            message(json!({}), &STD),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States, StartAt] at /'"
        );
        assert_eq!(
            message(json!({"Comment": "c", "StartAt": "State_1"}), &STD),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'"
        );
        assert!(message(json!({"States": {}}), &STD).contains("These fields are required: [StartAt] at /"));
    }

    #[test]
    fn top_level_fields() {
        ok(json!({"Comment": "c", "Version": "1.0", "TimeoutSeconds": 5, "QueryLanguage": "JSONPath",
                  "StartAt": "S", "States": {"S": {"Type": "Succeed"}}}));
        assert!(message(json!({"StartAt": "S", "Foo": 1, "States": {"S": {"Type": "Succeed"}}}), &STD)
            .contains("Field 'Foo' is not supported at /'"));
        assert!(message(json!({"StartAt": "S", "Version": "2.0", "States": {"S": {"Type": "Succeed"}}}), &STD)
            .contains("Value should be one of the following: [1.0] at /Version"));
        assert!(message(
            json!({"StartAt": "S", "QueryLanguage": "jsonata", "States": {"S": {"Type": "Succeed"}}}),
            &STD
        )
        .contains("Value should be one of the following: [JSONPath, JSONata] at /QueryLanguage"));
    }

    // ----- transitions -----------------------------------------------------------------------

    #[test]
    fn start_at_must_exist() {
        let m = message(json!({"StartAt": "X", "States": {"S": {"Type": "Succeed"}}}), &STD);
        assert!(m.contains("MISSING_TRANSITION_TARGET: Missing 'StartAt' target: X at /StartAt"), "{m}");
    }

    #[test]
    fn next_xor_end() {
        assert!(message(pass_machine(json!({"Next": "S"})), &STD)
            .contains("There should only be one of the following fields: [Next, End] at /States/S"));
        assert!(message(single(json!({"Type": "Pass"})), &STD)
            .contains("This object should have only one of the following fields: [Next, End] at /States/S"));
        assert!(message(single(json!({"Type": "Pass", "End": false})), &STD).contains("[Next, End]"));
        assert!(message(single(json!({"Type": "Succeed", "End": true})), &STD)
            .contains("Field 'End' is not supported at /States/S"));
        assert!(message(single(json!({"Type": "Fail", "Next": "S"})), &STD)
            .contains("Field 'Next' is not supported at /States/S"));
    }

    #[test]
    fn missing_end_state() {
        let def =
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}});
        assert_eq!(
            message(def, &STD),
            "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state at /States'"
        );
    }

    #[test]
    fn catch_and_default_targets_count_for_reachability() {
        ok(json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "C",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "S"}], "Default": "F"},
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "E"}
        }}));
        let m = message(
            json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "S"}], "Default": "Gone"},
                "S": {"Type": "Succeed"}
            }}),
            &STD,
        );
        assert!(m.contains("Missing 'Default' target: Gone at /States/C/Default"), "{m}");
    }

    #[test]
    fn targets_are_scoped_to_their_block() {
        let def = json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "P"}}}
            ]}
        }});
        assert!(message(def, &STD).contains("Missing 'Next' target: P at /States/P/Branches[0]/States/A/Next"));
        let def = json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "A", "States": {
                "A": {"Type": "Pass", "End": true}, "B": {"Type": "Pass", "End": true}}}}
        }});
        assert!(message(def, &STD).contains("State \"B\" is not reachable. at /States/M/ItemProcessor/States/B"));
    }

    #[test]
    fn state_names() {
        let long = "x".repeat(81);
        let def = json!({"StartAt": long.clone(), "States": {long: {"Type": "Succeed"}}});
        assert!(message(def, &STD).contains("INVALID_STATE_NAME"));
        ok(json!({"StartAt": "Hello World", "States": {"Hello World": {"Type": "Succeed"}}}));
        let eighty = "y".repeat(80);
        ok(json!({"StartAt": eighty.clone(), "States": {eighty: {"Type": "Succeed"}}}));
    }

    // ----- state types -----------------------------------------------------------------------

    #[test]
    fn type_required_and_known() {
        assert!(message(single(json!({"End": true})), &STD).contains("These fields are required: [Type] at /States/S"));
        assert_eq!(
            message(single(json!({"Type": "Nope", "End": true})), &STD),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map] at /States/S/Type'"
        );
    }

    #[test]
    fn fields_not_supported_by_the_type() {
        assert!(message(pass_machine(json!({"TimeoutSeconds": 5})), &STD)
            .contains("Field 'TimeoutSeconds' is not supported at /States/S"));
        assert!(message(pass_machine(json!({"Retry": []})), &STD).contains("Field 'Retry' is not supported"));
        assert!(
            message(single(json!({"Type": "Succeed", "Assign": {}})), &STD).contains("Field 'Assign' is not supported")
        );
    }

    #[test]
    fn task_resource_and_timeouts() {
        let task = |extra: Value| {
            let mut t =
                json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f", "End": true});
            if let (Some(s), Some(e)) = (t.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    s.insert(k.clone(), v.clone());
                }
            }
            single(t)
        };
        ok(task(json!({"TimeoutSeconds": 10, "HeartbeatSeconds": 5})));
        assert!(message(single(json!({"Type": "Task", "End": true})), &STD)
            .contains("These fields are required: [Resource] at /States/S"));
        assert!(message(task(json!({"TimeoutSeconds": 0})), &STD)
            .contains("Value should be greater than or equal to 1 at /States/S/TimeoutSeconds"));
        assert!(message(task(json!({"HeartbeatSeconds": -1})), &STD).contains("/States/S/HeartbeatSeconds"));
        assert!(message(task(json!({"TimeoutSeconds": 5, "HeartbeatSeconds": 5})), &STD)
            .contains("HeartbeatSeconds must be smaller"));
        assert!(message(task(json!({"TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t"})), &STD)
            .contains("There should only be one of the following fields: [TimeoutSeconds, TimeoutSecondsPath]"));
        assert!(message(task(json!({"TimeoutSeconds": "5"})), &STD).contains("Expected value of type [INTEGER]"));
        assert!(message(task(json!({"Resource": "not-an-arn"})), &STD).contains("Value is not a valid resource ARN"));
    }

    #[test]
    fn unrecognized_integrations() {
        let t = |r: &str| single(json!({"Type": "Task", "Resource": r, "End": true}));
        assert_eq!(
            message(t("arn:aws:states:::dynamodb:query"), &STD),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided arn:aws:states:::dynamodb:query is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at /States/S/Resource'"
        );
        assert!(message(t("arn:aws:states:::lambda:invoke.sync"), &STD).contains("is not recognized"));
        assert!(message(t("arn:aws:states:::aws-sdk:s3:listBuckets.sync"), &STD).contains("is not recognized"));
        for good in [
            "arn:aws:states:::lambda:invoke",
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "arn:aws:states:::states:startExecution.sync:2",
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "arn:aws:states:::aws-sdk:s3:listBuckets.waitForTaskToken",
            "arn:aws:states:::ecs:runTask.sync",
            "arn:aws:states:::glue:startJobRun.sync",
            "arn:aws:states:us-east-1:111111111111:activity:a",
        ] {
            ok(t(good));
        }
    }

    #[test]
    fn express_restrictions() {
        let t = |r: &str| single(json!({"Type": "Task", "Resource": r, "End": true}));
        assert_eq!(
            message(t("arn:aws:states:::sns:publish.waitForTaskToken"), &EXPRESS),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support '.waitForTaskToken' service integration  at /States/S/Resource'"
        );
        assert_eq!(
            message(t("arn:aws:states:::states:startExecution.sync:2"), &EXPRESS),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support '.sync' service integration at /States/S/Resource'"
        );
        assert!(message(t("arn:aws:states:us-east-1:1:activity:a"), &EXPRESS).contains("Activity ARN"));
        assert!(validate(&t("arn:aws:states:::sns:publish"), &EXPRESS).is_empty());
    }

    #[test]
    fn credentials() {
        let t = |c: Value| {
            single(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Credentials": c, "End": true}))
        };
        ok(t(json!({"RoleArn": "arn:aws:iam::1:role/r"})));
        ok(t(json!({"RoleArn.$": "$.role"})));
        for bad in [json!({}), json!({"InvalidField": "invalid"})] {
            assert_eq!(
                message(t(bad), &STD),
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field 'RoleArn' is required but was missing at /States/S/Credentials'"
            );
        }
        assert!(message(t(json!({"RoleArn": "r", "Other": 1})), &STD)
            .contains("Field 'Other' is not supported at /States/S/Credentials"));
        assert!(message(t(json!({"RoleArn.$": "nope"})), &STD).contains("'RoleArn.$' must be a valid JSONPath"));
    }

    #[test]
    fn wait_fields() {
        ok(single(json!({"Type": "Wait", "Seconds": 0, "End": true})));
        ok(single(json!({"Type": "Wait", "Timestamp": "2016-03-05T21:29:29.243167252Z", "End": true})));
        ok(single(json!({"Type": "Wait", "Timestamp": "2016-03-14T01:59:00+01:00", "End": true})));
        ok(single(json!({"Type": "Wait", "TimestampPath": "$startAt", "End": true})));
        for bad in [
            "2016-12-05 21:29:29Z",
            "2016-12-05T21:29:29",
            "2016-13-05T21:29:29Z",
            "2016-12-05T25:29:29Z",
            "05-12-2016T21:29:29Z",
            "{% '2016-03-14T01:59:00Z' %}",
        ] {
            assert_eq!(
                message(single(json!({"Type": "Wait", "Timestamp": bad, "End": true})), &STD),
                "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: String does not match RFC3339 timestamp at /States/S/Timestamp'",
                "{bad}"
            );
        }
        assert!(message(single(json!({"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true})), &STD)
            .contains(
                "There should only be one of the following fields: [SecondsPath, Seconds, TimestampPath, Timestamp]"
            ));
        assert!(message(single(json!({"Type": "Wait", "End": true})), &STD)
            .contains("This object should have only one of the following fields"));
        assert!(
            message(single(json!({"Type": "Wait", "Seconds": -1, "End": true})), &STD).contains("/States/S/Seconds")
        );
    }

    #[test]
    fn choice_rules() {
        let c = |choices: Value| json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": choices, "Default": "S"}, "S": {"Type": "Succeed"}}});
        ok(c(
            json!([{"And": [{"Variable": "$.a", "IsNull": false}, {"Not": {"Variable": "$.b", "StringMatches": "x*"}}], "Next": "S"}]),
        ));
        ok(c(json!([{"Variable": "$guess", "NumericEqualsPath": "$.answer", "Next": "S", "Assign": {"x": 1}}])));
        assert!(message(c(json!([])), &STD).contains("Value cannot be empty at /States/C/Choices"));
        assert!(message(c(json!([{"Variable": "$.a", "IsNull": true}])), &STD)
            .contains("These fields are required: [Next] at /States/C/Choices[0]"));
        assert!(message(c(json!([{"Variable": "$.a", "IsNull": true, "IsString": true, "Next": "S"}])), &STD)
            .contains("There should only be one of the following fields: [IsNull, IsString]"));
        assert!(message(c(json!([{"Variable": "$.a", "Next": "S"}])), &STD).contains("requires a comparison operator"));
        assert!(
            message(c(json!([{"IsNull": true, "Next": "S"}])), &STD).contains("[And, Or, Not, Variable, Condition]")
        );
        assert!(message(c(json!([{"Not": {"Variable": "$.a", "IsNull": true, "Next": "S"}, "Next": "S"}])), &STD)
            .contains("Field 'Next' is not supported at /States/C/Choices[0]/Not"));
        assert!(message(c(json!([{"And": [], "Next": "S"}])), &STD)
            .contains("Value cannot be empty at /States/C/Choices[0]/And"));
        assert!(message(c(json!([{"Variable": "$.a", "NumericEquals": "1", "Next": "S"}])), &STD)
            .contains("Expected value of type [NUMBER]"));
        assert!(message(c(json!([{"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "S"}])), &STD)
            .contains("RFC3339"));
        assert!(message(c(json!([{"Variable": "a", "IsNull": true, "Next": "S"}])), &STD)
            .contains("'Variable' must be a valid JSONPath"));
        assert!(message(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Default": "C"}}}), &STD)
            .contains("These fields are required: [Choices]"));
    }

    #[test]
    fn retry_and_catch() {
        let t = |retry: Value, catch: Value| {
            json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true, "Retry": retry, "Catch": catch},
            "F": {"Type": "Fail"}}})
        };
        ok(t(
            json!([{"ErrorEquals": ["States.Timeout", "Custom"], "IntervalSeconds": 1, "MaxAttempts": 0, "BackoffRate": 1.0, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"},
                   {"ErrorEquals": ["States.ALL"]}]),
            json!([{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": "$.e"}]),
        ));
        let catch_ok = json!([{"ErrorEquals": ["States.ALL"], "Next": "F"}]);
        let m = |retry: Value| message(t(retry, catch_ok.clone()), &STD);
        assert!(m(json!([{"ErrorEquals": ["E"], "MaxAttempts": -1}])).contains("/States/T/Retry[0]/MaxAttempts"));
        assert!(m(json!([{"ErrorEquals": ["E"], "IntervalSeconds": 0}])).contains("/States/T/Retry[0]/IntervalSeconds"));
        assert!(m(json!([{"ErrorEquals": ["E"], "BackoffRate": 0.5}]))
            .contains("greater than or equal to 1.0 at /States/T/Retry[0]/BackoffRate"));
        assert!(m(json!([{"ErrorEquals": ["E"], "MaxDelaySeconds": 0}])).contains("/States/T/Retry[0]/MaxDelaySeconds"));
        assert!(m(json!([{"ErrorEquals": ["E"], "JitterStrategy": "HALF"}]))
            .contains("Value should be one of the following: [NONE, FULL]"));
        assert!(m(json!([{"ErrorEquals": []}])).contains("Value cannot be empty at /States/T/Retry[0]/ErrorEquals"));
        assert!(m(json!([{}])).contains("These fields are required: [ErrorEquals] at /States/T/Retry[0]"));
        assert!(m(json!([{"ErrorEquals": ["States.ALL", "E"]}]))
            .contains("States.ALL must appear alone and at end of list"));
        assert!(m(json!([{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}]))
            .contains("States.ALL must appear alone"));
        assert!(m(json!([{"ErrorEquals": ["States.Bogus"]}])).contains("'States.Bogus' is not a valid error name"));
        ok(t(json!([{"ErrorEquals": ["State.ALL", "States.DataLimitExceeded", "States.Runtime"]}]), catch_ok.clone()));
        assert!(message(t(json!([]), json!([{"ErrorEquals": ["E"]}])), &STD)
            .contains("These fields are required: [Next] at /States/T/Catch[0]"));
        assert!(message(t(json!([]), json!([{"ErrorEquals": ["E"], "Next": "F", "ResultPath": "$.a[*]"}])), &STD)
            .contains("'ResultPath' must be a valid ReferencePath at /States/T/Catch[0]"));
    }

    #[test]
    fn paths() {
        ok(pass_machine(json!({"InputPath": "$$.Execution.Input", "OutputPath": "$.a[*].b", "ResultPath": null})));
        ok(pass_machine(json!({"InputPath": "$theAnswer", "OutputPath": "$errorVar", "ResultPath": "$.a[0].b"})));
        assert_eq!(
            message(pass_machine(json!({"InputPath": "a.b"})), &STD),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The value for the field 'InputPath' must be a valid JSONPath at /States/S'"
        );
        for bad in ["$.a[*]", "$..a", "$$.Execution", "$var", "x"] {
            assert!(
                message(pass_machine(json!({"ResultPath": bad})), &STD)
                    .contains("'ResultPath' must be a valid ReferencePath"),
                "{bad}"
            );
        }
        let map = |items_path: &str| {
            single(json!({"Type": "Map", "End": true, "ItemsPath": items_path,
            "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}}))
        };
        ok(map("$items"));
        ok(map("$$.Execution.Input.list"));
        assert!(message(map("$.a[?(@.x)]"), &STD).contains("'ItemsPath' must be a valid ReferencePath"));
    }

    #[test]
    fn payload_templates() {
        ok(pass_machine(
            json!({"Parameters": {"a.$": "$.x", "b": {"c.$": "States.Format('{}', $.y)"}, "d.$": "$$.Map.Item.Value", "e.$": "$var.f"}}),
        ));
        assert_eq!(
            message(pass_machine(json!({"Parameters": {"parsed.$": "States.StringToJson('{\"text\":\"An \\\"escaped\\\" here\"}')"}})), &STD),
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The value for the field 'parsed.$' must be a valid JSONPath or a valid intrinsic function call at /States/S/Parameters'"
        );
        assert!(message(pass_machine(json!({"Parameters": {"b": {"c.$": "nope"}}})), &STD)
            .contains("The value for the field 'c.$' must be a valid JSONPath or a valid intrinsic function call at /States/S/Parameters/b"));
        assert!(message(pass_machine(json!({"Parameters": {"c.$": 1}})), &STD).contains("'c.$'"));
        assert!(message(pass_machine(json!({"Parameters": {"c.$": "States.Nope("}})), &STD).contains("'c.$'"));
    }

    #[test]
    fn assign() {
        ok(pass_machine(json!({"Assign": {"x": 1, "y.$": "$.a", "_z": "s"}})));
        assert!(message(pass_machine(json!({"Assign": {"y.$": "a"}})), &STD).contains("'y.$'"));
        assert!(message(pass_machine(json!({"Assign": {"bad-name": 1}})), &STD).contains("INVALID_VARIABLE_NAME"));
        assert!(message(pass_machine(json!({"Assign": {"states": 1}})), &STD).contains("RESERVED_VARIABLE_NAME"));
    }

    #[test]
    fn fail_state() {
        ok(single(json!({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('{}', $.c)"})));
        assert!(message(single(json!({"Type": "Fail", "Error": "e", "ErrorPath": "$.e"})), &STD)
            .contains("There should only be one of the following fields: [Error, ErrorPath]"));
        assert!(message(single(json!({"Type": "Fail", "CausePath": "c"})), &STD).contains("'CausePath'"));
    }

    #[test]
    fn parallel_and_map_structure() {
        assert!(message(single(json!({"Type": "Parallel", "End": true})), &STD)
            .contains("These fields are required: [Branches]"));
        assert!(message(single(json!({"Type": "Parallel", "End": true, "Branches": []})), &STD)
            .contains("Value cannot be empty at /States/S/Branches"));
        assert!(message(single(json!({"Type": "Parallel", "End": true, "Branches": [{"StartAt": "A"}]})), &STD)
            .contains("These fields are required: [States] at /States/S/Branches[0]"));
        assert!(message(single(json!({"Type": "Map", "End": true})), &STD)
            .contains("This object should have only one of the following fields: [ItemProcessor, Iterator]"));
        let map = |extra: Value| {
            let mut m = json!({"Type": "Map", "End": true,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "A",
                                  "States": {"A": {"Type": "Pass", "End": true}}}});
            if let (Some(s), Some(e)) = (m.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    s.insert(k.clone(), v.clone());
                }
            }
            single(m)
        };
        ok(map(
            json!({"MaxConcurrency": 0, "ToleratedFailurePercentage": 0.5, "ToleratedFailureCount": 3, "Label": "TestMap"}),
        ));
        assert!(message(map(json!({"MaxConcurrency": -1})), &STD).contains("/States/S/MaxConcurrency"));
        assert!(message(map(json!({"ToleratedFailurePercentage": 101})), &STD)
            .contains("/States/S/ToleratedFailurePercentage"));
        assert!(message(map(json!({"MaxConcurrency": 1, "MaxConcurrencyPath": "$.m"})), &STD)
            .contains("[MaxConcurrency, MaxConcurrencyPath]"));
        let cfg = |c: Value| {
            single(json!({"Type": "Map", "End": true, "ItemProcessor": {"ProcessorConfig": c, "StartAt": "A",
            "States": {"A": {"Type": "Pass", "End": true}}}}))
        };
        assert!(message(cfg(json!({"Mode": "SOMETIMES"})), &STD).contains("[INLINE, DISTRIBUTED]"));
        assert!(
            message(cfg(json!({"Mode": "DISTRIBUTED"})), &STD).contains("These fields are required: [ExecutionType]")
        );
        assert!(message(cfg(json!({"Mode": "INLINE", "ExecutionType": "STANDARD"})), &STD)
            .contains("Field 'ExecutionType' is not supported"));
    }

    #[test]
    fn map_labels() {
        let map = |label: &str| {
            single(json!({"Type": "Map", "End": true, "Label": label,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "A",
                              "States": {"A": {"Type": "Pass", "End": true}}}}))
        };
        assert!(message(map(""), &STD).contains("INVALID_LABEL_NAME: Label cannot be empty at /States/S/Label"));
        assert!(message(map(&"1".repeat(41)), &STD).contains("Label cannot exceed 40 characters"));
        ok(map(&"1".repeat(40)));
        for (c, shown) in [
            (' ', "' '"),
            ('?', "'?'"),
            ('\\', "'\\\\'"),
            ('"', "'\"'"),
            ('\u{0}', "'\\x00'"),
            ('\t', "'\\t'"),
            ('\u{8b}', "'\\x8b'"),
        ] {
            let m = message(map(&format!("label_{c}")), &STD);
            assert!(m.contains(&format!("Label contains invalid character: {shown}")), "{m}");
        }
    }

    #[test]
    fn jsonata_machines() {
        ok(json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"Payload": "{% $states.input %}"},
                  "Output": "{% $states.result.Payload %}", "Assign": {"x": "{% 1 %}"}, "TimeoutSeconds": "{% $t %}", "Next": "C",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "Output": "{% $states.errorOutput %}"}]},
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $x = 1 %}", "Next": "W"}], "Default": "M"},
            "W": {"Type": "Wait", "Timestamp": "{% $states.input.ts %}", "Next": "M"},
            "M": {"Type": "Map", "Items": "{% [1,2] %}", "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}"},
                  "MaxConcurrency": "{% 1 %}", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true},
            "F": {"Type": "Fail", "Error": "{% 'E' %}"}
        }}));
        let m = message(
            json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {"Type": "Pass", "InputPath": "$.a", "End": true}}}),
            &STD,
        );
        assert!(m.contains("The QueryLanguage is set to 'JSONata', but field 'InputPath' is only supported for the 'JSONPath' QueryLanguage at /States/S"), "{m}");
        let m = message(json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "Output": {}, "End": true}}}), &STD);
        assert!(m.contains("field 'Output' is only supported for the 'JSONata' QueryLanguage"), "{m}");
        let m = message(
            json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}),
            &STD,
        );
        assert!(
            m.contains(
                "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine at /States/S"
            ),
            "{m}"
        );
        ok(
            json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "End": true}}}),
        );
        let m = message(
            json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": {"Type": "Pass", "Output": {"a": "{% 1 "}, "End": true}}}),
            &STD,
        );
        assert!(m.contains("JSONata string must start with {% and end with %} at /States/S/Output/a"), "{m}");
        let m = message(
            json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "S"}]}, "S": {"Type": "Succeed"}}}),
            &STD,
        );
        assert!(m.contains("field 'Variable' is only supported for the 'JSONPath' QueryLanguage"), "{m}");
        assert!(m.contains("These fields are required: [Condition]"), "{m}");
    }

    // ----- robustness --------------------------------------------------------------------------

    /// Every node of a definition replaced, in turn, by values of every JSON type.
    fn mutations(v: &Value, out: &mut Vec<Value>, root: &Value, path: &mut Vec<PathStep>) {
        let replacements = [
            json!(null),
            json!(true),
            json!(-1),
            json!(1.5),
            json!(""),
            json!("$"),
            json!("{%"),
            json!("States.Format("),
            json!([]),
            json!({}),
        ];
        for r in &replacements {
            let mut copy = root.clone();
            if let Some(slot) = walk_mut(&mut copy, path) {
                *slot = r.clone();
                out.push(copy);
            }
        }
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    path.push(PathStep::Key(k.clone()));
                    mutations(x, out, root, path);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    path.push(PathStep::Index(i));
                    mutations(x, out, root, path);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    #[derive(Clone)]
    enum PathStep {
        Key(String),
        Index(usize),
    }

    fn walk_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
        let mut cur = v;
        for step in path {
            cur = match (step, cur) {
                (PathStep::Key(k), Value::Object(m)) => m.get_mut(k)?,
                (PathStep::Index(i), Value::Array(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    #[test]
    fn arbitrary_json_never_panics() {
        let seeds = [
            json!({"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "C", "TimeoutSeconds": 5, "HeartbeatSeconds": 1,
                      "Credentials": {"RoleArn": "r"}, "Parameters": {"a.$": "$.x", "l": [{"b.$": "States.Array(1)"}]},
                      "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}], "Catch": [{"ErrorEquals": ["E"], "Next": "F", "ResultPath": "$.e"}]},
                "C": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.a", "IsNull": true}], "Next": "W"}], "Default": "F"},
                "W": {"Type": "Wait", "Timestamp": "2020-01-01T00:00:00Z", "Next": "M"},
                "M": {"Type": "Map", "ItemsPath": "$.l", "Label": "L", "MaxConcurrency": 1,
                      "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV"}},
                      "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
                                        "States": {"P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}]}}},
                      "End": true},
                "F": {"Type": "Fail", "Error": "e"}}}),
            json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {
                "S": {"Type": "Pass", "Output": {"a": "{% 1 %}"}, "Assign": {"v": [1, "{% 2 %}"]}, "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Condition": true, "Next": "E", "Output": 1}]},
                "E": {"Type": "Succeed"}}}),
        ];
        let mut all = Vec::new();
        for s in &seeds {
            mutations(s, &mut all, s, &mut Vec::new());
        }
        assert!(all.len() > 500);
        for def in &all {
            let _ = aws_message(&validate(def, &STD));
            let _ = validate(def, &EXPRESS);
        }
        for text in [
            "$[",
            "$.a[?(@.b =~ /x",
            "$['",
            "$$$",
            "$.",
            "$[?(",
            "$[1:2:",
            "States.",
            "States.Format('\\",
            "$[\"a\\",
            "$[?(@.a =~ /\\",
            "$[?(@.a =~ /x/",
            "$[?(@.a in [1,",
            "$..",
            "$$.",
            "$\u{e9}t\u{e9}",
            "States.Array($.a, 'x\\",
        ] {
            let _ = validate(&pass_machine(json!({"Parameters": {"x.$": text}, "InputPath": text})), &STD);
            let _ = validate(&pass_machine(json!({"ResultPath": text})), &STD);
        }
    }
}
