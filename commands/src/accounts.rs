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
        .take(25) // Discord's limit
        .map(|(id, label)| serenity::AutocompleteChoice::new(label, id))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// The account id for what the member chose or typed; `Err` is the private answer for an unknown account.
pub fn resolve(ctx: Context<'_>, input: Option<&str>) -> Result<Option<String>, String> {
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
