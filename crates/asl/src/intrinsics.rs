//! Intrinsic functions (`States.Format(...)` and the seventeen others) as AWS Step Functions
//! evaluates them in JSONPath payload templates.
//!
//! [`parse`] turns the text of a `"field.$"` value into a [`Call`] tree (definition validation
//! uses its errors); [`evaluate`] runs it against the effective input (`$`), the context
//! object (`$$`) and, through [`evaluate_with_variables`], workflow variables (`$name`).
//! Randomness (`States.UUID`, unseeded `States.MathRandom`) comes from a caller-supplied
//! generator so that evaluation stays pure and replayable.
//!
//! Where AWS's behaviour is visible in the recorded conformance corpus we follow it, including
//! its Java heritage:
//! - `States.Format` renders non-string values the way Java's `toString` renders the
//!   deserialised JSON (`{Arg1=1, Arg2=[]}`), not as JSON;
//! - `States.JsonToString` writes compact JSON the way Jackson does (doubles via Java's
//!   `Double.toString`, so `1.0E7`; `\u001F`-style escapes in upper case);
//! - `States.MathAdd` rounds non-integers with Java's `Math.round` (half up: `-2.5` → `-2`);
//! - `States.StringSplit` splits like `java.util.StringTokenizer` (every character of the
//!   second argument is a delimiter, empty tokens are dropped);
//! - a seeded `States.MathRandom` uses `java.util.Random`'s generator.

use crate::jsonpath::{Path, PathError};
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt::{self, Write as _};

/// One argument of an intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// A literal: a string (`'text'`, escapes resolved), a number, `true`, `false` or `null`.
    ///
    /// Exception: the template (first argument) of `States.Format`, when written as a literal,
    /// is kept exactly as written between the quotes, escapes included, because an escaped
    /// brace (`\{`, `\}`) must never form a `{}` placeholder. Evaluation resolves the escapes.
    Literal(Value),
    /// A JSONPath: `$...` reads the effective input, `$$...` the context object.
    Path(Path),
    /// A nested intrinsic function call.
    Call(Call),
    /// A workflow variable, `$name` optionally followed by a path into its value
    /// (`$name.field[0]`).
    Variable {
        /// The variable's name, without the `$`.
        name: String,
        /// The path applied to the variable's value (`$` when there is none).
        path: Path,
    },
}

/// A parsed intrinsic function call such as `States.Format('Hello, {}', $.name)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The full function name, e.g. `States.Format`.
    pub name: String,
    /// The arguments, in order.
    pub args: Vec<Arg>,
}

/// A failure to parse or evaluate an intrinsic function call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntrinsicError {
    /// The text is not a well-formed intrinsic function call.
    #[error("Invalid intrinsic function call '{text}': {reason}")]
    Syntax {
        /// The text as written.
        text: String,
        /// What is wrong, naming the function and argument concerned.
        reason: String,
    },
    /// The call names a function that does not exist.
    #[error("Unknown intrinsic function '{name}' in '{text}'")]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// The whole text as written.
        text: String,
    },
    /// The call has the wrong number of arguments.
    #[error("The function {function} takes {expected}, but {got} were given")]
    ArgumentCount {
        /// The function name.
        function: String,
        /// What the function accepts, in words ("exactly 2 arguments").
        expected: String,
        /// How many arguments the call has.
        got: usize,
    },
    /// A path argument selects nothing (or reads a missing variable field).
    #[error("The JSONPath '{path}' given as argument {index} of {function} could not be found: {reason}")]
    PathNotFound {
        /// The function name.
        function: String,
        /// 1-based position of the argument.
        index: usize,
        /// The path as written.
        path: String,
        /// Jayway's words for the failure.
        reason: String,
    },
    /// A variable argument names a variable that is not defined.
    #[error("The variable '${name}' given as argument {index} of {function} is not defined")]
    UndefinedVariable {
        /// The function name.
        function: String,
        /// 1-based position of the argument.
        index: usize,
        /// The variable name, without `$`.
        name: String,
    },
    /// An argument has the wrong type or an unacceptable value.
    #[error("Invalid argument {index} of {function}: {reason}")]
    InvalidArgument {
        /// The function name.
        function: String,
        /// 1-based position of the argument.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The function failed on arguments of the right types (e.g. text that is not JSON).
    #[error("The function {function} failed: {reason}")]
    Failed {
        /// The function name.
        function: String,
        /// What went wrong.
        reason: String,
    },
}

impl IntrinsicError {
    /// ASL error name (e.g. "States.IntrinsicFailure" or "States.Runtime") as AWS reports it.
    ///
    /// AWS fails the state with `States.Runtime` when a payload template cannot be evaluated,
    /// and intrinsic functions are evaluated as part of the payload template.
    pub fn error(&self) -> &'static str {
        "States.Runtime"
    }

    /// AWS's cause text (without the "An error occurred while executing the state ..."
    /// prefix, which the caller adds because it knows the state and event).
    pub fn cause(&self) -> String {
        self.to_string()
    }
}

/// True when a string is meant as an intrinsic call (starts with "States." after optional
/// whitespace).
pub fn is_intrinsic(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

/// Parses e.g. `States.Format('Hello, {}', $.name)`.
///
/// Nested calls are allowed; string literals are single-quoted with the backslash escapes AWS
/// defines (`\'`, `\{`, `\}`, `\\`; any other escape is an error); numbers (integer or
/// decimal, possibly negative), `true`, `false` and `null` are literals; `$...` and `$$...`
/// are JSONPaths (`$` alone included) and `$name...` reads a workflow variable. The number of
/// arguments is checked against the function.
pub fn parse(text: &str) -> Result<Call, IntrinsicError> {
    let mut p = Parser { text, s: text.as_bytes(), i: 0 };
    p.skip_ws();
    let call = p.call(0)?;
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(p.syntax(format!(
            "unexpected '{}' after the closing parenthesis of {}",
            p.rest_preview(),
            call.name
        )));
    }
    Ok(call)
}

/// Evaluates a call. `$` reads `input`, `$$` reads `context`; `rng` supplies randomness (for
/// `States.UUID` and unseeded `States.MathRandom`) so evaluation stays pure and replayable.
/// Variable references fail as undefined; see [`evaluate_with_variables`].
pub fn evaluate(
    call: &Call,
    input: &Value,
    context: &Value,
    rng: &mut dyn FnMut() -> u64,
) -> Result<Value, IntrinsicError> {
    evaluate_with_variables(call, input, context, &|_| None, rng)
}

/// Like [`evaluate`], resolving `$name` arguments through `variables` (which returns the
/// variable's value, or `None` when it is not defined).
pub fn evaluate_with_variables(
    call: &Call,
    input: &Value,
    context: &Value,
    variables: &dyn Fn(&str) -> Option<Value>,
    rng: &mut dyn FnMut() -> u64,
) -> Result<Value, IntrinsicError> {
    let mut env = Env { input, context, variables, rng };
    env.call(call)
}

// ---------------------------------------------------------------------------------------------
// Function table

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

/// Every function with its accepted argument counts (`max == None`: unbounded).
const FUNCTIONS: [(&str, Func, usize, Option<usize>); 18] = [
    ("States.Format", Func::Format, 1, None),
    ("States.StringToJson", Func::StringToJson, 1, Some(1)),
    ("States.JsonToString", Func::JsonToString, 1, Some(1)),
    ("States.Array", Func::Array, 0, None),
    ("States.ArrayPartition", Func::ArrayPartition, 2, Some(2)),
    ("States.ArrayContains", Func::ArrayContains, 2, Some(2)),
    ("States.ArrayRange", Func::ArrayRange, 3, Some(3)),
    ("States.ArrayGetItem", Func::ArrayGetItem, 2, Some(2)),
    ("States.ArrayLength", Func::ArrayLength, 1, Some(1)),
    ("States.ArrayUnique", Func::ArrayUnique, 1, Some(1)),
    ("States.Base64Encode", Func::Base64Encode, 1, Some(1)),
    ("States.Base64Decode", Func::Base64Decode, 1, Some(1)),
    ("States.Hash", Func::Hash, 2, Some(2)),
    ("States.JsonMerge", Func::JsonMerge, 3, Some(3)),
    ("States.MathRandom", Func::MathRandom, 2, Some(3)),
    ("States.MathAdd", Func::MathAdd, 2, Some(2)),
    ("States.StringSplit", Func::StringSplit, 2, Some(2)),
    ("States.UUID", Func::Uuid, 0, Some(0)),
];

fn lookup(name: &str) -> Option<(Func, usize, Option<usize>)> {
    FUNCTIONS.iter().find(|f| f.0 == name).map(|f| (f.1, f.2, f.3))
}

/// Largest array `States.ArrayRange` may produce.
const MAX_RANGE_ITEMS: i64 = 1000;
/// Longest string (in UTF-16 code units, as Java counts) the Base64 functions accept.
const MAX_BASE64_INPUT: usize = 10_000;
/// Nesting depth beyond which parsing stops (AWS allows 10 nested functions a field; this
/// only guards the parser's stack against hostile input).
const MAX_NESTING: usize = 64;

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn syntax(&self, reason: String) -> IntrinsicError {
        IntrinsicError::Syntax { text: self.text.to_string(), reason }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.i..).unwrap_or("")
    }

    fn rest_preview(&self) -> String {
        self.rest().chars().take(20).collect()
    }

    fn call(&mut self, depth: usize) -> Result<Call, IntrinsicError> {
        if depth > MAX_NESTING {
            return Err(self.syntax("intrinsic functions are nested too deeply".into()));
        }
        if !self.rest().starts_with("States.") {
            return Err(self.syntax(format!(
                "expected an intrinsic function name starting with 'States.' at position {}",
                self.i
            )));
        }
        let start = self.i;
        self.i += "States.".len();
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.i += 1;
        }
        let name = self.text.get(start..self.i).unwrap_or("").to_string();
        let Some((func, min, max)) = lookup(&name) else {
            return Err(IntrinsicError::UnknownFunction { name, text: self.text.to_string() });
        };
        if self.peek() != Some(b'(') {
            return Err(self.syntax(format!("expected '(' after {name}")));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b')') {
            self.i += 1;
        } else {
            loop {
                self.skip_ws();
                let index = args.len() + 1;
                let template = func == Func::Format && index == 1;
                args.push(self.arg(&name, index, template, depth)?);
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        break;
                    }
                    None => return Err(self.syntax(format!("missing ')' to close the arguments of {name}"))),
                    Some(_) => {
                        return Err(self.syntax(format!(
                            "expected ',' or ')' after argument {index} of {name}, found '{}'",
                            self.rest_preview()
                        )))
                    }
                }
            }
        }
        let got = args.len();
        if got < min || max.is_some_and(|m| got > m) {
            return Err(IntrinsicError::ArgumentCount { function: name, expected: arity(min, max), got });
        }
        Ok(Call { name, args })
    }

    fn arg(&mut self, function: &str, index: usize, template: bool, depth: usize) -> Result<Arg, IntrinsicError> {
        match self.peek() {
            None => Err(self.syntax(format!("missing argument {index} of {function}"))),
            Some(b'\'') => self.string(function, index, template).map(|s| Arg::Literal(Value::String(s))),
            Some(b'$') => self.path(function, index),
            Some(b'S') if self.rest().starts_with("States.") => self.call(depth + 1).map(Arg::Call),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(function, index),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
                    self.i += 1;
                }
                match self.text.get(start..self.i).unwrap_or("") {
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    "null" => Ok(Arg::Literal(Value::Null)),
                    word => Err(self.syntax(format!(
                        "argument {index} of {function} is not a valid literal, path or function call: '{word}'"
                    ))),
                }
            }
            Some(b',' | b')') => Err(self.syntax(format!("missing argument {index} of {function}"))),
            Some(_) => Err(self.syntax(format!(
                "argument {index} of {function} is not a valid literal, path or function call: '{}'",
                self.rest_preview()
            ))),
        }
    }

    /// A single-quoted string. With `raw`, returns the text between the quotes unchanged
    /// (escapes still checked).
    fn string(&mut self, function: &str, index: usize, raw: bool) -> Result<String, IntrinsicError> {
        self.i += 1; // opening quote
        let start = self.i;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        loop {
            let Some((off, c)) = chars.next() else {
                return Err(self.syntax(format!("unterminated string literal in argument {index} of {function}")));
            };
            match c {
                '\'' => {
                    self.i = start + off + 1;
                    if raw {
                        return Ok(self.text.get(start..start + off).unwrap_or("").to_string());
                    }
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '{' | '}' | '\\'))) => out.push(e),
                    Some((_, e)) => {
                        return Err(self.syntax(format!(
                            "invalid escape sequence '\\{e}' in argument {index} of {function} (only \\', \\{{, \\}} and \\\\ are allowed)"
                        )))
                    }
                    None => {
                        return Err(self.syntax(format!(
                            "unterminated string literal in argument {index} of {function}"
                        )))
                    }
                },
                c => out.push(c),
            }
        }
    }

    fn number(&mut self, function: &str, index: usize) -> Result<Arg, IntrinsicError> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.')) {
            self.i += 1;
        }
        let t = self.text.get(start..self.i).unwrap_or("");
        match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Number(_)) => Ok(Arg::Literal(v)),
            _ => Err(self.syntax(format!("argument {index} of {function} is not a valid number: '{t}'"))),
        }
    }

    /// A path (`$...`, `$$...`) or variable (`$name...`): everything up to the next `,` or `)`
    /// outside brackets, parentheses and quotes.
    fn path(&mut self, function: &str, index: usize) -> Result<Arg, IntrinsicError> {
        let start = self.i;
        let (mut brackets, mut parens) = (0usize, 0usize);
        let mut quote: Option<u8> = None;
        while let Some(c) = self.peek() {
            match quote {
                Some(q) => {
                    if c == b'\\' {
                        self.i += 1;
                    } else if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    b'\'' | b'"' if brackets > 0 || parens > 0 => quote = Some(c),
                    b'[' => brackets += 1,
                    b']' => brackets = brackets.saturating_sub(1),
                    b'(' => parens += 1,
                    b')' if parens > 0 => parens -= 1,
                    b',' | b')' if brackets == 0 && parens == 0 => break,
                    _ => {}
                },
            }
            self.i += 1;
        }
        self.i = self.i.min(self.s.len());
        let token = self.text.get(start..self.i).unwrap_or("").trim_end();
        let bad = |e: PathError| self.syntax(format!("argument {index} of {function} is not a valid path: {e}"));
        let after = token.as_bytes().get(1).copied();
        if after.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
            let name_len = token[1..].bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_').count();
            let name = token[1..1 + name_len].to_string();
            let path = Path::parse(&format!("${}", &token[1 + name_len..])).map_err(bad)?;
            return Ok(Arg::Variable { name, path });
        }
        Path::parse(token).map(Arg::Path).map_err(bad)
    }
}

fn arity(min: usize, max: Option<usize>) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match max {
        Some(m) if m == min => format!("exactly {min} {}", plural(min)),
        Some(m) => format!("{min} to {m} arguments"),
        None => format!("at least {min} {}", plural(min)),
    }
}

// ---------------------------------------------------------------------------------------------
// Display: back to intrinsic syntax

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (k, a) in self.args.iter().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            match a {
                Arg::Literal(Value::String(s)) if k == 0 && self.name == "States.Format" => write!(f, "'{s}'")?,
                a => write!(f, "{a}")?,
            }
        }
        f.write_str(")")
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Literal(Value::String(s)) => {
                f.write_char('\'')?;
                for c in s.chars() {
                    if matches!(c, '\'' | '{' | '}' | '\\') {
                        f.write_char('\\')?;
                    }
                    f.write_char(c)?;
                }
                f.write_char('\'')
            }
            Arg::Literal(v) => write!(f, "{v}"),
            Arg::Path(p) => write!(f, "{p}"),
            Arg::Call(c) => write!(f, "{c}"),
            Arg::Variable { name, path } => write!(f, "${name}{}", path.as_str().get(1..).unwrap_or("")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

struct Env<'a> {
    input: &'a Value,
    context: &'a Value,
    variables: &'a dyn Fn(&str) -> Option<Value>,
    rng: &'a mut dyn FnMut() -> u64,
}

/// The evaluated arguments of one call, with helpers that name the function and argument in
/// their errors.
struct Args<'a> {
    function: &'a str,
    values: Vec<Value>,
}

impl Args<'_> {
    fn invalid(&self, index: usize, reason: impl Into<String>) -> IntrinsicError {
        IntrinsicError::InvalidArgument { function: self.function.to_string(), index: index + 1, reason: reason.into() }
    }

    fn failed(&self, reason: impl Into<String>) -> IntrinsicError {
        IntrinsicError::Failed { function: self.function.to_string(), reason: reason.into() }
    }

    fn get(&self, index: usize) -> Result<&Value, IntrinsicError> {
        self.values.get(index).ok_or_else(|| self.invalid(index, "the argument is missing"))
    }

    fn take(&mut self, index: usize) -> Result<Value, IntrinsicError> {
        let v = self.values.get_mut(index).map(Value::take);
        v.ok_or_else(|| self.invalid(index, "the argument is missing"))
    }

    fn string(&self, index: usize) -> Result<&str, IntrinsicError> {
        match self.get(index)? {
            Value::String(s) => Ok(s),
            other => Err(self.invalid(index, format!("expected a string but got {}", describe(other)))),
        }
    }

    fn array(&self, index: usize) -> Result<&Vec<Value>, IntrinsicError> {
        match self.get(index)? {
            Value::Array(a) => Ok(a),
            other => Err(self.invalid(index, format!("expected an array but got {}", describe(other)))),
        }
    }

    fn object(&mut self, index: usize) -> Result<Map<String, Value>, IntrinsicError> {
        match self.take(index)? {
            Value::Object(m) => Ok(m),
            other => Err(self.invalid(index, format!("expected a JSON object but got {}", describe(&other)))),
        }
    }

    /// A number rounded to the nearest integer the way Java's `Math.round` does.
    fn rounded(&self, index: usize) -> Result<i64, IntrinsicError> {
        let v = self.get(index)?;
        let Value::Number(n) = v else {
            return Err(self.invalid(index, format!("expected a number but got {}", describe(v))));
        };
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        n.as_f64()
            .and_then(java_round)
            .ok_or_else(|| self.invalid(index, format!("the number {} is out of range", java_number(n))))
    }

    /// A rounded number that must fit Java's `int`.
    fn int32(&self, index: usize) -> Result<i64, IntrinsicError> {
        let i = self.rounded(index)?;
        if i32::try_from(i).is_err() {
            return Err(
                self.invalid(index, format!("the value {i} is outside the integer range -2147483648 to 2147483647"))
            );
        }
        Ok(i)
    }

    /// A number that must be a whole number (`2` or `2.0`, not `2.5`).
    fn integer(&self, index: usize) -> Result<i64, IntrinsicError> {
        let v = self.get(index)?;
        let n = match v {
            Value::Number(n) => n,
            other => return Err(self.invalid(index, format!("expected an integer but got {}", describe(other)))),
        };
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            _ => Err(self.invalid(index, format!("expected an integer but got {}", java_number(n)))),
        }
    }
}

fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "null".into(),
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut text = String::new();
    write_json(v, &mut text);
    if text.chars().count() > 100 {
        text = text.chars().take(100).collect::<String>() + "...";
    }
    format!("the {kind} {text}")
}

impl Env<'_> {
    fn call(&mut self, call: &Call) -> Result<Value, IntrinsicError> {
        let Some((func, min, max)) = lookup(&call.name) else {
            return Err(IntrinsicError::UnknownFunction { name: call.name.clone(), text: call.to_string() });
        };
        let got = call.args.len();
        if got < min || max.is_some_and(|m| got > m) {
            return Err(IntrinsicError::ArgumentCount { function: call.name.clone(), expected: arity(min, max), got });
        }
        let mut values = Vec::with_capacity(got);
        for (k, arg) in call.args.iter().enumerate() {
            values.push(self.arg(&call.name, k + 1, arg)?);
        }
        let mut args = Args { function: &call.name, values };
        self.apply(func, call, &mut args)
    }

    fn arg(&mut self, function: &str, index: usize, arg: &Arg) -> Result<Value, IntrinsicError> {
        let not_found = |path: &Path, e: PathError| IntrinsicError::PathNotFound {
            function: function.to_string(),
            index,
            path: path.as_str().to_string(),
            reason: match e {
                PathError::NotFound(m) => m,
                e => e.to_string(),
            },
        };
        match arg {
            Arg::Literal(v) => Ok(v.clone()),
            Arg::Path(p) => p.eval(self.input, self.context).map_err(|e| not_found(p, e)),
            Arg::Call(c) => self.call(c),
            Arg::Variable { name, path } => {
                let value = (self.variables)(name).ok_or_else(|| IntrinsicError::UndefinedVariable {
                    function: function.to_string(),
                    index,
                    name: name.clone(),
                })?;
                path.eval(&value, &value).map_err(|e| IntrinsicError::PathNotFound {
                    function: function.to_string(),
                    index,
                    path: format!("${name}{}", path.as_str().get(1..).unwrap_or("")),
                    reason: match e {
                        PathError::NotFound(m) => m,
                        e => e.to_string(),
                    },
                })
            }
        }
    }

    fn apply(&mut self, func: Func, call: &Call, a: &mut Args<'_>) -> Result<Value, IntrinsicError> {
        Ok(match func {
            Func::Format => {
                let literal = matches!(call.args.first(), Some(Arg::Literal(Value::String(_))));
                format_template(a, literal)?
            }
            Func::StringToJson => {
                let s = a.string(0)?;
                if s.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&integer_zeros(s))
                        .map_err(|e| a.failed(format!("the string is not valid JSON ({e})")))?
                }
            }
            Func::JsonToString => {
                let mut out = String::new();
                write_json(a.get(0)?, &mut out);
                Value::String(out)
            }
            Func::Array => Value::Array(std::mem::take(&mut a.values)),
            Func::ArrayPartition => {
                let size = a.integer(1)?;
                if size <= 0 {
                    return Err(a.invalid(1, format!("the chunk size must be a positive integer, got {size}")));
                }
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                let items = a.array(0)?;
                Value::Array(items.chunks(size).map(|c| Value::Array(c.to_vec())).collect())
            }
            Func::ArrayContains => {
                let needle = a.get(1)?;
                Value::Bool(a.array(0)?.iter().any(|x| x == needle))
            }
            Func::ArrayRange => {
                let (start, end, step) = (a.int32(0)?, a.int32(1)?, a.int32(2)?);
                if step == 0 {
                    return Err(a.invalid(2, "the step must not be 0"));
                }
                let count =
                    if (step > 0 && start <= end) || (step < 0 && start >= end) { (end - start) / step + 1 } else { 0 };
                if count > MAX_RANGE_ITEMS {
                    return Err(a.failed(format!(
                        "the range would hold {count} items, more than the maximum of {MAX_RANGE_ITEMS}"
                    )));
                }
                Value::Array((0..count).map(|k| Value::from(start + k * step)).collect())
            }
            Func::ArrayGetItem => {
                let index = a.integer(1)?;
                let items = a.array(0)?;
                let found = usize::try_from(index).ok().and_then(|i| items.get(i));
                match found {
                    Some(v) => v.clone(),
                    None if index < 0 => {
                        return Err(a.invalid(1, format!("the index must not be negative, got {index}")))
                    }
                    None => {
                        return Err(a.invalid(
                            1,
                            format!("the index {index} is out of bounds for an array of length {}", items.len()),
                        ))
                    }
                }
            }
            Func::ArrayLength => Value::from(a.array(0)?.len()),
            Func::ArrayUnique => {
                let mut unique: Vec<Value> = Vec::new();
                for v in a.array(0)? {
                    if !unique.contains(v) {
                        unique.push(v.clone());
                    }
                }
                Value::Array(unique)
            }
            Func::Base64Encode => {
                let s = a.string(0)?;
                check_length(a, s)?;
                Value::String(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
            }
            Func::Base64Decode => {
                let s = a.string(0)?;
                check_length(a, s)?;
                let bytes = base64_decoder()
                    .decode(s.as_bytes())
                    .map_err(|e| a.invalid(0, format!("the string is not valid Base64 ({e})")))?;
                Value::String(String::from_utf8_lossy(&bytes).into_owned())
            }
            Func::Hash => {
                use sha2::Digest as _;
                let data = a.string(0)?.as_bytes();
                let digest: Vec<u8> = match a.string(1)? {
                    "MD5" => md5::Md5::digest(data).to_vec(),
                    "SHA-1" => sha1::Sha1::digest(data).to_vec(),
                    "SHA-256" => sha2::Sha256::digest(data).to_vec(),
                    "SHA-384" => sha2::Sha384::digest(data).to_vec(),
                    "SHA-512" => sha2::Sha512::digest(data).to_vec(),
                    other => {
                        return Err(a.invalid(
                            1,
                            format!(
                                "the hash algorithm '{other}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
                            ),
                        ))
                    }
                };
                let mut hex = String::with_capacity(digest.len() * 2);
                for b in digest {
                    let _ = write!(hex, "{b:02x}");
                }
                Value::String(hex)
            }
            Func::JsonMerge => {
                match a.get(2)? {
                    Value::Bool(false) => {}
                    Value::Bool(true) => {
                        return Err(a.invalid(2, "deep merge is not supported; the third argument must be false"))
                    }
                    other => {
                        return Err(a.invalid(2, format!("expected the boolean false but got {}", describe(other))))
                    }
                }
                let mut merged = a.object(0)?;
                for (k, v) in a.object(1)? {
                    merged.insert(k, v);
                }
                Value::Object(merged)
            }
            Func::MathRandom => {
                let (start, end) = (a.int32(0)?, a.int32(1)?);
                let bound = end - start;
                let bound32 = match i32::try_from(bound) {
                    Ok(b) if b > 0 => b,
                    _ => {
                        return Err(a.failed(format!(
                            "the end ({end}) must be greater than the start ({start}), by at most 2147483647"
                        )))
                    }
                };
                let offset = if a.values.len() > 2 {
                    let seed = a.rounded(2)?;
                    i64::from(JavaRandom::new(seed).next_int(bound32))
                } else {
                    // Uniform in [0, bound) from 64 random bits (multiply-shift).
                    ((u128::from((self.rng)()) * bound as u128) >> 64) as i64
                };
                Value::from(start + offset)
            }
            Func::MathAdd => Value::from(a.int32(0)? + a.int32(1)?),
            Func::StringSplit => {
                let (s, delims) = (a.string(0)?, a.string(1)?);
                let parts = s
                    .split(|c: char| delims.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect();
                Value::Array(parts)
            }
            Func::Uuid => Value::String(crate::uuid::v4((self.rng)(), (self.rng)())),
        })
    }
}

fn check_length(a: &Args<'_>, s: &str) -> Result<(), IntrinsicError> {
    let len = s.encode_utf16().count();
    if len > MAX_BASE64_INPUT {
        return Err(
            a.invalid(0, format!("the string is {len} characters long, more than the maximum of {MAX_BASE64_INPUT}"))
        );
    }
    Ok(())
}

/// Java's `Base64.getDecoder()`: standard alphabet, padding optional.
fn base64_decoder() -> base64::engine::GeneralPurpose {
    let config = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, config)
}

/// `States.Format`: each `{}` of the template takes the next argument. A literal template
/// (stored as written) has its escapes resolved here, and an escaped brace is never part of
/// a placeholder.
fn format_template(a: &Args<'_>, literal: bool) -> Result<Value, IntrinsicError> {
    let template = a.string(0)?;
    let values = a.values.get(1..).unwrap_or(&[]);
    let mut out = String::with_capacity(template.len());
    let mut used = 0usize;
    let mut placeholders = 0usize;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if literal => {
                if let Some(e) = chars.next() {
                    out.push(e);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                placeholders += 1;
                if let Some(v) = values.get(used) {
                    java_to_string(v, &mut out);
                    used += 1;
                }
            }
            c => out.push(c),
        }
    }
    if placeholders != values.len() {
        return Err(a.failed(format!(
            "the template has {placeholders} '{{}}' placeholder(s) but {} value(s) were given",
            values.len()
        )));
    }
    Ok(Value::String(out))
}

// ---------------------------------------------------------------------------------------------
// Java renderings

/// Java's `Math.round(double)`: the nearest integer, halves rounded up.
fn java_round(x: f64) -> Option<i64> {
    if !x.is_finite() {
        return None;
    }
    let floor = x.floor();
    let r = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    // 2^63 is exactly representable; i64 holds [-2^63, 2^63).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (-LIMIT..LIMIT).contains(&r).then_some(r as i64)
}

/// A JSON number as Jackson/Java write it: integers as digits, doubles as Java's
/// `Double.toString` (`1.0`, `1.1`, `1.0E7`, `1.0E-4`).
fn java_number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        n.as_f64().map(java_double).unwrap_or_else(|| n.to_string())
    } else {
        n.to_string()
    }
}

fn java_double(d: f64) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let abs = d.abs();
    if (1e-3..1e7).contains(&abs) {
        let s = format!("{d}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        let s = format!("{d:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        if mantissa.contains('.') {
            format!("{mantissa}E{exp}")
        } else {
            format!("{mantissa}.0E{exp}")
        }
    }
}

/// Java's `toString` of the value deserialised from JSON (maps as `{k=v, ...}`, lists as
/// `[a, b]`, strings raw), which is what `States.Format` inserts.
fn java_to_string(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&java_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (k, x) in items.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                java_to_string(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (k, (key, x)) in m.iter().enumerate() {
                if k > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                java_to_string(x, out);
            }
            out.push('}');
        }
    }
}

/// Compact JSON as Jackson writes it.
fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&java_number(n)),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (k, x) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (k, (key, x)) in m.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_json(x, out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// `java.util.Random`'s 48-bit linear congruential generator.
struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn new(seed: i64) -> Self {
        JavaRandom { seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB) & Self::MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt(bound)` for a positive bound.
    fn next_int(&mut self, bound: i32) -> i32 {
        let mut r = self.next(31);
        let m = bound.wrapping_sub(1);
        if bound & m == 0 {
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    #[cfg(test)]
    fn next_double(&mut self) -> f64 {
        let hi = i64::from(self.next(26)) << 27;
        let lo = i64::from(self.next(27));
        (hi + lo) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// JSON text with every integer `-0` written `0`. AWS parses with Jackson, which reads `-0` as
/// the integer 0 (and `-0.0` as the double -0.0); serde_json reads both as the double -0.0,
/// which prints as `-0.0`. Strings are left alone.
fn integer_zeros(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("-0") {
        return std::borrow::Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped, mut start) = (false, false, 0);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'-' if bytes.get(i + 1) == Some(&b'0')
                && !matches!(bytes.get(i + 2), Some(b'0'..=b'9' | b'.' | b'e' | b'E'))
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) =>
            {
                out.push_str(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push_str(&text[start..]);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_json_reads_integer_minus_zero_as_zero_like_jackson() {
        assert_eq!(integer_zeros("-0"), "0");
        assert_eq!(
            integer_zeros("[-0, -0.0, -0e1, -01, \"-0\", {\"a\": -0}]"),
            "[0, -0.0, -0e1, -01, \"-0\", {\"a\": 0}]"
        );
        let v: Value = serde_json::from_str(&integer_zeros("-0")).expect("json");
        assert_eq!(v.to_string(), "0");
        let v: Value = serde_json::from_str(&integer_zeros("-0.0")).expect("json");
        assert_eq!(v.to_string(), "-0.0");
    }
    use serde_json::json;

    fn counter() -> impl FnMut() -> u64 {
        let mut n = 0x0123_4567_89ab_cdefu64;
        move || {
            n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            n
        }
    }

    fn context(input: &Value) -> Value {
        json!({
            "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm-name:exec", "Input": input, "Name": "exec"},
            "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm-name", "Name": "sm-name"}
        })
    }

    fn eval(expr: &str, input: &Value) -> Result<Value, IntrinsicError> {
        let call = parse(expr)?;
        evaluate(&call, input, &context(input), &mut counter())
    }

    fn ok(expr: &str, input: Value) -> Value {
        match eval(expr, &input) {
            Ok(v) => v,
            Err(e) => panic!("{expr} on {input}: {e}"),
        }
    }

    fn err(expr: &str, input: Value) -> IntrinsicError {
        match eval(expr, &input) {
            Ok(v) => panic!("{expr} on {input} should fail but gave {v}"),
            Err(e) => e,
        }
    }

    /// Cases of the conformance corpus (`family == "intrinsic_functions"`, JSONPath, exactly
    /// comparable, succeeded): `[expression, input, recorded value of the field]`. Their
    /// values were recorded against real AWS Step Functions by the LocalStack project's parity
    /// tests (Apache-2.0, © LocalStack contributors).
    const RECORDED: &str = r##"[
["States.Array()", {"FunctionInput": "HelloWorld"}, []],
["States.Array($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "", "snd": ""}}, ["", ""]],
["States.Array($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": " ", "snd": " "}}, [" ", " "]],
["States.Array($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "HelloWorld", "snd": "HelloWorld"}}, ["HelloWorld", "HelloWorld"]],
["States.Array($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": null, "snd": null}}, [null, null]],
["States.Array($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1, "snd": 1}}, [1, 1]],
["States.Array($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1.1, "snd": 1.1}}, [1.1, 1.1]],
["States.Array($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "{\"Arg1\": 1, \"Arg2\": []}", "snd": "{\"Arg1\": 1, \"Arg2\": []}"}}, ["{\"Arg1\": 1, \"Arg2\": []}", "{\"Arg1\": 1, \"Arg2\": []}"]],
["States.Array($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": {"Arg1": 1, "Arg2": []}, "snd": {"Arg1": 1, "Arg2": []}}}, [{"Arg1": 1, "Arg2": []}, {"Arg1": 1, "Arg2": []}]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [], "snd": 1}}, []],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [], "snd": 5}}, []],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0], "snd": 1}}, [[0]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0], "snd": 5}}, [[0]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1], "snd": 1}}, [[0], [1]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1], "snd": 2}}, [[0, 1]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1], "snd": 3}}, [[0, 1]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1, 2], "snd": 1}}, [[0], [1], [2]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1, 2], "snd": 2}}, [[0, 1], [2]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1, 2], "snd": 3}}, [[0, 1, 2]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1, 2, 3], "snd": 2}}, [[0, 1], [2, 3]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1, 2, 3], "snd": 3}}, [[0, 1, 2], [3]]],
["States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [0, 1, 2, 3], "snd": 5}}, [[0, 1, 2, 3]]],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [], "snd": null}}, false],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [], "snd": []}}, false],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [], "snd": 1}}, false],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [[1, 2, 3], 2], "snd": null}}, false],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [[1, 2, 3], 2], "snd": [1, 2, 3]}}, true],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [{"1": 2, "2": []}], "snd": []}}, false],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [{"1": 2, "2": []}], "snd": {"1": 2, "2": []}}}, true],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [true, false], "snd": true}}, true],
["States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [true, false], "snd": false}}, true],
["States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)", {"FunctionInput": {"fst": 0, "snd": 9, "trd": 3}}, [0, 3, 6, 9]],
["States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)", {"FunctionInput": {"fst": 0, "snd": 10, "trd": 3}}, [0, 3, 6, 9]],
["States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)", {"FunctionInput": {"fst": 1, "snd": 9, "trd": 9}}, [1]],
["States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)", {"FunctionInput": {"fst": 1, "snd": 9, "trd": 2}}, [1, 3, 5, 7, 9]],
["States.ArrayGetItem($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": [1, 2, 3, 4, 5, 6, 7, 8, 9], "snd": 5}}, 6],
["States.ArrayLength($.FunctionInput)", {"FunctionInput": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, 9],
["States.ArrayLength($.FunctionInput)", {"FunctionInput": [null, null, true, true, false, false, 1, 1, 1.1, 0, 0, "HelloWorld", "HelloWorld", [], [], [null], [null], {"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 1}]}, 20],
["States.Base64Encode($.FunctionInput)", {"FunctionInput": ""}, ""],
["States.Base64Encode($.FunctionInput)", {"FunctionInput": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="],
["States.Base64Decode($.FunctionInput)", {"FunctionInput": ""}, ""],
["States.Base64Decode($.FunctionInput)", {"FunctionInput": "RGF0YSB0byBlbmNvZGU="}, "Data to encode"],
["States.Format('Formatting argument {}.', $.FunctionInput)", {"FunctionInput": ""}, "Formatting argument ."],
["States.Format('Formatting argument {}.', $.FunctionInput)", {"FunctionInput": " "}, "Formatting argument  ."],
["States.Format('Formatting argument {}.', $.FunctionInput)", {"FunctionInput": "HelloWorld"}, "Formatting argument HelloWorld."],
["States.Format('Formatting argument {}.', $.FunctionInput)", {"FunctionInput": null}, "Formatting argument null."],
["States.Format('Formatting argument {}.', $.FunctionInput)", {"FunctionInput": 1}, "Formatting argument 1."],
["States.Format('Formatting argument {}.', $.FunctionInput)", {"FunctionInput": 1.1}, "Formatting argument 1.1."],
["States.Format('Formatting argument {}.', $.FunctionInput)", {"FunctionInput": "{\"Arg1\": 1, \"Arg2\": []}"}, "Formatting argument {\"Arg1\": 1, \"Arg2\": []}."],
["States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": " ", "snd": " "}}, "Formatting arguments fst=  and snd= ."],
["States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": null, "snd": null}}, "Formatting arguments fst=null and snd=null."],
["States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1.1, "snd": 1.1}}, "Formatting arguments fst=1.1 and snd=1.1."],
["States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": {"Arg1": 1, "Arg2": []}, "snd": {"Arg1": 1, "Arg2": []}}}, "Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}."],
["States.StringSplit('Hello\nWorld', '\n')", {"FunctionInput": null}, ["Hello", "World"]],
["States.Hash($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "input data", "snd": "MD5"}}, "812f45842bc6d66ee14572ce20db8e86"],
["States.Hash($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "input data", "snd": "SHA-1"}}, "aaff4a450a104cd177d28d18d74485e8cae074b7"],
["States.Hash($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "input data", "snd": "SHA-256"}}, "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"],
["States.Hash($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "input data", "snd": "SHA-384"}}, "d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562"],
["States.Hash($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "input data", "snd": "SHA-512"}}, "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"],
["States.StringToJson($.FunctionInput)", {"FunctionInput": ""}, null],
["States.StringToJson($.FunctionInput)", {"FunctionInput": " "}, null],
["States.StringToJson($.FunctionInput)", {"FunctionInput": "null"}, null],
["States.StringToJson($.FunctionInput)", {"FunctionInput": "-0"}, 0],
["States.StringToJson($.FunctionInput)", {"FunctionInput": "1"}, 1],
["States.StringToJson($.FunctionInput)", {"FunctionInput": "1.1"}, 1.1],
["States.StringToJson($.FunctionInput)", {"FunctionInput": "true"}, true],
["States.StringToJson($.FunctionInput)", {"FunctionInput": "\"HelloWorld\""}, "HelloWorld"],
["States.StringToJson($.FunctionInput)", {"FunctionInput": "[1, 2, \"HelloWorld\"]"}, [1, 2, "HelloWorld"]],
["States.StringToJson($.FunctionInput)", {"FunctionInput": "{\"Arg1\": 1, \"Arg2\": []}"}, {"Arg1": 1, "Arg2": []}],
["States.JsonToString($.FunctionInput)", {"FunctionInput": null}, "null"],
["States.JsonToString($.FunctionInput)", {"FunctionInput": 0}, "0"],
["States.JsonToString($.FunctionInput)", {"FunctionInput": 1}, "1"],
["States.JsonToString($.FunctionInput)", {"FunctionInput": 1.1}, "1.1"],
["States.JsonToString($.FunctionInput)", {"FunctionInput": true}, "true"],
["States.JsonToString($.FunctionInput)", {"FunctionInput": "HelloWorld"}, "\"HelloWorld\""],
["States.JsonToString($.FunctionInput)", {"FunctionInput": [1, 2, "HelloWorld"]}, "[1,2,\"HelloWorld\"]"],
["States.JsonToString($.FunctionInput)", {"FunctionInput": {"Arg1": 1, "Arg2": []}}, "{\"Arg1\":1,\"Arg2\":[]}"],
["States.JsonMerge($.FunctionInput.fst, $.FunctionInput.snd, false)", {"FunctionInput": {"fst": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}, "snd": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}}}, {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4}],
["States.JsonMerge(States.StringToJson('{\"constant_in_literal\": \"false\"}'), $$.Execution.Input.input_field, false)", {"input_field": {"constant_input_field": "constant_value"}}, {"constant_input_field": "constant_value", "constant_in_literal": "false"}],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -9, "snd": 3}}, -6],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1.49, "snd": 1.5}}, 3],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1.5, "snd": 1.51}}, 4],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -1.49, "snd": -1.5}}, -2],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -1.5, "snd": -1.51}}, -3],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1.49, "snd": 0}}, 1],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1.49, "snd": -1.49}}, 0],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1.5, "snd": 0}}, 2],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 1.51, "snd": 0}}, 2],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -1.49, "snd": 0}}, -1],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -1.5, "snd": 0}}, -1],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -1.51, "snd": 0}}, -2],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 0.5, "snd": 0}}, 1],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 2.5, "snd": 0}}, 3],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": 3.5, "snd": 0}}, 4],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -0.5, "snd": 0.5}}, 1],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -0.5, "snd": 0}}, 0],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -2.5, "snd": 0}}, -2],
["States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": -3.5, "snd": 0}}, -3],
["States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": " ", "snd": ","}}, [" "]],
["States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": " , ", "snd": ","}}, [" ", " "]],
["States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": ", , ,", "snd": ","}}, [" ", " "]],
["States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": ",,,,", "snd": ","}}, []],
["States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "1,2,3,4,5", "snd": ","}}, ["1", "2", "3", "4", "5"]],
["States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "This.is+a,test=string", "snd": ".+,="}}, ["This", "is", "a", "test", "string"]],
["States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)", {"FunctionInput": {"fst": "split on T and \nnew line", "snd": "T\n"}}, ["split on ", " and ", "new line"]],
["States.StringSplit($$.Execution.Input.FunctionInput, ',')", {"FunctionInput": "Value1,Value2,Value3\nValue4,Value5,Value6\n,,,\ntrue,1,'HelloWorld'\nNull,None,\n   \n"}, ["Value1", "Value2", "Value3\nValue4", "Value5", "Value6\n", "\ntrue", "1", "'HelloWorld'\nNull", "None", "\n   \n"]]
]"##;

    /// JSON equality where numbers compare by value (as the corpus README asks).
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => a == b,
        }
    }

    #[test]
    fn recorded_aws_results_are_reproduced() {
        let cases: Vec<(String, Value, Value)> = serde_json::from_str(RECORDED).expect("table is JSON");
        assert!(cases.len() > 100);
        for (expr, input, expected) in cases {
            let got = ok(&expr, input.clone());
            assert!(same(&got, &expected), "{expr} on {input}: got {got}, AWS recorded {expected}");
        }
    }

    #[test]
    fn nested_calls_and_context_paths() {
        // test_nested_calls_1 / _2 and test_context_json_path, with the names the recording
        // replaced by placeholders filled in by our context.
        let input = json!({"FunctionInput": null});
        assert_eq!(
            ok("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)", input.clone()),
            json!("sm")
        );
        assert_eq!(
            ok(
                "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
                input.clone()
            ),
            json!("name")
        );
        assert_eq!(
            ok("States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)", input),
            json!("Formatting arguments fst=exec and snd={Id=arn:aws:states:us-east-1:111111111111:stateMachine:sm-name, Name=sm-name}.")
        );
    }

    #[test]
    fn every_function_evaluates() {
        // The assign/variables cases of the corpus call every function once.
        let input = json!({
            "inputArray": [1, 2, 3, 4, 5, 6], "duplicateArray": [1, 2, 2, 3, 3, 4],
            "rawString": "Hello World", "encodedString": "SGVsbG8gV29ybGQ=",
            "inputString": "Hash this string", "json1": {"a": 1, "b": 2}, "json2": {"c": 3, "d": 4},
            "jsonString": "{\"key\":\"value\"}", "jsonObject": {"test": "object"},
            "value1": 5, "value2": 3, "csvString": "a,b,c,d,e", "name": "John", "place": "LocalStack"
        });
        let cases = [
            ("States.Array('a', 'b', 'c')", json!(["a", "b", "c"])),
            ("States.ArrayPartition($.inputArray, 2)", json!([[1, 2], [3, 4], [5, 6]])),
            ("States.ArrayContains($.inputArray, 5)", json!(true)),
            ("States.ArrayRange(1, 10, 2)", json!([1, 3, 5, 7, 9])),
            ("States.ArrayGetItem($.inputArray, 2)", json!(3)),
            ("States.ArrayLength($.inputArray)", json!(6)),
            ("States.ArrayUnique($.duplicateArray)", json!([1, 2, 3, 4])),
            ("States.Base64Encode($.rawString)", json!("SGVsbG8gV29ybGQ=")),
            ("States.Base64Decode($.encodedString)", json!("Hello World")),
            (
                "States.Hash($.inputString, 'SHA-256')",
                json!("1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"),
            ),
            ("States.JsonMerge($.json1, $.json2, false)", json!({"a": 1, "b": 2, "c": 3, "d": 4})),
            ("States.StringToJson($.jsonString)", json!({"key": "value"})),
            ("States.JsonToString($.jsonObject)", json!("{\"test\":\"object\"}")),
            ("States.MathAdd($.value1, $.value2)", json!(8)),
            ("States.StringSplit($.csvString, ',')", json!(["a", "b", "c", "d", "e"])),
            ("States.Format('Hello {}, welcome to {}!', $.name, $.place)", json!("Hello John, welcome to LocalStack!")),
            ("States.ArrayRange(0, 3, 1)", json!([0, 1, 2, 3])),
            ("States.Format('Format:{}', 101)", json!("Format:101")),
        ];
        for (expr, expected) in cases {
            assert_eq!(ok(expr, input.clone()), expected, "{expr}");
        }
        let uuid = ok("States.UUID()", json!({}));
        let s = uuid.as_str().expect("a string");
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
        for r in [ok("States.MathRandom(1, 999)", json!({})), ok("States.MathRandom(-99999, -9999)", json!({}))] {
            assert!(r.is_i64(), "{r}");
        }
    }

    #[test]
    fn variables_are_resolved() {
        let vars = |name: &str| match name {
            "yCurrent" => Some(json!(2)),
            "xCurrent" => Some(json!(3)),
            "AnswerTemplate" => Some(json!("It's {}!")),
            "obj" => Some(json!({"a": [10, 20]})),
            _ => None,
        };
        let run = |expr: &str| {
            let call = parse(expr).expect("parses");
            evaluate_with_variables(&call, &json!({}), &json!({}), &vars, &mut counter())
        };
        assert_eq!(run("States.MathAdd(States.MathAdd($yCurrent, $xCurrent), $obj.a[1])"), Ok(json!(25)));
        assert_eq!(run("States.Format($AnswerTemplate, 'Pikachu')"), Ok(json!("It's Pikachu!")));
        assert!(matches!(run("States.Array($nope)"), Err(IntrinsicError::UndefinedVariable { .. })));
        assert!(matches!(run("States.Array($obj.b)"), Err(IntrinsicError::PathNotFound { .. })));
        // without a resolver every variable is undefined
        let call = parse("States.Array($yCurrent)").expect("parses");
        assert!(evaluate(&call, &json!({}), &json!({}), &mut counter()).is_err());
    }

    #[test]
    fn format_escapes_and_rendering() {
        let input = json!({"v": {"a": "x", "b": [1, 2.5, null, true], "c": 1e7, "d": 1.0, "e": 0.0001}});
        assert_eq!(ok(r"States.Format('\{\} {} \'q\' \\', 'x')", json!({})), json!(r"{} x 'q' \"));
        assert_eq!(ok(r"States.Format('{\}{}', 1)", json!({})), json!("{}1"));
        assert_eq!(
            ok("States.Format('{}', $.v)", input.clone()),
            json!("{a=x, b=[1, 2.5, null, true], c=1.0E7, d=1.0, e=1.0E-4}")
        );
        assert_eq!(ok("States.Format('{}{}', true, -2)", json!({})), json!("true-2"));
        assert_eq!(ok("States.Format('no placeholders')", json!({})), json!("no placeholders"));
        // a template read from the input keeps its backslashes
        assert_eq!(ok("States.Format($.t, 1)", json!({"t": "a\\{}"})), json!("a\\1"));
        assert!(matches!(err("States.Format('{} {}', 1)", json!({})), IntrinsicError::Failed { .. }));
        assert!(matches!(err("States.Format('{}', 1, 2)", json!({})), IntrinsicError::Failed { .. }));
        assert!(matches!(
            err("States.Format($.n, 1)", json!({"n": 3})),
            IntrinsicError::InvalidArgument { index: 1, .. }
        ));
    }

    #[test]
    fn json_to_string_writes_like_jackson() {
        let input = json!({"v": {"s": "a\"b\\c\n\u{1}é/", "n": [1e7, 1.5e-5, -0.0, 100.0, 123456.75, -3, 18446744073709551615u64]}});
        assert_eq!(
            ok("States.JsonToString($.v)", input),
            json!(
                "{\"s\":\"a\\\"b\\\\c\\n\\u0001é/\",\"n\":[1.0E7,1.5E-5,-0.0,100.0,123456.75,-3,18446744073709551615]}"
            )
        );
        assert_eq!(java_double(1e21), "1.0E21");
        assert_eq!(java_double(1.2345678e7), "1.2345678E7");
        assert_eq!(java_double(9999999.0), "9999999.0");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(-2.5e-10), "-2.5E-10");
    }

    #[test]
    fn array_functions_edge_cases() {
        assert_eq!(ok("States.ArrayRange(10, 0, -5)", json!({})), json!([10, 5, 0]));
        assert_eq!(ok("States.ArrayRange(0, 10, -1)", json!({})), json!([]));
        assert_eq!(ok("States.ArrayRange(1, 1000, 1)", json!({})).as_array().map(Vec::len), Some(1000));
        assert_eq!(ok("States.ArrayRange(0.6, 2.4, 1)", json!({})), json!([1, 2]));
        assert!(matches!(err("States.ArrayRange(0, 1000, 1)", json!({})), IntrinsicError::Failed { .. }));
        assert!(matches!(
            err("States.ArrayRange(0, 10, 0)", json!({})),
            IntrinsicError::InvalidArgument { index: 3, .. }
        ));
        assert!(matches!(
            err("States.ArrayRange('0', 10, 1)", json!({})),
            IntrinsicError::InvalidArgument { index: 1, .. }
        ));
        assert!(matches!(
            err("States.ArrayRange(0, 3000000000, 1)", json!({})),
            IntrinsicError::InvalidArgument { index: 2, .. }
        ));

        assert_eq!(ok("States.ArrayPartition($.a, 2.0)", json!({"a": [1, 2, 3]})), json!([[1, 2], [3]]));
        assert!(matches!(
            err("States.ArrayPartition($.a, 0)", json!({"a": [1]})),
            IntrinsicError::InvalidArgument { index: 2, .. }
        ));
        assert!(matches!(
            err("States.ArrayPartition($.a, -1)", json!({"a": [1]})),
            IntrinsicError::InvalidArgument { index: 2, .. }
        ));
        assert!(matches!(
            err("States.ArrayPartition($.a, 1.5)", json!({"a": [1]})),
            IntrinsicError::InvalidArgument { index: 2, .. }
        ));
        assert!(matches!(
            err("States.ArrayPartition($.a, 1)", json!({"a": "x"})),
            IntrinsicError::InvalidArgument { index: 1, .. }
        ));

        assert!(matches!(
            err("States.ArrayGetItem($.a, 3)", json!({"a": [1, 2, 3]})),
            IntrinsicError::InvalidArgument { index: 2, .. }
        ));
        assert!(matches!(
            err("States.ArrayGetItem($.a, -1)", json!({"a": [1, 2, 3]})),
            IntrinsicError::InvalidArgument { index: 2, .. }
        ));
        assert!(matches!(
            err("States.ArrayGetItem($.a, 0)", json!({"a": {"0": 1}})),
            IntrinsicError::InvalidArgument { index: 1, .. }
        ));
        assert!(matches!(err("States.ArrayLength($.a)", json!({"a": "abc"})), IntrinsicError::InvalidArgument { .. }));
        assert!(matches!(err("States.ArrayUnique($.a)", json!({"a": null})), IntrinsicError::InvalidArgument { .. }));
        assert!(matches!(
            err("States.ArrayContains($.a, 1)", json!({"a": 1})),
            IntrinsicError::InvalidArgument { index: 1, .. }
        ));

        // numbers of different kinds are different values, as Jackson's nodes are
        assert_eq!(
            ok("States.ArrayUnique($.a)", json!({"a": [1, 1.0, 1, {"x": [1]}, {"x": [1]}, "1"]})),
            json!([1, 1.0, {"x": [1]}, "1"])
        );
        // an indefinite path yields a list
        assert_eq!(ok("States.ArrayLength($.a[*].b)", json!({"a": [{"b": 1}, {"c": 2}, {"b": 3}]})), json!(2));
        assert_eq!(ok("States.Array($, $$.Execution.Name)", json!(7)), json!([7, "exec"]));
    }

    #[test]
    fn encoding_hash_and_json_errors() {
        let long = "x".repeat(10_001);
        assert!(ok("States.Base64Encode($.s)", json!({"s": "x".repeat(10_000)})).is_string());
        assert!(matches!(
            err("States.Base64Encode($.s)", json!({ "s": long })),
            IntrinsicError::InvalidArgument { .. }
        ));
        assert!(matches!(
            err("States.Base64Decode($.s)", json!({ "s": long })),
            IntrinsicError::InvalidArgument { .. }
        ));
        assert!(matches!(err("States.Base64Decode('!!!')", json!({})), IntrinsicError::InvalidArgument { .. }));
        assert!(matches!(err("States.Base64Encode(1)", json!({})), IntrinsicError::InvalidArgument { .. }));
        assert_eq!(ok("States.Base64Decode('SGk')", json!({})), json!("Hi"));
        assert_eq!(ok("States.Base64Encode('é')", json!({})), json!("w6k="));

        assert!(matches!(
            err("States.Hash('a', 'SHA-3')", json!({})),
            IntrinsicError::InvalidArgument { index: 2, .. }
        ));
        assert!(matches!(err("States.Hash('a', 'md5')", json!({})), IntrinsicError::InvalidArgument { index: 2, .. }));
        assert!(matches!(err("States.Hash(1, 'MD5')", json!({})), IntrinsicError::InvalidArgument { index: 1, .. }));

        assert!(matches!(err("States.StringToJson('{')", json!({})), IntrinsicError::Failed { .. }));
        assert!(matches!(err("States.StringToJson($.a)", json!({"a": {}})), IntrinsicError::InvalidArgument { .. }));
        assert_eq!(
            ok("States.JsonMerge($.a, $.b, false)", json!({"a": {"x": {"y": 1}}, "b": {"x": {"z": 2}}})),
            json!({"x": {"z": 2}})
        );
        assert!(matches!(
            err("States.JsonMerge($.a, $.b, true)", json!({"a": {}, "b": {}})),
            IntrinsicError::InvalidArgument { index: 3, .. }
        ));
        assert!(matches!(
            err("States.JsonMerge($.a, $.b, 'false')", json!({"a": {}, "b": {}})),
            IntrinsicError::InvalidArgument { index: 3, .. }
        ));
        assert!(matches!(
            err("States.JsonMerge($.a, $.b, false)", json!({"a": [], "b": {}})),
            IntrinsicError::InvalidArgument { index: 1, .. }
        ));
        assert!(matches!(
            err("States.StringSplit($.a, ',')", json!({"a": 1})),
            IntrinsicError::InvalidArgument { index: 1, .. }
        ));
        assert_eq!(ok("States.StringSplit('abc', '')", json!({})), json!(["abc"]));
        assert_eq!(ok("States.StringSplit('', ',')", json!({})), json!([]));
    }

    #[test]
    fn math_functions() {
        assert!(matches!(err("States.MathAdd('1', 2)", json!({})), IntrinsicError::InvalidArgument { index: 1, .. }));
        assert!(matches!(
            err("States.MathAdd(1, 2147483648)", json!({})),
            IntrinsicError::InvalidArgument { index: 2, .. }
        ));
        assert_eq!(ok("States.MathAdd(2147483647, 2147483647)", json!({})), json!(4294967294i64));
        assert_eq!(ok("States.MathAdd($.a, -1)", json!({"a": 1})), json!(0));

        // seeded: deterministic, java.util.Random's nextInt
        let a = ok("States.MathRandom(0, 999, 3)", json!({}));
        assert_eq!(a, ok("States.MathRandom(0, 999, 3)", json!({})));
        assert_eq!(a, json!(i64::from(JavaRandom::new(3).next_int(999))));
        assert_eq!(ok("States.MathRandom(10, 11, 42)", json!({})), json!(10));
        // unseeded: from the supplied generator, inside [start, end)
        for _ in 0..50 {
            let v = ok("States.MathRandom(12.5, 44.51)", json!({})).as_i64().unwrap_or(-1);
            assert!((13..45).contains(&v), "{v}");
        }
        let call = parse("States.MathRandom(0, 100)").expect("parses");
        let (mut r1, mut r2) = (|| 7u64 << 60, || 7u64 << 60);
        assert_eq!(evaluate(&call, &json!({}), &json!({}), &mut r1), evaluate(&call, &json!({}), &json!({}), &mut r2));
        assert!(matches!(err("States.MathRandom(5, 5)", json!({})), IntrinsicError::Failed { .. }));
        assert!(matches!(err("States.MathRandom(5, 1)", json!({})), IntrinsicError::Failed { .. }));
        assert!(matches!(
            err("States.MathRandom(1, 5, 'x')", json!({})),
            IntrinsicError::InvalidArgument { index: 3, .. }
        ));
    }

    #[test]
    fn java_random_matches_the_jdk() {
        // new java.util.Random(42): nextDouble() == 0.7275636800328681, nextInt() == -1170105035
        assert_eq!(JavaRandom::new(42).next_double(), 0.7275636800328681);
        assert_eq!(JavaRandom::new(42).next(32), -1170105035);
        // values printed by a JDK: new Random(seed).nextInt(bound)
        for (seed, bound, expected) in [
            (42, 10, 0),
            (0, 100, 60),
            (3, 999, 239),
            (-5, 1000, 411),
            (-5, 1024, 275),
            (-5, i32::MAX, 578319411),
            (123456789012, 1000, 462),
            (123456789012, 1024, 14),
            (7, i32::MAX, 1569164236),
        ] {
            assert_eq!(JavaRandom::new(seed).next_int(bound), expected, "seed {seed} bound {bound}");
        }
        assert_eq!(java_round(-0.5), Some(0));
        assert_eq!(java_round(0.49999999999999994), Some(0));
        assert_eq!(java_round(f64::NAN), None);
        assert_eq!(java_round(1e300), None);
    }

    #[test]
    fn path_failures_name_the_argument() {
        let e = err("States.Array(1, $.missing)", json!({"a": 1}));
        assert_eq!(
            e,
            IntrinsicError::PathNotFound {
                function: "States.Array".into(),
                index: 2,
                path: "$.missing".into(),
                reason: "No results for path: $['missing']".into(),
            }
        );
        assert_eq!(e.error(), "States.Runtime");
        assert!(e.cause().contains("$.missing"), "{}", e.cause());
    }

    #[test]
    fn parse_accepts_the_documented_forms() {
        let call = parse("  States.Format('a\\'b', $.x, $$.Execution.Id, $, -1.5, 2, true, false, null, States.UUID(), $var.f[0], $['a b'], $.l.length())  ").expect("parses");
        assert_eq!(call.name, "States.Format");
        assert_eq!(call.args.len(), 13);
        assert_eq!(call.args[0], Arg::Literal(json!("a\\'b")));
        assert!(matches!(&call.args[1], Arg::Path(p) if p.as_str() == "$.x"));
        assert!(matches!(&call.args[3], Arg::Path(p) if p.as_str() == "$"));
        assert_eq!(call.args[4], Arg::Literal(json!(-1.5)));
        assert_eq!(call.args[5], Arg::Literal(json!(2)));
        assert_eq!(call.args[8], Arg::Literal(Value::Null));
        assert!(matches!(&call.args[9], Arg::Call(c) if c.name == "States.UUID" && c.args.is_empty()));
        assert!(matches!(&call.args[10], Arg::Variable { name, path } if name == "var" && path.as_str() == "$.f[0]"));
        assert!(matches!(&call.args[11], Arg::Path(p) if p.as_str() == "$['a b']"));
        assert_eq!(
            call.to_string(),
            "States.Format('a\\'b', $.x, $$.Execution.Id, $, -1.5, 2, true, false, null, States.UUID(), $var.f[0], $['a b'], $.l.length())"
        );
        let call = parse("States.Array('x,)y', 'it\\'s', '\\{\\}')").expect("parses");
        assert_eq!(
            call.args,
            vec![Arg::Literal(json!("x,)y")), Arg::Literal(json!("it's")), Arg::Literal(json!("{}"))]
        );
        assert_eq!(parse(&call.to_string()), Ok(call));
        assert!(
            parse("States.JsonMerge(States.StringToJson('{\"a\": \"false\"}'), $$.Execution.Input.b, false)").is_ok()
        );
        assert!(is_intrinsic("  States.Array()"));
        assert!(!is_intrinsic("$.States.Array()"));
    }

    #[test]
    fn every_expression_of_the_corpus_parses() {
        // Every intrinsic call in a `.$` field, ErrorPath or CausePath of the conformance
        // corpus's definitions (all accepted by AWS at creation).
        let accepted = [
            "States.Array($.FunctionInput.fst, $.FunctionInput.snd)",
            "States.Array('a', 'b', 'c')",
            "States.Array()",
            "States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)",
            "States.ArrayContains($.inputArray, 5)",
            "States.ArrayGetItem($.FunctionInput.fst, $.FunctionInput.snd)",
            "States.ArrayGetItem($.inputArray, 2)",
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)",
            "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
            "States.ArrayLength($.FunctionInput)",
            "States.ArrayLength($.inputArray)",
            "States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)",
            "States.ArrayPartition($.inputArray, 2)",
            "States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)",
            "States.ArrayRange(0, 3, 1)",
            "States.ArrayRange(1, 10, 2)",
            "States.ArrayUnique($.duplicateArray)",
            "States.Base64Decode($.FunctionInput)",
            "States.Base64Decode($.encodedString)",
            "States.Base64Decode($encodedString)",
            "States.Base64Encode($.FunctionInput)",
            "States.Base64Encode($.rawString)",
            "States.Base64Encode($rawString)",
            "States.Format($.AnswerTemplate, $$.Map.Item.Value)",
            "States.Format($AnswerTemplate, $$.Map.Item.Value)",
            "States.Format('Format Func {}', $.input_value)",
            "States.Format('Formatting argument {}.', $.FunctionInput)",
            "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)",
            "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)",
            "States.Format('Hello {}, welcome to {}!', $.name, $.place)",
            "States.Format('Hello {}, welcome to {}!', $name, $place)",
            "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)",
            "States.Format('{}', $.CredentialsRoleArn)",
            "States.Format('{}', $.Error)",
            "States.Hash($.FunctionInput.fst, $.FunctionInput.snd)",
            "States.Hash($.inputString, 'SHA-256')",
            "States.Hash($inputString, 'SHA-256')",
            "States.JsonMerge($.FunctionInput.fst, $.FunctionInput.snd, false)",
            "States.JsonMerge($.json1, $.json2, false)",
            "States.JsonMerge($json1, $json2, false)",
            "States.JsonMerge(States.StringToJson('{\"constant_in_literal\": \"false\"}'), $$.Execution.Input.input_field, false)",
            "States.JsonToString($.FunctionInput)",
            "States.JsonToString($.jsonObject)",
            "States.JsonToString($jsonObject)",
            "States.MathAdd($.FunctionInput.fst, $.FunctionInput.snd)",
            "States.MathAdd($.Iterations, -1)",
            "States.MathAdd($.value1, $.value2)",
            "States.MathAdd($value1, $value2)",
            "States.MathAdd(States.MathAdd(States.MathAdd($yCurrent, $xCurrent), $zCurrent), $bias)",
            "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd)",
            "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)",
            "States.StringSplit($$.Execution.Input.FunctionInput, ',')",
            "States.StringSplit($.FunctionInput.fst, $.FunctionInput.snd)",
            "States.StringSplit($.csvString, ',')",
            "States.StringSplit($csvString, ',')",
            "States.StringSplit('Hello\nWorld', '\n')",
            "States.StringToJson($.FunctionInput)",
            "States.StringToJson($.jsonString)",
            "States.StringToJson($jsonString)",
            "States.UUID()",
        ];
        for text in accepted {
            let call = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parse(&call.to_string()).as_ref(), Ok(&call), "{text} round-trips through Display");
        }
    }

    #[test]
    fn parse_rejects_malformed_calls() {
        let bad = [
            "",
            "States",
            "States.",
            "Format('x')",
            "States.Array(",
            "States.Array(1",
            "States.Array(1,",
            "States.Array(1,)",
            "States.Array(,1)",
            "States.Array(1))",
            "States.Array(1) x",
            "States.Array((1)",
            "States.Array 1)",
            "States.Array('abc)",
            "States.Array('abc",
            "States.Array('a\\\"b')",
            "States.Format('He said, \\\"Hello, {}!\\\"', 'Test \\\"Name\\\" Here')",
            "States.StringToJson('{\"text\":\"An \\\"escaped double quote\\\" here\"}')",
            "States.Array('a\\nb')",
            "States.Array(\"double\")",
            "States.Array(1.2.3)",
            "States.Array(--1)",
            "States.Array(1a)",
            "States.Array(True)",
            "States.Array(nul)",
            "States.Array(undefined)",
            "States.Array($.)",
            "States.Array($.a[)",
            "States.Array($$.)",
            "States.Array(States.Nope())",
            "States.Array(1 2)",
            "States.UUID(1)",
            "States.StringToJson()",
            "States.ArrayRange(1, 2)",
            "States.MathRandom(1)",
            "States.MathRandom(1, 2, 3, 4)",
            "States.JsonMerge($.a, $.b)",
            "States.Format()",
        ];
        for text in bad {
            assert!(parse(text).is_err(), "{text:?} should not parse");
        }
        assert_eq!(
            parse("States.Nope(1)"),
            Err(IntrinsicError::UnknownFunction { name: "States.Nope".into(), text: "States.Nope(1)".into() })
        );
        let e = parse("States.Hash('a')").expect_err("one argument short");
        assert_eq!(e.to_string(), "The function States.Hash takes exactly 2 arguments, but 1 were given");
        let e = parse("States.Format('x', $.a..)").expect_err("bad path");
        assert!(e.to_string().contains("argument 2 of States.Format"), "{e}");
        let e = parse("States.Array('a\\qb')").expect_err("bad escape");
        assert!(e.to_string().contains("argument 1 of States.Array"), "{e}");
        // hostile nesting fails cleanly instead of overflowing the stack
        let deep = "States.Array(".repeat(10_000) + &")".repeat(10_000);
        assert!(parse(&deep).is_err());
        // no input makes the parser panic
        for text in [
            "States.Array('é",
            "States.Array($[\"é",
            "States.Array($.é)",
            "States.Array(é)",
            "States.Format('\\",
            "States.Array($(",
            "States.Array($[?(@.a == ')')])",
        ] {
            let _ = parse(text);
        }
    }
}
