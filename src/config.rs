//! Typed configuration. Every environment variable `iam-alarm` reads is declared once, in [`Vars`], with its
//! type, range and default (the README's configuration table, in code); the configurations the parts of the
//! program use are assembled from it. Errors name the variable; secrets are [`SecretString`]s and never print.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use iam_alarm_commands::ask::AskSettings;
use iam_alarm_core::accounts::AccountNames;
use iam_alarm_core::escalation::Policy;
use iam_alarm_core::people::People;
use iam_alarm_core::render::Mention;
use iam_alarm_core::rules::Rules;
use iam_alarm_core::severity::Severity;
use iam_alarm_core::WatchedEvents;
use secrecy::SecretString;
use serde::{de, Deserialize, Deserializer};
use url::Url;

/// A configuration error: which variable, and what is wrong with it. Never carries a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.into(),
            problem: problem.into(),
        }
    }
}

/// Every variable, as the environment gives it; a field's name is its variable's, in lower case. A blank value
/// counts as unset, except where blank means something of its own ([`BLANK_MEANS_NONE`]).
#[derive(Debug, Deserialize)]
pub struct Vars {
    // Input.
    /// `SQS_QUEUE_URL`: the queue to consume (required by `run` and `dlq`).
    #[serde(default, deserialize_with = "some_url")]
    pub sqs_queue_url: Option<String>,
    /// Whether SNS signatures are checked: `verify`, or `off` for emulators only.
    #[serde(default, deserialize_with = "parsed")]
    pub sns_signatures: SnsSignatures,
    /// The topics whose signed notifications are believed (comma list).
    #[serde(default, deserialize_with = "list")]
    pub topic_arn: Vec<String>,
    /// Where signing certificates may come from; unset: SNS's own (`https://sns.<region>.amazonaws.com/`).
    #[serde(default, deserialize_with = "some_http_prefix")]
    pub sns_cert_url_prefix: Option<String>,

    // Where alerts go: the bot with a token, else a webhook, else the console.
    #[serde(default, deserialize_with = "some_secret")]
    pub discord_token: Option<SecretString>,
    #[serde(default, deserialize_with = "some_webhook_url")]
    pub discord_webhook_url: Option<SecretString>,
    /// Replaces `https://discord.com` (a REST proxy, or the tests' fake Discord).
    #[serde(default, deserialize_with = "some_http_url")]
    pub discord_api_url: Option<Url>,
    #[serde(default, deserialize_with = "some_snowflake")]
    pub alert_channel_id: Option<u64>,
    #[serde(default, deserialize_with = "some_snowflake")]
    pub discord_guild_id: Option<u64>,
    #[serde(default, deserialize_with = "some_snowflake")]
    pub responder_role_id: Option<u64>,

    // What is shown, and how.
    #[serde(default, deserialize_with = "parsed")]
    pub watched_events: WatchedEvents,
    #[serde(default, deserialize_with = "some_time_zone")]
    pub alert_timezone: Option<Tz>,
    #[serde(default = "high", deserialize_with = "parsed")]
    pub mention_severity: Severity,
    #[serde(default, deserialize_with = "parsed")]
    pub account_names: AccountNames,
    #[serde(default, deserialize_with = "some_path")]
    pub alert_rules: Option<PathBuf>,

    // Asking the actor "was this you?".
    /// Who is who: a TOML file mapping AWS principals to Discord users; unset: nobody is asked.
    #[serde(default, deserialize_with = "some_path")]
    pub people: Option<PathBuf>,
    #[serde(default = "medium", deserialize_with = "parsed")]
    pub ask_severity: Severity,
    #[serde(default = "n::<900>", deserialize_with = "within::<_, 1, 604_800>")]
    pub ask_timeout_s: u64,
    #[serde(default = "truth", deserialize_with = "flag")]
    pub ask_confirm_acks: bool,
    // Containment from the channel.
    /// `on`: Quarantine… and Deactivate key… on alerts (needs RESPONDER_ROLE_ID and CONTAIN_ROLE_ARN).
    #[serde(default, deserialize_with = "switch")]
    pub contain: bool,
    #[serde(default, deserialize_with = "some_role_arn")]
    pub contain_role_arn: Option<String>,
    #[serde(default, deserialize_with = "some_role_name")]
    pub contain_role_name: Option<String>,
    #[serde(default = "n::<1>", deserialize_with = "within::<_, 1, 2>")]
    pub contain_approvals: u64,
    #[serde(default = "n::<900>", deserialize_with = "within::<_, 1, 86_400>")]
    pub contain_request_ttl_s: u64,
    /// The longest snooze a responder may make from an alert, days.
    #[serde(default = "n::<7>", deserialize_with = "within::<_, 1, 90>")]
    pub snooze_max_days: u64,

    // Pacing and holding.
    #[serde(default = "n::<2000>", deserialize_with = "within::<_, 10, 100_000>")]
    pub backlog_max: u64,
    #[serde(default = "n::<300>", deserialize_with = "within::<_, 1, 86_400>")]
    pub delivery_unhealthy_after_s: u64,
    #[serde(default = "n::<20_000>", deserialize_with = "within::<_, 0, 20_000>")]
    pub sqs_wait_ms: u64,
    #[serde(
        default = "n::<60_000>",
        deserialize_with = "within::<_, 1_000, 43_200_000>"
    )]
    pub sqs_visibility_ms: u64,
    #[serde(default = "n::<500>", deserialize_with = "within::<_, 0, 3_600_000>")]
    pub retry_base_ms: u64,
    #[serde(
        default = "n::<30_000>",
        deserialize_with = "within::<_, 0, 3_600_000>"
    )]
    pub retry_max_ms: u64,

    // Escalation.
    #[serde(default = "high", deserialize_with = "parsed")]
    pub escalate_severity: Severity,
    #[serde(default = "n::<900>", deserialize_with = "within::<_, 1, 604_800>")]
    pub escalate_after_s: u64,
    #[serde(default = "n::<2>", deserialize_with = "within::<_, 0, 20>")]
    pub escalate_max: u64,

    // Watching the pipeline.
    /// 0: no watchdog.
    #[serde(default = "n::<300>", deserialize_with = "within::<_, 0, 86_400>")]
    pub watchdog_interval_s: u64,
    /// Unset (the demo): heartbeats are not expected.
    #[serde(default, deserialize_with = "some_within::<_, 1, 604_800>")]
    pub heartbeat_max_age_s: Option<u64>,
    /// Looks in a row that could not check something before the watchdog says it is blind.
    #[serde(default = "n::<3>", deserialize_with = "within::<_, 1, 100>")]
    pub watchdog_blind_after: u64,
    /// Unset: no canary alerts. CloudTrail → EventBridge is best effort: allow minutes.
    #[serde(default, deserialize_with = "some_within::<_, 1, 604_800>")]
    pub canary_max_age_s: Option<u64>,
    /// The user the canary tags, and the role that tags it.
    #[serde(default = "canary", deserialize_with = "name")]
    pub canary_user_name: String,
    #[serde(default = "canary", deserialize_with = "name")]
    pub canary_role_name: String,
    #[serde(default = "trail", deserialize_with = "name")]
    pub trail_name: String,
    #[serde(default = "rule", deserialize_with = "name")]
    pub event_rule_name: String,
    /// Blank: no tamper rule is deployed (so none is checked).
    #[serde(default = "tamper_rule", deserialize_with = "optional_name")]
    pub tamper_rule_name: Option<String>,
    #[serde(default = "forwarder_rule", deserialize_with = "name")]
    pub forwarder_rule_name: String,

    // Responders.
    /// How far back "Recent activity" looks.
    #[serde(default = "n::<24>", deserialize_with = "within::<_, 1, 2160>")]
    pub activity_hours: u64,
    /// Regions searched besides us-east-1.
    #[serde(default, deserialize_with = "regions")]
    pub activity_regions: Vec<String>,

    // Organizations.
    #[serde(default, deserialize_with = "flag")]
    pub organization_lookup: bool,
    /// How often Organizations is asked again, seconds.
    #[serde(default = "n::<3600>", deserialize_with = "within::<_, 10, 86_400>")]
    pub organization_lookup_interval_s: u64,
    #[serde(default, deserialize_with = "some_role_name")]
    pub reader_role_name: Option<String>,
    #[serde(default, deserialize_with = "some_secret")]
    pub reader_external_id: Option<SecretString>,

    // The process.
    #[serde(default, deserialize_with = "some_parsed")]
    pub health_addr: Option<SocketAddr>,
    #[serde(default, deserialize_with = "some_path")]
    pub iam_alarm_state_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "parsed")]
    pub log_format: LogFormat,
}

/// Variables whose blank value is not "unset" but "none".
const BLANK_MEANS_NONE: [&str; 1] = ["TAMPER_RULE_NAME"];

impl Vars {
    /// The process environment.
    pub fn from_env() -> Result<Vars, ConfigError> {
        Vars::from_pairs(std::env::vars())
    }

    /// Any set of variables: the tests' own.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Vars, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let set = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, v)| !v.trim().is_empty() || BLANK_MEANS_NONE.contains(&k.as_str()));
        match envy::from_iter::<_, Named>(set) {
            Ok(Named(result)) => result,
            Err(e) => Err(ConfigError::new("the environment", e.to_string())),
        }
    }
}

/// [`Vars`], or the error with the variable it is about: serde knows the field, envy the value.
struct Named(Result<Vars, ConfigError>);

impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Named, D::Error> {
        Ok(Named(serde_path_to_error::deserialize(d).map_err(|e| {
            let variable = e.path().to_string().to_uppercase();
            let problem = e.inner().to_string();
            // envy's own parse errors add the value; the variable is named already, and a value may be secret.
            let problem = match problem.split_once(" while parsing value") {
                Some((reason, _)) => reason.to_owned(),
                None => problem,
            };
            ConfigError::new(variable, problem)
        })))
    }
}

/// `SNS_SIGNATURES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnsSignatures {
    /// Only notifications signed by SNS, from `TOPIC_ARN`, are believed.
    #[default]
    Verify,
    /// Every well-formed message is believed: for emulators, which sign nothing real.
    Off,
}

impl FromStr for SnsSignatures {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "verify" => Ok(SnsSignatures::Verify),
            "off" => Ok(SnsSignatures::Off),
            other => Err(format!("{other:?} is neither `verify` nor `off`")),
        }
    }
}

/// `text` (default) or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{other:?} is neither `text` nor `json`")),
        }
    }
}

// Defaults.
fn n<const N: u64>() -> u64 {
    N
}
fn medium() -> Severity {
    Severity::Medium
}

fn truth() -> bool {
    true
}

fn high() -> Severity {
    Severity::High
}
fn canary() -> String {
    "iam-alarm-canary".to_owned()
}
fn trail() -> String {
    "ct-trail-monitor".to_owned()
}
fn rule() -> String {
    "eventbridge-iam-user-change".to_owned()
}
fn tamper_rule() -> Option<String> {
    Some("eventbridge-iam-alarm-tamper".to_owned())
}
fn forwarder_rule() -> String {
    "iam-alarm-forward".to_owned()
}

// Readers: each takes the variable's text and says in its error what a valid value looks like.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(String::deserialize(d)?.trim().to_owned())
}

fn parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text(d)?.parse().map_err(de::Error::custom)
}

fn some_parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    parsed(d).map(Some)
}

fn within<'de, D: Deserializer<'de>, const LO: u64, const HI: u64>(d: D) -> Result<u64, D::Error> {
    text(d)?
        .parse::<u64>()
        .ok()
        .filter(|n| (LO..=HI).contains(n))
        .ok_or_else(|| de::Error::custom(format!("must be a whole number from {LO} to {HI}")))
}

fn some_within<'de, D: Deserializer<'de>, const LO: u64, const HI: u64>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    within::<D, LO, HI>(d).map(Some)
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match text(d)?.as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(de::Error::custom("must be `true` or `false`")),
    }
}

/// `on` / `off` (and `true` / `false`).
fn switch<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match text(d)?.as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" | "" => Ok(false),
        _ => Err(de::Error::custom("must be `on` or `off`")),
    }
}

fn some_role_arn<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let arn = text(d)?;
    let mut parts = arn.splitn(6, ':');
    let valid = parts.next() == Some("arn")
        && parts.next().is_some_and(|p| p.starts_with("aws"))
        && parts.next() == Some("iam")
        && parts.next() == Some("")
        && parts
            .next()
            .is_some_and(iam_alarm_core::accounts::is_account_id)
        && parts.next().is_some_and(|r| r.starts_with("role/"));
    if !valid {
        return Err(de::Error::custom(
            "is not an IAM role ARN (arn:aws:iam::111122223333:role/iam-alarm-contain)",
        ));
    }
    Ok(Some(arn))
}

fn some_snowflake<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let id = text(d)?.parse::<u64>().ok().filter(|id| *id > 0);
    id.map(Some)
        .ok_or_else(|| de::Error::custom("must be a Discord id (a positive integer)"))
}

fn some_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Some(SecretString::from(text(d)?)))
}

fn some_webhook_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let url = text(d)?;
    let valid = Url::parse(&url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.path().contains("/webhooks/"));
    // Never echo the value: the webhook URL is a secret.
    if !valid {
        return Err(de::Error::custom(
            "is not a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN)",
        ));
    }
    Ok(Some(SecretString::from(url)))
}

fn some_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = text(d)?;
    Url::parse(&url).map_err(|_| de::Error::custom("is not a URL"))?;
    Ok(Some(url))
}

fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(text(d)?
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect())
}

fn some_http_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let prefix = text(d)?;
    let valid = Url::parse(&prefix).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !valid || !prefix.ends_with('/') {
        return Err(de::Error::custom("must be an http(s) URL ending in /"));
    }
    Ok(Some(prefix))
}

fn some_http_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    Url::parse(&text(d)?)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(Some)
        .ok_or_else(|| de::Error::custom("must be an http(s) base URL"))
}

fn some_time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tz>, D::Error> {
    let zone = text(d)?;
    zone.parse().map(Some).map_err(|_| {
        de::Error::custom(format!(
            "{zone:?} is not an IANA time zone (e.g. Asia/Seoul, Europe/Berlin)"
        ))
    })
}

fn some_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Ok(Some(PathBuf::from(text(d)?)))
}

fn name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    text(d)
}

fn optional_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(text(d)?).filter(|n| !n.is_empty()))
}

fn some_role_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let role = text(d)?;
    let valid = role.len() <= 64
        && role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if !valid {
        return Err(de::Error::custom("is not an IAM role name"));
    }
    Ok(Some(role))
}

fn regions<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    text(d)?
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let valid = r.len() <= 30
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            valid
                .then(|| r.to_owned())
                .ok_or_else(|| de::Error::custom(format!("{r:?} is not a region name")))
        })
        .collect()
}

/// What decides whether and how an event is shown.
#[derive(Debug, Clone, Default)]
pub struct AlertConfig {
    pub watched: WatchedEvents,
    pub timezone: Option<Tz>,
    /// Alerts at or above `MENTION_SEVERITY` (default high) mention `RESPONDER_ROLE_ID`; unset role: nobody.
    pub mention: Option<Mention>,
    /// `ACCOUNT_NAMES`: `111122223333=prod,444455556666=staging`.
    pub accounts: AccountNames,
}

impl From<&Vars> for AlertConfig {
    fn from(v: &Vars) -> Self {
        AlertConfig {
            watched: v.watched_events.clone(),
            timezone: v.alert_timezone,
            mention: v.responder_role_id.map(|role| Mention {
                role,
                from: v.mention_severity,
            }),
            accounts: v.account_names.clone(),
        }
    }
}

/// A rules file, validated; the error names the file, the rule and the field.
/// A people file (`PEOPLE`), validated; errors name the variable, the file, the entry and the field.
pub fn load_people(variable: &str, path: &Path) -> Result<People, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(variable, format!("cannot read {}: {e}", path.display())))?;
    People::parse(&text).map_err(|e| ConfigError::new(variable, format!("{}: {e}", path.display())))
}

pub fn load_rules(variable: &str, path: &Path) -> Result<Rules, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(variable, format!("cannot read {}: {e}", path.display())))?;
    Rules::parse(&text).map_err(|e| ConfigError::new(variable, format!("{}: {e}", path.display())))
}

impl Vars {
    /// `run` and `dlq`: the queue.
    pub fn queue_url(&self, why: &str) -> Result<String, ConfigError> {
        self.sqs_queue_url
            .clone()
            .ok_or_else(|| ConfigError::new("SQS_QUEUE_URL", format!("is required: {why}")))
    }

    /// `rules export`: the bot's REST client and its alert channel.
    pub fn discord_rest(&self) -> Result<(crate::delivery::BotRest, u64), ConfigError> {
        let token = self.discord_token.clone().ok_or_else(|| {
            ConfigError::new(
                "DISCORD_TOKEN",
                "is required: the snoozes are read from the alert channel",
            )
        })?;
        let channel = self.alert_channel_id.ok_or_else(|| {
            ConfigError::new(
                "ALERT_CHANNEL_ID",
                "is required: where the snoozes are pinned",
            )
        })?;
        let rest = crate::delivery::BotRest::new(self.discord_api_url.as_ref(), token);
        Ok((rest, channel))
    }

    /// `healthcheck`: where the bot serves `/healthz`.
    pub fn health_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.health_addr.ok_or_else(|| {
            ConfigError::new("HEALTH_ADDR", "is required: where the bot serves /healthz")
        })
    }
}

/// Everything `iam-alarm run` needs, validated.
#[derive(Debug)]
pub struct RunConfig {
    pub queue_url: String,
    /// Whose `TagUser` call is the canary.
    pub canary: iam_alarm_core::Canary,
    /// Whose messages are believed: `None` with `SNS_SIGNATURES=off`.
    pub sns: Option<iam_alarm_core::sns::Policy>,
    /// `TOPIC_ARN`: the alert topic(s), which the rules must target (also with signatures off).
    pub topics: Vec<String>,
    pub responders: ResponderConfig,
    pub alert: AlertConfig,
    pub sink: SinkConfig,
    pub health_addr: Option<SocketAddr>,
    pub state_dir: Option<PathBuf>,
    pub poll: PollConfig,
    /// Most events held for digests (`BACKLOG_MAX`); beyond it messages stay on SQS.
    pub backlog_max: usize,
    /// `/healthz` turns 503 after delivery has failed this long (`DELIVERY_UNHEALTHY_AFTER_S`).
    pub delivery_unhealthy_after: Duration,
    /// Suppress / severity / mention rules (`ALERT_RULES`); none when unset.
    pub rules: Rules,
    pub organization: OrganizationConfig,
}

/// The other accounts of an Organization: where their names come from, and how to read them.
#[derive(Debug, Clone, Default)]
pub struct OrganizationConfig {
    /// `ORGANIZATION_LOOKUP=true`: names from Organizations `ListAccounts`, refreshed every
    /// `ORGANIZATION_LOOKUP_INTERVAL_S` (default hourly).
    pub lookup: bool,
    pub lookup_every: Duration,
    /// `READER_ROLE_NAME`: the role assumed in another account to read it; `None`: the bot reads only its own.
    pub reader_role: Option<String>,
    /// `READER_EXTERNAL_ID`, required with the role (the role's trust policy demands it).
    pub external_id: Option<SecretString>,
}

/// Where alerts go.
#[derive(Debug)]
pub enum SinkConfig {
    /// The bot: alerts with buttons in a channel, slash commands.
    Bot(Box<BotConfig>),
    /// A webhook: alerts only.
    Webhook { url: SecretString },
    /// Standard output: the demo and dry runs.
    Console,
}

#[derive(Debug)]
pub struct BotConfig {
    /// Follow-ups on unacknowledged severe alerts; `None` when `ESCALATE_MAX=0`.
    pub escalation: Option<Policy>,
    pub watchdog: WatchdogConfig,
    pub token: SecretString,
    pub channel_id: u64,
    /// The one server the bot serves: commands are registered there and interactions from anywhere else refused.
    pub guild_id: u64,
    pub responder_role_id: Option<u64>,
    /// Replaces `https://discord.com` (a REST proxy, or the tests' fake Discord).
    pub api_url: Option<Url>,
    /// Asking the actor "was this you?" (`PEOPLE` and `ASK_*`); `None`: nobody is asked.
    pub ask: Option<std::sync::Arc<iam_alarm_commands::ask::AskSettings>>,
    /// The longest snooze a responder may make (`SNOOZE_MAX_DAYS`).
    pub snooze_max_days: u64,
    /// Containment from the channel (`CONTAIN=on`); `None`: off.
    pub contain: Option<ContainConfig>,
}

/// `CONTAIN=on`: the roles containment acts through, and how many responders it takes.
#[derive(Debug, Clone)]
pub struct ContainConfig {
    /// `CONTAIN_ROLE_ARN`: in the bot's own account.
    pub role_arn: String,
    /// `CONTAIN_ROLE_NAME`: in member accounts (through the reader pattern); `None`: only the bot's own account.
    pub role_name: Option<String>,
    /// `CONTAIN_APPROVALS`: 1 or 2.
    pub approvals: u8,
    /// `CONTAIN_REQUEST_TTL_S`.
    pub request_ttl: Duration,
}

/// The watchdog: how often it checks the pipeline, and how long without a heartbeat is silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// `WATCHDOG_INTERVAL_S` (default 300); `None` when 0: no watchdog.
    pub interval: Option<Duration>,
    /// `HEARTBEAT_MAX_AGE_S`; `None` (unset, the demo): heartbeats are not expected.
    pub heartbeat_max_age: Option<Duration>,
    /// `CANARY_MAX_AGE_S`; `None`: the canary is not expected.
    pub canary_max_age: Option<Duration>,
    /// `WATCHDOG_BLIND_AFTER`: looks in a row that could not check before "watchdog blind" is posted.
    pub blind_after: u32,
}

/// What the buttons and slash commands look at.
#[derive(Debug, Clone)]
pub struct ResponderConfig {
    /// The trail `/health` inspects (`TRAIL_NAME`).
    pub trail_name: String,
    /// The EventBridge rule `/health` inspects (`EVENT_RULE_NAME`, us-east-1).
    pub rule_name: String,
    /// The rule for calls that switch the alarm off (`TAMPER_RULE_NAME`; blank: not deployed).
    pub tamper_rule_name: Option<String>,
    /// The rule that forwards a member account's events to the central bus (`FORWARDER_RULE_NAME`).
    pub forwarder_rule_name: String,
    /// How far back "Recent activity" looks (`ACTIVITY_HOURS`).
    pub activity_window: Duration,
    /// Regions searched besides us-east-1 (`ACTIVITY_REGIONS`).
    pub activity_regions: Vec<String>,
}

/// How the poller paces itself. Defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// Long-poll wait (SQS allows at most 20 s).
    pub wait: Duration,
    /// How long a received message stays hidden from other consumers; extended while Discord is retried.
    pub visibility: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl RunConfig {
    /// Assembled from the variables, with the rules that span several of them.
    pub fn from_vars(v: &Vars) -> Result<Self, ConfigError> {
        let secs = Duration::from_secs;
        let millis = Duration::from_millis;
        Ok(RunConfig {
            queue_url: v.queue_url("the queue to consume")?,
            canary: iam_alarm_core::Canary {
                user: v.canary_user_name.clone(),
                role: v.canary_role_name.clone(),
            },
            sns: sns_policy(v)?,
            topics: v.topic_arn.clone(),
            responders: ResponderConfig {
                trail_name: v.trail_name.clone(),
                rule_name: v.event_rule_name.clone(),
                tamper_rule_name: v.tamper_rule_name.clone(),
                forwarder_rule_name: v.forwarder_rule_name.clone(),
                activity_window: secs(v.activity_hours * 3600),
                activity_regions: v.activity_regions.clone(),
            },
            alert: AlertConfig::from(v),
            sink: SinkConfig::from_vars(v)?,
            health_addr: v.health_addr,
            state_dir: v.iam_alarm_state_dir.clone(),
            poll: PollConfig {
                wait: millis(v.sqs_wait_ms),
                visibility: millis(v.sqs_visibility_ms),
                retry_base: millis(v.retry_base_ms),
                retry_max: millis(v.retry_max_ms),
            },
            backlog_max: v.backlog_max as usize,
            delivery_unhealthy_after: secs(v.delivery_unhealthy_after_s),
            rules: match &v.alert_rules {
                Some(path) => load_rules("ALERT_RULES", path)?,
                None => Rules::default(),
            },
            organization: OrganizationConfig::from_vars(v)?,
        })
    }
}

/// With `SNS_SIGNATURES=verify`, the topics to believe must be named.
fn sns_policy(v: &Vars) -> Result<Option<iam_alarm_core::sns::Policy>, ConfigError> {
    if v.sns_signatures == SnsSignatures::Off {
        return Ok(None);
    }
    if v.topic_arn.is_empty() {
        return Err(ConfigError::new(
            "TOPIC_ARN",
            "is required with SNS_SIGNATURES=verify: the topics whose signed notifications are believed (Terraform's bot_environment sets it; SNS_SIGNATURES=off is for emulators only)",
        ));
    }
    Ok(Some(iam_alarm_core::sns::Policy {
        topics: v.topic_arn.clone(),
        cert_url_prefix: v.sns_cert_url_prefix.clone(),
    }))
}

impl OrganizationConfig {
    fn from_vars(v: &Vars) -> Result<Self, ConfigError> {
        if v.reader_role_name.is_some() && v.reader_external_id.is_none() {
            return Err(ConfigError::new(
                "READER_EXTERNAL_ID",
                "is required with READER_ROLE_NAME (the reader role's trust policy demands it)",
            ));
        }
        Ok(OrganizationConfig {
            lookup: v.organization_lookup,
            lookup_every: Duration::from_secs(v.organization_lookup_interval_s),
            reader_role: v.reader_role_name.clone(),
            external_id: v.reader_external_id.clone(),
        })
    }
}

impl SinkConfig {
    /// The bot with `DISCORD_TOKEN`, else a webhook with `DISCORD_WEBHOOK_URL`, else the console.
    fn from_vars(v: &Vars) -> Result<Self, ConfigError> {
        match (&v.discord_token, &v.discord_webhook_url) {
            (Some(token), _) => Ok(SinkConfig::Bot(Box::new(BotConfig::from_vars(
                v,
                token.clone(),
            )?))),
            (None, Some(url)) => Ok(SinkConfig::Webhook { url: url.clone() }),
            (None, None) => Ok(SinkConfig::Console),
        }
    }
}

impl ContainConfig {
    fn from_vars(v: &Vars) -> Result<Option<ContainConfig>, ConfigError> {
        if !v.contain {
            return Ok(None);
        }
        if v.responder_role_id.is_none() {
            return Err(ConfigError::new(
                "RESPONDER_ROLE_ID",
                "is required with CONTAIN=on: only responders may contain",
            ));
        }
        let role_arn = v.contain_role_arn.clone().ok_or_else(|| {
            ConfigError::new(
                "CONTAIN_ROLE_ARN",
                "is required with CONTAIN=on: the role containment acts through (Terraform's `containment = true` creates it); the bot's own role stays read-only",
            )
        })?;
        Ok(Some(ContainConfig {
            role_arn,
            role_name: v.contain_role_name.clone(),
            approvals: u8::try_from(v.contain_approvals).unwrap_or(2),
            request_ttl: Duration::from_secs(v.contain_request_ttl_s),
        }))
    }
}

impl BotConfig {
    fn from_vars(v: &Vars, token: SecretString) -> Result<Self, ConfigError> {
        let escalation = (v.escalate_max > 0).then(|| Policy {
            from: v.escalate_severity,
            after: Duration::from_secs(v.escalate_after_s),
            max: v.escalate_max as u32,
            role: v.responder_role_id,
        });
        Ok(BotConfig {
            escalation,
            watchdog: WatchdogConfig {
                interval: (v.watchdog_interval_s > 0)
                    .then(|| Duration::from_secs(v.watchdog_interval_s)),
                heartbeat_max_age: v.heartbeat_max_age_s.map(Duration::from_secs),
                canary_max_age: v.canary_max_age_s.map(Duration::from_secs),
                blind_after: v.watchdog_blind_after as u32,
            },
            token,
            channel_id: v.alert_channel_id.ok_or_else(|| {
                ConfigError::new("ALERT_CHANNEL_ID", "is required with DISCORD_TOKEN")
            })?,
            guild_id: v.discord_guild_id.ok_or_else(|| {
                ConfigError::new(
                    "DISCORD_GUILD_ID",
                    "is required with DISCORD_TOKEN: the one server the bot serves (its commands are registered there; interactions from anywhere else are refused)",
                )
            })?,
            responder_role_id: v.responder_role_id,
            api_url: v.discord_api_url.clone(),
            ask: match &v.people {
                Some(path) => Some(std::sync::Arc::new(AskSettings {
                    people: load_people("PEOPLE", path)?,
                    from: v.ask_severity,
                    timeout: Duration::from_secs(v.ask_timeout_s),
                    confirm_acks: v.ask_confirm_acks,
                })),
                None => None,
            },
            snooze_max_days: v.snooze_max_days,
            contain: ContainConfig::from_vars(v)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<const N: usize>(pairs: [(&str, &str); N]) -> Result<Vars, ConfigError> {
        Vars::from_pairs(pairs)
    }

    /// `run`'s configuration; signatures off unless the pairs say otherwise (most tests are about the rest).
    fn run<const N: usize>(pairs: [(&str, &str); N]) -> Result<RunConfig, ConfigError> {
        let off = [("SNS_SIGNATURES", "off")];
        let given = pairs.iter().any(|(k, _)| *k == "SNS_SIGNATURES");
        let pairs = pairs.into_iter().chain(off.into_iter().filter(|_| !given));
        RunConfig::from_vars(&Vars::from_pairs(pairs)?)
    }

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let v = vars([("WATCHED_EVENTS", "")]).unwrap();
        assert_eq!(v.watched_events, WatchedEvents::default());
        let e = vars([("WATCHED_EVENTS", "CreateUsr")]).unwrap_err();
        assert_eq!(e.variable, "WATCHED_EVENTS");
        let e = vars([("ALERT_TIMEZONE", "Mars/Olympus")]).unwrap_err();
        assert_eq!(e.variable, "ALERT_TIMEZONE");
        let v = vars([("ALERT_TIMEZONE", "Asia/Seoul")]).unwrap();
        assert_eq!(v.alert_timezone, Some(chrono_tz::Asia::Seoul));
        let e = vars([("MENTION_SEVERITY", "loud")]).unwrap_err();
        assert_eq!(e.variable, "MENTION_SEVERITY");
        let e = vars([("ORGANIZATION_LOOKUP", "yes")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ORGANIZATION_LOOKUP: must be `true` or `false`"
        );
        // Variables that are not ours are no concern of ours.
        assert!(vars([("PATH", "/bin"), ("HOME", "/root")]).is_ok());
    }

    const QUEUE: (&str, &str) = ("SQS_QUEUE_URL", "http://127.0.0.1:5000/123456789012/q");

    #[test]
    fn sink_is_chosen_by_what_is_configured() {
        let c = run([QUEUE]).unwrap();
        assert!(matches!(c.sink, SinkConfig::Console));
        let c = run([
            QUEUE,
            ("DISCORD_TOKEN", "t0k3n"),
            ("ALERT_CHANNEL_ID", "42"),
            ("DISCORD_GUILD_ID", "7"),
        ])
        .unwrap();
        assert!(matches!(c.sink, SinkConfig::Bot(ref b) if b.channel_id == 42));
        let e = run([QUEUE, ("DISCORD_TOKEN", "t0k3n")]).unwrap_err();
        assert_eq!(e.variable, "ALERT_CHANNEL_ID");
        // The trust boundary: a bot without its one server would answer any server that invites it.
        let e = run([
            QUEUE,
            ("DISCORD_TOKEN", "t0k3n"),
            ("ALERT_CHANNEL_ID", "42"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "DISCORD_GUILD_ID");
        let e = run([("DISCORD_TOKEN", "t0k3n")]).unwrap_err();
        assert_eq!(e.variable, "SQS_QUEUE_URL");
        let e = run([("SQS_QUEUE_URL", "not a url")]).unwrap_err();
        assert_eq!(e.variable, "SQS_QUEUE_URL");
    }

    #[test]
    fn numbers_have_defaults_and_ranges() {
        let c = run([QUEUE]).unwrap();
        assert_eq!(c.backlog_max, 2000);
        assert_eq!(c.delivery_unhealthy_after, Duration::from_secs(300));
        assert_eq!(c.poll.wait, Duration::from_secs(20));
        let c = run([QUEUE, ("BACKLOG_MAX", "50")]).unwrap();
        assert_eq!(c.backlog_max, 50);
        for bad in ["0", "-1", "many"] {
            let e = run([QUEUE, ("BACKLOG_MAX", bad)]).unwrap_err();
            assert_eq!(e.variable, "BACKLOG_MAX");
            assert_eq!(e.problem, "must be a whole number from 10 to 100000");
        }
        let e = run([QUEUE, ("DELIVERY_UNHEALTHY_AFTER_S", "0")]).unwrap_err();
        assert_eq!(e.variable, "DELIVERY_UNHEALTHY_AFTER_S");
        let e = run([QUEUE, ("SQS_WAIT_MS", "25000")]).unwrap_err();
        assert_eq!(e.variable, "SQS_WAIT_MS");
    }

    #[test]
    fn a_blank_tamper_rule_name_means_no_tamper_rule() {
        let c = run([QUEUE]).unwrap();
        let default = Some("eventbridge-iam-alarm-tamper".to_owned());
        assert_eq!(c.responders.tamper_rule_name, default);
        for blank in ["", "  "] {
            let c = run([QUEUE, ("TAMPER_RULE_NAME", blank)]).unwrap();
            assert_eq!(c.responders.tamper_rule_name, None, "{blank:?}");
        }
        let c = run([QUEUE, ("TAMPER_RULE_NAME", "ours")]).unwrap();
        assert_eq!(c.responders.tamper_rule_name.as_deref(), Some("ours"));
        // Elsewhere blank is unset: the default.
        let c = run([QUEUE, ("TRAIL_NAME", "")]).unwrap();
        assert_eq!(c.responders.trail_name, "ct-trail-monitor");
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(
            vars([("LOG_FORMAT", "")]).unwrap().log_format,
            LogFormat::Text
        );
        assert_eq!(
            vars([("LOG_FORMAT", "json")]).unwrap().log_format,
            LogFormat::Json
        );
        assert_eq!(
            vars([("LOG_FORMAT", "xml")]).unwrap_err().variable,
            "LOG_FORMAT"
        );
    }

    #[test]
    fn signatures_are_verified_unless_switched_off_and_need_the_topics() {
        let e = run([QUEUE, ("SNS_SIGNATURES", "verify")]).unwrap_err();
        assert_eq!(e.variable, "TOPIC_ARN");
        let topics = "arn:aws:sns:us-east-1:1:a, arn:aws:sns:us-east-1:1:b";
        let c = run([QUEUE, ("SNS_SIGNATURES", "verify"), ("TOPIC_ARN", topics)]).unwrap();
        let policy = c.sns.unwrap();
        assert_eq!(policy.topics.len(), 2);
        assert_eq!(policy.cert_url_prefix, None);
        let c = run([QUEUE, ("SNS_SIGNATURES", "off")]).unwrap();
        assert!(c.sns.is_none());
        let e = run([QUEUE, ("SNS_SIGNATURES", "maybe")]).unwrap_err();
        assert_eq!(e.variable, "SNS_SIGNATURES");
        let e = run([QUEUE, ("SNS_CERT_URL_PREFIX", "ftp://x/")]).unwrap_err();
        assert_eq!(e.variable, "SNS_CERT_URL_PREFIX");
        assert_eq!(vars([]).unwrap().sns_signatures, SnsSignatures::Verify);
    }

    #[test]
    fn the_reader_role_needs_its_external_id() {
        let e = run([QUEUE, ("READER_ROLE_NAME", "iam-alarm-reader")]).unwrap_err();
        assert_eq!(e.variable, "READER_EXTERNAL_ID");
        let e = run([QUEUE, ("READER_ROLE_NAME", "not a role!")]).unwrap_err();
        assert_eq!(e.variable, "READER_ROLE_NAME");
    }

    #[test]
    fn secrets_never_print() {
        let secret = "https://discord.com/api/webhooks/1/SECRET-TOKEN";
        let c = run([QUEUE, ("DISCORD_WEBHOOK_URL", secret)]).unwrap();
        assert!(!format!("{c:?}").contains("SECRET-TOKEN"));
        let e = run([
            QUEUE,
            ("DISCORD_WEBHOOK_URL", "https://example.com/SECRET-TOKEN"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "DISCORD_WEBHOOK_URL");
        assert!(!e.to_string().contains("SECRET-TOKEN"));
        let c = run([
            QUEUE,
            ("DISCORD_TOKEN", "SECRET-TOKEN"),
            ("ALERT_CHANNEL_ID", "1"),
            ("DISCORD_GUILD_ID", "2"),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("SECRET-TOKEN"));
        let v = vars([("READER_EXTERNAL_ID", "SECRET-TOKEN")]).unwrap();
        assert!(!format!("{v:?}").contains("SECRET-TOKEN"));
    }

    #[test]
    fn containment_needs_the_responder_role_and_a_role_of_its_own() {
        let bot = [
            QUEUE,
            ("DISCORD_TOKEN", "t"),
            ("ALERT_CHANNEL_ID", "1"),
            ("DISCORD_GUILD_ID", "2"),
            ("CONTAIN", "on"),
        ];
        let with = |more: &[(&'static str, &'static str)]| {
            let pairs: Vec<(&str, &str)> = bot.iter().chain(more).copied().collect();
            RunConfig::from_vars(&Vars::from_pairs(
                pairs.into_iter().chain([("SNS_SIGNATURES", "off")]),
            )?)
        };
        assert_eq!(with(&[]).unwrap_err().variable, "RESPONDER_ROLE_ID");
        assert_eq!(
            with(&[("RESPONDER_ROLE_ID", "3")]).unwrap_err().variable,
            "CONTAIN_ROLE_ARN"
        );
        let e = with(&[
            ("RESPONDER_ROLE_ID", "3"),
            ("CONTAIN_ROLE_ARN", "iam-alarm-contain"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "CONTAIN_ROLE_ARN");
        let e = with(&[("RESPONDER_ROLE_ID", "3"), ("CONTAIN_APPROVALS", "3")]).unwrap_err();
        assert_eq!(e.variable, "CONTAIN_APPROVALS");
        let c = with(&[
            ("RESPONDER_ROLE_ID", "3"),
            (
                "CONTAIN_ROLE_ARN",
                "arn:aws:iam::111122223333:role/iam-alarm-contain",
            ),
            ("CONTAIN_APPROVALS", "2"),
        ])
        .unwrap();
        let SinkConfig::Bot(bot) = c.sink else {
            panic!("bot mode")
        };
        let contain = bot.contain.expect("on");
        assert_eq!((contain.approvals, contain.request_ttl.as_secs()), (2, 900));
        let off = vars([("CONTAIN", "maybe")]).unwrap_err();
        assert_eq!(off.variable, "CONTAIN");
    }
}
