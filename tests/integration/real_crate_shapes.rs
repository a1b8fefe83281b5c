//! Shapes of real crates that tripped flamegate, as fixtures through the
//! real binary: a crate named like one of criterion's own dependencies
//! (itoa, ryu, memchr, serde: `--package itoa` is ambiguous), in a virtual
//! workspace checked out in a folder whose name has a `+` (no valid suite
//! name to take as it stands), whose benchmark input grows with the pull
//! request (rust-hex's decode rewrite: compared per byte in every mode).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const FILES: [&str; 5] = [
    "Cargo.toml",
    "Cargo.lock",
    "itoa/Cargo.toml",
    "itoa/src/lib.rs",
    "itoa/benches/hash.rs",
];

/// The suite name made from the folder `fg+ws`.
const SUITE: &str = "fg-ws";

/// The fixture as a git repository in `<root>/fg+ws`, main committed.
fn own_dependency_repo(root: &Path) -> PathBuf {
    let repo = root.join("fg+ws");
    for file in FILES {
        let dest = repo.join(file);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(fixture("own-dependency").join(file), dest).unwrap();
    }
    std::fs::write(repo.join(".gitignore"), "/target\n").unwrap();
    init_and_commit(&repo, "hash");
    repo
}

fn flamegate_in(repo: &Path) -> Command {
    let mut command = flamegate(repo);
    command.env(
        "CARGO_TARGET_DIR",
        fixture_target_dir().join("own-dependency"),
    );
    command
}

fn succeeds(command: &mut Command) -> std::process::Output {
    let output = run(command);
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// The grown input is compared per byte: the same instructions per byte
/// (4 a byte and a fixed 59: 40,059 → 50,059), not a 25% regression; the
/// report says so and where the suite name came from.
fn assert_per_byte(out: &Path, mode: &str) {
    let report = report(out);
    assert_eq!(report["mode"], mode);
    assert_eq!(report["suite"], format!("{SUITE}.instructions"));
    let bench = comparison_of(&report, "hash/bytes");
    assert_eq!(
        bench["input"],
        serde_json::json!({"unit": "Bytes", "base": 10_000, "head": 12_500}),
        "{mode}: {bench}"
    );
    let change = bench["change"]["estimate"].as_f64().unwrap();
    assert!(change.abs() < 0.01, "{mode}: per byte {change}: {bench}");
    assert_eq!(bench["verdict"], "Unchanged", "{mode}: {bench}");
    let input = note_of(&report, "input_changed");
    assert_eq!(input["unit"], "Bytes", "{mode}: {input}");
    assert_eq!(input["counted"], true, "{mode}: {input}");
    let named = note_of(&report, "suite_named_after_package");
    assert_eq!(named["suite"], "fg-ws", "{mode}: {named}");
    assert_eq!(named["package"], "fg+ws", "{mode}: {named}");
}

#[test]
fn a_crate_named_like_criterions_dependency_in_a_plus_folder_is_checked_per_byte() {
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    let repo = own_dependency_repo(root.path());

    // Listed, with and without --package, though cargo's `-p itoa` is
    // ambiguous here (the registry's itoa is in criterion's tree).
    for args in [&["list"][..], &["list", "-p", "itoa"]] {
        let output = succeeds(flamegate_in(&repo).args(args));
        assert_eq!(stdout(&output).trim(), "hash/bytes", "{args:?}");
    }
    // A suite name the user wrote is refused with where they wrote it.
    let err = usage_error(&run(flamegate_in(&repo).args(["list", "--suite", "a+b"])));
    assert!(
        err.contains("suite name `a+b` (given with --suite)"),
        "{err}"
    );
    std::fs::write(repo.join("flamegate.toml"), "suite = \"fg ws\"\n").unwrap();
    let err = usage_error(&run(flamegate_in(&repo).arg("list")));
    assert!(err.contains("(set by `suite` in "), "{err}");
    assert!(err.contains("flamegate.toml)"), "{err}");
    std::fs::remove_file(repo.join("flamegate.toml")).unwrap();

    // Baselines of both measures under the derived name.
    let output = succeeds(flamegate_in(&repo).args([
        "baseline",
        "update",
        "-p",
        "itoa",
        "--measure",
        "instructions",
    ]));
    assert!(
        stderr(&output).contains("suite `fg-ws` is named after `fg+ws`"),
        "{}",
        stderr(&output)
    );
    succeeds(
        flamegate_in(&repo)
            .args(["baseline", "update", "-p", "itoa"])
            .args(quick_no_profile()),
    );
    for file in [
        format!("baselines/{SUITE}.json"),
        format!("baselines/{SUITE}.instructions.json"),
    ] {
        assert!(repo.join(&file).exists(), "{file}");
    }
    git_in(&repo, &["add", "-A"]);
    git_in(&repo, &["commit", "-q", "-m", "baselines"]);

    // The pull request grows the input a quarter; the work per byte stays.
    git_in(&repo, &["checkout", "-q", "-b", "grow"]);
    let lib = repo.join("itoa/src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let grown = source.replace("INPUT_LEN: usize = 10_000", "INPUT_LEN: usize = 12_500");
    assert_ne!(source, grown);
    std::fs::write(&lib, grown).unwrap();
    git_in(&repo, &["commit", "-q", "-am", "hash: a longer input"]);

    let out = root.path().join("stored-instructions");
    succeeds(
        flamegate_in(&repo)
            .args(["check", "-p", "itoa", "--measure", "instructions"])
            .args(["--base-ref", "main", "--out-dir"])
            .arg(&out),
    );
    assert_per_byte(&out, "Instructions");
    let out = root.path().join("paired-instructions");
    succeeds(
        flamegate_in(&repo)
            .args([
                "check",
                "--paired",
                "-p",
                "itoa",
                "--measure",
                "instructions",
            ])
            .args(["--base-ref", "main", "--out-dir"])
            .arg(&out),
    );
    assert_per_byte(&out, "Instructions");

    // Time, stored and paired: both build and compare (the verdicts are
    // timing's; what matters here is that nothing stops before them).
    for (paired, name) in [(false, "stored-time"), (true, "paired-time")] {
        let out = root.path().join(name);
        let mut command = flamegate_in(&repo);
        command.args(["check", "-p", "itoa", "--base-ref", "main", "--no-profile"]);
        if paired {
            command.args(["--paired", "--rounds", "4"]);
        }
        let output = run(command
            .arg("--out-dir")
            .arg(&out)
            .arg("--")
            .args(QUICK_WINDOWS));
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{name}: {}",
            stderr(&output)
        );
        let report = report(&out);
        assert_eq!(
            comparison_of(&report, "hash/bytes")["input"]["head"],
            12_500,
            "{name}"
        );
    }

    // The pre-push hook builds and measures it too.
    let origin = root.path().join("origin.git");
    git_in(
        root.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    git_in(
        &repo,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    succeeds(
        flamegate_in(&repo)
            .args(["hook", "install", "--"])
            .args(QUICK_WINDOWS),
    );
    let push = Command::new("git")
        .current_dir(&repo)
        .args(["push", "origin", "grow"])
        .env(
            "CARGO_TARGET_DIR",
            fixture_target_dir().join("own-dependency"),
        )
        .env("NO_COLOR", "1")
        .env_remove("FLAMEGATE_SKIP")
        .output()
        .unwrap();
    let err = stderr(&push);
    assert!(!err.contains("ambiguous"), "{err}");
    assert!(
        err.contains("pre-push: checked 1 benchmark(s) in "),
        "{err}"
    );
}
