//! Thin wrappers over the AWS SDK: the rest of the code depends on these small interfaces.

pub mod accounts;
pub mod cloudtrail;
pub mod containment;
pub mod events;
pub mod iam;
pub mod organizations;
pub mod sns;
pub mod sqs;
pub mod sts;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};

/// The SDK configuration from the standard sources (environment, profile, instance role), including
/// `AWS_ENDPOINT_URL` for emulators.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The same configuration in `region`: IAM is global and its events (and so the rules, topic and trail that
/// carry them) live in us-east-1, whatever region the queue is in.
pub fn in_region(config: &SdkConfig, region: &str) -> SdkConfig {
    config
        .to_builder()
        .region(Region::new(region.to_owned()))
        .build()
}

/// An AWS call that failed, with the SDK's full context (which never includes credentials).
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {detail}")]
pub struct AwsError {
    pub operation: &'static str,
    /// The service's error code (`AccessDenied`, `ThrottlingException`, …), when it answered with one.
    pub code: Option<String>,
    pub detail: String,
}

impl AwsError {
    pub fn new<E>(operation: &'static str, err: E) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata,
    {
        AwsError {
            operation,
            code: err.code().map(str::to_owned),
            detail: DisplayErrorContext(err).to_string(),
        }
    }

    /// A failure that is ours to describe (the call answered, but not with what it must).
    pub fn other(operation: &'static str, detail: impl Into<String>) -> Self {
        AwsError {
            operation,
            code: None,
            detail: detail.into(),
        }
    }

    /// Why, in a few words for a reply: "throttled" for a throttling error, else the operation.
    pub fn short(&self) -> String {
        if self.is_throttling() {
            "throttled by AWS".to_owned()
        } else {
            format!("{} failed", self.operation)
        }
    }

    /// Throttled, by the codes the SDK's own retry classifier treats so.
    pub fn is_throttling(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| THROTTLING_ERRORS.contains(&c))
    }
}
