//! Who may act: members holding `RESPONDER_ROLE_ID`, or (unset) members with Manage Server. Everyone else gets
//! a private refusal.

use poise::serenity_prelude as serenity;

use crate::{Context, Error};

pub fn may_act(
    member: Option<&serenity::Member>,
    responder_role: Option<serenity::RoleId>,
) -> bool {
    let Some(member) = member else {
        return false; // not in a server (a DM): nobody to check against
    };
    match responder_role {
        Some(role) => member.roles.contains(&role),
        None => member
            .permissions
            .is_some_and(|p| p.manage_guild() || p.administrator()),
    }
}

fn refusal(responder_role: Option<serenity::RoleId>) -> String {
    match responder_role {
        Some(role) => format!("Only members with the <@&{role}> role can do this."),
        None => "Only members with the Manage Server permission can do this.".to_owned(),
    }
}

/// The poise check on every command.
pub async fn is_responder(ctx: Context<'_>) -> Result<bool, Error> {
    let member = match ctx {
        poise::Context::Application(app) => app.interaction.member.as_deref(),
        poise::Context::Prefix(_) => None,
    };
    if may_act(member, ctx.data().responder_role) {
        return Ok(true);
    }
    ctx.send(
        poise::CreateReply::default()
            .content(refusal(ctx.data().responder_role))
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
    .await?;
    Ok(false)
}

pub async fn refuse_component(
    ctx: &serenity::Context,
    press: &serenity::ComponentInteraction,
    responder_role: Option<serenity::RoleId>,
) -> Result<(), Error> {
    crate::render::ephemeral_component(ctx, press, &refusal(responder_role)).await
}
