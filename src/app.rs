//! `iam-alarm run`: one process, two long-running tasks (the Discord gateway and the SQS poller), one
//! shutdown path (SIGTERM/SIGINT: stop receiving, finish or release in-flight messages, exit).

use std::sync::Arc;
use std::time::Duration;

use iam_alarm_core::render::RenderOptions;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::aws::sqs::Queue;
use crate::config::{RunConfig, SinkConfig};
use crate::dedup::{Dedup, DEFAULT_CAPACITY};
use crate::delivery::console::Console;
use crate::delivery::{DiscordRest, Sink};
use crate::gateway::{Gateway, GatewayError};
use crate::health::{self, Metrics};
use crate::poller::Poller;
use crate::shutdown;

/// How long in-flight work may take after a stop signal before the process exits anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

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

pub async fn run(config: RunConfig) -> Result<(), RunError> {
    let has_gateway = matches!(config.sink, SinkConfig::Bot(_));
    let metrics = Arc::new(Metrics::new(has_gateway));
    let (trigger, shutdown) = shutdown::channel();
    let aws = crate::aws::load_config().await;
    let queue = Queue::new(&aws, &config.queue_url);
    let dead_letter = match queue.dead_letter_queue().await {
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
    };

    let (fatal_tx, mut fatal_rx) = mpsc::unbounded_channel();
    let mut gateway_task = None;
    let mut shard_manager = None;
    let (sink, dedup) = match &config.sink {
        SinkConfig::Bot(bot) => {
            let rest = DiscordRest::bot(bot.api_url.as_ref(), bot.token.clone());
            let mut dedup = Dedup::new(DEFAULT_CAPACITY);
            // A restart must not repost what a previous run posted but could not delete.
            match rest.recent_messages(bot.channel_id, 100).await {
                Ok(messages) => {
                    let n = dedup.seed_from_messages(&messages);
                    info!(alerts = n, "de-duplication seeded from the alert channel");
                }
                Err(e) => {
                    warn!(error = %e, "cannot read the alert channel's history (needs Read Message History); relying on the idempotency nonce")
                }
            }
            let data = responders(
                &aws,
                &config,
                bot,
                Arc::clone(&metrics),
                queue.clone(),
                dead_letter.clone(),
            );
            let gateway = Gateway::connect(bot, data, fatal_tx.clone()).await?;
            shard_manager = Some(gateway.shard_manager());
            gateway_task = Some(tokio::spawn(gateway.run()));
            (
                Sink::Channel {
                    rest,
                    channel_id: bot.channel_id,
                },
                dedup,
            )
        }
        SinkConfig::Webhook { url } => {
            let dedup = match &config.state_dir {
                Some(dir) => Dedup::with_journal(DEFAULT_CAPACITY, dir).unwrap_or_else(|e| {
                    warn!(error = %e, dir = %dir.display(), "cannot use IAM_ALARM_STATE_DIR; de-duplication is in memory only");
                    Dedup::new(DEFAULT_CAPACITY)
                }),
                None => Dedup::new(DEFAULT_CAPACITY),
            };
            info!("webhook mode: alerts only, no buttons or commands");
            (
                Sink::Webhook {
                    rest: DiscordRest::webhook(url.clone()),
                },
                dedup,
            )
        }
        SinkConfig::Console => {
            warn!("console mode: neither DISCORD_TOKEN nor DISCORD_WEBHOOK_URL is set, so alerts are printed to stdout");
            (Sink::Console(Console), Dedup::new(DEFAULT_CAPACITY))
        }
    };

    let health_task = config.health_addr.map(|addr| {
        // Stale after a long poll, a full retry wait and some slack.
        let stale_after = config.poll.wait + config.poll.retry_max + Duration::from_secs(30);
        tokio::spawn(health::serve(
            addr,
            Arc::clone(&metrics),
            stale_after,
            shutdown.clone(),
        ))
    });

    let poller = Poller {
        queue,
        dead_letter,
        sink,
        dedup,
        watched: config.alert.watched.clone(),
        render: RenderOptions {
            timezone: config.alert.timezone,
            ..RenderOptions::default()
        },
        poll: config.poll.clone(),
        metrics: Arc::clone(&metrics),
        waiting: Vec::new(),
        backlog: Vec::new(),
    };
    let mut poller_task = tokio::spawn(poller.run(shutdown.clone()));
    info!("iam-alarm running");

    let outcome = tokio::select! {
        _ = shutdown::signal() => {
            info!("stop signal received: finishing in-flight messages");
            Ok(())
        }
        Some(fatal) = fatal_rx.recv() => Err(RunError::Gateway(fatal)),
        r = async { gateway_task.as_mut().expect("only polled with a gateway").await }, if gateway_task.is_some() => {
            match r {
                Ok(Err(e)) => Err(RunError::Gateway(e)),
                _ => Err(RunError::Gateway(GatewayError::Connect("the gateway stopped".into()))),
            }
        }
        _ = &mut poller_task => Err(RunError::PollerDied),
        Some(r) = async { match health_task { Some(t) => Some(t.await), None => std::future::pending().await } } => {
            match r {
                Ok(Err(e)) => Err(RunError::Health(e)),
                _ => Err(RunError::Health(std::io::Error::other("stopped"))),
            }
        }
    };

    trigger.trigger();
    if !poller_task.is_finished()
        && tokio::time::timeout(DRAIN_TIMEOUT, &mut poller_task)
            .await
            .is_err()
    {
        error!("in-flight messages did not finish in time; they return to the queue after their visibility timeout");
    }
    if let Some(shards) = shard_manager {
        shards.shutdown_all().await;
    }
    info!("iam-alarm stopped");
    outcome
}

/// What the buttons and slash commands use: the AWS adapters behind the command layer's interfaces.
fn responders(
    aws: &aws_config::SdkConfig,
    config: &RunConfig,
    bot: &crate::config::BotConfig,
    metrics: Arc<Metrics>,
    queue: Queue,
    dead_letter: Option<Queue>,
) -> iam_alarm_commands::Data {
    let r = &config.responders;
    let cloudtrail = Arc::new(crate::aws::cloudtrail::CloudTrail::new(
        aws,
        &r.activity_regions,
    ));
    iam_alarm_commands::Data {
        metrics,
        iam: Arc::new(crate::aws::iam::Iam::new(aws)),
        history: cloudtrail.clone(),
        probe: Arc::new(crate::probe::Probe {
            trail_name: r.trail_name.clone(),
            rule_name: r.rule_name.clone(),
            cloudtrail,
            events: crate::aws::events::EventBridge::new(aws),
            sns: crate::aws::sns::Sns::new(aws),
            queue,
            dead_letter,
        }),
        guild: poise::serenity_prelude::GuildId::new(bot.guild_id),
        alert_channel: poise::serenity_prelude::ChannelId::new(bot.channel_id),
        responder_role: bot
            .responder_role_id
            .map(poise::serenity_prelude::RoleId::new),
        watched: config.alert.watched.clone(),
        activity_window: r.activity_window,
        ack_lock: tokio::sync::Mutex::new(()),
    }
}
