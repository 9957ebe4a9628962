//! `iam-alarm render`: preview the alert for one input, exactly as it would be posted.

use std::io::Read;
use std::process::ExitCode;

use iam_alarm_core::render::{headline, render_message, render_text, RenderOptions};
use iam_alarm_core::rules::{Rules, Verdict};
use iam_alarm_core::{classify, Rejection, WatchedEvents};

use crate::config::AlertConfig;

/// Exit codes of `render`: 0 an alert, 1 valid but not an alert, 2 malformed or unreadable input.
const ALERT: u8 = 0;
const NOT_AN_ALERT: u8 = 1;
const MALFORMED: u8 = 2;

/// What `render` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The create-message JSON the bot posts.
    Json,
    /// The console's plain text.
    Text,
    /// A page drawing the message as Discord shows it.
    Html,
}

pub fn run(
    input: &str,
    events: Option<&str>,
    format: Format,
    config: AlertConfig,
    rules: &Rules,
) -> ExitCode {
    let watched = match events {
        Some(list) => match WatchedEvents::parse(list) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: --events: {e}");
                return ExitCode::from(MALFORMED);
            }
        },
        None => config.watched,
    };
    let body = match read_input(input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {input}: {e}");
            return ExitCode::from(MALFORMED);
        }
    };
    let opts = RenderOptions {
        timezone: config.timezone,
        mention: config.mention,
        ..RenderOptions::default()
    };
    match classify(&body, &watched) {
        Ok(mut event) => {
            event.name_account(|id| config.accounts.name(id).map(str::to_owned));
            let today = chrono::Utc::now().date_naive();
            for rule in rules.expired(today) {
                eprintln!(
                    "warning: rule {:?} expired on {}: ignored",
                    rule.name,
                    rule.expires.unwrap_or(today)
                );
            }
            match rules.apply(&mut event, today) {
                Verdict::Suppressed { rule } => {
                    eprintln!("not an alert: suppressed by rule {rule:?}");
                    return ExitCode::from(NOT_AN_ALERT);
                }
                Verdict::Changed { rule } => eprintln!("rule {rule:?} applied"),
                Verdict::Alert => {}
            }
            let message = render_message(&event, &opts);
            match format {
                Format::Text => print!("{}", render_text(&event, &opts)),
                Format::Html => print!("{}", crate::html::page(&headline(&event), &[message])),
                Format::Json => match serde_json::to_string_pretty(&message) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("error: cannot serialise the message: {e}");
                        return ExitCode::FAILURE;
                    }
                },
            }
            ExitCode::from(ALERT)
        }
        Err(Rejection::NotAlert(reason)) => {
            eprintln!("not an alert: {reason}");
            ExitCode::from(NOT_AN_ALERT)
        }
        Err(Rejection::Malformed(reason)) => {
            eprintln!("error: malformed input: {reason}");
            ExitCode::from(MALFORMED)
        }
    }
}

fn read_input(input: &str) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    match crate::cli::Command::input_path(input) {
        Some(path) => bytes = std::fs::read(path)?,
        None => {
            std::io::stdin().read_to_end(&mut bytes)?;
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
}
