//! The baseline read from git, through the real binary (`flamegate compare`).

use flamegate::error::exit_code;

use crate::support::*;

fn history(n: u64) -> Vec<flamegate::record::RunRecord> {
    (0..n).map(|seed| suite_record(seed, 0.01, &[])).collect()
}

fn compare(
    repo: &Repo,
    head: &flamegate::record::RunRecord,
    extra: &[&str],
) -> (std::process::Output, tempfile::TempDir) {
    compare_json(repo, &head.to_json(), extra)
}

/// `flamegate compare` against main with `head_json` as the head record file.
fn compare_json(
    repo: &Repo,
    head_json: &str,
    extra: &[&str],
) -> (std::process::Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let head_path = out.path().join("head.json");
    std::fs::write(&head_path, head_json).unwrap();
    let output = run(flamegate(repo.path())
        .args([
            "compare",
            "--suite",
            "suite",
            "--base-ref",
            "main",
            "--head-file",
        ])
        .arg(&head_path)
        .arg("--out-dir")
        .arg(out.path())
        .args(extra));
    (output, out)
}

#[test]
fn baseline_is_read_at_the_merge_base_not_from_the_work_tree() {
    let repo = Repo::with_history(&history(6));
    let main_tip = repo.git(&["rev-parse", "main"]).trim().to_string();
    // A later baseline on main, after the branch point, must not be used either.
    repo.git(&["checkout", "-q", "main"]);
    repo.write_record("baselines/suite.json", &suite_record(99, 0.0, &[(0, 3.0)]));
    repo.commit_all("newer baseline on main");
    repo.git(&["checkout", "-q", "feature"]);
    // An uncommitted, broken baseline in the work tree is ignored.
    repo.write("baselines/suite.json", "{ this is not json");

    let (output, out) = compare(&repo, &suite_record(100, 0.01, &[]), &[]);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit_code::PASS)),
        "{}",
        stderr(&output)
    );
    let report = report(out.path());
    assert_eq!(report["base"]["commit"], main_tip.as_str());
    assert_eq!(report["history_used"], 6);
    assert_eq!(report["outcome"], "Pass");
    assert!(stdout(&output).contains("no regressions in 5 benchmarks"));
}

#[test]
fn a_slower_benchmark_is_flagged_and_exits_1() {
    let repo = Repo::with_history(&history(6));
    let (output, out) = compare(&repo, &suite_record(100, 0.01, &[(2, 1.2)]), &[]);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit_code::REGRESSION)),
        "{}",
        stderr(&output)
    );
    let report = report(out.path());
    assert_eq!(verdict_of(&report, "query/indexed"), "Regressed");
    // The others moved by their ±1% history noise: "unchanged" where the
    // interval vouches for less than the 1% threshold, else "inconclusive"
    // (issue 22: the word follows the interval printed beside it).
    for other in ["parse/small", "parse/large", "query/scan", "render/page"] {
        let c = comparison_of(&report, other);
        let (low, high) = (
            c["change"]["ci_low"].as_f64().unwrap(),
            c["change"]["ci_high"].as_f64().unwrap(),
        );
        let expected = if low >= -0.01 && high <= 0.01 {
            "Unchanged"
        } else {
            "Inconclusive"
        };
        assert_eq!(verdict_of(&report, other), expected, "{other}: {c}");
    }
    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        markdown
            .starts_with("<!-- flamegate:suite -->\n### ❌ flamegate: 1 of 5 benchmarks regressed"),
        "{markdown}"
    );
}

#[test]
fn a_missing_baseline_is_an_error_that_says_how_to_record_one() {
    let repo = Repo::new();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let (output, _out) = compare(&repo, &suite_record(1, 0.01, &[]), &[]);
    let err = usage_error(&output);
    assert!(
        err.contains("no baseline: baselines/suite.json does not exist at commit"),
        "{err}"
    );
    assert!(err.contains("flamegate baseline update"), "{err}");
    // A first pull request needs no stored baseline at all (issue 22).
    assert!(err.contains("run `flamegate check --paired`"), "{err}");
}

/// A clone of a repository with baseline history, `depth` commits deep
/// (as actions/checkout makes them), of the feature branch; main has moved on.
fn shallow_clone(depth: &str) -> (Repo, tempfile::TempDir, std::path::PathBuf) {
    let origin = Repo::with_history(&history(3));
    origin.git(&["checkout", "-q", "main"]);
    origin.write("src/lib.rs", "pub fn on_main() {}\n");
    origin.commit_all("main moves on");
    let clone_parent = tempfile::tempdir().unwrap();
    let url = format!("file://{}", origin.path().display());
    git_in(
        clone_parent.path(),
        &[
            "clone", "-q", "--depth", depth, "--branch", "feature", &url, "clone",
        ],
    );
    let clone = clone_parent.path().join("clone");
    (origin, clone_parent, clone)
}

fn compare_in(clone: &std::path::Path) -> (std::process::Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let head = out.path().join("head.json");
    std::fs::write(&head, suite_record(5, 0.01, &[]).to_json()).unwrap();
    let output = run(flamegate(clone)
        .args(["compare", "--suite", "suite", "--head-file"])
        .arg(&head)
        .arg("--out-dir")
        .arg(out.path()));
    (output, out)
}

#[test]
fn depth_one_and_depth_two_clones_are_deepened_from_their_origin() {
    for depth in ["1", "2"] {
        let (_origin, _parent, clone) = shallow_clone(depth);
        let (output, out) = compare_in(&clone);
        assert_eq!(
            output.status.code(),
            Some(0),
            "depth {depth}: {}",
            stderr(&output)
        );
        let report = report(out.path());
        assert_eq!(
            report["history_used"], 3,
            "depth {depth}: the whole history"
        );
        assert_eq!(
            note_of(&report, "deepened")["fetched"],
            serde_json::json!(["origin/main"])
        );
        let shallow = clone.join(".git/shallow");
        assert!(!shallow.exists(), "depth {depth}: still shallow");
    }
}

#[test]
fn a_shallow_clone_that_cannot_be_deepened_names_the_fix() {
    let (origin, _parent, clone) = shallow_clone("1");
    // The remote is gone (or needs credentials this job does not have).
    let moved = origin.path().with_extension("moved");
    std::fs::rename(origin.path(), &moved).unwrap();
    let (output, _out) = compare_in(&clone);
    std::fs::rename(&moved, origin.path()).unwrap();
    let err = usage_error(&output);
    assert!(
        err.contains("shallow clone") && err.contains("fetch-depth: 0"),
        "{err}"
    );
    assert!(err.contains("flamegate tried to fetch it"), "{err}");
}

#[test]
fn issue_17_a_base_ref_that_looks_like_an_option_never_reaches_git_as_one() {
    let (_origin, _parent, clone) = shallow_clone("1");
    let out = tempfile::tempdir().unwrap();
    let head = out.path().join("head.json");
    std::fs::write(&head, suite_record(5, 0.01, &[]).to_json()).unwrap();
    for base_ref in [
        "--upload-pack=touch pwned;false/main",
        "origin/--upload-pack=touch pwned",
    ] {
        let output = run(flamegate(&clone)
            .args(["compare", "--suite", "suite", "--head-file"])
            .arg(&head)
            .arg(format!("--base-ref={base_ref}")));
        let err = usage_error(&output);
        assert!(err.contains("is not a valid"), "{base_ref}: {err}");
        assert!(
            !clone.join("pwned").exists(),
            "{base_ref}: git ran the program"
        );
    }
}

/// Commit `baseline` on main, branch, compare: it must fail with exit 2.
/// Returns the baseline's commit and stderr.
fn compare_with_committed_baseline(baseline: &str) -> (String, String) {
    let repo = Repo::new();
    repo.write("baselines/suite.json", baseline);
    let sha = repo.commit_all("baseline");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let (output, _out) = compare(&repo, &suite_record(1, 0.01, &[]), &[]);
    (sha, usage_error(&output))
}

#[test]
fn a_damaged_baseline_names_the_file_and_commit() {
    let (sha, err) = compare_with_committed_baseline("{ \"schema\": 1, \"benches\": [");
    assert!(
        err.contains(&format!("baselines/suite.json at commit {}", &sha[..10])),
        "{err}"
    );
    assert!(err.contains("not a flamegate record"), "{err}");
}

#[test]
fn an_unknown_schema_says_which_versions_are_supported() {
    let mut value: serde_json::Value =
        serde_json::from_str(&suite_record(1, 0.0, &[]).to_json()).unwrap();
    value["schema"] = 99.into();
    let (_sha, err) = compare_with_committed_baseline(&value.to_string());
    assert!(
        err.contains("record schema 99 is not supported") && err.contains("schema 1"),
        "{err}"
    );
}

#[test]
fn benchmarks_on_one_side_only_are_new_or_missing() {
    let repo = Repo::with_history(&history(4));
    let mut head = suite_record(50, 0.01, &[]);
    head.benches.retain(|b| b.id.as_str() != "render/page");
    let mut extra = record(&[("render/new_page", 90_000.0)], 7).benches;
    head.benches.append(&mut extra);
    let (output, out) = compare(&repo, &head, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = report(out.path());
    assert_eq!(verdict_of(&report, "render/page"), "Missing");
    assert_eq!(verdict_of(&report, "render/new_page"), "New");
}

#[test]
fn nan_zero_and_negative_times_are_rejected_with_the_benchmark_named() {
    let repo = Repo::with_history(&history(2));
    for (bad, expect) in [
        ("0.0", "sample 1 = 0"),
        ("-5.0", "sample 1 = -5"),
        ("null", "not a flamegate record"),
        ("1e999", "not a flamegate record"),
    ] {
        let mut text = suite_record(3, 0.01, &[]).to_json();
        let first = text.find("\"samples\": [").unwrap() + "\"samples\": [".len();
        let second_sample = first + text[first..].find(',').unwrap() + 1;
        let end = second_sample + text[second_sample..].find(',').unwrap();
        text.replace_range(second_sample..end, bad);
        let (output, _out) = compare_json(&repo, &text, &[]);
        assert_eq!(
            output.status.code(),
            Some(i32::from(exit_code::USAGE_OR_ENVIRONMENT)),
            "{bad}"
        );
        let err = stderr(&output);
        assert!(err.contains(expect), "{bad}: {err}");
        assert!(err.contains("head.json"), "{bad}: {err}");
    }
}

#[test]
fn a_base_revision_and_a_base_file_can_be_named() {
    let repo = Repo::with_history(&history(3));
    let first = repo
        .git(&["rev-list", "--reverse", "main"])
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let (output, out) = compare(&repo, &suite_record(9, 0.01, &[]), &["--base", &first]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(report(out.path())["base"]["commit"], first.as_str());

    let file_dir = tempfile::tempdir().unwrap();
    let base_file = file_dir.path().join("base.json");
    std::fs::write(&base_file, suite_record(1, 0.01, &[]).to_json()).unwrap();
    let (output, out) = compare(
        &repo,
        &suite_record(1, 0.01, &[(0, 2.0)]),
        &["--base-file", base_file.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = report(out.path());
    assert_eq!(verdict_of(&report, "parse/small"), "Regressed");
    note_of(&report, "no_history_yet");
}

#[test]
fn usage_errors_exit_2_and_a_missing_base_ref_is_explained() {
    let repo = Repo::with_history(&history(2));
    let output = run(flamegate(repo.path()).args(["check", "--min-change", "lots"]));
    assert_eq!(output.status.code(), Some(2));
    let out = tempfile::tempdir().unwrap();
    let head = out.path().join("head.json");
    std::fs::write(&head, suite_record(1, 0.01, &[]).to_json()).unwrap();
    let output = run(flamegate(repo.path())
        .args([
            "compare",
            "--suite",
            "suite",
            "--base-ref",
            "release-9",
            "--head-file",
        ])
        .arg(&head));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("revision `release-9` not found"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn baseline_update_refuses_a_dirty_record_unless_forced() {
    let repo = Repo::new();
    let dir = tempfile::tempdir().unwrap();
    let record_path = dir.path().join("run.json");
    let mut dirty = suite_record(1, 0.01, &[]);
    dirty.dirty = true;
    std::fs::write(&record_path, dirty.to_json()).unwrap();
    let update = |force: bool| {
        let mut command = flamegate(repo.path());
        command
            .args(["baseline", "update", "--suite", "suite", "--record"])
            .arg(&record_path);
        if force {
            command.arg("--force");
        }
        run(&mut command)
    };
    let refused = update(false);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("uncommitted changes") && stderr(&refused).contains("--force")
    );
    assert!(!repo.path().join("baselines/suite.json").exists());
    let forced = update(true);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    let written =
        flamegate::record::RunRecord::load(&repo.path().join("baselines/suite.json")).unwrap();
    assert_eq!(written, dirty);
}

/// Issue 22: a pull request can accept a slowdown on purpose, in one of its
/// commits; the report shows who and why, and the gate passes. Commits of
/// main (before the merge-base) accept nothing.
#[test]
fn a_slowdown_accepted_in_a_commit_of_the_pull_request_passes_and_says_who_and_why() {
    let repo = Repo::with_history(&history(6));
    let slower = suite_record(100, 0.01, &[(2, 1.2), (3, 1.3)]);
    // Accepted on main already: not this pull request's, so not accepted.
    repo.git(&["checkout", "-q", "main"]);
    repo.write("NOTES.md", "on main\n");
    repo.git(&["add", "-A"]);
    repo.git(&[
        "commit",
        "-q",
        "-m",
        "old\n\nFlamegate-Accept: query/scan: accepted long ago",
    ]);
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&["merge", "-q", "--no-edit", "main"]);
    repo.write("src/lib.rs", "pub fn feature() { /* correct now */ }\n");
    repo.git(&["add", "-A"]);
    repo.git(&[
        "commit",
        "-q",
        "--author=Rev Iewer <rev@example.invalid>",
        "-m",
        "query: check every row\n\nStale rows were returned.\n\n\
         Flamegate-Accept: query/index*: stale rows are worse than slow ones\n\
         Flamegate-Accept: missing reason",
    ]);
    let (output, out) = compare(&repo, &slower, &[]);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit_code::REGRESSION)),
        "query/scan is still regressed: {}",
        stderr(&output)
    );
    let first = report(out.path());
    assert_eq!(verdict_of(&first, "query/scan"), "Regressed");
    let indexed = comparison_of(&first, "query/indexed");
    assert_eq!(indexed["verdict"], "Accepted", "{indexed}");
    assert_eq!(indexed["accepted"]["by"], "Rev Iewer");
    assert_eq!(indexed["accepted"]["standing"]["state"], "unverified");
    assert_eq!(indexed["accepted"]["glob"], "query/index*");
    assert_eq!(
        indexed["accepted"]["reason"],
        "stale rows are worse than slow ones"
    );
    assert!(
        first["notes"].to_string().contains("missing reason"),
        "{}",
        first["notes"]
    );
    let text = stdout(&output);
    assert!(
        text.contains("accepted query/indexed: unverified acceptance (commit says: Rev Iewer) in "),
        "{text}"
    );

    // Accepting the other one too: the gate passes, and says so.
    repo.git(&[
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "scan\n\nFlamegate-Accept: query/scan: a full scan is the point",
    ]);
    let (output, out) = compare(&repo, &slower, &[]);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit_code::PASS)),
        "{}",
        stderr(&output)
    );
    let both = report(out.path());
    assert_eq!(verdict_of(&both, "query/scan"), "Accepted");
    assert!(
        stdout(&output).contains("no regressions in 5 benchmarks (2 slowdowns accepted)"),
        "{}",
        stdout(&output)
    );
    let markdown = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(markdown.contains("#### Accepted"), "{markdown}");
    assert!(markdown.contains("a full scan is the point"), "{markdown}");
}

/// A slowdown accepted in a pull request merged after the stored baseline
/// was measured is in main's code but not in the record: the next,
/// unrelated pull request must not fail on it.
#[test]
fn a_slowdown_accepted_on_main_after_the_baseline_was_measured_stays_accepted() {
    let repo = Repo::new();
    for seed in 0..4 {
        // Measured at main's tip, then committed (as baseline-refresh does).
        let mut record = suite_record(seed, 0.01, &[]);
        record.commit = Some(repo.git(&["rev-parse", "HEAD"]).trim().to_string());
        repo.write_record("baselines/suite.json", &record);
        repo.commit_all(&format!("baseline {seed}"));
    }
    repo.write("src/lib.rs", "pub fn careful() {}\n");
    let accepting = repo
        .commit_all("parse: check every field\n\nFlamegate-Accept: parse/large: correctness first");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("NOTES.md", "unrelated\n");
    repo.commit_all("docs: notes");
    // Main is now 50% slower on parse/large, on purpose.
    let (output, out) = compare(&repo, &suite_record(50, 0.01, &[(1, 1.5)]), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = report(out.path());
    let large = comparison_of(&written, "parse/large");
    assert_eq!(large["verdict"], "Accepted", "{large}");
    assert_eq!(large["accepted"]["standing"]["state"], "merged");
    assert_eq!(large["accepted"]["commit"], accepting.as_str());
    assert!(
        stdout(&output).contains("accepted on the target branch in "),
        "{}",
        stdout(&output)
    );
    // Compared with a baseline measured after the acceptance, nothing is
    // accepted: the record holds the new level.
    repo.git(&["checkout", "-q", "main"]);
    let mut record = suite_record(60, 0.01, &[(1, 1.5)]);
    record.commit = Some(accepting.clone());
    repo.write_record("baselines/suite.json", &record);
    repo.commit_all("baseline after the fix");
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&["merge", "-q", "--no-edit", "main"]);
    let (output, out) = compare(&repo, &suite_record(61, 0.01, &[(1, 1.5)]), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let after = report(out.path());
    let large = comparison_of(&after, "parse/large");
    assert!(large.get("accepted").is_none(), "{large}");
}

/// Hold the lock file at `lock_path`, start flamegate with `args` in
/// `repo` and read its stderr until it says it waits for that lock. The
/// held lock, the running child, and the rest of its stderr.
fn waiting_for_a_held_lock(
    repo: &Repo,
    lock_path: &std::path::Path,
    args: &[&str],
) -> (
    std::fs::File,
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
) {
    use std::io::BufRead;
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let held = std::fs::File::create(lock_path).unwrap();
    held.lock().unwrap();
    let mut child = flamegate(repo.path())
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let waiting = lines.by_ref().map(Result::unwrap).find(|line| {
        seen.push(line.clone());
        line.contains("another flamegate run is using this folder")
    });
    assert!(waiting.is_some(), "it never said it waits: {seen:?}");
    (held, child, lines)
}

/// Two runs writing one output folder take turns: the second says who it
/// waits for and writes nothing until the first is done.
#[test]
fn a_second_run_into_the_same_output_folder_waits_and_says_so() {
    let repo = Repo::with_history(&history(4));
    repo.write_record("head.json", &suite_record(9, 0.01, &[]));
    let out = repo.path().join("out");
    let (held, mut child, lines) = waiting_for_a_held_lock(
        &repo,
        &out.join(".flamegate.lock"),
        &["check", "--record", "head.json", "--out-dir", "out"],
    );
    assert!(!out.join("report.json").exists(), "written while locked");
    drop(held);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(out.join("report.json").exists());
}

/// Two paired runs in one target folder take turns: otherwise the second
/// replaces the first's checkout of the base, and the first times it.
#[test]
fn a_second_paired_run_in_the_same_target_folder_waits_for_the_first() {
    let repo = Repo::with_history(&history(2));
    repo.write("benches/b.rs", "fn main() {}\n");
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"suite\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [[bench]]\nname = \"b\"\nharness = false\n",
    );
    repo.commit_all("a bench");
    let (_held, mut child, _) = waiting_for_a_held_lock(
        &repo,
        &repo.path().join("target/flamegate/.paired.lock"),
        &["check", "--paired", "--base", "main"],
    );
    assert!(
        !repo.path().join("target/flamegate/paired").exists(),
        "the base was checked out while another run held the folder"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
