//! A suite split into shards and merged: `run --shard`, `check --shard`,
//! `flamegate merge`, through the real binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flamegate::collect::shard::{ShardInfo, ShardSpec, assign};
use flamegate::record::{BenchId, RunRecord};

use crate::support::*;

/// 24 benchmarks, three of them 30% slower in the head.
fn suite_ids() -> Vec<(String, f64)> {
    (0..24)
        .map(|i| (format!("group{}/bench{i}", i % 4), 1_000.0 * (1 + i) as f64))
        .collect()
}

fn suite(seed: u64, slower: &[usize]) -> RunRecord {
    let ids = suite_ids();
    let scaled: Vec<(&str, f64)> = ids
        .iter()
        .enumerate()
        .map(|(i, (id, ns))| {
            (
                id.as_str(),
                if slower.contains(&i) { ns * 1.3 } else { *ns },
            )
        })
        .collect();
    let mut record = record(&scaled, seed);
    for (i, bench) in record.benches.iter_mut().enumerate() {
        bench.seconds = Some(1.0 + (i % 5) as f64);
    }
    record
}

/// Split `record` into `count` shard records as `run --shard` writes them.
fn split(record: &RunRecord, durations: &RunRecord, count: usize) -> Vec<RunRecord> {
    let ids: Vec<BenchId> = record.benches.iter().map(|b| b.id.clone()).collect();
    let seconds: BTreeMap<BenchId, f64> = durations
        .benches
        .iter()
        .filter_map(|b| Some((b.id.clone(), b.seconds?)))
        .collect();
    let (assignment, balanced) = assign(&ids, &seconds, count);
    (1..=count)
        .map(|index| {
            let info = ShardInfo {
                spec: ShardSpec { index, count },
                suite: "suite".into(),
                assignment: assignment.clone(),
                balanced,
            };
            RunRecord {
                benches: record
                    .benches
                    .iter()
                    .filter(|b| assignment[&b.id] == index)
                    .cloned()
                    .collect(),
                shard: Some(info),
                ..record.clone()
            }
        })
        .collect()
}

fn write_all(dir: &Path, shards: &[RunRecord]) -> Vec<PathBuf> {
    shards
        .iter()
        .enumerate()
        .map(|(i, shard)| {
            let path = dir.join(format!("shard-{}.json", i + 1));
            std::fs::write(&path, shard.to_json()).unwrap();
            path
        })
        .collect()
}

fn merge(
    repo: &Repo,
    files: &[PathBuf],
    extra: &[&str],
) -> (std::process::Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let output = run(flamegate(repo.path())
        .args([
            "merge",
            "--suite",
            "suite",
            "--base-ref",
            "main",
            "--out-dir",
        ])
        .arg(out.path())
        .args(files)
        .args(extra));
    (output, out)
}

fn history() -> Vec<RunRecord> {
    (0..5).map(|seed| suite(seed, &[])).collect()
}

#[test]
fn merging_shards_gives_the_unsharded_verdicts_with_one_false_discovery_control() {
    let versions = history();
    let repo = Repo::with_history(&versions);
    let head = suite(77, &[2, 9, 17]);
    let files_dir = tempfile::tempdir().unwrap();

    // Unsharded, the same samples.
    let whole = files_dir.path().join("whole.json");
    std::fs::write(&whole, head.to_json()).unwrap();
    let unsharded_out = tempfile::tempdir().unwrap();
    let output = run(flamegate(repo.path())
        .args([
            "compare",
            "--suite",
            "suite",
            "--base-ref",
            "main",
            "--head-file",
        ])
        .arg(&whole)
        .arg("--out-dir")
        .arg(unsharded_out.path()));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let unsharded = report(unsharded_out.path());

    for count in [2, 3, 7] {
        let shards = split(&head, &versions[0], count);
        let files = write_all(files_dir.path(), &shards);
        let (output, out) = merge(&repo, &files, &[]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{count}: {}",
            stderr(&output)
        );
        let merged = report(out.path());
        // Same comparisons: verdicts, estimates and the BH-adjusted p-values
        // (adjusted over the whole suite, not per shard).
        assert_eq!(
            merged["comparisons"], unsharded["comparisons"],
            "{count} shards"
        );
        assert_eq!(merged["outcome"], "Fail");
        let regressed: Vec<String> = merged["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["verdict"] == "Regressed")
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(regressed.len(), 3, "{regressed:?}");
    }
}

#[test]
fn merge_refuses_shards_that_do_not_belong_together() {
    let versions = history();
    let repo = Repo::with_history(&versions);
    let head = suite(77, &[]);
    let dir = tempfile::tempdir().unwrap();
    let shards = split(&head, &versions[0], 3);

    // A missing shard: an error naming it; with the flag, a visible gap.
    let files = write_all(dir.path(), &shards[..2]);
    let err = usage_error(&merge(&repo, &files, &[]).0);
    assert!(err.contains("shard 3/3 missing"), "{err}");
    let (output, out) = merge(&repo, &files, &["--allow-incomplete"]);
    assert!(
        stdout(&output).contains("INCOMPLETE"),
        "{}",
        stdout(&output)
    );
    let partial = report(out.path());
    assert!(
        partial["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("INCOMPLETE: shard 3/3 missing")
    );
    assert!(
        partial["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["verdict"] == "Missing")
    );

    // The same shard twice.
    let files = write_all(
        dir.path(),
        &[shards[0].clone(), shards[0].clone(), shards[2].clone()],
    );
    let err = usage_error(&merge(&repo, &files, &[]).0);
    assert!(err.contains("shard 1/3 is given twice"), "{err}");

    // Shards of different commits.
    let mut other = shards[1].clone();
    other.commit = Some("9999999999999999999999999999999999999999".into());
    let files = write_all(dir.path(), &[shards[0].clone(), other, shards[2].clone()]);
    let err = usage_error(&merge(&repo, &files, &[]).0);
    assert!(err.contains("measured commit 9999999999"), "{err}");

    // Shards of different splits (another count).
    let two = split(&head, &versions[0], 2);
    let files = write_all(dir.path(), &[shards[0].clone(), two[1].clone()]);
    let err = usage_error(&merge(&repo, &files, &[]).0);
    assert!(err.contains("split differently"), "{err}");

    // A plain record is not a shard.
    let files = write_all(dir.path(), std::slice::from_ref(&head));
    let err = usage_error(&merge(&repo, &files, &[]).0);
    assert!(err.contains("is not a shard record"), "{err}");
}

#[test]
fn a_real_project_gated_in_three_shards_matches_the_unsharded_verdicts() {
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    let (work, _origin) = tiny_repo_with_baselines(root.path(), 4);
    slow_branch(&work, "slower");
    let out = root.path().join("shards");
    let mut files = Vec::new();
    for k in 1..=3 {
        let output = run(flamegate(&work)
            .env("CARGO_TARGET_DIR", fixture_target_dir())
            .args(["check", "--shard", &format!("{k}/3"), "--out-dir"])
            .arg(&out));
        let err = stderr(&output);
        assert!(output.status.success(), "{err}");
        assert!(
            err.contains("split by the baseline's measured durations"),
            "{err}"
        );
        files.push(out.join(format!("shard-{k}-of-3.json")));
    }
    // Every benchmark was measured exactly once.
    let shards: Vec<RunRecord> = files.iter().map(|f| RunRecord::load(f).unwrap()).collect();
    let mut ids: Vec<String> = shards
        .iter()
        .flat_map(|s| s.benches.iter().map(|b| b.id.0.clone()))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["work/xorshift/1000", "work/xorshift/4000", "work_small"]
    );

    let merged_out = root.path().join("merged");
    let output = run(flamegate(&work)
        .args(["merge", "--out-dir"])
        .arg(&merged_out)
        .args(&files));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let merged = report(&merged_out);

    // The same samples as one unsharded record.
    let mut whole = RunRecord {
        shard: None,
        benches: shards.iter().flat_map(|s| s.benches.clone()).collect(),
        ..shards[0].clone()
    };
    whole.benches.sort_by(|a, b| a.id.cmp(&b.id));
    let whole_path = root.path().join("whole.json");
    std::fs::write(&whole_path, whole.to_json()).unwrap();
    let unsharded_out = root.path().join("unsharded");
    let output = run(flamegate(&work)
        .args(["compare", "--head-file"])
        .arg(&whole_path)
        .arg("--out-dir")
        .arg(&unsharded_out));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let unsharded = report(&unsharded_out);
    let verdicts = |r: &serde_json::Value| -> Vec<(String, String)> {
        r["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().into(),
                    c["verdict"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&merged), verdicts(&unsharded));
    assert_eq!(verdict_of(&merged, "work/xorshift/4000"), "Regressed");
}
