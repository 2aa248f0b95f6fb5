//! Calls of AWS service actions: the optimized DynamoDB integrations (`dynamodb:getItem`,
//! `putItem`, `updateItem`, `deleteItem`), EventBridge `events:putEvents`, and
//! `aws-sdk:<service>:<action>` for any action of any service AWS publishes a model of.
//!
//! The call itself ([`AwsCall`]: service, action, the state's parameters, the role to call as)
//! is protocol-free: the runtime's port (`stepwise-sdk`) turns it into the service's wire
//! request from the service's model and its answer back into Step Functions' names
//! ([`AwsReply`]). What is shaped here is what Step Functions adds around the answer, and it
//! differs by flavour, as recorded:
//! - optimized DynamoDB results carry the Java SDK v1's `SdkHttpMetadata` and
//!   `SdkResponseMetadata`; its errors are `DynamoDB.<Exception>` with the v1 message
//!   (`(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: …; Request ID: …; Proxy: null)`),
//!   unmodelled exceptions becoming `DynamoDB.AmazonDynamoDBException`;
//! - `aws-sdk:*` results are the response members only; errors are `<Service>.<Exception>`
//!   with the SDK v2 class names (`DynamoDb`, `Sfn`, `S3`, `SecretsManager`; unmodelled ones
//!   `<Service>.<Service>Exception`) and the v2 message
//!   (`(Service: Sfn, Status Code: 400, Request ID: …) (SDK Attempt Count: 1)`);
//! - `events:putEvents` fails with `EventBridge.FailedEntry` (the response as the cause) when
//!   an entry failed.

use super::{failed, Call, Integration, InvokeContext};
use crate::stepper::{TaskOutcome, TaskRequest};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// How Step Functions presents the call's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flavour {
    /// An optimized integration (`arn:aws:states:::dynamodb:putItem`, `events:putEvents`).
    Optimized,
    /// `arn:aws:states:::aws-sdk:<service>:<action>`.
    Sdk,
}

/// Who an execution's Task calls are made as: the state machine's role (`roleArn`), assumed
/// through STS in a session named after the execution (as Step Functions and SWF run each
/// workflow's calls with its own role). A Task's `Credentials.RoleArn` is assumed from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// The role's ARN.
    pub role_arn: String,
    /// The STS session name: the execution's name, as STS allows it (`[\w+=,.@-]`, 2 to 64
    /// characters).
    pub session: String,
    /// The state machine's ARN, sent as AssumeRole's `ExternalId`: a role's trust policy can
    /// name the machines allowed to use it (`sts:ExternalId`), as `aws:SourceArn` does for
    /// Step Functions' service principal.
    #[serde(default)]
    pub source_arn: String,
}

impl Identity {
    /// Who an execution's Task calls are made as: its machine's role (none without one).
    pub fn of(info: &crate::stepper::ExecutionInfo) -> Option<Identity> {
        (!info.role_arn.is_empty()).then(|| Identity::of_execution(&info.role_arn, &info.name, &info.state_machine_arn))
    }

    /// The identity of an execution named `execution` of the machine `machine_arn` with role
    /// `role_arn`.
    pub fn of_execution(role_arn: &str, execution: &str, machine_arn: &str) -> Identity {
        let mut session: String = execution
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) { c } else { '-' })
            .take(64)
            .collect();
        while session.len() < 2 {
            session.push('-');
        }
        Identity { role_arn: role_arn.to_string(), session, source_arn: machine_arn.to_string() }
    }
}

/// One call of an AWS service action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsCall {
    /// The service as `aws-sdk:` ARNs name it (the SDK's client name in lower case:
    /// `dynamodb`, `s3`, `sfn`, `secretsmanager`, `eventbridge`, ...).
    pub service: String,
    /// The action as the Resource names it (`putItem`, `getObject`).
    pub action: String,
    /// The state's parameters, in Step Functions' names (PascalCase members).
    pub input: Value,
    /// `Credentials.RoleArn`: the call is made with this role's credentials (assumed from the
    /// execution's identity, when there is one).
    pub role: Option<String>,
    /// The execution's identity the call is made as; `None`: the runtime's own credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// How the answer is presented.
    pub flavour: Flavour,
}

/// What a service answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The service's request id.
    pub request_id: String,
    /// The response members in Step Functions' names.
    pub output: Value,
    /// The response body as the service sends it (for the lengths and checksums in metadata).
    pub body: String,
}

/// A service's refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwsFault {
    /// The HTTP status.
    pub status: u16,
    /// The error code (`ResourceNotFoundException`, `NoSuchBucket`).
    pub code: String,
    /// The service's message.
    pub message: String,
    /// The service's request id.
    pub request_id: String,
    /// S3's extended request id (`x-amz-id-2`).
    pub extended_request_id: Option<String>,
    /// The exception the service's model declares for the code (`NotFoundException` for SNS's
    /// `NotFound`), when it declares one: the SDKs have a class for it.
    pub exception: Option<String>,
    /// The SDK v2 name of the service (`DynamoDb`, `Sfn`, `S3`, `SecretsManager`).
    pub sdk_name: String,
}

/// The outcome of an [`AwsCall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AwsReply {
    /// The service answered.
    Answer(AwsAnswer),
    /// The service refused.
    Fault(AwsFault),
    /// The request could not be made or sent: the task fails with this error and cause
    /// (`States.Runtime` for an unknown action or missing endpoint, `<Service>.SdkClientException`
    /// for a host that does not resolve, as recorded).
    NotSent {
        /// Error name.
        error: String,
        /// Cause.
        cause: String,
    },
}

/// The call a DynamoDB, EventBridge or `aws-sdk:*` task request needs.
pub(super) fn plan(req: &TaskRequest) -> Call {
    let tail = req.resource.rsplit(":::").next().unwrap_or_default();
    let tail = tail.strip_suffix(".waitForTaskToken").unwrap_or(tail);
    let (service, action, flavour) = match req.integration {
        Integration::AwsSdk => {
            let mut parts = tail.splitn(3, ':');
            let (_, service, action) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            (service.to_string(), action.to_string(), Flavour::Sdk)
        }
        Integration::EventsPutEvents => ("eventbridge".to_string(), "putEvents".to_string(), Flavour::Optimized),
        _ => {
            let action = tail.split(':').nth(1).unwrap_or_default();
            ("dynamodb".to_string(), action.to_string(), Flavour::Optimized)
        }
    };
    let mut input = req.parameters.clone();
    if req.integration == Integration::EventsPutEvents {
        // Step Functions serialises a JSON `Detail` for the caller.
        if let Some(entries) = input.get_mut("Entries").and_then(Value::as_array_mut) {
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(d) = entry.get_mut("Detail") {
                    if !d.is_string() {
                        *d = Value::String(d.to_string());
                    }
                }
            }
        }
    }
    if service == "s3" && action.eq_ignore_ascii_case("putObject") {
        // Step Functions writes the Body as JSON text (a string keeps its quotes) with a text
        // content type unless one is given (recorded: the objects read back afterwards).
        if let Some(o) = input.as_object_mut() {
            if let Some(body) = o.get_mut("Body") {
                *body = Value::String(body.to_string());
            }
            o.entry("ContentType").or_insert_with(|| Value::String("text/plain; charset=UTF-8".into()));
        }
    }
    let role = req.credentials.as_ref().and_then(|c| c.get("RoleArn")).and_then(Value::as_str).map(String::from);
    // The runtime makes the call as the execution's identity (`AwsCall::identity`).
    Call::Aws(AwsCall { service, action, input, role, identity: None, flavour })
}

/// The task's outcome from the service's answer, shaped for the flavour.
pub(super) fn complete(call: &AwsCall, reply: AwsReply, ctx: &InvokeContext) -> TaskOutcome {
    match reply {
        AwsReply::NotSent { error, cause } => failed(&error, &cause),
        AwsReply::Fault(f) => fault(call, &f),
        AwsReply::Answer(a) => {
            if call.service == "eventbridge" && call.flavour == Flavour::Optimized {
                let failures = a.output.get("FailedEntryCount").and_then(Value::as_i64).unwrap_or(0);
                if failures > 0 {
                    return failed("EventBridge.FailedEntry", &a.output.to_string());
                }
                return TaskOutcome::Succeeded(a.output);
            }
            if call.flavour == Flavour::Optimized {
                return TaskOutcome::Succeeded(with_v1_metadata(a, ctx));
            }
            TaskOutcome::Succeeded(a.output)
        }
    }
}

/// A refusal as Step Functions names it.
fn fault(call: &AwsCall, f: &AwsFault) -> TaskOutcome {
    let (error, cause) = if call.flavour == Flavour::Optimized { v1_error(&call.service, f) } else { sdk_error(f) };
    failed(&error, &cause)
}

/// The names the Java SDK v1 (Step Functions' optimized integrations) gives a service: the
/// error prefix and the `Service:` of its messages; `None` for services those integrations
/// do not call.
pub fn v1_names(service: &str) -> Option<(&'static str, &'static str)> {
    match service {
        "dynamodb" => Some(("DynamoDB", "AmazonDynamoDBv2")),
        "eventbridge" => Some(("EventBridge", "AmazonCloudWatchEvents")),
        "sqs" => Some(("SQS", "AmazonSQS")),
        "sns" => Some(("SNS", "AmazonSNS")),
        _ => None,
    }
}

/// A refusal as the Java SDK v1 names it: modelled exceptions by class, the rest as the
/// service's base class (`DynamoDB.AmazonDynamoDBException`), and the v1 message.
pub fn v1_error(service: &str, f: &AwsFault) -> (String, String) {
    let (name, sdk_service) = v1_names(service).unwrap_or(("Aws", "Aws"));
    let class = exception_class(f.exception.as_deref()).unwrap_or_else(|| format!("Amazon{name}Exception"));
    (
        format!("{name}.{class}"),
        format!(
            "{} (Service: {sdk_service}; Status Code: {}; Error Code: {}; Request ID: {}; Proxy: null)",
            f.message, f.status, f.code, f.request_id
        ),
    )
}

/// A refusal as the Java SDK v2 names it: a class per modelled error (`Exception` appended
/// where the model's name lacks it), the rest as the service's base exception; the v2
/// message with the attempt count.
pub(crate) fn sdk_error(f: &AwsFault) -> (String, String) {
    let class = exception_class(f.exception.as_deref()).unwrap_or_else(|| format!("{}Exception", f.sdk_name));
    let extended = f.extended_request_id.as_ref().map(|x| format!(", Extended Request ID: {x}")).unwrap_or_default();
    (
        format!("{}.{class}", f.sdk_name),
        format!(
            "{} (Service: {}, Status Code: {}, Request ID: {}{extended}) (SDK Attempt Count: 1)",
            f.message, f.sdk_name, f.status, f.request_id
        ),
    )
}

/// The SDKs' class for an exception the model declares: its name, `Exception` appended where
/// the model's name lacks it (SQS's `QueueDoesNotExist`, S3's `NoSuchBucket`).
pub fn exception_class(declared: Option<&str>) -> Option<String> {
    declared.map(|e| if e.ends_with("Exception") { e.to_string() } else { format!("{e}Exception") })
}

/// The answer with the metadata the Java SDK v1 reports: DynamoDB's response headers
/// (`x-amz-crc32` of the body, its length, JSON 1.0 content type) and request id.
fn with_v1_metadata(a: AwsAnswer, ctx: &InvokeContext) -> Value {
    let mut out = match a.output {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let len = a.body.len().to_string();
    let crc = crc32(a.body.as_bytes()).to_string();
    let date = ctx.now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let rid = a.request_id;
    out.insert(
        "SdkHttpMetadata".into(),
        json!({
            "AllHttpHeaders": {
                "Server": ["Server"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [rid],
                "x-amz-crc32": [crc],
                "Content-Length": [len],
                "Date": [date],
                "Content-Type": ["application/x-amz-json-1.0"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": len,
                "Content-Type": "application/x-amz-json-1.0",
                "Date": date,
                "Server": "Server",
                "x-amz-crc32": crc,
                "x-amzn-RequestId": rid
            },
            "HttpStatusCode": a.status
        }),
    );
    out.insert("SdkResponseMetadata".into(), json!({"RequestId": rid}));
    Value::Object(out)
}

/// CRC-32 (IEEE), as DynamoDB's `x-amz-crc32` header gives it.
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(flavour: Flavour, service: &str) -> AwsCall {
        AwsCall {
            service: service.into(),
            action: "putItem".into(),
            input: json!({}),
            role: None,
            identity: None,
            flavour,
        }
    }

    fn fault_of(code: &str, modeled: bool, sdk: &str) -> AwsFault {
        let exception = modeled.then(|| code.to_string());
        AwsFault {
            status: 400,
            code: code.into(),
            message: "Requested resource not found".into(),
            request_id: "RID".into(),
            extended_request_id: None,
            exception,
            sdk_name: sdk.into(),
        }
    }

    #[test]
    fn optimized_dynamodb_errors_quote_the_v1_sdk() {
        let TaskOutcome::Failed { error, cause } =
            fault(&call(Flavour::Optimized, "dynamodb"), &fault_of("ResourceNotFoundException", true, "DynamoDb"))
        else {
            panic!("not failed")
        };
        assert_eq!(error.as_deref(), Some("DynamoDB.ResourceNotFoundException"));
        assert_eq!(
            cause.as_deref(),
            Some(
                "Requested resource not found (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: \
                 ResourceNotFoundException; Request ID: RID; Proxy: null)"
            )
        );
        let TaskOutcome::Failed { error, .. } =
            fault(&call(Flavour::Optimized, "dynamodb"), &fault_of("ValidationException", false, "DynamoDb"))
        else {
            panic!("not failed")
        };
        assert_eq!(error.as_deref(), Some("DynamoDB.AmazonDynamoDBException"));
    }

    #[test]
    fn sdk_errors_use_v2_class_names() {
        let TaskOutcome::Failed { error, cause } =
            fault(&call(Flavour::Sdk, "sfn"), &fault_of("InvalidToken", true, "Sfn"))
        else {
            panic!("not failed")
        };
        assert_eq!(error.as_deref(), Some("Sfn.InvalidTokenException"));
        assert!(cause
            .unwrap_or_default()
            .ends_with("(Service: Sfn, Status Code: 400, Request ID: RID) (SDK Attempt Count: 1)"));
        let TaskOutcome::Failed { error, .. } =
            fault(&call(Flavour::Sdk, "dynamodb"), &fault_of("ValidationException", false, "DynamoDb"))
        else {
            panic!("not failed")
        };
        assert_eq!(error.as_deref(), Some("DynamoDb.DynamoDbException"));
    }

    #[test]
    fn crc32_is_ieee() {
        assert_eq!(crc32(b"{}"), 2_745_614_147);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
