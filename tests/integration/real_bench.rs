//! The real binary on a real criterion project (real `cargo bench`).

use flamegate::record::RunRecord;

use crate::support::*;

fn in_fixture_target(command: &mut std::process::Command) -> &mut std::process::Command {
    command.env("CARGO_TARGET_DIR", fixture_target_dir())
}

#[test]
fn run_records_raw_samples_for_every_benchmark() {
    let _machine = exclusive_benchmarking();
    let out = tempfile::tempdir().unwrap();
    let record_path = out.path().join("run.json");
    let output = run(in_fixture_target(
        flamegate(&fixture("tiny"))
            .args(["run", "--out"])
            .arg(&record_path)
            .args(quick()),
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    let record = RunRecord::load(&record_path).unwrap();
    let ids: Vec<&str> = record.benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        ids,
        ["work/xorshift/1000", "work/xorshift/4000", "work_small"]
    );
    for bench in &record.benches {
        assert_eq!(bench.samples.len(), 10, "{}", bench.id);
        assert!(bench.samples.iter().all(|s| s.is_finite() && *s > 0.0));
    }
    assert_eq!(
        record.benches[0].throughput.as_ref().unwrap().per_iteration,
        1000
    );
    // 4x the work takes clearly longer per iteration.
    let median = |i: usize| flamegate::compare::stats::median(&record.benches[i].samples);
    assert!(
        median(1) > 2.0 * median(0),
        "{} vs {}",
        median(1),
        median(0)
    );
    assert!(!record.machine.rustc.is_empty() && record.machine.logical_cores > 0);
    let progress = stderr(&output);
    assert!(
        progress.contains("[3/3]") && progress.contains("wrote"),
        "{progress}"
    );

    // An existing --out is not overwritten without --force.
    let again = run(in_fixture_target(
        flamegate(&fixture("tiny"))
            .args(["run", "--out"])
            .arg(&record_path)
            .args(quick()),
    ));
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
}

#[test]
fn check_gates_a_real_slowdown_end_to_end() {
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    // Baselines recorded on main, as `baseline update` writes them.
    let (work, _origin) = tiny_repo_with_baselines(root.path());
    let repo = work.as_path();
    slow_branch(repo, "slower");

    let out = tempfile::tempdir().unwrap();
    let output = run(in_fixture_target(
        flamegate(repo)
            .args(["check", "--out-dir"])
            .arg(out.path())
            .args(quick()),
    ));
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let report = report(out.path());
    for id in ["work/xorshift/1000", "work/xorshift/4000"] {
        assert_eq!(
            verdict_of(&report, id),
            "Regressed",
            "{id}: {}",
            report["comparisons"]
        );
    }
    assert_eq!(report["history_used"], RECORDED_BASELINES);
    assert!(stdout(&output).contains("FAIL"), "{}", stdout(&output));
    // Where the time went: a hotspot note, a flamegraph and a differential one.
    assert_profiled_regression(out.path(), "work/xorshift/4000", "tiny::work");
    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(markdown.contains("**Where the time went**"), "{markdown}");
}

/// Issue 16: a criterion 0.4 bench target (its `--list` prints `<id>:
/// bench`, not 0.5's `<id>: benchmark`) is listed by `flamegate list`,
/// filtered and timed by `flamegate run`; a filter that matches nothing
/// points at `flamegate list`.
#[test]
fn issue_16_criterion_0_4_lists_filters_and_times() {
    let _machine = exclusive_benchmarking();
    let crate_dir = fixture("criterion-0.4");
    let output = run(in_fixture_target(flamegate(&crate_dir).arg("list")));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).lines().collect::<Vec<_>>(),
        ["sum_small", "sum/range/1000", "sum/range/4000"]
    );
    assert!(
        stderr(&output).contains("bench target `sums`: 3 benchmark(s)"),
        "{}",
        stderr(&output)
    );
    let err = usage_error(&run(in_fixture_target(
        flamegate(&crate_dir).args(["list", "--filter", "nothing"]),
    )));
    assert!(
        err.contains("matched no benchmark; `flamegate list` (without --filter) shows the ids"),
        "{err}"
    );

    let out = tempfile::tempdir().unwrap();
    let record_path = out.path().join("run.json");
    let output = run(in_fixture_target(
        flamegate(&crate_dir)
            .args(["run", "--filter", "sum/range", "--out"])
            .arg(&record_path)
            .args(quick_no_profile()),
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    let record = RunRecord::load(&record_path).unwrap();
    let ids: Vec<&str> = record.benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["sum/range/1000", "sum/range/4000"]);
    for bench in &record.benches {
        assert_eq!(bench.samples.len(), 10, "{}", bench.id);
    }
    assert_eq!(
        record.benches[1].throughput.as_ref().unwrap().per_iteration,
        4000
    );

    // Beside a bench target with its own harness, the criterion target is
    // listed and the other one named as skipped.
    let mixed = tempfile::tempdir().unwrap();
    for file in ["Cargo.lock", "src/lib.rs", "benches/sums.rs"] {
        let to = mixed.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(crate_dir.join(file), to).unwrap();
    }
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    std::fs::write(
        mixed.path().join("Cargo.toml"),
        format!("{manifest}\n[[bench]]\nname = \"custom\"\nharness = false\n"),
    )
    .unwrap();
    std::fs::write(
        mixed.path().join("benches/custom.rs"),
        "fn main() { println!(\"my own harness\"); }\n",
    )
    .unwrap();
    let output = run(in_fixture_target(flamegate(mixed.path()).arg("list")));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).lines().collect::<Vec<_>>(),
        ["sum_small", "sum/range/1000", "sum/range/4000"]
    );
    assert!(
        stderr(&output).contains(
            "skipped, not measured: bench target `custom` listed no criterion benchmark for `--bench --list` (it printed: my own harness)"
        ),
        "{}",
        stderr(&output)
    );
}
