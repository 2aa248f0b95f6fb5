//! The AWS adapters' test setup on the local endpoint.

use aws_config::SdkConfig;
use std::time::Duration;
use stepwise_aws::{create_table, AwsSettings, LambdaFunctions};

/// The SDK configuration (from the environment: the local endpoint) and settings for a fresh
/// table named after `label`, created; no step queue yet, messages invisible for `visibility`
/// once received.
pub async fn fresh_table(label: &str, visibility: Duration) -> (SdkConfig, AwsSettings) {
    let sdk = stepwise_aws::sdk_config().await;
    let settings =
        AwsSettings { table: crate::unique(label), step_queue_url: None, visibility, ..AwsSettings::from_env(&sdk) };
    create_table(&aws_sdk_dynamodb::Client::new(&sdk), &settings.table).await.expect("create table");
    (sdk, settings)
}

/// Lambda functions invoked at `url` (an [`crate::invoke_server`]), without retries (a test
/// sees each invocation's outcome as it was).
pub fn local_lambda(sdk: &SdkConfig, url: &str) -> LambdaFunctions {
    let conf = aws_sdk_lambda::config::Builder::from(sdk)
        .endpoint_url(url)
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .build();
    LambdaFunctions::from_client(aws_sdk_lambda::Client::from_conf(conf))
}
