//! iam-alarm: the adapters and wiring around the pure core (`iam_alarm_core`).

pub mod app;
pub mod aws;
pub mod backlog;
pub mod cli;
pub mod config;
pub mod dedup;
pub mod delivery;
pub mod dlq_cmd;
pub mod escalation;
pub mod gateway;
pub mod health;
pub mod html;
pub mod poller;
pub mod probe;
pub mod questions;
pub mod render_cmd;
pub mod snoozes;
pub mod tasks;
pub mod telemetry;
pub mod verify;
pub mod watchdog;
