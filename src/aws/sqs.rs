//! The SQS queue the bot consumes, and its dead-letter queue.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    BatchResultErrorEntry, ChangeMessageVisibilityBatchRequestEntry,
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName,
};
use aws_sdk_sqs::Client;

use super::AwsError;

/// The message attribute that says why iam-alarm dead-lettered a message.
pub const REASON_ATTRIBUTE: &str = "iam-alarm-reason";
/// The MessageId the message had on the main queue.
pub const ORIGINAL_ID_ATTRIBUTE: &str = "iam-alarm-original-message-id";
/// SQS takes at most ten entries per batch call.
const BATCH_MAX: usize = 10;

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
    /// Who sent it (SQS's `SenderId`: SNS's principal, or whoever wrote to the queue directly).
    pub sender_id: Option<String>,
    /// Until when it is hidden from other consumers (as far as we know: counted from before the request).
    pub hidden_until: Instant,
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
        let hidden_until = Instant::now() + visibility;
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .visibility_timeout(secs(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SenderId)
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
                let sender_id = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SenderId))
                    .cloned();
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
                    sender_id,
                    hidden_until,
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

    /// Delete many messages, ten per call (SQS's batch limit). Returns the ones SQS did not delete, and why.
    pub async fn delete_many(&self, receipts: &[&str]) -> Vec<BatchFailure> {
        in_batches(receipts, |chunk| async move {
            let entries = chunk.iter().enumerate().map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*receipt)
                    .build()
                    .expect("id and receipt handle are set")
            });
            self.client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .map(|out| out.failed)
                .map_err(|e| AwsError::new("sqs:DeleteMessage", e))
        })
        .await
    }

    /// Set the visibility of many messages, ten per call. Returns the ones SQS did not change, and why.
    pub async fn set_visibility_many(
        &self,
        receipts: &[&str],
        visibility: Duration,
    ) -> Vec<BatchFailure> {
        in_batches(receipts, |chunk| async move {
            let entries = chunk.iter().enumerate().map(|(i, receipt)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*receipt)
                    .visibility_timeout(secs(visibility))
                    .build()
                    .expect("id and receipt handle are set")
            });
            self.client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries.collect()))
                .send()
                .await
                .map(|out| out.failed)
                .map_err(|e| AwsError::new("sqs:ChangeMessageVisibility", e))
        })
        .await
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

/// One entry of a batch call that SQS did not carry out.
#[derive(Debug, Clone)]
pub struct BatchFailure {
    /// Its position in the receipts given.
    pub index: usize,
    pub error: String,
}

/// Run a batch call over `receipts` ten at a time; each call gets its chunk (entry ids are positions in it)
/// and answers with the entries SQS refused. A call that fails as a whole fails its every entry.
async fn in_batches<'r, F, Fut>(receipts: &'r [&'r str], mut call: F) -> Vec<BatchFailure>
where
    F: FnMut(&'r [&'r str]) -> Fut,
    Fut: Future<Output = Result<Vec<BatchResultErrorEntry>, AwsError>>,
{
    let mut failures = Vec::new();
    for (chunk_no, chunk) in receipts.chunks(BATCH_MAX).enumerate() {
        let base = chunk_no * BATCH_MAX;
        match call(chunk).await {
            Ok(refused) => failures.extend(refused.iter().filter_map(|f| {
                Some(BatchFailure {
                    index: base + f.id().parse::<usize>().ok().filter(|i| *i < chunk.len())?,
                    error: format!("{}: {}", f.code(), f.message().unwrap_or_default()),
                })
            })),
            Err(e) => failures.extend((0..chunk.len()).map(|i| BatchFailure {
                index: base + i,
                error: e.to_string(),
            })),
        }
    }
    failures
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
