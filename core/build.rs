//! The same corpus check as the binary's (`cfg(corpus_missing)` for the tests that read the published corpus).
include!("../build.rs");
