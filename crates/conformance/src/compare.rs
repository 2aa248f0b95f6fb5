//! JSON value comparison as the corpus README prescribes: structural equality, key order
//! irrelevant, numbers equal when their values are equal (`1 == 1.0`).

use serde_json::{Number, Value};

/// Numbers equal by value. Integers are compared exactly; anything involving a float by `f64`.
pub fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Structural JSON equality with numbers compared by value.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    first_diff(a, b).is_none()
}

/// The first place where `expected` and `actual` differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// JSONPath-like location, e.g. `$.a[0].b`.
    pub path: String,
    /// The expected value there (`None`: the key is absent from the expectation).
    pub expected: Option<Value>,
    /// The actual value there (`None`: the key is absent from ours).
    pub actual: Option<Value>,
}

impl Diff {
    /// A one-line description, each value shown at most `max` characters.
    pub fn describe(&self, max: usize) -> String {
        let show = |v: &Option<Value>| match v {
            None => "<absent>".to_string(),
            Some(v) => truncate(&v.to_string(), max),
        };
        format!("at {}: expected {}, got {}", self.path, show(&self.expected), show(&self.actual))
    }
}

/// Find the first difference between `expected` and `actual` (depth first, expected's key
/// order first; then keys only in `actual`).
pub fn first_diff(expected: &Value, actual: &Value) -> Option<Diff> {
    first_diff_by(expected, actual, &|e, a| e == a)
}

/// Like [`first_diff`], with strings compared by `str_eq(expected, actual)`.
pub fn first_diff_by(expected: &Value, actual: &Value, str_eq: &dyn Fn(&str, &str) -> bool) -> Option<Diff> {
    let mut path = String::from("$");
    diff_at(expected, actual, &mut path, str_eq)
}

fn diff_at(e: &Value, a: &Value, path: &mut String, str_eq: &dyn Fn(&str, &str) -> bool) -> Option<Diff> {
    let here = |path: &String| Some(Diff { path: path.clone(), expected: Some(e.clone()), actual: Some(a.clone()) });
    match (e, a) {
        (Value::Null, Value::Null) => None,
        (Value::Bool(x), Value::Bool(y)) if x == y => None,
        (Value::String(x), Value::String(y)) if str_eq(x, y) => None,
        (Value::Number(x), Value::Number(y)) if numbers_equal(x, y) => None,
        (Value::Array(x), Value::Array(y)) => {
            for (i, (ex, ac)) in x.iter().zip(y.iter()).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let d = diff_at(ex, ac, path, str_eq);
                path.truncate(len);
                if d.is_some() {
                    return d;
                }
            }
            if x.len() != y.len() {
                let i = x.len().min(y.len());
                let p = format!("{path}[{i}]");
                return Some(Diff { path: p, expected: x.get(i).cloned(), actual: y.get(i).cloned() });
            }
            None
        }
        (Value::Object(x), Value::Object(y)) => {
            for (k, ev) in x {
                let len = path.len();
                push_key(path, k);
                let d = match y.get(k) {
                    Some(av) => diff_at(ev, av, path, str_eq),
                    None => Some(Diff { path: path.clone(), expected: Some(ev.clone()), actual: None }),
                };
                path.truncate(len);
                if d.is_some() {
                    return d;
                }
            }
            for (k, av) in y {
                if !x.contains_key(k) {
                    let mut p = path.clone();
                    push_key(&mut p, k);
                    return Some(Diff { path: p, expected: None, actual: Some(av.clone()) });
                }
            }
            None
        }
        _ => here(path),
    }
}

fn push_key(path: &mut String, k: &str) {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        path.push('.');
        path.push_str(k);
    } else {
        path.push_str("['");
        path.push_str(&k.replace('\'', "\\'"));
        path.push_str("']");
    }
}

fn placeholder_re() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"<[A-Za-z][A-Za-z0-9_.\-]*(?::\d+)?>").expect("static regex"))
}

/// String equality where each placeholder of the recording in `expected` (`<request_id>`,
/// `<uuid:1>`, `<json-input:1>`, ...) stands for any non-empty text. For cases that are not
/// exactly comparable.
pub fn placeholder_str_eq(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    if !placeholder_re().is_match(expected) {
        return false;
    }
    let mut pattern = String::from("^");
    let mut last = 0;
    for m in placeholder_re().find_iter(expected) {
        pattern.push_str(&regex::escape(&expected[last..m.start()]));
        pattern.push_str("(?s:.+?)");
        last = m.end();
    }
    pattern.push_str(&regex::escape(&expected[last..]));
    pattern.push('$');
    regex::Regex::new(&pattern).map(|re| re.is_match(actual)).unwrap_or(false)
}

/// Cut `s` to at most `max` characters, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_by_value() {
        assert!(json_equal(&json!(1), &json!(1.0)));
        assert!(json_equal(&json!({"a": [0, 2.5]}), &json!({"a": [0.0, 2.5]})));
        assert!(!json_equal(&json!(1), &json!(1.5)));
        assert!(!json_equal(&json!(1), &json!("1")));
        assert!(json_equal(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_equal(&json!(-1), &json!(u64::MAX)));
    }

    #[test]
    fn key_order_irrelevant() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"c":2,"d":3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"d":3,"c":2},"a":1}"#).unwrap();
        assert!(json_equal(&a, &b));
    }

    #[test]
    fn first_diff_paths() {
        let d = first_diff(&json!({"a": [1, {"b": 2}]}), &json!({"a": [1, {"b": 3}]})).unwrap();
        assert_eq!(d.path, "$.a[1].b");
        assert_eq!(d.expected, Some(json!(2)));
        assert_eq!(d.actual, Some(json!(3)));

        let d = first_diff(&json!({"a": 1}), &json!({"a": 1, "x-y": 2})).unwrap();
        assert_eq!(d.path, "$['x-y']");
        assert_eq!(d.expected, None);

        let d = first_diff(&json!({"a": 1, "b": 2}), &json!({"a": 1})).unwrap();
        assert_eq!(d.path, "$.b");
        assert_eq!(d.actual, None);

        let d = first_diff(&json!([1, 2]), &json!([1, 2, 3])).unwrap();
        assert_eq!(d.path, "$[2]");
        assert_eq!(d.expected, None);
        assert_eq!(d.actual, Some(json!(3)));

        let d = first_diff(&json!(null), &json!({})).unwrap();
        assert_eq!(d.path, "$");
        assert!(d.describe(10).contains("expected null, got {}"));
    }

    #[test]
    fn placeholders_match_any_text() {
        assert!(placeholder_str_eq("in the input '<json-input:1>'", "in the input '{\"a\":1}'"));
        assert!(placeholder_str_eq("<ArnPart_0idx>", "<ArnPart_0idx>"));
        assert!(placeholder_str_eq("id <uuid:1> and <request_id>.", "id abc and x-y."));
        assert!(!placeholder_str_eq("id <uuid:1> and <request_id>.", "id abc and x-y"));
        assert!(!placeholder_str_eq("in '<json-input:1>'", "in ''"));
        assert!(!placeholder_str_eq("plain", "other"));
        assert!(!placeholder_str_eq("a < b > c", "a x c"));
        let d = first_diff_by(&json!({"m": "x <p:1>"}), &json!({"m": "x yz"}), &placeholder_str_eq);
        assert!(d.is_none());
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("ééééé", 2), "éé…");
    }
}
