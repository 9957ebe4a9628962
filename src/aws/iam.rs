//! IAM, as `/iam-users` needs it, a member's forward role as `/health` checks it, and the calls of a containment.
//! IAM is global; its endpoint is in us-east-1.

use aws_sdk_iam::Client;
use chrono::{DateTime, Utc};
use iam_alarm_commands::ports::{
    IamDirectory, KeySummary, QueryError, QueryResult, UserName, UserSummary,
};

use super::AwsError;

pub struct Iam {
    client: Client,
}

impl Iam {
    pub fn new(config: &aws_config::SdkConfig) -> Iam {
        let us_east_1 = super::in_region(config, "us-east-1");
        Iam {
            client: Client::new(&us_east_1),
        }
    }
}

impl Iam {
    /// A role's inline policy documents (as IAM returns them, possibly percent-encoded); `None` when the role
    /// does not exist. For `/health`: may a member's forward role still put events on the central bus.
    pub async fn role_policies(&self, role: &str) -> Result<Option<Vec<String>>, AwsError> {
        match self.client.get_role().role_name(role).send().await {
            Ok(_) => {}
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_iam::operation::get_role::GetRoleError::is_no_such_entity_exception,
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(AwsError::new("iam:GetRole", e)),
        }
        let names = self
            .client
            .list_role_policies()
            .role_name(role)
            .send()
            .await
            .map_err(|e| AwsError::new("iam:ListRolePolicies", e))?;
        let mut documents = Vec::new();
        for name in names.policy_names() {
            let policy = self
                .client
                .get_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| AwsError::new("iam:GetRolePolicy", e))?;
            documents.push(policy.policy_document().to_owned());
        }
        Ok(Some(documents))
    }
}

/// The calls a containment makes (on the containment role's credentials, never the bot's own).
impl Iam {
    /// The ARNs of the managed policies attached to `user`.
    pub async fn attached_policies(&self, user: &str) -> Result<Vec<String>, AwsError> {
        let out = self
            .client
            .list_attached_user_policies()
            .user_name(user)
            .send()
            .await
            .map_err(|e| AwsError::new("iam:ListAttachedUserPolicies", e))?;
        let arns = out
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn());
        Ok(arns.map(str::to_owned).collect())
    }

    pub async fn attach_policy(&self, user: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.client
            .attach_user_policy()
            .user_name(user)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| AwsError::new("iam:AttachUserPolicy", e))?;
        Ok(())
    }

    pub async fn detach_policy(&self, user: &str, policy_arn: &str) -> Result<(), AwsError> {
        self.client
            .detach_user_policy()
            .user_name(user)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| AwsError::new("iam:DetachUserPolicy", e))?;
        Ok(())
    }

    /// `user`'s access keys: (id, active).
    pub async fn access_keys(&self, user: &str) -> Result<Vec<(String, bool)>, AwsError> {
        let out = self
            .client
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| AwsError::new("iam:ListAccessKeys", e))?;
        let keys = out.access_key_metadata().iter().filter_map(|k| {
            let active = k.status().is_some_and(|s| s.as_str() == "Active");
            Some((k.access_key_id()?.to_owned(), active))
        });
        Ok(keys.collect())
    }

    pub async fn set_key_active(
        &self,
        user: &str,
        key: &str,
        active: bool,
    ) -> Result<(), AwsError> {
        let status = if active {
            aws_sdk_iam::types::StatusType::Active
        } else {
            aws_sdk_iam::types::StatusType::Inactive
        };
        self.client
            .update_access_key()
            .user_name(user)
            .access_key_id(key)
            .status(status)
            .send()
            .await
            .map_err(|e| AwsError::new("iam:UpdateAccessKey", e))?;
        Ok(())
    }
}

fn time(t: Option<&aws_sdk_iam::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn query(e: AwsError) -> QueryError {
    QueryError::new(e.to_string())
}

#[async_trait::async_trait]
impl IamDirectory for Iam {
    async fn list_users(&self) -> QueryResult<Vec<UserName>> {
        // Every page: accounts with thousands of users list in pages of up to 1,000.
        let users: Vec<_> = self
            .client
            .list_users()
            .max_items(1000)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| query(AwsError::new("iam:ListUsers", e)))?;
        let users = users
            .iter()
            .map(|u| UserName {
                name: u.user_name().to_owned(),
                created: time(Some(u.create_date())),
                password_last_used: time(u.password_last_used()),
            })
            .collect();
        Ok(users)
    }

    async fn describe_user(&self, user: &UserName) -> QueryResult<UserSummary> {
        let keys = self
            .client
            .list_access_keys()
            .user_name(&user.name)
            .send()
            .await
            .map_err(|e| query(AwsError::new("iam:ListAccessKeys", e)))?;
        let mut summaries = Vec::new();
        for k in keys.access_key_metadata() {
            let Some(id) = k.access_key_id() else {
                continue;
            };
            let last_used = self
                .client
                .get_access_key_last_used()
                .access_key_id(id)
                .send()
                .await
                .map_err(|e| query(AwsError::new("iam:GetAccessKeyLastUsed", e)))?
                .access_key_last_used()
                .and_then(|u| time(u.last_used_date()));
            summaries.push(KeySummary {
                id: id.to_owned(),
                active: k.status().is_some_and(|s| s.as_str() == "Active"),
                last_used,
            });
        }
        let mfa = self
            .client
            .list_mfa_devices()
            .user_name(&user.name)
            .send()
            .await
            .map_err(|e| query(AwsError::new("iam:ListMFADevices", e)))?;
        Ok(UserSummary {
            name: user.name.clone(),
            created: user.created,
            password_last_used: user.password_last_used,
            keys: summaries,
            mfa: !mfa.mfa_devices().is_empty(),
        })
    }
}
