//! `flamegate bisect` through the real binary, on a repository with a
//! culprit among unrelated commits.

use std::path::{Path, PathBuf};

use crate::scaling::{BENCH, LINEAR, QUADRATIC};
use crate::support::*;

/// Commit everything in `repo` with `subject`.
fn commit(repo: &Path, subject: &str) {
    git_in(repo, &["add", "-A"]);
    git_in(repo, &["commit", "-q", "-m", subject]);
}

/// Write `contents` to `file` in `repo` and commit it with `subject`.
fn write_and_commit(repo: &Path, file: &str, contents: &str, subject: &str) {
    std::fs::write(repo.join(file), contents).unwrap();
    commit(repo, subject);
}

/// A change to the work tree, made before a commit.
type Change<'a> = Box<dyn Fn() + 'a>;

/// Sixteen commits on main: the duplicate finder linear at the first,
/// quadratic from the ninth (index 8); around it, commits that leave its
/// code alone (docs, a test, a function it does not call), two that change
/// it without changing its count much (a capacity), and one that does not
/// build (index 11, fixed by the next).
fn sixteen_commits(repo: &Path) {
    committed_tiny(repo);
    std::fs::write(repo.join("benches/tiny.rs"), BENCH).unwrap();
    write_and_commit(repo, "src/lib.rs", LINEAR, "duplicates with a hash set");
    let lib = repo.join("src/lib.rs");
    let append = |text: &str| {
        let mut source = std::fs::read_to_string(&lib).unwrap();
        source.push_str(text);
        std::fs::write(&lib, source).unwrap();
    };
    let steps: Vec<(&str, Change)> = vec![
        (
            "readme",
            Box::new(|| std::fs::write(repo.join("README.md"), "# tiny\n").unwrap()),
        ),
        (
            "a total",
            Box::new(|| {
                append("\npub fn total(skus: &[u64]) -> u64 {\n    skus.iter().sum()\n}\n")
            }),
        ),
        (
            "a test",
            Box::new(|| {
                std::fs::create_dir_all(repo.join("tests")).unwrap();
                std::fs::write(
                    repo.join("tests/total.rs"),
                    "#[test]\nfn sums() {\n    assert_eq!(tiny::total(&[1, 2]), 3);\n}\n",
                )
                .unwrap();
            }),
        ),
        (
            "readme usage",
            Box::new(|| {
                std::fs::write(repo.join("README.md"), "# tiny\n\nFinds duplicates.\n").unwrap()
            }),
        ),
        (
            "room for one more",
            Box::new(|| {
                replace_in(
                    &lib,
                    "with_capacity(skus.len())",
                    "with_capacity(skus.len() + 1)",
                )
            }),
        ),
        (
            "a max",
            Box::new(|| {
                append(
                    "\npub fn largest(skus: &[u64]) -> Option<u64> {\n    skus.iter().copied().max()\n}\n",
                )
            }),
        ),
        (
            "changelog",
            Box::new(|| std::fs::write(repo.join("CHANGELOG.md"), "- totals\n").unwrap()),
        ),
        (
            "simpler duplicate check",
            Box::new(|| {
                let rest = std::fs::read_to_string(&lib).unwrap();
                let rest = &rest[rest.find("\npub fn total").unwrap()..];
                std::fs::write(&lib, format!("{QUADRATIC}{rest}")).unwrap();
            }),
        ),
        (
            "changelog again",
            Box::new(|| {
                std::fs::write(repo.join("CHANGELOG.md"), "- totals\n- simpler\n").unwrap()
            }),
        ),
        (
            "readme badge",
            Box::new(|| {
                std::fs::write(
                    repo.join("README.md"),
                    "# tiny\n\nFinds duplicates, fast.\n",
                )
                .unwrap()
            }),
        ),
        (
            "half a smallest",
            Box::new(|| {
                append(
                    "\npub fn smallest(skus: &[u64]) -> Option<u64> {\n    skus.iter().copied().min(\n",
                )
            }),
        ),
        ("finish smallest", Box::new(|| append(")\n}\n"))),
        (
            "a room",
            Box::new(|| {
                replace_in(
                    &lib,
                    "let mut duplicates = Vec::new();",
                    "let mut duplicates = Vec::with_capacity(4);",
                )
            }),
        ),
        (
            "test largest",
            Box::new(|| {
                std::fs::write(repo.join("tests/largest.rs"), "#[test]\nfn largest() {\n    assert_eq!(tiny::largest(&[1, 2]), Some(2));\n}\n").unwrap();
            }),
        ),
        (
            "license",
            Box::new(|| std::fs::write(repo.join("LICENSE"), "MIT\n").unwrap()),
        ),
    ];
    for (subject, change) in steps {
        change();
        commit(repo, subject);
    }
}

/// A repository made by `make` in a temporary folder (kept while the
/// folder lives), with an `out` folder beside it.
fn made(make: fn(&Path)) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    make(&repo);
    let out = dir.path().join("out");
    (dir, repo, out)
}

/// flamegate with `args` in `repo`, building in the shared paired target.
fn flamegate_at(repo: &Path, args: &[&str], out: &Path) -> std::process::Output {
    run(flamegate(repo)
        .env("CARGO_TARGET_DIR", paired_target())
        .args(args)
        .arg("--out-dir")
        .arg(out))
}

/// `check --paired --measure instructions` of `dups/find/3200` against
/// main, with `extra` arguments.
fn instruction_check(repo: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let check = [
        "check",
        "--paired",
        "--measure",
        "instructions",
        "--base-ref",
        "main",
        "--filter",
        "3200",
    ];
    flamegate_at(repo, &[&check[..], extra].concat(), out)
}

/// A repository made by `make`, bisected with `args`: the run's output,
/// its `bisect.json` (null when none) and its `bisect.md`.
fn bisect_in(make: fn(&Path), args: &[&str]) -> (std::process::Output, serde_json::Value, String) {
    let (_dir, repo, out) = made(make);
    let output = flamegate_at(&repo, &[&["bisect"][..], args].concat(), &out);
    let report = std::fs::read(out.join("bisect.json"))
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
        .unwrap_or_default();
    let markdown = std::fs::read_to_string(out.join("bisect.md")).unwrap_or_default();
    (output, report, markdown)
}

#[test]
fn bisect_names_the_commit_that_made_a_function_quadratic_and_skips_one_that_does_not_build() {
    let (output, report, markdown) =
        bisect_in(sixteen_commits, &["--good", "HEAD~15", "--bad", "HEAD"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let benchmarks = report["benchmarks"].as_array().unwrap();
    assert_eq!(benchmarks.len(), 3, "every size grew: {report}");
    for bench in benchmarks {
        let culprit = &bench["outcome"]["Culprit"];
        assert_eq!(
            culprit["commit"]["subject"], "simpler duplicate check",
            "{bench}"
        );
        assert_eq!(culprit["diff"]["paths"][0], "src/lib.rs", "{bench}");
        // The culprit alone makes (nearly) all of the change.
        let share = culprit["share"].as_f64().unwrap();
        assert!((0.9..1.1).contains(&share), "{bench}");
    }
    let steps = report["steps"].as_array().unwrap();
    let outcome_of = |subject: &str| {
        steps
            .iter()
            .find(|s| s["commit"]["subject"] == subject)
            .map(|s| s["outcome"].clone())
    };
    let skipped = outcome_of("half a smallest").expect("the search stepped on it");
    assert!(
        skipped["Skipped"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("build")),
        "{skipped}"
    );
    let counted = steps.iter().filter(|s| s["outcome"] == "Measured").count();
    assert!(counted <= 5, "{counted} commits counted: {report}");
    let text = stdout(&output);
    assert!(
        text.contains("culprit: ") && text.contains("simpler duplicate check"),
        "{text}"
    );
    assert!(markdown.contains("**Culprit: `"), "{markdown}");
    assert!(markdown.contains("skipped: "), "{markdown}");
}

/// Bring `Cargo.lock` up to date with the manifests, as a commit would.
fn lock(repo: &Path) {
    let status = std::process::Command::new("cargo")
        .args(["metadata", "--offline", "--format-version", "1"])
        .current_dir(repo)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// `dup-find`'s manifest at `version`.
fn dup_find_manifest(version: &str) -> String {
    format!("[package]\nname = \"dup-find\"\nversion = \"{version}\"\nedition = \"2021\"\n")
}

/// The duplicate finder moved into a path dependency, `dup-find` 0.1.0
/// (linear), committed.
fn duplicates_from_a_dependency(repo: &Path) {
    committed_tiny(repo);
    let dependency = repo.join("dup-find");
    std::fs::create_dir_all(dependency.join("src")).unwrap();
    std::fs::write(dependency.join("Cargo.toml"), dup_find_manifest("0.1.0")).unwrap();
    std::fs::write(dependency.join("src/lib.rs"), LINEAR).unwrap();
    std::fs::write(
        repo.join("src/lib.rs"),
        "pub use dup_find::find_duplicates;\n",
    )
    .unwrap();
    replace_in(
        &repo.join("Cargo.toml"),
        "[dev-dependencies]",
        "[dependencies]\ndup-find = { path = \"dup-find\" }\n\n[dev-dependencies]",
    );
    std::fs::write(repo.join("benches/tiny.rs"), BENCH).unwrap();
    lock(repo);
    commit(repo, "duplicates from dup-find");
}

/// `dup-find` 0.2.0 (quadratic), committed with its lock file.
fn bump_dup_find(repo: &Path) {
    let dependency = repo.join("dup-find");
    std::fs::write(dependency.join("Cargo.toml"), dup_find_manifest("0.2.0")).unwrap();
    std::fs::write(dependency.join("src/lib.rs"), QUADRATIC).unwrap();
    lock(repo);
    commit(repo, "dup-find 0.2");
}

/// `dup-find` 0.1.0, a readme, `dup-find` 0.2.0, a changelog.
fn a_dependency_bumped(repo: &Path) {
    duplicates_from_a_dependency(repo);
    write_and_commit(repo, "README.md", "# tiny\n", "readme");
    bump_dup_find(repo);
    write_and_commit(repo, "CHANGELOG.md", "- dup-find 0.2\n", "changelog");
}

#[test]
fn bisect_names_the_dependency_whose_update_made_a_benchmark_slower() {
    let (output, report, _) = bisect_in(
        a_dependency_bumped,
        &["--good", "HEAD~3", "--filter", "3200"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let culprit = &report["benchmarks"][0]["outcome"]["Culprit"];
    assert_eq!(culprit["commit"]["subject"], "dup-find 0.2", "{report}");
    let dependency = &culprit["dependencies"][0];
    assert_eq!(dependency["package"]["name"], "dup-find", "{culprit}");
    assert_eq!(dependency["package"]["before"][0], "0.1.0", "{culprit}");
    assert_eq!(dependency["package"]["after"][0], "0.2.0", "{culprit}");
    // Its functions make nearly all of the change.
    let share = dependency["share"].as_f64().unwrap();
    assert!(share > 0.9, "{culprit}");
    let text = stdout(&output);
    assert!(
        text.contains("dependency: dup-find 0.1.0 → 0.2.0: its functions' own instructions"),
        "{text}"
    );
}

/// The same search by paired timing: every commit looked at is timed
/// against the good end until its level is nearer one end, and the culprit
/// is timed against its parent.
#[test]
fn bisect_by_time_names_the_culprit_and_times_it_against_its_parent() {
    let _machine = exclusive_benchmarking();
    let (output, report, _) = bisect_in(
        sixteen_commits,
        &["--good", "HEAD~15", "--measure", "time", "--filter", "3200"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let bench = &report["benchmarks"][0];
    assert_eq!(bench["unit"], "ns", "{report}");
    let culprit = &bench["outcome"]["Culprit"];
    assert_eq!(
        culprit["commit"]["subject"], "simpler duplicate check",
        "{report}"
    );
    assert_eq!(culprit["verdict"], "Regressed", "{culprit}");
    assert!(culprit["interval"][0].as_f64().unwrap() > 1.0, "{culprit}");
    // Profiled against its parent: where the time went, and flamegraphs.
    let summary = culprit["hotspots"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("find_duplicates"), "{culprit}");
    assert_eq!(
        culprit["flamegraphs"].as_array().map(Vec::len),
        Some(2),
        "{culprit}"
    );
    let steps = report["steps"].as_array().unwrap();
    let timed = steps.iter().filter(|s| s["outcome"] == "Measured").count();
    assert!(timed <= 5, "{timed} commits timed: {report}");
    assert!(
        steps.iter().any(|s| s["outcome"]["Retested"].is_object()),
        "{report}"
    );
}

/// main with the linear duplicate finder; checked out, a pull request of
/// five commits whose third makes it quadratic.
fn a_pull_request_of_five_commits(repo: &Path) {
    committed_tiny(repo);
    std::fs::write(repo.join("benches/tiny.rs"), BENCH).unwrap();
    write_and_commit(repo, "src/lib.rs", LINEAR, "duplicates with a hash set");
    git_in(repo, &["checkout", "-q", "-b", "simpler"]);
    write_and_commit(repo, "README.md", "# tiny\n", "readme");
    write_and_commit(repo, "CHANGELOG.md", "- simpler\n", "changelog");
    write_and_commit(repo, "src/lib.rs", QUADRATIC, "simpler duplicate check");
    write_and_commit(repo, "LICENSE", "MIT\n", "license");
    write_and_commit(repo, "README.md", "# tiny\n\nSimpler.\n", "readme again");
}

#[test]
fn check_bisect_names_the_commit_of_the_pull_request_that_regressed() {
    let (_dir, repo, out) = made(a_pull_request_of_five_commits);
    let output = instruction_check(&repo, &out, &["--bisect"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = report(&out);
    let culprit = &report["bisect"]["benchmarks"][0]["outcome"]["Culprit"];
    assert_eq!(
        culprit["commit"]["subject"], "simpler duplicate check",
        "{report}"
    );
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    let line = markdown
        .lines()
        .find(|l| l.starts_with("- `dups/find/3200`: introduced by `"))
        .unwrap_or_else(|| panic!("{markdown}"));
    assert!(line.contains("simpler duplicate check"), "{line}");
    assert!(
        stdout(&output).contains("commit: dups/find/3200: introduced by "),
        "{}",
        stdout(&output)
    );
}

/// Record the instruction baseline at HEAD and commit it, as CI does on
/// main.
fn record_baseline(repo: &Path) {
    let output = run(flamegate(repo)
        .env("CARGO_TARGET_DIR", paired_target())
        .args(["baseline", "update", "--measure", "instructions"])
        .args(["--filter", "3200"]));
    assert!(output.status.success(), "{}", stderr(&output));
    commit(repo, "flamegate: record the baseline");
}

/// main with an instruction baseline recorded after some commits: the
/// duplicate finder turns quadratic in the second of three commits between
/// two records, so the history can only say "one of 3 commits".
fn baselines_a_few_commits_apart(repo: &Path) {
    committed_tiny(repo);
    std::fs::write(repo.join("benches/tiny.rs"), BENCH).unwrap();
    write_and_commit(repo, "src/lib.rs", LINEAR, "duplicates with a hash set");
    record_baseline(repo);
    write_and_commit(repo, "README.md", "# tiny\n", "readme");
    record_baseline(repo);
    write_and_commit(repo, "CHANGELOG.md", "- simpler\n", "changelog");
    write_and_commit(repo, "src/lib.rs", QUADRATIC, "simpler duplicate check");
    write_and_commit(repo, "LICENSE", "MIT\n", "license");
    record_baseline(repo);
    write_and_commit(repo, "README.md", "# tiny\n\nSimpler.\n", "readme again");
    record_baseline(repo);
}

#[test]
fn history_bisect_names_the_culprit_instead_of_one_of_n_commits() {
    let (dir, repo, _) = made(baselines_a_few_commits_apart);
    let changes = |extra: &[&str]| {
        let output = run(flamegate(&repo)
            .env("CARGO_TARGET_DIR", paired_target())
            .args(["history", "--suite", "tiny.instructions", "--changes"])
            .args(extra));
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let before = changes(&[]);
    let shift = before
        .lines()
        .find(|l| l.contains("dups/find/3200"))
        .unwrap_or_else(|| panic!("{before}"));
    assert!(
        shift.contains("(one of 3 commits since the previous baseline)"),
        "{shift}"
    );
    let after = changes(&["--bisect"]);
    let shift = after
        .lines()
        .find(|l| l.contains("dups/find/3200"))
        .unwrap_or_else(|| panic!("{after}"));
    assert!(shift.contains("\"simpler duplicate check\""), "{shift}");
    assert!(
        shift.contains("(bisected among the 3 commits since the previous baseline)"),
        "{shift}"
    );
    // The page names it too, in its table of shifts and under the plot.
    let page = dir.path().join("history.html");
    let output = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", paired_target())
        .args([
            "history",
            "--suite",
            "tiny.instructions",
            "--bisect",
            "--out",
        ])
        .arg(&page));
    assert!(output.status.success(), "{}", stderr(&output));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        html.matches("simpler duplicate check").count(),
        2,
        "{html:.3000}"
    );
}

/// A pull request that bumps a dependency: the check names it under the
/// regression, with its share, and notes the lock file's change.
#[test]
fn a_check_names_the_updated_dependency_behind_a_regression() {
    let (_dir, repo, out) = made(|repo| {
        duplicates_from_a_dependency(repo);
        git_in(repo, &["checkout", "-q", "-b", "bump"]);
        bump_dup_find(repo);
    });
    let output = instruction_check(&repo, &out, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = report(&out);
    let dependency = &comparison_of(&report, "dups/find/3200")["dependencies"][0];
    assert_eq!(dependency["package"]["name"], "dup-find", "{report}");
    assert!(dependency["share"].as_f64().unwrap() > 0.9, "{dependency}");
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        markdown.contains("- `dups/find/3200`: dependency `dup-find` 0.1.0 → 0.2.0: its functions' own instructions"),
        "{markdown}"
    );
    assert!(
        markdown.contains("Cargo.lock differs between the base and the head"),
        "{markdown}"
    );
}
