//! The real binary on a real criterion project (real `cargo bench`).

use flamegate::record::RunRecord;

use crate::support::*;

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
    let median = |i: usize| flamegate::stats::median(&record.benches[i].samples);
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
