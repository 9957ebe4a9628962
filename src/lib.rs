//! iam-alarm: the adapters and wiring around the pure core (`iam_alarm_core`).

pub mod cli;
pub mod config;
pub mod render_cmd;
