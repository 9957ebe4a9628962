//! The accounts of an Organization, as the bot sees them: their names (`ACCOUNT_NAMES`, and Organizations
//! `ListAccounts` refreshed hourly when `ORGANIZATION_LOOKUP=true`) and, for any account but the bot's own, AWS
//! clients on the reader role's credentials (`READER_ROLE_NAME`, `READER_EXTERNAL_ID`), assumed through STS and
//! kept until shortly before they expire.

use std::collections::{BTreeMap, HashMap};
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
use super::organizations::{Membership, Organizations};
use super::sts::Sts;

/// Credentials are renewed this long before they expire, so no call runs on expiring ones.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// How long an assumed session lasts (the role's default maximum).
const SESSION: Duration = Duration::from_secs(3600);

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
    /// Accounts that were active members and are no longer, by id (they are no longer watched).
    departed: RwLock<BTreeMap<String, Departure>>,
    /// The Organization's id, once looked up.
    organization_id: RwLock<Option<String>>,
    /// How the last `ListAccounts` went: `None` before the first (or without `ORGANIZATION_LOOKUP`), else it
    /// answered, or why it failed.
    lookup: RwLock<Option<Result<(), String>>>,
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
            departed: RwLock::new(BTreeMap::new()),
            organization_id: RwLock::new(None),
            lookup: RwLock::new(None),
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

    /// The accounts that left the Organization or were suspended since the bot started, by id.
    pub fn departed(&self) -> BTreeMap<String, Departure> {
        self.departed.read().expect("not poisoned").clone()
    }

    /// How the last listing of the Organization went (`None`: not asked): while it fails, departures go unseen.
    pub fn lookup(&self) -> Option<Result<(), String>> {
        self.lookup.read().expect("not poisoned").clone()
    }

    /// The Organization's id (`o-…`), once looked up.
    pub fn organization_id(&self) -> Option<String> {
        self.organization_id.read().expect("not poisoned").clone()
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
        let external_id = Some(role.external_id.expose_secret());
        self.assume_arn(&arn, external_id, label, &role.name, session_name)
            .await
    }

    /// The clients of a session of `role_arn` (the containment role) for `who` — the Discord user who confirmed
    /// the action — named so in that account's CloudTrail (session name and source identity).
    pub async fn acting_as(&self, role_arn: &str, who: &str) -> Result<Clients, AccountError> {
        let account = role_arn.split(':').nth(4).unwrap_or_default();
        let label = self.names().label(account);
        let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
        let session_name = session_name(Some(who));
        let (config, _) = self
            .assume_arn(role_arn, None, &label, role, &session_name)
            .await?;
        Ok(Clients::new(&config, &self.activity_regions))
    }

    /// The partition of the bot's region (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &'static str {
        partition(&self.aws)
    }

    async fn assume_arn(
        &self,
        arn: &str,
        external_id: Option<&str>,
        label: &str,
        role_name: &str,
        session_name: &str,
    ) -> Result<(aws_config::SdkConfig, SystemTime), AccountError> {
        let account = label;
        let sts = Sts::new(&self.aws);
        // A responder's session carries who asked as its source identity too; a role deployed before its trust
        // policy allowed that refuses it, and is then assumed without (said, so it gets deployed again).
        let who = (session_name != ANONYMOUS).then_some(session_name);
        let mut assumed = sts
            .assume_role(arn, external_id, SESSION, session_name, who)
            .await;
        if who.is_some()
            && assumed
                .as_ref()
                .is_err_and(|e| e.code.as_deref() == Some("AccessDenied"))
        {
            warn!(account, role = %arn, "the role does not allow sts:SetSourceIdentity: apply the module or StackSet again, so that account's CloudTrail names the responder on every call");
            assumed = sts
                .assume_role(arn, external_id, SESSION, session_name, None)
                .await;
        }
        let (credentials, expires) = match assumed {
            Ok(a) => a,
            Err(failed) => {
                warn!(account, role = %arn, error = %failed, "cannot assume the role");
                return Err(match failed.code.clone() {
                    Some(why) => AccountError::Refused {
                        account: label.to_owned(),
                        role: role_name.to_owned(),
                        why,
                    },
                    None => AccountError::Failed {
                        account: label.to_owned(),
                        detail: failed.short(),
                    },
                });
            }
        };
        info!(account, role = %arn, "role assumed");
        let config = self
            .aws
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        Ok((config, expires))
    }

    /// Ask Organizations for every account, now and every `every`, until shutdown: the names, and which members
    /// left or were suspended since. A failure keeps what it had (or the ids, when it never had any).
    pub async fn look_up_names(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        let organizations = Organizations::new(&self.aws);
        loop {
            match organizations.membership().await {
                Ok(membership) => {
                    info!(
                        accounts = membership.active.iter().count(),
                        "account names from Organizations"
                    );
                    self.update(membership);
                    *self.lookup.write().expect("not poisoned") = Some(Ok(()));
                }
                Err(e) => {
                    warn!(error = %e, "cannot list the Organization's accounts; alerts show ids where names are unknown");
                    let why = e.code.clone().unwrap_or_else(|| e.short());
                    *self.lookup.write().expect("not poisoned") = Some(Err(why));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    fn update(&self, membership: Membership) {
        let mut looked_up = self.looked_up.write().expect("not poisoned");
        let mut departed = self.departed.write().expect("not poisoned");
        for (id, departure) in departures(&looked_up, &membership) {
            warn!(account = %id, why = %departure.why, "a member account is no longer watched");
            departed.insert(id, departure);
        }
        // One that is back is watched again (its check recovers).
        for (id, departure) in departed.iter_mut() {
            departure.back = membership.active.name(id).is_some();
        }
        *self.organization_id.write().expect("not poisoned") = membership.id;
        *looked_up = membership.active;
    }
}

/// A member account that is no longer one.
#[derive(Debug, Clone, PartialEq)]
pub struct Departure {
    /// How alerts named it: "finance (111122223333)".
    pub label: String,
    /// "left the Organization", "was suspended", …
    pub why: String,
    /// It is an active member again.
    pub back: bool,
}

/// The accounts active before and not now, with why.
fn departures(before: &AccountNames, now: &Membership) -> Vec<(String, Departure)> {
    before
        .iter()
        .filter(|(id, _)| now.active.name(id).is_none())
        .map(|(id, _)| {
            let status = now
                .inactive
                .iter()
                .find(|(i, _)| i == id)
                .map(|(_, s)| s.as_str());
            let why = match status {
                None => "left the Organization".to_owned(),
                Some("SUSPENDED") => "was suspended".to_owned(),
                Some(other) => format!("is {}", other.to_ascii_lowercase().replace('_', " ")),
            };
            let departure = Departure {
                label: before.label(id),
                why,
                back: false,
            };
            (id.to_owned(), departure)
        })
        .collect()
}

/// The session name of the bot's own reads (the watchdog's).
const ANONYMOUS: &str = "iam-alarm";

/// A reader session's name: who asked, as IAM allows (letters, digits and `+=,.@_-`, at most 64).
fn session_name(asked_by: Option<&str>) -> String {
    let who: String = asked_by
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
        .take(54)
        .collect();
    if who.is_empty() {
        ANONYMOUS.to_owned()
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
    fn a_member_that_left_or_was_suspended_is_a_departure() {
        let before = AccountNames::from_pairs([
            ("111111111111".to_owned(), "prod".to_owned()),
            ("222222222222".to_owned(), "qa".to_owned()),
            ("333333333333".to_owned(), "dev".to_owned()),
        ]);
        let now = Membership {
            active: AccountNames::from_pairs([("111111111111".to_owned(), "prod".to_owned())]),
            inactive: vec![("222222222222".to_owned(), "SUSPENDED".to_owned())],
            id: Some("o-abc".to_owned()),
        };
        let found = departures(&before, &now);
        let said: Vec<String> = found
            .iter()
            .map(|(_, d)| format!("{} {}", d.label, d.why))
            .collect();
        assert_eq!(
            said,
            [
                "qa (222222222222) was suspended",
                "dev (333333333333) left the Organization"
            ]
        );
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
