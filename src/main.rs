//! Wiring only: parse the command line, load configuration, hand over. Exit codes (DESIGN §7): 0 after a stop
//! signal, 2 on bad configuration (naming the variable), 1 on a fatal runtime error.

use std::process::ExitCode;

use clap::Parser;
use iam_alarm::cli::{Cli, Command, DlqAction};
use iam_alarm::config::{AlertConfig, ConfigError, LogFormat, ProcessEnv, RunConfig};

const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run);
    let alert_config = match AlertConfig::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => return config_error(e),
    };
    match command {
        Command::Render {
            input,
            events,
            text,
        } => iam_alarm::render_cmd::run(&input, events.as_deref(), text, alert_config),
        Command::Run => {
            let (config, format) = match RunConfig::from_env(&ProcessEnv)
                .and_then(|c| Ok((c, LogFormat::from_env(&ProcessEnv)?)))
            {
                Ok(c) => c,
                Err(e) => return config_error(e),
            };
            iam_alarm::telemetry::init(format);
            match runtime().block_on(iam_alarm::app::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "iam-alarm stopped on a fatal error");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Healthcheck => {
            let Some(addr) = std::env::var("HEALTH_ADDR").ok().filter(|a| !a.is_empty()) else {
                return config_error(ConfigError::new(
                    "HEALTH_ADDR",
                    "is required: where the bot serves /healthz",
                ));
            };
            runtime().block_on(iam_alarm::health::check(&addr))
        }
        Command::Dlq { action } => {
            let Some(queue_url) = std::env::var("SQS_QUEUE_URL")
                .ok()
                .filter(|u| !u.is_empty())
            else {
                return config_error(ConfigError::new(
                    "SQS_QUEUE_URL",
                    "is required: the queue whose dead-letter queue to use",
                ));
            };
            runtime().block_on(async {
                let aws = iam_alarm::aws::load_config().await;
                let queue = iam_alarm::aws::sqs::Queue::new(&aws, queue_url);
                let watched = &alert_config.watched;
                let result = match action {
                    DlqAction::List { max } => iam_alarm::dlq_cmd::list(&queue, watched, max).await.map(|lines| {
                        if lines.is_empty() {
                            println!("the dead-letter queue is empty");
                        }
                        for l in lines {
                            println!("{l}");
                        }
                    }),
                    DlqAction::Replay => iam_alarm::dlq_cmd::replay(&queue, watched).await.map(|(moved, left)| {
                        println!("replayed {moved} alert(s) to the main queue; left {left} message(s) that are not alerts");
                    }),
                };
                match result {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
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
