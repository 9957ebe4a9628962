//! The pure core against every input it must handle: the published corpus, our own fixtures, every envelope,
//! generated records, and the deployed EventBridge pattern. No server, no binary.

// Tests: a failed step is a failed test, so helpers unwrap too.
#![allow(clippy::unwrap_used)]

mod corpus;
mod envelopes;
mod pattern;
mod properties;
