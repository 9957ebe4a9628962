//! The command line: `run` (the default), `render`, `pattern`, `rules check|export`, `people check`,
//! `healthcheck`, `dlq list|replay`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// iam-alarm: AWS IAM user changes, in front of the people who must respond, on Discord.
///
/// Configuration comes from environment variables (see README); `run` is the default.
#[derive(Debug, Parser)]
#[command(name = "iam-alarm", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot: consume the SQS queue and post alerts (default).
    Run,
    /// Print the Discord create-message JSON for one queue message or CloudTrail record.
    ///
    /// Exit 0: an alert was printed; 1: valid input that raises no alert (reason on stderr);
    /// 2: malformed or unreadable input.
    Render {
        /// File holding an SQS body, SNS notification, EventBridge event or CloudTrail record; `-` is stdin.
        #[arg(default_value = "-")]
        input: String,
        /// Events that alert: a comma list or `all` (overrides WATCHED_EVENTS).
        #[arg(long, value_name = "LIST|all")]
        events: Option<String>,
        /// Print the console (plain text) rendering instead of the Discord JSON.
        #[arg(long, conflicts_with = "html")]
        text: bool,
        /// Print one self-contained HTML page drawing the message as Discord shows it.
        #[arg(long)]
        html: bool,
        /// Apply this rules file (as ALERT_RULES would): a suppressed input exits 1 naming the rule.
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
    /// Print the EventBridge event pattern that delivers the watched events (for a rule made by hand; Terraform
    /// builds the same from `watched_events`).
    Pattern {
        /// Events that alert: a comma list or `all` (overrides WATCHED_EVENTS).
        #[arg(long, value_name = "LIST|all")]
        events: Option<String>,
    },
    /// Alert rules (ALERT_RULES).
    Rules {
        #[command(subcommand)]
        action: RulesAction,
    },
    /// Who is who (PEOPLE): the AWS principals each Discord user acts as, to ask "was this you?".
    People {
        #[command(subcommand)]
        action: PeopleAction,
    },
    /// Exit 0 when the running bot's /healthz (at HEALTH_ADDR) answers 200, else 1: for a container
    /// HEALTHCHECK without a shell.
    Healthcheck,
    /// Inspect or replay the dead-letter queue.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// Validate a rules file: exit 0 when it is valid, 2 with the error (file, rule, field) on stderr.
    Check { file: PathBuf },
    /// Print the snoozes in force (pinned in ALERT_CHANNEL_ID; needs DISCORD_TOKEN) as rules to commit into
    /// ALERT_RULES for good.
    Export,
}

#[derive(Debug, Subcommand)]
pub enum PeopleAction {
    /// Validate a people file: exit 0 when it is valid, 2 with the error (file, entry, field) on stderr.
    Check { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// Show what is in the dead-letter queue and why (reads SQS_QUEUE_URL's redrive policy).
    List {
        /// Show at most this many messages.
        #[arg(long, default_value_t = 100)]
        max: usize,
    },
    /// Move every message that is not malformed back to the main queue (after a Discord outage).
    Replay,
}

impl Command {
    pub fn input_path(input: &str) -> Option<PathBuf> {
        (input != "-").then(|| PathBuf::from(input))
    }
}
