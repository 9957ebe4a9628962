//! iam-alarm's Discord command layer: slash commands and button handlers, one file each (thin: read input,
//! call a query, render). The alert core lives in `iam-alarm-core`; AWS access reaches this crate only through
//! the interfaces in [`ports`].

pub mod accounts;
pub mod acknowledge;
pub mod activity;
pub mod ask;
pub mod contain;
pub mod health;
pub mod iam_users;
pub mod permissions;
pub mod ports;
pub mod recent_changes;
mod render;
pub mod snooze;

use std::sync::Arc;
use std::time::Duration;

use iam_alarm_core::metrics::Metrics;
use iam_alarm_core::WatchedEvents;
use poise::serenity_prelude as serenity;

use ports::{AccountReaders, PipelineProbe};
pub use render::{ephemeral_component, private_reply};

/// Shared by every command and button, built once at start-up.
pub struct Data {
    /// The process's counters and liveness (shared with the poller).
    pub metrics: Arc<Metrics>,
    /// The accounts the bot knows and what it reads in each (IAM, CloudTrail).
    pub accounts: Arc<dyn AccountReaders>,
    pub probe: Arc<dyn PipelineProbe>,
    /// How often the watchdog checks the pipeline (`None`: it is off).
    pub watchdog: Option<Duration>,
    /// How old the newest heartbeat may be (`None`: heartbeats are not expected).
    pub heartbeat_max_age: Option<Duration>,
    /// How old the newest canary may be (`None`: the canary is not expected).
    pub canary_max_age: Option<Duration>,
    /// The one server the bot serves; interactions from anywhere else are refused.
    pub guild: serenity::GuildId,
    /// Where alerts are posted; alert buttons act only on the bot's own messages there.
    pub alert_channel: serenity::ChannelId,
    /// Members with this role may act; `None`: members with Manage Server.
    pub responder_role: Option<serenity::RoleId>,
    pub watched: WatchedEvents,
    /// How far back "Recent activity" looks.
    pub activity_window: Duration,
    /// The alert rules (`ALERT_RULES`): `/recent-changes` marks what they suppressed, `/health` names the expired.
    pub rules: iam_alarm_core::rules::Rules,
    /// Whether SNS signatures are checked (`SNS_SIGNATURES=verify`).
    pub sns_verified: bool,
    /// Serialises edits of an alert (Acknowledge presses, answers to "Was this you?"), so the first press wins
    /// even when two arrive together, and no edit undoes another.
    pub alert_edits: Arc<tokio::sync::Mutex<()>>,
    /// Asking the actor "was this you?" (`PEOPLE`); `None`: nobody is asked.
    pub ask: Option<Arc<ask::AskSettings>>,
    /// The snoozes in force (shared with the poller, which suppresses what they match).
    pub snoozes: Arc<iam_alarm_core::snooze::Snoozes>,
    /// The longest snooze a responder may make (`SNOOZE_MAX_DAYS`).
    pub snooze_max_days: u64,
    /// Quarantine and key deactivation from the channel (`CONTAIN=on`); `None`: off, no button offers them.
    pub contain: Option<contain::ContainSettings>,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Context<'a> = poise::Context<'a, Data, Error>;

/// Every slash command, for registration.
pub fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        iam_users::iam_users(),
        recent_changes::recent_changes(),
        health::health(),
        snooze::snoozes(),
    ]
}

/// The one entry point for button presses (alerts and pagination), by `custom_id`: buttons keep working after a
/// restart because nothing lives in memory.
pub async fn on_component(
    ctx: &serenity::Context,
    data: &Data,
    press: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    // A question's answer comes from a direct message, outside the server: only the person asked may give it.
    if let Some(id) = iam_alarm_core::ask::AskId::parse(&press.data.custom_id) {
        return ask::press(ctx, data, press, id).await;
    }
    if let Err(refusal) = permissions::admit(data, press.guild_id, press.member.as_ref()) {
        return permissions::refuse_component(ctx, press, refusal).await;
    }
    let id = press.data.custom_id.as_str();
    if let Some(button) = iam_alarm_core::buttons::ButtonId::parse(id) {
        let bot = ctx.cache.current_user().id;
        if let Err(refusal) = permissions::admit_alert_button(data, press, bot) {
            return permissions::refuse_component(ctx, press, refusal).await;
        }
        return match button {
            iam_alarm_core::buttons::ButtonId::Acknowledge(_) => {
                acknowledge::press(ctx, data, press).await
            }
            iam_alarm_core::buttons::ButtonId::Activity(request) => {
                activity::press(ctx, data, press, request).await
            }
            iam_alarm_core::buttons::ButtonId::Snooze {
                account,
                event_name,
            } => snooze::press(ctx, press, account, event_name).await,
        };
    }
    if let Some(containment) = iam_alarm_core::contain::ContainId::parse(id) {
        let bot = ctx.cache.current_user().id;
        if let Err(refusal) = permissions::admit_alert_button(data, press, bot) {
            return permissions::refuse_component(ctx, press, refusal).await;
        }
        return contain::press(ctx, data, press, containment).await;
    }
    if let Some(snooze) = snooze::end_id(id) {
        return snooze::end(ctx, data, press, snooze).await;
    }
    if let Some(page) = iam_users::Page::parse(id) {
        let asked_by = press.user.id.to_string();
        return render::turn_page(ctx, press, iam_users::build(data, &page, &asked_by)).await;
    }
    if let Some(page) = recent_changes::Page::parse(id) {
        let asked_by = press.user.id.to_string();
        let view = async { Ok(recent_changes::build(data, &page, &asked_by).await) };
        return render::turn_page(ctx, press, view).await;
    }
    tracing::warn!(custom_id = id, "button press with an unknown custom_id");
    render::ephemeral_component(
        ctx,
        press,
        "This button is not known to this bot (any more).",
    )
    .await
}

/// The one entry point for submitted modals, by `custom_id`.
pub async fn on_modal(
    ctx: &serenity::Context,
    data: &Data,
    submit: &serenity::ModalInteraction,
) -> Result<(), Error> {
    if let Some(id) = iam_alarm_core::ask::AskId::parse(&submit.data.custom_id) {
        return ask::submit(ctx, data, submit, id).await;
    }
    if let Some(containment) = iam_alarm_core::contain::ContainId::parse(&submit.data.custom_id) {
        return contain::submit(ctx, data, submit, containment).await;
    }
    if submit.data.custom_id == snooze::MODAL {
        return snooze::submit(ctx, data, submit).await;
    }
    tracing::warn!(custom_id = %submit.data.custom_id, "modal with an unknown custom_id");
    Ok(())
}
