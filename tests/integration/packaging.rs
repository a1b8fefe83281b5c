//! The bench-side hooks are small crates of their own: a project that adds
//! one for flamegraphs or allocation counts gets criterion and what sampling
//! needs (pprof, backtrace, libc), nothing of the command's (git2, octocrab,
//! tokio, inferno, ...). Read from each fixture's committed lock file, which
//! `cargo metadata --locked` proves current.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::support::{checkout_dir, fixture};

/// `cargo metadata` of a manifest, offline, as JSON.
fn metadata(manifest: &Path, extra: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(extra)
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata of {}: {}",
        manifest.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The command's own normal dependencies, by name.
fn command_dependencies() -> BTreeSet<String> {
    let meta = metadata(&checkout_dir().join("Cargo.toml"), &["--no-deps"]);
    let command = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "flamegate")
        .unwrap();
    command["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"].is_null())
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

/// The packages of a resolved graph reachable from the package `root` names.
fn reachable(meta: &serde_json::Value, root: &str) -> BTreeSet<String> {
    let nodes = meta["resolve"]["nodes"].as_array().unwrap();
    let name_of = |id: &str| id_name(meta, id);
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n["id"].as_str())
        .filter(|id| name_of(id) == root)
        .collect();
    while let Some(id) = todo.pop() {
        if !seen.insert(name_of(id)) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id).unwrap();
        todo.extend(
            node["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d.as_str()),
        );
    }
    seen
}

fn id_name(meta: &serde_json::Value, id: &str) -> String {
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .map(|p| p["name"].as_str().unwrap().to_string())
        .unwrap()
}

/// What the hook crate `hook` brings into `fixture_name`'s resolved graph
/// beyond criterion and what the hooks need to sample and count (pprof,
/// backtrace, libc): the command's dependencies would show here.
fn brought_by_the_hook(fixture_name: &str, hook: &str) -> BTreeSet<String> {
    let meta = metadata(
        &fixture(fixture_name).join("Cargo.toml"),
        &["--locked", "--all-features"],
    );
    let brought = reachable(&meta, hook);
    assert!(brought.contains(hook), "{fixture_name} depends on {hook}");
    let expected: BTreeSet<String> = ["criterion", "pprof", "backtrace", "libc"]
        .into_iter()
        .flat_map(|root| reachable(&meta, root))
        .chain([hook.to_string(), "flamegate-sampler".to_string()])
        .collect();
    let unexpected: BTreeSet<String> = brought.difference(&expected).cloned().collect();
    let command = command_dependencies();
    assert!(
        command.contains("git2") && command.contains("octocrab"),
        "the command's dependencies are read: {command:?}"
    );
    unexpected
}

#[test]
fn a_bench_with_the_criterion_hook_resolves_none_of_the_commands_dependencies() {
    let unwanted = brought_by_the_hook("tiny", "flamegate-hook");
    assert!(
        unwanted.is_empty(),
        "the hook brings the command's {unwanted:?}"
    );
}

#[test]
fn a_bench_with_the_criterion_0_5_hook_resolves_none_of_the_commands_dependencies() {
    let unwanted = brought_by_the_hook("criterion-0.5-hook", "flamegate-hook-criterion05");
    assert!(
        unwanted.is_empty(),
        "the hook brings the command's {unwanted:?}"
    );
}

#[test]
fn a_tool_that_profiles_its_commands_resolves_none_of_the_commands_dependencies_nor_criterion() {
    let unwanted = brought_by_the_hook("command-tool", "flamegate-sampler");
    assert!(
        unwanted.is_empty(),
        "the sampler brings the command's {unwanted:?}"
    );
    let meta = metadata(
        &fixture("command-tool").join("Cargo.toml"),
        &["--locked", "--all-features"],
    );
    assert!(
        reachable(&meta, "criterion").is_empty(),
        "the sampler brings criterion"
    );
}
