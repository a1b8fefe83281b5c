//! Issue 16: the criterion versions crates already use (0.3 to 0.7; the
//! other fixtures are on 0.8), through the real binary: listed, filtered,
//! timed in the windows a paired round passes that version, read, checked
//! against a record, and counted under callgrind.
//!
//! One crate per version, assembled from tests/fixtures/criterion-versions
//! (shared sources, a manifest and lock file per version) at one fixed path
//! and built in the shared fixture target dir, so the dependencies the
//! versions share with each other and with the 0.8 fixtures are compiled
//! once.

use std::path::PathBuf;

use crate::support::*;

const IDS: [&str; 3] = ["sum_small", "sum/range/1000", "sum/range/4000"];

/// The crate on criterion `version`, a git repository with one commit.
fn criterion_crate(version: &str) -> PathBuf {
    let sources = fixture("criterion-versions");
    let repo = fixture_target_dir().join("criterion-versions-repo");
    let _ = std::fs::remove_dir_all(&repo);
    for (from, to) in [
        (format!("{version}/Cargo.toml"), "Cargo.toml"),
        (format!("{version}/Cargo.lock"), "Cargo.lock"),
        ("src/lib.rs".to_string(), "src/lib.rs"),
        ("benches/sums.rs".to_string(), "benches/sums.rs"),
    ] {
        let to = repo.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(sources.join(from), to).unwrap();
    }
    init_and_commit(&repo, "sums");
    repo
}

/// The criterion windows a paired round gives a bench on `version`.
fn round_windows(version: &str) -> &'static [&'static str] {
    if version == "0.3" {
        &flamegate::collect::rounds::ROUND_ARGS_WHOLE_SECONDS
    } else {
        &flamegate::collect::rounds::ROUND_ARGS
    }
}

/// Everything but the paired run, on criterion `version`.
fn works_on(version: &str) -> PathBuf {
    let repo = criterion_crate(version);
    let output = run(in_fixture_target(flamegate(&repo).arg("list")));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), IDS);
    assert!(
        stderr(&output).contains("bench target `sums`: 3 benchmark(s)"),
        "{}",
        stderr(&output)
    );
    let err = usage_error(&run(in_fixture_target(
        flamegate(&repo).args(["list", "--filter", "nothing"]),
    )));
    assert!(
        err.contains("matched no benchmark; `flamegate list` (without --filter) shows the ids"),
        "{err}"
    );

    // Timed in a round's windows, with the profiling pass asked for: a
    // bench on a criterion no hook is built for cannot install one, so the
    // pass is skipped and said to be.
    let out = tempfile::tempdir().unwrap();
    let record_path = out.path().join("run.json");
    let output = run(in_fixture_target(
        flamegate(&repo)
            .args([
                "run",
                "--filter",
                "sum/range",
                "--profile-time",
                "1",
                "--out",
            ])
            .arg(&record_path)
            .arg("--")
            .args(round_windows(version)),
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    // 0.5 has a hook, which this bench does not install: the pass is
    // skipped too, with what to add.
    assert_eq!(
        stderr(&output).contains(&format!(
            "not profiled: bench target(s) `sums` (criterion {version}."
        )),
        version != "0.5",
        "{}",
        stderr(&output)
    );
    assert_eq!(
        stderr(&output).contains(
            "not profiled: bench target(s) `sums`: no profiler installed in their criterion config"
        ),
        version == "0.5",
        "{}",
        stderr(&output)
    );
    let record = flamegate::record::RunRecord::load(&record_path).unwrap();
    let ids: Vec<&str> = record.benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["sum/range/1000", "sum/range/4000"]);
    for bench in &record.benches {
        assert_eq!(bench.samples.len(), 10, "{}", bench.id);
        assert!(bench.profile.is_none(), "{}", bench.id);
    }
    assert_eq!(
        record.benches[1].throughput.as_ref().unwrap().per_iteration,
        4000
    );

    // Checked against that record: the same code ran (criterion's `iter`
    // found under callgrind on this version), so nothing is timed; with
    // --time-all both benchmarks are compared.
    let check = |extra: &[&str]| {
        let checked = tempfile::tempdir().unwrap();
        let output = run(in_fixture_target(
            flamegate(&repo)
                .args([
                    "check",
                    "--filter",
                    "sum/range",
                    "--no-profile",
                    "--base-file",
                ])
                .arg(&record_path)
                .args(extra)
                .arg("--out-dir")
                .arg(checked.path())
                .arg("--")
                .args(round_windows(version)),
        ));
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{}",
            stderr(&output)
        );
        report(checked.path())
    };
    let same = check(&[]);
    for id in ["sum/range/1000", "sum/range/4000"] {
        assert_eq!(verdict_of(&same, id), "SameCode", "{id}");
    }
    let compared = check(&["--time-all"]);
    for id in ["sum/range/1000", "sum/range/4000"] {
        assert!(estimate_of(&compared, id).is_finite(), "{id}");
    }

    // Counted under callgrind: only inside criterion's `iter` (the
    // `--toggle-collect` symbol exists in this version), so four times
    // the input is about four times the instructions, and counting the
    // same code again changes nothing.
    let output = run(in_fixture_target(flamegate(&repo).args([
        "baseline",
        "update",
        "--measure",
        "instructions",
        "--filter",
        "sum/range",
    ])));
    assert!(output.status.success(), "{}", stderr(&output));
    git_in(&repo, &["add", "-A"]);
    git_in(&repo, &["commit", "-q", "-m", "instruction baseline"]);
    let counted = tempfile::tempdir().unwrap();
    let output = run(in_fixture_target(
        flamegate(&repo)
            .args([
                "check",
                "--measure",
                "instructions",
                "--filter",
                "sum/range",
                "--base",
                "HEAD",
                "--out-dir",
            ])
            .arg(counted.path()),
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let counts = report(counted.path());
    let per_iteration = |id: &str| {
        let c = comparison_of(&counts, id);
        assert_eq!(c["verdict"], "Unchanged", "{c}");
        assert_eq!(c["change"]["estimate"], 0.0, "{c}");
        c["base"]["median"].as_f64().unwrap()
    };
    let (small, large) = (
        per_iteration("sum/range/1000"),
        per_iteration("sum/range/4000"),
    );
    assert!(small >= 1000.0, "{small} instructions for 1,000 additions");
    // Four times the steps, plus `iter`'s fixed few hundred instructions.
    assert!(
        (3.0..=4.1).contains(&(large / small)),
        "{large} / {small} instructions for four times the input"
    );
    repo
}

#[test]
fn issue_16_criterion_0_3_lists_times_checks_counts_and_pairs() {
    let _machine = exclusive_benchmarking();
    let repo = works_on("0.3");
    // criterion 0.3 takes whole seconds: a paired round passes it 1 s
    // windows, says so, and both sides run their rounds.
    let out = tempfile::tempdir().unwrap();
    let output = run(in_fixture_target(
        flamegate(&repo)
            .args([
                "check",
                "--paired",
                "--base",
                "HEAD",
                "--time-identical",
                "--rounds",
                "2",
                "--no-profile",
                "--no-instruction-check",
                "--filter",
                "sum/range",
                "--out-dir",
            ])
            .arg(out.path()),
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "bench target `sums` uses criterion 0.3.6, which takes whole seconds: its rounds measure 1 s"
        ),
        "{}",
        stderr(&output)
    );
    let paired = report(out.path());
    assert_eq!(paired["mode"], "Paired");
    for id in ["sum/range/1000", "sum/range/4000"] {
        let c = comparison_of(&paired, id);
        assert_eq!(c["change"]["rounds"], 2, "{c}");
    }
}

#[test]
fn issue_16_criterion_0_4_lists_times_checks_and_counts() {
    let _machine = exclusive_benchmarking();
    let repo = works_on("0.4");
    // Beside a bench target with its own harness, the criterion target is
    // listed and the other one named as skipped.
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    std::fs::write(
        repo.join("Cargo.toml"),
        format!("{manifest}\n[[bench]]\nname = \"custom\"\nharness = false\n"),
    )
    .unwrap();
    std::fs::write(
        repo.join("benches/custom.rs"),
        "fn main() { println!(\"my own harness\"); }\n",
    )
    .unwrap();
    let output = run(in_fixture_target(flamegate(&repo).arg("list")));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), IDS);
    assert!(
        stderr(&output).contains(
            "skipped, not measured: bench target `custom` listed no criterion benchmark for `--bench --list` (it printed: my own harness)"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn issue_16_criterion_0_5_lists_times_checks_and_counts() {
    let _machine = exclusive_benchmarking();
    works_on("0.5");
}

#[test]
fn issue_16_criterion_0_6_lists_times_checks_and_counts() {
    let _machine = exclusive_benchmarking();
    works_on("0.6");
}

#[test]
fn issue_16_criterion_0_7_lists_times_checks_and_counts() {
    let _machine = exclusive_benchmarking();
    works_on("0.7");
}

/// A bench on criterion 0.5 that installs flamegate's hook for 0.5
/// (crates/flamegate-hook-criterion05) is profiled like one on 0.8, with criterion 0.5
/// the only criterion it builds.
#[test]
fn issue_16_criterion_0_5_with_its_hook_is_profiled() {
    let _machine = exclusive_benchmarking();
    let crate_dir = fixture("criterion-0.5-hook");
    let out = tempfile::tempdir().unwrap();
    let record_path = out.path().join("run.json");
    let output = run(in_fixture_target(
        flamegate(&crate_dir)
            .args(["run", "--profile-time", "1", "--out"])
            .arg(&record_path)
            .arg("--")
            .args(flamegate::collect::rounds::ROUND_ARGS),
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("not profiled"),
        "{}",
        stderr(&output)
    );
    let record = flamegate::record::RunRecord::load(&record_path).unwrap();
    let ids: Vec<&str> = record.benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["sum/range/100000", "sum/range/400000"]);
    for bench in &record.benches {
        let profile = bench
            .profile
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no profile", bench.id));
        assert!(
            profile.iter().any(|(stack, _)| stack.contains("crit::sum")),
            "{}: the benchmark's own function is in its profile:\n{}",
            bench.id,
            profile.to_folded_text()
        );
    }
    let lock = std::fs::read_to_string(crate_dir.join("Cargo.lock")).unwrap();
    assert_eq!(lock.matches("name = \"criterion\"\n").count(), 1, "{lock}");
}
