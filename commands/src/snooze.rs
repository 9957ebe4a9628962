//! Snoozes from the channel (the rule and its message: `iam_alarm_core::snooze`). An alert's **Snooze…** opens a
//! modal prefilled from the alert (events, actor, account — editable), for how long and why; the snooze is posted
//! and pinned in the alert channel and applies at once. `/snoozes` lists those in force with **End now**.

use iam_alarm_core::snooze::{Request, Snooze};
use iam_alarm_core::text::escape_capped;
use poise::serenity_prelude as serenity;
use tracing::{info, warn};

use crate::{Context, Data, Error};

/// The modal's `custom_id`.
pub const MODAL: &str = "snzm";
/// `snz-end:<snooze message id>`: the End now button.
const END: &str = "snz-end:";

const EVENTS: &str = "events";
const ACTOR: &str = "actor";
const ACCOUNT: &str = "account";
const DURATION: &str = "duration";
const REASON: &str = "reason";

/// Snooze… on an alert: the modal, prefilled from it (the first response to the click).
pub async fn press(
    ctx: &serenity::Context,
    press: &serenity::ComponentInteraction,
    account: Option<String>,
    event_name: String,
) -> Result<(), Error> {
    // The actor's ARN as the alert shows it (a code span); the responder sees and may change it.
    let actor = press
        .message
        .embeds
        .first()
        .and_then(|e| e.fields.iter().find(|f| f.name == "Actor ARN"))
        .map(|f| f.value.trim_matches('`').to_owned())
        .filter(|arn| arn.starts_with("arn:") && !arn.ends_with('…'))
        .unwrap_or_default();
    let input = |id: &str, label: &str, value: &str, required: bool| {
        let text = serenity::CreateInputText::new(serenity::InputTextStyle::Short, label, id)
            .required(required)
            .max_length(300);
        let text = if value.is_empty() {
            text
        } else {
            text.value(value)
        };
        serenity::CreateActionRow::InputText(text)
    };
    let reason = serenity::CreateInputText::new(serenity::InputTextStyle::Paragraph, "Why", REASON)
        .required(true)
        .max_length(200)
        .placeholder("migration week: ci-deployer rebuilds users");
    let modal = serenity::CreateModal::new(MODAL, "Snooze alerts like this one").components(vec![
        input(EVENTS, "Events (comma-separated)", &event_name, true),
        input(ACTOR, "Actor ARN (empty: any actor)", &actor, false),
        input(
            ACCOUNT,
            "Account id (empty: any account)",
            account.as_deref().unwrap_or(""),
            false,
        ),
        input(DURATION, "For how long: 1h, 1d, 7d", "1d", true),
        serenity::CreateActionRow::InputText(reason),
    ]);
    press
        .create_response(ctx, serenity::CreateInteractionResponse::Modal(modal))
        .await?;
    Ok(())
}

/// The modal, submitted: check, post, pin, apply.
pub async fn submit(
    ctx: &serenity::Context,
    data: &Data,
    submit: &serenity::ModalInteraction,
) -> Result<(), Error> {
    if let Err(refusal) = crate::permissions::admit(data, submit.guild_id, submit.member.as_ref()) {
        return crate::render::ephemeral_modal(ctx, submit, &refusal.text()).await;
    }
    let value = |id: &str| crate::render::modal_value(submit, id).unwrap_or_default();
    let request = Request {
        events: value(EVENTS).split(',').map(str::to_owned).collect(),
        actor_arn: value(ACTOR),
        account: value(ACCOUNT),
        reason: value(REASON),
        duration: value(DURATION),
    };
    let by = submit.user.id.get();
    let (toml, until) = match request.check(by, chrono::Utc::now(), data.snooze_max_days) {
        Ok(checked) => checked,
        Err(why) => {
            return crate::render::ephemeral_modal(ctx, submit, &format!("Not snoozed: {why}."))
                .await
        }
    };
    let message = iam_alarm_core::snooze::message(&toml, until, by, request.reason.trim());
    let posted = ctx
        .http
        .send_message(data.alert_channel, Vec::new(), &message)
        .await?;
    if let Err(e) = ctx
        .http
        .pin_message(data.alert_channel, posted.id, Some("iam-alarm snooze"))
        .await
    {
        // Unpinned it would end at the next read of the pins: say so, and take it back.
        warn!(error = %e, "cannot pin the snooze");
        let _ = posted.delete(ctx).await;
        return crate::render::ephemeral_modal(ctx, submit, "Not snoozed: the bot cannot pin messages in the alert channel (it needs Manage Messages, or Pin Messages).").await;
    }
    let read_back = serde_json::to_value([&posted])
        .map(iam_alarm_core::posted::PostedMessage::from_listing)
        .ok()
        .and_then(|m| m.first().and_then(Snooze::from_message));
    let Some(snooze) = read_back else {
        return crate::render::ephemeral_modal(
            ctx,
            submit,
            "Not snoozed: its message could not be read back.",
        )
        .await;
    };
    info!(by, until = %until, what = %snooze.what, "snoozed");
    let text = format!(
        "🔕 Snoozed until <t:{}:f>: {}. `/snoozes` ends it.",
        until.timestamp(),
        escape_capped(&snooze.what, 300)
    );
    data.snoozes.add(snooze);
    crate::render::ephemeral_modal(ctx, submit, &text).await
}

/// Snoozes in force: who made them, why, until when — and End now.
#[poise::command(
    slash_command,
    check = "crate::permissions::is_responder",
    default_member_permissions = "ADMINISTRATOR"
)]
pub async fn snoozes(ctx: Context<'_>) -> Result<(), Error> {
    let active = ctx.data().snoozes.active(chrono::Utc::now());
    if active.is_empty() {
        return crate::render::answer(ctx, "No snooze in force.").await;
    }
    // Discord's limits: 25 buttons (5 rows of 5), an embed of 4,096 characters.
    let shown = &active[..active.len().min(25)];
    let mut lines: Vec<String> = shown
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "**{}.** {} — by <@{}> until <t:{}:f>: {}",
                i + 1,
                escape_capped(&s.what, 200),
                s.by,
                s.until.timestamp(),
                escape_capped(&s.reason, 120)
            )
        })
        .collect();
    if active.len() > shown.len() {
        lines.push(format!("… and {} more", active.len() - shown.len()));
    }
    let embed = serenity::CreateEmbed::new()
        .title(format!("🔕 {} snooze(s) in force", active.len()))
        .description(iam_alarm_core::text::truncate(&lines.join("\n"), 4000));
    let buttons: Vec<serenity::CreateButton> = shown
        .iter()
        .enumerate()
        .map(|(i, s)| {
            serenity::CreateButton::new(format!("{END}{}", s.message_id))
                .label(format!("End now ({})", i + 1))
                .style(serenity::ButtonStyle::Danger)
        })
        .collect();
    let rows = buttons
        .chunks(5)
        .map(|row| serenity::CreateActionRow::Buttons(row.to_vec()))
        .collect();
    crate::render::send_page(ctx, embed, rows).await
}

/// The id of the snooze an End now button ends.
pub fn end_id(custom_id: &str) -> Option<serenity::MessageId> {
    let id: u64 = custom_id.strip_prefix(END)?.parse().ok()?;
    (id > 0).then(|| serenity::MessageId::new(id))
}

/// End now: unpin the snooze and say on it who ended it.
pub async fn end(
    ctx: &serenity::Context,
    data: &Data,
    press: &serenity::ComponentInteraction,
    snooze: serenity::MessageId,
) -> Result<(), Error> {
    let Some(ended) = data.snoozes.remove(&snooze.to_string()) else {
        return crate::render::ephemeral_component(ctx, press, "That snooze has already ended.")
            .await;
    };
    if let Err(e) = ctx
        .http
        .unpin_message(data.alert_channel, snooze, Some("iam-alarm snooze ended"))
        .await
    {
        warn!(error = %e, "cannot unpin the ended snooze");
    }
    let note = format!(
        "🔕 ~~Snooze~~ ended by <@{}> <t:{}:R>",
        press.user.id,
        chrono::Utc::now().timestamp()
    );
    let edit = serenity::EditMessage::new()
        .content(note)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    if let Err(e) = data.alert_channel.edit_message(ctx, snooze, edit).await {
        warn!(error = %e, "cannot mark the snooze ended");
    }
    info!(by = %press.user.id, what = %ended.what, "snooze ended");
    let text = format!(
        "Ended: {}. Matching alerts are posted again.",
        escape_capped(&ended.what, 300)
    );
    crate::render::ephemeral_component(ctx, press, &text).await
}
