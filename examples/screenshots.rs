//! Writes the README's pictures as HTML pages — a routine alert, a critical root alert with its mention, a failed
//! attempt, an acknowledged alert, a digest, a change to the pipeline itself, an escalation, the watchdog's
//! "degraded" and "recovered", "was this you?" (the direct message, and the alert its actor confirmed) and a
//! snooze, and a quarantine requested, approved and done — drawn by `iam-alarm render --html`'s renderer.
//! `scripts/screenshots` turns them into PNGs with headless Chromium.

// A picture that cannot be drawn has nothing to show: it unwraps.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use iam_alarm::html::page;
use iam_alarm_core::ask;
use iam_alarm_core::check::Check;
use iam_alarm_core::contain;
use iam_alarm_core::digest::render_digests;
use iam_alarm_core::escalation::{followup, Policy};
use iam_alarm_core::message::{CreateMessage, EmbedField};
use iam_alarm_core::render::{colour, render_message, Mention, RenderOptions};
use iam_alarm_core::severity::Severity;
use iam_alarm_core::watchdog::Transition;
use iam_alarm_core::{classify, Event, WatchedEvents};
use serde_json::{json, Value};

const ROLE: u64 = 600_000_000_000_000_001;

fn record(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/records")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn event(record: &Value) -> Event {
    classify(&record.to_string(), &WatchedEvents::all()).unwrap()
}

/// The alert as it looks once Alice took it (what the Acknowledge button does to it).
fn acknowledged(mut m: CreateMessage) -> CreateMessage {
    let two_minutes_ago = chrono::Utc::now().timestamp() - 120;
    let embed = &mut m.embeds[0];
    embed.color = Some(colour::ACKNOWLEDGED);
    embed.fields.push(EmbedField {
        name: "Acknowledged".into(),
        value: format!("by <@500000000000000001> <t:{two_minutes_ago}:R>"),
        inline: false,
    });
    let button = &mut m.components[0].components[0];
    button.label = "Acknowledged".into();
    button.disabled = true;
    m
}

/// The alert as it looks once its actor answered "yes, it was me" (what the answer does to it).
fn confirmed(mut m: CreateMessage) -> CreateMessage {
    let a_minute_ago = chrono::Utc::now().timestamp() - 60;
    let alice = 500_000_000_000_000_001;
    m.embeds[0].fields.push(EmbedField {
        name: ask::FIELD.into(),
        value: ask::confirmed(alice, "new hire bob, ticket OPS-1", a_minute_ago),
        inline: false,
    });
    let mut m = acknowledged(m);
    m.embeds[0].fields.last_mut().unwrap().value =
        format!("by <@{alice}> (it was them) <t:{a_minute_ago}:R>");
    m
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("an output directory"));
    std::fs::create_dir_all(&out).unwrap();
    let opts = RenderOptions {
        mention: Some(Mention {
            role: ROLE,
            from: Severity::High,
        }),
        ..RenderOptions::default()
    };
    let routine = render_message(
        &event(&record("CreateUser-AssumedRole-session.json")),
        &opts,
    );
    let root = render_message(&event(&record("CreateUser-Root-no-eventID.json")), &opts);
    let failed = render_message(
        &event(&record("CreateUser-failed-AccessDenied.json")),
        &opts,
    );
    let tamper = render_message(&event(&record("StopLogging-IAMUser.json")), &opts);
    let burst: Vec<Event> = (0..24)
        .map(|n| {
            let mut r = record("CreateUser-AssumedRole-session.json");
            r["eventID"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
            r["requestParameters"]["userName"] = json!(format!("svc-build-{n:02}"));
            event(&r)
        })
        .collect();
    let refs: Vec<&Event> = burst.iter().collect();
    let digest = render_digests(&refs).remove(0).message;
    let policy = Policy {
        from: Severity::High,
        after: Duration::from_secs(900),
        max: 2,
        role: Some(ROLE),
    };
    let escalation = followup("1", 1, Duration::from_secs(900), &policy);
    let now = chrono::Utc::now().timestamp();
    let rule = "rule:eventbridge-iam-user-change";
    let rule_disabled = Check::fail(
        "EventBridge rule disabled: eventbridge-iam-user-change",
        "aws events enable-rule --name eventbridge-iam-user-change --region us-east-1",
    )
    .about(rule);
    let rule_back =
        Check::ok("rule eventbridge-iam-user-change is enabled in us-east-1").about(rule);
    let watchdog = vec![
        Transition::Began(rule_disabled).message(
            Some(Mention {
                role: ROLE,
                from: Severity::High,
            }),
            now - 600,
        ),
        Transition::Ended(rule_back).message(None, now),
    ];
    let question = ask::question(
        &event(&record("CreateUser-AssumedRole-session.json")),
        ask::AskId {
            answer: ask::Answer::Yes,
            alert: 1,
            person: 500_000_000_000_000_001,
            tamper: false,
        },
        "https://discord.com/channels/1/2/3",
    );
    let snooze_request = iam_alarm_core::snooze::Request {
        events: vec!["CreateUser".into()],
        actor_arn: "arn:aws:sts::123456789012:assumed-role/ci-deployer/terraform-run-42".into(),
        account: "123456789012".into(),
        reason: "migration week: ci-deployer rebuilds the service users".into(),
        duration: "1d".into(),
    };
    let (toml, until) = snooze_request
        .check(500_000_000_000_000_002, chrono::Utc::now(), 7)
        .unwrap();
    let snooze = iam_alarm_core::snooze::message(
        &toml,
        until,
        500_000_000_000_000_002,
        &snooze_request.reason,
    );
    // Containment: a quarantine requested, then done and approved.
    let plan = contain::Plan {
        action: contain::Containment::Quarantine,
        account: None,
        user: "backdoor".into(),
    };
    let (rita, sam) = (500_000_000_000_000_001, 500_000_000_000_000_002);
    let reason = "a fresh key on a user nobody knows";
    let request =
        contain::request_message(&plan, "prod (123456789012)", rita, reason, now + 900, "1");
    let done = contain::Done {
        plan: plan.clone(),
        attached: true,
        deactivated: vec!["AKIAEXAMPLEKEY001234".into()],
    };
    let steps = [
        contain::Step::Attached,
        contain::Step::Deactivated("AKIAEXAMPLEKEY001234".into()),
        contain::Step::AlreadyInactive("AKIAEXAMPLEKEY005678".into()),
    ];
    let mut approved = request.clone();
    approved.content = Some(format!("✅ Approved by <@{sam}>"));
    approved.components.clear();
    let result = contain::result_message(
        &contain::Outcome {
            plan: &plan,
            account: "prod (123456789012)",
            requester: rita,
            approver: Some(sam),
            reason,
            steps: &steps,
            done: &done,
            already: false,
        },
        "1",
    );
    let pages = [
        ("alert-routine", "A routine alert", vec![routine.clone()]),
        ("alert-root", "A critical root alert", vec![root.clone()]),
        ("alert-failed", "A failed attempt", vec![failed]),
        (
            "alert-acknowledged",
            "An acknowledged alert",
            vec![acknowledged(routine.clone())],
        ),
        ("digest", "A digest", vec![digest]),
        (
            "alert-tamper",
            "A change to the alert pipeline",
            vec![tamper],
        ),
        ("escalation", "An escalation", vec![root, escalation]),
        (
            "watchdog",
            "The watchdog: a part switched off, then back",
            watchdog,
        ),
        ("ask-dm", "Was this you? (a direct message)", vec![question]),
        (
            "alert-confirmed",
            "An alert its actor confirmed",
            vec![confirmed(routine)],
        ),
        (
            "snooze",
            "A snooze pinned in the alert channel",
            vec![snooze],
        ),
        ("contain-request", "A quarantine requested", vec![request]),
        (
            "contain-result",
            "The quarantine approved and done",
            vec![approved, result],
        ),
    ];
    for (file, title, messages) in pages {
        let path = out.join(format!("{file}.html"));
        std::fs::write(&path, page(title, &messages)).unwrap();
        println!("{}", path.display());
    }
}
