//! Instruction mode (`--measure instructions`): exact counts under callgrind,
//! through the real binary on the tiny criterion project.

use crate::support::*;

/// The stored half builds a temporary copy of the fixture in the shared
/// fixture target dir, with every other plain build of it (criterion built
/// once for all). The paired half builds the fixed-path `paired_repo()` in
/// the paired tests' target dir, whose builds carry flags naming that path
/// and stay cached with theirs. A persistent copy never builds in the shared
/// dir: cargo gives every copy of the tiny crate the same unit there, and a
/// persistent copy's dep-info makes another copy's changed source look
/// fresh (a stale bench executable).
fn in_paired_target(command: &mut std::process::Command) -> &mut std::process::Command {
    command.env("CARGO_TARGET_DIR", paired_target())
}

/// `check` with instruction counts into a fresh out dir.
fn count(
    command: &mut std::process::Command,
    args: &[&str],
) -> (std::process::Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let output = run(command
        .args(["check", "--measure", "instructions"])
        .args(args)
        .arg("--out-dir")
        .arg(out.path()));
    (output, out)
}

/// The loop is the work; criterion's few hundred instructions of
/// bookkeeping inside `iter` dilute it slightly (to +4.9% at n=1000).
fn assert_five_percent(report: &serde_json::Value) {
    for id in ["work/xorshift/1000", "work/xorshift/4000"] {
        assert_eq!(
            verdict_of(report, id),
            "Regressed",
            "{}",
            report["comparisons"]
        );
        let estimate = estimate_of(report, id);
        assert!(
            (estimate - 0.05).abs() <= 0.002,
            "{id}: {estimate} is not 5% within ±0.2 points"
        );
    }
}

/// Exactly 5% more loop iterations in `work`, committed on branch `more`.
fn five_percent_more(repo: &std::path::Path) {
    git_in(repo, &["checkout", "-q", "-b", "more"]);
    replace_in(
        &repo.join("src/lib.rs"),
        "for i in 0..n {",
        "for i in 0..n + n / 20 {",
    );
    git_in(repo, &["commit", "-q", "-am", "5% more work"]);
}

#[test]
fn five_percent_more_iterations_read_as_five_percent_and_a_a_reads_zero() {
    let _machine = exclusive_benchmarking();
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path();
    committed_tiny(repo);
    let output = run(in_fixture_target(flamegate(repo).args([
        "baseline",
        "update",
        "--measure",
        "instructions",
    ])));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(repo.join("baselines/tiny.instructions.json").exists());
    git_in(repo, &["add", "-A"]);
    git_in(repo, &["commit", "-q", "-m", "instruction baseline"]);

    // A/A: the same code counted again changes by exactly nothing.
    let (output, out) = count(in_fixture_target(&mut flamegate(repo)), &["--base", "HEAD"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let same = report(out.path());
    assert_eq!(same["mode"], "Instructions");
    for c in same["comparisons"].as_array().unwrap() {
        assert_eq!(c["verdict"], "Unchanged", "{c}");
        assert_eq!(c["change"]["estimate"], 0.0, "{c}");
    }

    // Against the stored baseline: the exact change.
    five_percent_more(repo);
    let (output, out) = count(in_fixture_target(&mut flamegate(repo)), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_five_percent(&report(out.path()));
    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        markdown.contains("instructions per iteration"),
        "{markdown}"
    );
    assert!(
        markdown.contains("src/lib.rs"),
        "the hotspot names the code: {markdown}"
    );
    assert!(markdown.contains("instr"), "{markdown}");
    // Exact counts: no interval and no statistics words (issue 22).
    assert!(markdown.contains("| exact |"), "{markdown}");
    assert!(
        !markdown.contains("false discovery rate") && !markdown.contains("intervals"),
        "{markdown}"
    );
    // callgrind's cache and branch simulation, once per benchmark, marked advisory.
    assert!(
        markdown.contains("simulated (advisory)") && markdown.contains("last-level misses"),
        "{markdown}"
    );
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("baselines/tiny.instructions.json")).unwrap(),
    )
    .unwrap();
    for bench in record["benches"].as_array().unwrap() {
        assert!(
            bench["simulated"]["branches"].as_u64().unwrap() > 0,
            "{bench}"
        );
    }

    // Paired: main built and counted in this job, no stored baseline there;
    // the same exact change.
    let repo_dir = paired_repo();
    let repo = repo_dir.as_path();
    five_percent_more(repo);
    let (output, out) = count(
        in_paired_target(&mut flamegate(repo)),
        &["--paired", "--base-ref", "main"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let paired = report(out.path());
    assert_eq!(paired["mode"], "Instructions");
    assert!(
        paired["base"]["chosen_as"]
            .as_str()
            .unwrap()
            .ends_with("built and counted in this job"),
        "{}",
        paired["base"]
    );
    assert_five_percent(&paired);

    // Paired A/A: the head's own commit built again beside it counts the same.
    let (output, out) = count(
        in_paired_target(&mut flamegate(repo)),
        &["--paired", "--base", "HEAD"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for c in report(out.path())["comparisons"].as_array().unwrap() {
        assert_eq!(c["change"]["estimate"], 0.0, "{c}");
    }
    let err = usage_error(&run(in_paired_target(flamegate(repo).args([
        "check",
        "--paired",
        "--measure",
        "instructions",
        "--rounds",
        "4",
    ]))));
    assert!(err.contains("do not apply to instruction counts"), "{err}");
}

#[test]
fn without_valgrind_the_error_says_how_to_install_it_before_building() {
    let repo = tempfile::tempdir().unwrap();
    copy_tiny(repo.path());
    // cargo and rustc stay reachable; valgrind (in /usr/bin) does not.
    let cargo_bin = std::path::Path::new(&std::env::var("CARGO").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let output = run(flamegate(repo.path())
        .env("PATH", &cargo_bin)
        .env("CARGO_TARGET_DIR", repo.path().join("target"))
        .args(["run", "--measure", "instructions"]));
    let err = usage_error(&output);
    assert!(err.contains("valgrind is not installed"), "{err}");
    assert!(err.contains("apt-get install valgrind"), "{err}");
    assert!(
        !repo.path().join("target/release").exists(),
        "nothing was built first"
    );
}
