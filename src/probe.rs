//! `/health`'s view of the AWS side: trail → rule → topic → queue → dead-letter queue, each a line with a hint.

use iam_alarm_core::check::{Check, PipelineProbe};

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
            Err(e) => return checks.push(unknown("the trail", &e)),
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
                checks.push(unknown("the EventBridge rule", &e));
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
        let topic = rule
            .target_arns
            .iter()
            .find(|a| a.contains(":sns:") && expected_topic.is_none_or(|t| t == a.as_str()))
            .cloned();
        let key = format!("rule-target:{name}");
        checks.push(match &topic {
            Some(t) => Check::ok(format!("rule {name} targets topic {}", short(t))).about(key),
            None => Check::fail(
                format!("EventBridge rule {name} does not target the alert topic"),
                "add the alert topic as its target again (terraform apply does)",
            )
            .about(key),
        });
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
                Err(e) => checks.push(unknown("the rule pattern", &e)),
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
            Err(e) => checks.push(unknown("the topic", &e)),
        }
        let subs = match self.sns.subscriptions(topic).await {
            Ok(s) => s,
            Err(e) => return checks.push(unknown("the topic's subscriptions", &e)),
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
            Err(e) => unknown("the dead-letter queue", &e),
        });
    }
}

impl Probe {
    /// Each member account's forwarding rule (us-east-1 default bus → the central bus), through the reader role.
    async fn forwarders(&self, checks: &mut Vec<Check>) {
        let names = self.accounts.names();
        let members = self.accounts.members();
        if !self.accounts.reads_members() {
            if !members.is_empty() {
                let known: Vec<String> = members.iter().map(|id| names.label(id)).collect();
                checks.push(Check::warn(
                    format!(
                        "member accounts {}: their forwarding is not checked",
                        known.join(", ")
                    ),
                    "set READER_ROLE_NAME and READER_EXTERNAL_ID (README, \"Organization\")",
                ));
            }
            return;
        }
        let rule = &self.forwarder_rule_name;
        for id in members {
            let account = names.label(&id);
            let key = format!("forwarder:{id}");
            let clients = match self.accounts.clients(Some(&id)).await {
                Ok(c) => c,
                Err(e) => {
                    checks.push(
                        Check::warn(format!("{e}"), "the member module creates the reader role")
                            .about(key),
                    );
                    continue;
                }
            };
            checks.push(match clients.events.rule(rule).await {
                Ok(Some(r)) if r.enabled => {
                    Check::ok(format!("{account}: forwarding rule {rule} is enabled")).about(key)
                }
                Ok(Some(_)) => Check::fail(
                    format!("{account}: forwarding rule {rule} is disabled"),
                    format!("in that account: aws events enable-rule --name {rule} --region us-east-1"),
                )
                .about(key),
                Ok(None) => Check::fail(
                    format!("{account}: forwarding rule {rule} not found — its IAM changes reach nobody"),
                    "deploy the member module or the StackSet there (README, \"Organization\")",
                )
                .about(key),
                Err(e) => unknown(&format!("{account}'s forwarding rule"), &e),
            });
        }
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

fn unknown(what: &str, e: &crate::aws::AwsError) -> Check {
    tracing::warn!(error = %e, "health check failed");
    Check::warn(
        format!("cannot check {what} ({})", e.operation),
        "the bot's role may lack this permission (see deploy/bot-policy.json); details in the bot's log",
    )
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
                checks.push(unknown("the queue", &e));
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
