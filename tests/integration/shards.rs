//! A suite split into shards and merged: `run --shard`, `check --shard`,
//! `flamegate merge`, through the real binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flamegate::collect::shard::{Balance, split as split_by};

use flamegate::record::shard::ShardInfo;

use flamegate::record::shard::ShardSpec;
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
    let (assignment, split) = split_by(&ids, &Balance::Durations(seconds), count);
    (1..=count)
        .map(|index| {
            let info = ShardInfo {
                spec: ShardSpec { index, count },
                suite: "suite".into(),
                assignment: assignment.clone(),
                split,
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

/// Merge `files`: exit 1 and the same comparisons as `unsharded` (verdicts,
/// estimates and the BH-adjusted p-values, adjusted over the whole suite,
/// not per shard), with `regressed` regressions.
fn assert_merge_matches(
    repo: &Repo,
    files: &[PathBuf],
    unsharded: &serde_json::Value,
    regressed: usize,
) {
    let (output, out) = merge(repo, files, &[]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{} shards: {}",
        files.len(),
        stderr(&output)
    );
    let merged = report(out.path());
    assert_eq!(
        merged["comparisons"],
        unsharded["comparisons"],
        "{} shards",
        files.len()
    );
    assert_eq!(merged["outcome"], "Fail");
    let found = merged["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "Regressed")
        .count();
    assert_eq!(found, regressed);
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
        assert_merge_matches(&repo, &files, &unsharded, 3);
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
    assert_eq!(partial["notes"][0]["kind"], "shards_missing");
    assert_eq!(partial["notes"][0]["shards"], "3/3");
    assert!(
        partial["notes"][0]["text"]
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
    let (work, _origin) = tiny_repo_with_baselines(root.path());
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

/// A paired run of the 24-benchmark suite, three of them 30% slower, split
/// into `count` paired shard files as `check --paired --shard` writes them.
/// As under the adaptive plan, benchmarks ran different numbers of rounds
/// (two of them 9, the others 4 to 6), so the shards did too (issue 23).
fn paired_shards(dir: &Path, count: usize) -> Vec<PathBuf> {
    use flamegate::record::Side;
    use flamegate::record::paired::{PAIRED_SHARD_FORMAT, PairedRun, PairedShard, RoundMedians};
    let base = suite(1, &[]);
    let head = suite(2, &[2, 9, 17]);
    let rounds_of = |i: usize| if i < 2 { 9 } else { 4 + i % 3 };
    let round_medians: BTreeMap<BenchId, Vec<RoundMedians>> = base
        .benches
        .iter()
        .zip(&head.benches)
        .enumerate()
        .map(|(i, (b, h))| {
            let base_median = flamegate::stats::median(&b.samples);
            let head_median = flamegate::stats::median(&h.samples);
            let medians = (0..rounds_of(i))
                .map(|r| {
                    let wobble = samples(1.0, 0.01, (i * 10 + r) as u64, 2);
                    RoundMedians {
                        base: base_median * wobble[0],
                        head: head_median * wobble[1],
                        disturbed: false,
                    }
                })
                .collect();
            (b.id.clone(), medians)
        })
        .collect();
    let heads = split(&head, &base, count);
    let side = |commit: &str, chosen_as: &str| Side {
        commit: Some(commit.into()),
        dirty: false,
        chosen_as: chosen_as.into(),
    };
    heads
        .into_iter()
        .enumerate()
        .map(|(k, head_part)| {
            let ids: Vec<BenchId> = head_part.benches.iter().map(|b| b.id.clone()).collect();
            let rounds = round_medians
                .iter()
                .filter(|(id, _)| ids.contains(id))
                .map(|(_, m)| m.len())
                .max()
                .unwrap_or(0);
            let shard = PairedShard {
                paired_shard: PAIRED_SHARD_FORMAT,
                round_windows: vec!["--measurement-time".into(), "0.3".into()],
                run: PairedRun::timed(
                    rounds,
                    (
                        RunRecord {
                            benches: base
                                .benches
                                .iter()
                                .filter(|b| ids.contains(&b.id))
                                .cloned()
                                .collect(),
                            ..base.clone()
                        },
                        head_part,
                    ),
                    round_medians
                        .iter()
                        .filter(|(id, _)| ids.contains(id))
                        .map(|(id, m)| (id.clone(), m.clone()))
                        .collect(),
                ),
                head_side: side("1111111111111111111111111111111111111111", "work tree"),
                base_side: side("2222222222222222222222222222222222222222", "merge-base"),
                notes: Vec::new(),
            };
            let path = dir.join(format!("paired-{count}-{}.json", k + 1));
            std::fs::write(&path, serde_json::to_string(&shard).unwrap()).unwrap();
            path
        })
        .collect()
}

#[test]
fn paired_shards_merge_into_the_unsharded_paired_verdicts() {
    let repo = Repo::new();
    let dir = tempfile::tempdir().unwrap();
    let whole = paired_shards(dir.path(), 1);
    let (output, out) = merge(&repo, &whole, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let unsharded = report(out.path());
    assert_eq!(unsharded["mode"], "Paired");
    for count in [3, 5] {
        let files = paired_shards(dir.path(), count);
        let rounds: std::collections::BTreeSet<u64> = files
            .iter()
            .map(|f| {
                let shard: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
                shard["run"]["rounds"].as_u64().unwrap()
            })
            .collect();
        assert!(
            rounds.len() > 1,
            "the shards ran different rounds: {rounds:?}"
        );
        assert_merge_matches(&repo, &files, &unsharded, 2);
    }
    // Of the three slowed benchmarks, the one with 4 rounds reads `likely
    // slower`: a regression is only called from 6 rounds (issue 22), and
    // the report says why.
    let slowed: Vec<(&str, u64)> = unsharded["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["estimate"].as_f64().unwrap() > 0.1)
        .map(|c| {
            (
                c["verdict"].as_str().unwrap(),
                c["change"]["rounds"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(slowed.len(), 3, "{slowed:?}");
    for (verdict, rounds) in &slowed {
        let expected = if *rounds >= 6 {
            "Regressed"
        } else {
            "LikelySlower"
        };
        assert_eq!(*verdict, expected, "{rounds} rounds");
    }
    assert!(slowed.iter().any(|(_, rounds)| *rounds < 6), "{slowed:?}");
    let notes = unsharded["notes"].to_string();
    assert!(
        notes.contains("from fewer than the 6 rounds a regression is called from"),
        "{notes}"
    );
    // Each benchmark keeps its own rounds in the merged report.
    let per_benchmark: std::collections::BTreeSet<u64> = unsharded["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["change"]["rounds"].as_u64().unwrap())
        .collect();
    assert_eq!(per_benchmark, [4, 5, 6, 9].into_iter().collect());
    // What does not belong together is still refused: another base,
    // another toolchain, other criterion windows.
    for (pointer, value, expected) in [
        (
            "/run/base/commit",
            "9999999999999999999999999999999999999999",
            "compared against base",
        ),
        (
            "/run/head/machine/rustc",
            "rustc 1.0.0",
            "build every shard with one toolchain",
        ),
        (
            "/round_windows/1",
            "5",
            "timed its rounds with criterion arguments",
        ),
    ] {
        let files = paired_shards(dir.path(), 3);
        let mut shard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
        *shard.pointer_mut(pointer).unwrap() = value.into();
        std::fs::write(&files[1], shard.to_string()).unwrap();
        let err = usage_error(&merge(&repo, &files, &[]).0);
        assert!(err.contains(expected), "{pointer}: {err}");
    }
    // Paired and stored shards never mix.
    let mut mixed = paired_shards(dir.path(), 3);
    let stored = split(&suite(7, &[]), &suite(1, &[]), 3);
    mixed[2] = write_all(dir.path(), &stored)[2].clone();
    let err = usage_error(&merge(&repo, &mixed, &[]).0);
    assert!(err.contains("some shards are paired runs"), "{err}");
}

/// Issue 22: a slowdown accepted in a commit of the pull request passes a
/// paired gate too (here merged from paired shards, as the Action does):
/// the commits between the run's base and HEAD are read.
#[test]
fn a_slowdown_accepted_in_a_commit_passes_a_paired_merge() {
    let repo = Repo::new();
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let dir = tempfile::tempdir().unwrap();
    let files = paired_shards(dir.path(), 3);
    for file in &files {
        let mut shard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        *shard.pointer_mut("/run/base/commit").unwrap() = base.clone().into();
        std::fs::write(file, shard.to_string()).unwrap();
    }
    let (output, _) = merge(&repo, &files, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    repo.git(&[
        "commit",
        "-q",
        "--allow-empty",
        "--author=Rev Iewer <rev@example.invalid>",
        "-m",
        "correct at last\n\n\
         Flamegate-Accept: group2/bench2: correctness first\n\
         Flamegate-Accept: group1/bench17: correctness first",
    ]);
    let (output, out) = merge(&repo, &files, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let merged = report(out.path());
    assert_eq!(merged["mode"], "Paired");
    for id in ["group2/bench2", "group1/bench17"] {
        let c = comparison_of(&merged, id);
        assert_eq!(c["verdict"], "Accepted", "{c}");
        assert_eq!(c["accepted"]["by"], "Rev Iewer", "{c}");
        assert_eq!(c["accepted"]["reason"], "correctness first", "{c}");
    }
}
