//! `/recent-changes [hours] [event]`: the watched IAM user changes of the last hours (default 24, at most 90
//! days): actor → target, time, outcome; paginated.

use chrono::Utc;
use iam_alarm_core::text::{code_capped, escape_capped};
use iam_alarm_core::{Action, Event};
use poise::serenity_prelude as serenity;

use crate::ports::{EventHistory, LookupAttribute};
use crate::render::{pager, send_page};
use crate::{Context, Data, Error};

pub const PER_PAGE: usize = 10;
/// CloudTrail event history keeps 90 days.
pub const MAX_HOURS: u32 = 90 * 24;
/// Events fetched at most (25 pages of LookupEvents at 2 calls per second: ~13 s).
const MAX_EVENTS: usize = 500;

/// The watched IAM user changes of the last hours.
#[poise::command(
    slash_command,
    rename = "recent-changes",
    check = "crate::permissions::is_responder",
    default_member_permissions = "ADMINISTRATOR"
)]
pub async fn recent_changes(
    ctx: Context<'_>,
    #[description = "How many hours back (default 24, at most 2160 = 90 days)"]
    #[min = 1]
    #[max = 2160]
    hours: Option<u32>,
    #[description = "Only this event, e.g. CreateUser"] event: Option<String>,
    #[description = "The account: name or id (default: the bot's own)"]
    #[autocomplete = "crate::accounts::autocomplete"]
    account: Option<String>,
) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let Some(account) = crate::accounts::chosen(ctx, account.as_deref()).await? else {
        return Ok(());
    };
    let event = match event.map(|e| e.trim().parse::<Action>()) {
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            // The message echoes what the member typed: it must not ping anyone (no reply does).
            return crate::render::answer(ctx, e.to_string()).await;
        }
        None => None,
    };
    let page = Page {
        page: 0,
        hours: hours.unwrap_or(24).clamp(1, MAX_HOURS),
        event,
        account,
    };
    let asked_by = ctx.author().id.to_string();
    let (embed, components) = build(ctx.data(), &page, &asked_by).await;
    send_page(ctx, embed, components).await
}

/// `rc:<page>:<hours>:<event or ->:<account or ->`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub page: usize,
    pub hours: u32,
    pub event: Option<Action>,
    /// `None`: the bot's own account.
    pub account: Option<String>,
}

impl Page {
    pub fn encode(&self) -> String {
        let event = self.event.map_or("-", |a| a.event_name());
        let account = crate::accounts::encode(self.account.as_deref());
        format!("rc:{}:{}:{event}:{account}", self.page, self.hours)
    }

    pub fn parse(id: &str) -> Option<Page> {
        let mut parts = id.strip_prefix("rc:")?.splitn(4, ':');
        let page = parts.next()?.parse().ok()?;
        let hours = parts.next()?.parse().ok()?;
        let event = match parts.next()? {
            "-" => None,
            name => Some(name.parse().ok()?),
        };
        let account = crate::accounts::decode(parts.next()?)?;
        Some(Page {
            page,
            hours,
            event,
            account,
        })
    }
}

/// One change: when, who, what, whom, how it ended — and the rule or snooze that suppressed its alert, if one
/// did (a snooze: one in force now that was already when it happened).
pub fn line(
    e: &Event,
    rules: &iam_alarm_core::rules::Rules,
    snoozes: &iam_alarm_core::snooze::Snoozes,
) -> String {
    let when = e
        .time
        .map_or_else(|| "—".to_owned(), |t| format!("<t:{}:f>", t.timestamp()));
    let target = e
        .target
        .as_ref()
        .map_or_else(|| "—".to_owned(), |t| escape_capped(&t.user_name, 64));
    let outcome = match &e.outcome {
        iam_alarm_core::event::Outcome::Success => "✅".to_owned(),
        iam_alarm_core::event::Outcome::Failure { code, .. } => {
            format!("❌ {}", code_capped(code, 40))
        }
    };
    let today = Utc::now().date_naive();
    let snoozed = |e: &Event| {
        let at = e.time?;
        snoozes.suppressing(&mut e.clone(), at)
    };
    let suppressed = match rules.apply(&mut e.clone(), today) {
        iam_alarm_core::rules::Verdict::Suppressed { rule } => {
            format!(" · suppressed by rule {}", escape_capped(&rule, 60))
        }
        _ => snoozed(e)
            .map(|s| format!(" · suppressed by {}", escape_capped(&s, 60)))
            .unwrap_or_default(),
    };
    format!(
        "{when} **{}** {} → **{target}** {outcome}{suppressed}",
        escape_capped(&e.actor.display(), 80),
        escape_capped(&e.event_name, 40),
    )
}

/// The page's watched events from CloudTrail's event history, newest first, and why the list is partial if it is.
async fn changes(
    data: &Data,
    history: &dyn EventHistory,
    page: &Page,
) -> (Vec<Event>, Option<String>) {
    let end = Utc::now();
    let start = end - chrono::Duration::hours(page.hours.into());
    let attribute = match page.event {
        Some(a) => LookupAttribute::EventName(a.event_name().to_owned()),
        None => LookupAttribute::EventSource(iam_alarm_core::watch::IAM_EVENT_SOURCE.to_owned()),
    };
    let outcome = history.lookup(attribute, start, end, MAX_EVENTS).await;
    let events = outcome
        .events
        .iter()
        .filter_map(|t| Event::from_json(t.record.as_deref()?).ok())
        .filter(|e| {
            e.action
                .is_some_and(|a| page.event.map_or(data.watched.contains(a), |w| w == a))
        })
        .collect();
    (events, outcome.partial)
}

pub(crate) async fn build(
    data: &Data,
    page: &Page,
    asked_by: &str,
) -> (serenity::CreateEmbed, Vec<serenity::CreateActionRow>) {
    let reader = match data
        .accounts
        .reader(page.account.as_deref(), Some(asked_by))
        .await
    {
        Ok(r) => r,
        Err(e) => return (crate::accounts::unreadable(&e.detail), Vec::new()),
    };
    let (events, partial) = changes(data, reader.history.as_ref(), page).await;
    let pages = events.len().div_ceil(PER_PAGE).max(1);
    let current = page.page.min(pages - 1);
    let lines: Vec<String> = events
        .iter()
        .skip(current * PER_PAGE)
        .take(PER_PAGE)
        .map(|e| line(e, &data.rules, &data.snoozes))
        .collect();
    let what = page
        .event
        .map_or_else(|| data.watched.to_string(), |a| a.event_name().to_owned());
    let account = page.account.clone().or_else(|| data.accounts.own());
    let place = account.map_or_else(String::new, |a| {
        format!(" in {}", escape_capped(&data.accounts.label(&a), 200))
    });
    let mut embed = serenity::CreateEmbed::new()
        .title(format!(
            "IAM user changes{place}, last {} h: {}",
            page.hours,
            events.len()
        ))
        .description(if lines.is_empty() {
            format!("No {what} events.")
        } else {
            lines.join("\n")
        })
        .colour(iam_alarm_core::render::colour::CHANGE);
    let mut footer = format!("Events: {what}");
    if let Some(why) = &partial {
        footer.push_str(&format!(" · partial result: {why}"));
    }
    embed = embed.footer(serenity::CreateEmbedFooter::new(
        iam_alarm_core::text::truncate(&footer, 2000),
    ));
    let link = |p: usize| {
        Page {
            page: p,
            ..page.clone()
        }
        .encode()
    };
    let prev = (current > 0).then(|| link(current - 1));
    let next = (current + 1 < pages).then(|| link(current + 1));
    (embed, pager(prev, next, format!("{}/{pages}", current + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_trip() {
        for p in [
            Page {
                page: 2,
                hours: 48,
                event: Some(Action::DeleteUser),
                account: Some("444455556666".into()),
            },
            Page {
                page: 0,
                hours: 24,
                event: None,
                account: None,
            },
        ] {
            assert_eq!(Page::parse(&p.encode()), Some(p));
        }
        assert_eq!(Page::parse("rc:0:24:Nope:-"), None);
        assert_eq!(Page::parse("rc:0:24:-:not-an-account"), None);
    }

    #[test]
    fn a_change_a_snooze_suppressed_is_marked_like_a_rule_s() {
        let record = serde_json::json!({
            "eventID": "e-1", "eventName": "CreateUser", "eventSource": "iam.amazonaws.com",
            "eventTime": "2026-11-20T09:00:00Z", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "userName": "alice",
                             "arn": "arn:aws:iam::111122223333:user/alice"},
            "requestParameters": {"userName": "svc-1"}
        });
        let event = iam_alarm_core::Event::from_json(&record.to_string()).unwrap();
        let rules = iam_alarm_core::rules::Rules::default();
        let snoozes = iam_alarm_core::snooze::Snoozes::default();
        assert!(!line(&event, &rules, &snoozes).contains("suppressed"));
        let made = chrono::DateTime::parse_from_rfc3339("2026-11-20T08:00:00Z").unwrap();
        let request = iam_alarm_core::snooze::Request {
            events: vec!["CreateUser".into()],
            actor_arn: "arn:aws:iam::111122223333:user/alice".into(),
            account: String::new(),
            reason: "onboarding".into(),
            duration: "1d".into(),
        };
        let (toml, until) = request.check(7, made.to_utc(), 7).unwrap();
        let mut posted = serde_json::to_value(iam_alarm_core::snooze::message(
            &toml,
            until,
            7,
            "onboarding",
        ))
        .unwrap();
        let ms = u64::try_from(made.timestamp_millis()).unwrap();
        posted["id"] = serde_json::json!(((ms - 1_420_070_400_000) << 22).to_string());
        let messages =
            iam_alarm_core::posted::PostedMessage::from_listing(serde_json::json!([posted]));
        snoozes.add(iam_alarm_core::snooze::Snooze::from_message(&messages[0]).unwrap());
        let marked = line(&event, &rules, &snoozes);
        assert!(marked.contains("· suppressed by snooze"), "{marked}");
    }
}
