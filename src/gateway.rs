//! The Discord gateway: serenity + poise. Keeps the connection state for `/healthz`, registers the slash
//! commands on READY, and stops the process (exit 1) when registration fails.

use std::sync::Arc;

use iam_alarm_commands::{Data, Error};
use poise::serenity_prelude as serenity;
use secrecy::ExposeSecret;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::config::BotConfig;
use crate::health::Metrics;

/// A running gateway client.
pub struct Gateway {
    client: serenity::Client,
}

/// Why the bot must stop.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot reach Discord: {0}")]
    Connect(String),
    #[error("slash command registration failed: {0}")]
    Registration(String),
}

impl Gateway {
    pub async fn connect(
        config: &BotConfig,
        data: Data,
        fatal: mpsc::UnboundedSender<GatewayError>,
        on_ready: Arc<tokio::sync::Notify>,
    ) -> Result<Gateway, GatewayError> {
        let mut http = serenity::HttpBuilder::new(config.token.expose_secret());
        if let Some(base) = &config.api_url {
            // A REST proxy (or the tests' fake Discord): its own limits apply, so serenity's limiter is off.
            http = http
                .proxy(base.as_str().trim_end_matches('/'))
                .ratelimiter_disabled(true);
        }
        let guild = serenity::GuildId::new(config.guild_id);
        let framework = poise::Framework::builder()
            .options(poise::FrameworkOptions {
                commands: iam_alarm_commands::all(),
                event_handler: |ctx, event| Box::pin(on_event(ctx, event)),
                on_error: |err| Box::pin(on_error(err)),
                // Owners are not used (permissions come from RESPONDER_ROLE_ID); skip the extra API call.
                initialize_owners: false,
                // Replies echo names from events and what members typed: no reply pings anyone (poise's own
                // default would ping users).
                allowed_mentions: Some(serenity::CreateAllowedMentions::new()),
                ..Default::default()
            })
            .setup(move |ctx, ready, framework| {
                Box::pin(async move {
                    info!(bot = %ready.user.name, guilds = ready.guilds.len(), "gateway ready");
                    warn_about_other_guilds(ready, guild);
                    let commands = &framework.options().commands;
                    if let Err(e) = poise::builtins::register_in_guild(ctx, commands, guild).await {
                        let _ = fatal.send(GatewayError::Registration(e.to_string()));
                        return Err(e.into());
                    }
                    info!(count = commands.len(), %guild, "slash commands registered in the guild");
                    remove_global_commands(ctx).await;
                    // READY itself arrives before the event handler has its data.
                    data.metrics.set_gateway_connected(true);
                    on_ready.notify_one();
                    Ok(data)
                })
            })
            .build();
        let client =
            serenity::ClientBuilder::new_with_http(http.build(), serenity::GatewayIntents::GUILDS)
                .framework(framework)
                .await
                .map_err(|e| GatewayError::Connect(e.to_string()))?;
        Ok(Gateway { client })
    }

    /// The client's REST side, for tasks that act outside an interaction (asking the actor).
    pub fn http(&self) -> Arc<serenity::Http> {
        Arc::clone(&self.client.http)
    }

    pub fn shard_manager(&self) -> Arc<serenity::ShardManager> {
        Arc::clone(&self.client.shard_manager)
    }

    /// Run the gateway until its shards stop.
    pub async fn run(mut self) -> Result<(), GatewayError> {
        self.client
            .start()
            .await
            .map_err(|e| GatewayError::Connect(e.to_string()))
    }
}

/// The bot serves one server; being a member of others usually means someone invited a public bot.
fn warn_about_other_guilds(ready: &serenity::Ready, ours: serenity::GuildId) {
    for other in ready.guilds.iter().map(|g| g.id).filter(|id| *id != ours) {
        warn!(guild = %other, "the bot is a member of a server it does not serve; its interactions are refused (remove the bot there and turn off \"Public Bot\")");
    }
}

/// Global commands are leftovers of an older setup: they would show the commands in every server and DM.
/// Failing to remove them is not fatal (the guild check refuses their use anyway), so it is only logged.
async fn remove_global_commands(ctx: &serenity::Context) {
    match ctx.http.get_global_commands().await {
        Ok(global) if global.is_empty() => {}
        Ok(global) => {
            let names: Vec<&str> = global.iter().map(|c| c.name.as_str()).collect();
            match serenity::Command::set_global_commands(ctx, Vec::new()).await {
                Ok(_) => info!(?names, "removed leftover global commands"),
                Err(e) => warn!(?names, error = %e, "cannot remove leftover global commands"),
            }
        }
        Err(e) => warn!(error = %e, "cannot list global commands"),
    }
}

/// Every gateway event: connection state for `/healthz`, button presses and modals by `custom_id`.
async fn on_event(
    ctx: poise::FrameworkContext<'_, Data, Error>,
    event: &serenity::FullEvent,
) -> Result<(), Error> {
    track_connection(event, &ctx.user_data.metrics);
    let serenity::FullEvent::InteractionCreate { interaction } = event else {
        return Ok(());
    };
    match interaction {
        serenity::Interaction::Component(press) => {
            if let Err(e) =
                iam_alarm_commands::on_component(ctx.serenity_context, ctx.user_data, press).await
            {
                tracing::error!(custom_id = %press.data.custom_id, error = %e, "button handler failed");
                tell_something_went_wrong(ctx.serenity_context, press).await;
            }
        }
        serenity::Interaction::Modal(submit) => {
            if let Err(e) =
                iam_alarm_commands::on_modal(ctx.serenity_context, ctx.user_data, submit).await
            {
                tracing::error!(custom_id = %submit.data.custom_id, error = %e, "modal handler failed");
            }
        }
        _ => {}
    }
    Ok(())
}

/// Tell the presser privately that the button failed: as the interaction's response when the handler never
/// answered (a refused update, say), else as a follow-up to the answer it gave.
async fn tell_something_went_wrong(
    ctx: &serenity::Context,
    press: &serenity::ComponentInteraction,
) {
    const TEXT: &str = "Something went wrong on our side; the details are in the bot's log.";
    if iam_alarm_commands::ephemeral_component(ctx, press, TEXT)
        .await
        .is_ok()
    {
        return;
    }
    let followup = serenity::CreateInteractionResponseFollowup::new()
        .content(TEXT)
        .ephemeral(true)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    if let Err(e) = press.create_followup(ctx, followup).await {
        warn!(error = %e, "cannot tell the presser that the button failed");
    }
}

fn track_connection(event: &serenity::FullEvent, metrics: &Metrics) {
    match event {
        serenity::FullEvent::Ready { .. } | serenity::FullEvent::Resume { .. } => {
            metrics.set_gateway_connected(true);
        }
        serenity::FullEvent::ShardStageUpdate { event } => {
            let up = event.new == serenity::ConnectionStage::Connected;
            if !up {
                warn!(stage = ?event.new, "gateway not connected");
            }
            metrics.set_gateway_connected(up);
        }
        _ => {}
    }
}

/// One place for every command error: the full error to the log, a short friendly line to the user.
async fn on_error(err: poise::FrameworkError<'_, Data, Error>) {
    match err {
        poise::FrameworkError::Setup { error, .. } => error!(%error, "bot setup failed"),
        // The check already told the member why, privately.
        poise::FrameworkError::CommandCheckFailed { error: None, .. } => {}
        poise::FrameworkError::Command { error, ctx, .. } => {
            error!(command = %ctx.command().name, %error, "command failed");
            let _ =
                ctx.send(iam_alarm_commands::private_reply().content(
                    "Something went wrong on our side; the details are in the bot's log.",
                ))
                .await;
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                error!(error = %e, "error while handling an error");
            }
        }
    }
}
