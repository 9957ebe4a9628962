//! Small reply helpers shared by the handlers.

use poise::serenity_prelude as serenity;

use crate::{Context, Error};

/// The start of every slash-command answer: private. Nothing in it pings anyone (replies may echo input or
/// event text): the framework's `allowed_mentions` says so for every reply (see the gateway's options).
pub fn private_reply() -> poise::CreateReply {
    poise::CreateReply::default().ephemeral(true)
}

/// A private one-line answer to a slash command.
pub async fn answer(ctx: Context<'_>, text: impl Into<String>) -> Result<(), Error> {
    ctx.send(private_reply().content(text)).await?;
    Ok(())
}

/// A private page (an embed and its buttons) as the answer to a slash command.
pub async fn send_page(
    ctx: Context<'_>,
    embed: serenity::CreateEmbed,
    components: Vec<serenity::CreateActionRow>,
) -> Result<(), Error> {
    ctx.send(private_reply().embed(embed).components(components))
        .await?;
    Ok(())
}

/// A private one-line answer to a button press. Mentions inside never ping.
pub async fn ephemeral_component(
    ctx: &serenity::Context,
    press: &serenity::ComponentInteraction,
    text: &str,
) -> Result<(), Error> {
    press
        .create_response(
            ctx,
            serenity::CreateInteractionResponse::Message(
                serenity::CreateInteractionResponseMessage::new()
                    .content(text)
                    .ephemeral(true)
                    .allowed_mentions(serenity::CreateAllowedMentions::new()),
            ),
        )
        .await?;
    Ok(())
}

/// A private one-line answer to a submitted modal. Mentions inside never ping.
pub async fn ephemeral_modal(
    ctx: &serenity::Context,
    submit: &serenity::ModalInteraction,
    text: &str,
) -> Result<(), Error> {
    let reply = serenity::CreateInteractionResponseMessage::new()
        .content(text)
        .ephemeral(true)
        .allowed_mentions(serenity::CreateAllowedMentions::new());
    submit
        .create_response(ctx, serenity::CreateInteractionResponse::Message(reply))
        .await?;
    Ok(())
}

/// Previous / next buttons for a paginated reply (none when it all fits one page).
pub fn pager(
    prev: Option<String>,
    next: Option<String>,
    label: String,
) -> Vec<serenity::CreateActionRow> {
    if prev.is_none() && next.is_none() {
        return Vec::new();
    }
    let button = |id: Option<String>, fallback: &str, text: &str| {
        serenity::CreateButton::new(id.unwrap_or_else(|| fallback.to_owned()))
            .label(text)
            .style(serenity::ButtonStyle::Secondary)
    };
    let has_prev = prev.is_some();
    let has_next = next.is_some();
    vec![serenity::CreateActionRow::Buttons(vec![
        button(prev, "noop:prev", "◀ Previous").disabled(!has_prev),
        serenity::CreateButton::new("noop:page")
            .label(label)
            .style(serenity::ButtonStyle::Secondary)
            .disabled(true),
        button(next, "noop:next", "Next ▶").disabled(!has_next),
    ])]
}

/// One page of a paginated reply: its embed and its pager.
pub type PageView = (serenity::CreateEmbed, Vec<serenity::CreateActionRow>);

/// Turn a page in place: acknowledge the press at once (Discord's 3 seconds), then show what `page` builds.
pub async fn turn_page(
    ctx: &serenity::Context,
    press: &serenity::ComponentInteraction,
    page: impl std::future::Future<Output = Result<PageView, Error>>,
) -> Result<(), Error> {
    press
        .create_response(ctx, serenity::CreateInteractionResponse::Acknowledge)
        .await?;
    let (embed, components) = page.await?;
    press
        .edit_response(
            ctx,
            serenity::EditInteractionResponse::new()
                .allowed_mentions(serenity::CreateAllowedMentions::new())
                .embed(embed)
                .components(components),
        )
        .await?;
    Ok(())
}

/// A submitted modal's text input, by its `custom_id` (serenity 0.12 reads a modal's inputs from its action
/// rows; Discord's newer Label form would lose them, so modals here use action rows).
pub fn modal_value(submit: &serenity::ModalInteraction, id: &str) -> Option<String> {
    submit
        .data
        .components
        .iter()
        .flat_map(|row| &row.components)
        .find_map(|c| match c {
            serenity::ActionRowComponent::InputText(t) if t.custom_id == id => t.value.clone(),
            _ => None,
        })
}
