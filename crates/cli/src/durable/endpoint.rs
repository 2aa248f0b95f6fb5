//! The AWS endpoint side of a service case (`stepwise conformance --aws-endpoint URL`): the
//! case's setup created on the endpoint (a moto server, reset first so every case starts from
//! an empty account), the messages SQS actors read, and the post-checks, all through the same
//! `stepwise-sdk` calls the runtime's tasks make.

use serde_json::{json, Value};
use stepwise_sdk::SdkClient;

/// One call; a refusal or failure is an error naming the call.
async fn call(sdk: &SdkClient, service: &str, action: &str, input: Value) -> Result<Value, String> {
    match sdk.call(service, action, &input, None).await {
        Ok(Ok((out, _))) => Ok(out),
        Ok(Err(r)) => Err(format!("{service}:{action} {input}: {} {}", r.code, r.message)),
        Err(e) => Err(format!("{service}:{action}: {e}")),
    }
}

/// Empties the endpoint (moto's reset API).
async fn reset(sdk: &SdkClient) -> Result<(), String> {
    let Some(url) = sdk.settings().endpoint.clone() else { return Ok(()) };
    tokio::task::spawn_blocking(move || {
        ureq::post(&format!("{}/moto-api/reset", url.trim_end_matches('/')))
            .call()
            .map(|_| ())
            .map_err(|e| format!("resetting {url} (is it a moto server?): {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

fn items<'a>(setup: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    setup.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The ARN of a queue on the endpoint.
async fn queue_arn(sdk: &SdkClient, queue: &str) -> Result<String, String> {
    let url = queue_url(sdk, queue).await?;
    let attrs =
        call(sdk, "sqs", "getQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]})).await?;
    Ok(attrs["Attributes"]["QueueArn"].as_str().unwrap_or_default().to_string())
}

async fn queue_url(sdk: &SdkClient, queue: &str) -> Result<String, String> {
    let out = call(sdk, "sqs", "getQueueUrl", json!({"QueueName": queue})).await?;
    Ok(out["QueueUrl"].as_str().unwrap_or_default().to_string())
}

/// Creates the case's S3 buckets and objects, DynamoDB tables and items, SQS queues, SNS
/// topics (and their queue subscriptions), EventBridge rules (to queues) and secrets.
pub async fn provision(sdk: &SdkClient, setup: &Value) -> Result<(), String> {
    reset(sdk).await?;
    for q in items(setup, "sqs") {
        let attributes = q.get("attributes").cloned().unwrap_or_else(|| json!({}));
        call(sdk, "sqs", "createQueue", json!({"QueueName": q["queue"], "Attributes": attributes})).await?;
    }
    for b in items(setup, "s3") {
        call(sdk, "s3", "createBucket", json!({"Bucket": b["bucket"]})).await?;
        for o in b.get("objects").and_then(Value::as_array).into_iter().flatten() {
            let mut put = json!({"Bucket": b["bucket"], "Key": o["key"], "Body": text(&o["body"])});
            if let Some(ct) = o.get("content_type").and_then(Value::as_str) {
                put["ContentType"] = ct.into();
            }
            call(sdk, "s3", "putObject", put).await?;
        }
    }
    for t in items(setup, "dynamodb") {
        call(
            sdk,
            "dynamodb",
            "createTable",
            json!({
                "TableName": t["table"],
                "KeySchema": t["key_schema"],
                "AttributeDefinitions": t["attribute_definitions"],
                "BillingMode": t.get("billing_mode").and_then(Value::as_str).unwrap_or("PAY_PER_REQUEST"),
            }),
        )
        .await?;
        for item in t.get("items").and_then(Value::as_array).into_iter().flatten() {
            call(sdk, "dynamodb", "putItem", json!({"TableName": t["table"], "Item": item})).await?;
        }
    }
    for t in items(setup, "sns") {
        let attributes = t.get("attributes").cloned().unwrap_or_else(|| json!({}));
        let topic = call(sdk, "sns", "createTopic", json!({"Name": t["topic"], "Attributes": attributes})).await?;
        if let Some(queue) = t.get("subscribe_queue").and_then(Value::as_str) {
            let arn = queue_arn(sdk, queue).await?;
            let raw = if t["raw_message_delivery"].as_bool() == Some(true) { "true" } else { "false" };
            call(
                sdk,
                "sns",
                "subscribe",
                json!({"TopicArn": topic["TopicArn"], "Protocol": "sqs", "Endpoint": arn,
                       "Attributes": {"RawMessageDelivery": raw}}),
            )
            .await?;
        }
    }
    for e in items(setup, "events") {
        let bus = e.get("bus").and_then(Value::as_str).unwrap_or("default");
        if bus != "default" {
            call(sdk, "eventbridge", "createEventBus", json!({"Name": bus})).await?;
        }
        call(
            sdk,
            "eventbridge",
            "putRule",
            json!({"Name": e["rule"], "EventBusName": bus, "EventPattern": e["pattern"].to_string()}),
        )
        .await?;
        if let Some(queue) = e.get("rule_to_queue").and_then(Value::as_str) {
            let arn = queue_arn(sdk, queue).await?;
            call(
                sdk,
                "eventbridge",
                "putTargets",
                json!({"Rule": e["rule"], "EventBusName": bus, "Targets": [{"Id": "target", "Arn": arn}]}),
            )
            .await?;
        }
    }
    for s in items(setup, "secretsmanager") {
        call(sdk, "secretsmanager", "createSecret", json!({"Name": s["name"], "SecretString": s["secret_string"]}))
            .await?;
    }
    Ok(())
}

/// Takes up to `max` messages from a queue on the endpoint (deleting them): their bodies.
pub async fn receive(sdk: &SdkClient, queue: &str, max: u32) -> Result<Vec<String>, String> {
    let url = queue_url(sdk, queue).await?;
    let out = call(sdk, "sqs", "receiveMessage", json!({"QueueUrl": url, "MaxNumberOfMessages": max})).await?;
    let mut bodies = Vec::new();
    for m in out.get("Messages").and_then(Value::as_array).into_iter().flatten() {
        call(sdk, "sqs", "deleteMessage", json!({"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]})).await?;
        bodies.push(text(&m["Body"]).to_string());
    }
    Ok(bodies)
}

/// What the recorded test read after the execution: S3 objects (body and content type) and
/// how many messages a queue received (those the actors took included), and a JSON object
/// whose key and fields name the execution's output (`s3_json_object`: a Map Run's manifest,
/// `{map_run_id}` the last part of `output.MapRunArn`, `{output.MapRunArn}` that ARN).
pub async fn post_checks(
    sdk: &SdkClient,
    setup: &Value,
    consumed: &std::collections::HashMap<String, usize>,
    output: &Value,
) -> Result<(), String> {
    for check in items(setup, "post_checks") {
        match check["kind"].as_str() {
            Some("s3_object") => {
                let got = call(sdk, "s3", "getObject", json!({"Bucket": check["bucket"], "Key": check["key"]})).await?;
                if got["Body"] != check["body"] {
                    return Err(format!(
                        "post-check: s3://{}/{} holds {} (recorded {})",
                        text(&check["bucket"]),
                        text(&check["key"]),
                        got["Body"],
                        check["body"]
                    ));
                }
                if let Some(ct) = check.get("content_type").filter(|c| !c.is_null()) {
                    if &got["ContentType"] != ct {
                        return Err(format!(
                            "post-check: s3://{}/{} has content type {} (recorded {ct})",
                            text(&check["bucket"]),
                            text(&check["key"]),
                            got["ContentType"]
                        ));
                    }
                }
            }
            Some("sqs_messages") => {
                let want = check["count"].as_u64().unwrap_or(0) as usize;
                // The actors' messages count: the recorded test read them.
                let queue = text(&check["queue"]);
                let got = receive(sdk, queue, 10).await?.len() + consumed.get(queue).copied().unwrap_or(0);
                if got != want {
                    return Err(format!("post-check: queue {queue} received {got} messages (recorded {want})"));
                }
            }
            Some("s3_json_object") => {
                let run_arn = text(&output["MapRunArn"]).to_string();
                let run_id = run_arn.rsplit(':').next().unwrap_or_default();
                let fill = |t: &str| t.replace("{map_run_id}", run_id).replace("{output.MapRunArn}", &run_arn);
                let key = fill(text(&check["key_template"]));
                let got = call(sdk, "s3", "getObject", json!({"Bucket": check["bucket"], "Key": key})).await?;
                let body: Value = serde_json::from_str(text(&got["Body"]))
                    .map_err(|e| format!("post-check: s3://{}/{key} is not JSON: {e}", text(&check["bucket"])))?;
                for (field, want) in check["fields"].as_object().into_iter().flatten() {
                    let want = match want {
                        Value::String(t) => Value::String(fill(t)),
                        other => other.clone(),
                    };
                    if body[field] != want {
                        return Err(format!(
                            "post-check: s3://{}/{key} has {field} = {} (recorded {want})",
                            text(&check["bucket"]),
                            body[field]
                        ));
                    }
                }
            }
            other => return Err(format!("post-check {other:?} is not run here")),
        }
    }
    Ok(())
}
