//! Who may act, checked before anything else (and before any AWS call): the interaction must come from the one
//! server the bot serves (`DISCORD_GUILD_ID`) — never a DM or another server that invited the bot — and from a
//! member holding `RESPONDER_ROLE_ID` (unset: a member with Manage Server). Everyone else gets a private refusal.

use poise::serenity_prelude as serenity;

use crate::{Context, Data, Error};

/// Why an interaction is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A DM, or a server other than the one the bot serves.
    ElsewhereThanOurServer,
    /// In our server, but the member lacks the responder role (or Manage Server).
    NotAResponder(Option<serenity::RoleId>),
    /// An alert button on a message the bot did not post in the alert channel.
    NotOurAlert,
}

impl Refusal {
    pub fn text(&self) -> String {
        match self {
            Refusal::ElsewhereThanOurServer => {
                "This bot serves one Discord server only; it does not answer here.".to_owned()
            }
            Refusal::NotAResponder(Some(role)) => {
                format!("Only members with the <@&{role}> role can do this.")
            }
            Refusal::NotAResponder(None) => {
                "Only members with the Manage Server permission can do this.".to_owned()
            }
            Refusal::NotOurAlert => {
                "This button works only on iam-alarm's own alerts in the alert channel.".to_owned()
            }
        }
    }
}

/// The gate for every interaction: the right server first, then the right member.
pub fn admit(
    data: &Data,
    guild: Option<serenity::GuildId>,
    member: Option<&serenity::Member>,
) -> Result<(), Refusal> {
    if guild != Some(data.guild) {
        return Err(Refusal::ElsewhereThanOurServer);
    }
    let allowed = member.is_some_and(|member| match data.responder_role {
        Some(role) => member.roles.contains(&role),
        None => member
            .permissions
            .is_some_and(|p| p.manage_guild() || p.administrator()),
    });
    if allowed {
        Ok(())
    } else {
        Err(Refusal::NotAResponder(data.responder_role))
    }
}

/// Alert buttons act only on alerts: messages the bot itself posted in the alert channel.
pub fn admit_alert_button(
    data: &Data,
    press: &serenity::ComponentInteraction,
    bot: serenity::UserId,
) -> Result<(), Refusal> {
    if press.message.channel_id == data.alert_channel && press.message.author.id == bot {
        Ok(())
    } else {
        Err(Refusal::NotOurAlert)
    }
}

/// The poise check on every command.
pub async fn is_responder(ctx: Context<'_>) -> Result<bool, Error> {
    let member = match ctx {
        poise::Context::Application(app) => app.interaction.member.as_deref(),
        poise::Context::Prefix(_) => None,
    };
    let Err(refusal) = admit(ctx.data(), ctx.guild_id(), member) else {
        return Ok(true);
    };
    tracing::warn!(
        user = %ctx.author().id,
        guild = ?ctx.guild_id(),
        command = %ctx.command().name,
        ?refusal,
        "command refused"
    );
    ctx.send(crate::render::private_reply().content(refusal.text()))
        .await?;
    Ok(false)
}

/// Tell the presser privately why the button does nothing for them.
pub async fn refuse_component(
    ctx: &serenity::Context,
    press: &serenity::ComponentInteraction,
    refusal: Refusal,
) -> Result<(), Error> {
    tracing::warn!(
        user = %press.user.id,
        guild = ?press.guild_id,
        custom_id = %press.data.custom_id,
        ?refusal,
        "button press refused"
    );
    crate::render::ephemeral_component(ctx, press, &refusal.text()).await
}
