//! Typed configuration from the environment (DESIGN §7), validated at start-up. Errors name the variable.

use chrono_tz::Tz;
use iam_alarm_core::WatchedEvents;

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
        Ok(AlertConfig { watched, timezone })
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
}
