//! Commands as benchmarks (`[[command]]` in flamegate.toml): a small CLI
//! fixture timed as whole processes, stored and paired, through the real
//! binary; a seeded slowdown in its start-up fails, its peak memory growth
//! is reported, and a run that exits non-zero is an error naming it.

use std::path::Path;

use crate::support::*;

const FILES: [&str; 4] = [
    "Cargo.lock",
    "src/main.rs",
    "flamegate.toml",
    "data/words.txt",
];

/// `main`: the tool; branch `slow`: its start-up builds and touches a
/// 48 MiB table before counting (slower, and 48 MiB more resident).
fn tally_repo(dir: &Path) {
    copy_fixture("command-tool", &FILES, dir);
    init_and_commit(dir, "tally");
}

fn slow_start_up(dir: &Path) {
    replace_in(
        &dir.join("src/main.rs"),
        "    vec![\"a\", \"an\", \"the\"]",
        "    let mut table = vec![0u8; 48 << 20];\n    \
         for page in table.chunks_mut(4096) {\n        page[0] = 1;\n    }\n    \
         std::hint::black_box(&table);\n    vec![\"a\", \"an\", \"the\"]",
    );
}

#[test]
fn a_command_is_timed_whole_and_a_slower_start_up_fails_with_its_memory_shown() {
    let _machine = exclusive_benchmarking();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    tally_repo(&repo);
    let target = fixture_target_dir().join("command-tool");

    let list = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .arg("list"));
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert_eq!(stdout(&list), "command/count\n");

    // A stored baseline: whole runs, each one sample, with its peak memory.
    let update = run(flamegate(&repo).env("CARGO_TARGET_DIR", &target).args([
        "baseline",
        "update",
        "--no-profile",
    ]));
    assert_eq!(update.status.code(), Some(0), "{}", stderr(&update));
    let stored = flamegate::record::RunRecord::load(&repo.join("baselines/tally.json")).unwrap();
    let count = &stored.benches[0];
    assert_eq!(count.id.as_str(), "command/count");
    assert!(count.samples.len() >= 10, "{count:?}");
    // Read from the two warm-up runs (traced): the tool's own peak, a few
    // MiB, not flamegate's tens.
    assert_eq!(count.peak_memory.len(), 2, "{count:?}");
    assert!(
        count
            .peak_memory
            .iter()
            .all(|kib| (100..8_000).contains(kib)),
        "{count:?}"
    );
    git_in(&repo, &["add", "baselines"]);
    git_in(&repo, &["commit", "-q", "-m", "baseline"]);

    // Instruction counts: the whole process under callgrind.
    let counted = dir.path().join("counted.json");
    let output = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "--measure", "instructions", "--out"])
        .arg(&counted));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let counted = flamegate::record::RunRecord::load(&counted).unwrap();
    assert_eq!(
        counted.benches[0].unit,
        flamegate::record::SampleUnit::Instructions
    );
    assert!(counted.benches[0].samples[0] > 100_000.0, "{counted:?}");

    git_in(&repo, &["checkout", "-q", "-b", "slow"]);
    slow_start_up(&repo);
    git_in(&repo, &["commit", "-q", "-am", "a table at start-up"]);
    let stored = dir.path().join("stored");
    let paired = dir.path().join("paired");
    let profiled_pair = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .args(["check", "--base-ref", "main", "--paired", "--rounds", "6"])
        .args(["--profile-time", "1", "--out-dir"])
        .arg(&paired));
    for (output, out) in [
        (check_against_main(&repo, &target, &stored, &[]), &stored),
        // Profiled: the tool samples itself (`flamegate_sampler::profile_command()`).
        (profiled_pair, &paired),
    ] {
        let said = format!("{}{}", stdout(&output), stderr(&output));
        assert_eq!(output.status.code(), Some(1), "{out:?}: {said}");
        let report = report(out);
        assert_eq!(
            verdict_of(&report, "command/count"),
            "Regressed",
            "{report}"
        );
        // 48 MiB more resident, over a peak of a few MiB.
        let memory = &comparison_of(&report, "command/count")["peak_memory"];
        let grew = memory["head_kib"].as_u64().unwrap() - memory["base_kib"].as_u64().unwrap();
        assert!((48_000..52_000).contains(&grew), "{memory}");
        assert!(
            stdout(&output).contains("memory command/count: peak memory "),
            "{out:?}: {said}"
        );
    }
    // Where the time went: the table built at start-up, in the hotspots
    // and the flamegraphs of the paired check.
    let report = report(&paired);
    let count = comparison_of(&report, "command/count");
    assert!(
        count["hotspots"].to_string().contains("tally::stop_words"),
        "{count}"
    );
    let flamegraphs = count["flamegraphs"].as_array().unwrap();
    assert!(!flamegraphs.is_empty(), "{count}");
    for file in flamegraphs {
        assert!(paired.join(file.as_str().unwrap()).exists(), "{file}");
    }
}

#[test]
fn a_command_that_exits_non_zero_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    tally_repo(&repo);
    replace_in(
        &repo.join("flamegate.toml"),
        "data/words.txt",
        "data/gone.txt",
    );
    let output = run(flamegate(&repo)
        .env(
            "CARGO_TARGET_DIR",
            fixture_target_dir().join("command-tool"),
        )
        .args(["run", "--no-profile", "--out"])
        .arg(dir.path().join("run.json")));
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("command `count` failed: exit status: 1"),
        "{err}"
    );
    assert!(err.contains("tally: data/gone.txt: No such file"), "{err}");
    assert!(!dir.path().join("run.json").exists());
}

/// A program cargo does not build: its own `build` makes it, in the
/// project; a build that fails stops the run naming it.
#[test]
fn a_program_built_by_its_own_command_is_timed_and_a_failed_build_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    tally_repo(&repo);
    let toml = repo.join("flamegate.toml");
    std::fs::write(repo.join("lines.sh"), "#!/bin/sh\nwc -l < \"$1\"\n").unwrap();
    let script = "[[command]]\nname = \"lines\"\nprogram = \"build/lines.sh\"\n\
         build = [\"sh\", \"-c\", \"mkdir -p build && cp lines.sh build/ && chmod +x build/lines.sh\"]\n\
         args = [\"data/words.txt\"]\n";
    let config = std::fs::read_to_string(&toml).unwrap() + script;
    std::fs::write(&toml, &config).unwrap();
    let out = dir.path().join("run.json");
    let output = run(flamegate(&repo)
        .env(
            "CARGO_TARGET_DIR",
            fixture_target_dir().join("command-tool"),
        )
        .args(["run", "--no-profile", "--filter", "lines", "--out"])
        .arg(&out));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let record = flamegate::record::RunRecord::load(&out).unwrap();
    let ids: Vec<&str> = record.benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["command/lines"]);
    assert!(record.benches[0].samples.len() >= 10);

    std::fs::write(
        &toml,
        config.replace(
            "[\"sh\", \"-c\", \"mkdir",
            "[\"sh\", \"-c\", \"exit 3; mkdir",
        ),
    )
    .unwrap();
    let output = run(flamegate(&repo)
        .env(
            "CARGO_TARGET_DIR",
            fixture_target_dir().join("command-tool"),
        )
        .args(["run", "--no-profile", "--out"])
        .arg(dir.path().join("failed.json")));
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("exit status: 3"), "{err}");
    assert!(err.contains("exit 3; mkdir -p build"), "{err}");
}
