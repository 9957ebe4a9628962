//! `iam-alarm render` as a user runs it: exit codes, stdout, stderr.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use iam_alarm_testkit::support::{
    corpus_dir, corpus_records, event_pattern, own_fixture, repo_root,
};

fn render(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
        .arg("render")
        .args(args)
        .env_remove("WATCHED_EVENTS")
        .env_remove("ALERT_TIMEZONE")
        .env_remove("RESPONDER_ROLE_ID")
        .env_remove("MENTION_SEVERITY")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A configuration error exits before reading the input: its closed pipe is no failure of the test.
    let written = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// `render` that must alert: its message JSON.
fn alert_json(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let out = render(args, "", env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fixture_path(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/records")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn assumed_role_create_user_names_session_role_and_created_user() {
    let json = alert_json(&[&fixture_path("CreateUser-AssumedRole-session.json")], &[]);
    let embed = &json["embeds"][0];
    assert_eq!(embed["title"], "IAM user created: IAM-test-user");
    let description = embed["description"].as_str().unwrap();
    assert!(
        description.contains("terraform\\-run\\-42 via ci\\-deployer")
            || description.contains("terraform-run-42 via ci-deployer"),
        "{description}"
    );
    assert!(description.contains("IAM-test-user"), "{description}");
    assert_eq!(json["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(json["enforce_nonce"], true);
    assert_eq!(
        embed["footer"]["text"],
        "eventID 6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
    );
}

#[test]
fn stdin_and_exit_codes() {
    let record = own_fixture("records/DeleteUser-IAMUser.json");
    assert_eq!(render(&["-"], &record, &[]).status.code(), Some(0));
    // Valid but not watched: 1, with the reason on stderr.
    let out = render(&[], &record, &[("WATCHED_EVENTS", "CreateUser")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a watched event"));
    assert!(out.stdout.is_empty());
    // --events overrides WATCHED_EVENTS.
    let out = render(
        &["--events", "all"],
        &record,
        &[("WATCHED_EVENTS", "CreateUser")],
    );
    assert_eq!(out.status.code(), Some(0));
    // Malformed: 2.
    let out = render(&[], "{not json", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed"));
    // Unreadable: 2.
    assert_eq!(
        render(&["/nonexistent/file.json"], "", &[]).status.code(),
        Some(2)
    );
    assert_eq!(render(&[], "\u{FF}", &[]).status.code(), Some(2));
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let out = render(&[], "{}", &[("ALERT_TIMEZONE", "Nowhere/Land")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ALERT_TIMEZONE"));
}

#[test]
fn configured_time_zone_shows_beside_the_discord_timestamp() {
    let record = own_fixture("records/CreateUser-AssumedRole-session.json");
    let out = render(&[], &record, &[("ALERT_TIMEZONE", "Asia/Seoul")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("<t:1795165201:f>"), "{text}");
    assert!(text.contains("2026-11-20 18:00:01 KST"), "{text}");
}

#[test]
fn text_mode_for_the_console() {
    let record = own_fixture("records/CreateUser-failed-AccessDenied.json");
    let out = render(&["--text"], &record, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Failed attempt to create IAM user"), "{text}");
    assert!(text.contains("FAILED AccessDenied"), "{text}");
    assert!(
        text.contains("i-0abc123def4567890 via web-app-instance"),
        "{text}"
    );
}

/// The failed CreateUser fixture with `change` applied, rendered; the message JSON.
fn render_hostile(change: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut record: serde_json::Value =
        serde_json::from_str(&own_fixture("records/CreateUser-failed-AccessDenied.json")).unwrap();
    change(&mut record);
    let out = render(&["-"], &record.to_string(), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every text Discord checks for blankness: content, titles, descriptions, field names and values, footers.
fn all_texts(message: &serde_json::Value) -> Vec<String> {
    let mut texts = vec![message["content"].as_str().unwrap_or("x").to_owned()];
    for e in message["embeds"].as_array().unwrap() {
        for key in ["title", "description"] {
            texts.extend(e[key].as_str().map(str::to_owned));
        }
        texts.extend(e["footer"]["text"].as_str().map(str::to_owned));
        for f in e["fields"].as_array().into_iter().flatten() {
            texts.push(f["name"].as_str().unwrap().to_owned());
            texts.push(f["value"].as_str().unwrap().to_owned());
        }
    }
    texts
}

#[test]
fn a_user_name_of_control_characters_renders_without_a_blank_value() {
    let message = render_hostile(|r| {
        r["requestParameters"] = serde_json::json!({"userName": "\u{1}\u{2}\n\t\u{7f}"});
    });
    for text in all_texts(&message) {
        assert!(!text.trim().is_empty(), "a blank value in {message}");
    }
    let target = message["embeds"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Target user")
        .unwrap();
    assert_eq!(target["value"], "—");
}

#[test]
fn bidi_and_zero_width_characters_never_pass_through_raw() {
    let message = render_hostile(|r| {
        r["requestParameters"] = serde_json::json!({"userName": "admin\u{202E}nimda\u{200B}"});
        r["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] =
            serde_json::json!("role\u{2066}x");
    });
    let text = message.to_string();
    let raw = serde_json::to_string(&message).unwrap();
    for c in ['\u{202E}', '\u{200B}', '\u{2066}'] {
        assert!(!text.contains(c) && !raw.contains(c), "{c:?} in {text}");
    }
    assert!(text.contains("U+202E") && text.contains("U+200B"), "{text}");
}

#[test]
fn an_event_time_beyond_year_9999_is_shown_as_invalid_text_without_a_timestamp() {
    let message = render_hostile(|r| {
        r["eventTime"] = serde_json::json!("12345-01-01T00:00:00Z");
    });
    let embed = &message["embeds"][0];
    assert!(embed.get("timestamp").is_none(), "{embed}");
    let when = embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "When")
        .unwrap();
    let value = when["value"].as_str().unwrap();
    assert!(
        value.contains("invalid time") && value.contains("12345"),
        "{value}"
    );
    assert!(!value.contains("<t:"), "{value}");
    for time in ["1969-12-31T23:59:59Z", "+12345-01-01T00:00:00Z"] {
        let message = render_hostile(|r| r["eventTime"] = serde_json::json!(time));
        assert!(message["embeds"][0].get("timestamp").is_none(), "{time}");
    }
}

#[test]
fn severe_alerts_mention_the_responder_role_and_no_one_else() {
    let role = "600000000000000001";
    let env = [("RESPONDER_ROLE_ID", role)];
    let root = render(
        &[&fixture_path("CreateUser-Root-no-eventID.json")],
        "",
        &env,
    );
    assert_eq!(root.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&root.stdout).unwrap();
    let content = json["content"].as_str().unwrap();
    assert!(content.starts_with(&format!("<@&{role}> ")), "{content}");
    assert!(content.contains("`critical`"), "{content}");
    assert_eq!(
        json["allowed_mentions"],
        serde_json::json!({"parse": [], "roles": [role]}),
        "only that role"
    );
    // A routine CreateUser by an IAM user is medium: nobody is mentioned.
    let mut by_alice: serde_json::Value =
        serde_json::from_str(&own_fixture("records/DeleteUser-IAMUser.json")).unwrap();
    by_alice["eventName"] = serde_json::json!("CreateUser");
    let routine = render(&["-"], &by_alice.to_string(), &env);
    let json: serde_json::Value = serde_json::from_slice(&routine.stdout).unwrap();
    let content = json["content"].as_str().unwrap();
    assert!(
        !content.contains("<@&") && content.contains("`medium`"),
        "{content}"
    );
    assert_eq!(json["allowed_mentions"], serde_json::json!({"parse": []}));
    // MENTION_SEVERITY lowers the bar; an unknown word is a configuration error naming the variable.
    let env = [("RESPONDER_ROLE_ID", role), ("MENTION_SEVERITY", "medium")];
    let routine = render(
        &[&fixture_path("CreateUser-AssumedRole-session.json")],
        "",
        &env,
    );
    let json: serde_json::Value = serde_json::from_slice(&routine.stdout).unwrap();
    assert!(json["content"].as_str().unwrap().starts_with("<@&"));
    let env = [("RESPONDER_ROLE_ID", role), ("MENTION_SEVERITY", "urgent")];
    let bad = render(
        &[&fixture_path("CreateUser-AssumedRole-session.json")],
        "",
        &env,
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("MENTION_SEVERITY"));
}

fn iam_alarm(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
        .args(args)
        .env_remove("WATCHED_EVENTS")
        .env_remove("RESPONDER_ROLE_ID")
        .env_remove("MENTION_SEVERITY")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A rules file in a temporary directory.
fn rules_file(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const SUPPRESS_ROLE_SESSIONS: &str = r#"
[[rule]]
name = "terraform creates users"
reason = "every apply is reviewed"
expires = "EXPIRES"
action = "suppress"
[rule.match]
event = "CreateUser"
actor_arn = "arn:aws:sts::*:assumed-role/ci-deployer/*"
"#;

#[test]
fn rules_check_accepts_a_valid_file_and_names_an_unknown_field() {
    let dir = tempfile::tempdir().unwrap();
    let valid = rules_file(
        &dir,
        &SUPPRESS_ROLE_SESSIONS.replace("EXPIRES", "2099-12-31"),
    );
    let out = iam_alarm(&["rules", "check", &valid], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Valid, with a word on `*` over an ARN: it stops at `/` and `:`.
    assert!(
        stderr.contains("warning:") && stderr.contains("use `**` to match across them"),
        "{stderr}"
    );
    let unknown = rules_file(
        &dir,
        &SUPPRESS_ROLE_SESSIONS
            .replace("EXPIRES", "2099-12-31")
            .replace("actor_arn", "actor"),
    );
    let out = iam_alarm(&["rules", "check", &unknown], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rules.toml")
            && err.contains("terraform creates users")
            && err.contains("actor"),
        "{err}"
    );
}

#[test]
fn people_check_accepts_a_valid_file_and_names_the_broken_field() {
    let dir = tempfile::tempdir().unwrap();
    let write = |text: &str| {
        let path = dir.path().join("people.toml");
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let valid =
        write(&std::fs::read_to_string(repo_root().join("deploy/people.example.toml")).unwrap());
    let out = iam_alarm(&["people", "check", &valid], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 person(s), valid"), "{stdout}");
    let broken = write("[[person]]\ndiscord = \"alice\"\naws = [\"alice@example.com\"]\n");
    let out = iam_alarm(&["people", "check", &broken], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("people.toml")
            && err.contains("person 1")
            && err.contains("`discord` \"alice\""),
        "{err}"
    );
}

#[test]
fn render_with_rules_suppresses_lowers_and_ignores_expired_rules() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture_path("CreateUser-AssumedRole-session.json");
    let live = rules_file(
        &dir,
        &SUPPRESS_ROLE_SESSIONS.replace("EXPIRES", "2099-12-31"),
    );
    let out = iam_alarm(&["render", "--rules", &live, &input], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("suppressed by rule \"terraform creates users\""),
        "{err}"
    );

    let expired = rules_file(
        &dir,
        &SUPPRESS_ROLE_SESSIONS.replace("EXPIRES", "2020-01-01"),
    );
    let out = iam_alarm(&["render", "--rules", &expired, &input], &[]);
    assert_eq!(out.status.code(), Some(0), "an expired rule is ignored");
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));

    // A root CreateUser is critical and mentions the role; a `severity = "low"` rule lowers it and drops the mention.
    let lower = rules_file(
        &dir,
        "[[rule]]\nname = \"break-glass drill\"\nreason = \"quarterly drill\"\nseverity = \"low\"\n[rule.match]\nevent = \"CreateUser\"\n",
    );
    let root = fixture_path("CreateUser-Root-no-eventID.json");
    let env = [("RESPONDER_ROLE_ID", "600000000000000001")];
    let out = iam_alarm(&["render", "--rules", &lower, &root], &env);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let content = json["content"].as_str().unwrap();
    assert!(
        content.contains("`low`") && !content.contains("<@&"),
        "{content}"
    );
    assert_eq!(json["allowed_mentions"], serde_json::json!({"parse": []}));
}

/// The text as an HTML page shows it.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `render --html` of a record: a page naming its target and actor.
pub fn assert_html_page_names_the_alert(file: &str, body: &str) {
    let Ok(event) = iam_alarm_core::classify(body, &iam_alarm_core::WatchedEvents::all()) else {
        return;
    };
    let out = render(&["--html", "--events", "all", "-"], body, &[]);
    assert_eq!(out.status.code(), Some(0), "{file}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.to_ascii_lowercase().starts_with("<!doctype html>") && page.contains("</html>"),
        "{file}"
    );
    if let Some(t) = &event.target {
        let shown = iam_alarm_core::text::plain_capped(&t.user_name, 100);
        assert!(page.contains(&html_text(&shown)), "{file}: {shown}");
    }
    let actor = iam_alarm_core::text::plain_capped(&event.actor.display(), 100);
    assert!(page.contains(&html_text(&actor)), "{file}: {actor}");
}

#[test]
fn render_html_draws_every_own_fixture_naming_its_users() {
    for entry in std::fs::read_dir(repo_root().join("tests/fixtures/records")).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        assert_html_page_names_the_alert(&path.display().to_string(), &body);
    }
}

#[test]
fn a_pipeline_change_always_alerts_critical_naming_resource_and_actor_and_is_never_suppressed() {
    let role = "600000000000000001";
    let stop = fixture_path("StopLogging-IAMUser.json");
    // Not subject to WATCHED_EVENTS (the default watches CreateUser and DeleteUser only).
    let json = alert_json(&[&stop], &[("RESPONDER_ROLE_ID", role)]);
    let content = json["content"].as_str().unwrap();
    assert!(
        content.starts_with(&format!("<@&{role}> ")) && content.contains("`critical`"),
        "{content}"
    );
    assert!(
        content.contains("CloudTrail logging stopped")
            && content.contains("trail/ct-trail-monitor"),
        "{content}"
    );
    assert!(content.contains("mallory"), "{content}");
    assert_eq!(
        json["allowed_mentions"],
        serde_json::json!({"parse": [], "roles": [role]})
    );
    // A suppress rule matching it is ignored; a severity rule may still lower it.
    let dir = tempfile::tempdir().unwrap();
    let all = rules_file(
        &dir,
        "[[rule]]\nname = \"quiet\"\nreason = \"testing\"\naction = \"suppress\"\n",
    );
    let out = iam_alarm(&["render", "--rules", &all, &stop], &[]);
    assert_eq!(out.status.code(), Some(0), "never suppressed");
}

/// The calls `WATCHED_EVENTS=all` added for credentials and standing: each renders with its headline and detail.
#[test]
fn credential_and_standing_calls_render_under_all() {
    let base: serde_json::Value =
        serde_json::from_str(&own_fixture("records/CreateUser-AssumedRole-session.json")).unwrap();
    let cases = [
        (
            "UpdateUser",
            serde_json::json!({"userName": "bob", "newUserName": "svc-backup"}),
            "IAM user renamed: bob → svc-backup",
        ),
        (
            "EnableMFADevice",
            serde_json::json!({"userName": "bob", "serialNumber": "arn:aws:iam::123456789012:mfa/bob"}),
            "MFA device enabled: bob",
        ),
        (
            "DeactivateMFADevice",
            serde_json::json!({"userName": "bob", "serialNumber": "arn:aws:iam::123456789012:mfa/bob"}),
            "MFA device deactivated: bob",
        ),
        (
            "DeleteVirtualMFADevice",
            serde_json::json!({"serialNumber": "arn:aws:iam::123456789012:mfa/bob"}),
            "Virtual MFA device deleted",
        ),
        (
            "CreateServiceSpecificCredential",
            serde_json::json!({"userName": "bob", "serviceName": "codecommit.amazonaws.com"}),
            "Service-specific credential created: bob",
        ),
        (
            "UploadSSHPublicKey",
            serde_json::json!({"userName": "bob", "sSHPublicKeyBody": "ssh-rsa AAAA"}),
            "SSH public key uploaded: bob",
        ),
        (
            "UploadSigningCertificate",
            serde_json::json!({"userName": "bob", "certificateBody": "-----BEGIN"}),
            "Signing certificate uploaded: bob",
        ),
        (
            "PutUserPermissionsBoundary",
            serde_json::json!({"userName": "bob", "permissionsBoundary": "arn:aws:iam::aws:policy/PowerUserAccess"}),
            "Permissions boundary set on user: bob",
        ),
        (
            "DeleteUserPermissionsBoundary",
            serde_json::json!({"userName": "bob"}),
            "Permissions boundary removed from user: bob",
        ),
    ];
    for (name, parameters, headline) in cases {
        let mut record = base.clone();
        record["eventName"] = serde_json::json!(name);
        record["requestParameters"] = parameters;
        record["responseElements"] = serde_json::Value::Null;
        let input = record.to_string();
        let out = render(&["--events", "all"], &input, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(headline), "{name}: {headline} in {stdout}");
        // Not watched by default: valid, no alert.
        assert_eq!(render(&[], &input, &[]).status.code(), Some(1), "{name}");
    }
}

#[test]
fn account_names_show_beside_the_id() {
    let mut record: serde_json::Value =
        serde_json::from_str(&own_fixture("records/CreateUser-AssumedRole-session.json")).unwrap();
    record["recipientAccountId"] = serde_json::json!("444455556666");
    let input = record.to_string();
    let names = [("ACCOUNT_NAMES", "111122223333=prod,444455556666=staging")];
    let out = render(&[], &input, &names);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("staging (`444455556666`)"), "{stdout}");
    let text = render(&["--text"], &input, &names);
    assert!(String::from_utf8_lossy(&text.stdout).contains("staging (444455556666)"));
    // A bad list is refused, naming the variable and the entry.
    let bad = render(&[], &input, &[("ACCOUNT_NAMES", "4444=staging")]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("ACCOUNT_NAMES") && err.contains("4444=staging"),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    corpus_missing,
    ignore = "the published CloudTrail corpus is absent (IAM_ALARM_CORPUS)"
)]
fn render_html_draws_every_corpus_record_naming_its_users() {
    for (file, body) in corpus_records(&corpus_dir()) {
        assert_html_page_names_the_alert(&file, &body);
    }
}

fn pattern_command(args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iam-alarm"))
        .arg("pattern")
        .args(args)
        .env_remove("WATCHED_EVENTS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_generator_prints_the_deployed_pattern_and_all_knows_every_call() {
    assert_eq!(pattern_command(&[]), event_pattern());
    let all: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("deploy/all-user-events.json")).unwrap(),
    )
    .unwrap();
    let known: Vec<&str> = iam_alarm_core::Action::ALL
        .map(iam_alarm_core::Action::event_name)
        .to_vec();
    assert_eq!(all, known, "Terraform's `all` is the bot's `all`");
    assert_eq!(
        pattern_command(&["--events", "all"])["detail"]["eventName"],
        serde_json::json!(known)
    );
    let alerts = std::fs::read_to_string(repo_root().join("docs/alerts.md")).unwrap();
    for name in known {
        assert!(
            alerts.contains(&format!("`{name}`")),
            "docs/alerts.md lists {name}"
        );
    }
}
