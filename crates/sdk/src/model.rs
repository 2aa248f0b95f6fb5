//! AWS service models: what an action takes and answers, and how each service speaks.
//!
//! The models are AWS's own (botocore's `service-2.json`, from which the AWS SDKs are
//! generated), compacted by `scripts/gen_service_models.py` into `models/services.json.deflate`:
//! an index line, then one deflated JSON document per service. A service's document is inflated
//! and parsed the first time it is called (a few milliseconds) and kept.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

static MODELS: &[u8] = include_bytes!("../models/services.json.deflate");

/// How a service's requests and responses are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `awsJson1_0` / `awsJson1_1`: a JSON body, the action in `X-Amz-Target`.
    Json,
    /// REST with JSON bodies (Lambda, API Gateway, ...).
    RestJson,
    /// REST with XML bodies (S3, Route 53, CloudFront).
    RestXml,
    /// The query protocol: a form body, XML answers (SNS, STS, IAM, ...).
    Query,
}

/// Where a member travels in a REST request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// In the body.
    Body,
    /// In the URI path (`{Bucket}`).
    Uri,
    /// In the query string.
    Query,
    /// In a header.
    Header,
    /// In headers with a common prefix (a map: `x-amz-meta-*`).
    Headers,
    /// The HTTP status code.
    StatusCode,
}

/// A member of a structure.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member's name in the model (`TableName`, `stateMachineArn`).
    pub name: String,
    /// Its shape.
    pub shape: String,
    /// Where it travels.
    pub location: Location,
    /// Its name on the wire where that differs (header name, XML element, query key).
    pub location_name: Option<String>,
    /// A flattened XML list or map.
    pub flattened: bool,
    /// An XML attribute.
    pub attribute: bool,
    /// A JSON document carried as a string (a header holding base64 JSON).
    pub json_value: bool,
}

impl Member {
    /// The name on the wire.
    pub fn wire_name(&self) -> &str {
        self.location_name.as_deref().unwrap_or(&self.name)
    }
}

/// A shape.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A structure, its members in model order; `payload` names the member that is the body.
    Structure {
        /// Members.
        members: Vec<Member>,
        /// The member that is the whole body (REST).
        payload: Option<String>,
    },
    /// A list.
    List {
        /// The items' shape.
        member: String,
        /// The items' XML element name.
        item_name: Option<String>,
        /// Flattened in XML.
        flattened: bool,
    },
    /// A map.
    Map {
        /// The keys' shape.
        key: String,
        /// The values' shape.
        value: String,
        /// XML element names of keys and values.
        key_name: Option<String>,
        /// XML element name of values.
        value_name: Option<String>,
        /// Flattened in XML.
        flattened: bool,
    },
    /// A scalar: `string`, `integer`, `long`, `boolean`, `double`, `float`, `timestamp`,
    /// `blob`, `document`.
    Scalar {
        /// The type.
        ty: String,
        /// A timestamp's wire format (`iso8601`, `unixTimestamp`, `rfc822`).
        format: Option<String>,
        /// A streaming blob (a body).
        streaming: bool,
    },
}

/// An operation (action).
#[derive(Debug, Clone)]
pub struct Operation {
    /// Its name (`GetItem`).
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Request URI template (`/{Bucket}/{Key+}?tagging`).
    pub uri: String,
    /// Input shape.
    pub input: Option<String>,
    /// Output shape.
    pub output: Option<String>,
    /// The query protocol's result element (`PublishResult`).
    pub result_wrapper: Option<String>,
}

/// A service's model.
#[derive(Debug)]
pub struct Service {
    /// The name in `aws-sdk:` ARNs (`dynamodb`, `sfn`, `s3`).
    pub id: String,
    /// How it speaks.
    pub protocol: Protocol,
    /// `1.0` or `1.1` (JSON protocols).
    pub json_version: String,
    /// `X-Amz-Target` prefix (JSON protocols).
    pub target: String,
    /// SigV4 signing name.
    pub signing_name: String,
    /// Host prefix of its endpoints.
    pub endpoint_prefix: String,
    /// AWS's service id (`DynamoDB`, `SFN`, `Secrets Manager`).
    pub service_id: String,
    /// API version (query protocol `Version`).
    pub version: String,
    /// XML namespace of request bodies (rest-xml).
    pub xml_namespace: String,
    operations: HashMap<String, Operation>,
    shapes: HashMap<String, Shape>,
    /// Error codes that differ from their shapes' names (query protocol: `NotFound`).
    error_codes: HashMap<String, String>,
}

impl Service {
    /// The operation an ARN's action names (`getItem` → `GetItem`; case-insensitive).
    pub fn operation(&self, action: &str) -> Option<&Operation> {
        self.operations.get(&action.to_ascii_lowercase())
    }

    /// A shape by name.
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    /// The error structure the service declares for an error code (its name, which the SDKs'
    /// exception classes take: SNS's `NotFound` is `NotFoundException`), if it declares one.
    pub fn exception(&self, code: &str) -> Option<String> {
        if let Some(shape) = self.error_codes.get(code) {
            return Some(shape.clone());
        }
        let declared = matches!(self.shapes.get(code), Some(Shape::Structure { .. }))
            && !self.operations.values().any(|o| o.input.as_deref() == Some(code) || o.output.as_deref() == Some(code));
        declared.then(|| code.to_string())
    }

    /// The Java SDK v2's name of the service, which Step Functions' error names use
    /// (`DynamoDb`, `Sfn`, `SecretsManager`, `S3`, `CloudWatchLogs`).
    pub fn sdk_name(&self) -> String {
        sdk_name(&self.service_id)
    }

    /// The environment variable naming its endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER`).
    pub fn endpoint_env(&self) -> String {
        format!("AWS_ENDPOINT_URL_{}", self.service_id.to_ascii_uppercase().replace([' ', '-'], "_"))
    }
}

/// The SDK v2 class-name form of a service id: words (split at spaces and case changes), each
/// capitalised with the rest in lower case.
pub fn sdk_name(service_id: &str) -> String {
    let mut out = String::new();
    for word in service_id.split([' ', '-', '_']) {
        let chars: Vec<char> = word.chars().collect();
        let mut start = 0;
        for i in 1..=chars.len() {
            let boundary = i == chars.len()
                || (chars[i].is_uppercase() && chars[i - 1].is_lowercase())
                || (chars[i].is_uppercase()
                    && i + 1 < chars.len()
                    && chars[i + 1].is_lowercase()
                    && chars[i - 1].is_uppercase());
            if boundary {
                let part: String = chars[start..i].iter().collect();
                let mut cs = part.chars();
                if let Some(first) = cs.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(&cs.as_str().to_lowercase());
                }
                start = i;
            }
        }
    }
    out
}

/// Each service's (offset, length) in the blobs, and where the blobs start.
type Index = (HashMap<String, (usize, usize)>, usize);

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let end = MODELS.iter().position(|b| *b == b'\n').unwrap_or(0);
        let parsed: HashMap<String, (usize, usize)> = serde_json::from_slice(&MODELS[..end]).unwrap_or_default();
        (parsed, end + 1)
    })
}

/// The names of the services there are models of.
pub fn services() -> Vec<String> {
    let mut names: Vec<String> = index().0.keys().cloned().collect();
    names.sort();
    names
}

/// The model of a service by its `aws-sdk:` name (`dynamodb`, `sfn`); `None` when AWS
/// publishes no model by that name (or it speaks a protocol stepwise does not).
pub fn service(id: &str) -> Option<Arc<Service>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Service>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(s) = cache.lock().ok()?.get(id) {
        return Some(s.clone());
    }
    let (idx, base) = index();
    let (offset, len) = *idx.get(id)?;
    let blob = MODELS.get(base + offset..base + offset + len)?;
    let text = miniz_oxide::inflate::decompress_to_vec(blob).ok()?;
    let doc: Value = serde_json::from_slice(&text).ok()?;
    let service = Arc::new(parse(id, &doc)?);
    cache.lock().ok()?.insert(id.to_string(), service.clone());
    Some(service)
}

fn parse(id: &str, doc: &Value) -> Option<Service> {
    let s = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let protocol = match doc.get("protocol")?.as_str()? {
        "json" => Protocol::Json,
        "rest-json" => Protocol::RestJson,
        "rest-xml" => Protocol::RestXml,
        "query" => Protocol::Query,
        _ => return None,
    };
    let opt = |v: Option<&Value>| v.and_then(Value::as_str).filter(|x| !x.is_empty()).map(String::from);
    let mut operations = HashMap::new();
    for (name, op) in doc.get("ops")?.as_object()? {
        let op = op.as_array()?;
        operations.insert(
            name.to_ascii_lowercase(),
            Operation {
                name: name.clone(),
                method: opt(op.first()).unwrap_or_else(|| "POST".into()),
                uri: opt(op.get(1)).unwrap_or_else(|| "/".into()),
                input: opt(op.get(2)),
                output: opt(op.get(3)),
                result_wrapper: opt(op.get(4)),
            },
        );
    }
    let mut shapes = HashMap::new();
    for (name, sh) in doc.get("shapes")?.as_object()? {
        let a = sh.as_array()?;
        let ty = a.first()?.as_str()?;
        let shape = match ty {
            "structure" => {
                let mut members = Vec::new();
                for (m, spec) in a.get(1)?.as_object()? {
                    let spec = spec.as_array()?;
                    let location = match spec.get(1).and_then(Value::as_str).unwrap_or("") {
                        "uri" => Location::Uri,
                        "querystring" => Location::Query,
                        "header" => Location::Header,
                        "headers" => Location::Headers,
                        "statusCode" => Location::StatusCode,
                        _ => Location::Body,
                    };
                    let flags = spec.get(3).and_then(Value::as_str).unwrap_or("");
                    members.push(Member {
                        name: m.clone(),
                        shape: spec.first()?.as_str()?.to_string(),
                        location,
                        location_name: opt(spec.get(2)),
                        flattened: flags.contains('f'),
                        attribute: flags.contains('a'),
                        json_value: flags.contains('j'),
                    });
                }
                Shape::Structure { members, payload: opt(a.get(2)) }
            }
            "list" => Shape::List {
                member: a.get(1)?.as_str()?.to_string(),
                item_name: opt(a.get(2)),
                flattened: a.get(3).and_then(Value::as_str) == Some("f"),
            },
            "map" => Shape::Map {
                key: a.get(1)?.as_str()?.to_string(),
                value: a.get(2)?.as_str()?.to_string(),
                key_name: opt(a.get(3)),
                value_name: opt(a.get(4)),
                flattened: a.get(5).and_then(Value::as_str) == Some("f"),
            },
            other => {
                let extra: Vec<&str> = a[1..].iter().filter_map(Value::as_str).collect();
                Shape::Scalar {
                    ty: other.to_string(),
                    format: extra.iter().find(|x| **x != "streaming" && **x != "jsonvalue").map(|x| (*x).to_string()),
                    streaming: extra.contains(&"streaming"),
                }
            }
        };
        shapes.insert(name.clone(), shape);
    }
    Some(Service {
        id: id.to_string(),
        protocol,
        json_version: s("json"),
        target: s("target"),
        signing_name: s("signing"),
        endpoint_prefix: s("endpoint"),
        service_id: s("service_id"),
        version: s("version"),
        xml_namespace: s("xmlns"),
        operations,
        shapes,
        error_codes: doc
            .get("errors")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_load_by_their_sdk_names() {
        let ddb = service("dynamodb").expect("dynamodb");
        assert_eq!(ddb.protocol, Protocol::Json);
        assert_eq!(ddb.target, "DynamoDB_20120810");
        assert_eq!(ddb.operation("putItem").map(|o| o.name.as_str()), Some("PutItem"));
        assert_eq!(ddb.exception("ResourceNotFoundException").as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(ddb.exception("ValidationException"), None);
        let sns = service("sns").expect("sns");
        assert_eq!(sns.exception("NotFound").as_deref(), Some("NotFoundException"));
        let s3 = service("s3").expect("s3");
        assert_eq!(s3.protocol, Protocol::RestXml);
        assert_eq!(s3.operation("getObject").map(|o| o.uri.as_str()), Some("/{Bucket}/{Key+}"));
        assert!(service("sfn").is_some() && service("secretsmanager").is_some() && service("eventbridge").is_some());
        assert!(service("nosuchservice").is_none());
        assert!(services().len() > 300);
    }

    #[test]
    fn sdk_names_are_the_java_v2_class_prefixes() {
        assert_eq!(sdk_name("DynamoDB"), "DynamoDb");
        assert_eq!(sdk_name("SFN"), "Sfn");
        assert_eq!(sdk_name("S3"), "S3");
        assert_eq!(sdk_name("Secrets Manager"), "SecretsManager");
        assert_eq!(sdk_name("EventBridge"), "EventBridge");
        assert_eq!(sdk_name("CloudWatch Logs"), "CloudWatchLogs");
        assert_eq!(sdk_name("SQS"), "Sqs");
    }
}
