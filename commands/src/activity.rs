//! The Recent activity button: the actor's CloudTrail events over the last hours, newest first, privately.
//! It defers at once (Discord's 3-second deadline) and follows up when the lookups are done.

use std::fmt::Write;

use chrono::Utc;
use iam_alarm_core::buttons::{Activity, ActivityLookup};
use iam_alarm_core::text::{code_capped, escape_capped, truncate};
use poise::serenity_prelude as serenity;

use crate::ports::{LookupAttribute, LookupOutcome, TrailEvent};
use crate::{Data, Error};

/// Events shown at most (the lookup stops there).
const MAX_EVENTS: usize = 40;

pub async fn press(
    ctx: &serenity::Context,
    data: &Data,
    press: &serenity::ComponentInteraction,
    request: Activity,
) -> Result<(), Error> {
    press.defer_ephemeral(ctx).await?;
    let Activity { lookup, account } = request;
    let end = Utc::now();
    let start = end
        - chrono::Duration::from_std(data.activity_window).unwrap_or(chrono::Duration::hours(24));
    let attribute = match &lookup {
        ActivityLookup::AccessKey(k) => LookupAttribute::AccessKeyId(k.clone()),
        ActivityLookup::UserName(u) => LookupAttribute::Username(u.clone()),
    };
    // The account comes from the button, which the bot wrote, never from text an event could steer; and only
    // an account the bot knows is read (another one through the reader role).
    let known = |a: &str| data.accounts.known().iter().any(|(id, _)| id == a);
    let readable = match &account {
        Some(a) if !known(a) && data.accounts.own().as_deref() != Some(a.as_str()) => Err(format!(
            "Account {a} is not one this bot watches (its own, ACCOUNT_NAMES or the Organization): not read."
        )),
        _ => Ok(()),
    };
    let reader = match readable {
        Ok(()) => {
            let asked_by = press.user.id.to_string();
            data.accounts
                .reader(account.as_deref(), Some(&asked_by))
                .await
        }
        Err(why) => Err(crate::ports::QueryError::new(why)),
    };
    let embed = match reader {
        Ok(reader) => {
            let outcome = reader
                .history
                .lookup(attribute, start, end, MAX_EVENTS)
                .await;
            let hours = data.activity_window.as_secs() / 3600;
            let place = account.or_else(|| data.accounts.own());
            let place = place.map(|a| data.accounts.label(&a));
            render(&lookup, hours, place.as_deref(), &outcome)
        }
        Err(e) => crate::accounts::unreadable(&e.detail),
    };
    press
        .edit_response(
            ctx,
            serenity::EditInteractionResponse::new()
                .embed(embed)
                .allowed_mentions(serenity::CreateAllowedMentions::new()),
        )
        .await?;
    Ok(())
}

/// IAM calls that change something (not Get/List/Generate…): highlighted.
pub fn changes_iam(e: &TrailEvent) -> bool {
    e.source == "iam.amazonaws.com"
        && !["Get", "List", "Generate", "Simulate"]
            .iter()
            .any(|p| e.name.starts_with(p))
}

fn error_code(e: &TrailEvent) -> Option<String> {
    let record: serde_json::Value = serde_json::from_str(e.record.as_deref()?).ok()?;
    record["errorCode"].as_str().map(str::to_owned)
}

/// `account`: "staging (444455556666)", shown in the title when known.
pub fn render(
    lookup: &ActivityLookup,
    hours: u64,
    account: Option<&str>,
    outcome: &LookupOutcome,
) -> serenity::CreateEmbed {
    let who = match lookup {
        ActivityLookup::AccessKey(k) => format!("session {}", code_capped(k, 40)),
        ActivityLookup::UserName(u) => escape_capped(u, 80),
    };
    let mut text = String::new();
    if outcome.events.is_empty() {
        text.push_str("No CloudTrail events found.");
    }
    for e in &outcome.events {
        let when = e
            .time
            .map_or_else(|| "—".to_owned(), |t| format!("<t:{}:f>", t.timestamp()));
        let name = escape_capped(&e.name, 60);
        let name = if changes_iam(e) {
            format!("🔴 **{name}**")
        } else {
            name
        };
        let mut line = format!(
            "{when} {name} · {} · {}",
            escape_capped(&e.source, 40),
            escape_capped(&e.region, 20)
        );
        if let Some(code) = error_code(e) {
            let _ = write!(line, " · ❌ {}", code_capped(&code, 60));
        }
        line.push('\n');
        if text.len() + line.len() > 3800 {
            text.push('…');
            break;
        }
        text.push_str(&line);
    }
    let mut embed = serenity::CreateEmbed::new()
        .title(truncate(
            &match account {
                Some(a) => format!(
                    "Recent activity in {}: last {hours} h",
                    escape_capped(a, 120)
                ),
                None => format!("Recent activity: last {hours} h"),
            },
            256,
        ))
        .description(format!("Actor: {who}\n\n{text}"));
    if let Some(why) = &outcome.partial {
        embed = embed.footer(serenity::CreateEmbedFooter::new(truncate(
            &format!("Partial result: {why}"),
            2000,
        )));
    }
    embed
}
