//! STS: assume the reader role in another account, or the containment role.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_sts::Client;

use super::AwsError;

pub struct Sts {
    client: Client,
}

impl Sts {
    pub fn new(config: &aws_config::SdkConfig) -> Sts {
        Sts {
            client: Client::new(config),
        }
    }

    /// Temporary credentials of `role_arn`, and when they expire. A refusal carries the service's error code
    /// (`AccessDenied`). A `source_identity` stays on the session and on everything done with it, in the
    /// account's CloudTrail (the role's trust policy must allow `sts:SetSourceIdentity`).
    pub async fn assume_role(
        &self,
        role_arn: &str,
        external_id: Option<&str>,
        session: std::time::Duration,
        session_name: &str,
        source_identity: Option<&str>,
    ) -> Result<(Credentials, SystemTime), AwsError> {
        let out = self
            .client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .set_source_identity(source_identity.map(str::to_owned))
            .set_external_id(external_id.map(str::to_owned))
            .duration_seconds(session.as_secs() as i32)
            .send()
            .await
            .map_err(|e| AwsError::new("sts:AssumeRole", e))?;
        let c = out
            .credentials()
            .ok_or_else(|| AwsError::other("sts:AssumeRole", "no credentials in the answer"))?;
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
