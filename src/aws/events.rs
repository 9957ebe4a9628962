//! EventBridge, for `/health`: the rule exists in us-east-1, is enabled, targets the topic, and its pattern
//! matches a sample CreateUser.

use aws_sdk_eventbridge::Client;

use super::AwsError;

pub struct EventBridge {
    client: Client,
}

#[derive(Debug, Clone)]
pub struct RuleStatus {
    pub enabled: bool,
    pub pattern: Option<String>,
    pub target_arns: Vec<String>,
}

impl EventBridge {
    pub fn new(config: &aws_config::SdkConfig) -> EventBridge {
        let conf = aws_sdk_eventbridge::config::Builder::from(config)
            .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
            .build();
        EventBridge {
            client: Client::from_conf(conf),
        }
    }

    /// `None` when the rule does not exist.
    pub async fn rule(&self, name: &str) -> Result<Option<RuleStatus>, AwsError> {
        let rule = match self.client.describe_rule().name(name).send().await {
            Ok(r) => r,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(AwsError::new("events:DescribeRule", e)),
        };
        let targets = self
            .client
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .map_err(|e| AwsError::new("events:ListTargetsByRule", e))?;
        Ok(Some(RuleStatus {
            enabled: rule.state().is_some_and(|s| s.as_str() == "ENABLED"),
            pattern: rule.event_pattern().map(str::to_owned),
            target_arns: targets
                .targets()
                .iter()
                .map(|t| t.arn().to_owned())
                .collect(),
        }))
    }

    pub async fn pattern_matches(&self, pattern: &str, event: &str) -> Result<bool, AwsError> {
        let out = self
            .client
            .test_event_pattern()
            .event_pattern(pattern)
            .event(event)
            .send()
            .await
            .map_err(|e| AwsError::new("events:TestEventPattern", e))?;
        Ok(out.result())
    }
}
