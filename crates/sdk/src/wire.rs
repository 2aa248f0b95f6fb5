//! The wire: a Step Functions-named input becomes the service's HTTP request, and the HTTP
//! answer becomes Step Functions-named output or a refusal, for the four protocols AWS's
//! services speak (JSON 1.0/1.1, REST-JSON, REST-XML, query), all driven by the model.
//!
//! Step Functions' names: `aws-sdk:*` parameters and results name every structure member in
//! PascalCase (`StateMachineArn` for Step Functions' own `stateMachineArn`); map keys (a
//! DynamoDB item's attribute names, tags) are data and stay as they are.

use crate::model::{Location, Member, Operation, Protocol, Service, Shape};
use crate::xml::{self, Node};
use base64::Engine;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// A request to send (before signing).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path and query, percent-encoded.
    pub path: String,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status.
    pub status: u16,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The service's request id, from whichever header the service uses.
    pub fn request_id(&self) -> Option<&str> {
        self.header("x-amzn-RequestId").or_else(|| self.header("x-amz-request-id"))
    }
}

/// A service's refusal as read from its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Status.
    pub status: u16,
    /// Error code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Request id.
    pub request_id: String,
    /// S3's `x-amz-id-2`.
    pub extended_request_id: Option<String>,
}

/// The member a Step Functions key names: the same name, or the name with its first letter
/// capitalised (`StateMachineArn` for `stateMachineArn`), compared without case last.
fn member_for<'a>(members: &'a [Member], key: &str) -> Option<&'a Member> {
    members
        .iter()
        .find(|m| m.name == key)
        .or_else(|| members.iter().find(|m| pascal(&m.name) == key))
        .or_else(|| members.iter().find(|m| m.name.eq_ignore_ascii_case(key)))
}

/// `stateMachineArn` → `StateMachineArn`.
pub fn pascal(name: &str) -> String {
    let mut cs = name.chars();
    match cs.next() {
        Some(f) => f.to_uppercase().chain(cs).collect(),
        None => String::new(),
    }
}

fn shape<'a>(svc: &'a Service, name: &str) -> Result<&'a Shape, String> {
    svc.shape(name).ok_or_else(|| format!("the model of {} has no shape {name}", svc.id))
}

/// Text of a scalar for a URI, query string or header.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Builds the request for `op` with the Step Functions-named `input`. Errors name the field.
pub fn build(svc: &Service, op: &Operation, input: &Value) -> Result<Request, String> {
    let input = if input.is_null() { Value::Object(Map::new()) } else { input.clone() };
    let input_shape = match &op.input {
        Some(s) => Some((s.as_str(), shape(svc, s)?)),
        None => None,
    };
    if input_shape.is_none() && input.as_object().is_some_and(|o| !o.is_empty()) {
        return Err(format!("{}:{} takes no parameters", svc.id, op.name));
    }
    match svc.protocol {
        Protocol::Json => {
            let body = match input_shape {
                Some((name, _)) => to_json(svc, name, &input, "")?,
                None => Value::Object(Map::new()),
            };
            Ok(Request {
                method: "POST".into(),
                path: "/".into(),
                headers: vec![
                    ("content-type".into(), format!("application/x-amz-json-{}", svc.json_version)),
                    ("x-amz-target".into(), format!("{}.{}", svc.target, op.name)),
                ],
                body: body.to_string().into_bytes(),
            })
        }
        Protocol::Query => {
            let mut params =
                vec![("Action".to_string(), op.name.clone()), ("Version".to_string(), svc.version.clone())];
            if let Some((name, _)) = input_shape {
                to_query(svc, name, &input, "", &mut params)?;
            }
            let body = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
            Ok(Request {
                method: "POST".into(),
                path: "/".into(),
                headers: vec![("content-type".into(), "application/x-www-form-urlencoded; charset=utf-8".into())],
                body: body.into_bytes(),
            })
        }
        Protocol::RestJson | Protocol::RestXml => rest(svc, op, input_shape, &input),
    }
}

/// Percent-encoding of a query key or value (RFC 3986 unreserved characters kept).
fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, URI_SET).to_string()
}

/// Everything but RFC 3986's unreserved characters.
const URI_SET: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// As [`URI_SET`], keeping `/` (greedy labels such as S3 keys).
const PATH_SET: &percent_encoding::AsciiSet = &URI_SET.remove(b'/');

fn rest(svc: &Service, op: &Operation, input_shape: Option<(&str, &Shape)>, input: &Value) -> Result<Request, String> {
    let (template, static_query) = op.uri.split_once('?').unwrap_or((op.uri.as_str(), ""));
    let mut path = template.to_string();
    let mut query: Vec<(String, String)> = Vec::new();
    for pair in static_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.push((k.to_string(), v.to_string()));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body: Vec<u8> = Vec::new();
    if let Some((shape_name, Shape::Structure { members, payload })) = input_shape {
        let given =
            input.as_object().ok_or_else(|| format!("the parameters of {}:{} must be an object", svc.id, op.name))?;
        let mut body_members = Map::new();
        for (key, v) in given.iter().filter(|(_, v)| !v.is_null()) {
            let m = member_for(members, key)
                .ok_or_else(|| format!("The field '{key}' is not supported by {}:{}", svc.id, op.name))?;
            match m.location {
                Location::Uri => {
                    let name = m.wire_name();
                    let text = scalar_text(v);
                    path = path
                        .replace(
                            &format!("{{{name}+}}"),
                            &percent_encoding::utf8_percent_encode(&text, PATH_SET).to_string(),
                        )
                        .replace(&format!("{{{name}}}"), &enc(&text));
                }
                Location::Query => match v {
                    Value::Array(items) => {
                        query.extend(items.iter().map(|i| (m.wire_name().to_string(), scalar_text(i))));
                    }
                    Value::Object(o) => query.extend(o.iter().map(|(k, i)| (k.clone(), scalar_text(i)))),
                    other => query.push((m.wire_name().to_string(), scalar_text(other))),
                },
                Location::Header => headers.push((m.wire_name().to_string(), header_scalar(svc, m, v))),
                Location::Headers => {
                    for (k, i) in v.as_object().into_iter().flatten() {
                        headers.push((format!("{}{k}", m.wire_name()), scalar_text(i)));
                    }
                }
                Location::StatusCode => {}
                Location::Body => {
                    if payload.as_deref() == Some(m.name.as_str()) {
                        body = payload_bytes(svc, m, v)?;
                        if svc.protocol == Protocol::RestXml
                            && matches!(svc.shape(&m.shape), Some(Shape::Structure { .. }))
                        {
                            headers.push(("content-type".into(), "application/xml".into()));
                        }
                    } else {
                        body_members.insert(m.name.clone(), v.clone());
                    }
                }
            }
        }
        if !body_members.is_empty() {
            let partial = Value::Object(body_members);
            if svc.protocol == Protocol::RestJson {
                body = to_json(svc, shape_name, &partial, "")?.to_string().into_bytes();
                headers.push(("content-type".into(), "application/json".into()));
            } else {
                let mut out = String::new();
                write_xml(svc, shape_name, shape_name, &partial, &mut out, true)?;
                body = out.into_bytes();
            }
        }
    }
    // Labels nobody filled are left out (S3's optional `{Key+}` is never optional; a missing
    // required label is the service's to refuse).
    while let Some(start) = path.find('{') {
        let end = path[start..].find('}').map_or(path.len(), |e| start + e + 1);
        path.replace_range(start..end, "");
    }
    let path = if path.is_empty() { "/".to_string() } else { path.replace("//", "/") };
    let mut full = path;
    if !query.is_empty() {
        full.push('?');
        let q: Vec<String> =
            query.iter().map(|(k, v)| if v.is_empty() { enc(k) } else { format!("{}={}", enc(k), enc(v)) }).collect();
        full.push_str(&q.join("&"));
    }
    Ok(Request { method: op.method.clone(), path: full, headers, body })
}

/// A REST body that is one member: text or bytes as they are, JSON values serialised, a
/// structure as XML (REST-XML) or JSON.
fn payload_bytes(svc: &Service, m: &Member, v: &Value) -> Result<Vec<u8>, String> {
    match svc.shape(&m.shape) {
        Some(Shape::Structure { .. }) if svc.protocol == Protocol::RestXml => {
            let mut out = String::new();
            write_xml(svc, &m.shape, m.wire_name(), v, &mut out, true)?;
            Ok(out.into_bytes())
        }
        Some(Shape::Structure { .. }) => Ok(to_json(svc, &m.shape, v, &m.name)?.to_string().into_bytes()),
        _ => Ok(match v {
            Value::String(s) => s.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        }),
    }
}

fn header_scalar(svc: &Service, m: &Member, v: &Value) -> String {
    if m.json_value {
        return base64::engine::general_purpose::STANDARD.encode(v.to_string());
    }
    match (svc.shape(&m.shape), v) {
        (Some(Shape::Scalar { ty, .. }), Value::String(s)) if ty == "timestamp" => {
            chrono::DateTime::parse_from_rfc3339(s)
                .map_or_else(|_| s.clone(), |d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        }
        (Some(Shape::List { .. }), Value::Array(items)) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        _ => scalar_text(v),
    }
}

/// Step Functions-named JSON → the service's JSON (member names, epoch-second timestamps).
fn to_json(svc: &Service, shape_name: &str, v: &Value, path: &str) -> Result<Value, String> {
    match shape(svc, shape_name)? {
        Shape::Structure { members, .. } => {
            let o = v.as_object().ok_or_else(|| format!("'{}' must be an object", display(path)))?;
            let mut out = Map::new();
            // A null member is left out, as the SDK leaves out an unset one: the service
            // judges what is missing (DynamoDB: "Value null at 'item' failed to satisfy
            // constraint", recorded).
            for (key, val) in o.iter().filter(|(_, v)| !v.is_null()) {
                let m = member_for(members, key)
                    .ok_or_else(|| format!("The field '{}' is not supported by {}", join(path, key), svc.id))?;
                if m.location != Location::Body && svc.protocol != Protocol::Json {
                    continue;
                }
                out.insert(m.wire_name().to_string(), to_json(svc, &m.shape, val, &join(path, key))?);
            }
            Ok(Value::Object(out))
        }
        Shape::List { member, .. } => {
            let items = v.as_array().ok_or_else(|| format!("'{}' must be a list", display(path)))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(to_json(svc, member, item, &format!("{path}[{i}]"))?);
            }
            Ok(Value::Array(out))
        }
        Shape::Map { value, .. } => {
            let o = v.as_object().ok_or_else(|| format!("'{}' must be an object", display(path)))?;
            let mut out = Map::new();
            for (k, val) in o {
                out.insert(k.clone(), to_json(svc, value, val, &join(path, k))?);
            }
            Ok(Value::Object(out))
        }
        Shape::Scalar { ty, .. } => Ok(match (ty.as_str(), v) {
            ("timestamp", Value::String(s)) => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(d) => serde_json::json!(d.timestamp_millis() as f64 / 1000.0),
                Err(_) => v.clone(),
            },
            _ => v.clone(),
        }),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() {
        "the parameters"
    } else {
        path
    }
}

/// Step Functions-named JSON → query parameters (`Name.member.1`, `Attrs.entry.1.key`).
fn to_query(
    svc: &Service,
    shape_name: &str,
    v: &Value,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    match shape(svc, shape_name)? {
        Shape::Structure { members, .. } => {
            let o = v.as_object().ok_or_else(|| format!("'{}' must be an object", display(prefix)))?;
            for (key, val) in o {
                let m = member_for(members, key)
                    .ok_or_else(|| format!("The field '{}' is not supported by {}", join(prefix, key), svc.id))?;
                to_query(svc, &m.shape, val, &join(prefix, m.wire_name()), out)?;
            }
        }
        Shape::List { member, item_name, flattened } => {
            let items = v.as_array().ok_or_else(|| format!("'{prefix}' must be a list"))?;
            if items.is_empty() {
                out.push((prefix.to_string(), String::new()));
            }
            for (i, item) in items.iter().enumerate() {
                let key = if *flattened {
                    format!("{prefix}.{}", i + 1)
                } else {
                    format!("{prefix}.{}.{}", item_name.as_deref().unwrap_or("member"), i + 1)
                };
                to_query(svc, member, item, &key, out)?;
            }
        }
        Shape::Map { key, value, key_name, value_name, flattened } => {
            let o = v.as_object().ok_or_else(|| format!("'{prefix}' must be an object"))?;
            for (i, (k, val)) in o.iter().enumerate() {
                let entry =
                    if *flattened { format!("{prefix}.{}", i + 1) } else { format!("{prefix}.entry.{}", i + 1) };
                to_query(
                    svc,
                    key,
                    &Value::String(k.clone()),
                    &format!("{entry}.{}", key_name.as_deref().unwrap_or("key")),
                    out,
                )?;
                to_query(svc, value, val, &format!("{entry}.{}", value_name.as_deref().unwrap_or("value")), out)?;
            }
        }
        Shape::Scalar { .. } => out.push((prefix.to_string(), scalar_text(v))),
    }
    Ok(())
}

/// Step Functions-named JSON → an XML element named `name`.
fn write_xml(
    svc: &Service,
    shape_name: &str,
    name: &str,
    v: &Value,
    out: &mut String,
    root: bool,
) -> Result<(), String> {
    let ns =
        if root && !svc.xml_namespace.is_empty() { format!(" xmlns=\"{}\"", svc.xml_namespace) } else { String::new() };
    match shape(svc, shape_name)? {
        Shape::Structure { members, .. } => {
            let o = v.as_object().ok_or_else(|| format!("'{name}' must be an object"))?;
            let _ = write!(out, "<{name}{ns}>");
            for (key, val) in o {
                let m = member_for(members, key)
                    .ok_or_else(|| format!("The field '{key}' is not supported by {}", svc.id))?;
                if m.location != Location::Body {
                    continue;
                }
                let flattened = m.flattened || matches!(svc.shape(&m.shape), Some(Shape::List { flattened: true, .. }));
                match (svc.shape(&m.shape), val) {
                    (Some(Shape::List { member, .. }), Value::Array(items)) if flattened => {
                        for item in items {
                            write_xml(svc, member, m.wire_name(), item, out, false)?;
                        }
                    }
                    _ => write_xml(svc, &m.shape, m.wire_name(), val, out, false)?,
                }
            }
            let _ = write!(out, "</{name}>");
        }
        Shape::List { member, item_name, .. } => {
            let _ = write!(out, "<{name}{ns}>");
            for item in v.as_array().ok_or_else(|| format!("'{name}' must be a list"))? {
                write_xml(svc, member, item_name.as_deref().unwrap_or("member"), item, out, false)?;
            }
            let _ = write!(out, "</{name}>");
        }
        Shape::Map { key, value, key_name, value_name, .. } => {
            let _ = write!(out, "<{name}{ns}>");
            for (k, val) in v.as_object().ok_or_else(|| format!("'{name}' must be an object"))? {
                out.push_str("<entry>");
                write_xml(svc, key, key_name.as_deref().unwrap_or("key"), &Value::String(k.clone()), out, false)?;
                write_xml(svc, value, value_name.as_deref().unwrap_or("value"), val, out, false)?;
                out.push_str("</entry>");
            }
            let _ = write!(out, "</{name}>");
        }
        Shape::Scalar { .. } => {
            let _ = write!(out, "<{name}{ns}>{}</{name}>", xml::escape(&scalar_text(v)));
        }
    }
    Ok(())
}

/// The answer's output in Step Functions' names, or the service's refusal.
pub fn parse(svc: &Service, op: &Operation, resp: &Response) -> Result<Value, Refusal> {
    if !(200..300).contains(&resp.status) {
        return Err(refusal(svc, resp));
    }
    let out_shape = op.output.as_deref();
    let text = String::from_utf8_lossy(&resp.body);
    let result = match svc.protocol {
        Protocol::Json => {
            let v: Value = if text.trim().is_empty() {
                Value::Object(Map::new())
            } else {
                serde_json::from_str(&text).unwrap_or(Value::Null)
            };
            match out_shape {
                Some(s) => from_json(svc, s, &v),
                None => Value::Object(Map::new()),
            }
        }
        Protocol::Query => {
            let Some(s) = out_shape else { return Ok(Value::Object(Map::new())) };
            let root = xml::parse(&text).unwrap_or_default();
            let wrapper = op.result_wrapper.clone().unwrap_or_else(|| format!("{}Result", op.name));
            match root.child(&wrapper) {
                Some(node) => from_xml(svc, s, node),
                None => Value::Object(Map::new()),
            }
        }
        Protocol::RestJson | Protocol::RestXml => match out_shape {
            Some(s) => rest_output(svc, s, resp, &text),
            None => Value::Object(Map::new()),
        },
    };
    Ok(result)
}

fn rest_output(svc: &Service, shape_name: &str, resp: &Response, text: &str) -> Value {
    let Some(Shape::Structure { members, payload }) = svc.shape(shape_name) else { return Value::Object(Map::new()) };
    let mut out = Map::new();
    for m in members {
        let key = pascal(&m.name);
        match m.location {
            Location::Header => {
                if let Some(h) = resp.header(m.wire_name()) {
                    out.insert(key, typed_scalar(svc, &m.shape, h, true));
                }
            }
            Location::Headers => {
                let prefix = m.wire_name().to_ascii_lowercase();
                let mut map = Map::new();
                for (k, v) in &resp.headers {
                    if let Some(rest) = k.to_ascii_lowercase().strip_prefix(&prefix) {
                        map.insert(rest.to_string(), Value::String(v.clone()));
                    }
                }
                if !map.is_empty() {
                    out.insert(key, Value::Object(map));
                }
            }
            Location::StatusCode => {
                out.insert(key, resp.status.into());
            }
            _ => {}
        }
    }
    if let Some(p) = payload {
        if let Some(m) = members.iter().find(|m| &m.name == p) {
            let v = match svc.shape(&m.shape) {
                Some(Shape::Structure { .. }) if svc.protocol == Protocol::RestXml => match xml::parse(text) {
                    Ok(node) => from_xml(svc, &m.shape, &node),
                    Err(_) => Value::Null,
                },
                Some(Shape::Structure { .. }) => {
                    from_json(svc, &m.shape, &serde_json::from_str(text).unwrap_or(Value::Null))
                }
                _ => Value::String(text.to_string()),
            };
            let scalar = matches!(svc.shape(&m.shape), Some(Shape::Scalar { .. }));
            if !v.is_null() && (!text.is_empty() || scalar) {
                out.insert(pascal(&m.name), v);
            }
        }
        return Value::Object(out);
    }
    if text.trim().is_empty() {
        return Value::Object(out);
    }
    let body = if svc.protocol == Protocol::RestXml {
        xml::parse(text).map(|n| from_xml(svc, shape_name, &n)).unwrap_or(Value::Null)
    } else {
        from_json(svc, shape_name, &serde_json::from_str(text).unwrap_or(Value::Null))
    };
    if let Value::Object(b) = body {
        for (k, v) in b {
            out.entry(k).or_insert(v);
        }
    }
    Value::Object(out)
}

/// The service's JSON → Step Functions' names (PascalCase members; ISO-8601 timestamps).
fn from_json(svc: &Service, shape_name: &str, v: &Value) -> Value {
    match (svc.shape(shape_name), v) {
        (Some(Shape::Structure { members, .. }), Value::Object(o)) => {
            let mut out = Map::new();
            // Nulls are members the service did not set: the SDK shows none (AWS sends none).
            for (k, val) in o.iter().filter(|(_, v)| !v.is_null()) {
                match members.iter().find(|m| m.wire_name() == k) {
                    Some(m) => out.insert(pascal(&m.name), from_json(svc, &m.shape, val)),
                    None => out.insert(pascal(k), val.clone()),
                };
            }
            Value::Object(out)
        }
        (Some(Shape::List { member, .. }), Value::Array(items)) => {
            Value::Array(items.iter().map(|i| from_json(svc, member, i)).collect())
        }
        (Some(Shape::Map { value, .. }), Value::Object(o)) => {
            Value::Object(o.iter().map(|(k, val)| (k.clone(), from_json(svc, value, val))).collect())
        }
        (Some(Shape::Scalar { ty, .. }), Value::Number(n)) if ty == "timestamp" => {
            let secs = n.as_f64().unwrap_or_default();
            let millis = (secs * 1000.0).round() as i64;
            chrono::DateTime::from_timestamp_millis(millis)
                .map_or_else(|| v.clone(), |d| Value::String(d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        }
        _ => v.clone(),
    }
}

/// An XML element → Step Functions' names, by the model.
fn from_xml(svc: &Service, shape_name: &str, node: &Node) -> Value {
    match svc.shape(shape_name) {
        Some(Shape::Structure { members, .. }) => {
            let mut out = Map::new();
            for m in members.iter().filter(|m| m.location == Location::Body) {
                let name = m.wire_name();
                if m.attribute {
                    if let Some((_, v)) = node.attributes.iter().find(|(k, _)| k == name) {
                        out.insert(pascal(&m.name), typed_scalar(svc, &m.shape, v, false));
                    }
                    continue;
                }
                let flattened_list = match svc.shape(&m.shape) {
                    Some(Shape::List { flattened, member, .. }) if m.flattened || *flattened => Some(member.clone()),
                    _ => None,
                };
                if let Some(item_shape) = flattened_list {
                    let items: Vec<Value> = node.children_named(name).map(|c| from_xml(svc, &item_shape, c)).collect();
                    if !items.is_empty() {
                        out.insert(pascal(&m.name), Value::Array(items));
                    }
                    continue;
                }
                if let Some(child) = node.child(name) {
                    out.insert(pascal(&m.name), from_xml(svc, &m.shape, child));
                }
            }
            Value::Object(out)
        }
        Some(Shape::List { member, .. }) => {
            Value::Array(node.children.iter().map(|c| from_xml(svc, member, c)).collect())
        }
        Some(Shape::Map { value, key_name, value_name, .. }) => {
            let mut out = Map::new();
            for entry in &node.children {
                let k = entry.child(key_name.as_deref().unwrap_or("key")).map(|n| n.text.clone()).unwrap_or_default();
                if let Some(v) = entry.child(value_name.as_deref().unwrap_or("value")) {
                    out.insert(k, from_xml(svc, value, v));
                }
            }
            Value::Object(out)
        }
        Some(Shape::Scalar { .. }) => typed_scalar(svc, shape_name, &node.text, false),
        None => Value::String(node.text.clone()),
    }
}

/// Text read from XML or a header, as the shape's JSON type.
fn typed_scalar(svc: &Service, shape_name: &str, text: &str, header: bool) -> Value {
    match svc.shape(shape_name) {
        Some(Shape::Scalar { ty, .. }) => match ty.as_str() {
            "integer" | "long" => text.trim().parse::<i64>().map_or_else(|_| Value::String(text.into()), Value::from),
            "double" | "float" => text.trim().parse::<f64>().map_or_else(|_| Value::String(text.into()), Value::from),
            "boolean" => Value::Bool(text.trim() == "true"),
            "timestamp" => {
                let parsed = chrono::DateTime::parse_from_rfc3339(text.trim())
                    .or_else(|_| chrono::DateTime::parse_from_rfc2822(text.trim()))
                    .ok();
                parsed.map_or_else(
                    || Value::String(text.into()),
                    |d| Value::String(d.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                )
            }
            _ => Value::String(text.into()),
        },
        Some(Shape::List { .. }) if header => {
            Value::Array(text.split(',').map(|s| Value::String(s.trim().into())).collect())
        }
        _ => Value::String(text.into()),
    }
}

/// A refusal's code, message and request id, from wherever the protocol puts them.
fn refusal(svc: &Service, resp: &Response) -> Refusal {
    let text = String::from_utf8_lossy(&resp.body).to_string();
    let mut request_id = resp.request_id().unwrap_or_default().to_string();
    let mut code = String::new();
    let mut message = String::new();
    match svc.protocol {
        Protocol::Json | Protocol::RestJson => {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let raw = resp
                .header("x-amzn-query-error")
                .map(|q| q.split(';').next().unwrap_or_default().to_string())
                .or_else(|| v.get("__type").and_then(Value::as_str).map(String::from))
                .or_else(|| v.get("code").and_then(Value::as_str).map(String::from))
                .or_else(|| resp.header("x-amzn-ErrorType").map(String::from))
                .unwrap_or_default();
            code = raw.rsplit('#').next().unwrap_or_default().split(':').next().unwrap_or_default().to_string();
            message = ["message", "Message", "errorMessage"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str))
                .unwrap_or_default()
                .to_string();
        }
        Protocol::RestXml | Protocol::Query => {
            if let Ok(root) = xml::parse(&text) {
                code = root.find_text("Code").unwrap_or_default().to_string();
                message = root.find_text("Message").unwrap_or_default().to_string();
                if request_id.is_empty() {
                    request_id = root.find_text("RequestId").unwrap_or_default().to_string();
                }
            }
        }
    }
    if code.is_empty() {
        // A HEAD answer has no body: the status says it.
        code = match resp.status {
            304 => "NotModified",
            400 => "BadRequest",
            403 => "Forbidden",
            404 => "NotFound",
            _ => "UnknownError",
        }
        .to_string();
    }
    Refusal {
        status: resp.status,
        code,
        message,
        request_id,
        extended_request_id: resp.header("x-amz-id-2").map(String::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::service;
    use serde_json::json;

    #[test]
    fn json_requests_use_the_models_names() {
        let sfn = service("sfn").expect("sfn");
        let op = sfn.operation("startExecution").expect("op");
        let r = build(&sfn, op, &json!({"StateMachineArn": "arn", "Input": "{}"})).expect("builds");
        assert_eq!(r.headers[1], ("x-amz-target".into(), "AWSStepFunctions.StartExecution".into()));
        let body: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body, json!({"stateMachineArn": "arn", "input": "{}"}));
        let err = build(&sfn, op, &json!({"StateMachineArn": "arn", "Bogus": 1})).expect_err("refused");
        assert!(err.contains("'Bogus'"), "{err}");
        let out = parse(
            &sfn,
            op,
            &Response { status: 200, headers: vec![], body: br#"{"executionArn":"e","startDate":1.7e9}"#.to_vec() },
        )
        .expect("answer");
        assert_eq!(out, json!({"ExecutionArn": "e", "StartDate": "2023-11-14T22:13:20.000Z"}));
    }

    #[test]
    fn dynamodb_items_keep_their_attribute_names() {
        let ddb = service("dynamodb").expect("ddb");
        let op = ddb.operation("putItem").expect("op");
        let r = build(&ddb, op, &json!({"TableName": "t", "Item": {"id": {"S": "1"}}})).expect("builds");
        let body: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body, json!({"TableName": "t", "Item": {"id": {"S": "1"}}}));
        let refused = parse(
            &ddb,
            op,
            &Response {
                status: 400,
                headers: vec![("x-amzn-RequestId".into(), "R".into())],
                body: br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#.to_vec(),
            },
        )
        .expect_err("refused");
        assert_eq!(
            (refused.code.as_str(), refused.message.as_str(), refused.request_id.as_str()),
            ("ResourceNotFoundException", "Requested resource not found", "R")
        );
    }

    #[test]
    fn s3_requests_bind_uri_headers_and_payloads() {
        let s3 = service("s3").expect("s3");
        let op = s3.operation("putObject").expect("op");
        let r = build(
            &s3,
            op,
            &json!({"Bucket": "b", "Key": "a/b c.json", "Body": {"x": 1}, "ContentType": "application/json"}),
        )
        .expect("builds");
        assert_eq!(r.method, "PUT");
        assert!(r.path.starts_with("/b/a/b%20c.json"), "{}", r.path);
        assert_eq!(r.body, br#"{"x":1}"#.to_vec());
        assert!(r.headers.contains(&("Content-Type".into(), "application/json".into())), "{:?}", r.headers);
        let get = s3.operation("getObject").expect("op");
        let out = parse(
            &s3,
            get,
            &Response {
                status: 200,
                headers: vec![("ETag".into(), "\"e\"".into()), ("Content-Length".into(), "5".into())],
                body: b"hello".to_vec(),
            },
        )
        .expect("answer");
        assert_eq!(out["Body"], "hello");
        assert_eq!(out["ETag"], "\"e\"");
        assert_eq!(out["ContentLength"], 5);
        let list = s3.operation("listBuckets").expect("op");
        let out = parse(
            &s3,
            list,
            &Response {
                status: 200,
                headers: vec![],
                body: b"<ListAllMyBucketsResult><Buckets><Bucket><Name>a</Name><CreationDate>2024-01-02T03:04:05.000Z</CreationDate></Bucket></Buckets><Owner><ID>o</ID></Owner></ListAllMyBucketsResult>".to_vec(),
            },
        )
        .expect("answer");
        assert_eq!(out["Buckets"], json!([{"Name": "a", "CreationDate": "2024-01-02T03:04:05.000Z"}]));
        let refused = parse(
            &s3,
            get,
            &Response {
                status: 404,
                headers: vec![("x-amz-id-2".into(), "X".into())],
                body: b"<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>R</RequestId></Error>".to_vec(),
            },
        )
        .expect_err("refused");
        assert_eq!(refused.code, "NoSuchBucket");
        assert_eq!(refused.request_id, "R");
        assert_eq!(refused.extended_request_id.as_deref(), Some("X"));
    }

    #[test]
    fn query_requests_flatten_lists_and_maps() {
        let sns = service("sns").expect("sns");
        let op = sns.operation("publish").expect("op");
        let r = build(
            &sns,
            op,
            &json!({"TopicArn": "t", "Message": "a b", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}),
        )
        .expect("builds");
        let body = String::from_utf8(r.body).expect("utf8");
        assert!(body.starts_with("Action=Publish&Version=2010-03-31&TopicArn=t&Message=a%20b"), "{body}");
        assert!(body.contains("MessageAttributes.entry.1.Name=k"), "{body}");
        let out = parse(
            &sns,
            op,
            &Response {
                status: 200,
                headers: vec![],
                body: b"<PublishResponse><PublishResult><MessageId>m</MessageId></PublishResult></PublishResponse>"
                    .to_vec(),
            },
        )
        .expect("answer");
        assert_eq!(out, json!({"MessageId": "m"}));
    }
}
