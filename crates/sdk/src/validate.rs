//! Checks a value against what an action answers, by the service's model and its validation
//! constraints: the TestState API's check of a mocked result (`fieldValidationMode` STRICT:
//! required fields too; PRESENT: only the fields given), with AWS's messages (`Field
//! 'MemorySize' is less than the minimum value`, `Required field 'ExecutionArn' is missing`).
//!
//! Field names are Step Functions': the model's member names with an upper-case first letter
//! (`ExecutionArn` for Step Functions' own `executionArn`), matched exactly; fields the model
//! does not know are let through, as AWS does. The constraints (required members, enums,
//! lengths, ranges) of the shapes an output reaches are kept apart from the models
//! (`models/constraints.json.deflate`, `scripts/gen_service_models.py --constraints`), so
//! that callers of services never inflate them.

use crate::model::{self, Service, Shape};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

static CONSTRAINTS: &[u8] = include_bytes!("../models/constraints.json.deflate");

/// A shape's constraints: required members, minimum, maximum, enum values.
#[derive(Debug, Default)]
struct Constraint {
    required: Vec<String>,
    min: Option<f64>,
    max: Option<f64>,
    values: Vec<String>,
}

type Constraints = HashMap<String, Constraint>;

fn constraints(id: &str) -> Option<Arc<Constraints>> {
    type Index = (HashMap<String, (usize, usize)>, usize);
    static INDEX: OnceLock<Index> = OnceLock::new();
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Constraints>>>> = OnceLock::new();
    let (idx, base) = INDEX.get_or_init(|| {
        let end = CONSTRAINTS.iter().position(|b| *b == b'\n').unwrap_or(0);
        (serde_json::from_slice(&CONSTRAINTS[..end]).unwrap_or_default(), end + 1)
    });
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(c) = cache.lock().ok()?.get(id) {
        return Some(c.clone());
    }
    let (offset, len) = *idx.get(id)?;
    let blob = CONSTRAINTS.get(base + offset..base + offset + len)?;
    let text = miniz_oxide::inflate::decompress_to_vec(blob).ok()?;
    let doc: HashMap<String, Vec<Value>> = serde_json::from_slice(&text).ok()?;
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default()
    };
    let parsed: Constraints = doc
        .into_iter()
        .map(|(name, e)| {
            let c = Constraint {
                required: strings(e.first()),
                min: e.get(1).and_then(Value::as_f64),
                max: e.get(2).and_then(Value::as_f64),
                values: strings(e.get(3)),
            };
            (name, c)
        })
        .collect();
    let parsed = Arc::new(parsed);
    cache.lock().ok()?.insert(id.to_string(), parsed.clone());
    Some(parsed)
}

/// The service and action a Task's Resource calls, when its result has a model: `aws-sdk:*`
/// and the optimized integrations (`lambda:invoke`, `dynamodb:*`, `events:putEvents`,
/// `states:startExecution`, `sqs:sendMessage`, `sns:publish`, ...). `None` for what has none
/// (`.sync` tasks, whose result is another action's, API Gateway, HTTP, bare Lambda ARNs).
pub fn action_of(resource: &str) -> Option<(String, String)> {
    let i = resource.find(":states:::")?;
    let rest = &resource[i + ":states:::".len()..];
    if rest.contains(".sync") {
        return None;
    }
    let rest = rest.strip_suffix(".waitForTaskToken").unwrap_or(rest);
    let mut parts = rest.split(':');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next());
    let (service, action) = match (a, c) {
        ("aws-sdk", Some(action)) => (b, action),
        ("events", None) => ("eventbridge", b),
        ("states", None) => ("sfn", b),
        ("apigateway" | "http" | "eks", None) => return None,
        (service, None) => (service, b),
        _ => return None,
    };
    Some((service.to_string(), action.to_string()))
}

/// Checks `value` against the output of the action `resource` calls; `Ok` when there is no
/// model to check with.
pub fn check_result(resource: &str, value: &Value, strict: bool) -> Result<(), String> {
    let Some((service, action)) = action_of(resource) else { return Ok(()) };
    let Some(svc) = model::service(&service) else { return Ok(()) };
    let Some(output) = svc.operation(&action).and_then(|op| op.output.clone()) else { return Ok(()) };
    let cons = constraints(&service).unwrap_or_default();
    let lambda_invoke = service == "lambda" && action.eq_ignore_ascii_case("invoke");
    Checker { svc: &svc, cons: &cons, strict, lambda_invoke }.shape(&output, value, "")
}

/// Step Functions' name of a model member.
fn sfn_name(member: &str) -> String {
    let mut cs = member.chars();
    match cs.next() {
        Some(first) => first.to_uppercase().chain(cs).collect(),
        None => String::new(),
    }
}

struct Checker<'a> {
    svc: &'a Service,
    cons: &'a Constraints,
    strict: bool,
    /// `lambda:invoke`: Step Functions gives the function's answer (`Payload`) as JSON.
    lambda_invoke: bool,
}

impl Checker<'_> {
    fn shape(&self, name: &str, v: &Value, field: &str) -> Result<(), String> {
        let Some(shape) = self.svc.shape(name) else { return Ok(()) };
        let c = self.cons.get(name);
        let bad = |what: &str| Err(format!("Field '{field}' {what}"));
        match shape {
            Shape::Structure { members, .. } => {
                let Some(obj) = v.as_object() else { return bad("must be an object") };
                if self.strict {
                    for r in c.map(|c| c.required.as_slice()).unwrap_or_default() {
                        let key = sfn_name(r);
                        if !obj.contains_key(&key) {
                            return Err(format!("Required field '{key}' is missing"));
                        }
                    }
                }
                for m in members {
                    let key = sfn_name(&m.name);
                    if let Some(x) = obj.get(&key) {
                        if self.lambda_invoke && key == "Payload" {
                            continue;
                        }
                        self.shape(&m.shape, x, &key)?;
                    }
                }
                Ok(())
            }
            Shape::List { member, .. } => {
                let Some(items) = v.as_array() else { return bad("must be an array") };
                self.range(c, items.len() as f64, field, true)?;
                items.iter().try_for_each(|x| self.shape(member, x, field))
            }
            Shape::Map { value, .. } => {
                let Some(obj) = v.as_object() else { return bad("must be an object") };
                obj.values().try_for_each(|x| self.shape(value, x, field))
            }
            Shape::Scalar { ty, .. } => match ty.as_str() {
                "string" | "blob" | "timestamp" => {
                    let Some(s) = v.as_str() else { return bad("must be a string") };
                    if let Some(c) = c.filter(|c| !c.values.is_empty()) {
                        if !c.values.iter().any(|x| x == s) {
                            return bad("is not an expected value");
                        }
                    }
                    if ty == "timestamp" {
                        return Ok(());
                    }
                    self.range(c, s.chars().count() as f64, field, true)
                }
                "integer" | "long" | "float" | "double" => {
                    let Some(n) = v.as_f64() else { return bad("must be a number") };
                    self.range(c, n, field, false)
                }
                "boolean" => match v {
                    Value::Bool(_) => Ok(()),
                    _ => bad("must be a boolean"),
                },
                _ => Ok(()),
            },
        }
    }

    /// A length (strings, blobs, lists) or a value against the shape's min and max.
    fn range(&self, c: Option<&Constraint>, x: f64, field: &str, length: bool) -> Result<(), String> {
        let Some(c) = c else { return Ok(()) };
        if c.min.is_some_and(|min| x < min) {
            let what = if length { "is smaller than the minimum length" } else { "is less than the minimum value" };
            return Err(format!("Field '{field}' {what}"));
        }
        if c.max.is_some_and(|max| x > max) {
            let what = if length { "is larger than the maximum length" } else { "exceeds the maximum value" };
            return Err(format!("Field '{field}' {what}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KMS: &str = "arn:aws:states:::aws-sdk:kms:encrypt";
    const START: &str = "arn:aws:states:::states:startExecution";

    #[test]
    fn mocked_results_are_checked_as_aws_checks_them() {
        let e = |r: &str, v: Value, strict: bool| check_result(r, &v, strict).err();
        assert_eq!(
            e(KMS, json!({"CiphertextBlob": ""}), true).as_deref(),
            Some("Field 'CiphertextBlob' is smaller than the minimum length")
        );
        assert_eq!(
            e(KMS, json!({"CiphertextBlob": 123}), true).as_deref(),
            Some("Field 'CiphertextBlob' must be a string")
        );
        let get_function = "arn:aws:states:::aws-sdk:lambda:getFunction";
        assert_eq!(
            e(get_function, json!({"Configuration": {"MemorySize": 127}}), false).as_deref(),
            Some("Field 'MemorySize' is less than the minimum value")
        );
        assert_eq!(
            e(get_function, json!({"Configuration": {"MemorySize": 32769}}), true).as_deref(),
            Some("Field 'MemorySize' exceeds the maximum value")
        );
        let get_object = "arn:aws:states:::aws-sdk:s3:getObject";
        assert_eq!(
            e(get_object, json!({"StorageClass": "Papyrus"}), true).as_deref(),
            Some("Field 'StorageClass' is not an expected value")
        );
        assert_eq!(
            e(get_object, json!({"ContentLength": "9000"}), true).as_deref(),
            Some("Field 'ContentLength' must be a number")
        );
        let put_events = "arn:aws:states:::events:putEvents";
        assert_eq!(
            e(put_events, json!({"Entries": [{"EventId": "a"}, {"EventId": ["b"]}]}), true).as_deref(),
            Some("Field 'EventId' must be a string")
        );
        assert_eq!(e(put_events, json!({"random": "json"}), true), None);
        assert_eq!(
            e(START, json!({"executionArn": "x", "startDate": "y"}), true).as_deref(),
            Some("Required field 'ExecutionArn' is missing")
        );
        assert_eq!(e(START, json!({"executionArn": "x"}), false), None);
        assert_eq!(
            e(START, json!({"ExecutionArn": "x", "StartDate": true}), true).as_deref(),
            Some("Field 'StartDate' must be a string")
        );
        assert_eq!(
            e("arn:aws:states:::lambda:invoke", json!({"StatusCode": "200"}), true).as_deref(),
            Some("Field 'StatusCode' must be a number")
        );
        assert_eq!(e("arn:aws:states:::lambda:invoke", json!({"StatusCode": 200, "Payload": {"a": 1}}), true), None);
        assert_eq!(e("arn:aws:states:::apigateway:invoke", json!({"anything": 1}), true), None);
    }
}
