//! The `account` option of `/iam-users` and `/recent-changes`: autocomplete over the known accounts, and
//! resolving what the member typed (a name or an id) to an account id.

use poise::serenity_prelude as serenity;

use crate::Context;

/// The known accounts whose name or id contains what the member typed; nothing outside our server or for
/// someone who may not run the commands (the names are internal).
pub async fn autocomplete(ctx: Context<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    let member = match ctx {
        poise::Context::Application(app) => app.interaction.member.as_deref(),
        poise::Context::Prefix(_) => None,
    };
    if crate::permissions::admit(ctx.data(), ctx.guild_id(), member).is_err() {
        return serenity::CreateAutocompleteResponse::new();
    }
    let partial = partial.to_lowercase();
    let choices = ctx
        .data()
        .accounts
        .known()
        .into_iter()
        .filter(|(_, label)| label.to_lowercase().contains(&partial))
        .take(25) // Discord's limits: 25 choices, names of at most 100 characters
        .map(|(id, label)| {
            serenity::AutocompleteChoice::new(iam_alarm_core::text::truncate(&label, 100), id)
        })
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// The account the member chose: `Some(None)` for the bot's own, `Some(Some(id))` for another; `None` when it
/// is unknown, which the member has been told privately.
pub async fn chosen(
    ctx: Context<'_>,
    input: Option<&str>,
) -> Result<Option<Option<String>>, crate::Error> {
    match resolve(ctx, input) {
        Ok(account) => Ok(Some(account)),
        Err(answer) => {
            crate::render::answer(ctx, answer).await?;
            Ok(None)
        }
    }
}

/// An account in a button's `custom_id`: its id, or `-` for the bot's own.
pub fn encode(account: Option<&str>) -> &str {
    account.unwrap_or("-")
}

/// The account part of a `custom_id` back; `None` when it is neither `-` nor an account id.
pub fn decode(part: &str) -> Option<Option<String>> {
    match part {
        "-" => Some(None),
        id if iam_alarm_core::accounts::is_account_id(id) => Some(Some(id.to_owned())),
        _ => None,
    }
}

/// The account id for what the member chose or typed; `Err` is the private answer for an unknown account.
fn resolve(ctx: Context<'_>, input: Option<&str>) -> Result<Option<String>, String> {
    let Some(input) = input.map(str::trim).filter(|i| !i.is_empty()) else {
        return Ok(None);
    };
    ctx.data().accounts.resolve(input).map(Some).ok_or_else(|| {
        let known: Vec<String> = ctx
            .data()
            .accounts
            .known()
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        format!(
            "Unknown account {}. Known: {}.",
            iam_alarm_core::text::code_capped(input, 80),
            if known.is_empty() {
                "none (set ACCOUNT_NAMES or ORGANIZATION_LOOKUP)".to_owned()
            } else {
                iam_alarm_core::text::escape_capped(&known.join(", "), 1500)
            }
        )
    })
}

/// An embed saying why an account cannot be read (the reader role refused, or none is set).
pub fn unreadable(why: &str) -> serenity::CreateEmbed {
    serenity::CreateEmbed::new()
        .title("Cannot read that account")
        .description(iam_alarm_core::text::escape_capped(why, 3000))
        .colour(iam_alarm_core::render::colour::FAILED)
}
