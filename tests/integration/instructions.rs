//! Instruction mode (`--measure instructions`): exact counts under callgrind,
//! through the real binary on the tiny criterion project.

use crate::support::*;

/// All of this test's builds go to the paired tests' target dir: with the
/// fixed-path `paired_repo()`, its paired builds (whose flags name the
/// repository's path) are shared with those tests and stay cached (a fresh
/// temp dir rebuilt criterion and pprof for both sides on every run). Not
/// the shared fixture target dir: cargo gives every copy of the tiny crate
/// the same unit there, and a persistent copy's dep-info makes another
/// copy's changed source look fresh (a stale bench binary, TOOLCHAIN.md).
fn in_paired_target(command: &mut std::process::Command) -> &mut std::process::Command {
    command.env("CARGO_TARGET_DIR", paired_target())
}

#[test]
fn five_percent_more_iterations_read_as_five_percent_and_a_a_reads_zero() {
    let _machine = exclusive_benchmarking();
    let repo_dir = paired_repo();
    let repo = repo_dir.as_path();
    let output = run(in_paired_target(flamegate(repo).args([
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
    let out = tempfile::tempdir().unwrap();
    let output = run(in_paired_target(
        flamegate(repo)
            .args([
                "check",
                "--measure",
                "instructions",
                "--base",
                "HEAD",
                "--out-dir",
            ])
            .arg(out.path()),
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let same = report(out.path());
    assert_eq!(same["mode"], "Instructions");
    for c in same["comparisons"].as_array().unwrap() {
        assert_eq!(c["verdict"], "Unchanged", "{c}");
        assert_eq!(c["change"]["estimate"], 0.0, "{c}");
    }

    // Head: exactly 5% more loop iterations in `work`.
    git_in(repo, &["checkout", "-q", "-b", "more"]);
    let lib = std::fs::read_to_string(repo.join("src/lib.rs")).unwrap();
    std::fs::write(
        repo.join("src/lib.rs"),
        lib.replace("for i in 0..n {", "for i in 0..n + n / 20 {"),
    )
    .unwrap();
    git_in(repo, &["commit", "-q", "-am", "5% more work"]);
    let out = tempfile::tempdir().unwrap();
    let output = run(in_paired_target(
        flamegate(repo)
            .args(["check", "--measure", "instructions", "--out-dir"])
            .arg(out.path()),
    ));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let more = report(out.path());
    for id in ["work/xorshift/1000", "work/xorshift/4000"] {
        assert_eq!(
            verdict_of(&more, id),
            "Regressed",
            "{}",
            more["comparisons"]
        );
        let estimate = estimate_of(&more, id);
        // The loop is the work; criterion's few hundred instructions of
        // bookkeeping inside `iter` dilute it slightly (to +4.9% at n=1000).
        assert!(
            (estimate - 0.05).abs() <= 0.002,
            "{id}: {estimate} is not 5% within ±0.2 points"
        );
    }
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

    // Paired: main built and counted in this job, no stored baseline used;
    // the same exact change.
    let paired_counts = |base: [&str; 2]| {
        let out = tempfile::tempdir().unwrap();
        let output = run(in_paired_target(
            flamegate(repo)
                .args(["check", "--paired", "--measure", "instructions"])
                .args(base)
                .arg("--out-dir")
                .arg(out.path()),
        ));
        (output, out)
    };
    let (output, out) = paired_counts(["--base-ref", "main"]);
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
    for id in ["work/xorshift/1000", "work/xorshift/4000"] {
        let estimate = estimate_of(&paired, id);
        assert!((estimate - 0.05).abs() <= 0.002, "{id}: {estimate}");
    }

    // Paired A/A: the head's own commit built again beside it counts the same.
    let (output, out) = paired_counts(["--base", "HEAD"]);
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
