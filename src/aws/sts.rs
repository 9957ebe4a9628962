//! STS, for reading other accounts: assume the reader role there.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_sdk_sts::Client;

use super::AwsError;

pub struct Sts {
    client: Client,
}

/// Why an AssumeRole failed: the service's error code when it refused (`AccessDenied`), with the full error.
#[derive(Debug)]
pub struct AssumeFailed {
    pub code: Option<String>,
    pub error: AwsError,
}

impl Sts {
    pub fn new(config: &aws_config::SdkConfig) -> Sts {
        Sts {
            client: Client::new(config),
        }
    }

    /// Temporary credentials of `role_arn`, and when they expire.
    pub async fn assume_role(
        &self,
        role_arn: &str,
        external_id: &str,
        session: std::time::Duration,
    ) -> Result<(Credentials, SystemTime), AssumeFailed> {
        let out = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name("iam-alarm")
            .external_id(external_id)
            .duration_seconds(session.as_secs() as i32)
            .send()
            .await
            .map_err(|e| AssumeFailed {
                code: e
                    .as_service_error()
                    .and_then(|s| s.code())
                    .map(str::to_owned),
                error: AwsError::new("sts:AssumeRole", e),
            })?;
        let c = out.credentials().ok_or_else(|| AssumeFailed {
            code: None,
            error: AwsError {
                operation: "sts:AssumeRole",
                detail: "no credentials in the answer".to_owned(),
            },
        })?;
        let expires = SystemTime::try_from(*c.expiration()).unwrap_or_else(|_| SystemTime::now());
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            Some(expires),
            "iam-alarm-reader",
        );
        Ok((credentials, expires))
    }
}
