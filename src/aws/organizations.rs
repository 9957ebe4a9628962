//! Organizations, for account names and membership (`ORGANIZATION_LOOKUP=true`).

use aws_sdk_organizations::types::{Account, AccountStatus};
use aws_sdk_organizations::Client;
use iam_alarm_core::accounts::AccountNames;

use super::AwsError;

pub struct Organizations {
    client: Client,
}

/// The Organization as one `ListAccounts` saw it.
pub struct Membership {
    /// The active accounts' names: the members to watch.
    pub active: AccountNames,
    /// Accounts listed but not active, by id: their status ("SUSPENDED", "PENDING_CLOSURE").
    pub inactive: Vec<(String, String)>,
    /// The Organization's id (`o-…`), from the accounts' ARNs.
    pub id: Option<String>,
}

impl Organizations {
    pub fn new(config: &aws_config::SdkConfig) -> Organizations {
        Organizations {
            client: Client::new(config),
        }
    }

    /// Every account, following pagination to the end.
    pub async fn membership(&self) -> Result<Membership, AwsError> {
        let pages: Vec<_> = self
            .client
            .list_accounts()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| AwsError::new("organizations:ListAccounts", e))?;
        let accounts: Vec<&Account> = pages
            .iter()
            .flat_map(aws_sdk_organizations::operation::list_accounts::ListAccountsOutput::accounts)
            .collect();
        let active = |a: &&&Account| a.status() == Some(&AccountStatus::Active);
        let pairs = accounts
            .iter()
            .filter(active)
            .filter_map(|a| Some((a.id()?.to_owned(), a.name()?.to_owned())));
        let inactive = accounts
            .iter()
            .filter(|a| !active(a))
            .filter_map(|a| Some((a.id()?.to_owned(), a.status()?.as_str().to_owned())))
            .collect();
        // arn:aws:organizations::<management>:account/o-<id>/<account>
        let id = accounts.iter().find_map(|a| {
            let path = a.arn()?.split_once(":account/")?.1;
            Some(path.split('/').next()?.to_owned())
        });
        Ok(Membership {
            active: AccountNames::from_pairs(pairs),
            inactive,
            id,
        })
    }
}
