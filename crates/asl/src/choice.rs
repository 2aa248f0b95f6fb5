//! Choice rules: every comparison operator (and its `Path` form), the `Is*` tests,
//! `StringMatches` with its escapes, and `And` / `Or` / `Not`.
//!
//! Semantics follow AWS: a comparison whose variable has the wrong type is simply false (no
//! error), and numbers compare by value (`1 == 1.0`).

use crate::jsonpath::Path;
use crate::model::QueryLanguage;
use crate::payload::{eval_path, Context};
use crate::timestamp;
use serde_json::Value;

/// A compiled Choice rule.
#[derive(Debug, Clone)]
pub enum Rule {
    /// All must hold.
    And(Vec<Rule>),
    /// One must hold.
    Or(Vec<Rule>),
    /// Must not hold.
    Not(Box<Rule>),
    /// `Variable` compared with an operand.
    Compare {
        /// The path of the value tested.
        variable: Path,
        /// The operator.
        op: Op,
        /// The literal or path operand.
        operand: Operand,
    },
    /// A JSONata `Condition` (`{% ... %}` or a literal boolean), evaluated by the stepper.
    Condition(crate::jsonata::Template),
}

/// The value a comparison tests against.
#[derive(Debug, Clone)]
pub enum Operand {
    /// A literal from the definition.
    Value(Value),
    /// A `...Path` operand.
    Path(Path),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

const OPS: &[(&str, Op)] = &[
    ("StringEquals", Op::StringEquals),
    ("StringLessThan", Op::StringLessThan),
    ("StringGreaterThan", Op::StringGreaterThan),
    ("StringLessThanEquals", Op::StringLessThanEquals),
    ("StringGreaterThanEquals", Op::StringGreaterThanEquals),
    ("StringMatches", Op::StringMatches),
    ("NumericEquals", Op::NumericEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("BooleanEquals", Op::BooleanEquals),
    ("TimestampEquals", Op::TimestampEquals),
    ("TimestampLessThan", Op::TimestampLessThan),
    ("TimestampGreaterThan", Op::TimestampGreaterThan),
    ("TimestampLessThanEquals", Op::TimestampLessThanEquals),
    ("TimestampGreaterThanEquals", Op::TimestampGreaterThanEquals),
    ("IsNull", Op::IsNull),
    ("IsPresent", Op::IsPresent),
    ("IsNumeric", Op::IsNumeric),
    ("IsString", Op::IsString),
    ("IsBoolean", Op::IsBoolean),
    ("IsTimestamp", Op::IsTimestamp),
];

impl Rule {
    /// Parses a rule object (top-level or nested).
    pub fn parse(v: &Value, ql: QueryLanguage) -> Result<Rule, String> {
        let o = v.as_object().ok_or("a Choice rule must be an object")?;
        if let Some(c) = o.get("Condition") {
            return crate::jsonata::Template::compile(c).map(Rule::Condition);
        }
        if ql == QueryLanguage::JsonAta {
            return Err("a JSONata Choice rule needs a Condition".into());
        }
        if let Some(a) = o.get("And") {
            return Ok(Rule::And(list(a, ql)?));
        }
        if let Some(a) = o.get("Or") {
            return Ok(Rule::Or(list(a, ql)?));
        }
        if let Some(n) = o.get("Not") {
            return Ok(Rule::Not(Box::new(Rule::parse(n, ql)?)));
        }
        let var = o.get("Variable").and_then(Value::as_str).ok_or("These fields are required: [Variable]")?;
        let variable = Path::parse(var).map_err(|e| e.to_string())?;
        for (name, op) in OPS {
            if let Some(x) = o.get(*name) {
                return Ok(Rule::Compare { variable, op: *op, operand: Operand::Value(x.clone()) });
            }
            if let Some(x) = o.get(&format!("{name}Path")) {
                let p = x.as_str().ok_or_else(|| format!("{name}Path must be a string"))?;
                let p = Path::parse(p).map_err(|e| e.to_string())?;
                return Ok(Rule::Compare { variable, op: *op, operand: Operand::Path(p) });
            }
        }
        Err("a Choice rule needs exactly one comparison operator".into())
    }

    /// Evaluates the rule against the state's effective input.
    pub fn eval(&self, input: &Value, ctx: &Context) -> Result<bool, String> {
        Ok(match self {
            Rule::And(rs) => {
                for r in rs {
                    if !r.eval(input, ctx)? {
                        return Ok(false);
                    }
                }
                true
            }
            Rule::Or(rs) => {
                for r in rs {
                    if r.eval(input, ctx)? {
                        return Ok(true);
                    }
                }
                false
            }
            Rule::Not(r) => !r.eval(input, ctx)?,
            Rule::Condition(_) => return Err("a JSONata Condition needs the JSONata evaluator".into()),
            Rule::Compare { variable, op, operand } => {
                let value = eval_path(variable, input, ctx).ok();
                if *op == Op::IsPresent {
                    let want = operand_bool(operand, input, ctx);
                    return Ok(value.is_some() == want);
                }
                let Some(value) = value else {
                    return Err(format!(
                        "Invalid path '{variable}': The choice state's condition path references an invalid value."
                    ));
                };
                let rhs = match operand {
                    Operand::Value(v) => v.clone(),
                    Operand::Path(p) => match eval_path(p, input, ctx) {
                        Ok(v) => v,
                        Err(_) => {
                            return Err(format!(
                                "Invalid path '{p}': The choice state's condition path references an invalid value."
                            ))
                        }
                    },
                };
                compare(&value, *op, &rhs)
            }
        })
    }
}

fn operand_bool(o: &Operand, input: &Value, ctx: &Context) -> bool {
    match o {
        Operand::Value(v) => v.as_bool().unwrap_or(false),
        Operand::Path(p) => eval_path(p, input, ctx).ok().and_then(|v| v.as_bool()).unwrap_or(false),
    }
}

fn list(v: &Value, ql: QueryLanguage) -> Result<Vec<Rule>, String> {
    v.as_array().ok_or("And/Or take an array")?.iter().map(|r| Rule::parse(r, ql)).collect()
}

fn compare(v: &Value, op: Op, rhs: &Value) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::StringEquals
        | Op::StringLessThan
        | Op::StringGreaterThan
        | Op::StringLessThanEquals
        | Op::StringGreaterThanEquals => {
            let (Some(a), Some(b)) = (v.as_str(), rhs.as_str()) else { return false };
            let o = a.cmp(b);
            match op {
                Op::StringEquals => o == Equal,
                Op::StringLessThan => o == Less,
                Op::StringGreaterThan => o == Greater,
                Op::StringLessThanEquals => o != Greater,
                _ => o != Less,
            }
        }
        Op::StringMatches => match (v.as_str(), rhs.as_str()) {
            (Some(a), Some(p)) => string_matches(a, p),
            _ => false,
        },
        Op::NumericEquals
        | Op::NumericLessThan
        | Op::NumericGreaterThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThanEquals => {
            let (Some(a), Some(b)) = (num(v), num(rhs)) else { return false };
            match op {
                Op::NumericEquals => a == b,
                Op::NumericLessThan => a < b,
                Op::NumericGreaterThan => a > b,
                Op::NumericLessThanEquals => a <= b,
                _ => a >= b,
            }
        }
        Op::BooleanEquals => matches!((v, rhs), (Value::Bool(a), Value::Bool(b)) if a == b),
        Op::TimestampEquals
        | Op::TimestampLessThan
        | Op::TimestampGreaterThan
        | Op::TimestampLessThanEquals
        | Op::TimestampGreaterThanEquals => {
            let (Some(a), Some(b)) = (v.as_str().and_then(timestamp::parse), rhs.as_str().and_then(timestamp::parse))
            else {
                return false;
            };
            match op {
                Op::TimestampEquals => a == b,
                Op::TimestampLessThan => a < b,
                Op::TimestampGreaterThan => a > b,
                Op::TimestampLessThanEquals => a <= b,
                _ => a >= b,
            }
        }
        Op::IsNull => v.is_null() == rhs.as_bool().unwrap_or(false),
        Op::IsNumeric => v.is_number() == rhs.as_bool().unwrap_or(false),
        Op::IsString => v.is_string() == rhs.as_bool().unwrap_or(false),
        Op::IsBoolean => v.is_boolean() == rhs.as_bool().unwrap_or(false),
        Op::IsTimestamp => v.as_str().and_then(timestamp::parse).is_some() == rhs.as_bool().unwrap_or(false),
        Op::IsPresent => true,
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// `StringMatches`: `*` matches any run of characters; `\*` is a literal star, `\\` a backslash.
pub fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Ch(n)),
                None => toks.push(Tok::Ch('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // iterative wildcard match with backtracking to the last star
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < toks.len() {
            match toks[j] {
                Tok::Star => {
                    star = Some((j, i));
                    j += 1;
                    continue;
                }
                Tok::Ch(c) if c == s[i] => {
                    i += 1;
                    j += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sj, si)) => {
                j = sj + 1;
                i = si + 1;
                star = Some((sj, si + 1));
            }
            None => return false,
        }
    }
    while j < toks.len() && toks[j] == Tok::Star {
        j += 1;
    }
    j == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_matches_wildcards_and_escapes() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("abc", "*"));
        assert!(!string_matches("abc", "a*d"));
        assert!(string_matches("a*c", "a\\*c"));
        assert!(!string_matches("abc", "a\\*c"));
        assert!(string_matches("a\\c", "a\\\\c"));
        assert!(string_matches("", "*"));
    }

    #[test]
    fn numbers_compare_by_value_and_types_must_match() {
        let make = || Value::Null;
        let ctx = Context::new(&make);
        let r = Rule::parse(&json!({"Variable": "$.n", "NumericEquals": 1}), QueryLanguage::JsonPath).unwrap();
        assert!(r.eval(&json!({"n": 1.0}), &ctx).unwrap());
        assert!(!r.eval(&json!({"n": "1"}), &ctx).unwrap());
        let r = Rule::parse(&json!({"Not": {"Variable": "$.s", "StringEqualsPath": "$.t"}}), QueryLanguage::JsonPath)
            .unwrap();
        assert!(r.eval(&json!({"s": "a", "t": "b"}), &ctx).unwrap());
        let r = Rule::parse(&json!({"Variable": "$.x", "IsPresent": false}), QueryLanguage::JsonPath).unwrap();
        assert!(r.eval(&json!({}), &ctx).unwrap());
    }
}
