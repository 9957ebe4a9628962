//! Thin wrappers over the AWS SDK: the rest of the code depends on these small interfaces.

pub mod accounts;
pub mod cloudtrail;
pub mod events;
pub mod iam;
pub mod organizations;
pub mod sns;
pub mod sqs;
pub mod sts;

use aws_config::BehaviorVersion;

/// The SDK configuration from the standard sources (environment, profile, instance role), including
/// `AWS_ENDPOINT_URL` for emulators.
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An AWS call that failed, with the SDK's full context (which never includes credentials).
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {detail}")]
pub struct AwsError {
    pub operation: &'static str,
    pub detail: String,
}

impl AwsError {
    pub fn new(operation: &'static str, err: impl std::error::Error) -> Self {
        AwsError {
            operation,
            detail: aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
        }
    }

    /// Why, in a few words for a reply: "throttled" for a throttling error, else the operation.
    pub fn short(&self) -> String {
        if self.detail.contains("Throttling") {
            "throttled by AWS".to_owned()
        } else {
            format!("{} failed", self.operation)
        }
    }
}
