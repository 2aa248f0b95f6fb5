//! [`SnsTopics`]: topics on SNS.

use crate::{count, messaging_error};
use aws_sdk_sns::Client;
use stepwise_runtime::ports::Topics;
use stepwise_runtime::Error;

/// Topics on SNS: `publish` is one Publish request.
#[derive(Debug, Clone)]
pub struct SnsTopics {
    client: Client,
}

impl SnsTopics {
    /// Topics through `client`.
    pub fn new(client: Client) -> SnsTopics {
        SnsTopics { client }
    }

    /// The SNS client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates a standard topic (idempotent); returns its ARN.
    pub async fn create_topic(&self, name: &str) -> Result<String, Error> {
        count("sns", "CreateTopic");
        let out = self
            .client
            .create_topic()
            .name(name)
            .send()
            .await
            .map_err(|e| messaging_error("SNS", "CreateTopic", name, e))?;
        out.topic_arn
            .ok_or_else(|| Error::messaging(format!("SNS CreateTopic on {name}"), "the response has no topic ARN"))
    }
}

impl Topics for SnsTopics {
    async fn publish(&self, topic_arn: &str, message: &str) -> Result<String, Error> {
        count("sns", "Publish");
        let out = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .message(message)
            .send()
            .await
            .map_err(|e| messaging_error("SNS", "Publish", topic_arn, e))?;
        out.message_id
            .ok_or_else(|| Error::messaging(format!("SNS Publish on {topic_arn}"), "the response has no message id"))
    }
}
