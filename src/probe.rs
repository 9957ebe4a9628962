//! `/health`'s view of the AWS side: trail → rule → topic → queue → dead-letter queue, each a line with a hint.

use iam_alarm_commands::ports::{Check, PipelineProbe};

use crate::aws::cloudtrail::CloudTrail;
use crate::aws::events::EventBridge;
use crate::aws::sns::Sns;
use crate::aws::sqs::Queue;

pub struct Probe {
    trail_name: String,
    rule_name: String,
    cloudtrail: std::sync::Arc<CloudTrail>,
    events: EventBridge,
    sns: Sns,
    queue: Queue,
    dead_letter: Option<Queue>,
}

/// What the probe looks at: the trail and rule by name, the queue and its dead-letter queue.
pub struct Inspected {
    pub trail_name: String,
    pub rule_name: String,
    pub queue: Queue,
    pub dead_letter: Option<Queue>,
}

impl Probe {
    pub fn new(
        aws: &aws_config::SdkConfig,
        cloudtrail: std::sync::Arc<CloudTrail>,
        inspected: Inspected,
    ) -> Probe {
        Probe {
            trail_name: inspected.trail_name,
            rule_name: inspected.rule_name,
            cloudtrail,
            events: EventBridge::new(aws),
            sns: Sns::new(aws),
            queue: inspected.queue,
            dead_letter: inspected.dead_letter,
        }
    }
}

/// A CreateUser as EventBridge delivers it: the rule's pattern must match this.
fn sample_create_user() -> String {
    serde_json::json!({
        "version": "0", "id": "00000000-0000-0000-0000-000000000000",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
        "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
                   "requestParameters": {"userName": "IAM-test-user"}}
    })
    .to_string()
}

impl Probe {
    async fn trail(&self, checks: &mut Vec<Check>) {
        let name = &self.trail_name;
        match self.cloudtrail.trail_status(name).await {
            Ok(t) if !t.exists => checks.push(Check::fail(
                format!("trail {name} not found"),
                "create it (deploy/terraform) or set TRAIL_NAME to your multi-region trail",
            )),
            Ok(t) if !t.logging => checks.push(Check::fail(
                format!("trail {name} exists but is not logging"),
                format!("aws cloudtrail start-logging --name {name}"),
            )),
            Ok(t) => {
                if let Some(err) = t.latest_delivery_error {
                    checks.push(Check::warn(
                        format!("trail {name} is logging; last delivery error: {err}"),
                        "check the trail bucket's policy and KMS key",
                    ));
                } else if !t.multi_region {
                    checks.push(Check::warn(
                        format!("trail {name} is logging, but only in one region"),
                        "make it multi-region so no console region is blind",
                    ));
                } else {
                    checks.push(Check::ok(format!("trail {name} is logging (multi-region)")));
                }
            }
            Err(e) => checks.push(unknown("the trail", &e)),
        }
    }

    /// Returns the topic ARN the rule targets, if any.
    async fn rule(&self, checks: &mut Vec<Check>) -> Option<String> {
        let name = &self.rule_name;
        let rule = match self.events.rule(name).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                checks.push(Check::fail(
                    format!("EventBridge rule {name} not found in us-east-1"),
                    "IAM events reach EventBridge only in us-east-1: create the rule there (deploy/terraform)",
                ));
                return None;
            }
            Err(e) => {
                checks.push(unknown("the EventBridge rule", &e));
                return None;
            }
        };
        if rule.enabled {
            checks.push(Check::ok(format!("rule {name} is enabled in us-east-1")));
        } else {
            checks.push(Check::fail(
                format!("rule {name} is disabled"),
                format!("aws events enable-rule --name {name} --region us-east-1"),
            ));
        }
        let topic = rule
            .target_arns
            .iter()
            .find(|a| a.starts_with("arn:aws:sns:"))
            .cloned();
        match &topic {
            Some(t) => checks.push(Check::ok(format!("rule targets topic {}", short(t)))),
            None => checks.push(Check::fail(
                "rule has no SNS topic target",
                "add the topic as a target (deploy/terraform does)",
            )),
        }
        match rule.pattern {
            Some(pattern) => match self
                .events
                .pattern_matches(&pattern, &sample_create_user())
                .await
            {
                Ok(true) => checks.push(Check::ok("rule pattern matches a sample CreateUser")),
                Ok(false) => checks.push(Check::fail(
                    "rule pattern does not match a sample CreateUser",
                    "use deploy/event-pattern.json as the pattern",
                )),
                Err(e) => checks.push(unknown("the rule pattern", &e)),
            },
            None => checks.push(Check::fail(
                "rule has no event pattern",
                "use deploy/event-pattern.json",
            )),
        }
        topic
    }

    async fn topic(&self, topic: &str, queue_arn: &str, checks: &mut Vec<Check>) {
        match self.sns.topic_key(topic).await {
            Ok(Some(key)) if key.ends_with("alias/aws/sns") => checks.push(Check::fail(
                "topic is encrypted with the AWS-managed SNS key, which EventBridge cannot use",
                "use a customer-managed key that allows events.amazonaws.com (deploy/terraform does)",
            )),
            Ok(_) => {}
            Err(e) => checks.push(unknown("the topic", &e)),
        }
        let subs = match self.sns.subscriptions(topic).await {
            Ok(s) => s,
            Err(e) => return checks.push(unknown("the topic's subscriptions", &e)),
        };
        if subs
            .iter()
            .any(|s| s.protocol == "sqs" && s.endpoint == queue_arn)
        {
            checks.push(Check::ok("topic delivers to the bot's queue"));
        } else {
            checks.push(Check::fail(
                "topic has no subscription for the bot's queue",
                "subscribe the queue to the topic (deploy/terraform does)",
            ));
        }
        let emails: Vec<_> = subs
            .iter()
            .filter(|s| s.protocol == "email" || s.protocol == "email-json")
            .collect();
        let pending = emails.iter().filter(|s| s.pending).count();
        if emails.is_empty() {
            checks.push(Check::warn(
                "no e-mail subscription",
                "add one (alert_emails in Terraform) so alerts still arrive when the bot is down",
            ));
        } else if pending > 0 {
            checks.push(Check::warn(
                format!(
                    "{} e-mail subscription(s), {pending} pending confirmation",
                    emails.len()
                ),
                "the recipients must click the link in AWS's confirmation e-mail",
            ));
        } else {
            checks.push(Check::ok(format!(
                "{} e-mail subscription(s) confirmed",
                emails.len()
            )));
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
        let topic = self.rule(&mut checks).await;
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
        match &self.dead_letter {
            None => checks.push(Check::warn(
                "the queue has no dead-letter queue",
                "add a redrive policy (deploy/terraform does) so unprocessable messages don't loop",
            )),
            Some(dlq) => match dlq.stats().await {
                Ok(d) if d.visible + d.in_flight > 0 => checks.push(Check::warn(
                    format!("dead-letter queue holds {} message(s)", d.visible + d.in_flight),
                    "see why with `iam-alarm dlq list`; after a Discord outage, `iam-alarm dlq replay`",
                )),
                Ok(_) => checks.push(Check::ok("dead-letter queue is empty")),
                Err(e) => checks.push(unknown("the dead-letter queue", &e)),
            },
        }
        checks
    }
}
