// Tests that need the published CloudTrail corpus (`IAM_ALARM_CORPUS`, default `../shared/fixtures/cloudtrail/real`)
// are marked ignored when it is absent, so the test runner reports them as skipped, never as passed.

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=IAM_ALARM_CORPUS");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(corpus_missing)");
    // The workspace root, whichever package includes this script (the binary's, and core's through include!).
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .ancestors()
        .find(|d| d.join("Cargo.lock").exists())
        .unwrap_or(&manifest);
    let corpus = std::env::var_os("IAM_ALARM_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/fixtures/cloudtrail/real"));
    if !corpus.is_dir() {
        println!("cargo::rustc-cfg=corpus_missing");
        println!(
            "cargo::warning=the published CloudTrail corpus is not at {}: its tests are ignored (set IAM_ALARM_CORPUS)",
            corpus.display()
        );
    }
}
