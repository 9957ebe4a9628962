//! "Was this you?" on Discord (the words and states: `iam_alarm_core::ask`). After an alert is posted, the person
//! who acted (`PEOPLE`) gets a direct message with **Yes, it was me** and **No, it wasn't me**; their answer is
//! written on the alert. Yes asks for a reason in a modal and counts as the acknowledgement (unless
//! `ASK_CONFIRM_ACKS=false`, or the alert is about the pipeline itself); No makes the alert critical and calls
//! the responders under it at once. Buttons and modal carry the alert and the person, so answers work after a
//! restart; only that person may answer, once.

use std::sync::Arc;
use std::time::Duration;

use iam_alarm_core::ask::{self, Answer, AskId, State, FIELD};
use iam_alarm_core::event::Event;
use iam_alarm_core::people::People;
use iam_alarm_core::render::colour;
use iam_alarm_core::severity::Severity;
use iam_alarm_core::text::escape_capped;
use poise::serenity_prelude as serenity;
use tracing::{info, warn};

use crate::{Data, Error};

/// Who is asked, about what (`PEOPLE`, `ASK_SEVERITY`, `ASK_TIMEOUT_S`, `ASK_CONFIRM_ACKS`).
#[derive(Debug)]
pub struct AskSettings {
    pub people: People,
    /// Alerts at least this severe ask (tamper alerts always do).
    pub from: Severity,
    /// How long a question waits before the alert says "no answer".
    pub timeout: Duration,
    /// Whether a confirmation acknowledges the alert.
    pub confirm_acks: bool,
}

/// An alert just posted (its message id), whose actor may be asked.
#[derive(Debug, Clone)]
pub struct Question {
    pub event: Event,
    pub alert: u64,
}

/// Asks the person who acted, and writes on the alert what came of it.
pub struct Asker {
    http: Arc<serenity::Http>,
    guild: serenity::GuildId,
    channel: serenity::ChannelId,
    settings: Arc<AskSettings>,
    /// Shared with the Acknowledge button: one edit of an alert at a time.
    edits: Arc<tokio::sync::Mutex<()>>,
}

impl Asker {
    pub fn new(
        http: Arc<serenity::Http>,
        guild: serenity::GuildId,
        channel: serenity::ChannelId,
        settings: Arc<AskSettings>,
        edits: Arc<tokio::sync::Mutex<()>>,
    ) -> Asker {
        Asker {
            http,
            guild,
            channel,
            settings,
            edits,
        }
    }

    /// How long a question waits for its answer.
    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// Ask, when the file names the actor and the alert is severe enough (or about the pipeline).
    pub async fn ask(&self, question: &Question) {
        let event = &question.event;
        let Some(person) = self.settings.people.who(&event.actor) else {
            return;
        };
        let tamper = event.tamper.is_some();
        if event.severity < self.settings.from && !tamper {
            return;
        }
        let id = AskId {
            answer: Answer::Yes,
            alert: question.alert,
            person,
            tamper,
        };
        let value = match self.send(event, id).await {
            Ok(()) => {
                info!(
                    alert = question.alert,
                    person, "asked the actor: was this you?"
                );
                ask::asked(person, chrono::Utc::now().timestamp())
            }
            Err(e) => {
                // Never retried: a closed inbox stays closed, and the alert says so.
                warn!(alert = question.alert, person, error = %e, "cannot ask the actor");
                ask::undeliverable(person, &why(&e))
            }
        };
        let edited = edit_alert(&self.http, self.channel, question.alert, &self.edits, |m| {
            Some(serenity::EditMessage::new().embeds(with_field(m, FIELD, &value)))
        })
        .await;
        if let Err(e) = edited {
            warn!(alert = question.alert, error = %e, "cannot note the question on the alert");
        }
    }

    async fn send(&self, event: &Event, id: AskId) -> Result<(), serenity::Error> {
        let dm = serenity::UserId::new(id.person)
            .create_dm_channel(&*self.http)
            .await?;
        let link = format!(
            "https://discord.com/channels/{}/{}/{}",
            self.guild, self.channel, id.alert
        );
        let question = ask::question(event, id, &link);
        self.http.send_message(dm.id, Vec::new(), &question).await?;
        Ok(())
    }

    /// Note that a question waited its time without an answer (a late answer is still taken).
    pub async fn no_answer(&self, alert: u64, person: u64) {
        let waited = self.settings.timeout.as_secs();
        let edited = edit_alert(&self.http, self.channel, alert, &self.edits, |m| {
            let still_waiting = matches!(state_of(m), Some(State::Waiting { .. }));
            still_waiting.then(|| {
                let value = ask::no_answer(person, waited);
                serenity::EditMessage::new().embeds(with_field(m, FIELD, &value))
            })
        })
        .await;
        match edited {
            Ok(true) => info!(alert, person, "no answer to the question"),
            Ok(false) => {}
            Err(e) => warn!(alert, error = %e, "cannot note the unanswered question"),
        }
    }
}

/// A press of Yes or No in the direct message.
pub async fn press(
    ctx: &serenity::Context,
    data: &Data,
    press: &serenity::ComponentInteraction,
    id: AskId,
) -> Result<(), Error> {
    if let Some(refusal) = refusal(data, press.user.id, id) {
        return crate::render::ephemeral_component(ctx, press, &refusal).await;
    }
    match id.answer {
        Answer::Yes => {
            // A modal must be the first response to the click.
            let modal = reason_modal(id.with(Answer::Reason));
            press
                .create_response(ctx, serenity::CreateInteractionResponse::Modal(modal))
                .await?;
            Ok(())
        }
        Answer::No => {
            let person = id.person;
            let at = chrono::Utc::now().timestamp();
            let answered = answer_on_alert(ctx, data, id, |m| {
                serenity::EditMessage::new()
                    .content(critical_content(&m.content))
                    .embeds(critical(m, &ask::denied(person, at)))
            })
            .await?;
            if !answered {
                return crate::render::ephemeral_component(
                    ctx,
                    press,
                    "You have already answered.",
                )
                .await;
            }
            call_the_responders(ctx, data, id).await;
            info!(alert = id.alert, person, "the actor says it was not them");
            thank(
                ctx,
                press,
                "🚨 Thank you — the responders were called. Please stay reachable.",
            )
            .await
        }
        Answer::Reason => Ok(()),
    }
}

/// The reason modal, submitted.
pub async fn submit(
    ctx: &serenity::Context,
    data: &Data,
    submit: &serenity::ModalInteraction,
    id: AskId,
) -> Result<(), Error> {
    if let Some(refusal) = refusal(data, submit.user.id, id) {
        return crate::render::ephemeral_modal(ctx, submit, &refusal).await;
    }
    let reason = crate::render::modal_value(submit, REASON_INPUT).unwrap_or_default();
    if reason.trim().is_empty() {
        return crate::render::ephemeral_modal(
            ctx,
            submit,
            "A reason is required: press **Yes, it was me** again.",
        )
        .await;
    }
    let acknowledges = data.ask.as_ref().is_some_and(|s| s.confirm_acks) && !id.tamper;
    let (person, at) = (id.person, chrono::Utc::now().timestamp());
    let answered = answer_on_alert(ctx, data, id, |m| {
        let value = ask::confirmed(person, &reason, at);
        if !acknowledges {
            return serenity::EditMessage::new().embeds(with_field(m, FIELD, &value));
        }
        let mut noted = m.clone();
        if let Some(first) = noted.embeds.first_mut() {
            set_field(first, FIELD, &value);
        }
        let who = format!("by <@{person}> (it was them) <t:{at}:R>");
        let (embeds, components) = crate::acknowledge::acknowledged(&noted, &who);
        serenity::EditMessage::new()
            .embeds(embeds)
            .components(components)
    })
    .await?;
    if !answered {
        return crate::render::ephemeral_modal(ctx, submit, "You have already answered.").await;
    }
    info!(alert = id.alert, person, "the actor confirmed it was them");
    let text = format!(
        "✅ Thank you — noted on the alert: {}",
        escape_capped(reason.trim(), ask::REASON_MAX)
    );
    let update = serenity::CreateInteractionResponseMessage::new()
        .content(text)
        .components(Vec::new())
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    submit
        .create_response(
            ctx,
            serenity::CreateInteractionResponse::UpdateMessage(update),
        )
        .await?;
    Ok(())
}

/// Why this user may not answer this question now, if they may not.
fn refusal(data: &Data, user: serenity::UserId, id: AskId) -> Option<String> {
    if data.ask.is_none() {
        return Some("The bot does not ask about alerts any more (PEOPLE is unset).".to_owned());
    }
    if user.get() != id.person {
        return Some(
            "This question is for someone else: only the person asked can answer it.".to_owned(),
        );
    }
    None
}

/// Write an answer on the alert, if its question is still open; `false` when it was answered already.
async fn answer_on_alert(
    ctx: &serenity::Context,
    data: &Data,
    id: AskId,
    edit: impl FnOnce(&serenity::Message) -> serenity::EditMessage,
) -> Result<bool, Error> {
    let open = |m: &serenity::Message| state_of(m).is_some_and(|s| s.open());
    let edited = edit_alert(
        &ctx.http,
        data.alert_channel,
        id.alert,
        &data.alert_edits,
        |m| open(m).then(|| edit(m)),
    )
    .await?;
    Ok(edited)
}

/// The reply under the alert that calls the responders at once.
async fn call_the_responders(ctx: &serenity::Context, data: &Data, id: AskId) {
    let role = data.responder_role.map(serenity::RoleId::get);
    let mentions = serenity::CreateAllowedMentions::new().roles(role);
    let reply = serenity::CreateMessage::new()
        .content(ask::not_me_call(id.person, role))
        .reference_message((data.alert_channel, serenity::MessageId::new(id.alert)))
        .allowed_mentions(mentions);
    if let Err(e) = data.alert_channel.send_message(ctx, reply).await {
        warn!(alert = id.alert, error = %e, "cannot call the responders under the alert");
    }
}

/// The answer's acknowledgement in the direct message: the buttons go, the thanks stays.
async fn thank(
    ctx: &serenity::Context,
    press: &serenity::ComponentInteraction,
    text: &str,
) -> Result<(), Error> {
    let update = serenity::CreateInteractionResponseMessage::new()
        .content(text)
        .components(Vec::new())
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    press
        .create_response(
            ctx,
            serenity::CreateInteractionResponse::UpdateMessage(update),
        )
        .await?;
    Ok(())
}

/// The reason modal: one required paragraph of at most `REASON_MAX` characters.
fn reason_modal(id: AskId) -> serenity::CreateModal {
    let input = serenity::CreateInputText::new(
        serenity::InputTextStyle::Paragraph,
        "What was it for?",
        REASON_INPUT,
    )
    .required(true)
    .max_length(ask::REASON_MAX as u16)
    .placeholder("new hire bob, ticket OPS-123");
    serenity::CreateModal::new(id.encode(), "Yes, it was me")
        .components(vec![serenity::CreateActionRow::InputText(input)])
}

const REASON_INPUT: &str = "reason";

/// Where the alert's question stands.
fn state_of(message: &serenity::Message) -> Option<State> {
    let field = message
        .embeds
        .first()?
        .fields
        .iter()
        .find(|f| f.name == FIELD)?;
    State::of(&field.value)
}

/// Re-read the alert and edit it, one edit at a time (an answer and a press of Acknowledge edit the same
/// message). `change` decides from the current message; `None`: nothing to do. `true` when it was edited.
async fn edit_alert(
    http: &serenity::Http,
    channel: serenity::ChannelId,
    alert: u64,
    lock: &tokio::sync::Mutex<()>,
    change: impl FnOnce(&serenity::Message) -> Option<serenity::EditMessage>,
) -> Result<bool, serenity::Error> {
    let _turn = lock.lock().await;
    let current = channel
        .message(http, serenity::MessageId::new(alert))
        .await?;
    let Some(edit) = change(&current) else {
        return Ok(false);
    };
    let edit = edit.allowed_mentions(serenity::CreateAllowedMentions::new());
    channel
        .edit_message(http, serenity::MessageId::new(alert), edit)
        .await?;
    Ok(true)
}

/// The alert's embeds, the first with `name` set to `value` (replaced where it was, else added).
fn with_field(message: &serenity::Message, name: &str, value: &str) -> Vec<serenity::CreateEmbed> {
    edited_embeds(message, |first| set_field(first, name, value))
}

/// The alert's embeds as critical, the question's field saying why: red, and the Severity field raised.
fn critical(message: &serenity::Message, value: &str) -> Vec<serenity::CreateEmbed> {
    let severity = format!(
        "**{}** — the actor says it was not them",
        Severity::Critical
    );
    let embeds = edited_embeds(message, |first| {
        set_field(first, FIELD, value);
        if let Some(f) = first.fields.iter_mut().find(|f| f.name == "Severity") {
            f.value = severity;
        }
    });
    embeds.into_iter().map(|e| e.colour(colour::ROOT)).collect()
}

fn edited_embeds(
    message: &serenity::Message,
    edit_first: impl FnOnce(&mut serenity::Embed),
) -> Vec<serenity::CreateEmbed> {
    let mut embeds = message.embeds.clone();
    if let Some(first) = embeds.first_mut() {
        edit_first(first);
    }
    embeds
        .into_iter()
        .map(serenity::CreateEmbed::from)
        .collect()
}

fn set_field(embed: &mut serenity::Embed, name: &str, value: &str) {
    match embed.fields.iter_mut().find(|f| f.name == name) {
        Some(f) => f.value = value.to_owned(),
        None => embed
            .fields
            .push(serenity::EmbedField::new(name, value, false)),
    }
}

/// The alert's first line with its severity word raised: "🚨 `critical` **…**" (escalation reads it).
fn critical_content(content: &str) -> String {
    let mut parts: Vec<&str> = content.splitn(3, '`').collect();
    if parts.len() == 3 && parts[1].parse::<Severity>().is_ok() {
        parts[1] = "critical";
        return parts.join("`");
    }
    content.to_owned()
}

/// A Discord refusal in a few words for the alert ("Cannot send messages to this user").
fn why(e: &serenity::Error) -> String {
    match e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
            r.error.message.clone()
        }
        other => other.to_string(),
    }
}
