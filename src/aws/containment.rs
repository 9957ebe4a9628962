//! Containment on AWS (`CONTAIN=on`): quarantine an IAM user (attach `AWSCompromisedKeyQuarantineV3`, deactivate
//! every active access key), deactivate one key, and undo exactly what was done — each on the containment role
//! (`CONTAIN_ROLE_ARN` here, `CONTAIN_ROLE_NAME` in member accounts), never the bot's own read-only role, in a
//! session named for the Discord user who confirmed it.

use std::sync::Arc;

use iam_alarm_commands::ports::{ContainReport, Containment, QueryError, QueryResult};
use iam_alarm_core::contain::{quarantine_policy_arn, Containment as Action, Done, Plan, Step};

use super::accounts::Accounts;
use super::iam::Iam;
use super::AwsError;

/// The containment roles: this account's by ARN, the member accounts' by name.
#[derive(Debug, Clone)]
pub struct ContainRoles {
    pub own: String,
    pub members: Option<String>,
}

pub struct AwsContainment {
    accounts: Arc<Accounts>,
    roles: ContainRoles,
}

impl AwsContainment {
    pub fn new(accounts: Arc<Accounts>, roles: ContainRoles) -> AwsContainment {
        AwsContainment { accounts, roles }
    }

    /// IAM in the plan's account, on its containment role, for `who`.
    async fn iam(&self, account: Option<&str>, who: &str) -> QueryResult<Arc<Iam>> {
        let own = self.accounts.own_account();
        let role = match account.filter(|a| Some(*a) != own) {
            None => self.roles.own.clone(),
            Some(member) => {
                let Some(name) = &self.roles.members else {
                    return Err(QueryError::new(format!(
                        "containment in {} needs CONTAIN_ROLE_NAME (and the member module's `containment = true` there)",
                        self.accounts.names().label(member)
                    )));
                };
                if !self.accounts.members().iter().any(|m| m == member) {
                    return Err(QueryError::new(format!(
                        "{member} is not an account the bot knows"
                    )));
                }
                format!(
                    "arn:{}:iam::{member}:role/{name}",
                    self.accounts.partition()
                )
            }
        };
        let clients = self
            .accounts
            .acting_as(&role, who)
            .await
            .map_err(|e| QueryError::new(e.to_string()))?;
        Ok(clients.iam)
    }

    fn policy(&self) -> String {
        quarantine_policy_arn(self.accounts.partition())
    }
}

fn failed(what: impl Into<String>, e: &AwsError) -> Step {
    let why = e.code.clone().unwrap_or_else(|| e.short());
    Step::Failed {
        what: what.into(),
        why,
    }
}

#[async_trait::async_trait]
impl Containment for AwsContainment {
    async fn contain(&self, plan: &Plan, confirmed_by: &str) -> QueryResult<ContainReport> {
        let iam = self.iam(plan.account.as_deref(), confirmed_by).await?;
        let user = plan.user.as_str();
        let mut done = Done {
            plan: plan.clone(),
            attached: false,
            deactivated: Vec::new(),
        };
        let mut steps = Vec::new();
        let report = |steps, done, already| ContainReport {
            steps,
            done,
            already,
        };
        if plan.action == Action::Quarantine {
            let policy = self.policy();
            match iam.attached_policies(user).await {
                // Already in place (by us or anyone): not repeated.
                Ok(attached) if attached.contains(&policy) => {
                    return Ok(report(vec![Step::AlreadyAttached], done, true));
                }
                Ok(_) => {}
                Err(e) => {
                    return Ok(report(
                        vec![failed("list the user's policies", &e)],
                        done,
                        false,
                    ))
                }
            }
            match iam.attach_policy(user, &policy).await {
                Ok(()) => {
                    steps.push(Step::Attached);
                    done.attached = true;
                }
                Err(e) => {
                    steps.push(failed("attach the quarantine policy", &e));
                    return Ok(report(steps, done, false));
                }
            }
        }
        let keys = match iam.access_keys(user).await {
            Ok(k) => k,
            Err(e) => {
                steps.push(failed("list the user's access keys", &e));
                return Ok(report(steps, done, false));
            }
        };
        let wanted = |key: &str| match &plan.action {
            Action::Quarantine => true,
            Action::DeactivateKey(k) => k == key,
        };
        if let Action::DeactivateKey(k) = &plan.action {
            if !keys.iter().any(|(id, _)| id == k) {
                steps.push(Step::Failed {
                    what: format!("find key {}", iam_alarm_core::contain::short_key(k)),
                    why: "the user has no such key (deleted?)".to_owned(),
                });
            }
        }
        for (key, active) in keys.into_iter().filter(|(k, _)| wanted(k)) {
            if !active {
                steps.push(Step::AlreadyInactive(key));
                continue;
            }
            match iam.set_key_active(user, &key, false).await {
                Ok(()) => {
                    steps.push(Step::Deactivated(key.clone()));
                    done.deactivated.push(key);
                }
                Err(e) => {
                    steps.push(failed(
                        format!(
                            "deactivate key {}",
                            iam_alarm_core::contain::short_key(&key)
                        ),
                        &e,
                    ));
                    break;
                }
            }
        }
        Ok(report(steps, done, false))
    }

    async fn undo(&self, done: &Done, confirmed_by: &str) -> QueryResult<Vec<Step>> {
        let iam = self.iam(done.plan.account.as_deref(), confirmed_by).await?;
        let user = done.plan.user.as_str();
        let mut steps = Vec::new();
        if done.attached {
            match iam.detach_policy(user, &self.policy()).await {
                Ok(()) => steps.push(Step::Detached),
                Err(e) => steps.push(failed("detach the quarantine policy", &e)),
            }
        }
        // Exactly the keys the containment deactivated: one someone else deactivated stays as it is.
        for key in &done.deactivated {
            match iam.set_key_active(user, key, true).await {
                Ok(()) => steps.push(Step::Reactivated(key.clone())),
                Err(e) => steps.push(failed(
                    format!("reactivate key {}", iam_alarm_core::contain::short_key(key)),
                    &e,
                )),
            }
        }
        Ok(steps)
    }
}
