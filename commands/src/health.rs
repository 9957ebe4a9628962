//! `/health`: is the pipeline alive, end to end? Each line ✅/⚠️/❌ with a hint to fix it.

use std::time::Duration;

use iam_alarm_core::metrics::{now_unix, Snapshot};
use iam_alarm_core::text::human_duration;
use poise::serenity_prelude as serenity;

use crate::ports::{Check, CheckStatus};
use crate::{Context, Error};

/// Is the pipeline alive? Trail, rule, topic, queue and the bot itself.
#[poise::command(
    slash_command,
    check = "crate::permissions::is_responder",
    default_member_permissions = "ADMINISTRATOR"
)]
pub async fn health(ctx: Context<'_>) -> Result<(), Error> {
    ctx.defer_ephemeral().await?;
    let data = ctx.data();
    let mut checks = data.probe.check_pipeline().await;
    let m = data.metrics.snapshot();
    let uptime = now_unix() - m.started;
    let latency = ctx.ping().await;
    let mut bot = format!(
        "bot: up {}, gateway latency {} ms; posted {}, duplicates {}, dead-lettered {}",
        human_duration(uptime),
        latency.as_millis(),
        m.posted,
        m.duplicates,
        m.dead_lettered,
    );
    let last = m.last_alert;
    bot.push_str(&if last > 0 {
        format!("; last alert <t:{last}:R>")
    } else {
        "; no alert yet".to_owned()
    });
    checks.push(Check::ok(bot));
    checks.push(signatures(data.sns_verified, data.metrics.rejected_total()));
    checks.push(heartbeat(&m, data.heartbeat_max_age));
    checks.push(canary(
        &m,
        data.canary_max_age,
        data.metrics.latency_percentiles(),
    ));
    checks.push(watchdog(&m, data.watchdog));
    let today = chrono::Utc::now().date_naive();
    for rule in data.rules.expired(today) {
        checks.push(Check::warn(
            format!("alert rule {:?} expired: ignored", rule.name),
            "renew its `expires` date or remove it from ALERT_RULES",
        ));
    }
    let embed = render(&summarise_members(checks));
    ctx.send(crate::render::private_reply().embed(embed))
        .await?;
    Ok(())
}

/// The canary's age against `CANARY_MAX_AGE_S`, and how long detection takes.
fn canary(m: &Snapshot, max_age: Option<Duration>, latency: Option<(f64, f64)>) -> Check {
    let latency = latency.map_or_else(String::new, |(median, p95)| {
        format!(
            "; detection latency over the last day: median {}, 95th percentile {}",
            human_duration(median.round() as i64),
            human_duration(p95.round() as i64)
        )
    });
    let last = m.last_canary;
    let age = now_unix() - last;
    match max_age {
        None if last == 0 => Check::warn(
            format!("canary: not expected (CANARY_MAX_AGE_S unset), so nothing proves CloudTrail still reaches the bot{latency}"),
            "deploy the canary (Terraform canary_minutes) and set CANARY_MAX_AGE_S as bot_environment gives it",
        ),
        _ if last > 0 && max_age.is_none_or(|max| age <= max.as_secs() as i64) => Check::ok(format!(
            "canary: last one {} ago (<t:{last}:R>), through CloudTrail{latency}",
            human_duration(age)
        )),
        Some(max) if last == 0 && now_unix() - m.started <= max.as_secs() as i64 => Check::ok(format!(
            "canary: none yet since the bot started {} ago (one is due every few minutes){latency}",
            human_duration(now_unix() - m.started)
        )),
        _ => Check::fail(
            format!("canary: none for longer than CANARY_MAX_AGE_S: CloudTrail events may not reach the bot{latency}"),
            "see the watchdog's alert: it says whether heartbeats still arrive, and so where the path broke",
        ),
    }
}

/// Whether the bot believes only SNS.
fn signatures(verified: bool, rejected: u64) -> Check {
    if !verified {
        return Check::warn(
            "SNS signatures are not verified (SNS_SIGNATURES=off): anyone who may send to the queue could forge alerts and heartbeats",
            "outside an emulator, set SNS_SIGNATURES=verify and TOPIC_ARN (Terraform's bot_environment does)",
        );
    }
    let line = "input: only notifications signed by SNS from our topic are believed";
    match rejected {
        0 => Check::ok(line),
        n => Check::warn(
            format!("{line}; {n} other message(s) rejected since start"),
            "someone wrote to the queue directly: see the watchdog's alert for the sender",
        ),
    }
}

/// The newest heartbeat's age, against `HEARTBEAT_MAX_AGE_S`.
fn heartbeat(m: &Snapshot, max_age: Option<Duration>) -> Check {
    let last = m.last_heartbeat;
    let age = now_unix() - last;
    match max_age {
        _ if last > 0 && max_age.is_none_or(|max| age <= max.as_secs() as i64) => {
            Check::ok(format!("heartbeat: last one {} ago (<t:{last}:R>)", human_duration(age)))
        }
        None => Check::ok("heartbeat: not expected (HEARTBEAT_MAX_AGE_S unset)"),
        Some(max) if last == 0 => Check::warn(
            format!("heartbeat: none since the bot started {} ago", human_duration(now_unix() - m.started)),
            format!("one is due every few minutes; after {} without one the watchdog says the pipeline is silent", human_duration(max.as_secs() as i64)),
        ),
        Some(_) => Check::fail(
            format!("heartbeat: last one {} ago (<t:{last}:R>): nothing comes through EventBridge → SNS → SQS", human_duration(age)),
            "check the iam-alarm-heartbeat rule and the topic's subscription; the lines above name what broke",
        ),
    }
}

/// When the watchdog last looked and how many problems it has announced that have not recovered.
fn watchdog(m: &Snapshot, every: Option<Duration>) -> Check {
    let Some(every) = every else {
        return Check::warn(
            "watchdog: off (WATCHDOG_INTERVAL_S=0)",
            "nobody is told when the pipeline breaks unless they run /health: set WATCHDOG_INTERVAL_S",
        );
    };
    let every = human_duration(every.as_secs() as i64);
    match (m.watchdog_last_run, m.watchdog_problems) {
        (0, _) => Check::ok(format!("watchdog: every {every}, first look pending")),
        (last, 0) => Check::ok(format!(
            "watchdog: every {every}, last look <t:{last}:R>, nothing open"
        )),
        (last, n) => Check::warn(
            format!("watchdog: every {every}, last look <t:{last}:R>, {n} problem(s) announced and open"),
            "see the watchdog's alerts in the channel",
        ),
    }
}

/// With many member accounts, one line for them all and a line for each one with a problem: `/health` must read at
/// a glance and fit Discord's embed whatever the size of the Organization.
fn summarise_members(checks: Vec<Check>) -> Vec<Check> {
    const LISTED_AT_MOST: usize = 20;
    let is_member = |c: &Check| {
        c.key
            .as_deref()
            .is_some_and(|k| k.starts_with("forwarder:"))
    };
    let (members, mut out): (Vec<Check>, Vec<Check>) = checks.into_iter().partition(is_member);
    if members.len() <= 5 {
        out.extend(members);
        return out;
    }
    let total = members.len();
    let problems: Vec<Check> = members
        .into_iter()
        .filter(|c| c.status != CheckStatus::Ok)
        .collect();
    let fine = total - problems.len();
    if problems.is_empty() {
        out.push(Check::ok(format!(
            "{fine} of {total} member accounts forwarding"
        )));
        return out;
    }
    out.push(Check::fail(
        format!(
            "{fine} of {total} member accounts forwarding; {} with problems:",
            problems.len()
        ),
        "each is named below; the watchdog announced each one in the channel",
    ));
    let more = problems.len().saturating_sub(LISTED_AT_MOST);
    out.extend(problems.into_iter().take(LISTED_AT_MOST));
    if more > 0 {
        out.push(Check::warn(
            format!("… and {more} more"),
            "see the watchdog's messages",
        ));
    }
    out
}

pub fn render(checks: &[Check]) -> serenity::CreateEmbed {
    let worst = checks
        .iter()
        .map(|c| c.status)
        .fold(CheckStatus::Ok, |w, s| match (w, s) {
            (CheckStatus::Fail, _) | (_, CheckStatus::Fail) => CheckStatus::Fail,
            (CheckStatus::Warn | CheckStatus::Unknown, _)
            | (_, CheckStatus::Warn | CheckStatus::Unknown) => CheckStatus::Warn,
            _ => CheckStatus::Ok,
        });
    let mut text = String::new();
    for c in checks {
        let icon = match c.status {
            CheckStatus::Ok => "✅",
            CheckStatus::Warn => "⚠️",
            CheckStatus::Fail => "❌",
            CheckStatus::Unknown => "❔",
        };
        text.push_str(&format!("{icon} {}\n", c.what));
        if let Some(h) = &c.hint {
            text.push_str(&format!("  ↳ {h}\n"));
        }
    }
    let (title, colour) = match worst {
        CheckStatus::Ok => (
            "Pipeline healthy",
            iam_alarm_core::render::colour::ACKNOWLEDGED,
        ),
        CheckStatus::Warn | CheckStatus::Unknown => (
            "Pipeline works, with warnings",
            iam_alarm_core::render::colour::FAILED,
        ),
        CheckStatus::Fail => ("Pipeline broken", iam_alarm_core::render::colour::ROOT),
    };
    serenity::CreateEmbed::new()
        .title(title)
        .description(iam_alarm_core::text::truncate(&text, 4000))
        .colour(colour)
}
