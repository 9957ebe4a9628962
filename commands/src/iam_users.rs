//! `/iam-users`: every IAM user with created time, password last used, active access keys and their last use,
//! and MFA; filters by name prefix and "created within"; paginated with buttons.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use iam_alarm_core::text::{code_capped, escape_capped, truncate};
use poise::serenity_prelude as serenity;

use crate::ports::{UserName, UserSummary};
use crate::render::{pager, send_page};
use crate::{Context, Data, Error};

/// Users per page: each costs a few IAM calls (keys, their last use, MFA), so only the shown page is detailed.
pub const PER_PAGE: usize = 8;

/// Every IAM user: created, password last used, access keys, MFA.
#[poise::command(
    slash_command,
    rename = "iam-users",
    check = "crate::permissions::is_responder",
    default_member_permissions = "ADMINISTRATOR"
)]
pub async fn iam_users(
    ctx: Context<'_>,
    #[description = "Only users whose name starts with this"] prefix: Option<String>,
    #[description = "Only users created within this many days"]
    #[min = 1]
    #[max = 3650]
    created_within_days: Option<u32>,
    #[description = "The account: name or id (default: the bot's own)"]
    #[autocomplete = "crate::accounts::autocomplete"]
    account: Option<String>,
) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let Some(account) = crate::accounts::chosen(ctx, account.as_deref()).await? else {
        return Ok(());
    };
    let page = Page {
        page: 0,
        days: created_within_days.unwrap_or(0),
        account,
        prefix: prefix.unwrap_or_default().chars().take(64).collect(),
    };
    let asked_by = ctx.author().id.to_string();
    let (embed, components) = build(ctx.data(), &page, &asked_by).await?;
    send_page(ctx, embed, components).await
}

/// A page of the listing, carried in the buttons' `custom_id`: `iu:<page>:<days>:<account or ->:<prefix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub page: usize,
    /// 0: no filter.
    pub days: u32,
    /// `None`: the bot's own account.
    pub account: Option<String>,
    pub prefix: String,
}

impl Page {
    pub fn encode(&self) -> String {
        let account = crate::accounts::encode(self.account.as_deref());
        let id = format!("iu:{}:{}:{account}:{}", self.page, self.days, self.prefix);
        truncate(&id, 100)
    }

    pub fn parse(id: &str) -> Option<Page> {
        let mut parts = id.strip_prefix("iu:")?.splitn(4, ':');
        Some(Page {
            page: parts.next()?.parse().ok()?,
            days: parts.next()?.parse().ok()?,
            account: crate::accounts::decode(parts.next()?)?,
            prefix: parts.next()?.to_owned(),
        })
    }
}

/// Filter, sort (newest first) and page the user list.
pub fn select(users: Vec<UserName>, page: &Page, now: DateTime<Utc>) -> Vec<UserName> {
    let mut users: Vec<UserName> = users
        .into_iter()
        .filter(|u| u.name.starts_with(&page.prefix))
        .filter(|u| {
            page.days == 0
                || u.created
                    .is_some_and(|c| now - c <= chrono::Duration::days(page.days.into()))
        })
        .collect();
    users.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
    users
}

pub(crate) async fn build(
    data: &Data,
    page: &Page,
    asked_by: &str,
) -> Result<(serenity::CreateEmbed, Vec<serenity::CreateActionRow>), Error> {
    let reader = match data
        .accounts
        .reader(page.account.as_deref(), Some(asked_by))
        .await
    {
        Ok(r) => r,
        Err(e) => return Ok((crate::accounts::unreadable(&e.detail), Vec::new())),
    };
    let all = reader.iam.list_users().await?;
    let total_users = all.len();
    let users = select(all, page, Utc::now());
    let pages = users.len().div_ceil(PER_PAGE).max(1);
    let current = page.page.min(pages - 1);
    let mut embed = serenity::CreateEmbed::new()
        .title(format!("IAM users: {} of {total_users}", users.len()))
        .colour(iam_alarm_core::render::colour::CHANGE);
    if let Some(account) = page.account.clone().or_else(|| data.accounts.own()) {
        let label = escape_capped(&data.accounts.label(&account), 200);
        embed = embed.title(format!(
            "IAM users in {label}: {} of {total_users}",
            users.len()
        ));
    }
    let mut filters = Vec::new();
    if !page.prefix.is_empty() {
        filters.push(format!(
            "name starts with {}",
            code_capped(&page.prefix, 70)
        ));
    }
    if page.days > 0 {
        filters.push(format!("created within {} days", page.days));
    }
    if !filters.is_empty() {
        embed = embed.description(filters.join(" · "));
    }
    if users.is_empty() {
        embed = embed.description("No IAM user matches.");
    }
    for user in users.iter().skip(current * PER_PAGE).take(PER_PAGE) {
        let summary = reader.iam.describe_user(user).await?;
        embed = embed.field(escape_capped(&summary.name, 200), describe(&summary), false);
    }
    let link = |p: usize| {
        Page {
            page: p,
            ..page.clone()
        }
        .encode()
    };
    let prev = (current > 0).then(|| link(current - 1));
    let next = (current + 1 < pages).then(|| link(current + 1));
    Ok((embed, pager(prev, next, format!("{}/{pages}", current + 1))))
}

fn ago(t: Option<DateTime<Utc>>, never: &str) -> String {
    t.map_or_else(|| never.to_owned(), |t| format!("<t:{}:R>", t.timestamp()))
}

pub fn describe(u: &UserSummary) -> String {
    let mut s = format!(
        "created {} · password used {} · MFA {}",
        ago(u.created, "—"),
        ago(u.password_last_used, "never"),
        if u.mfa { "✅ on" } else { "❌ off" }
    );
    let active: Vec<_> = u.keys.iter().filter(|k| k.active).collect();
    if active.is_empty() {
        s.push_str("\nno active access key");
    }
    for k in active {
        let _ = write!(
            s,
            "\nkey {} used {}",
            code_capped(&k.id, 40),
            ago(k.last_used, "never")
        );
    }
    let inactive = u.keys.iter().filter(|k| !k.active).count();
    if inactive > 0 {
        let _ = write!(s, "\n{inactive} inactive key(s)");
    }
    truncate(&s, 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_trip_and_fit() {
        let p = Page {
            page: 3,
            days: 30,
            account: Some("444455556666".into()),
            prefix: "ci-:x".into(),
        };
        assert_eq!(Page::parse(&p.encode()), Some(p));
        assert!(
            Page {
                page: 1,
                days: 0,
                account: Some("444455556666".into()),
                prefix: "x".repeat(64)
            }
            .encode()
            .len()
                <= 100
        );
    }

    #[test]
    fn select_filters_and_sorts_newest_first() {
        let now = Utc::now();
        let u = |n: &str, d: i64| UserName {
            name: n.into(),
            created: Some(now - chrono::Duration::days(d)),
            password_last_used: None,
        };
        let users = vec![u("ci-old", 100), u("alice", 1), u("ci-new", 2)];
        let page = Page {
            page: 0,
            days: 30,
            account: None,
            prefix: "ci-".into(),
        };
        let names: Vec<_> = select(users, &page, now)
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["ci-new"]);
    }
}
