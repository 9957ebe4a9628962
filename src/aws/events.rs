//! EventBridge, for `/health`: the rule exists in us-east-1, is enabled, targets the topic, and its pattern
//! matches a sample CreateUser; the central bus still admits the Organization.

use aws_sdk_eventbridge::Client;

use super::AwsError;

pub struct EventBridge {
    client: Client,
    /// Whether this endpoint evaluates `TestEventPattern` at all (an emulator may answer `false` to everything),
    /// learned once from a pattern that must match.
    evaluates_patterns: tokio::sync::OnceCell<bool>,
}

#[derive(Debug, Clone)]
pub struct RuleStatus {
    pub enabled: bool,
    pub pattern: Option<String>,
    pub target_arns: Vec<String>,
    /// The roles the targets are sent with (a cross-account bus target needs one).
    pub target_roles: Vec<String>,
}

impl EventBridge {
    pub fn new(config: &aws_config::SdkConfig) -> EventBridge {
        let us_east_1 = super::in_region(config, "us-east-1");
        EventBridge {
            client: Client::new(&us_east_1),
            evaluates_patterns: tokio::sync::OnceCell::new(),
        }
    }

    /// `None` when the rule does not exist.
    pub async fn rule(&self, name: &str) -> Result<Option<RuleStatus>, AwsError> {
        let rule = match self.client.describe_rule().name(name).send().await {
            Ok(r) => r,
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_eventbridge::operation::describe_rule::DescribeRuleError::is_resource_not_found_exception) =>
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
            target_roles: targets
                .targets()
                .iter()
                .filter_map(|t| t.role_arn().map(str::to_owned))
                .collect(),
        }))
    }

    /// A custom event bus's resource policy: `None` when the bus does not exist, `Some("")` without a policy.
    pub async fn bus_policy(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self.client.describe_event_bus().name(name).send().await {
            Ok(bus) => Ok(Some(bus.policy().unwrap_or_default().to_owned())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_eventbridge::operation::describe_event_bus::DescribeEventBusError::is_resource_not_found_exception) =>
            {
                Ok(None)
            }
            Err(e) => Err(AwsError::new("events:DescribeEventBus", e)),
        }
    }

    /// `None` when this endpoint cannot tell (it does not match even `{"source": [<the event's source>]}`).
    pub async fn pattern_matches(
        &self,
        pattern: &str,
        event: &str,
    ) -> Result<Option<bool>, AwsError> {
        let evaluates = self
            .evaluates_patterns
            .get_or_try_init(|| async {
                let source: serde_json::Value = serde_json::from_str(event).unwrap_or_default();
                let trivial = serde_json::json!({ "source": [source["source"]] }).to_string();
                let answer = self.test_pattern(&trivial, event).await?;
                if !answer {
                    tracing::warn!("this EventBridge endpoint does not evaluate TestEventPattern; rule patterns are not checked");
                }
                Ok::<_, AwsError>(answer)
            })
            .await?;
        if !evaluates {
            return Ok(None);
        }
        self.test_pattern(pattern, event).await.map(Some)
    }

    async fn test_pattern(&self, pattern: &str, event: &str) -> Result<bool, AwsError> {
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
