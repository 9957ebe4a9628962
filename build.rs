//! Tests that need the published CloudTrail corpus (`IAM_ALARM_CORPUS`, default `../shared/fixtures/cloudtrail/real`)
//! are marked ignored when it is absent, so the test runner reports them as skipped, never as passed.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=IAM_ALARM_CORPUS");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(corpus_missing)");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let corpus = std::env::var_os("IAM_ALARM_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../shared/fixtures/cloudtrail/real"));
    if !corpus.is_dir() {
        println!("cargo::rustc-cfg=corpus_missing");
        println!(
            "cargo::warning=the published CloudTrail corpus is not at {}: its tests are ignored (set IAM_ALARM_CORPUS)",
            corpus.display()
        );
    }
}
