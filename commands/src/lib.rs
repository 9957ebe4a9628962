//! iam-alarm's Discord command layer: slash commands and button handlers, one file each (thin: read input,
//! call a query, render). The alert core lives in `iam-alarm-core`; AWS access reaches this crate only
//! through the interfaces in [`Data`].

use std::sync::Arc;

use iam_alarm_core::metrics::Metrics;

/// Shared by every command, built once at start-up.
#[derive(Debug)]
pub struct Data {
    /// The process's counters and liveness (shared with the poller).
    pub metrics: Arc<Metrics>,
}

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Context<'a> = poise::Context<'a, Data, Error>;

/// Every slash command, for registration.
pub fn all() -> Vec<poise::Command<Data, Error>> {
    Vec::new()
}
