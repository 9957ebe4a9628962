//! `iam-alarm run`: one process, two long-running tasks (the Discord gateway and the SQS poller), one
//! shutdown path (SIGTERM/SIGINT: stop receiving, finish or hand back in-flight messages, exit).

use std::sync::Arc;
use std::time::Duration;

use iam_alarm_commands::ports::PipelineProbe;
use iam_alarm_core::render::{Mention, RenderOptions};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::aws::accounts::{account_of_queue, Accounts, ReaderRole};
use crate::aws::sqs::Queue;
use crate::config::{BotConfig, RunConfig, SinkConfig};
use crate::dedup::{Dedup, DEFAULT_CAPACITY};
use crate::delivery::console::Console;
use crate::delivery::discord::HTTP_TIMEOUT;
use crate::delivery::{BotRest, Sink, Webhook};
use crate::escalation::Escalator;
use crate::gateway::{Gateway, GatewayError};
use crate::health::{self, Metrics, Thresholds};
use crate::poller::{Poller, Queues, Settings};
use crate::probe::{Inspected, Probe};
use crate::shutdown::{self, Shutdown};
use crate::watchdog::Watchdog;

/// How long in-flight work may take after a stop signal before the process exits anyway: longer than one
/// Discord request may take, so a POST under way either completes (and its message is deleted) or fails (and
/// its message is handed back) — never lands after the process gave its message back.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(HTTP_TIMEOUT.as_secs() + 5);

/// A fatal runtime error (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("the SQS poller stopped unexpectedly")]
    PollerDied,
    #[error("health endpoint: {0}")]
    Health(std::io::Error),
}

/// The Discord side of a bot-mode run.
struct BotParts {
    /// Follow-ups on unacknowledged severe alerts, started with the poller.
    escalator: Option<Escalator>,
    /// Pipeline problems and silence announced in the channel, started with the poller.
    watchdog: Watchdog,
    gateway: JoinHandle<Result<(), GatewayError>>,
    shards: Arc<poise::serenity_prelude::ShardManager>,
    /// Told once the gateway is READY and the commands are registered.
    ready: Arc<Notify>,
    fatal: mpsc::UnboundedReceiver<GatewayError>,
}

pub async fn run(config: RunConfig) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::new(matches!(config.sink, SinkConfig::Bot(_))));
    warn_about_expired_rules(&config);
    let (trigger, shutdown) = shutdown::channel();
    let aws = crate::aws::load_config().await;
    let queue = Queue::new(&aws, &config.queue_url);
    let dead_letter = find_dead_letter_queue(&queue).await;
    let accounts = accounts(&aws, &config);
    let (sink, dedup, bot) = match &config.sink {
        SinkConfig::Bot(bot) => {
            let probe = probe(&aws, &config, &queue, &dead_letter, &accounts);
            let data = responders(
                &config,
                bot,
                &metrics,
                Arc::clone(&accounts),
                Arc::clone(&probe),
            );
            let watch = Watched {
                probe,
                metrics: Arc::clone(&metrics),
                mention: config.alert.mention,
            };
            let (sink, dedup, parts) = start_bot(bot, data, watch).await?;
            (sink, dedup, Some(parts))
        }
        SinkConfig::Webhook { url } => {
            info!("webhook mode: alerts only, no buttons or commands");
            let sink = Sink::Webhook(Webhook::new(url.clone()));
            (sink, webhook_dedup(&config), None)
        }
        SinkConfig::Console => {
            warn!("console mode: neither DISCORD_TOKEN nor DISCORD_WEBHOOK_URL is set, so alerts are printed to stdout");
            (Sink::Console(Console), Dedup::new(DEFAULT_CAPACITY), None)
        }
    };
    let health = config.health_addr.map(|addr| {
        tokio::spawn(health::serve(
            addr,
            Arc::clone(&metrics),
            thresholds(&config),
            shutdown.clone(),
        ))
    });
    let settings = Settings {
        watched: config.alert.watched.clone(),
        render: RenderOptions {
            timezone: config.alert.timezone,
            mention: config.alert.mention,
            ..RenderOptions::default()
        },
        poll: config.poll.clone(),
        backlog_max: config.backlog_max,
        rules: config.rules.clone(),
        accounts: Arc::clone(&accounts),
    };
    let queues = Queues {
        main: queue,
        dead_letter,
    };
    let poller = Poller::new(queues, sink, dedup, settings, Arc::clone(&metrics));
    let shards = bot.as_ref().map(|b| Arc::clone(&b.shards));
    let (outcome, poller_task) = supervise(poller, bot, health, shutdown).await;

    trigger.trigger();
    drain(poller_task).await;
    if let Some(shards) = shards {
        shards.shutdown_all().await;
    }
    info!("iam-alarm stopped");
    outcome
}

/// The accounts alerts name and the bot reads; with `ORGANIZATION_LOOKUP`, names from Organizations, hourly.
fn accounts(aws: &aws_config::SdkConfig, config: &RunConfig) -> Arc<Accounts> {
    let org = &config.organization;
    let role = org.reader_role.clone().zip(org.external_id.clone());
    let reader = role.map(|(name, external_id)| ReaderRole { name, external_id });
    let accounts = Arc::new(Accounts::new(
        aws,
        account_of_queue(&config.queue_url),
        config.alert.accounts.clone(),
        reader,
        &config.responders.activity_regions,
    ));
    if org.lookup {
        tokio::spawn(Arc::clone(&accounts).look_up_names());
    }
    accounts
}

fn warn_about_expired_rules(config: &RunConfig) {
    let today = chrono::Utc::now().date_naive();
    for rule in config.rules.expired(today) {
        warn!(rule = %rule.name, expired = ?rule.expires, "an alert rule has expired and is ignored: renew or remove it");
    }
    if !config.rules.is_empty() {
        info!(rules = config.rules.len(), "alert rules loaded");
    }
}

async fn find_dead_letter_queue(queue: &Queue) -> Option<Queue> {
    match queue.dead_letter_queue().await {
        Ok(Some(dlq)) => {
            info!(dlq = %dlq.url(), "dead-letter queue found");
            Some(dlq)
        }
        Ok(None) => {
            warn!("the queue has no redrive policy: malformed messages will keep coming back; add a dead-letter queue");
            None
        }
        Err(e) => {
            warn!(error = %e, "cannot read the queue's redrive policy; relying on SQS redrive");
            None
        }
    }
}

/// What the watchdog needs besides the channel.
struct Watched {
    probe: Arc<dyn PipelineProbe>,
    metrics: Arc<Metrics>,
    mention: Option<Mention>,
}

/// Connect the gateway, and seed de-duplication from the alert channel: a restart must not repost what a
/// previous run posted but could not delete.
async fn start_bot(
    bot: &BotConfig,
    data: iam_alarm_commands::Data,
    watched: Watched,
) -> Result<(Sink, Dedup, BotParts), RunError> {
    // One client for the channel: the poller and the escalation loop share its rate-limit bucket.
    let rest = Arc::new(BotRest::new(bot.api_url.as_ref(), bot.token.clone()));
    let mut dedup = Dedup::new(DEFAULT_CAPACITY);
    match rest.recent_messages(bot.channel_id, 100).await {
        Ok(messages) => {
            let n = dedup.seed_from_messages(&messages);
            info!(alerts = n, "de-duplication seeded from the alert channel");
        }
        Err(e) => {
            warn!(error = %e, "cannot read the alert channel's history (needs Read Message History); relying on the idempotency nonce")
        }
    }
    let (fatal_tx, fatal) = mpsc::unbounded_channel();
    let ready = Arc::new(Notify::new());
    let gateway = Gateway::connect(bot, data, fatal_tx, Arc::clone(&ready)).await?;
    let shards = gateway.shard_manager();
    let escalator = bot
        .escalation
        .map(|policy| Escalator::new(Arc::clone(&rest), bot.channel_id, policy));
    let watchdog = Watchdog {
        rest: Arc::clone(&rest),
        channel: bot.channel_id,
        probe: watched.probe,
        metrics: watched.metrics,
        config: bot.watchdog,
        mention: watched.mention,
    };
    let parts = BotParts {
        escalator,
        watchdog,
        gateway: tokio::spawn(gateway.run()),
        shards,
        ready,
        fatal,
    };
    let sink = Sink::Channel {
        rest,
        channel_id: bot.channel_id,
    };
    Ok((sink, dedup, parts))
}

fn webhook_dedup(config: &RunConfig) -> Dedup {
    let Some(dir) = &config.state_dir else {
        return Dedup::new(DEFAULT_CAPACITY);
    };
    Dedup::with_journal(DEFAULT_CAPACITY, dir).unwrap_or_else(|e| {
        warn!(error = %e, dir = %dir.display(), "cannot use IAM_ALARM_STATE_DIR; de-duplication is in memory only");
        Dedup::new(DEFAULT_CAPACITY)
    })
}

fn thresholds(config: &RunConfig) -> Thresholds {
    Thresholds {
        // Stale after a long poll, a full retry wait and some slack.
        poller_stale_after: config.poll.wait + config.poll.retry_max + Duration::from_secs(30),
        delivery_unhealthy_after: config.delivery_unhealthy_after,
    }
}

/// Run until a stop signal or a fatal error; returns the outcome and the poller task, to be drained. In bot
/// mode the poller starts only once the gateway is READY: a bot that cannot deliver (a revoked token, say) must
/// not receive messages over and over until SQS moves valid alerts to the dead-letter queue.
async fn supervise(
    poller: Poller,
    bot: Option<BotParts>,
    mut health: Option<JoinHandle<std::io::Result<()>>>,
    shutdown: Shutdown,
) -> (Result<(), RunError>, Option<JoinHandle<()>>) {
    let (mut gateway, ready, mut fatal, mut escalator, mut watchdog) = match bot {
        Some(b) => (
            Some(b.gateway),
            Some(b.ready),
            Some(b.fatal),
            b.escalator,
            Some(b.watchdog),
        ),
        None => (None, None, None, None, None),
    };
    let mut poller = Some(poller);
    let mut poller_task = None;
    if ready.is_none() {
        poller_task = poller.take().map(|p| tokio::spawn(p.run(shutdown.clone())));
    }
    info!("iam-alarm running");
    let outcome = loop {
        tokio::select! {
            _ = shutdown::signal() => {
                info!("stop signal received: finishing in-flight messages");
                break Ok(());
            }
            _ = async { ready.as_ref().expect("guarded").notified().await }, if poller.is_some() && ready.is_some() => {
                info!("gateway ready: polling the queue");
                poller_task = poller.take().map(|p| tokio::spawn(p.run(shutdown.clone())));
                if let Some(e) = escalator.take() {
                    tokio::spawn(e.run(shutdown.clone()));
                }
                if let Some(w) = watchdog.take() {
                    tokio::spawn(w.run(shutdown.clone()));
                }
            }
            Some(e) = async { fatal.as_mut().expect("guarded").recv().await }, if fatal.is_some() => {
                break Err(RunError::Gateway(e));
            }
            r = async { gateway.as_mut().expect("guarded").await }, if gateway.is_some() => {
                break Err(RunError::Gateway(match r {
                    Ok(Err(e)) => e,
                    _ => GatewayError::Connect("the gateway stopped".into()),
                }));
            }
            _ = async { poller_task.as_mut().expect("guarded").await }, if poller_task.is_some() => {
                break Err(RunError::PollerDied);
            }
            r = async { health.as_mut().expect("guarded").await }, if health.is_some() => {
                break Err(RunError::Health(match r {
                    Ok(Err(e)) => e,
                    _ => std::io::Error::other("stopped"),
                }));
            }
        }
    };
    (outcome, poller_task)
}

/// Wait (at most `DRAIN_TIMEOUT`) for the stopped poller to finish or hand back in-flight messages.
async fn drain(poller: Option<JoinHandle<()>>) {
    let Some(mut task) = poller else { return };
    if !task.is_finished()
        && tokio::time::timeout(DRAIN_TIMEOUT, &mut task)
            .await
            .is_err()
    {
        error!("in-flight messages did not finish in time; they return to the queue after their visibility timeout");
    }
}

/// The pipeline's probes, shared by `/health` and the watchdog.
fn probe(
    aws: &aws_config::SdkConfig,
    config: &RunConfig,
    queue: &Queue,
    dead_letter: &Option<Queue>,
    accounts: &Arc<Accounts>,
) -> Arc<dyn PipelineProbe> {
    let r = &config.responders;
    Arc::new(Probe::new(
        aws,
        Inspected {
            accounts: Arc::clone(accounts),
            forwarder_rule_name: r.forwarder_rule_name.clone(),
            trail_name: r.trail_name.clone(),
            rule_name: r.rule_name.clone(),
            tamper_rule_name: r.tamper_rule_name.clone(),
            queue: queue.clone(),
            dead_letter: dead_letter.clone(),
        },
    ))
}

/// What the buttons and slash commands use: the AWS adapters behind the command layer's interfaces.
fn responders(
    config: &RunConfig,
    bot: &BotConfig,
    metrics: &Arc<Metrics>,
    accounts: Arc<Accounts>,
    probe: Arc<dyn PipelineProbe>,
) -> iam_alarm_commands::Data {
    let r = &config.responders;
    iam_alarm_commands::Data {
        metrics: Arc::clone(metrics),
        accounts,
        probe,
        watchdog: bot.watchdog.interval,
        heartbeat_max_age: bot.watchdog.heartbeat_max_age,
        guild: poise::serenity_prelude::GuildId::new(bot.guild_id),
        alert_channel: poise::serenity_prelude::ChannelId::new(bot.channel_id),
        responder_role: bot
            .responder_role_id
            .map(poise::serenity_prelude::RoleId::new),
        watched: config.alert.watched.clone(),
        activity_window: r.activity_window,
        rules: config.rules.clone(),
        ack_lock: tokio::sync::Mutex::new(()),
    }
}
