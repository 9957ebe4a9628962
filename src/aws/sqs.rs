//! The SQS queue the bot consumes, and its dead-letter queue.

use std::time::Duration;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;

use super::AwsError;

/// The message attribute that says why iam-alarm dead-lettered a message.
pub const REASON_ATTRIBUTE: &str = "iam-alarm-reason";
/// The MessageId the message had on the main queue.
pub const ORIGINAL_ID_ATTRIBUTE: &str = "iam-alarm-original-message-id";

#[derive(Clone, Debug)]
pub struct Queue {
    client: Client,
    url: String,
}

/// One received message.
#[derive(Clone, Debug)]
pub struct Received {
    pub message_id: String,
    pub receipt: String,
    pub body: String,
    /// How often SQS has handed this message out (1 on first delivery).
    pub receive_count: u32,
    /// Why iam-alarm dead-lettered it, when it did.
    pub reason: Option<String>,
}

impl Queue {
    pub fn new(config: &aws_config::SdkConfig, url: impl Into<String>) -> Queue {
        Queue {
            client: Client::new(config),
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Long-poll for up to `max` messages, hidden from other consumers for `visibility`.
    pub async fn receive(
        &self,
        max: i32,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<Received>, AwsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .visibility_timeout(secs(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                let reason = m
                    .message_attributes()
                    .and_then(|a| a.get(REASON_ATTRIBUTE))
                    .and_then(|v| v.string_value())
                    .map(str::to_owned);
                Some(Received {
                    message_id: m.message_id?,
                    receipt: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    receive_count,
                    reason,
                })
            })
            .collect())
    }

    pub async fn delete(&self, receipt: &str) -> Result<(), AwsError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:DeleteMessage", e))?;
        Ok(())
    }

    /// Keep a message hidden for `visibility` from now (0 hands it back at once).
    pub async fn set_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), AwsError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(secs(visibility))
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:ChangeMessageVisibility", e))?;
        Ok(())
    }

    /// Send a body, optionally with iam-alarm's dead-letter attributes.
    pub async fn send(&self, body: &str, reason: Option<(&str, &str)>) -> Result<(), AwsError> {
        let mut req = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body);
        if let Some((original_id, why)) = reason {
            let text = |s: &str| {
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(s)
                    .build()
                    .expect("data type and value are set")
            };
            req = req
                .message_attributes(REASON_ATTRIBUTE, text(why))
                .message_attributes(ORIGINAL_ID_ATTRIBUTE, text(original_id));
        }
        req.send()
            .await
            .map_err(|e| AwsError::new("sqs:SendMessage", e))?;
        Ok(())
    }

    /// Depth, messages in flight, and the queue's ARN (for `/health`).
    pub async fn stats(&self) -> Result<QueueStats, AwsError> {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:GetQueueAttributes", e))?;
        let get = |k: QueueAttributeName| attrs.attributes().and_then(|a| a.get(&k)).cloned();
        let count = |k| get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueStats {
            visible: count(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            arn: get(QueueAttributeName::QueueArn).unwrap_or_default(),
        })
    }

    /// The dead-letter queue named by this queue's redrive policy, if it has one.
    pub async fn dead_letter_queue(&self) -> Result<Option<Queue>, AwsError> {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:GetQueueAttributes", e))?;
        let Some(policy) = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        else {
            return Ok(None);
        };
        let arn = serde_json::from_str::<serde_json::Value>(policy)
            .ok()
            .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned));
        let Some((account, name)) = arn.as_deref().and_then(queue_from_arn) else {
            return Ok(None);
        };
        let url = self
            .client
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:GetQueueUrl", e))?
            .queue_url
            .unwrap_or_default();
        Ok(Some(Queue {
            client: self.client.clone(),
            url,
        }))
    }
}

#[derive(Debug, Clone)]
pub struct QueueStats {
    pub visible: u64,
    pub in_flight: u64,
    pub arn: String,
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME` → (account, name).
fn queue_from_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let (_, _, service, _, account, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (service == "sqs" && !name.is_empty()).then_some((account, name))
}

fn secs(d: Duration) -> i32 {
    d.as_secs().min(43_200) as i32
}

#[cfg(test)]
mod tests {
    #[test]
    fn dead_letter_arn() {
        assert_eq!(
            super::queue_from_arn("arn:aws:sqs:us-east-1:123456789012:iam-alarm-dlq"),
            Some(("123456789012", "iam-alarm-dlq"))
        );
        assert_eq!(super::queue_from_arn("arn:aws:sns:us-east-1:1:x"), None);
    }
}
