//! Property test: hostile, long, multi-byte text in every field still renders to a payload Discord accepts,
//! with Markdown escaped and nobody pinged.

use iam_alarm_core::message::CreateMessage;
use iam_alarm_core::render::{render_message, Destination, RenderOptions};
use iam_alarm_core::{classify, Action, WatchedEvents};
use proptest::prelude::*;
use serde_json::json;

fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("@everyone".to_owned()),
        Just("@here".to_owned()),
        Just("<@123456789012345678>".to_owned()),
        Just("<@&42>".to_owned()),
        Just("<#7>".to_owned()),
        Just("**".to_owned()),
        Just("`".to_owned()),
        Just("```".to_owned()),
        Just("\\".to_owned()),
        Just("[click](https://evil.example)".to_owned()),
        Just("# ".to_owned()),
        Just("> ".to_owned()),
        Just("\n".to_owned()),
        Just("||".to_owned()),
        Just("😀".to_owned()),
        Just("👩‍👩‍👧".to_owned()),
        Just("é".to_owned()),
        Just("한국어".to_owned()),
        any::<char>().prop_map(String::from),
        "[a-zA-Z0-9+=,.@_-]{1,40}",
    ];
    prop::collection::vec(piece, 0..300).prop_map(|v| v.concat())
}

fn record(action: Action, s: &[String]) -> String {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": s[0], "arn": s[1], "userName": s[2], "principalId": s[3], "accessKeyId": s[4],
            "accountId": s[5], "invokedBy": s[6],
            "sessionContext": {"sessionIssuer": {"userName": s[7]}, "attributes": {"mfaAuthenticated": s[8]}},
        },
        "eventTime": s[9], "eventSource": "iam.amazonaws.com", "eventName": action.event_name(),
        "awsRegion": s[10], "sourceIPAddress": s[11], "userAgent": s[12],
        "requestParameters": {"userName": s[13], "policyArn": s[14], "groupName": s[15], "policyName": s[16],
            "accessKeyId": s[17], "status": s[18]},
        "responseElements": {"user": {"arn": s[19], "userId": s[20]}},
        "errorCode": s[21], "errorMessage": s[22], "eventID": s[23], "recipientAccountId": s[24],
    })
    .to_string()
}

/// Splits text the way Discord reads it: (prose outside code spans, number of unescaped backticks).
/// Outside a code span a backslash escapes the next character; inside one it is literal.
fn scan(text: &str) -> (String, usize) {
    let (mut prose, mut ticks, mut in_code, mut chars) = (String::new(), 0, false, text.chars());
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                ticks += 1;
                in_code = !in_code;
            }
            '\\' if !in_code => {
                prose.push('\\');
                prose.extend(chars.next());
            }
            c if !in_code => prose.push(c),
            _ => {}
        }
    }
    (prose, ticks)
}

fn texts(m: &CreateMessage) -> Vec<String> {
    let mut t = vec![m.content.clone().unwrap_or_default()];
    for e in &m.embeds {
        t.extend(e.title.clone());
        t.extend(e.description.clone());
        for f in &e.fields {
            t.push(f.name.to_string());
            t.push(f.value.clone());
        }
    }
    t
}

fn check(m: &CreateMessage) {
    assert_eq!(m.limit_violations(), Vec::<String>::new());
    assert!(m.allowed_mentions.parse.is_empty());
    // Only the responder role may be pinged, never a user, `@everyone` or `@here`.
    assert!(m.allowed_mentions.roles.iter().all(|r| r == "42"));
    // Footers are plain text in Discord (no Markdown, no mentions rendered), so they need no escaping.
    for text in texts(m) {
        // Our own mention of the responder role leads the content; nothing else may mention.
        let text = text.strip_prefix("<@&42> ").unwrap_or(&text).to_owned();
        // A mass mention outside a code span is escaped (`\@everyone` shows the words and pings nobody).
        let (prose, _) = scan(&text);
        for mention in ["@everyone", "@here"] {
            for (at, _) in prose.match_indices(mention) {
                assert!(
                    prose[..at].ends_with('\\'),
                    "unescaped {mention} in {prose}"
                );
            }
        }
        for c in text.chars() {
            assert!(
                !iam_alarm_core::text::is_invisible_format(c),
                "raw {c:?} in {text}"
            );
        }
        // Code spans must be balanced, or user text could end one and start Markdown.
        for line in text.split('\n') {
            let (prose, ticks) = scan(line);
            assert_eq!(ticks % 2, 0, "unbalanced code span: {line}");
            let mut chars = prose.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '<' | '[' | ']' | '|' | '~' | '_' => panic!("unescaped {c:?} in {prose}"),
                    _ => {}
                }
            }
        }
    }
    for row in &m.components {
        for b in &row.components {
            if let Some(id) = &b.custom_id {
                assert!(id.len() <= 100);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn hostile_fields_render_within_limits(
        action in prop::sample::select(Action::ALL.to_vec()),
        strings in prop::collection::vec(hostile(), 25),
    ) {
        let body = record(action, &strings);
        let event = classify(&body, &WatchedEvents::all()).expect("a lifecycle event alerts");
        for destination in [Destination::Bot, Destination::Webhook] {
            let mention = Some(iam_alarm_core::render::Mention { role: 42, from: iam_alarm_core::severity::Severity::High });
            let m = render_message(&event, &RenderOptions { timezone: Some(chrono_tz::Asia::Tokyo), destination, mention, contain: true });
            check(&m);
            // And it survives a JSON round trip unchanged (what Discord receives is what we built).
            let back: CreateMessage = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            prop_assert_eq!(back, m);
        }
    }
}
