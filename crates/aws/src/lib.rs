//! AWS adapters for the stepwise runtime: the execution store in one DynamoDB table
//! ([`DynamoStore`]), queues on SQS ([`SqsQueue`]), topics on SNS ([`SnsTopics`]) and Lambda
//! functions ([`LambdaFunctions`]). They implement the ports of `stepwise_runtime::ports` and
//! pass the same contract suites as the embedded (SQLite) adapters.
//!
//! [`aws_runtime`] builds a whole [`Runtime`] from the environment (see [`AwsSettings`]).
//! Endpoints, region and credentials come from the standard AWS environment
//! (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `..._SQS`, `..._SNS`, `..._LAMBDA`,
//! `AWS_REGION`, ...), so the same code runs on AWS and against a local emulator.
//!
//! Every request the adapters make is counted ([`request_counts`]), and DynamoDB's consumed
//! capacity is summed as reported ([`dynamodb_capacity`]) and as estimated from item sizes
//! ([`dynamodb_capacity_estimate`]; emulators report flat numbers), so the cost of a run can be
//! measured: see the cost notes in [`dynamo`].
#![warn(missing_docs)]

pub mod dynamo;
pub mod lambda;
pub mod sns;
pub mod sqs;

pub use dynamo::{create_table, DynamoStore};
pub use lambda::LambdaFunctions;
pub use sns::SnsTopics;
pub use sqs::SqsQueue;

use aws_config::{BehaviorVersion, SdkConfig};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use stepwise_runtime::ports::SystemClock;
use stepwise_runtime::{Config, Error, Runtime, Source};

/// The runtime over the AWS adapters and the system clock.
pub type AwsRuntime = Runtime<DynamoStore, SqsQueue, SnsTopics, LambdaFunctions, SystemClock>;

/// Loads the SDK configuration the standard way (environment, profile, instance or Lambda
/// role), honouring `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_*` variables.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// What [`aws_runtime`] needs besides the SDK configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsSettings {
    /// The DynamoDB table (env `STEPWISE_TABLE`, default `stepwise`).
    pub table: String,
    /// The account id in the ARNs the runtime builds (env `STEPWISE_ACCOUNT`, else
    /// `AWS_ACCOUNT_ID`, else the account in `STEPWISE_STEP_QUEUE_URL`, else `123456789012`).
    pub account: String,
    /// The region in the ARNs (the SDK configuration's region, else env `AWS_REGION`, else
    /// `us-east-1`).
    pub region: String,
    /// The step queue's URL (env `STEPWISE_STEP_QUEUE_URL`); when absent the queue named
    /// `stepwise-steps` is looked up with GetQueueUrl.
    pub step_queue_url: Option<String>,
    /// How long finished executions (and their history and token items) are kept before
    /// DynamoDB's TTL removes them (env `STEPWISE_RETENTION_DAYS`, default 90 days).
    pub retention: Duration,
    /// How long a received step message stays hidden (env `STEPWISE_VISIBILITY_SECONDS`,
    /// default 30 s).
    pub visibility: Duration,
    /// What an STS session of an execution's role covers (env `STEPWISE_ROLE_SESSIONS`:
    /// `execution`, the default, or `machine`).
    pub role_sessions: stepwise_sdk::Sessions,
}

impl AwsSettings {
    /// Settings from the environment (see the fields), with the region of `sdk` if it has one.
    pub fn from_env(sdk: &SdkConfig) -> AwsSettings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let defaults = Config::default();
        let step_queue_url = var("STEPWISE_STEP_QUEUE_URL");
        let account = var("STEPWISE_ACCOUNT")
            .or_else(|| var("AWS_ACCOUNT_ID"))
            .or_else(|| step_queue_url.as_deref().and_then(sqs::account_of_url))
            .unwrap_or(defaults.account);
        let region = sdk
            .region()
            .map(std::string::ToString::to_string)
            .or_else(|| var("AWS_REGION"))
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or(defaults.region);
        let days = var("STEPWISE_RETENTION_DAYS").and_then(|d| d.parse::<u64>().ok()).unwrap_or(90);
        let visibility = var("STEPWISE_VISIBILITY_SECONDS")
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(defaults.visibility);
        AwsSettings {
            table: var("STEPWISE_TABLE").unwrap_or_else(|| "stepwise".to_string()),
            account,
            region,
            step_queue_url,
            retention: Duration::from_secs(days * 24 * 3600),
            visibility,
            role_sessions: match var("STEPWISE_ROLE_SESSIONS").as_deref() {
                Some("machine") => stepwise_sdk::Sessions::PerMachine,
                _ => stepwise_sdk::Sessions::PerExecution,
            },
        }
    }
}

/// The runtime on AWS, configured from the environment: [`sdk_config`] and
/// [`AwsSettings::from_env`]. Builds clients only (no requests are made).
pub async fn aws_runtime() -> AwsRuntime {
    let sdk = sdk_config().await;
    let settings = AwsSettings::from_env(&sdk);
    aws_runtime_with(&sdk, &settings)
}

/// The runtime on AWS with explicit configuration and settings.
pub fn aws_runtime_with(sdk: &SdkConfig, settings: &AwsSettings) -> AwsRuntime {
    let store =
        DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.table).with_retention(settings.retention);
    let mut queue = SqsQueue::new(aws_sdk_sqs::Client::new(sdk));
    if let Some(url) = &settings.step_queue_url {
        queue = queue.with_queue_url(stepwise_runtime::ports::STEP_QUEUE, url);
    }
    let config = Config {
        account: settings.account.clone(),
        region: settings.region.clone(),
        visibility: settings.visibility,
        // Behind API Gateway (30 s per request): a worker polls again after an empty answer.
        activity_poll: Duration::from_secs(20),
        ..Config::default()
    }
    // One state per step message, so one per driver invocation: the step queue spreads an
    // execution's states over the drivers, and a driver's time stays one state's.
    .aws_step_driver();
    // Every Task call goes through this client — DynamoDB, EventBridge, `aws-sdk:*`, SQS sends
    // and SNS publishes — made as the execution's state machine role (STS AssumeRole, a session
    // per execution, cached); Lambda invocations take their credentials from it. The runtime's
    // own queue, table and logs keep the function's credentials.
    let client = std::sync::Arc::new(stepwise_sdk::SdkClient::new(stepwise_sdk::Settings {
        observer: Some(count),
        sessions: settings.role_sessions,
        ..stepwise_sdk::Settings::for_aws(&settings.region)
    }));
    let rt = Runtime::new(
        store,
        queue,
        SnsTopics::new(aws_sdk_sns::Client::new(sdk)),
        LambdaFunctions::new(sdk).with_roles(client.clone()),
        SystemClock,
        config,
    );
    let rt = rt
        .with_aws(client.clone())
        .with_logs(std::sync::Arc::new(stepwise_sdk::logs::CloudWatchLogs::new(client)))
        // Step Functions' metrics as EMF lines in the functions' logs (CloudWatch extracts them).
        .with_metrics(std::sync::Arc::new(stepwise_runtime::metrics::StdoutEmf));
    // Starts on `stateMachine:NAME#CASE` answer from a mock configuration shipped with the
    // function (Step Functions Local's variable); the execution carries its test case, so only
    // the function that starts executions needs the file.
    match std::env::var_os("SFN_MOCK_CONFIG") {
        Some(path) => match stepwise_runtime::mocks::MockFile::open(std::path::Path::new(&path)) {
            Ok(file) => rt.with_mocks(std::sync::Arc::new(file)),
            Err(e) => {
                eprintln!("SFN_MOCK_CONFIG not loaded ({e}): starts on NAME#CASE are refused");
                rt
            }
        },
        None => rt,
    }
}

// ---------- request and capacity counters ----------

#[derive(Default)]
struct Meter {
    requests: BTreeMap<String, u64>,
    items: BTreeMap<String, u64>,
    reported: (f64, f64),
    estimated: (f64, f64),
    estimated_by_operation: BTreeMap<String, (f64, f64)>,
}

static METER: Mutex<Option<Meter>> = Mutex::new(None);

fn with_meter(f: impl FnOnce(&mut Meter)) {
    // A poisoned meter only loses counts: never fail a request over it.
    let mut guard = METER.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f(guard.get_or_insert_with(Meter::default));
}

/// Counts one request (`service` like `dynamodb`, `op` like `UpdateItem`).
pub(crate) fn count(service: &str, op: &str) {
    with_meter(|m| *m.requests.entry(format!("{service}.{op}")).or_default() += 1);
}

/// Counts items a store operation read (`list_executions`, ...).
pub(crate) fn count_items(operation: &str, n: usize) {
    with_meter(|m| *m.items.entry(operation.to_string()).or_default() += n as u64);
}

/// Items the store's operations read so far, by operation (`list_executions`): what a listing
/// page cost, whatever else the table holds.
pub fn items_read() -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    with_meter(|m| out = m.items.clone());
    out
}

/// Adds capacity units DynamoDB reported.
pub(crate) fn add_reported_capacity(read: f64, write: f64) {
    with_meter(|m| {
        m.reported.0 += read;
        m.reported.1 += write;
    });
}

/// Adds capacity units estimated from item sizes, for a store operation (`commit`, `load`, ...).
pub(crate) fn add_estimated_capacity(operation: &str, read: f64, write: f64) {
    with_meter(|m| {
        m.estimated.0 += read;
        m.estimated.1 += write;
        let e = m.estimated_by_operation.entry(operation.to_string()).or_default();
        e.0 += read;
        e.1 += write;
    });
}

/// Requests made by the adapters of this process so far, by `service.Operation`
/// (`dynamodb.UpdateItem`, `sqs.SendMessage`, `lambda.Invoke`, ...).
pub fn request_counts() -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    with_meter(|m| out = m.requests.clone());
    out
}

/// DynamoDB capacity units consumed so far as the service reported them (`ReturnConsumedCapacity
/// TOTAL`): (read units, write units). Failed conditional writes report nothing but are
/// charged; see [`dynamodb_capacity_estimate`].
pub fn dynamodb_capacity() -> (f64, f64) {
    let mut out = (0.0, 0.0);
    with_meter(|m| out = m.reported);
    out
}

/// DynamoDB capacity units the adapters' requests cost by DynamoDB's pricing rules, computed
/// from the sizes of the items written and read (1 write unit per started KB of the larger of
/// the old and new item, doubled in transactions and charged for failed conditions too; 1 read
/// unit per started 4 KB strongly consistent, half that eventually consistent). Emulators
/// report flat numbers, so this is the figure to measure cost with locally.
pub fn dynamodb_capacity_estimate() -> (f64, f64) {
    let mut out = (0.0, 0.0);
    with_meter(|m| out = m.estimated);
    out
}

/// [`dynamodb_capacity_estimate`] by store operation (`load`, `commit`, `commit (history
/// item)`, `clear_outbox`, `find_token`, ...): (read units, write units).
pub fn dynamodb_capacity_estimate_by_operation() -> BTreeMap<String, (f64, f64)> {
    let mut out = BTreeMap::new();
    with_meter(|m| out = m.estimated_by_operation.clone());
    out
}

/// Resets the counters (requests, reported and estimated capacity).
pub fn reset_counts() {
    with_meter(|m| *m = Meter::default());
}

// ---------- errors ----------

/// A storage error naming the operation and table, with the SDK error's whole chain.
pub(crate) fn storage_error(op: &str, table: &str, err: impl Into<Source>) -> Error {
    Error::storage(format!("DynamoDB {op} on table {table}"), err)
}

/// A messaging error naming the service, operation and queue or topic.
pub(crate) fn messaging_error(service: &str, op: &str, target: &str, err: impl Into<Source>) -> Error {
    Error::messaging(format!("{service} {op} on {target}"), err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up() {
        count("test", "Op");
        count("test", "Op");
        assert!(request_counts().get("test.Op").copied().unwrap_or(0) >= 2);
    }
}
