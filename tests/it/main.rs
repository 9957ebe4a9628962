//! iam-alarm's integration tests: one binary, one module per topic, each driving the real `iam-alarm` binary
//! over real protocols (the shared kit is the `iam-alarm-testkit` crate).

// Tests: a failed step is a failed test, so helpers unwrap too.
#![allow(clippy::unwrap_used)]

mod asking;
mod bursts;
mod cli;
mod containment;
mod deploy;
mod escalation;
mod no_loss;
mod organization;
mod pipeline;
mod responders;
mod signatures;
mod snoozing;
mod trust;
mod watchdog;
