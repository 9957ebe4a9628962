//! What the commands need from AWS, as small interfaces. The binary implements them with the AWS SDK
//! (`src/aws/`); tests can swap them.

use chrono::{DateTime, Utc};

/// A failed query, already stripped of anything a user must not see; the full error is in `detail` for the log.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct QueryError {
    pub detail: String,
}

impl QueryError {
    pub fn new(detail: impl Into<String>) -> Self {
        QueryError {
            detail: detail.into(),
        }
    }
}

pub type QueryResult<T> = Result<T, QueryError>;

/// One IAM user, as `/iam-users` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSummary {
    pub name: String,
    pub created: Option<DateTime<Utc>>,
    pub password_last_used: Option<DateTime<Utc>>,
    pub keys: Vec<KeySummary>,
    pub mfa: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeySummary {
    pub id: String,
    pub active: bool,
    pub last_used: Option<DateTime<Utc>>,
}

/// A user name and its creation time: cheap to list for thousands of users.
#[derive(Debug, Clone, PartialEq)]
pub struct UserName {
    pub name: String,
    pub created: Option<DateTime<Utc>>,
    /// `ListUsers` reports it, so it costs nothing extra.
    pub password_last_used: Option<DateTime<Utc>>,
}

#[async_trait::async_trait]
pub trait IamDirectory: Send + Sync {
    /// Every user (following `Marker` pagination to the end).
    async fn list_users(&self) -> QueryResult<Vec<UserName>>;
    /// Keys, their last use, MFA and password use of one user.
    async fn describe_user(&self, user: &UserName) -> QueryResult<UserSummary>;
}

/// One lookup attribute (CloudTrail allows one per call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAttribute {
    AccessKeyId(String),
    Username(String),
    EventName(String),
    EventSource(String),
}

/// One CloudTrail event-history entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailEvent {
    pub time: Option<DateTime<Utc>>,
    pub name: String,
    pub source: String,
    pub region: String,
    pub username: Option<String>,
    /// The full CloudTrail record (a JSON string), when CloudTrail returned it.
    pub record: Option<String>,
}

/// What a lookup found, and whether it had to stop early.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LookupOutcome {
    pub events: Vec<TrailEvent>,
    /// Set when a page limit, throttling or a failing region cut the result short: says why.
    pub partial: Option<String>,
}

#[async_trait::async_trait]
pub trait EventHistory: Send + Sync {
    /// Events matching `attribute` between `start` and `end`, newest first, in every configured region, at most
    /// `max_events`.
    async fn lookup(
        &self,
        attribute: LookupAttribute,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        max_events: usize,
    ) -> LookupOutcome;
}

/// IAM and CloudTrail of one account.
#[derive(Clone)]
pub struct Reader {
    pub iam: std::sync::Arc<dyn IamDirectory>,
    pub history: std::sync::Arc<dyn EventHistory>,
}

/// The accounts the bot knows (its own, `ACCOUNT_NAMES`, Organizations) and the reads it can make in each.
#[async_trait::async_trait]
pub trait AccountReaders: Send + Sync {
    /// Every known account as (id, "name (id)"), the bot's own first.
    fn known(&self) -> Vec<(String, String)>;
    /// An account id, or a known account's name → its id.
    fn resolve(&self, input: &str) -> Option<String>;
    /// "prod (111122223333)", or the id alone.
    fn label(&self, id: &str) -> String;
    /// The bot's own account, when known.
    fn own(&self) -> Option<String>;
    /// IAM and CloudTrail in `account` (`None` or the bot's own: its own credentials; another: through the
    /// reader role, in a session named for `asked_by` — the Discord user — so that account's CloudTrail shows
    /// which responder looked). A refusal says why in words a responder can act on.
    async fn reader(&self, account: Option<&str>, asked_by: Option<&str>) -> QueryResult<Reader>;
}

/// What a containment did: its steps as the channel shows them, and what an undo would reverse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainReport {
    pub steps: Vec<iam_alarm_core::contain::Step>,
    pub done: iam_alarm_core::contain::Done,
    /// The user was quarantined already: nothing was done.
    pub already: bool,
}

/// Containment's AWS side (`CONTAIN=on`): each call on the containment role of the plan's account, in a session
/// named for the Discord user who confirmed it. A refused role or an unknown account is an error; a failed step
/// is a step.
#[async_trait::async_trait]
pub trait Containment: Send + Sync {
    async fn contain(
        &self,
        plan: &iam_alarm_core::contain::Plan,
        confirmed_by: &str,
    ) -> QueryResult<ContainReport>;
    /// Reverse exactly what `done` did (the policy if it attached it, the keys it deactivated).
    async fn undo(
        &self,
        done: &iam_alarm_core::contain::Done,
        confirmed_by: &str,
    ) -> QueryResult<Vec<iam_alarm_core::contain::Step>>;
}

pub use iam_alarm_core::check::{Check, CheckStatus, PipelineProbe};
