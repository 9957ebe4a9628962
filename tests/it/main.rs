//! iam-alarm's integration tests: one binary, one module per topic.

mod aws_stub;
mod bursts;
mod cli;
mod corpus;
mod deploy;
mod envelopes;
mod escalation;
mod fake_discord;
mod helpers;
mod interactions;
mod no_loss;
mod organization;
mod pattern;
mod pipeline;
mod properties;
mod responders;
mod sqs_stub;
mod support;
mod trust;
mod watchdog;
