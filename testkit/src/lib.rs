//! What iam-alarm's tests share: our own fixtures and the published corpus, the envelopes AWS wraps a record
//! in, and — with the default feature `live` — the real parts the bot is driven against: a fake Discord that
//! speaks REST and the gateway, moto, stubs for the AWS calls moto lacks and for an SQS that carries bursts,
//! and `spawn_app()`, which starts the real `iam-alarm` binary pointed at them.

// Test support: a setup step that fails is a failed test, so it unwraps.
#![allow(clippy::unwrap_used)]

pub mod support;

#[cfg(feature = "live")]
pub mod aws_stub;
#[cfg(feature = "live")]
pub mod fake_discord;
#[cfg(feature = "live")]
pub mod helpers;
#[cfg(feature = "live")]
pub mod interactions;
#[cfg(feature = "live")]
pub mod sns_signer;
#[cfg(feature = "live")]
pub mod sqs_stub;
