//! Wiring only: parse the command line, load configuration, hand over. Exit codes: 0 after a stop signal, 2 on
//! bad configuration (naming the variable), 1 on a fatal runtime error.

use std::process::ExitCode;

use clap::Parser;
use iam_alarm::cli::{Cli, Command, PeopleAction, RulesAction};
use iam_alarm::config::{self, AlertConfig, ConfigError, RunConfig, Vars};

const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run);
    let vars = match Vars::from_env() {
        Ok(v) => v,
        Err(e) => return config_error(e),
    };
    let alert_config = AlertConfig::from(&vars);
    match command {
        Command::Render {
            input,
            events,
            text,
            html,
            rules,
        } => {
            let format = match (text, html) {
                (true, _) => iam_alarm::render_cmd::Format::Text,
                (_, true) => iam_alarm::render_cmd::Format::Html,
                _ => iam_alarm::render_cmd::Format::Json,
            };
            let rules = match rules.map(|f| config::load_rules("--rules", &f)).transpose() {
                Ok(r) => r.unwrap_or_default(),
                Err(e) => return config_error(e),
            };
            iam_alarm::render_cmd::run(&input, events.as_deref(), format, alert_config, &rules)
        }
        Command::Pattern { events } => {
            let watched = match events.as_deref().map(iam_alarm_core::WatchedEvents::parse) {
                None => alert_config.watched,
                Some(Ok(w)) => w,
                Some(Err(e)) => return config_error(ConfigError::new("--events", e.to_string())),
            };
            let pattern = serde_json::to_string_pretty(&watched.event_pattern());
            println!("{}", pattern.expect("a JSON value prints"));
            ExitCode::SUCCESS
        }
        Command::Rules {
            action: RulesAction::Check { file },
        } => match config::load_rules("rules check", &file) {
            Ok(rules) => {
                for warning in rules.warnings() {
                    eprintln!("warning: {warning}");
                }
                println!("{}: {} rule(s), valid", file.display(), rules.len());
                ExitCode::SUCCESS
            }
            Err(e) => config_error(e),
        },
        Command::Rules {
            action: RulesAction::Export,
        } => match vars.discord_rest() {
            Ok((rest, channel)) => runtime().block_on(iam_alarm::snoozes::export(&rest, channel)),
            Err(e) => config_error(e),
        },
        Command::People {
            action: PeopleAction::Check { file },
        } => match config::load_people("people check", &file) {
            Ok(people) => {
                println!("{}: {} person(s), valid", file.display(), people.len());
                ExitCode::SUCCESS
            }
            Err(e) => config_error(e),
        },
        Command::Run => {
            let config = match RunConfig::from_vars(&vars) {
                Ok(c) => c,
                Err(e) => return config_error(e),
            };
            iam_alarm::telemetry::init(vars.log_format);
            match runtime().block_on(iam_alarm::app::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "iam-alarm stopped on a fatal error");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Healthcheck => match vars.health_addr() {
            Ok(addr) => runtime().block_on(iam_alarm::health::check(addr)),
            Err(e) => config_error(e),
        },
        Command::Dlq { action } => match vars.queue_url("the queue whose dead-letter queue to use")
        {
            Ok(url) => runtime().block_on(async {
                let aws = iam_alarm::aws::load_config().await;
                let queue = iam_alarm::aws::sqs::Queue::new(&aws, url);
                iam_alarm::dlq_cmd::run(&queue, action, &alert_config.watched).await
            }),
            Err(e) => config_error(e),
        },
    }
}

fn config_error(e: ConfigError) -> ExitCode {
    eprintln!("configuration error: {e}");
    ExitCode::from(EXIT_CONFIG)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
