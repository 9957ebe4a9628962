//! The Acknowledge button: the alert is edited in place — "Acknowledged by @member <t:…:R>", green, the button
//! disabled — so the whole channel sees who took it. The first press wins; later pressers are told privately
//! who has it. The state lives in the message itself: no database, and it works after a restart.

use chrono::Utc;
use iam_alarm_core::render::colour;
use poise::serenity_prelude as serenity;

use crate::{Data, Error};

/// The embed field that records the acknowledgement.
pub const FIELD: &str = "Acknowledged";

/// Who acknowledged this alert, if anyone: the field's value.
pub fn acknowledged_by(message: &serenity::Message) -> Option<String> {
    message
        .embeds
        .first()?
        .fields
        .iter()
        .find(|f| f.name == FIELD)
        .map(|f| f.value.clone())
}

/// The alert as acknowledged: the first embed gains the field and the colour, every button its acknowledged
/// form (Acknowledge disabled).
pub(crate) fn acknowledged(
    alert: &serenity::Message,
    who: &str,
) -> (Vec<serenity::CreateEmbed>, Vec<serenity::CreateActionRow>) {
    let embeds = alert
        .embeds
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let embed = serenity::CreateEmbed::from(e.clone()).colour(colour::ACKNOWLEDGED);
            if i == 0 {
                embed.field(FIELD, who, false)
            } else {
                embed
            }
        })
        .collect();
    let components = alert
        .components
        .iter()
        .map(|row| {
            serenity::CreateActionRow::Buttons(
                row.components
                    .iter()
                    .filter_map(|c| match c {
                        serenity::ActionRowComponent::Button(b) => Some(acknowledged_button(b)),
                        _ => None,
                    })
                    .collect(),
            )
        })
        .collect();
    (embeds, components)
}

/// When the alert was escalated, say under it that it was taken, so its history reads in one place.
async fn note_under_escalations(ctx: &serenity::Context, press: &serenity::ComponentInteraction) {
    let bot = ctx.cache.current_user().id;
    let recent = serenity::GetMessages::new().limit(100);
    let messages = match press.channel_id.messages(ctx, recent).await {
        Ok(messages) => messages,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the channel to note the acknowledgement");
            return;
        }
    };
    let escalated = messages.iter().any(|m| {
        m.author.id == bot
            && m.content.contains(iam_alarm_core::escalation::MARK)
            && m.message_reference
                .as_ref()
                .and_then(|r| r.message_id)
                .is_some_and(|id| id == press.message.id)
    });
    if !escalated {
        return;
    }
    let note = serenity::CreateMessage::new()
        .content(format!(
            "✅ Acknowledged by <@{}>: no more follow-ups.",
            press.user.id
        ))
        .reference_message(&*press.message)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    if let Err(e) = press.channel_id.send_message(ctx, note).await {
        tracing::warn!(error = %e, "cannot note the acknowledgement under the escalations");
    }
}

pub async fn press(
    ctx: &serenity::Context,
    data: &Data,
    press: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    // One press at a time, deciding on the message as Discord has it now (the payload's copy may predate a
    // press that just won).
    let _turn = data.alert_edits.lock().await;
    let current = match press.channel_id.message(ctx, press.message.id).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "cannot re-read the alert; deciding on the pressed copy");
            (*press.message).clone()
        }
    };
    if let Some(by) = acknowledged_by(&current) {
        let text = format!("This alert was already acknowledged {by}.");
        return crate::render::ephemeral_component(ctx, press, &text).await;
    }
    let now = Utc::now().timestamp();
    let who = format!("by <@{}> <t:{now}:R>", press.user.id);
    let (embeds, components) = acknowledged(&current, &who);
    press
        .create_response(
            ctx,
            serenity::CreateInteractionResponse::UpdateMessage(
                serenity::CreateInteractionResponseMessage::new()
                    .embeds(embeds)
                    .components(components)
                    .allowed_mentions(serenity::CreateAllowedMentions::new()),
            ),
        )
        .await?;
    tracing::info!(user = %press.user.id, message = %press.message.id, "alert acknowledged");
    note_under_escalations(ctx, press).await;
    Ok(())
}

/// The Acknowledge button becomes a disabled "Acknowledged"; the others stay as they were.
fn acknowledged_button(b: &serenity::Button) -> serenity::CreateButton {
    let is_ack = matches!(&b.data, serenity::ButtonKind::NonLink { custom_id, .. } if custom_id.starts_with("ack:"));
    let button = serenity::CreateButton::from(b.clone());
    if is_ack {
        button.label("Acknowledged").disabled(true)
    } else {
        button
    }
}
