//! SQS `sendMessage` and SNS `publish`: the message to send, and the services' response shapes
//! (`MD5OfMessageBody` and `MessageId` for SQS, `MessageId` for SNS, with the SDK's metadata).

use super::{failed, uuid, Call, Integration};
use crate::stepper::{TaskOutcome, TaskRequest};
use serde_json::{json, Value};

/// The send or publish a messaging task request needs.
pub(super) fn plan(req: &TaskRequest) -> Call {
    let p = &req.parameters;
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    if req.integration == Integration::SnsPublish {
        let extra = others(p, &["TopicArn", "TargetArn", "Message"]);
        return Call::Publish {
            extra,
            topic_arn: p
                .get("TopicArn")
                .or_else(|| p.get("TargetArn"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            message: text(p.get("Message")),
        };
    }
    let body = p.get("MessageBody").filter(|b| !b.is_null() && b.as_str() != Some(""));
    let Some(body) = body else {
        // SQS refuses a send without a body (recorded through the Java SDK's wording). The
        // request id is derived from the task, so a replayed step says the same.
        let seed = req
            .state_name
            .bytes()
            .fold(req.task ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let request_id = crate::uuid::v4(seed, seed.rotate_left(29) ^ req.task);
        return Call::Done(failed(
            "SQS.AmazonSQSException",
            &format!(
                "The request must contain the parameter MessageBody. (Service: AmazonSQS; Status Code: 400; Error \
                 Code: MissingParameter; Request ID: {request_id}; Proxy: null)"
            ),
        ));
    };
    Call::SendMessage {
        queue_url: p.get("QueueUrl").and_then(Value::as_str).unwrap_or_default().to_string(),
        body: text(Some(body)),
        extra: others(p, &["QueueUrl", "MessageBody"]),
    }
}

/// The parameters other than `taken`.
fn others(p: &Value, taken: &[&str]) -> serde_json::Map<String, Value> {
    p.as_object()
        .map(|o| o.iter().filter(|(k, _)| !taken.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// SQS's `MD5OfMessageAttributes`: per attribute in name order, the name, the data type, the
/// transport type (1 for string values, 2 for binary) and the value, each string length-
/// prefixed (4 bytes, big-endian), hashed with MD5 (SQS's documented algorithm).
pub fn md5_of_message_attributes(attributes: &serde_json::Map<String, Value>) -> Option<String> {
    use base64::Engine;
    if attributes.is_empty() {
        return None;
    }
    let mut names: Vec<&String> = attributes.keys().collect();
    names.sort();
    let mut bytes = Vec::new();
    let put = |b: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(b);
    };
    for name in names {
        let a = &attributes[name];
        let ty = a.get("DataType").and_then(Value::as_str).unwrap_or_default();
        put(name.as_bytes(), &mut bytes);
        put(ty.as_bytes(), &mut bytes);
        if let Some(v) = a.get("StringValue").and_then(Value::as_str) {
            bytes.push(1);
            put(v.as_bytes(), &mut bytes);
        } else if let Some(v) = a.get("BinaryValue").and_then(Value::as_str) {
            bytes.push(2);
            let raw = base64::engine::general_purpose::STANDARD.decode(v).unwrap_or_else(|_| v.as_bytes().to_vec());
            put(&raw, &mut bytes);
        }
    }
    Some(md5_hex(&bytes))
}

/// The outcome of a send or publish: the service's response, or its refusal.
pub(super) fn complete(
    call: &Call,
    delivered: Result<Option<String>, (String, String)>,
    now: chrono::DateTime<chrono::Utc>,
    rng: &mut dyn FnMut() -> u64,
) -> TaskOutcome {
    let id = match delivered {
        Ok(id) => id,
        Err((error, cause)) => return failed(&error, &cause),
    };
    let request_id = uuid(rng);
    let message_id = id.unwrap_or_else(|| uuid(rng));
    // The HTTP response the service sends, whose headers the SDK reports as AWS records them:
    // SQS answers JSON 1.0, SNS XML; the lengths are those answers'.
    let (mut out, content_type, len) = match call {
        Call::SendMessage { body, extra, .. } => {
            let mut out = json!({"MD5OfMessageBody": md5_hex(body.as_bytes()), "MessageId": message_id});
            let attributes = extra.get("MessageAttributes").and_then(Value::as_object);
            if let Some(md5) = attributes.and_then(md5_of_message_attributes) {
                // SQS's answer names it first.
                out = json!({"MD5OfMessageAttributes": md5, "MD5OfMessageBody": out["MD5OfMessageBody"], "MessageId": message_id});
            }
            let len = out.to_string().len();
            (out, "application/x-amz-json-1.0", len)
        }
        _ => {
            let xml = format!(
                "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n  <PublishResult>\n    \
                 <MessageId>{message_id}</MessageId>\n  </PublishResult>\n  <ResponseMetadata>\n    \
                 <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</PublishResponse>\n"
            );
            (json!({"MessageId": message_id}), "text/xml", xml.len())
        }
    };
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    add_sdk_metadata(&mut out, &request_id, content_type, len, &date);
    TaskOutcome::Succeeded(out)
}

/// The metadata the Java SDK v1 adds, with the headers AWS's answer carries, in its order.
fn add_sdk_metadata(out: &mut Value, request_id: &str, content_type: &str, len: usize, date: &str) {
    if let Some(o) = out.as_object_mut() {
        o.insert(
            "SdkHttpMetadata".into(),
            json!({
                "AllHttpHeaders": {
                    "x-amzn-RequestId": [request_id],
                    "connection": ["keep-alive"],
                    "Content-Length": [len.to_string()],
                    "Date": [date],
                    "Content-Type": [content_type]
                },
                "HttpHeaders": {
                    "connection": "keep-alive",
                    "Content-Length": len.to_string(),
                    "Content-Type": content_type,
                    "Date": date,
                    "x-amzn-RequestId": request_id
                },
                "HttpStatusCode": 200
            }),
        );
        o.insert("SdkResponseMetadata".into(), json!({"RequestId": request_id}));
    }
}

fn md5_hex(b: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(body: Option<Value>) -> Call {
        let mut parameters = json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q"});
        if let Some(b) = body {
            parameters["MessageBody"] = b;
        }
        plan(&TaskRequest {
            frame: 0,
            task: 7,
            state_name: "Send".into(),
            resource: "arn:aws:states:::sqs:sendMessage".into(),
            integration: Integration::SqsSendMessage,
            wait_for_task_token: false,
            parameters,
            token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            credentials: None,
        })
    }

    #[test]
    fn a_send_without_a_body_is_refused_as_sqs_refuses_it() {
        for body in [None, Some(Value::Null), Some(json!(""))] {
            let Call::Done(TaskOutcome::Failed { error, cause }) = send(body.clone()) else {
                panic!("{body:?}: expected a refusal")
            };
            assert_eq!(error.as_deref(), Some("SQS.AmazonSQSException"));
            let cause = cause.unwrap_or_default();
            assert!(
                cause.starts_with("The request must contain the parameter MessageBody. (Service: AmazonSQS; Status Code: 400; Error Code: MissingParameter; Request ID: ")
                    && cause.ends_with("; Proxy: null)"),
                "{cause}"
            );
        }
        assert_eq!(
            send(Some(json!({"a": 1}))),
            Call::SendMessage {
                queue_url: "https://sqs.us-east-1.amazonaws.com/1/q".into(),
                body: "{\"a\":1}".into(),
                extra: serde_json::Map::new(),
            }
        );
    }

    #[test]
    fn message_attributes_are_hashed_as_sqs_hashes_them() {
        // The MD5 moto 5.2.5 and SQS answer for these attributes (checked with boto3).
        let attributes = json!({
            "my_attribute_no_1": {"DataType": "String", "StringValue": "Hello"},
            "b": {"DataType": "Binary", "BinaryValue": "AQID"},
            "n": {"DataType": "Number", "StringValue": "12"}
        });
        let attributes = attributes.as_object().cloned().unwrap_or_default();
        assert_eq!(md5_of_message_attributes(&attributes).as_deref(), Some("448400ed354edd86c2e650b16b415394"));
        assert_eq!(md5_of_message_attributes(&serde_json::Map::new()), None);
    }
}
