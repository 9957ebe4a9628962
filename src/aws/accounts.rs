//! The accounts of an Organization, as the bot sees them: their names (`ACCOUNT_NAMES`, and Organizations
//! `ListAccounts` refreshed hourly when `ORGANIZATION_LOOKUP=true`) and, for any account but the bot's own, AWS
//! clients on the reader role's credentials (`READER_ROLE_NAME`, `READER_EXTERNAL_ID`), assumed through STS and
//! kept until shortly before they expire.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::SharedCredentialsProvider;
use iam_alarm_commands::ports::{AccountReaders, QueryError, QueryResult, Reader};
use iam_alarm_core::accounts::AccountNames;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::cloudtrail::CloudTrail;
use super::events::EventBridge;
use super::iam::Iam;
use super::organizations::Organizations;
use super::sts::Sts;

/// Credentials are renewed this long before they expire, so no call runs on expiring ones.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// How long an assumed session lasts (the role's default maximum).
const SESSION: Duration = Duration::from_secs(3600);
/// How often Organizations is asked for account names.
pub const LOOKUP_EVERY: Duration = Duration::from_secs(3600);

/// The AWS clients the bot uses in one account.
#[derive(Clone)]
pub struct Clients {
    pub iam: Arc<Iam>,
    pub history: Arc<CloudTrail>,
    pub events: Arc<EventBridge>,
}

impl Clients {
    fn new(config: &aws_config::SdkConfig, activity_regions: &[String]) -> Clients {
        Clients {
            iam: Arc::new(Iam::new(config)),
            history: Arc::new(CloudTrail::new(config, activity_regions)),
            events: Arc::new(EventBridge::new(config)),
        }
    }
}

/// The role assumed in other accounts.
pub struct ReaderRole {
    pub name: String,
    pub external_id: SecretString,
}

/// Why another account cannot be read: shown to the responder who asked.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the bot reads only its own account: set READER_ROLE_NAME (and deploy the member module there) to read {0}")]
    NoReaderRole(String),
    #[error("cannot read {account}: assuming {role} there was refused ({why}). Deploy the member module or StackSet in that account, and check READER_EXTERNAL_ID")]
    Refused {
        account: String,
        role: String,
        why: String,
    },
    #[error("cannot read {account}: {detail}")]
    Failed { account: String, detail: String },
}

struct Session {
    clients: Clients,
    renew_at: SystemTime,
}

pub struct Accounts {
    aws: aws_config::SdkConfig,
    activity_regions: Vec<String>,
    /// The account of the bot's own queue (the credentials it runs with).
    own: Option<String>,
    own_clients: Clients,
    explicit: AccountNames,
    looked_up: RwLock<AccountNames>,
    reader: Option<ReaderRole>,
    /// By (account, session name).
    sessions: tokio::sync::Mutex<HashMap<(String, String), Session>>,
}

impl Accounts {
    pub fn new(
        aws: &aws_config::SdkConfig,
        own: Option<String>,
        explicit: AccountNames,
        reader: Option<ReaderRole>,
        activity_regions: &[String],
    ) -> Accounts {
        Accounts {
            aws: aws.clone(),
            activity_regions: activity_regions.to_vec(),
            own,
            own_clients: Clients::new(aws, activity_regions),
            explicit,
            looked_up: RwLock::new(AccountNames::default()),
            reader,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The bot's own account, when known (from the queue's URL).
    pub fn own_account(&self) -> Option<&str> {
        self.own.as_deref()
    }

    /// The clients on the bot's own credentials.
    pub fn own_clients(&self) -> Clients {
        self.own_clients.clone()
    }

    /// An account's name, if known: `ACCOUNT_NAMES` over Organizations' (without copying either).
    pub fn name(&self, id: &str) -> Option<String> {
        let explicit = self.explicit.name(id).map(str::to_owned);
        explicit.or_else(|| {
            let looked_up = self.looked_up.read().expect("not poisoned");
            looked_up.name(id).map(str::to_owned)
        })
    }

    /// Every name known now: `ACCOUNT_NAMES` over Organizations'.
    pub fn names(&self) -> AccountNames {
        let looked_up = self.looked_up.read().expect("not poisoned");
        self.explicit.or(&looked_up)
    }

    /// The other accounts known by name, by id.
    pub fn members(&self) -> Vec<String> {
        let names = self.names();
        let others = names.iter().map(|(id, _)| id.to_owned());
        others.filter(|id| Some(id) != self.own.as_ref()).collect()
    }

    pub fn reads_members(&self) -> bool {
        self.reader.is_some()
    }

    /// The clients for `account` (`None` or the bot's own: its own credentials), in another account through a
    /// reader session named for who asked (`iam-alarm-<Discord user id>`; the bot itself: `iam-alarm`), so that
    /// account's CloudTrail says which responder looked.
    pub async fn clients(
        &self,
        account: Option<&str>,
        asked_by: Option<&str>,
    ) -> Result<Clients, AccountError> {
        let Some(account) = account.filter(|a| Some(*a) != self.own.as_deref()) else {
            return Ok(self.own_clients.clone());
        };
        let label = self.names().label(account);
        let Some(role) = &self.reader else {
            return Err(AccountError::NoReaderRole(label));
        };
        let session_name = session_name(asked_by);
        let key = (account.to_owned(), session_name.clone());
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = sessions.get(&key) {
            if SystemTime::now() < s.renew_at {
                return Ok(s.clients.clone());
            }
        }
        let (config, expires) = self.assume(account, role, &label, &session_name).await?;
        let clients = Clients::new(&config, &self.activity_regions);
        let renew_at = expires.checked_sub(RENEW_BEFORE).unwrap_or(expires);
        let session = Session {
            clients: clients.clone(),
            renew_at,
        };
        sessions.insert(key, session);
        Ok(clients)
    }

    async fn assume(
        &self,
        account: &str,
        role: &ReaderRole,
        label: &str,
        session_name: &str,
    ) -> Result<(aws_config::SdkConfig, SystemTime), AccountError> {
        let arn = format!(
            "arn:{}:iam::{account}:role/{}",
            partition(&self.aws),
            role.name
        );
        let assumed = Sts::new(&self.aws)
            .assume_role(
                &arn,
                role.external_id.expose_secret(),
                SESSION,
                session_name,
            )
            .await;
        let (credentials, expires) = match assumed {
            Ok(a) => a,
            Err(failed) => {
                warn!(account, role = %arn, error = %failed, "cannot assume the reader role");
                return Err(match failed.code.clone() {
                    Some(why) => AccountError::Refused {
                        account: label.to_owned(),
                        role: role.name.clone(),
                        why,
                    },
                    None => AccountError::Failed {
                        account: label.to_owned(),
                        detail: failed.short(),
                    },
                });
            }
        };
        info!(account, role = %arn, "reader role assumed");
        let config = self
            .aws
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Ok((config, expires))
    }

    /// Ask Organizations for every account's name, now and every hour, until shutdown. A failure
    /// keeps the names it had (or the ids, when it never had any).
    pub async fn look_up_names(self: Arc<Self>, shutdown: CancellationToken) {
        let organizations = Organizations::new(&self.aws);
        loop {
            match organizations.account_names().await {
                Ok(names) => {
                    info!(
                        accounts = names.iter().count(),
                        "account names from Organizations"
                    );
                    *self.looked_up.write().expect("not poisoned") = names;
                }
                Err(e) => {
                    warn!(error = %e, "cannot list the Organization's accounts; alerts show ids where names are unknown");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(LOOKUP_EVERY) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

/// A reader session's name: who asked, as IAM allows (letters, digits and `+=,.@_-`, at most 64).
fn session_name(asked_by: Option<&str>) -> String {
    let who: String = asked_by
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
        .take(54)
        .collect();
    if who.is_empty() {
        "iam-alarm".to_owned()
    } else {
        format!("iam-alarm-{who}")
    }
}

/// `aws`, `aws-cn` or `aws-us-gov`, from the region.
fn partition(config: &aws_config::SdkConfig) -> &'static str {
    let region = config
        .region()
        .map(std::convert::AsRef::as_ref)
        .unwrap_or("us-east-1");
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The account in a queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`).
pub fn account_of_queue(url: &str) -> Option<String> {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let _name = segments.next()?;
    let account = segments.next()?;
    iam_alarm_core::accounts::is_account_id(account).then(|| account.to_owned())
}

#[async_trait::async_trait]
impl AccountReaders for Accounts {
    fn known(&self) -> Vec<(String, String)> {
        let names = self.names();
        let mut out: Vec<(String, String)> = self
            .own
            .as_deref()
            .map(|id| (id.to_owned(), names.label(id)))
            .into_iter()
            .collect();
        for id in self.members() {
            let label = names.label(&id);
            out.push((id, label));
        }
        out
    }

    fn resolve(&self, input: &str) -> Option<String> {
        self.names().resolve(input)
    }

    fn label(&self, id: &str) -> String {
        self.names().label(id)
    }

    fn own(&self) -> Option<String> {
        self.own_account().map(str::to_owned)
    }

    async fn reader(&self, account: Option<&str>, asked_by: Option<&str>) -> QueryResult<Reader> {
        let clients = self
            .clients(account, asked_by)
            .await
            .map_err(|e| QueryError::new(e.to_string()))?;
        Ok(Reader {
            iam: clients.iam,
            history: clients.history,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_sessions_are_named_for_who_asked() {
        assert_eq!(
            session_name(Some("500000000000000001")),
            "iam-alarm-500000000000000001"
        );
        assert_eq!(session_name(None), "iam-alarm");
        assert_eq!(session_name(Some("a b/c")), "iam-alarm-abc");
        assert!(session_name(Some(&"9".repeat(100))).len() <= 64);
    }

    #[test]
    fn the_queue_url_names_the_bot_s_account() {
        let url = "https://sqs.us-east-1.amazonaws.com/111122223333/iam-alarm";
        assert_eq!(account_of_queue(url).as_deref(), Some("111122223333"));
        assert_eq!(
            account_of_queue("http://127.0.0.1:5000/123456789012/q").as_deref(),
            Some("123456789012")
        );
        assert_eq!(account_of_queue("http://localhost/queue/q"), None);
    }
}
