//! Containment from the channel (`CONTAIN=on`; the plans, ids and footers: `iam_alarm_core::contain`).
//! **Quarantine…** and **Deactivate key…** on an alert open a modal asking to type the user's name and a reason;
//! with `CONTAIN_APPROVALS=2` a request is posted under the alert for another responder to **Approve**; the result
//! is posted under the alert step by step, with **Undo…** (confirmed by a modal too). Each AWS call runs on the
//! containment role, in a session named for the responder who confirmed it.

use std::sync::Arc;
use std::time::Duration;

use iam_alarm_core::contain::{ContainId, Containment as Action, Done, Plan, Step};
use iam_alarm_core::text::{code_capped, escape_capped};
use poise::serenity_prelude as serenity;
use tracing::{info, warn};

use crate::ports::Containment;
use crate::render::{ephemeral_component, ephemeral_modal, modal_value};
use crate::{Data, Error};

/// Containment's settings (`CONTAIN`, `CONTAIN_APPROVALS`, `CONTAIN_REQUEST_TTL_S`).
pub struct ContainSettings {
    pub backend: Arc<dyn Containment>,
    /// 1: the responder who confirms runs it; 2: another responder must approve.
    pub approvals: u8,
    /// How long a request waits for its approval.
    pub request_ttl: Duration,
}

const NAME: &str = "name";
const REASON: &str = "reason";

/// A button of containment: on an alert (ask), a request (approve, cancel) or a result (undo).
pub async fn press(
    ctx: &serenity::Context,
    data: &Data,
    press: &serenity::ComponentInteraction,
    id: ContainId,
) -> Result<(), Error> {
    let Some(settings) = &data.contain else {
        return ephemeral_component(ctx, press, "Containment is off (CONTAIN is not `on`).").await;
    };
    match id {
        ContainId::Ask(plan) => {
            let title = match plan.action {
                Action::Quarantine => "Quarantine an IAM user",
                Action::DeactivateKey(_) => "Deactivate an access key",
            };
            let modal = confirmation(ContainId::Confirm(plan.clone()), title, &plan.user, true);
            press
                .create_response(ctx, serenity::CreateInteractionResponse::Modal(modal))
                .await?;
            Ok(())
        }
        ContainId::Approve => approve(ctx, data, settings, press).await,
        ContainId::Cancel => cancel(ctx, data, press).await,
        ContainId::Undo => {
            let Some(done) = footer(&press.message).and_then(Done::parse) else {
                return ephemeral_component(ctx, press, "This result cannot be undone from here.")
                    .await;
            };
            let modal = confirmation(
                ContainId::ConfirmUndo,
                "Undo the containment",
                &done.plan.user,
                false,
            );
            press
                .create_response(ctx, serenity::CreateInteractionResponse::Modal(modal))
                .await?;
            Ok(())
        }
        ContainId::Confirm(_) | ContainId::ConfirmUndo => Ok(()),
    }
}

/// A confirmation modal: type the user's name (and, to act, why).
fn confirmation(id: ContainId, title: &str, user: &str, reason: bool) -> serenity::CreateModal {
    let name = serenity::CreateInputText::new(
        serenity::InputTextStyle::Short,
        "Type the user's name to confirm",
        NAME,
    )
    .required(true)
    .max_length(64)
    .placeholder(iam_alarm_core::text::truncate(user, 100));
    let mut rows = vec![serenity::CreateActionRow::InputText(name)];
    if reason {
        let why =
            serenity::CreateInputText::new(serenity::InputTextStyle::Paragraph, "Why", REASON)
                .required(true)
                .max_length(200);
        rows.push(serenity::CreateActionRow::InputText(why));
    }
    serenity::CreateModal::new(id.encode(), title).components(rows)
}

/// A confirmation modal, submitted.
pub async fn submit(
    ctx: &serenity::Context,
    data: &Data,
    submit: &serenity::ModalInteraction,
    id: ContainId,
) -> Result<(), Error> {
    if let Err(refusal) = crate::permissions::admit(data, submit.guild_id, submit.member.as_ref()) {
        return ephemeral_modal(ctx, submit, &refusal.text()).await;
    }
    let Some(settings) = &data.contain else {
        return ephemeral_modal(ctx, submit, "Containment is off (CONTAIN is not `on`).").await;
    };
    let Some(message) = submit.message.as_deref() else {
        return ephemeral_modal(ctx, submit, "This form lost its message; nothing done.").await;
    };
    // The plan and the result to undo are read from the bot's own messages in the alert channel, nowhere else.
    let ours = message.author.id == ctx.cache.current_user().id
        && message.channel_id == data.alert_channel;
    if !ours {
        let refusal = crate::permissions::Refusal::NotOurAlert;
        return ephemeral_modal(ctx, submit, &refusal.text()).await;
    }
    let typed = modal_value(submit, NAME).unwrap_or_default();
    let by = submit.user.id.get();
    match id {
        ContainId::Confirm(plan) => {
            if typed.trim() != plan.user {
                let text = format!(
                    "The name typed does not match {}: nothing done.",
                    code_capped(&plan.user, 70)
                );
                return ephemeral_modal(ctx, submit, &text).await;
            }
            let reason = modal_value(submit, REASON).unwrap_or_default();
            if reason.trim().is_empty() {
                return ephemeral_modal(ctx, submit, "Say why: nothing done.").await;
            }
            if settings.approvals >= 2 {
                request(ctx, data, submit, message, &plan, reason.trim()).await
            } else {
                submit.defer_ephemeral(ctx).await?;
                let reason = escape_capped(reason.trim(), 200);
                let decided = Decided {
                    plan: &plan,
                    alert: message.id,
                    requester: by,
                    approver: None,
                    reason: &reason,
                };
                let text = run(ctx, data, settings, &decided).await;
                followup(ctx, submit, &text).await
            }
        }
        ContainId::ConfirmUndo => {
            let Some(done) = footer(message).and_then(Done::parse) else {
                return ephemeral_modal(ctx, submit, "This result cannot be undone from here.")
                    .await;
            };
            if typed.trim() != done.plan.user {
                let text = format!(
                    "The name typed does not match {}: nothing undone.",
                    code_capped(&done.plan.user, 70)
                );
                return ephemeral_modal(ctx, submit, &text).await;
            }
            submit.defer_ephemeral(ctx).await?;
            let text = undo(ctx, data, settings, message, &done, by).await;
            followup(ctx, submit, &text).await
        }
        _ => Ok(()),
    }
}

/// Post the request under the alert, for another responder to approve.
async fn request(
    ctx: &serenity::Context,
    data: &Data,
    submit: &serenity::ModalInteraction,
    alert: &serenity::Message,
    plan: &Plan,
    reason: &str,
) -> Result<(), Error> {
    let requester = submit.user.id.get();
    let ttl = data.contain.as_ref().map_or(0, |s| s.request_ttl.as_secs());
    let until = chrono::Utc::now().timestamp() + i64::try_from(ttl).unwrap_or(0);
    let message = iam_alarm_core::contain::request_message(
        plan,
        &account(data, plan),
        requester,
        reason,
        until,
        &alert.id.to_string(),
    );
    ctx.http
        .send_message(data.alert_channel, Vec::new(), &message)
        .await?;
    info!(requester, user = %plan.user, "containment requested");
    ephemeral_modal(
        ctx,
        submit,
        "Requested: another responder must approve it under the alert.",
    )
    .await
}

/// Approve: not the requester, not expired, not handled already; then run it.
async fn approve(
    ctx: &serenity::Context,
    data: &Data,
    settings: &ContainSettings,
    press: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let Some((plan, requester)) =
        footer(&press.message).and_then(iam_alarm_core::contain::parse_request)
    else {
        return ephemeral_component(ctx, press, "This is not a containment request.").await;
    };
    let approver = press.user.id.get();
    if approver == requester {
        return ephemeral_component(
            ctx,
            press,
            "You asked for it: another responder must approve it.",
        )
        .await;
    }
    let age = iam_alarm_core::escalation::created_ms(&press.message.id.to_string())
        .map(|at| (chrono::Utc::now().timestamp_millis().max(0) as u64).saturating_sub(at) / 1000);
    if age.is_some_and(|s| s > settings.request_ttl.as_secs()) {
        close_request(ctx, data, press.message.id, "⌛ Expired: nothing done.").await;
        return ephemeral_component(
            ctx,
            press,
            "This request has expired: nothing done. Ask again from the alert.",
        )
        .await;
    }
    let approved = format!("✅ Approved by <@{approver}>");
    if !claim_request(ctx, data, press.message.id, &approved).await? {
        return ephemeral_component(ctx, press, "This request was already handled.").await;
    }
    press.defer_ephemeral(ctx).await?;
    let alert = press
        .message
        .message_reference
        .as_ref()
        .and_then(|r| r.message_id)
        .unwrap_or(press.message.id);
    let reason = press
        .message
        .embeds
        .first()
        .and_then(|e| e.description.as_deref())
        .and_then(|d| {
            d.split_once(": ")
                .map(|(_, r)| r.lines().next().unwrap_or_default().to_owned())
        })
        .unwrap_or_default();
    let decided = Decided {
        plan: &plan,
        alert,
        requester,
        approver: Some(approver),
        reason: &reason,
    };
    let text = run(ctx, data, settings, &decided).await;
    let reply = serenity::CreateInteractionResponseFollowup::new()
        .content(text)
        .ephemeral(true)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    press.create_followup(ctx, reply).await?;
    Ok(())
}

/// Cancel: any responder; the request says who.
async fn cancel(
    ctx: &serenity::Context,
    data: &Data,
    press: &serenity::ComponentInteraction,
) -> Result<(), Error> {
    let cancelled = format!("✖️ Cancelled by <@{}>", press.user.id);
    if !claim_request(ctx, data, press.message.id, &cancelled).await? {
        return ephemeral_component(ctx, press, "This request was already handled.").await;
    }
    ephemeral_component(ctx, press, "Cancelled: nothing done.").await
}

/// Close a request still open, saying how; `false` when it was handled already. One at a time, deciding on the
/// request as Discord has it now, so of two presses together (two approvals, an approval and a cancel) only the
/// first acts.
async fn claim_request(
    ctx: &serenity::Context,
    data: &Data,
    request: serenity::MessageId,
    how: &str,
) -> Result<bool, Error> {
    let _turn = data.alert_edits.lock().await;
    let current = data.alert_channel.message(ctx, request).await?;
    if current.components.is_empty() {
        return Ok(false);
    }
    close_request(ctx, data, request, how).await;
    Ok(true)
}

/// The request's buttons go, and a line says how it ended.
async fn close_request(
    ctx: &serenity::Context,
    data: &Data,
    request: serenity::MessageId,
    how: &str,
) {
    let edit = serenity::EditMessage::new()
        .content(how)
        .components(Vec::new())
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    if let Err(e) = data.alert_channel.edit_message(ctx, request, edit).await {
        warn!(error = %e, "cannot close the containment request");
    }
}

/// A containment decided on: what, under which alert, who asked, who approved (with two approvals), why (escaped
/// Markdown: with two approvals it is read back from the request, which showed it escaped).
#[derive(Clone, Copy)]
struct Decided<'a> {
    plan: &'a Plan,
    alert: serenity::MessageId,
    requester: u64,
    approver: Option<u64>,
    reason: &'a str,
}

/// Run the plan and post the result under the alert; the answer for whoever confirmed it.
async fn run(
    ctx: &serenity::Context,
    data: &Data,
    settings: &ContainSettings,
    decided: &Decided<'_>,
) -> String {
    let Decided {
        plan,
        alert,
        requester,
        approver,
        reason,
    } = *decided;
    let confirmed_by = approver.unwrap_or(requester).to_string();
    let report = match settings.backend.contain(plan, &confirmed_by).await {
        Ok(r) => r,
        Err(e) => {
            warn!(user = %plan.user, error = %e.detail, "containment failed");
            return format!("Nothing done: {}", escape_capped(&e.detail, 400));
        }
    };
    let account = account(data, plan);
    let outcome = iam_alarm_core::contain::Outcome {
        plan,
        account: &account,
        requester,
        approver,
        reason,
        steps: &report.steps,
        done: &report.done,
        already: report.already,
    };
    let message = iam_alarm_core::contain::result_message(&outcome, &alert.to_string());
    info!(user = %plan.user, confirmed_by, steps = report.steps.len(), "containment ran");
    match ctx
        .http
        .send_message(data.alert_channel, Vec::new(), &message)
        .await
    {
        Ok(_) => "Done: the result is under the alert.".to_owned(),
        Err(e) => {
            warn!(error = %e, "cannot post the containment's result");
            let steps: Vec<String> = report.steps.iter().map(Step::line).collect();
            format!(
                "Done, but the result could not be posted: {}",
                steps.join("\n")
            )
        }
    }
}

/// Undo exactly what a result did; the result says who undid it and how it went.
async fn undo(
    ctx: &serenity::Context,
    data: &Data,
    settings: &ContainSettings,
    result: &serenity::Message,
    done: &Done,
    by: u64,
) -> String {
    let steps = match settings.backend.undo(done, &by.to_string()).await {
        Ok(s) => s,
        Err(e) => return format!("Nothing undone: {}", escape_capped(&e.detail, 400)),
    };
    let now = chrono::Utc::now().timestamp();
    let mut embed = result.embeds.first().cloned().unwrap_or_default();
    let mut description = embed.description.take().unwrap_or_default();
    description.push_str(&format!("\n\n↩️ **Undone by <@{by}> <t:{now}:R>**\n"));
    description.push_str(&steps.iter().map(Step::line).collect::<Vec<_>>().join("\n"));
    embed.description = Some(iam_alarm_core::text::truncate(&description, 4000));
    let edit = serenity::EditMessage::new()
        .embed(serenity::CreateEmbed::from(embed))
        .components(Vec::new())
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    if let Err(e) = data.alert_channel.edit_message(ctx, result.id, edit).await {
        warn!(error = %e, "cannot note the undo on the result");
    }
    info!(user = %done.plan.user, by, "containment undone");
    "Undone: see the result under the alert.".to_owned()
}

async fn followup(
    ctx: &serenity::Context,
    submit: &serenity::ModalInteraction,
    text: &str,
) -> Result<(), Error> {
    let reply = serenity::CreateInteractionResponseFollowup::new()
        .content(text)
        .ephemeral(true)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    submit.create_followup(ctx, reply).await?;
    Ok(())
}

fn footer(message: &serenity::Message) -> Option<&str> {
    message
        .embeds
        .first()?
        .footer
        .as_ref()
        .map(|f| f.text.as_str())
}

fn account(data: &Data, plan: &Plan) -> String {
    let id = plan.account.clone().or_else(|| data.accounts.own());
    id.map_or_else(
        || "this account".to_owned(),
        |id| escape_capped(&data.accounts.label(&id), 80),
    )
}
