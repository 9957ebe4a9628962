//! `iam-alarm run`: one process, two long-running tasks (the Discord gateway and the SQS poller), one
//! shutdown path (SIGTERM/SIGINT: stop receiving, finish or hand back in-flight messages, exit).

use std::sync::Arc;
use std::time::Duration;

use iam_alarm_core::check::PipelineProbe;
use iam_alarm_core::render::{Mention, RenderOptions};
use tokio::sync::{mpsc, Notify};
use tracing::{error, info, warn};

use crate::aws::accounts::{account_of_queue, Accounts, ReaderRole};
use crate::aws::containment::{AwsContainment, ContainRoles};
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
use crate::questions::Questions;
use crate::snoozes::SnoozeKeeper;
use crate::tasks::{self, Importance, Tasks};
use crate::verify::Verifier;
use crate::watchdog::Watchdog;
use iam_alarm_commands::ask::{AskSettings, Asker, Question};
use iam_alarm_commands::contain::ContainSettings;
use iam_alarm_core::snooze::Snoozes;

/// Alerts waiting to ask their actor; beyond this the poller does not wait, and the alert is not asked about.
const QUESTIONS_WAITING_MAX: usize = 256;

/// How long the tasks may take to stop after a stop signal before the process exits anyway: longer than one
/// Discord request may take, so a POST under way either completes (and its message is deleted) or fails (and
/// its message is handed back) — never lands after the process gave its message back.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(HTTP_TIMEOUT.as_secs() + 5);

/// A fatal runtime error (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("the {task} task stopped: {error}")]
    TaskStopped { task: &'static str, error: String },
}

/// The Discord side of a bot-mode run: the gateway, and the tasks that start once it is READY.
struct BotParts {
    gateway: Gateway,
    /// Follow-ups on unacknowledged severe alerts.
    escalator: Option<Escalator>,
    /// Pipeline problems and silence announced in the channel.
    watchdog: Watchdog,
    /// "Was this you?" to the actor of each alert (`PEOPLE`).
    questions: Option<Questions>,
    /// The snoozes pinned in the channel.
    snoozes: SnoozeKeeper,
    /// Told once the gateway is READY and the commands are registered.
    ready: Arc<Notify>,
    fatal: mpsc::UnboundedReceiver<GatewayError>,
}

pub async fn run(config: RunConfig) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::new(matches!(config.sink, SinkConfig::Bot(_))));
    warn_about_expired_rules(&config);
    let mut tasks = Tasks::new(Arc::clone(&metrics));
    let aws = crate::aws::load_config().await;
    let queue = Queue::new(&aws, &config.queue_url);
    let dead_letter = find_dead_letter_queue(&queue).await;
    let accounts = accounts(&aws, &config, &tasks);
    let mut questions = None;
    let snoozes = Arc::new(Snoozes::default());
    let (sink, dedup, bot) = match &config.sink {
        SinkConfig::Bot(bot) => {
            let probe = probe(&aws, &config, &queue, &dead_letter, &accounts);
            let data = responders(
                &config,
                bot,
                &metrics,
                Arc::clone(&accounts),
                Arc::clone(&probe),
                Arc::clone(&snoozes),
            );
            let watch = Watched {
                probe,
                metrics: Arc::clone(&metrics),
                mention: config.alert.mention,
                verifying: config.sns.is_some(),
            };
            let asking = bot.ask.as_ref().map(|settings| {
                let (hand_over, incoming) = mpsc::channel(QUESTIONS_WAITING_MAX);
                questions = Some(hand_over);
                (Arc::clone(settings), incoming)
            });
            let (sink, dedup, parts) = start_bot(bot, data, watch, asking).await?;
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
    if let Some(addr) = config.health_addr {
        let (metrics, thresholds) = (Arc::clone(&metrics), thresholds(&config));
        tasks.spawn("health", Importance::Vital, move |stop| {
            health::serve(addr, metrics, thresholds, stop)
        });
    }
    let settings = Settings {
        watched: config.alert.watched.clone(),
        render: RenderOptions {
            timezone: config.alert.timezone,
            mention: config.alert.mention,
            contain: matches!(&config.sink, SinkConfig::Bot(b) if b.contain.is_some()),
            ..RenderOptions::default()
        },
        poll: config.poll.clone(),
        backlog_max: config.backlog_max,
        rules: config.rules.clone(),
        accounts: Arc::clone(&accounts),
        verifier: verifier(&config),
        canary: config.canary.clone(),
        questions,
        snoozes,
        contain_roles: contain_roles(&config),
    };
    let queues = Queues {
        main: queue,
        dead_letter,
    };
    let poller = Poller::new(queues, sink, dedup, settings, Arc::clone(&metrics));
    let outcome = supervise(&mut tasks, poller, bot).await;
    if !tasks.drain(DRAIN_TIMEOUT).await {
        error!("in-flight work did not finish in time; its messages return to the queue after their visibility timeout");
    } else {
        info!("every task stopped");
    }
    info!("iam-alarm stopped");
    outcome
}

/// The accounts alerts name and the bot reads; with `ORGANIZATION_LOOKUP`, names and membership from Organizations.
fn accounts(aws: &aws_config::SdkConfig, config: &RunConfig, tasks: &Tasks) -> Arc<Accounts> {
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
        let accounts = Arc::clone(&accounts);
        let every = org.lookup_every;
        tasks.spawn("organization-lookup", Importance::Helper, move |stop| {
            accounts.look_up_names(every, stop)
        });
    }
    accounts
}

/// The containment roles' names, whose sessions' Undo is the bot's own.
fn contain_roles(config: &RunConfig) -> Vec<String> {
    let SinkConfig::Bot(bot) = &config.sink else {
        return Vec::new();
    };
    let Some(c) = &bot.contain else {
        return Vec::new();
    };
    let own = c.role_arn.rsplit('/').next().map(str::to_owned);
    own.into_iter().chain(c.role_name.clone()).collect()
}

/// Only signed SNS notifications from our topics, unless switched off for an emulator (said loudly).
fn verifier(config: &RunConfig) -> Verifier {
    match &config.sns {
        Some(policy) => {
            info!(topics = ?policy.topics, "only SNS notifications signed by SNS from these topics are believed");
            Verifier::verify(policy.clone())
        }
        None => {
            warn!("SNS_SIGNATURES=off: queue messages are believed without checking who wrote them (for emulators only; anyone who may send to the queue could forge alerts and heartbeats)");
            Verifier::off()
        }
    }
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
    verifying: bool,
}

/// Connect the gateway, and seed de-duplication from the alert channel: a restart must not repost what a
/// previous run posted but could not delete.
async fn start_bot(
    bot: &BotConfig,
    data: iam_alarm_commands::Data,
    watched: Watched,
    asking: Option<(Arc<AskSettings>, mpsc::Receiver<Question>)>,
) -> Result<(Sink, Dedup, BotParts), RunError> {
    let snoozes = Arc::clone(&data.snoozes);
    // One client for the channel: the poller and the escalation loop share its rate-limit bucket.
    let rest = Arc::new(BotRest::new(bot.api_url.as_ref(), bot.token.clone()));
    let mut dedup = Dedup::new(DEFAULT_CAPACITY);
    match rest.recent_messages(bot.channel_id, 100).await {
        Ok(messages) => {
            let n = dedup.seed_from_messages(&messages);
            info!(alerts = n, "de-duplication seeded from the alert channel");
        }
        Err(e) => {
            warn!(error = %e, "cannot read the alert channel's history (needs Read Message History); relying on the idempotency nonce");
        }
    }
    let (fatal_tx, fatal) = mpsc::unbounded_channel();
    let ready = Arc::new(Notify::new());
    let (guild, channel, edits) = (
        data.guild,
        data.alert_channel,
        Arc::clone(&data.alert_edits),
    );
    let gateway = Gateway::connect(bot, data, fatal_tx, Arc::clone(&ready)).await?;
    let snoozes = SnoozeKeeper {
        rest: Arc::clone(&rest),
        channel: bot.channel_id,
        snoozes: Arc::clone(&snoozes),
        bot: tokio::sync::OnceCell::new(),
    };
    // The snoozes in force before the first message is judged.
    snoozes.refresh().await;
    let questions = asking.map(|(settings, incoming)| Questions {
        asker: Asker::new(gateway.http(), guild, channel, settings, edits),
        incoming,
        rest: Arc::clone(&rest),
        channel: bot.channel_id,
    });
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
        verifying: watched.verifying,
    };
    let parts = BotParts {
        gateway,
        escalator,
        watchdog,
        questions,
        snoozes,
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

/// Run until a stop signal, a fatal gateway error or a vital task's death. In bot mode the poller starts only
/// once the gateway is READY: a bot that cannot deliver (a revoked token, say) must not receive messages over
/// and over until SQS moves valid alerts to the dead-letter queue.
async fn supervise(
    tasks: &mut Tasks,
    poller: Poller,
    bot: Option<BotParts>,
) -> Result<(), RunError> {
    let (mut waiting, ready, mut fatal) = match bot {
        None => {
            start_poller(tasks, poller);
            (None, None, None)
        }
        Some(BotParts {
            gateway,
            escalator,
            watchdog,
            questions,
            snoozes,
            ready,
            fatal,
        }) => {
            tasks.spawn("gateway", Importance::Vital, move |stop| async move {
                let shards = gateway.shard_manager();
                tokio::select! {
                    r = gateway.run() => r,
                    () = stop.cancelled() => {
                        shards.shutdown_all().await;
                        Ok(())
                    }
                }
            });
            (
                Some((poller, escalator, watchdog, questions, snoozes)),
                Some(ready),
                Some(fatal),
            )
        }
    };
    info!("iam-alarm running");
    loop {
        tokio::select! {
            () = tasks::stop_signal() => {
                info!("stop signal received: finishing in-flight messages");
                return Ok(());
            }
            () = notified(ready.as_deref()), if waiting.is_some() => {
                let Some((poller, escalator, watchdog, questions, snoozes)) = waiting.take() else { continue };
                info!("gateway ready: polling the queue");
                start_poller(tasks, poller);
                tasks.spawn("snoozes", Importance::Helper, move |stop| snoozes.run(stop));
                if let Some(e) = escalator {
                    tasks.spawn("escalation", Importance::Helper, move |stop| e.run(stop));
                }
                if watchdog.tick().is_some() {
                    tasks.spawn("watchdog", Importance::Helper, move |stop| watchdog.run(stop));
                }
                if let Some(q) = questions {
                    tasks.spawn("questions", Importance::Helper, move |stop| q.run(stop));
                }
            }
            Some(e) = recv(fatal.as_mut()) => return Err(RunError::Gateway(e)),
            stopped = tasks.next_stopped() => {
                if stopped.importance == Importance::Vital {
                    return Err(RunError::TaskStopped { task: stopped.task, error: stopped.error });
                }
            }
        }
    }
}

/// Resolves when notified; never without a `Notify`.
async fn notified(notify: Option<&Notify>) {
    match notify {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

/// The next fatal gateway error (command registration failed); never without a gateway.
async fn recv(rx: Option<&mut mpsc::UnboundedReceiver<GatewayError>>) -> Option<GatewayError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn start_poller(tasks: &Tasks, poller: Poller) {
    tasks.spawn("poller", Importance::Vital, move |stop| poller.run(stop));
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
            watched: config.alert.watched.clone(),
            topics: config.topics.clone(),
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
    snoozes: Arc<Snoozes>,
) -> iam_alarm_commands::Data {
    let r = &config.responders;
    let contain = bot.contain.as_ref().map(|c| {
        let roles = ContainRoles {
            own: c.role_arn.clone(),
            members: c.role_name.clone(),
        };
        ContainSettings {
            backend: Arc::new(AwsContainment::new(Arc::clone(&accounts), roles)),
            approvals: c.approvals,
            request_ttl: c.request_ttl,
        }
    });
    iam_alarm_commands::Data {
        metrics: Arc::clone(metrics),
        accounts,
        probe,
        watchdog: bot.watchdog.interval,
        heartbeat_max_age: bot.watchdog.heartbeat_max_age,
        canary_max_age: bot.watchdog.canary_max_age,
        guild: poise::serenity_prelude::GuildId::new(bot.guild_id),
        alert_channel: poise::serenity_prelude::ChannelId::new(bot.channel_id),
        responder_role: bot
            .responder_role_id
            .map(poise::serenity_prelude::RoleId::new),
        watched: config.alert.watched.clone(),
        activity_window: r.activity_window,
        rules: config.rules.clone(),
        sns_verified: config.sns.is_some(),
        alert_edits: Arc::new(tokio::sync::Mutex::new(())),
        ask: bot.ask.clone(),
        snoozes,
        snooze_max_days: bot.snooze_max_days,
        contain,
    }
}
