//! Typed configuration from the environment (the README's configuration table), validated at start-up. Errors
//! name the variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use iam_alarm_core::accounts::AccountNames;
use iam_alarm_core::escalation::Policy;
use iam_alarm_core::render::Mention;
use iam_alarm_core::rules::Rules;
use iam_alarm_core::severity::Severity;
use iam_alarm_core::WatchedEvents;
use secrecy::SecretString;
use url::Url;

/// A configuration error: which variable, and what is wrong with it. Never carries a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            variable,
            problem: problem.into(),
        }
    }
}

/// Where configuration is read from; a function so tests can pass a map instead of the process environment.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment. Blank values count as unset.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.trim().is_empty())
    }
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

impl AlertConfig {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let watched = match env.get("WATCHED_EVENTS") {
            Some(list) => WatchedEvents::parse(&list)
                .map_err(|e| ConfigError::new("WATCHED_EVENTS", e.to_string()))?,
            None => WatchedEvents::default(),
        };
        let timezone = env
            .get("ALERT_TIMEZONE")
            .map(|z| {
                z.trim().parse::<Tz>().map_err(|_| {
                    ConfigError::new(
                        "ALERT_TIMEZONE",
                        format!("{z:?} is not an IANA time zone (e.g. Asia/Seoul, Europe/Berlin)"),
                    )
                })
            })
            .transpose()?;
        let from = match env.get("MENTION_SEVERITY") {
            Some(s) => s
                .parse::<Severity>()
                .map_err(|e| ConfigError::new("MENTION_SEVERITY", e.to_string()))?,
            None => Severity::High,
        };
        let mention = snowflake(env, "RESPONDER_ROLE_ID")?.map(|role| Mention { role, from });
        let accounts = match env.get("ACCOUNT_NAMES") {
            Some(list) => AccountNames::parse(&list)
                .map_err(|e| ConfigError::new("ACCOUNT_NAMES", e.to_string()))?,
            None => AccountNames::default(),
        };
        Ok(AlertConfig {
            watched,
            timezone,
            mention,
            accounts,
        })
    }
}

/// A rules file, validated; the error names the file, the rule and the field.
pub fn load_rules(variable: &'static str, path: &std::path::Path) -> Result<Rules, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(variable, format!("cannot read {}: {e}", path.display())))?;
    Rules::parse(&text).map_err(|e| ConfigError::new(variable, format!("{}: {e}", path.display())))
}

/// `iam-alarm dlq`: the queue whose dead-letter queue to use.
pub fn dlq_queue_url(env: &impl Env) -> Result<String, ConfigError> {
    env.get("SQS_QUEUE_URL").ok_or_else(|| {
        ConfigError::new(
            "SQS_QUEUE_URL",
            "is required: the queue whose dead-letter queue to use",
        )
    })
}

/// `iam-alarm healthcheck`: where the bot serves `/healthz`.
pub fn health_addr(env: &impl Env) -> Result<String, ConfigError> {
    env.get("HEALTH_ADDR").ok_or_else(|| {
        ConfigError::new("HEALTH_ADDR", "is required: where the bot serves /healthz")
    })
}

/// Everything `iam-alarm run` needs, validated.
#[derive(Debug)]
pub struct RunConfig {
    pub queue_url: String,
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
    /// `ORGANIZATION_LOOKUP=true`: names from Organizations `ListAccounts`, refreshed hourly.
    pub lookup: bool,
    /// `READER_ROLE_NAME`: the role assumed in another account to read it; `None`: the bot reads only its own.
    pub reader_role: Option<String>,
    /// `READER_EXTERNAL_ID`, required with the role (the role's trust policy demands it).
    pub external_id: Option<SecretString>,
}

impl OrganizationConfig {
    fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let lookup = match env.get("ORGANIZATION_LOOKUP").as_deref().map(str::trim) {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(_) => {
                return Err(ConfigError::new(
                    "ORGANIZATION_LOOKUP",
                    "must be `true` or `false`",
                ))
            }
        };
        let reader_role = env
            .get("READER_ROLE_NAME")
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if let Some(role) = &reader_role {
            let ok = role.len() <= 64
                && role
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
            if !ok {
                return Err(ConfigError::new(
                    "READER_ROLE_NAME",
                    "is not an IAM role name",
                ));
            }
        }
        let external_id = env
            .get("READER_EXTERNAL_ID")
            .map(|v| SecretString::from(v.trim().to_owned()));
        if reader_role.is_some() && external_id.is_none() {
            return Err(ConfigError::new(
                "READER_EXTERNAL_ID",
                "is required with READER_ROLE_NAME (the reader role's trust policy demands it)",
            ));
        }
        Ok(OrganizationConfig {
            lookup,
            reader_role,
            external_id,
        })
    }
}

/// Where alerts go.
#[derive(Debug)]
pub enum SinkConfig {
    /// The bot: alerts with buttons in a channel, slash commands.
    Bot(BotConfig),
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
}

/// The watchdog: how often it checks the pipeline, and how long without a heartbeat is silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchdogConfig {
    /// `WATCHDOG_INTERVAL_S` (default 300); `None` when 0: no watchdog.
    pub interval: Option<Duration>,
    /// `HEARTBEAT_MAX_AGE_S`; `None` (unset, the demo): heartbeats are not expected.
    pub heartbeat_max_age: Option<Duration>,
}

impl WatchdogConfig {
    fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let interval = number(env, "WATCHDOG_INTERVAL_S", 300, 0..=86_400)?;
        let max_age = match env.get("HEARTBEAT_MAX_AGE_S") {
            None => None,
            Some(_) => Some(number(env, "HEARTBEAT_MAX_AGE_S", 0, 1..=604_800)?),
        };
        Ok(WatchdogConfig {
            interval: (interval > 0).then(|| Duration::from_secs(interval)),
            heartbeat_max_age: max_age.map(Duration::from_secs),
        })
    }
}

/// What the buttons and slash commands look at.
#[derive(Debug, Clone)]
pub struct ResponderConfig {
    /// The trail `/health` inspects (`TRAIL_NAME`).
    pub trail_name: String,
    /// The EventBridge rule `/health` inspects (`EVENT_RULE_NAME`, us-east-1).
    pub rule_name: String,
    /// The rule for calls that switch the alarm off (`TAMPER_RULE_NAME`; empty: not deployed).
    pub tamper_rule_name: Option<String>,
    /// The rule that forwards a member account's events to the central bus (`FORWARDER_RULE_NAME`).
    pub forwarder_rule_name: String,
    /// How far back "Recent activity" looks (`ACTIVITY_HOURS`).
    pub activity_window: Duration,
    /// Regions searched besides us-east-1 (`ACTIVITY_REGIONS`).
    pub activity_regions: Vec<String>,
}

impl ResponderConfig {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let hours = match env.get("ACTIVITY_HOURS") {
            None => 24,
            Some(h) => h
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|h| (1..=2160).contains(h))
                .ok_or_else(|| ConfigError::new("ACTIVITY_HOURS", "must be 1 to 2160 (90 days)"))?,
        };
        let regions = env
            .get("ACTIVITY_REGIONS")
            .map(|r| {
                r.split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| {
                        let ok = r.len() <= 30
                            && r.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                        ok.then(|| r.to_owned()).ok_or_else(|| {
                            ConfigError::new(
                                "ACTIVITY_REGIONS",
                                format!("{r:?} is not a region name"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(ResponderConfig {
            trail_name: env
                .get("TRAIL_NAME")
                .unwrap_or_else(|| "ct-trail-monitor".to_owned()),
            rule_name: env
                .get("EVENT_RULE_NAME")
                .unwrap_or_else(|| "eventbridge-iam-user-change".to_owned()),
            tamper_rule_name: match env.get("TAMPER_RULE_NAME") {
                None => Some("eventbridge-iam-alarm-tamper".to_owned()),
                Some(name) if name.trim().is_empty() => None,
                Some(name) => Some(name.trim().to_owned()),
            },
            forwarder_rule_name: env
                .get("FORWARDER_RULE_NAME")
                .unwrap_or_else(|| "iam-alarm-forward".to_owned()),
            activity_window: Duration::from_secs(hours * 3600),
            activity_regions: regions,
        })
    }
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

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            wait: Duration::from_secs(20),
            visibility: Duration::from_secs(60),
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
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

impl LogFormat {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        match env.get("LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(ConfigError::new(
                "LOG_FORMAT",
                format!("{other:?} is neither `text` nor `json`"),
            )),
        }
    }
}

fn snowflake(env: &impl Env, name: &'static str) -> Result<Option<u64>, ConfigError> {
    env.get(name)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| ConfigError::new(name, "must be a Discord id (a positive integer)"))
        })
        .transpose()
}

/// A whole number in `range`, or `default` when unset.
fn number(
    env: &impl Env,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(v) = env.get(name) else {
        return Ok(default);
    };
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            let (lo, hi) = (range.start(), range.end());
            ConfigError::new(name, format!("must be a whole number from {lo} to {hi}"))
        })
}

fn millis(env: &impl Env, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match env.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| ConfigError::new(name, "must be a whole number of milliseconds")),
    }
}

impl RunConfig {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let queue_url = env.get("SQS_QUEUE_URL").ok_or_else(|| {
            ConfigError::new("SQS_QUEUE_URL", "is required: the queue to consume")
        })?;
        Url::parse(&queue_url).map_err(|_| ConfigError::new("SQS_QUEUE_URL", "is not a URL"))?;
        let health_addr = env
            .get("HEALTH_ADDR")
            .map(|a| {
                a.trim().parse::<SocketAddr>().map_err(|_| {
                    ConfigError::new("HEALTH_ADDR", "must be an address like 127.0.0.1:8080")
                })
            })
            .transpose()?;
        let unhealthy_after = number(env, "DELIVERY_UNHEALTHY_AFTER_S", 300, 1..=86_400)?;
        Ok(RunConfig {
            queue_url,
            responders: ResponderConfig::from_env(env)?,
            alert: AlertConfig::from_env(env)?,
            sink: SinkConfig::from_env(env)?,
            health_addr,
            state_dir: env.get("IAM_ALARM_STATE_DIR").map(PathBuf::from),
            poll: PollConfig::from_env(env)?,
            backlog_max: number(env, "BACKLOG_MAX", 2000, 10..=100_000)? as usize,
            delivery_unhealthy_after: Duration::from_secs(unhealthy_after),
            rules: match env.get("ALERT_RULES") {
                Some(path) => load_rules("ALERT_RULES", std::path::Path::new(path.trim()))?,
                None => Rules::default(),
            },
            organization: OrganizationConfig::from_env(env)?,
        })
    }
}

impl SinkConfig {
    /// The bot with `DISCORD_TOKEN`, else a webhook with `DISCORD_WEBHOOK_URL`, else the console.
    fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        match (env.get("DISCORD_TOKEN"), env.get("DISCORD_WEBHOOK_URL")) {
            (Some(token), _) => Ok(SinkConfig::Bot(BotConfig::from_env(env, token)?)),
            (None, Some(url)) => {
                let parsed = Url::parse(url.trim()).ok().filter(|u| {
                    matches!(u.scheme(), "http" | "https") && u.path().contains("/webhooks/")
                });
                if parsed.is_none() {
                    // Never echo the value: the webhook URL is a secret.
                    return Err(ConfigError::new(
                        "DISCORD_WEBHOOK_URL",
                        "is not a Discord webhook URL (https://discord.com/api/webhooks/ID/TOKEN)",
                    ));
                }
                let url = SecretString::from(url.trim().to_owned());
                Ok(SinkConfig::Webhook { url })
            }
            (None, None) => Ok(SinkConfig::Console),
        }
    }
}

impl BotConfig {
    fn from_env(env: &impl Env, token: String) -> Result<Self, ConfigError> {
        let required = |name: &'static str, why: &str| {
            snowflake(env, name)?.ok_or_else(|| ConfigError::new(name, why))
        };
        let api_url = env
            .get("DISCORD_API_URL")
            .map(|u| {
                Url::parse(u.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| {
                        ConfigError::new("DISCORD_API_URL", "must be an http(s) base URL")
                    })
            })
            .transpose()?;
        let from = match env.get("ESCALATE_SEVERITY") {
            Some(s) => s
                .parse::<Severity>()
                .map_err(|e| ConfigError::new("ESCALATE_SEVERITY", e.to_string()))?,
            None => Severity::High,
        };
        let after = number(env, "ESCALATE_AFTER_S", 900, 1..=604_800)?;
        let max = number(env, "ESCALATE_MAX", 2, 0..=20)? as u32;
        let responder_role_id = snowflake(env, "RESPONDER_ROLE_ID")?;
        let escalation = (max > 0).then(|| Policy {
            from,
            after: Duration::from_secs(after),
            max,
            role: responder_role_id,
        });
        Ok(BotConfig {
            escalation,
            watchdog: WatchdogConfig::from_env(env)?,
            token: SecretString::from(token.trim().to_owned()),
            channel_id: required("ALERT_CHANNEL_ID", "is required with DISCORD_TOKEN")?,
            guild_id: required(
                "DISCORD_GUILD_ID",
                "is required with DISCORD_TOKEN: the one server the bot serves (its commands are registered there; interactions from anywhere else are refused)",
            )?,
            responder_role_id,
            api_url,
        })
    }
}

impl PollConfig {
    fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let defaults = PollConfig::default();
        Ok(PollConfig {
            wait: millis(env, "SQS_WAIT_MS", defaults.wait)?.min(Duration::from_secs(20)),
            visibility: millis(env, "SQS_VISIBILITY_MS", defaults.visibility)?
                .max(Duration::from_secs(1)),
            retry_base: millis(env, "RETRY_BASE_MS", defaults.retry_base)?,
            retry_max: millis(env, "RETRY_MAX_MS", defaults.retry_max)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let c = AlertConfig::from_env(&[("WATCHED_EVENTS", "")]).unwrap();
        assert_eq!(c.watched, WatchedEvents::default());
        let e = AlertConfig::from_env(&[("WATCHED_EVENTS", "CreateUsr")]).unwrap_err();
        assert_eq!(e.variable, "WATCHED_EVENTS");
        let e = AlertConfig::from_env(&[("ALERT_TIMEZONE", "Mars/Olympus")]).unwrap_err();
        assert_eq!(e.variable, "ALERT_TIMEZONE");
        let c = AlertConfig::from_env(&[("ALERT_TIMEZONE", "Asia/Seoul")]).unwrap();
        assert_eq!(c.timezone, Some(chrono_tz::Asia::Seoul));
    }

    const QUEUE: (&str, &str) = ("SQS_QUEUE_URL", "http://127.0.0.1:5000/123456789012/q");

    #[test]
    fn sink_is_chosen_by_what_is_configured() {
        let c = RunConfig::from_env(&[QUEUE]).unwrap();
        assert!(matches!(c.sink, SinkConfig::Console));
        let c = RunConfig::from_env(&[
            QUEUE,
            ("DISCORD_TOKEN", "t0k3n"),
            ("ALERT_CHANNEL_ID", "42"),
            ("DISCORD_GUILD_ID", "7"),
        ])
        .unwrap();
        assert!(matches!(
            c.sink,
            SinkConfig::Bot(BotConfig { channel_id: 42, .. })
        ));
        let e = RunConfig::from_env(&[QUEUE, ("DISCORD_TOKEN", "t0k3n")]).unwrap_err();
        assert_eq!(e.variable, "ALERT_CHANNEL_ID");
        // The trust boundary: a bot without its one server would answer any server that invites it.
        let e = RunConfig::from_env(&[
            QUEUE,
            ("DISCORD_TOKEN", "t0k3n"),
            ("ALERT_CHANNEL_ID", "42"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, "DISCORD_GUILD_ID");
        let e = RunConfig::from_env(&[("DISCORD_TOKEN", "t0k3n")]).unwrap_err();
        assert_eq!(e.variable, "SQS_QUEUE_URL");
    }

    #[test]
    fn numbers_have_defaults_and_ranges() {
        let c = RunConfig::from_env(&[QUEUE]).unwrap();
        assert_eq!(c.backlog_max, 2000);
        assert_eq!(c.delivery_unhealthy_after, Duration::from_secs(300));
        let c = RunConfig::from_env(&[QUEUE, ("BACKLOG_MAX", "50")]).unwrap();
        assert_eq!(c.backlog_max, 50);
        for bad in ["0", "-1", "many"] {
            let e = RunConfig::from_env(&[QUEUE, ("BACKLOG_MAX", bad)]).unwrap_err();
            assert_eq!(e.variable, "BACKLOG_MAX");
        }
        let e = RunConfig::from_env(&[QUEUE, ("DELIVERY_UNHEALTHY_AFTER_S", "0")]).unwrap_err();
        assert_eq!(e.variable, "DELIVERY_UNHEALTHY_AFTER_S");
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(
            LogFormat::from_env(&[("LOG_FORMAT", "")]).unwrap(),
            LogFormat::Text
        );
        assert_eq!(
            LogFormat::from_env(&[("LOG_FORMAT", "json")]).unwrap(),
            LogFormat::Json
        );
        assert_eq!(
            LogFormat::from_env(&[("LOG_FORMAT", "xml")])
                .unwrap_err()
                .variable,
            "LOG_FORMAT"
        );
    }

    #[test]
    fn secrets_never_print() {
        let secret = "https://discord.com/api/webhooks/1/SECRET-TOKEN";
        let c = RunConfig::from_env(&[QUEUE, ("DISCORD_WEBHOOK_URL", secret)]).unwrap();
        assert!(!format!("{c:?}").contains("SECRET-TOKEN"));
        let e = RunConfig::from_env(&[
            QUEUE,
            ("DISCORD_WEBHOOK_URL", "https://example.com/SECRET-TOKEN"),
        ])
        .unwrap_err();
        assert!(!e.to_string().contains("SECRET-TOKEN"));
        let c = RunConfig::from_env(&[
            QUEUE,
            ("DISCORD_TOKEN", "SECRET-TOKEN"),
            ("ALERT_CHANNEL_ID", "1"),
            ("DISCORD_GUILD_ID", "2"),
        ])
        .unwrap();
        assert!(!format!("{c:?}").contains("SECRET-TOKEN"));
    }
}
