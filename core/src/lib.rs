//! The pure core of iam-alarm: no I/O.
//!
//! An SQS body is [unwrapped](envelope) to a CloudTrail record, resolved into an [`Event`] (actor, target,
//! outcome, …), checked against the [watched events](watch), and [rendered](render) to a Discord message that
//! respects every Discord limit ([`message`]).

pub mod accounts;
pub mod actor;
pub mod ask;
pub mod buttons;
pub mod canary;
pub mod check;
pub mod contain;
pub mod details;
pub mod digest;
pub mod envelope;
pub mod escalation;
pub mod event;
pub mod fingerprint;
pub mod message;
pub mod metrics;
pub mod people;
pub mod policy;
pub mod posted;
pub mod record;
pub mod render;
pub mod rules;
pub mod severity;
pub mod snooze;
pub mod sns;
pub mod tamper;
pub mod target;
pub mod text;
pub mod toml_list;
pub mod user_agent;
pub mod watch;
pub mod watchdog;

pub use canary::Canary;
pub use envelope::{MalformedBody, NotAlertReason, Unwrapped};
pub use event::{Event, EventKey};
pub use watch::{Action, WatchedEvents};

/// Why a queue message raises no alert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Valid, but nothing to alert on: delete it.
    #[error("not an alert: {0}")]
    NotAlert(NotAlert),
    /// Can never become an alert: dead-letter it.
    #[error("malformed: {0}")]
    Malformed(#[from] MalformedBody),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAlert {
    #[error(transparent)]
    Control(#[from] NotAlertReason),
    #[error("{name} of {service} is not a watched event (watched: {watched})")]
    NotWatched {
        service: String,
        name: String,
        watched: String,
    },
    /// The canary's call: proof that CloudTrail → EventBridge → SNS → SQS still carries events. `at` is the
    /// call's CloudTrail `eventTime` (Unix seconds; 0 when it has none).
    #[error("the canary (proof that CloudTrail still reaches the bot)")]
    Canary { at: i64 },
}

/// From a queue body to the event to alert on, or the reason there is none.
pub fn classify(body: &str, watched: &WatchedEvents) -> Result<Event, Rejection> {
    classify_with(body, watched, &Canary::default())
}

/// [`classify`], knowing the canary by the configured names.
pub fn classify_with(
    body: &str,
    watched: &WatchedEvents,
    canary: &Canary,
) -> Result<Event, Rejection> {
    match envelope::unwrap_body(body)? {
        Unwrapped::NotAlert(reason) => Err(Rejection::NotAlert(reason.into())),
        Unwrapped::Record(record) => {
            let record = record::Record::new(&record).expect("a record is an object");
            let event = Event::from_record(&record);
            if canary.is(&event) {
                let at = event.time.map_or(0, |t| t.timestamp());
                return Err(Rejection::NotAlert(NotAlert::Canary { at }));
            }
            match event.action {
                Some(action) if watched.contains(action) => Ok(event),
                // Calls that can switch the alarm off always alert.
                _ if event.tamper.is_some() => Ok(event),
                _ => Err(Rejection::NotAlert(NotAlert::NotWatched {
                    service: text::plain_capped(&event.event_source, 100),
                    name: text::plain_capped(&event.event_name, 100),
                    watched: watched.to_string(),
                })),
            }
        }
    }
}
