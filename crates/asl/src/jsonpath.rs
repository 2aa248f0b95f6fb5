//! JSONPath in the dialect AWS Step Functions speaks (Jayway JsonPath semantics).
//!
//! Why hand-written: the RFC 9535 crates always return node lists, while ASL follows Jayway,
//! where a *definite* path (only names and single indices) yields the value itself and fails
//! when a property is missing, and an *indefinite* path (wildcard, slice, union, filter, deep
//! scan) yields a list and silently skips what is missing. AWS also quotes Jayway's error texts
//! (`Missing property in path $['a']`, `No results for path: $['a']`) in its `States.Runtime`
//! causes, which we reproduce. The grammar ASL uses is small, so owning it costs little.
//!
//! Reference Paths (ResultPath and friends) are definite paths built only from names and
//! indices; [`set`] writes into them, creating missing objects on the way.

use serde_json::{Map, Value};
use std::fmt;

/// A JSONPath syntax or evaluation failure, with Jayway's wording where AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The text is not a valid JSONPath.
    #[error("invalid JSONPath '{path}': {reason}")]
    Syntax {
        /// The path as written.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A definite path met a missing property or index.
    #[error("{0}")]
    NotFound(String),
}

/// Which document a path reads: `$` (the state input) or `$$` (the context object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the effective input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `@`: the current node inside a filter.
    Current,
    /// `$name`: a workflow variable (set by `Assign`).
    Variable(String),
}

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// `.name` or `['name']`.
    Name(String),
    /// `[n]` (negative counts from the end).
    Index(i64),
    /// `.*` or `[*]`.
    Wildcard,
    /// `['a','b']`.
    Names(Vec<String>),
    /// `[1,2]`.
    Indices(Vec<i64>),
    /// `[start:end:step]`.
    Slice(Option<i64>, Option<i64>, Option<i64>),
    /// `..` followed by the segment it applies to.
    Descendant(Box<Segment>),
    /// `[?(...)]`.
    Filter(Box<Filter>),
    /// `.length()` and the other Jayway functions on the result.
    Function(String),
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The document the path starts at.
    pub root: Root,
    /// The steps, in order.
    pub segments: Vec<Segment>,
    text: String,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A filter expression inside `[?( )]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `a && b`.
    And(Filter2),
    /// `a || b`.
    Or(Filter2),
    /// `!a`.
    Not(Box<Filter>),
    /// `a <op> b`.
    Compare(Operand, CmpOp, Operand),
    /// A bare operand: true when a path exists (and is not false).
    Exists(Operand),
}

/// Two sub-filters.
pub type Filter2 = Box<(Filter, Filter)>;

/// A comparison operator of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Regex,
    In,
    Nin,
    SubsetOf,
    AnyOf,
    NoneOf,
    Size,
    Empty,
}

/// A side of a filter comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `@.x` or `$.x`.
    Path(Path),
    /// A JSON literal (`'str'`, `1`, `true`, `null`, `[..]`).
    Literal(Value),
    /// `/regex/flags`.
    Regex(String, String),
}

impl Path {
    /// Parses `text` as a JSONPath (`$...`, `$$...`).
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let mut p = Parser { s: text.as_bytes(), i: 0, text };
        let path = p.path()?;
        p.skip_ws();
        if p.i != p.s.len() {
            return Err(p.err("unexpected trailing characters"));
        }
        Ok(path)
    }

    /// True when the path names exactly one node (no wildcard, slice, union, filter or deep scan).
    pub fn is_definite(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Name(_) | Segment::Index(_)))
    }

    /// True when the path is a valid Reference Path: definite, names and indices only.
    pub fn is_reference(&self) -> bool {
        self.root == Root::Input && self.is_definite()
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Evaluates the path. `$` reads `input`, `$$` reads `context`.
    ///
    /// A definite path yields the node (or a `NotFound` error in Jayway's words); an
    /// indefinite one yields an array of every match.
    pub fn eval(&self, input: &Value, context: &Value) -> Result<Value, PathError> {
        let root = match self.root {
            Root::Context => context,
            _ => input,
        };
        self.eval_root(root)
    }

    /// Evaluates the path with `root` as the value its first token names.
    pub fn eval_root(&self, root: &Value) -> Result<Value, PathError> {
        let input = root;
        if let Some((Segment::Function(f), prefix)) = self.segments.split_last() {
            let inner = Path { root: self.root.clone(), segments: prefix.to_vec(), text: String::new() };
            let v = inner.eval_root(root)?;
            return apply_function(f, &v);
        }
        if self.is_definite() {
            return self.eval_definite(root);
        }
        let mut cur: Vec<&Value> = vec![root];
        for seg in &self.segments {
            let mut next = Vec::new();
            for v in cur {
                apply(seg, v, input, &mut next);
            }
            cur = next;
        }
        Ok(Value::Array(cur.into_iter().cloned().collect()))
    }

    fn eval_definite(&self, root: &Value) -> Result<Value, PathError> {
        let mut cur = root;
        let n = self.segments.len();
        for (k, seg) in self.segments.iter().enumerate() {
            let last = k + 1 == n;
            let found = match (seg, cur) {
                (Segment::Name(name), Value::Object(m)) => m.get(name),
                (Segment::Index(i), Value::Array(a)) => norm_index(*i, a.len()).map(|i| &a[i]),
                (Segment::Name(name), other) => {
                    return Err(PathError::NotFound(format!(
                        "Expected to find an object with property ['{name}'] in path {} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider'.",
                        normalized(&self.segments[..k], &self.root),
                        java_type(other)
                    )))
                }
                (Segment::Index(_), other) => {
                    return Err(PathError::NotFound(format!(
                        "Filter: [{}] can only be applied to arrays. Current context is: {}",
                        match seg {
                            Segment::Index(i) => i.to_string(),
                            _ => String::new(),
                        },
                        other
                    )))
                }
                _ => unreachable!("definite paths hold only names and indices"),
            };
            match found {
                Some(v) => cur = v,
                None if last => {
                    return Err(PathError::NotFound(format!(
                        "No results for path: {}",
                        normalized(&self.segments, &self.root)
                    )))
                }
                None => {
                    return Err(PathError::NotFound(format!(
                        "Missing property in path {}",
                        normalized(&self.segments[..=k], &self.root)
                    )))
                }
            }
        }
        Ok(cur.clone())
    }
}

fn java_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "java.lang.String",
        Value::Number(n) if n.is_f64() => "java.lang.Double",
        Value::Number(_) => "java.lang.Integer",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Null => "null",
        Value::Array(_) => "java.util.List",
        Value::Object(_) => "java.util.Map",
    }
}

/// Jayway's normalized form of a path prefix: `$['a'][0]`.
fn normalized(segs: &[Segment], root: &Root) -> String {
    let mut s = match root {
        Root::Context => "$$".to_string(),
        Root::Current => "@".to_string(),
        Root::Input => "$".to_string(),
        Root::Variable(name) => format!("${name}"),
    };
    for seg in segs {
        match seg {
            Segment::Name(n) => s.push_str(&format!("['{n}']")),
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
            _ => s.push_str("[*]"),
        }
    }
    s
}

fn norm_index(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let j = if i < 0 { len + i } else { i };
    (0..len).contains(&j).then_some(j as usize)
}

fn apply<'a>(seg: &Segment, v: &'a Value, root: &Value, out: &mut Vec<&'a Value>) {
    match seg {
        Segment::Name(n) => {
            if let Some(x) = v.as_object().and_then(|m| m.get(n)) {
                out.push(x);
            }
        }
        Segment::Names(ns) => {
            if let Some(m) = v.as_object() {
                out.extend(ns.iter().filter_map(|n| m.get(n)));
            }
        }
        Segment::Index(i) => {
            if let Some(a) = v.as_array() {
                if let Some(j) = norm_index(*i, a.len()) {
                    out.push(&a[j]);
                }
            }
        }
        Segment::Indices(is) => {
            if let Some(a) = v.as_array() {
                out.extend(is.iter().filter_map(|i| norm_index(*i, a.len()).map(|j| &a[j])));
            }
        }
        Segment::Wildcard => match v {
            Value::Object(m) => out.extend(m.values()),
            Value::Array(a) => out.extend(a.iter()),
            _ => {}
        },
        Segment::Slice(start, end, step) => {
            if let Some(a) = v.as_array() {
                let len = a.len() as i64;
                let step = step.unwrap_or(1).max(1);
                let clamp = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let s = start.map(clamp).unwrap_or(0);
                let e = end.map(clamp).unwrap_or(len);
                let mut k = s;
                while k < e {
                    out.push(&a[k as usize]);
                    k += step;
                }
            }
        }
        Segment::Descendant(inner) => {
            fn walk<'a>(inner: &Segment, v: &'a Value, root: &Value, out: &mut Vec<&'a Value>) {
                apply(inner, v, root, out);
                match v {
                    Value::Object(m) => m.values().for_each(|c| walk(inner, c, root, out)),
                    Value::Array(a) => a.iter().for_each(|c| walk(inner, c, root, out)),
                    _ => {}
                }
            }
            walk(inner, v, root, out);
        }
        Segment::Filter(f) => match v {
            Value::Array(a) => out.extend(a.iter().filter(|x| f.test(x, root))),
            Value::Object(m) => out.extend(m.values().filter(|x| f.test(x, root))),
            _ => {}
        },
        Segment::Function(_) => {}
    }
}

fn apply_function(f: &str, list: &Value) -> Result<Value, PathError> {
    let items = list.as_array().map(std::vec::Vec::as_slice).unwrap_or(&[]);
    let nums = || items.iter().filter_map(serde_json::Value::as_f64).collect::<Vec<_>>();
    Ok(match f {
        "length" | "size" => Value::from(items.len()),
        "sum" => num_value(nums().iter().sum()),
        "min" => num_value(nums().iter().copied().fold(f64::INFINITY, f64::min)),
        "max" => num_value(nums().iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        "avg" => {
            let n = nums();
            num_value(n.iter().sum::<f64>() / n.len().max(1) as f64)
        }
        "first" => items.first().cloned().unwrap_or(Value::Null),
        "last" => items.last().cloned().unwrap_or(Value::Null),
        other => return Err(PathError::NotFound(format!("Function with name: {other} does not exist."))),
    })
}

fn num_value(f: f64) -> Value {
    serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
}

impl Filter {
    fn test(&self, cur: &Value, root: &Value) -> bool {
        match self {
            Filter::And(b) => b.0.test(cur, root) && b.1.test(cur, root),
            Filter::Or(b) => b.0.test(cur, root) || b.1.test(cur, root),
            Filter::Not(f) => !f.test(cur, root),
            Filter::Exists(op) => match op.resolve(cur, root) {
                Some(Value::Bool(b)) => b,
                Some(_) => true,
                None => false,
            },
            Filter::Compare(l, op, r) => {
                if let (CmpOp::Regex, Operand::Regex(re, flags)) = (op, r) {
                    let Some(Value::String(s)) = l.resolve(cur, root) else { return false };
                    let pat = if flags.contains('i') { format!("(?i){re}") } else { re.clone() };
                    return regex::Regex::new(&format!("^(?:{pat})$")).map(|r| r.is_match(&s)).unwrap_or(false);
                }
                let (Some(a), Some(b)) = (l.resolve(cur, root), r.resolve(cur, root)) else {
                    return false;
                };
                compare(&a, *op, &b)
            }
        }
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    use std::cmp::Ordering::*;
    let ord = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        CmpOp::Eq => ord.map(|o| o == Equal).unwrap_or_else(|| a == b),
        CmpOp::Ne => !ord.map(|o| o == Equal).unwrap_or_else(|| a == b),
        CmpOp::Lt => ord == Some(Less),
        CmpOp::Le => matches!(ord, Some(Less | Equal)),
        CmpOp::Gt => ord == Some(Greater),
        CmpOp::Ge => matches!(ord, Some(Greater | Equal)),
        CmpOp::In => b.as_array().is_some_and(|l| l.iter().any(|x| compare(a, CmpOp::Eq, x))),
        CmpOp::Nin => !b.as_array().is_some_and(|l| l.iter().any(|x| compare(a, CmpOp::Eq, x))),
        CmpOp::SubsetOf => match (a.as_array(), b.as_array()) {
            (Some(x), Some(y)) => x.iter().all(|e| y.contains(e)),
            _ => false,
        },
        CmpOp::AnyOf => match (a.as_array(), b.as_array()) {
            (Some(x), Some(y)) => x.iter().any(|e| y.contains(e)),
            _ => false,
        },
        CmpOp::NoneOf => match (a.as_array(), b.as_array()) {
            (Some(x), Some(y)) => !x.iter().any(|e| y.contains(e)),
            _ => false,
        },
        CmpOp::Size => {
            let n = match a {
                Value::Array(x) => x.len(),
                Value::String(s) => s.chars().count(),
                _ => return false,
            };
            b.as_u64() == Some(n as u64)
        }
        CmpOp::Empty => {
            let e = match a {
                Value::Array(x) => x.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => return false,
            };
            b.as_bool() == Some(e)
        }
        CmpOp::Regex => false,
    }
}

impl Operand {
    fn resolve(&self, cur: &Value, root: &Value) -> Option<Value> {
        match self {
            Operand::Literal(v) => Some(v.clone()),
            Operand::Regex(..) => None,
            Operand::Path(p) => {
                let base = if p.root == Root::Current { cur } else { root };
                if p.is_definite() {
                    p.eval_definite(base).ok()
                } else {
                    p.eval(base, base).ok()
                }
            }
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl<'a> Parser<'a> {
    fn err(&self, reason: &str) -> PathError {
        PathError::Syntax { path: self.text.to_string(), reason: format!("{reason} at position {}", self.i) }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn path(&mut self) -> Result<Path, PathError> {
        let start = self.i;
        let root = if self.eat(b'$') {
            if self.eat(b'$') {
                Root::Context
            } else if self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
                    self.i += 1;
                }
                Root::Variable(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            } else {
                Root::Input
            }
        } else if self.eat(b'@') {
            Root::Current
        } else {
            return Err(self.err("a path must start with '$'"));
        };
        let mut segments = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.i += 1;
                    if self.eat(b'.') {
                        let inner = match self.peek() {
                            Some(b'[') => self.bracket()?,
                            Some(b'*') => {
                                self.i += 1;
                                Segment::Wildcard
                            }
                            _ => Segment::Name(self.dot_name()?),
                        };
                        segments.push(Segment::Descendant(Box::new(inner)));
                    } else if self.eat(b'*') {
                        segments.push(Segment::Wildcard);
                    } else {
                        let name = self.dot_name()?;
                        if self.peek() == Some(b'(') {
                            self.i += 1;
                            self.skip_ws();
                            if !self.eat(b')') {
                                return Err(self.err("functions take no arguments here"));
                            }
                            segments.push(Segment::Function(name));
                        } else {
                            segments.push(Segment::Name(name));
                        }
                    }
                }
                Some(b'[') => segments.push(self.bracket()?),
                _ => break,
            }
        }
        if let Some(pos) = segments.iter().position(|s| matches!(s, Segment::Function(_))) {
            if pos + 1 != segments.len() {
                return Err(self.err("a function must end the path"));
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default().to_string();
        Ok(Path { root, segments, text })
    }
    fn dot_name(&mut self) -> Result<String, PathError> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b'.' | b'[' | b'(' | b')' | b' ' | b'\t' | b'\n' | b'\r')
                || (c == b'=' || c == b'!' || c == b'<' || c == b'>' || c == b'&' || c == b'|')
            {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a property name"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn bracket(&mut self) -> Result<Segment, PathError> {
        self.i += 1; // '['
        self.skip_ws();
        let seg = match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Segment::Wildcard
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![self.quoted()?];
                loop {
                    self.skip_ws();
                    if !self.eat(b',') {
                        break;
                    }
                    self.skip_ws();
                    names.push(self.quoted()?);
                }
                if names.len() == 1 {
                    Segment::Name(names.pop().unwrap_or_default())
                } else {
                    Segment::Names(names)
                }
            }
            Some(b'?') => {
                self.i += 1;
                self.skip_ws();
                let paren = self.eat(b'(');
                let f = self.filter_or()?;
                self.skip_ws();
                if paren && !self.eat(b')') {
                    return Err(self.err("expected ')' to close the filter"));
                }
                Segment::Filter(Box::new(f))
            }
            Some(c) if c == b'-' || c == b':' || c.is_ascii_digit() => {
                let first = self.opt_int()?;
                self.skip_ws();
                if self.peek() == Some(b':') {
                    self.i += 1;
                    self.skip_ws();
                    let end = self.opt_int()?;
                    self.skip_ws();
                    let step = if self.eat(b':') {
                        self.skip_ws();
                        self.opt_int()?
                    } else {
                        None
                    };
                    Segment::Slice(first, end, step)
                } else {
                    let first = first.ok_or_else(|| self.err("expected an index"))?;
                    let mut idx = vec![first];
                    loop {
                        self.skip_ws();
                        if !self.eat(b',') {
                            break;
                        }
                        self.skip_ws();
                        idx.push(self.opt_int()?.ok_or_else(|| self.err("expected an index"))?);
                    }
                    if idx.len() == 1 {
                        Segment::Index(idx[0])
                    } else {
                        Segment::Indices(idx)
                    }
                }
            }
            _ => return Err(self.err("unexpected character in brackets")),
        };
        self.skip_ws();
        if !self.eat(b']') {
            return Err(self.err("expected ']'"));
        }
        Ok(seg)
    }
    fn opt_int(&mut self) -> Result<Option<i64>, PathError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse().map(Some).map_err(|_| self.err("invalid integer"))
    }
    fn quoted(&mut self) -> Result<String, PathError> {
        let q = self.peek().ok_or_else(|| self.err("expected a quoted name"))?;
        if q != b'\'' && q != b'"' {
            return Err(self.err("expected a quoted name"));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'\\') if self.s.get(self.i + 1) == Some(&q) => {
                    out.push(q);
                    self.i += 2;
                }
                Some(c) if c == q => {
                    self.i += 1;
                    break;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
    fn filter_or(&mut self) -> Result<Filter, PathError> {
        let mut l = self.filter_and()?;
        loop {
            self.skip_ws();
            if self.s[self.i..].starts_with(b"||") {
                self.i += 2;
                let r = self.filter_and()?;
                l = Filter::Or(Box::new((l, r)));
            } else {
                return Ok(l);
            }
        }
    }
    fn filter_and(&mut self) -> Result<Filter, PathError> {
        let mut l = self.filter_unary()?;
        loop {
            self.skip_ws();
            if self.s[self.i..].starts_with(b"&&") {
                self.i += 2;
                let r = self.filter_unary()?;
                l = Filter::And(Box::new((l, r)));
            } else {
                return Ok(l);
            }
        }
    }
    fn filter_unary(&mut self) -> Result<Filter, PathError> {
        self.skip_ws();
        if self.peek() == Some(b'!') && self.s.get(self.i + 1) != Some(&b'=') {
            self.i += 1;
            return Ok(Filter::Not(Box::new(self.filter_unary()?)));
        }
        if self.peek() == Some(b'(') {
            self.i += 1;
            let f = self.filter_or()?;
            self.skip_ws();
            if !self.eat(b')') {
                return Err(self.err("expected ')'"));
            }
            return Ok(f);
        }
        let l = self.operand()?;
        self.skip_ws();
        let ops: [(&[u8], CmpOp); 14] = [
            (b"==", CmpOp::Eq),
            (b"!=", CmpOp::Ne),
            (b"<=", CmpOp::Le),
            (b">=", CmpOp::Ge),
            (b"=~", CmpOp::Regex),
            (b"<", CmpOp::Lt),
            (b">", CmpOp::Gt),
            (b"nin", CmpOp::Nin),
            (b"in", CmpOp::In),
            (b"subsetof", CmpOp::SubsetOf),
            (b"anyof", CmpOp::AnyOf),
            (b"noneof", CmpOp::NoneOf),
            (b"size", CmpOp::Size),
            (b"empty", CmpOp::Empty),
        ];
        for (t, op) in ops {
            if self.s[self.i..].starts_with(t) {
                self.i += t.len();
                self.skip_ws();
                let r = self.operand()?;
                return Ok(Filter::Compare(l, op, r));
            }
        }
        Ok(Filter::Exists(l))
    }
    fn operand(&mut self) -> Result<Operand, PathError> {
        self.skip_ws();
        match self.peek() {
            Some(b'@' | b'$') => Ok(Operand::Path(self.path()?)),
            Some(b'\'' | b'"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some(b'/') => {
                self.i += 1;
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c == b'\\' {
                        self.i += 2;
                        continue;
                    }
                    if c == b'/' {
                        break;
                    }
                    self.i += 1;
                }
                let re = String::from_utf8_lossy(&self.s[start..self.i.min(self.s.len())]).into_owned();
                if !self.eat(b'/') {
                    return Err(self.err("unterminated regex"));
                }
                let fstart = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.i += 1;
                }
                Ok(Operand::Regex(re, String::from_utf8_lossy(&self.s[fstart..self.i]).into_owned()))
            }
            Some(b'[' | b'{') => {
                // a JSON array/object literal: find its end by bracket depth
                let start = self.i;
                let mut depth = 0i32;
                let mut in_str: Option<u8> = None;
                while let Some(c) = self.peek() {
                    self.i += 1;
                    match in_str {
                        Some(q) if c == q => in_str = None,
                        Some(_) if c == b'\\' => self.i += 1,
                        Some(_) => {}
                        None => match c {
                            b'\'' | b'"' => in_str = Some(c),
                            b'[' | b'{' => depth += 1,
                            b']' | b'}' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        },
                    }
                }
                let raw = String::from_utf8_lossy(&self.s[start..self.i]).replace('\'', "\"");
                serde_json::from_str(&raw).map(Operand::Literal).map_err(|_| self.err("invalid literal"))
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.' | b'_')) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
                serde_json::from_str(t).map(Operand::Literal).map_err(|_| self.err("invalid literal"))
            }
        }
    }
}

/// Evaluates `text` as a path against the input (`$`) or context (`$$`).
pub fn eval(text: &str, input: &Value, context: &Value) -> Result<Value, PathError> {
    Path::parse(text)?.eval(input, context)
}

/// Writes `value` at the Reference Path `path` inside `target`, creating missing objects.
///
/// `$` replaces the whole target. Fails (with Jayway's words) when a step meets a value that
/// is neither an object nor an array it can index.
pub fn set(target: &mut Value, path: &Path, value: Value) -> Result<(), PathError> {
    if !path.is_reference() {
        return Err(PathError::Syntax {
            path: path.text.clone(),
            reason: "a Reference Path may hold only names and indices".into(),
        });
    }
    let mut cur = target;
    for (k, seg) in path.segments.iter().enumerate() {
        let last = k + 1 == path.segments.len();
        match seg {
            Segment::Name(n) => {
                if cur.is_null() && k > 0 {
                    *cur = Value::Object(Map::new());
                }
                let Value::Object(m) = cur else {
                    return Err(PathError::NotFound(format!(
                        "Unable to set value at path {}: not an object",
                        normalized(&path.segments[..k], &path.root)
                    )));
                };
                if last {
                    m.insert(n.clone(), value);
                    return Ok(());
                }
                cur = m.entry(n.clone()).or_insert_with(|| Value::Object(Map::new()));
            }
            Segment::Index(i) => {
                let Value::Array(a) = cur else {
                    return Err(PathError::NotFound(format!(
                        "Unable to set value at path {}: not an array",
                        normalized(&path.segments[..k], &path.root)
                    )));
                };
                let Some(j) = norm_index(*i, a.len()) else {
                    return Err(PathError::NotFound(format!(
                        "Index {i} out of bounds at path {}",
                        normalized(&path.segments[..k], &path.root)
                    )));
                };
                if last {
                    a[j] = value;
                    return Ok(());
                }
                cur = &mut a[j];
            }
            _ => unreachable!("checked by is_reference"),
        }
    }
    *cur = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(p: &str, v: &Value) -> Result<Value, PathError> {
        eval(p, v, &json!({"Execution": {"Id": "x"}}))
    }

    #[test]
    fn definite_paths_yield_values() {
        let v = json!({"a": {"b": [1, 2, {"c": 3}]}});
        assert_eq!(ev("$", &v).unwrap(), v);
        assert_eq!(ev("$.a.b[2].c", &v).unwrap(), json!(3));
        assert_eq!(ev("$['a']['b'][-1]", &v).unwrap(), json!({"c": 3}));
        assert_eq!(ev("$$.Execution.Id", &v).unwrap(), json!("x"));
    }

    #[test]
    fn missing_properties_use_jayway_words() {
        let v = json!({"a": 1});
        assert_eq!(ev("$.x", &v).unwrap_err().to_string(), "No results for path: $['x']");
        assert_eq!(ev("$.no.such", &v).unwrap_err().to_string(), "Missing property in path $['no']");
    }

    #[test]
    fn indefinite_paths_yield_lists() {
        let v = json!({"items": [{"v": 1}, {"v": 2}, {"w": 3}], "users": [{"s": 0, "n": "a"}, {"s": 1, "n": "b"}]});
        assert_eq!(ev("$.items[*].v", &v).unwrap(), json!([1, 2]));
        assert_eq!(ev("$.items[1:]", &v).unwrap(), json!([{"v": 2}, {"w": 3}]));
        assert_eq!(ev("$.items[:1].v", &v).unwrap(), json!([1]));
        assert_eq!(ev("$..v", &v).unwrap(), json!([1, 2]));
        assert_eq!(ev("$.users[?(@.s == 0)].n", &v).unwrap(), json!(["a"]));
        assert_eq!(ev("$.users[?(@.s >= 0 && @.n != 'a')].n", &v).unwrap(), json!(["b"]));
        assert_eq!(ev("$.users[?(@.n =~ /B/i)].s", &v).unwrap(), json!([1]));
        assert_eq!(ev("$.items.length()", &v).unwrap(), json!(3));
        assert_eq!(ev("$.items[*].length()", &v).unwrap(), json!(3));
    }

    #[test]
    fn set_creates_missing_nodes() {
        let mut v = json!({"a": 1});
        set(&mut v, &Path::parse("$.b.c").unwrap(), json!(2)).unwrap();
        assert_eq!(v, json!({"a": 1, "b": {"c": 2}}));
        set(&mut v, &Path::parse("$").unwrap(), json!(3)).unwrap();
        assert_eq!(v, json!(3));
    }

    #[test]
    fn syntax_errors_are_reported() {
        for bad in ["", "a.b", "$.", "$[", "$.a[?(@.b ==)]", "$['a'"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }
}
