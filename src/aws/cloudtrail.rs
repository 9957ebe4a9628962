//! CloudTrail: event history (`LookupEvents`) and the trail's status for `/health`.
//!
//! `LookupEvents` allows 2 calls per second per account and region: the SDK's adaptive retry mode retries a
//! `ThrottlingException` with backoff and then paces later calls on its own.

use std::time::Duration;

use aws_sdk_cloudtrail::config::retry::RetryConfig;
use aws_sdk_cloudtrail::types::{LookupAttribute as SdkAttribute, LookupAttributeKey};
use aws_sdk_cloudtrail::Client;
use chrono::{DateTime, Utc};
use iam_alarm_commands::ports::{EventHistory, LookupAttribute, LookupOutcome, TrailEvent};

use super::AwsError;

const PAGE_SIZE: i32 = 50;

pub struct CloudTrail {
    /// us-east-1 first (IAM events), then the configured extra regions.
    regions: Vec<(String, Client)>,
}

/// One lookup, as every region runs it.
struct Query {
    attribute: SdkAttribute,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    max_events: usize,
}

/// What `/health` needs to know about the trail.
#[derive(Debug, Clone)]
pub struct TrailStatus {
    pub exists: bool,
    pub multi_region: bool,
    pub logging: bool,
    pub latest_delivery_error: Option<String>,
    /// Whether its event selectors record management write events (IAM calls are ones); `None` when they
    /// could not be read.
    pub management_events: Option<bool>,
}

impl CloudTrail {
    pub fn new(config: &aws_config::SdkConfig, extra_regions: &[String]) -> CloudTrail {
        let mut names = vec!["us-east-1".to_owned()];
        names.extend(extra_regions.iter().filter(|r| *r != "us-east-1").cloned());
        let regions = names
            .into_iter()
            .map(|r| {
                let retry = RetryConfig::adaptive()
                    .with_max_attempts(6)
                    .with_initial_backoff(Duration::from_millis(500));
                let conf = aws_sdk_cloudtrail::config::Builder::from(&super::in_region(config, &r))
                    .retry_config(retry)
                    .build();
                (r, Client::from_conf(conf))
            })
            .collect();
        CloudTrail { regions }
    }

    fn home(&self) -> &Client {
        &self.regions[0].1
    }

    pub async fn trail_status(&self, name: &str) -> Result<TrailStatus, AwsError> {
        let trails = self
            .home()
            .describe_trails()
            .trail_name_list(name)
            .send()
            .await
            .map_err(|e| AwsError::new("cloudtrail:DescribeTrails", e))?;
        let Some(trail) = trails.trail_list().first() else {
            return Ok(TrailStatus {
                exists: false,
                multi_region: false,
                logging: false,
                latest_delivery_error: None,
                management_events: None,
            });
        };
        let status = self
            .home()
            .get_trail_status()
            .name(name)
            .send()
            .await
            .map_err(|e| AwsError::new("cloudtrail:GetTrailStatus", e))?;
        let management_events = match self
            .home()
            .get_event_selectors()
            .trail_name(name)
            .send()
            .await
        {
            Ok(s) => Some(records_management_writes(&s)),
            Err(e) => {
                let err = AwsError::new("cloudtrail:GetEventSelectors", e);
                tracing::warn!(error = %err, "cannot read the trail's event selectors");
                None
            }
        };
        Ok(TrailStatus {
            exists: true,
            multi_region: trail.is_multi_region_trail().unwrap_or(false),
            logging: status.is_logging().unwrap_or(false),
            latest_delivery_error: status.latest_delivery_error().map(str::to_owned),
            management_events,
        })
    }

    /// One region's events, page by page (newest first), up to `max_events`. `Some(why)` when the list is
    /// partial: a lookup failed (after the SDK's retries), or there were more events than asked for.
    async fn lookup_region(
        region: &str,
        client: &Client,
        query: &Query,
        out: &mut Vec<TrailEvent>,
    ) -> Option<String> {
        let time =
            |t: DateTime<Utc>| aws_sdk_cloudtrail::primitives::DateTime::from_secs(t.timestamp());
        let mut pages = client
            .lookup_events()
            .lookup_attributes(query.attribute.clone())
            .start_time(time(query.start))
            .end_time(time(query.end))
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    let err = AwsError::new("cloudtrail:LookupEvents", e);
                    tracing::warn!(region, error = %err, "event history lookup failed");
                    return Some(format!("a lookup failed in {region} ({})", err.short()));
                }
            };
            out.extend(page.events().iter().map(|e| {
                TrailEvent {
                    time: e
                        .event_time()
                        .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
                    name: e.event_name().unwrap_or_default().to_owned(),
                    source: e.event_source().unwrap_or_default().to_owned(),
                    region: region.to_owned(),
                    username: e.username().map(str::to_owned),
                    record: e.cloud_trail_event().map(str::to_owned),
                }
            }));
            if out.len() >= query.max_events && page.next_token().is_some() {
                return Some(format!("showing the newest {} events", query.max_events));
            }
        }
        None
    }
}

/// Does a trail with these selectors record management write events? Basic selectors: one that includes
/// management events and is not read-only. Advanced selectors: one for the `Management` category that does not
/// keep only `readOnly = true`. A trail without any reports AWS's default (all management events).
fn records_management_writes(
    selectors: &aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
) -> bool {
    use aws_sdk_cloudtrail::types::ReadWriteType;
    let basic = selectors.event_selectors();
    let advanced = selectors.advanced_event_selectors();
    if basic.is_empty() && advanced.is_empty() {
        return true;
    }
    let basic_ok = basic.iter().any(|s| {
        s.include_management_events().unwrap_or(true)
            && s.read_write_type() != Some(&ReadWriteType::ReadOnly)
    });
    let advanced_ok = advanced.iter().any(|s| {
        let equals = |field: &str, value: &str| {
            s.field_selectors()
                .iter()
                .any(|f| f.field() == field && f.equals().iter().any(|v| v == value))
        };
        equals("eventCategory", "Management") && !equals("readOnly", "true")
    });
    basic_ok || advanced_ok
}

#[async_trait::async_trait]
impl EventHistory for CloudTrail {
    async fn lookup(
        &self,
        attribute: LookupAttribute,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        max_events: usize,
    ) -> LookupOutcome {
        let (key, value) = match attribute {
            LookupAttribute::AccessKeyId(v) => (LookupAttributeKey::AccessKeyId, v),
            LookupAttribute::Username(v) => (LookupAttributeKey::Username, v),
            LookupAttribute::EventName(v) => (LookupAttributeKey::EventName, v),
            LookupAttribute::EventSource(v) => (LookupAttributeKey::EventSource, v),
        };
        let query = Query {
            attribute: SdkAttribute::builder()
                .attribute_key(key)
                .attribute_value(value)
                .build()
                .expect("key and value are set"),
            start,
            end,
            max_events,
        };
        let mut events = Vec::new();
        let mut partial = Vec::new();
        for (region, client) in &self.regions {
            if let Some(why) = Self::lookup_region(region, client, &query, &mut events).await {
                partial.push(why);
            }
        }
        events.sort_by_key(|e| std::cmp::Reverse(e.time));
        events.truncate(max_events);
        LookupOutcome {
            events,
            partial: (!partial.is_empty()).then(|| partial.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput;
    use aws_sdk_cloudtrail::types::{
        AdvancedEventSelector, AdvancedFieldSelector, EventSelector, ReadWriteType,
    };

    fn basic(management: bool, rw: ReadWriteType) -> GetEventSelectorsOutput {
        let s = EventSelector::builder()
            .include_management_events(management)
            .read_write_type(rw)
            .build();
        GetEventSelectorsOutput::builder()
            .event_selectors(s)
            .build()
    }

    fn advanced(fields: &[(&str, &str)]) -> GetEventSelectorsOutput {
        let mut s = AdvancedEventSelector::builder();
        for (field, value) in fields {
            let f = AdvancedFieldSelector::builder()
                .field(*field)
                .equals(*value);
            s = s.field_selectors(f.build().unwrap());
        }
        GetEventSelectorsOutput::builder()
            .advanced_event_selectors(s.build().unwrap())
            .build()
    }

    #[test]
    fn management_writes_are_recorded_or_not() {
        assert!(records_management_writes(
            &GetEventSelectorsOutput::builder().build()
        ));
        assert!(records_management_writes(&basic(true, ReadWriteType::All)));
        assert!(records_management_writes(&basic(
            true,
            ReadWriteType::WriteOnly
        )));
        assert!(!records_management_writes(&basic(
            false,
            ReadWriteType::All
        )));
        assert!(!records_management_writes(&basic(
            true,
            ReadWriteType::ReadOnly
        )));
        assert!(records_management_writes(&advanced(&[(
            "eventCategory",
            "Management"
        )])));
        assert!(!records_management_writes(&advanced(&[
            ("eventCategory", "Management"),
            ("readOnly", "true")
        ])));
        assert!(!records_management_writes(&advanced(&[(
            "eventCategory",
            "Data"
        )])));
    }
}
