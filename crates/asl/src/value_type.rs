//! The names of JSON value types, as messages give them: JSONata's and the intrinsics' bare
//! names (`boolean`), and the phrase of a field error (`got a boolean`).

use serde_json::Value;

/// The type's name: `null`, `boolean`, `number`, `string`, `array`, `object`.
pub fn name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The type's name with its article, for "expected ..., got a boolean": `null`, `a boolean`,
/// `a number`, `a string`, `an array`, `an object`.
pub fn with_article(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_phrases() {
        let cases = [
            (json!(null), "null", "null"),
            (json!(true), "boolean", "a boolean"),
            (json!(1), "number", "a number"),
            (json!("s"), "string", "a string"),
            (json!([]), "array", "an array"),
            (json!({}), "object", "an object"),
        ];
        for (v, bare, phrase) in cases {
            assert_eq!((name(&v), with_article(&v)), (bare, phrase));
        }
    }
}
