//! Issue 20: how a group of sized benchmarks scales, through the real
//! binary. The tiny crate's duplicate finder, linear (a hash set) on main
//! and quadratic (a nested loop) on a branch, at three sizes spanning 16×.

use crate::support::*;

pub(crate) const BENCH: &str = r#"use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("dups");
    for n in [200u64, 800, 3_200] {
        // About one SKU in twenty repeats.
        let skus: Vec<u64> = (0..n).map(|i| (i * 7_919) % (n - n / 20)).collect();
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("find", n), &skus, |b, skus| {
            b.iter(|| tiny::find_duplicates(black_box(skus)))
        });
    }
    group.finish();
}

criterion_group! {
    name = tiny_benches;
    config = flamegate_hook::criterion();
    targets = benches
}
criterion_main!(tiny_benches);
"#;

pub(crate) const LINEAR: &str = "/// SKUs that appear more than once, each once, ascending.
pub fn find_duplicates(skus: &[u64]) -> Vec<u64> {
    let mut seen = std::collections::HashSet::with_capacity(skus.len());
    let mut duplicates: Vec<u64> = skus.iter().copied().filter(|s| !seen.insert(*s)).collect();
    duplicates.sort_unstable();
    duplicates.dedup();
    duplicates
}
";

pub(crate) const QUADRATIC: &str = "/// SKUs that appear more than once, each once, ascending.
pub fn find_duplicates(skus: &[u64]) -> Vec<u64> {
    let mut duplicates = Vec::new();
    for (i, sku) in skus.iter().enumerate() {
        if skus[..i].contains(sku) && !duplicates.contains(sku) {
            duplicates.push(*sku);
        }
    }
    duplicates.sort_unstable();
    duplicates
}
";

/// The group's scaling entry in the report written to `out`.
fn scaling_of(out: &std::path::Path) -> serde_json::Value {
    let report = report(out);
    let groups = report["scaling"].as_array().expect("a scaling section");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["group"], "dups/find");
    assert_eq!(groups[0]["members"].as_array().unwrap().len(), 3);
    groups[0].clone()
}

fn check(repo: &std::path::Path, args: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let output = run(flamegate(repo)
        .env("CARGO_TARGET_DIR", paired_target())
        .arg("check")
        .arg("--out-dir")
        .arg(out.path())
        .args(args));
    (output, out)
}

/// `paired_repo()` with the duplicate finder linear on main and quadratic
/// on the checked-out branch `nested-loop`; with `stored_baseline`, main
/// also commits a timed baseline, as CI records on every push.
fn linear_on_main_quadratic_on_a_branch(stored_baseline: bool) -> std::path::PathBuf {
    let repo = paired_repo();
    std::fs::write(repo.join("benches/tiny.rs"), BENCH).unwrap();
    std::fs::write(repo.join("src/lib.rs"), LINEAR).unwrap();
    git_in(
        &repo,
        &["commit", "-q", "-am", "duplicates with a hash set"],
    );
    if stored_baseline {
        let output = run(flamegate(&repo)
            .env("CARGO_TARGET_DIR", paired_target())
            .args(["baseline", "update"])
            .args(quick_no_profile()));
        assert!(output.status.success(), "{}", stderr(&output));
        git_in(&repo, &["add", "-A"]);
        git_in(&repo, &["commit", "-q", "-m", "baseline"]);
    }
    git_in(&repo, &["checkout", "-q", "-b", "nested-loop"]);
    std::fs::write(repo.join("src/lib.rs"), QUADRATIC).unwrap();
    git_in(&repo, &["commit", "-q", "-am", "simpler duplicate check"]);
    repo
}

#[test]
fn a_linear_function_made_quadratic_scales_worse_in_exact_counts() {
    let _machine = exclusive_benchmarking();
    let repo_dir = linear_on_main_quadratic_on_a_branch(false);
    let repo = repo_dir.as_path();

    // Exact counts: both classes named, the exponent's change exact.
    let (output, out) = check(
        repo,
        &["--measure", "instructions", "--paired", "--base", "main"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let exact = scaling_of(out.path());
    assert_eq!(exact["verdict"], "ScalesWorse", "{exact}");
    assert_eq!(exact["fails"], true, "{exact}");
    assert_eq!(exact["base"]["class"], "Linear", "{exact}");
    assert_eq!(exact["head"]["class"], "Quadratic", "{exact}");
    assert_eq!(exact["projection"]["size"], 32_000.0, "{exact}");
    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let line = markdown
        .lines()
        .find(|l| l.contains("`dups/find`"))
        .unwrap_or_else(|| panic!("{markdown}"));
    assert!(
        line.contains("scales worse: O(n) → O(n²)") && line.contains("at n = 32,000:"),
        "{line}"
    );
    assert!(line.contains("fails the gate"), "{line}");
    assert!(
        markdown.find("#### Scaling") < markdown.find("#### Regressions"),
        "the scaling verdict comes above the per-size rows: {markdown}"
    );
    assert!(
        stdout(&output).contains("scaling dups/find (3 sizes, n = 200 … 3,200): scales worse"),
        "{}",
        stdout(&output)
    );

    // flamegate.toml can keep a scaling change from failing the gate; the
    // per-size regressions still fail it.
    std::fs::write(
        repo.join("flamegate.toml"),
        "[thresholds]\nfail_on_scaling = false\n",
    )
    .unwrap();
    let (output, out) = check(
        repo,
        &["--measure", "instructions", "--paired", "--base", "main"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let relaxed = scaling_of(out.path());
    assert_eq!(relaxed["verdict"], "ScalesWorse");
    assert_eq!(relaxed["fails"], false);
}

/// The same verdict from time: paired rounds (the CI mode) and a stored
/// baseline.
#[test]
fn a_linear_function_made_quadratic_scales_worse_timed_paired_and_stored() {
    let _machine = exclusive_benchmarking();
    let repo_dir = linear_on_main_quadratic_on_a_branch(true);
    let repo = repo_dir.as_path();

    // Timed, paired (the CI mode): the same verdict from rounds.
    let paired_args = [
        &["--paired", "--base", "main", "--rounds", "6"][..],
        &quick_no_profile(),
    ]
    .concat();
    let (output, out) = check(repo, &paired_args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let timed = scaling_of(out.path());
    assert_eq!(timed["verdict"], "ScalesWorse", "{timed}");
    assert_eq!(timed["fails"], true, "{timed}");
    eprintln!("paired: {timed}");

    // Against the stored baseline.
    let (output, out) = check(repo, &quick_no_profile());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let stored = scaling_of(out.path());
    assert_eq!(stored["verdict"], "ScalesWorse", "{stored}");
    eprintln!("stored: {stored}");
}
