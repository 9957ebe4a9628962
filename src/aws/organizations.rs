//! Organizations, for account names (`ORGANIZATION_LOOKUP=true`).

use aws_sdk_organizations::Client;
use iam_alarm_core::accounts::AccountNames;

use super::AwsError;

pub struct Organizations {
    client: Client,
}

impl Organizations {
    pub fn new(config: &aws_config::SdkConfig) -> Organizations {
        Organizations {
            client: Client::new(config),
        }
    }

    /// Every active account's name, following pagination to the end (suspended and closed accounts are not
    /// members to watch).
    pub async fn account_names(&self) -> Result<AccountNames, AwsError> {
        let pages: Vec<_> = self
            .client
            .list_accounts()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::new("organizations:ListAccounts", e))?;
        let active = |a: &&aws_sdk_organizations::types::Account| {
            a.status() == Some(&aws_sdk_organizations::types::AccountStatus::Active)
        };
        let accounts = pages
            .iter()
            .flat_map(aws_sdk_organizations::operation::list_accounts::ListAccountsOutput::accounts)
            .filter(active);
        let pairs = accounts.filter_map(|a| Some((a.id()?.to_owned(), a.name()?.to_owned())));
        Ok(AccountNames::from_pairs(pairs))
    }
}
