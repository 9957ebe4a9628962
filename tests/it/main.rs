//! iam-alarm's integration tests: one binary, one module per topic.

mod cli;
mod corpus;
mod envelopes;
mod pattern;
mod properties;
mod support;
