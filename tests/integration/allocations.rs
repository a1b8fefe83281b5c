//! Issue 21: allocations per iteration, counted exactly by the bench-side
//! `flamegate_hook::count_allocations!()` in a pass of their own, recorded in
//! baselines and gated in stored and paired mode. Real benchmarks of the
//! fixture crate `tests/fixtures/allocations` through the real binary.

use std::path::Path;

use crate::support::*;

const FILES: [&str; 4] = [
    "Cargo.lock",
    "src/lib.rs",
    "benches/allocs.rs",
    "benches/edge.rs",
];

/// The routine of `handle`, changed to make one more allocation (a
/// 24-byte request id) per call: a few nanoseconds beside microseconds of work.
fn add_one_allocation(repo: &Path) {
    replace_in(
        &repo.join("src/lib.rs"),
        "    let buffer = black_box(vec![request; 3]);\n",
        "    let buffer = black_box(vec![request; 3]);\n    let id = black_box(String::with_capacity(24));\n    drop(id);\n",
    );
}

fn counts(record: &serde_json::Value, id: &str) -> Vec<serde_json::Value> {
    record["benches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .unwrap_or_else(|| panic!("{id} in the record"))["allocations"]
        .as_array()
        .unwrap_or_else(|| panic!("{id} has allocation counts"))
        .clone()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixture in a repository of its own under `root`, running only the
/// bench target `bench`, with short criterion windows.
fn fixture_repo(root: &Path, bench: &str) -> std::path::PathBuf {
    let repo = root.join("allocs");
    copy_fixture("allocations", &FILES, &repo);
    std::fs::write(
        repo.join("flamegate.toml"),
        format!(
            "benches = [\"{bench}\"]\n\
             criterion_args = [\"--warm-up-time\", \"0.1\", \"--measurement-time\", \"0.3\", \"--sample-size\", \"10\"]\n"
        ),
    )
    .unwrap();
    init_and_commit(&repo, "allocs");
    repo
}

/// On a new branch `request-id`, a commit that gives `handle` one more
/// allocation.
fn one_more_allocation_on_a_branch(repo: &Path) {
    git_in(repo, &["checkout", "-q", "-b", "request-id"]);
    add_one_allocation(repo);
    git_in(repo, &["commit", "-q", "-am", "handle: a request id"]);
}

/// `handle` made one more allocation of 24 bytes: flagged as more
/// allocations, failing the gate; the `boxes` benchmarks are not.
fn assert_one_more_allocation_flagged(report: &serde_json::Value, mode: &str) {
    assert_eq!(report["mode"], mode);
    let handle = comparison_of(report, "handle");
    let check = &handle["allocations"];
    assert_eq!(check["base"]["allocations"], 1, "{mode}: {handle}");
    assert_eq!(check["head"]["allocations"], 2, "{mode}: {handle}");
    assert_eq!(check["base"]["bytes"], 24, "{mode}: {handle}");
    assert_eq!(check["head"]["bytes"], 48, "{mode}: {handle}");
    assert_eq!(
        check["grew"],
        serde_json::json!(["allocations", "allocations + reallocations", "bytes"]),
        "{mode}"
    );
    // The time may or may not show a few nanoseconds in microseconds;
    // the allocation fails the gate either way.
    let verdict = handle["verdict"].as_str().unwrap();
    assert!(
        verdict == "MoreAllocations" || verdict == "Regressed",
        "{mode}: {handle}"
    );
    assert_eq!(report["outcome"], "Fail", "{mode}");
    for k in [0, 1, 3, 1000] {
        let boxes = comparison_of(report, &format!("boxes/{k}"));
        assert!(boxes["allocations"]["grew"].is_null(), "{mode}: {boxes}");
        assert_ne!(boxes["verdict"], "MoreAllocations", "{mode}: {boxes}");
    }
}

#[test]
fn allocations_are_counted_exactly_and_one_more_fails_a_stored_check() {
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    let repo = fixture_repo(root.path(), "allocs");
    let target = fixture_target_dir();

    // The baseline on main, with each benchmark's counts (three runs each).
    let output = run(flamegate(&repo).env("CARGO_TARGET_DIR", &target).args([
        "baseline",
        "update",
        "--no-profile",
    ]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("counting allocations"),
        "{}",
        stderr(&output)
    );
    let baseline = read_json(&repo.join("baselines/allocs.json"));
    // k allocations per iteration read exactly k; the set-up's 101
    // allocations outside `b.iter` are not counted.
    for k in [0u64, 1, 3, 1000] {
        let runs = counts(&baseline, &format!("boxes/{k}"));
        assert_eq!(runs.len(), 3);
        for counted in runs {
            assert_eq!(
                counted,
                serde_json::json!({
                    "allocations": k,
                    "deallocations": k,
                    "reallocations": 0,
                    "bytes": 8 * k,
                    "peak_bytes": if k > 0 { 8 } else { 0 },
                }),
                "boxes/{k}"
            );
        }
    }
    for counted in counts(&baseline, "handle") {
        assert_eq!(counted["allocations"], 1);
        assert_eq!(counted["bytes"], 24);
    }

    // A/A: another run of the same code reads exactly the same counts.
    let again = root.path().join("again.json");
    let output = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "--no-profile", "--out"])
        .arg(&again));
    assert!(output.status.success(), "{}", stderr(&output));
    let again = read_json(&again);
    for id in ["boxes/0", "boxes/1", "boxes/3", "boxes/1000", "handle"] {
        assert_eq!(counts(&again, id), counts(&baseline, id), "{id}");
    }

    git_in(&repo, &["add", "-A"]);
    git_in(&repo, &["commit", "-q", "-m", "baseline"]);
    one_more_allocation_on_a_branch(&repo);

    // Stored mode: against the baseline committed on main.
    let out = root.path().join("stored");
    let output = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .args(["check", "--no-profile", "--base-ref", "main", "--out-dir"])
        .arg(&out));
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert_one_more_allocation_flagged(&report(&out), "StoredBaseline");
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        markdown.contains("`handle`: allocations per iteration 1 → 2; bytes 24 → 48"),
        "{markdown}"
    );
    assert!(
        stdout(&output).contains("allocations handle: allocations per iteration 1 → 2"),
        "{}",
        stdout(&output)
    );
}

/// The same change gated paired (both sides built, timed and counted in
/// this job) and paired in instruction mode.
#[test]
fn one_more_allocation_fails_paired_and_instruction_checks() {
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    let repo = fixture_repo(root.path(), "allocs");
    let target = fixture_target_dir();
    one_more_allocation_on_a_branch(&repo);

    // Paired mode: both sides built and counted in this job.
    let out = root.path().join("paired");
    let output = paired_six_rounds(&repo, &target.join("allocs-paired"), &out, false, &[]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert_one_more_allocation_flagged(&report(&out), "Paired");

    // Instruction mode counts allocations too: the allocation pass does
    // not depend on how time is measured.
    let out = root.path().join("instructions");
    let output = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", target.join("allocs-paired"))
        .args([
            "check",
            "--paired",
            "--measure",
            "instructions",
            "--base-ref",
            "main",
            "--out-dir",
        ])
        .arg(&out));
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert_one_more_allocation_flagged(&report(&out), "Instructions");
}

/// The counter inside the allocator symbolizes nothing and takes no lock:
/// a routine that takes backtraces on two threads (the `backtrace` crate's
/// own lock and symbol cache busy) has its own thread's allocations
/// counted, without a hang (how many depends on which thread symbolizes
/// first); `iter_batched`'s set-up counts with its routine; and a routine
/// that hangs in the allocation pass is stopped, by name.
#[test]
fn the_counter_survives_backtraces_on_two_threads_and_a_hang_is_stopped_by_name() {
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    let repo = fixture_repo(root.path(), "edge");
    let target = fixture_target_dir();
    let measured = root.path().join("edge.json");
    let output = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "run",
            "--no-profile",
            "--filter",
            "^(batched|backtraces)$",
            "--out",
        ])
        .arg(&measured));
    assert!(output.status.success(), "{}", stderr(&output));
    let record = read_json(&measured);
    for counted in counts(&record, "batched") {
        assert_eq!(
            counted,
            serde_json::json!({
                "allocations": 1,
                "deallocations": 1,
                "reallocations": 0,
                "bytes": 64,
                "peak_bytes": 64,
            }),
            "the set-up's vector, freed by the routine"
        );
    }
    let traced = counts(&record, "backtraces");
    assert_eq!(traced.len(), 3);
    assert!(traced[0]["allocations"].as_u64().unwrap() > 0, "{traced:?}");

    let output = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .env("FLAMEGATE_FIXTURE_HANG", "1")
        .env("FLAMEGATE_PASS_TIMEOUT", "5")
        .args([
            "run",
            "--no-profile",
            "--filter",
            "^hangs_when_counted$",
            "--out",
        ])
        .arg(root.path().join("hang.json")));
    let err = usage_error(&output);
    assert!(
        err.contains(
            "the allocation pass of benchmark `hangs_when_counted` did not finish within 5 s"
        ),
        "{err}"
    );
}
