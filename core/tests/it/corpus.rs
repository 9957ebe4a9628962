//! The published corpus of real CloudTrail records: every record parses, and every in-scope one
//! resolves to the actor, target and outcome a responder would name by hand.

use iam_alarm_core::event::IdentityKind;
use iam_alarm_core::render::{render_message, RenderOptions};
use iam_alarm_core::{classify, Rejection, WatchedEvents};

use iam_alarm_testkit::support::{corpus_dir, corpus_records};

/// Outcome as stated by hand: `None` for success, the `errorCode` for a failure.
type Expected = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// (file, actor as displayed, target user, failure code) for every record that must alert with all 14
/// lifecycle events watched.
const IN_SCOPE: &[Expected] = &[
    ("001-CreateUser-IAMUser.json", "Alice", "Bob", None),
    (
        "002-CreateUser-IAMUser.json",
        "christophe",
        "malicious-iam-user",
        None,
    ),
    // The ARN has no session part and the principalId no colon: the role is all there is.
    (
        "003-CreateUser-AssumedRole.json",
        "Tester",
        "new-user",
        None,
    ),
    (
        "004-CreateUser-AssumedRole.json",
        "tester",
        "user",
        Some("EntityAlreadyExists"),
    ),
    ("005-CreateUser-AssumedRole.json", "tester", "user", None),
    (
        "007-CreateAccessKey-IAMUser.json",
        "christophe",
        "malicious-iam-user",
        None,
    ),
    (
        "008-CreateAccessKey-IAMUser.json",
        "christophe",
        "stratus-red-team-backdoor-u-user",
        None,
    ),
    (
        "009-CreateAccessKey-Root.json",
        "root",
        "example-user",
        None,
    ),
    // Self-service: no userName in the request, so the target is the caller.
    (
        "010-CreateAccessKey-IAMUser.json",
        "some_iam_user",
        "some_iam_user",
        Some("LimitExceededException"),
    ),
    (
        "012-CreateLoginProfile-IAMUser.json",
        "christophe",
        "stratus-red-team-login-profile-user",
        None,
    ),
    (
        "013-UpdateLoginProfile-IAMUser.json",
        "christophe",
        "stratus-red-team-update-login-profile-user",
        None,
    ),
    (
        "014-UpdateLoginProfile-AssumedRole.json",
        "alice via IAM",
        "bob",
        None,
    ),
    (
        "015-DeleteLoginProfile-IAMUser.json",
        "christophe",
        "stratus-red-team-login-profile-user",
        Some("EntityTemporarilyUnmodifiableException"),
    ),
    (
        "016-AttachUserPolicy-IAMUser.json",
        "christophe",
        "malicious-iam-user",
        None,
    ),
    (
        "017-AttachUserPolicy-AssumedRole.json",
        "user.name via a-role",
        "test-user",
        None,
    ),
    (
        "018-PutUserPolicy-AssumedRole.json",
        "user.name via a-role",
        "test-user",
        None,
    ),
    (
        "019-PutUserPolicy-IAMUser.json",
        "compromised_user",
        "compromised_user",
        None,
    ),
    ("020-AddUserToGroup-IAMUser.json", "Alice", "Bob", None),
    // CloudTrail names the root user "AWS ROOT USER" in its own MFA call: the target is the root user itself.
    ("054-EnableMFADevice-Root.json", "root", "root", None),
];

/// Identity shapes of out-of-scope records: (file, kind, actor as displayed).
const IDENTITIES: &[(&str, IdentityKind, &str)] = &[
    ("024-ConsoleLogin-Root.json", IdentityKind::Root, "root"),
    (
        "030-ConsoleLogin-AssumedRole.json",
        IdentityKind::IdentityCenter,
        "foo@bar.com via developer_admin",
    ),
    (
        "031-ConsoleLogin-AssumedRole.json",
        IdentityKind::AssumedRole,
        "tester@domain.tld via okta",
    ),
    (
        "034-AssumeRole-AWSAccount.json",
        IdentityKind::AwsAccount,
        "account 777788889999",
    ),
    (
        "037-AssumeRole-AWSService.json",
        IdentityKind::AwsService,
        "lambda.amazonaws.com",
    ),
    (
        "039-AssumeRoleWithSAML-SAMLUser.json",
        IdentityKind::SamlUser,
        "SamlExample",
    ),
    (
        "040-AssumeRoleWithWebIdentity-WebIdentityUser.json",
        IdentityKind::WebIdentityUser,
        "<id of user> via accounts.google.com",
    ),
    (
        "042-GetCallerIdentity-FederatedUser.json",
        IdentityKind::FederatedUser,
        "stratus_red_team via stratus-red-team-user-federation-user",
    ),
    (
        "043-GetCallerIdentity-AssumedRole.json",
        IdentityKind::AssumedRole,
        "i-786a3A8B5C0d92eF4 via stratus-red-team-ec2-steal-credentials-role",
    ),
];

/// The corpus's calls on the alert pipeline itself: (file, actor as shown, headline, failure code). They alert
/// whatever the watched events; the headline says what stopped working and for what, as the record names it.
const TAMPER: &[(&str, &str, &str, Option<&str>)] = &[
    ("047-UpdateTrail-IAMUser.json", "Alice", "Failed attempt to change a CloudTrail trail: myTrail2", Some("TrailNotFoundException")),
    ("048-StopLogging-IAMUser.json", "christophe", "CloudTrail logging stopped: stratus-red-team-ct-stop-trail-buykxbqejv", None),
    // Out of the corpus's scope, but leaving the Organization takes an account out of the watch: a tamper alert.
    ("046-LeaveOrganization-AssumedRole.json", "aws-go-sdk-1722587398902687000 via stratus-red-team-leave-org-role", "Failed attempt to leave the Organization: (not named in the record)", Some("AccessDenied")),
    ("049-StopLogging-AssumedRole.json", "Tester", "CloudTrail logging stopped: arn:aws:cloudtrail:us-west-2:123456789012:trail/example-trail", None),
    ("050-StopLogging-AssumedRole.json", "Tester", "Failed attempt to stop CloudTrail logging: arn:aws:cloudtrail:us-west-2:123456789012:trail/example-trail", Some("InvalidTrailNameException")),
    ("051-DeleteTrail-IAMUser.json", "christophe", "CloudTrail trail deleted: stratus-red-team-cloudtraild-trail-kvrwohmiai", None),
    ("052-PutEventSelectors-IAMUser.json", "christophe", "CloudTrail event selectors changed: stratus-red-team-ctes-trail-khlvciwdor", None),
    ("053-UpdateTrail-AssumedRole.json", "XXXXXXXXXXX", "CloudTrail trail changed: (not named in the record)", None),
];

/// A tamper record resolves as [`TAMPER`] says, critical, within Discord's limits.
fn assert_tamper_as_stated(file: &str, event: &iam_alarm_core::Event) {
    let Some(&(_, actor, headline, failure)) = TAMPER.iter().find(|t| t.0 == file) else {
        panic!("{file} is a pipeline call but is not listed in TAMPER");
    };
    assert_eq!(event.actor.display(), actor, "{file}: actor");
    assert_eq!(iam_alarm_core::render::headline(event), headline, "{file}");
    assert_eq!(
        event.severity,
        iam_alarm_core::severity::Severity::Critical,
        "{file}"
    );
    let code = match &event.outcome {
        iam_alarm_core::event::Outcome::Success => None,
        iam_alarm_core::event::Outcome::Failure { code, .. } => Some(code.as_str()),
    };
    assert_eq!(code, failure, "{file}: outcome");
    let message = render_message(event, &RenderOptions::default());
    assert_eq!(message.limit_violations(), Vec::<String>::new(), "{file}");
}

#[test]
#[cfg_attr(
    corpus_missing,
    ignore = "the published CloudTrail corpus is absent (IAM_ALARM_CORPUS)"
)]
fn every_record_parses_and_in_scope_ones_resolve_as_stated() {
    let dir = corpus_dir();
    let records = corpus_records(&dir);
    assert!(
        records.len() >= 40,
        "corpus looks incomplete: {}",
        records.len()
    );
    let all = WatchedEvents::all();
    let mut alerted = Vec::new();
    for (file, body) in &records {
        match classify(body, &all) {
            Ok(event) if event.tamper.is_some() => assert_tamper_as_stated(file, &event),
            Ok(event) => {
                let Some(&(_, actor, target, failure)) = IN_SCOPE.iter().find(|e| e.0 == file)
                else {
                    panic!("{file} alerted but is not listed as in scope");
                };
                assert_eq!(event.actor.display(), actor, "{file}: actor");
                assert_eq!(
                    event.target.as_ref().map(|t| t.user_name.as_str()),
                    Some(target),
                    "{file}: target"
                );
                let code = match &event.outcome {
                    iam_alarm_core::event::Outcome::Success => None,
                    iam_alarm_core::event::Outcome::Failure { code, .. } => Some(code.as_str()),
                };
                assert_eq!(code, failure, "{file}: outcome");
                let message = render_message(&event, &RenderOptions::default());
                assert_eq!(message.limit_violations(), Vec::<String>::new(), "{file}");
                let json = serde_json::to_string(&message).unwrap();
                assert!(
                    !json.contains("null") && !json.contains("None"),
                    "{file}: {json}"
                );
                alerted.push(file.clone());
            }
            Err(Rejection::NotAlert(_)) => {
                assert!(!IN_SCOPE.iter().any(|e| e.0 == file), "{file} should alert");
            }
            Err(Rejection::Malformed(e)) => panic!("{file} did not parse: {e}"),
        }
    }
    let expected: Vec<_> = IN_SCOPE
        .iter()
        .map(|e| e.0)
        .filter(|f| records.iter().any(|r| r.0 == *f))
        .collect();
    assert_eq!(alerted, expected);
}

#[test]
#[cfg_attr(
    corpus_missing,
    ignore = "the published CloudTrail corpus is absent (IAM_ALARM_CORPUS)"
)]
fn default_watch_list_alerts_on_create_and_delete_user_and_every_pipeline_change() {
    let dir = corpus_dir();
    for (file, body) in corpus_records(&dir) {
        let alerted = classify(&body, &WatchedEvents::default()).is_ok();
        let tamper = TAMPER.iter().any(|t| t.0 == file);
        assert_eq!(alerted, file.contains("-CreateUser-") || tamper, "{file}");
    }
}

#[test]
#[cfg_attr(
    corpus_missing,
    ignore = "the published CloudTrail corpus is absent (IAM_ALARM_CORPUS)"
)]
fn every_identity_shape_names_someone() {
    let dir = corpus_dir();
    for (file, body) in corpus_records(&dir) {
        let event = iam_alarm_core::Event::from_json(&body).unwrap();
        let name = event.actor.display();
        assert!(
            !name.trim().is_empty() && name != "null" && name != "None",
            "{file}: {name:?}"
        );
        if let Some((_, kind, display)) = IDENTITIES.iter().find(|i| i.0 == file) {
            assert_eq!(&event.actor.kind, kind, "{file}");
            assert_eq!(name, *display, "{file}");
        }
    }
}

/// Our own fixtures, which every clone has: (file, actor as displayed, target, failure code, root?).
const OWN: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "CreateUser-AssumedRole-session.json",
        "terraform-run-42 via ci-deployer",
        "IAM-test-user",
        None,
    ),
    ("DeleteUser-IAMUser.json", "alice", "IAM-test-user", None),
    (
        "DeleteUser-IdentityCenter.json",
        "alice@example.com via AdministratorAccess",
        "contractor-2025",
        None,
    ),
    (
        "CreateUser-failed-AccessDenied.json",
        "i-0abc123def4567890 via web-app-instance",
        // No request parameters: the error message names whom it aimed at.
        "backup-admin",
        Some("AccessDenied"),
    ),
    ("CreateUser-Root-no-eventID.json", "root", "@everyone", None),
    ("CreateAccessKey-self-service.json", "bob", "bob", None),
];

#[test]
fn own_fixtures_resolve_as_stated() {
    for &(file, actor, target, failure) in OWN {
        let body = iam_alarm_testkit::support::own_fixture(&format!("records/{file}"));
        let event =
            classify(&body, &WatchedEvents::all()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(event.actor.display(), actor, "{file}");
        let t = event
            .target
            .as_ref()
            .map_or("(none)", |t| t.user_name.as_str());
        assert_eq!(t, target, "{file}");
        let code = match &event.outcome {
            iam_alarm_core::event::Outcome::Success => None,
            iam_alarm_core::event::Outcome::Failure { code, .. } => Some(code.as_str()),
        };
        assert_eq!(code, failure, "{file}");
        let m = render_message(&event, &RenderOptions::default());
        assert!(m.limit_violations().is_empty(), "{file}");
        let webhook = RenderOptions {
            destination: iam_alarm_core::render::Destination::Webhook,
            ..RenderOptions::default()
        };
        let w = render_message(&event, &webhook);
        assert!(w.limit_violations().is_empty(), "{file}");
    }
    let root = classify(
        &iam_alarm_testkit::support::own_fixture("records/CreateUser-Root-no-eventID.json"),
        &WatchedEvents::default(),
    )
    .unwrap();
    let m = render_message(&root, &RenderOptions::default());
    assert_eq!(
        m.embeds[0].color,
        Some(iam_alarm_core::render::colour::ROOT)
    );
    assert!(m.embeds[0].title.as_deref().unwrap().starts_with("🚨 ROOT"));
    let self_service = classify(
        &iam_alarm_testkit::support::own_fixture("records/CreateAccessKey-self-service.json"),
        &WatchedEvents::all(),
    )
    .unwrap();
    assert!(self_service.target.unwrap().is_caller);
}
