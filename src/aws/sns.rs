//! SNS, for `/health`: the topic's encryption and its subscriptions (queue, e-mail, pending confirmation).

use aws_sdk_sns::Client;

use super::AwsError;

pub struct Sns {
    client: Client,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub protocol: String,
    pub endpoint: String,
    /// `PendingConfirmation` until an e-mail recipient clicks the link.
    pub pending: bool,
}

impl Sns {
    pub fn new(config: &aws_config::SdkConfig) -> Sns {
        let us_east_1 = super::in_region(config, "us-east-1");
        Sns {
            client: Client::new(&us_east_1),
        }
    }

    /// The topic's KMS key id, if it is encrypted.
    pub async fn topic_key(&self, topic_arn: &str) -> Result<Option<String>, AwsError> {
        let attrs = self
            .client
            .get_topic_attributes()
            .topic_arn(topic_arn)
            .send()
            .await
            .map_err(|e| AwsError::new("sns:GetTopicAttributes", e))?;
        Ok(attrs
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .cloned())
    }

    pub async fn subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>, AwsError> {
        let subscriptions: Vec<_> = self
            .client
            .list_subscriptions_by_topic()
            .topic_arn(topic_arn)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::new("sns:ListSubscriptionsByTopic", e))?;
        Ok(subscriptions
            .iter()
            .map(|s| Subscription {
                protocol: s.protocol().unwrap_or_default().to_owned(),
                endpoint: s.endpoint().unwrap_or_default().to_owned(),
                pending: s.subscription_arn() == Some("PendingConfirmation"),
            })
            .collect())
    }
}
