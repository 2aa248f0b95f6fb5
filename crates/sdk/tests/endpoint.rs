//! `SdkClient` against the local AWS endpoint the test command runs (moto server,
//! `AWS_ENDPOINT_URL`): calls by model, refusals, and calls made as an assumed role.

use serde_json::{json, Value};
use stepwise_sdk::{SdkClient, Settings};

/// A client of the local endpoint; `None` without one (a failure under CI: these tests must
/// not go unrun there).
fn client() -> Option<SdkClient> {
    let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.trim().is_empty()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "AWS_ENDPOINT_URL is not set: scripts/test.sh starts moto and sets it"
        );
        return None;
    };
    Some(SdkClient::new(Settings::for_endpoint(&url, "us-east-1")))
}

fn unique(label: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{label}-{}-{nanos}", std::process::id())
}

/// A call with `Credentials.RoleArn` carries the role's credentials (STS AssumeRole at the
/// same endpoint): the endpoint sees the assumed role, and the base identity without it.
#[tokio::test]
async fn calls_are_made_as_the_assumed_role() {
    let Some(sdk) = client() else {
        eprintln!("AWS_ENDPOINT_URL is not set: the test command (scripts/test.sh) runs this test");
        return;
    };
    let who = |role: Option<String>| {
        let sdk = &sdk;
        async move {
            let (out, _) = sdk
                .call("sts", "getCallerIdentity", &json!({}), role.as_deref())
                .await
                .expect("sent")
                .expect("answered");
            (
                out["Arn"].as_str().unwrap_or_default().to_string(),
                out["Account"].as_str().unwrap_or_default().to_string(),
            )
        }
    };
    let (base, account) = who(None).await;
    assert!(!base.contains("assumed-role"), "{base}");
    // A role of the endpoint's own account (moto keeps assumed roles per account).
    let role = format!("arn:aws:iam::{account}:role/stepwise-tasks");
    let (assumed, _) = who(Some(role.clone())).await;
    assert!(assumed.contains(":assumed-role/stepwise-tasks/"), "{assumed}");
    // The second call reuses the cached credentials (same session).
    assert_eq!(who(Some(role)).await.0, assumed);
}

/// Locally, with an endpoint that offers STS, a call made as an execution's identity carries
/// the machine role's session, named after the execution (what `stepwise serve` and `run` do
/// for every Task call when `AWS_ENDPOINT_URL` names moto or LocalStack); a Task's
/// `Credentials.RoleArn` is assumed from that session.
#[tokio::test]
async fn local_calls_are_made_as_the_executions_role_where_the_endpoint_offers_sts() {
    let Some(sdk) = client() else {
        eprintln!("AWS_ENDPOINT_URL is not set: the test command (scripts/test.sh) runs this test");
        return;
    };
    let (me, _) = sdk.call("sts", "getCallerIdentity", &json!({}), None).await.expect("sent").expect("answered");
    let account = me["Account"].as_str().unwrap_or_default().to_string();
    let machine = format!("arn:aws:states:us-east-1:{account}:stateMachine:Orders");
    let identity = stepwise_asl::integrations::aws::Identity::of_execution(
        &format!("arn:aws:iam::{account}:role/stepwise/orders"),
        "order 42/retry",
        &machine,
    );
    let (who, _) = sdk
        .call_as("sts", "getCallerIdentity", &json!({}), Some(&identity), None)
        .await
        .expect("sent")
        .expect("answered");
    // The session name is the execution's, with what STS does not allow replaced.
    assert_eq!(who["Arn"], format!("arn:aws:sts::{account}:assumed-role/orders/order-42-retry"), "{who}");
    let task_role = format!("arn:aws:iam::{account}:role/stepwise-tasks");
    let (chained, _) = sdk
        .call_as("sts", "getCallerIdentity", &json!({}), Some(&identity), Some(&task_role))
        .await
        .expect("sent")
        .expect("answered");
    assert_eq!(
        chained["Arn"],
        format!("arn:aws:sts::{account}:assumed-role/stepwise-tasks/order-42-retry"),
        "{chained}"
    );
}

/// JSON, REST-XML and query services round-trip through the models; refusals carry the
/// service's code and the exception class the model declares.
#[tokio::test]
async fn services_of_each_protocol_answer_in_step_functions_names() {
    let Some(sdk) = client() else {
        eprintln!("AWS_ENDPOINT_URL is not set: the test command (scripts/test.sh) runs this test");
        return;
    };
    let bucket = unique("sdk-test");
    let call = |service: &'static str, action: &'static str, input: Value| {
        let sdk = &sdk;
        async move { sdk.call(service, action, &input, None).await.expect("sent") }
    };
    call("s3", "createBucket", json!({"Bucket": bucket})).await.expect("bucket");
    call("s3", "putObject", json!({"Bucket": bucket, "Key": "a b/c.txt", "Body": "hello"})).await.expect("put");
    let (got, _) = call("s3", "getObject", json!({"Bucket": bucket, "Key": "a b/c.txt"})).await.expect("get");
    assert_eq!((got["Body"].as_str(), got["ContentLength"].as_i64()), (Some("hello"), Some(5)), "{got}");
    let (listed, _) = call("s3", "listObjectsV2", json!({"Bucket": bucket})).await.expect("list");
    assert_eq!(listed["Contents"][0]["Key"], "a b/c.txt", "{listed}");
    let refused = call("s3", "getObject", json!({"Bucket": bucket, "Key": "missing"})).await.expect_err("refused");
    assert_eq!((refused.status, refused.code.as_str()), (404, "NoSuchKey"));

    let topic = unique("sdk-topic");
    let (made, _) = call("sns", "createTopic", json!({"Name": topic})).await.expect("topic");
    assert!(made["TopicArn"].as_str().is_some_and(|a| a.ends_with(&topic)), "{made}");
    let missing = call(
        "sns",
        "publish",
        json!({"TopicArn": format!("{}-gone", made["TopicArn"].as_str().unwrap_or("")), "Message": "m"}),
    )
    .await
    .expect_err("refused");
    assert_eq!(missing.code, "NotFound");
    let model = stepwise_sdk::model::service("sns").expect("sns model");
    assert_eq!(model.exception(&missing.code).as_deref(), Some("NotFoundException"));

    let table = unique("sdk-table");
    let refused = call("dynamodb", "getItem", json!({"TableName": table, "Key": {"id": {"S": "1"}}}))
        .await
        .expect_err("no table");
    assert_eq!(refused.code, "ResourceNotFoundException");
}

/// The CloudWatch Logs adapter of the execution-log port: records land in the log group, one
/// log event each, in order, with the record as the message and its event time as timestamp.
#[tokio::test]
async fn execution_logs_reach_cloudwatch_logs() {
    use stepwise_runtime::logs::ExecutionLogs;
    let Some(sdk) = client() else {
        assert!(std::env::var_os("CI").is_none(), "AWS_ENDPOINT_URL is not set under CI");
        eprintln!("AWS_ENDPOINT_URL is not set: the test command (scripts/test.sh) runs this test");
        return;
    };
    let sdk = std::sync::Arc::new(sdk);
    let group = format!("/aws/vendedlogs/states/{}", unique("logs"));
    let created = sdk.call("cloudwatchlogs", "createLogGroup", &json!({"LogGroupName": group}), None).await;
    assert!(matches!(created, Ok(Ok(_))), "{created:?}");
    let arn = format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}:*");
    let execution = "arn:aws:states:us-east-1:123456789012:execution:Logged:run-1";
    let t0 = chrono::Utc::now().timestamp_millis();
    let record = |id: i64, ty: &str| {
        json!({"id": id.to_string(), "type": ty, "details": {}, "previous_event_id": (id - 1).to_string(),
               "event_timestamp": (t0 + id).to_string(), "execution_arn": execution, "redrive_count": "0"})
    };
    let logs = stepwise_sdk::logs::CloudWatchLogs::new(sdk.clone());
    logs.write(&arn, execution, vec![record(1, "ExecutionStarted"), record(2, "PassStateEntered")]).await;
    logs.write(&arn, execution, vec![record(3, "ExecutionSucceeded")]).await;
    let (streams, _) = sdk
        .call("cloudwatchlogs", "describeLogStreams", &json!({"LogGroupName": group}), None)
        .await
        .expect("sent")
        .expect("answered");
    let streams = streams["LogStreams"].as_array().cloned().unwrap_or_default();
    assert_eq!(streams.len(), 1, "{streams:?}");
    let stream = streams[0]["LogStreamName"].as_str().expect("stream name").to_string();
    assert!(stream.starts_with("states/Logged/"), "{stream}");
    let (events, _) = sdk
        .call(
            "cloudwatchlogs",
            "getLogEvents",
            &json!({"LogGroupName": group, "LogStreamName": stream, "StartFromHead": true}),
            None,
        )
        .await
        .expect("sent")
        .expect("answered");
    let events = events["Events"].as_array().cloned().unwrap_or_default();
    let types: Vec<String> = events
        .iter()
        .map(|e| {
            let m: Value = serde_json::from_str(e["Message"].as_str().unwrap_or("{}")).expect("a JSON record");
            m["type"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(types, ["ExecutionStarted", "PassStateEntered", "ExecutionSucceeded"]);
    assert_eq!(events[0]["Timestamp"].as_i64(), Some(t0 + 1));
}
