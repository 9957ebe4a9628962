//! Wiring only: parse the command line, load configuration, hand over.

use std::process::ExitCode;

use clap::Parser;
use iam_alarm::cli::{Cli, Command};
use iam_alarm::config::{AlertConfig, ProcessEnv};

/// Bad configuration (DESIGN §7).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let alert_config = match AlertConfig::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::Render {
            input,
            events,
            text,
        } => iam_alarm::render_cmd::run(&input, events.as_deref(), text, alert_config),
        Command::Run => {
            eprintln!(
                "`iam-alarm run` arrives with the live pipeline; use `iam-alarm render` for now"
            );
            ExitCode::from(EXIT_CONFIG)
        }
    }
}
