//! `/health`'s view of the AWS side: trail → rule → topic → queue → dead-letter queue, each a line with a hint.

use futures_util::StreamExt;
use iam_alarm_core::check::{Check, PipelineProbe};
use iam_alarm_core::text::truncate;
use iam_alarm_core::WatchedEvents;

use crate::aws::accounts::{Accounts, Clients};
use crate::aws::sns::Sns;
use crate::aws::sqs::Queue;

pub struct Probe {
    accounts: std::sync::Arc<Accounts>,
    forwarder_rule_name: String,
    trail_name: String,
    rule_name: String,
    tamper_rule_name: Option<String>,
    /// The bot's own account's CloudTrail and EventBridge (shared with the commands).
    own: Clients,
    sns: Sns,
    queue: Queue,
    dead_letter: Option<Queue>,
    watched: WatchedEvents,
    topics: Vec<String>,
}

/// What the probe looks at: the trail and rules by name, the queue and its dead-letter queue.
pub struct Inspected {
    /// The member accounts, whose forwarding rules are checked through the reader role.
    pub accounts: std::sync::Arc<Accounts>,
    pub forwarder_rule_name: String,
    pub trail_name: String,
    pub rule_name: String,
    /// The rule for calls that switch the alarm off (`TAMPER_RULE_NAME`; `None` when not deployed).
    pub tamper_rule_name: Option<String>,
    pub queue: Queue,
    pub dead_letter: Option<Queue>,
    /// What the user-change rule must deliver, unnarrowed.
    pub watched: WatchedEvents,
    /// The alert topic(s) (`TOPIC_ARN`): the rules must target exactly these. Empty: not known, any SNS topic.
    pub topics: Vec<String>,
}

impl Probe {
    pub fn new(aws: &aws_config::SdkConfig, inspected: Inspected) -> Probe {
        Probe {
            own: inspected.accounts.own_clients(),
            accounts: inspected.accounts,
            forwarder_rule_name: inspected.forwarder_rule_name,
            trail_name: inspected.trail_name,
            rule_name: inspected.rule_name,
            tamper_rule_name: inspected.tamper_rule_name,
            sns: Sns::new(aws),
            queue: inspected.queue,
            dead_letter: inspected.dead_letter,
            watched: inspected.watched,
            topics: inspected.topics,
        }
    }
}

/// What a rule is for: an event as EventBridge delivers it that its pattern must match, and the file that
/// holds the pattern.
struct RuleKind {
    service: &'static str,
    event_name: &'static str,
    parameters: &'static str,
    pattern_file: &'static str,
}

const USER_CHANGE: RuleKind = RuleKind {
    service: "iam",
    event_name: "CreateUser",
    parameters: r#"{"userName": "IAM-test-user"}"#,
    pattern_file: "deploy/event-pattern.json",
};

const TAMPER: RuleKind = RuleKind {
    service: "cloudtrail",
    event_name: "StopLogging",
    parameters: r#"{"name": "any-trail"}"#,
    pattern_file: "deploy/tamper-pattern.json",
};

impl RuleKind {
    fn sample(&self) -> String {
        let parameters: serde_json::Value =
            serde_json::from_str(self.parameters).expect("a constant");
        serde_json::json!({
            "version": "0", "id": "00000000-0000-0000-0000-000000000000",
            "detail-type": "AWS API Call via CloudTrail", "source": format!("aws.{}", self.service),
            "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"eventSource": format!("{}.amazonaws.com", self.service), "eventName": self.event_name,
                       "requestParameters": parameters}
        })
        .to_string()
    }
}

impl Probe {
    async fn trail(&self, checks: &mut Vec<Check>) {
        let name = &self.trail_name;
        let t = match self.own.history.trail_status(name).await {
            Ok(t) => t,
            Err(e) => return checks.push(unknown(format!("trail:{name}"), "the trail", &e)),
        };
        let key = format!("trail:{name}");
        if !t.exists {
            return checks.push(
                Check::fail(
                    format!("trail {name} not found"),
                    "create it (deploy/terraform) or set TRAIL_NAME to your multi-region trail",
                )
                .about(key),
            );
        }
        checks.push(if t.logging {
            Check::ok(format!("trail {name} is logging")).about(key)
        } else {
            Check::fail(
                format!("CloudTrail logging stopped: {name}"),
                format!("aws cloudtrail start-logging --name {name}"),
            )
            .about(key)
        });
        let key = format!("trail-delivery:{name}");
        checks.push(match t.latest_delivery_error {
            Some(err) => Check::fail(
                format!("trail {name} cannot deliver its logs: {err}"),
                "check the trail bucket's policy and KMS key (deploy/terraform sets both)",
            )
            .about(key),
            None => Check::ok(format!("trail {name} delivers its logs")).about(key),
        });
        let key = format!("trail-selectors:{name}");
        match t.management_events {
            Some(true) => checks.push(
                Check::ok(format!("trail {name} records management events")).about(key),
            ),
            Some(false) => checks.push(
                Check::fail(
                    format!("trail {name} no longer records management write events"),
                    format!("aws cloudtrail put-event-selectors --trail-name {name} --event-selectors '[{{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":true}}]'"),
                )
                .about(key),
            ),
            None => {}
        }
        let key = format!("trail-regions:{name}");
        checks.push(if t.multi_region {
            Check::ok(format!("trail {name} covers every region")).about(key)
        } else {
            Check::warn(
                format!("trail {name} logs only one region"),
                "make it multi-region so no console region is blind",
            )
            .about(key)
        });
    }

    /// Checks one rule; returns the topic ARN it targets, if any. `expected_topic`: the topic it must target
    /// (the tamper rule: the user-change rule's).
    async fn rule(
        &self,
        name: &str,
        kind: &RuleKind,
        expected_topic: Option<&str>,
        checks: &mut Vec<Check>,
    ) -> Option<String> {
        let key = format!("rule:{name}");
        let rule = match self.own.events.rule(name).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                checks.push(
                    Check::fail(
                        format!("EventBridge rule {name} not found in us-east-1"),
                        "IAM events reach EventBridge only in us-east-1: create the rule there (deploy/terraform)",
                    )
                    .about(key),
                );
                return None;
            }
            Err(e) => {
                checks.push(unknown(key, &format!("the EventBridge rule {name}"), &e));
                return None;
            }
        };
        checks.push(if rule.enabled {
            Check::ok(format!("rule {name} is enabled in us-east-1")).about(key)
        } else {
            Check::fail(
                format!("EventBridge rule disabled: {name}"),
                format!("aws events enable-rule --name {name} --region us-east-1"),
            )
            .about(key)
        });
        let ours = |arn: &str| {
            arn.contains(":sns:")
                && expected_topic.is_none_or(|t| t == arn)
                && (self.topics.is_empty() || self.topics.iter().any(|t| t == arn))
        };
        let topic = rule.target_arns.iter().find(|a| ours(a)).cloned();
        // With the topic known, anything else the rule sends to is someone else's doing.
        let foreign: Vec<&str> = rule
            .target_arns
            .iter()
            .filter(|a| !self.topics.is_empty() && !ours(a))
            .map(String::as_str)
            .collect();
        let key = format!("rule-target:{name}");
        checks.push(match (&topic, foreign.as_slice()) {
            (Some(t), []) => Check::ok(format!("rule {name} targets topic {}", short(t))).about(key),
            (None, _) => Check::fail(
                format!("EventBridge rule {name} does not target the alert topic"),
                "add the alert topic as its target again (terraform apply does)",
            )
            .about(key),
            (Some(_), other) => Check::fail(
                format!(
                    "EventBridge rule {name} also sends to {}",
                    other.iter().map(|a| short(a)).collect::<Vec<_>>().join(", ")
                ),
                format!("remove the other targets (aws events list-targets-by-rule --rule {name} --region us-east-1); terraform apply restores them"),
            )
            .about(key),
        });
        if let Some(pattern) = &rule.pattern {
            checks.push(self.meaning(name, kind, pattern));
        }
        let key = format!("rule-pattern:{name}");
        let what = kind.event_name;
        let fix = format!("use {} as the pattern", kind.pattern_file);
        match rule.pattern {
            Some(pattern) => match self.own.events.pattern_matches(&pattern, &kind.sample()).await {
                Ok(Some(true)) => checks.push(
                    Check::ok(format!("rule {name} matches a sample {what}")).about(key),
                ),
                Ok(None) => checks.push(Check::warn(
                    format!("cannot check rule {name}'s pattern: EventBridge here does not evaluate patterns"),
                    "an emulator, most likely; AWS does",
                )),
                Ok(Some(false)) => checks.push(
                    Check::fail(
                        format!("EventBridge rule {name} no longer matches a sample {what}"),
                        fix,
                    )
                    .about(key),
                ),
                Err(e) => checks.push(unknown(key, &format!("rule {name}'s pattern"), &e)),
            },
            None => checks.push(
                Check::fail(format!("EventBridge rule {name} has no event pattern"), fix).about(key),
            ),
        }
        topic
    }

    async fn topic(&self, topic: &str, queue_arn: &str, checks: &mut Vec<Check>) {
        match self.sns.topic_key(topic).await {
            Ok(Some(key)) if key.ends_with("alias/aws/sns") => checks.push(
                Check::fail(
                    "topic is encrypted with the AWS-managed SNS key, which EventBridge cannot use",
                    "use a customer-managed key that allows events.amazonaws.com (deploy/terraform does)",
                )
                .about("topic-key"),
            ),
            Ok(_) => checks.push(Check::ok("topic's key lets EventBridge publish").about("topic-key")),
            Err(e) => checks.push(unknown("topic-key", "the topic", &e)),
        }
        let subs = match self.sns.subscriptions(topic).await {
            Ok(s) => s,
            Err(e) => return checks.push(unknown("subscription", "the topic's subscriptions", &e)),
        };
        let subscribed = subs
            .iter()
            .any(|s| s.protocol == "sqs" && s.endpoint == queue_arn);
        checks.push(if subscribed {
            Check::ok(format!(
                "topic {} delivers to the bot's queue",
                short(topic)
            ))
            .about("subscription")
        } else {
            Check::fail(
                format!(
                    "topic {} no longer delivers to the bot's queue",
                    short(topic)
                ),
                "subscribe the queue to the topic again (terraform apply does)",
            )
            .about("subscription")
        });
        let emails: Vec<_> = subs
            .iter()
            .filter(|s| s.protocol == "email" || s.protocol == "email-json")
            .collect();
        let pending = emails.iter().filter(|s| s.pending).count();
        checks.push(if emails.is_empty() {
            Check::warn(
                "no e-mail subscription",
                "add one (alert_emails in Terraform) so alerts still arrive when the bot is down",
            )
            .about("email")
        } else {
            Check::ok(format!("{} e-mail subscription(s)", emails.len())).about("email")
        });
        if !emails.is_empty() {
            checks.push(if pending > 0 {
                Check::warn(
                    format!(
                        "{pending} of {} e-mail subscription(s) pending confirmation",
                        emails.len()
                    ),
                    "the recipients must click the link in AWS's confirmation e-mail",
                )
                .about("email-pending")
            } else {
                Check::ok("every e-mail subscription is confirmed").about("email-pending")
            });
        }
    }

    async fn dead_letter(&self, checks: &mut Vec<Check>) {
        let Some(dlq) = &self.dead_letter else {
            return checks.push(Check::warn(
                "the queue has no dead-letter queue",
                "add a redrive policy (deploy/terraform does) so unprocessable messages don't loop",
            ));
        };
        checks.push(match dlq.stats().await {
            Ok(d) if d.visible + d.in_flight > 0 => Check::warn(
                match d.visible + d.in_flight {
                    1 => "1 alert waits in the dead-letter queue".to_owned(),
                    n => format!("{n} alerts wait in the dead-letter queue"),
                },
                "see why with `iam-alarm dlq list`; once the cause is fixed, post them with `iam-alarm dlq replay`",
            )
            .about("dlq"),
            Ok(_) => Check::ok("dead-letter queue is empty").about("dlq"),
            Err(e) => unknown("dlq", "the dead-letter queue", &e),
        });
    }
}

impl Probe {
    /// The members' side: the central bus admits the Organization, each member's forwarding is whole (through
    /// the reader role), and no member left unnoticed.
    async fn forwarders(&self, checks: &mut Vec<Check>) {
        let names = self.accounts.names();
        let members = self.accounts.members();
        self.departures(checks);
        if members.is_empty() {
            return;
        }
        checks.push(self.central_bus().await);
        if !self.accounts.reads_members() {
            let known: Vec<String> = members.iter().map(|id| names.label(id)).collect();
            checks.push(Check::warn(
                format!(
                    "member accounts {}: their forwarding is not checked",
                    known.join(", ")
                ),
                "set READER_ROLE_NAME and READER_EXTERNAL_ID (README, \"Organization\")",
            ));
            return;
        }
        // What a member's forwarder must target: the central bus, in this (the bot's own) account.
        let central_bus = match self.accounts.own_account() {
            Some(own) => format!(":{own}:event-bus/{CENTRAL_BUS}"),
            None => format!(":event-bus/{CENTRAL_BUS}"),
        };
        // An Organization of a thousand accounts is ordinary: a few members at a time, each through its cached
        // reader session, so one look takes seconds, not minutes.
        let looks = futures_util::stream::iter(members)
            .map(|id| {
                let account = names.label(&id);
                let central_bus = central_bus.as_str();
                async move { self.forwarder(&id, &account, central_bus).await }
            })
            .buffer_unordered(MEMBERS_AT_ONCE);
        let mut found: Vec<Check> = looks.collect().await;
        found.sort_by(|a, b| a.key.cmp(&b.key));
        checks.extend(found);
    }

    /// The central bus, in the bot's own account, still lets the Organization's accounts put events on it.
    async fn central_bus(&self) -> Check {
        let key = "central-bus";
        let policy = match self.own.events.bus_policy(CENTRAL_BUS).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Check::fail(
                    format!("the central event bus {CENTRAL_BUS} is gone — no member account's IAM changes arrive"),
                    "terraform apply (organization_id set) creates it again",
                )
                .about(key)
            }
            Err(e) => return unknown(key, "the central event bus", &e),
        };
        let organization = self.accounts.organization_id();
        let document = iam_alarm_core::policy::parse_document(&policy).unwrap_or_default();
        if iam_alarm_core::policy::admits_organization(
            &document,
            "events:PutEvents",
            organization.as_deref(),
        ) {
            return Check::ok(format!(
                "the central event bus {CENTRAL_BUS} admits the Organization"
            ))
            .about(key);
        }
        Check::fail(
            format!(
                "the central event bus {CENTRAL_BUS} no longer admits the Organization{} — member accounts' events are refused",
                organization.map(|o| format!(" ({o})")).unwrap_or_default()
            ),
            "terraform apply restores its policy (PutEvents for aws:PrincipalOrgID)",
        )
        .about(key)
    }

    /// Members that left the Organization or were suspended since the bot started: no longer watched. While
    /// Organizations cannot be listed, that cannot be seen: a check that could not look (the watchdog says so).
    fn departures(&self, checks: &mut Vec<Check>) {
        let key = "organization-lookup";
        checks.extend(self.accounts.lookup().map(|listed| {
            match listed {
                Ok(()) => Check::ok("the Organization's accounts are listed").about(key),
                Err(why) => Check::unknown(
                    "cannot list the Organization's accounts",
                    format!("organizations:ListAccounts answered {why}"),
                )
                .about(key),
            }
        }));
        for (id, gone) in self.accounts.departed() {
            let key = format!("member:{id}");
            checks.push(if gone.back {
                Check::ok(format!("{}: a member of the Organization again", gone.label)).about(key)
            } else {
                Check::warn(
                    format!("{} {}: no longer watched", gone.label, gone.why),
                    "if nobody planned this, treat it as an attempt to escape the alarm: ask who did it (the tamper alert names them)",
                )
                .about(key)
            });
        }
    }

    /// One member account's forwarding: its rule there, enabled and sending to the central bus with a role that
    /// may put events on it, and its tamper rule likewise.
    async fn forwarder(&self, id: &str, account: &str, central_bus: &str) -> Check {
        let key = format!("forwarder:{id}");
        let clients = match self.accounts.clients(Some(id), None).await {
            Ok(c) => c,
            Err(e) => {
                return Check::warn(format!("{e}"), "the member module creates the reader role")
                    .about(key)
            }
        };
        let rule = self.forwarder_rule_name.as_str();
        let tamper = format!("{rule}-tamper");
        let mut problems = Vec::new();
        // Both rules send with the same role, normally: each distinct (role, bus) is read once.
        let mut sends_with = std::collections::BTreeSet::new();
        for name in [rule, tamper.as_str()] {
            match clients.events.rule(name).await {
                Ok(found) => match member_rule(name, found, central_bus) {
                    Ok(role_and_bus) => {
                        sends_with.insert(role_and_bus);
                    }
                    Err(problem) => problems.push(problem),
                },
                Err(e) => return unknown(key, &format!("{account}'s forwarding rule {name}"), &e),
            }
        }
        for (role, bus) in sends_with {
            match forward_role(&clients, &role, &bus).await {
                Ok(found) => problems.extend(found),
                Err(e) => return unknown(key, &format!("{account}'s forward role {role}"), &e),
            }
        }
        match problems.first() {
            None => Check::ok(format!(
                "{account}: forwarding rule {rule} is enabled and forwards to the central bus, as does {tamper}"
            ))
            .about(key),
            Some(Problem { hint, .. }) => {
                let said: Vec<&str> = problems.iter().map(|p| p.what.as_str()).collect();
                Check::fail(format!("{account}: {}", said.join("; ")), hint.clone()).about(key)
            }
        }
    }
}

const REAPPLY: &str =
    "in that account, apply the member module or StackSet again (README, \"Organization\")";

/// A member's rule to the central bus: enabled and sending there with a role, whose name and the bus's ARN are
/// returned; else what is wrong.
fn member_rule(
    name: &str,
    rule: Option<crate::aws::events::RuleStatus>,
    central_bus: &str,
) -> Result<(String, String), Problem> {
    let Some(rule) = rule else {
        return Err(Problem::new(
            format!("forwarding rule {name} not found — its IAM changes reach nobody"),
            REAPPLY,
        ));
    };
    if !rule.enabled {
        return Err(Problem::new(
            format!("forwarding rule {name} is disabled"),
            format!("in that account: aws events enable-rule --name {name} --region us-east-1"),
        ));
    }
    let Some(bus) = rule.target_arns.iter().find(|t| t.ends_with(central_bus)) else {
        return Err(Problem::new(
            format!("forwarding rule {name} no longer forwards to the central bus — its IAM changes reach nobody"),
            REAPPLY,
        ));
    };
    // A bus in another account is reached only with a role that may put events on it.
    let Some(role) = rule.target_roles.first() else {
        return Err(Problem::new(
            format!("forwarding rule {name} sends to the central bus without a role"),
            REAPPLY,
        ));
    };
    let role = role.rsplit('/').next().unwrap_or(role);
    Ok((role.to_owned(), bus.clone()))
}

/// What is wrong with the role a member's rules send with (nothing: empty): it must exist and may put events
/// on the central bus.
async fn forward_role(
    clients: &Clients,
    role: &str,
    bus: &str,
) -> Result<Option<Problem>, crate::aws::AwsError> {
    let Some(documents) = clients.iam.role_policies(role).await? else {
        return Ok(Some(Problem::new(
            format!("the role {role} the forwarding rules send with is gone"),
            REAPPLY,
        )));
    };
    let may_put = documents.iter().any(|d| {
        iam_alarm_core::policy::parse_document(d)
            .is_some_and(|d| iam_alarm_core::policy::allows(&d, "events:PutEvents", bus))
    });
    Ok((!may_put).then(|| {
        Problem::new(
            format!("the role {role} the forwarding rules send with may no longer put events on the central bus"),
            REAPPLY,
        )
    }))
}

/// One thing wrong with a member's forwarding, and what to do.
struct Problem {
    what: String,
    hint: String,
}

impl Problem {
    fn new(what: String, hint: impl Into<String>) -> Problem {
        Problem {
            what,
            hint: hint.into(),
        }
    }
}

/// The central bus members forward to, in the bot's own account (Terraform's `organization.tf`).
const CENTRAL_BUS: &str = "iam-alarm";

/// How many member accounts one look reads at once.
const MEMBERS_AT_ONCE: usize = 16;

fn short(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

impl Probe {
    /// Whether a rule's pattern still delivers everything it is for, judged from the pattern itself (no
    /// `TestEventPattern`, so it holds against an emulator too).
    fn meaning(&self, name: &str, kind: &RuleKind, pattern: &str) -> Check {
        let key = format!("rule-meaning:{name}");
        let problems = match serde_json::from_str::<serde_json::Value>(pattern) {
            Err(_) => vec!["the pattern is not JSON".to_owned()],
            Ok(p) if kind.event_name == USER_CHANGE.event_name => self.watched.narrowing(&p),
            Ok(p) => missing_tamper_calls(&p),
        };
        if problems.is_empty() {
            return Check::ok(format!("rule {name} delivers every call it is for")).about(key);
        }
        Check::fail(
            format!("EventBridge rule {name} was narrowed: {}", problems.join("; ")),
            format!("restore its pattern from {} (terraform apply does; `iam-alarm pattern` prints the user-change one)", kind.pattern_file),
        )
        .about(key)
    }
}

/// The tamper calls a deployed tamper pattern no longer names.
fn missing_tamper_calls(pattern: &serde_json::Value) -> Vec<String> {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect()
    };
    let mut named = std::collections::BTreeSet::new();
    for branch in pattern["detail"]["$or"].as_array().into_iter().flatten() {
        for source in strings(&branch["eventSource"]) {
            for call in strings(&branch["eventName"]) {
                named.insert((source.clone(), call));
            }
        }
    }
    let missing: Vec<String> = iam_alarm_core::tamper::calls()
        .filter(|(source, call)| {
            !named.contains(&(format!("{source}.amazonaws.com"), (*call).to_owned()))
        })
        .map(|(_, call)| call.to_owned())
        .collect();
    if missing.is_empty() {
        Vec::new()
    } else {
        vec![format!("{} no longer named", missing.join(", "))]
    }
}

/// A check that could not look, known by the key of the check it stands in for (the watchdog counts these).
fn unknown(key: impl Into<String>, what: &str, e: &crate::aws::AwsError) -> Check {
    tracing::warn!(error = %e, "health check could not look");
    // The service's code says it all (AccessDenied); otherwise the SDK's first words (the log has the rest).
    let why = match &e.code {
        Some(code) => format!("{} answered {code}", e.operation),
        None => {
            let first = e.detail.split(" (").next().unwrap_or_default();
            format!("{} failed: {}", e.operation, truncate(first, 80))
        }
    };
    Check::unknown(format!("cannot check {what}"), why).about(key)
}

#[async_trait::async_trait]
impl PipelineProbe for Probe {
    async fn check_pipeline(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        self.trail(&mut checks).await;
        let topic = (self.rule(&self.rule_name, &USER_CHANGE, None, &mut checks)).await;
        if let Some(tamper) = &self.tamper_rule_name {
            let expected = topic.as_deref();
            self.rule(tamper, &TAMPER, expected, &mut checks).await;
        }
        let queue = match self.queue.stats().await {
            Ok(q) => Some(q),
            Err(e) => {
                checks.push(unknown("queue", "the queue", &e));
                None
            }
        };
        if let (Some(topic), Some(q)) = (&topic, &queue) {
            self.topic(topic, &q.arn, &mut checks).await;
        }
        if let Some(q) = queue {
            checks.push(Check::ok(format!(
                "queue: {} waiting, {} in flight",
                q.visible, q.in_flight
            )));
        }
        self.dead_letter(&mut checks).await;
        self.forwarders(&mut checks).await;
        checks
    }
}
