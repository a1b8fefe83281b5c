//! Helpers: hand-made records, temporary git repositories, the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flamegate::record::{BenchId, BenchResult, Machine, RECORD_SCHEMA, RunRecord};

pub fn machine() -> Machine {
    Machine {
        cpu_model: "Test CPU".into(),
        logical_cores: 2,
        os: "Test OS".into(),
        rustc: "rustc 1.95.0".into(),
        governor: None,
        valgrind: None,
    }
}

/// Deterministic samples around `median_ns` with a relative spread `spread`.
pub fn samples(median_ns: f64, spread: f64, seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
            median_ns * (1.0 + spread * (2.0 * unit - 1.0))
        })
        .collect()
}

/// A record with benchmarks `(id, median_ns)`, seeded noise.
pub fn record(benches: &[(&str, f64)], seed: u64) -> RunRecord {
    RunRecord {
        same_code: Default::default(),
        schema: RECORD_SCHEMA,
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        dirty: false,
        machine: machine(),
        created: time::macros::datetime!(2026-11-01 12:00 UTC),
        shard: None,
        benches: benches
            .iter()
            .enumerate()
            .map(|(i, (id, median))| {
                BenchResult::new(
                    BenchId(id.to_string()),
                    id.split('/').next().unwrap_or(id).to_string(),
                    flamegate::record::SampleUnit::Nanoseconds,
                    samples(*median, 0.02, seed * 1000 + i as u64, 30),
                )
            })
            .collect(),
    }
}

/// The standard five-benchmark suite used by the git tests.
pub const SUITE: [(&str, f64); 5] = [
    ("parse/small", 1_000.0),
    ("parse/large", 50_000.0),
    ("query/indexed", 8_000.0),
    ("query/scan", 400_000.0),
    ("render/page", 120_000.0),
];

/// A suite scaled per benchmark: `(index, factor)` pairs applied to `SUITE`,
/// plus a small per-record wobble so history has noise.
pub fn suite_record(seed: u64, wobble: f64, scale: &[(usize, f64)]) -> RunRecord {
    let benches: Vec<(&str, f64)> = SUITE
        .iter()
        .enumerate()
        .map(|(i, (id, m))| {
            let factor = scale.iter().find(|(j, _)| *j == i).map_or(1.0, |(_, f)| *f);
            let jitter = samples(1.0, wobble, seed * 97 + i as u64, 1)[0];
            (*id, m * factor * jitter)
        })
        .collect();
    record(&benches, seed)
}

/// A temporary git repository holding a minimal Cargo project.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo { dir };
        repo.write(
            "Cargo.toml",
            "[package]\nname = \"suite\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        );
        repo.write("src/lib.rs", "");
        repo.write(".gitignore", "/target\n");
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit_all("project");
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, contents: &str) {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn write_record(&self, name: &str, record: &RunRecord) {
        self.write(name, &record.to_json());
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    pub fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// main with `versions` baseline commits (newest last), then a feature branch.
    pub fn with_history(versions: &[RunRecord]) -> Repo {
        let repo = Repo::new();
        for (i, record) in versions.iter().enumerate() {
            repo.write_record("baselines/suite.json", record);
            repo.commit_all(&format!("baseline {i}"));
        }
        repo.git(&["checkout", "-q", "-b", "feature"]);
        repo.write("src/lib.rs", "pub fn feature() {}\n");
        repo.commit_all("feature work");
        repo
    }
}

pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The real flamegate binary.
pub fn flamegate(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flamegate"));
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CARGO_TARGET_DIR");
    command
}

/// `flamegate check` of `repo` against `main`, without profiles, building
/// in `target`, the report in `out`; `mode` adds options (`--paired`, …).
pub fn check_against_main(repo: &Path, target: &Path, out: &Path, mode: &[&str]) -> Output {
    run(flamegate(repo)
        .env("CARGO_TARGET_DIR", target)
        .args(["check", "--base-ref", "main", "--no-profile", "--out-dir"])
        .arg(out)
        .args(mode))
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("flamegate runs")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Assert the run failed with the usage/environment exit code; its stderr.
pub fn usage_error(output: &Output) -> String {
    let err = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(i32::from(flamegate::error::exit_code::USAGE_OR_ENVIRONMENT)),
        "{err}"
    );
    err
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The report.json a check wrote.
pub fn report(out_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out_dir.join("report.json")).expect("report.json written");
    serde_json::from_str(&text).unwrap()
}

/// The report's first note of `kind` (report.json writes each note's kind,
/// its fields and its words); panics naming the notes when there is none.
pub fn note_of<'r>(report: &'r serde_json::Value, kind: &str) -> &'r serde_json::Value {
    let notes = &report["notes"];
    notes
        .as_array()
        .and_then(|notes| notes.iter().find(|n| n["kind"] == kind))
        .unwrap_or_else(|| panic!("no `{kind}` note in {notes}"))
}

pub fn verdict_of(report: &serde_json::Value, id: &str) -> String {
    comparison_of(report, id)["verdict"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A benchmark's estimated relative change in a report.json.
pub fn estimate_of(report: &serde_json::Value, id: &str) -> f64 {
    comparison_of(report, id)["change"]["estimate"]
        .as_f64()
        .unwrap_or_else(|| panic!("{id} has no estimate"))
}

/// The comparison of `id` in a report.json.
/// Whether a benchmark was timed in `rounds` paired rounds, as `--rounds N`
/// promises: at least N counted, more when disturbed rounds were re-run
/// (up to half as many again), and then every round counts once most of
/// them were disturbed.
pub fn timed_in_rounds(comparison: &serde_json::Value, rounds: u64) -> bool {
    comparison["change"]["rounds"]
        .as_u64()
        .is_some_and(|n| (rounds..=rounds + rounds.div_ceil(2)).contains(&n))
}

pub fn comparison_of<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in report"))
}

/// Where fixture projects build, shared by all tests of this binary.
pub fn fixture_target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fixture-target")
}

/// Build in the shared fixture target dir, where fixtures share their
/// compiled dependencies (criterion built once for all of them).
pub fn in_fixture_target(command: &mut Command) -> &mut Command {
    command.env("CARGO_TARGET_DIR", fixture_target_dir())
}

/// This checkout, as cargo or nextest name it when the test runs. Not
/// `env!`: cargo does not rebuild a test when only the checkout's path
/// changed, so a binary reused from another clone (the CI cache) would
/// carry that clone's path.
pub fn checkout_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn fixture(name: &str) -> PathBuf {
    checkout_dir().join("tests/fixtures").join(name)
}

/// Parse an SVG as XML (inferno writes a DOCTYPE, which must be allowed).
pub fn parse_svg(svg: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(svg, options)
}

/// Copy the tiny criterion fixture (with flamegate's hook) into `to`.
pub fn copy_tiny(to: &Path) {
    copy_fixture("tiny", &["Cargo.lock", "src/lib.rs", "benches/tiny.rs"], to);
}

/// The tiny fixture in `to` as a git repository: one commit on `main`.
pub fn committed_tiny(to: &Path) {
    copy_tiny(to);
    init_and_commit(to, "tiny");
}

/// Copy `files` of the fixture crate `name` (which depends on flamegate by
/// a relative path) to `to`, pointing its manifest at this flamegate.
pub fn copy_fixture(name: &str, files: &[&str], to: &Path) {
    for file in files {
        let dest = to.join(file);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(fixture(name).join(file), dest).unwrap();
    }
    // The fixture finds flamegate's hook by a relative path; point it home.
    let manifest = std::fs::read_to_string(fixture(name).join("Cargo.toml")).unwrap();
    let flamegate_dir = flamegate_source_link();
    let manifest = manifest.replace(
        "path = \"../../../",
        &format!("path = \"{}/", flamegate_dir.display()),
    );
    std::fs::write(to.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(to.join(".gitignore"), "/target\n").unwrap();
}

/// A fixed path, under the fixture target dir, that leads to this checkout
/// of flamegate: copied fixtures name it as their path dependency, so their
/// manifests, recorded templates and compiled units stay valid for the next
/// checkout (`.ci/run` keeps the fixture target dir between runs).
fn flamegate_source_link() -> PathBuf {
    let link = fixture_target_dir().join("flamegate-source");
    let here = checkout_dir();
    if std::fs::read_link(&link).is_ok_and(|to| to == here) {
        return link;
    }
    std::fs::create_dir_all(fixture_target_dir()).unwrap();
    let fresh = fixture_target_dir().join(format!("flamegate-source.{}", std::process::id()));
    let _ = std::fs::remove_file(&fresh);
    std::os::unix::fs::symlink(&here, &fresh).unwrap();
    std::fs::rename(&fresh, &link).unwrap();
    link
}

/// Assert that `id` in the report written to `out_dir` has a hotspot note
/// naming `function` and a flamegraph plus a differential flamegraph, both
/// well-formed SVG mentioning it.
pub fn assert_profiled_regression(out_dir: &Path, id: &str, function: &str) {
    let report = report(out_dir);
    let comparison = report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the report"));
    let summary = comparison["hotspots"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(summary.contains(function), "{}", comparison["hotspots"]);
    let files: Vec<&str> = comparison["flamegraphs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(".diff.svg")), "{files:?}");
    for file in files {
        let svg = std::fs::read_to_string(out_dir.join(file)).unwrap();
        parse_svg(&svg).unwrap_or_else(|e| panic!("{file} is not XML: {e}"));
        assert!(svg.contains(function), "{file}");
    }
}

/// Tests that run real benchmarks take this first: on 2 cores, two of them
/// timing at once turn each other's runs into noise (a 4x slowdown once read
/// "noisy" with a neighbour building and benchmarking beside it).
pub fn exclusive_benchmarking() -> std::sync::MutexGuard<'static, ()> {
    static MACHINE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MACHINE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Short criterion windows: the ones paired rounds use (`ROUND_ARGS`).
pub const QUICK_WINDOWS: [&str; 6] = flamegate::collect::rounds::ROUND_ARGS;

/// Short criterion windows and a 1-second profile, for tests that run real
/// benchmarks: they check plumbing and large effects, not precision.
pub fn quick() -> Vec<&'static str> {
    [&["--profile-time", "1", "--"][..], &QUICK_WINDOWS].concat()
}

/// `quick()` without the profiling pass, for runs whose flamegraphs no test
/// looks at.
pub fn quick_no_profile() -> Vec<&'static str> {
    [&["--no-profile", "--"][..], &QUICK_WINDOWS].concat()
}

/// `check --paired` of `repo` against `main` in six rounds, built in
/// `target`, with the profiling pass when `profile`.
pub fn paired_six_rounds(
    repo: &Path,
    target: &Path,
    out: &Path,
    profile: bool,
    extra: &[&str],
) -> std::process::Output {
    run(flamegate(repo)
        .env("CARGO_TARGET_DIR", target)
        .args([
            "check",
            "--paired",
            "--rounds",
            "6",
            "--base-ref",
            "main",
            "--out-dir",
        ])
        .arg(out)
        .args(extra)
        .args(if profile { quick() } else { quick_no_profile() }))
}

/// A stored baseline from git: `history[0]` is the record at the merge-base.
pub fn baseline(history: Vec<RunRecord>) -> flamegate::baseline::Baseline {
    let mut history = history.into_iter();
    let record = history.next().unwrap();
    flamegate::baseline::Baseline {
        record,
        source: flamegate::error::RecordSource::Git {
            commit: "fedcba9876543210fedcba9876543210fedcba98".into(),
            path: "baselines/suite.json".into(),
        },
        commit: Some("fedcba9876543210fedcba9876543210fedcba98".into()),
        chosen_as: "merge-base of HEAD and main".into(),
        history: history.collect(),
        notes: Vec::new(),
    }
}

/// How many baselines `tiny_repo_with_baselines` records on main. Five:
/// with three, each benchmark's noise rests on two differences (2 degrees
/// of freedom), and a loaded machine made even a 4x slowdown read "noisy"
/// once in a full test run.
pub const RECORDED_BASELINES: usize = 5;

/// The tiny fixture as a repository `work` under `root` with
/// `RECORDED_BASELINES` baselines recorded on main (one commit each) and
/// pushed to a bare `origin.git` beside it; returns both paths. Recording
/// is real benchmarking, so it happens once per flamegate build: the first
/// caller records into a template under the fixture target dir, every
/// caller gets a copy (its own remote URL set). The project's flamegate.toml
/// sets the quick criterion windows and a 1-second profile.
pub fn tiny_repo_with_baselines(root: &Path) -> (PathBuf, PathBuf) {
    copy_history(root.join("work"), root.join("origin.git"))
}

/// `tiny_repo_with_baselines` with the work tree at `paired_repo()`'s fixed
/// path (made anew), for tests that also run paired checks: built in
/// `paired_target()`, their builds are cached with the paired tests'.
pub fn paired_repo_with_baselines() -> (PathBuf, PathBuf) {
    let (work, origin) = (
        paired_repo_dir(),
        fixture_target_dir().join("paired-origin.git"),
    );
    for dir in [&work, &origin] {
        let _ = std::fs::remove_dir_all(dir);
    }
    copy_history(work, origin)
}

fn copy_history(work: PathBuf, origin: PathBuf) -> (PathBuf, PathBuf) {
    let template = history_template(RECORDED_BASELINES);
    for (from, to) in [
        (template.join("work"), &work),
        (template.join("origin.git"), &origin),
    ] {
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&from)
            .arg(to)
            .status()
            .unwrap();
        assert!(copied.success(), "cp -a {}", from.display());
    }
    git_in(
        &work,
        &["remote", "set-url", "origin", origin.to_str().unwrap()],
    );
    (work, origin)
}

/// The recorded repository pair for `tiny_repo_with_baselines`, made once
/// for what decides its records (`recording_key`): a rebuilt flamegate of
/// the same sources reuses it, in this run or the next (`.ci/run` keeps the
/// fixture target dir outside the checkout).
fn history_template(records: usize) -> PathBuf {
    let prefix = format!("history-{records}-");
    let dir = fixture_target_dir().join(format!("{prefix}{}", recording_key()));
    if dir.join("complete").exists() {
        return dir;
    }
    std::fs::create_dir_all(fixture_target_dir()).unwrap();
    let building = tempfile::tempdir_in(fixture_target_dir()).unwrap();
    record_history(building.path(), records);
    std::fs::write(building.path().join("complete"), "").unwrap();
    let building = building.keep();
    // Another process may have finished first: then use its template.
    if std::fs::rename(&building, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    // Templates of other sources are stale: only an older build reads them.
    for entry in std::fs::read_dir(fixture_target_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && entry.path() != dir {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    dir
}

/// A digest of what decides a recorded fixture history: flamegate's
/// sources and lock (the binary that records and the hook the fixture
/// links), the tiny fixture, and the compiler. Content, not time stamps:
/// a fresh clone of the same commit gets the same key.
fn recording_key() -> String {
    use sha2::Digest;
    let root = checkout_dir();
    let mut hasher = sha2::Sha256::new();
    let rustc = Command::new("rustc").arg("-vV").output().unwrap();
    hasher.update(&rustc.stdout);
    let trees = [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "hooks",
        "tests/fixtures/tiny",
    ];
    for tree in trees {
        let files = walkdir::WalkDir::new(root.join(tree)).sort_by_file_name();
        for file in files.into_iter().filter_map(|e| e.ok()) {
            if !file.file_type().is_file() {
                continue;
            }
            let relative = file.path().strip_prefix(&root).unwrap();
            hasher.update(relative.to_string_lossy().as_bytes());
            hasher.update(std::fs::read(file.path()).unwrap());
        }
    }
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn record_history(root: &Path, records: usize) {
    let work = root.join("work");
    let origin = root.join("origin.git");
    std::fs::create_dir_all(&work).unwrap();
    copy_tiny(&work);
    // What the Action runs reads its criterion windows from here.
    std::fs::write(
        work.join("flamegate.toml"),
        "profile_time = 1.0\ncriterion_args = [\"--warm-up-time\", \"0.1\", \"--measurement-time\", \"0.3\", \"--sample-size\", \"10\"]\n",
    )
    .unwrap();
    init_and_commit(&work, "tiny");
    for i in 0..records {
        let output = run(flamegate(&work)
            .env("CARGO_TARGET_DIR", fixture_target_dir())
            .args(["baseline", "update"]));
        assert!(output.status.success(), "{}", stderr(&output));
        // It tells the user how to commit what it wrote.
        assert!(
            stderr(&output).contains("git add baselines/tiny.json"),
            "{}",
            stderr(&output)
        );
        git_in(&work, &["add", "-A"]);
        git_in(&work, &["commit", "-q", "-m", &format!("baseline {i}")]);
    }
    git_in(root, &["init", "-q", "--bare", "origin.git"]);
    git_in(
        &work,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    git_in(&work, &["push", "-q", "origin", "main"]);
    git_in(&work, &["fetch", "-q", "origin"]);
}

/// Four times the work in `tiny::work`, committed on a new branch.
pub fn slow_branch(work: &Path, branch: &str) -> String {
    git_in(work, &["checkout", "-q", "-b", branch, "main"]);
    replace_in(
        &work.join("src/lib.rs"),
        "for i in 0..n {",
        "for i in 0..n * 4 {",
    );
    git_in(work, &["commit", "-q", "-am", "four times the work"]);
    git_in(work, &["rev-parse", "HEAD"]).trim().to_string()
}

/// The tiny fixture as a git repository on `main`, at a fixed path under
/// the fixture target dir (made anew). Paired builds remap the base's paths
/// onto the project's, so a stable path (and `paired_target()` as the
/// target dir) keeps both sides' dependency builds cached between tests.
pub fn paired_repo() -> PathBuf {
    let repo = paired_repo_dir();
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).unwrap();
    committed_tiny(&repo);
    repo
}

/// Where `paired_repo()` and `paired_repo_with_baselines()` put the work
/// tree: one path, so their paired builds share units.
fn paired_repo_dir() -> PathBuf {
    fixture_target_dir().join("paired-repo")
}

/// The target dir paired tests use for `paired_repo()`.
pub fn paired_target() -> PathBuf {
    fixture_target_dir().join("paired-user")
}

/// `value` with every float rounded to 6 significant digits, for snapshots:
/// the last digits of a statistic come from the platform's libm and the
/// order of additions, not from flamegate's behaviour.
pub fn rounded(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            let text = format!("{x:.5e}");
            serde_json::json!(text.parse::<f64>().unwrap())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(rounded).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, rounded(v))).collect())
        }
        other => other,
    }
}

/// Markdown rendered as GitHub renders a comment (GFM tables, autolinks,
/// strikethrough, math; HTML passed through as GitHub passes it to its
/// sanitiser), so that what a name could do to a comment shows in the HTML.
pub fn github_html(markdown: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.strikethrough = true;
    options.extension.math_dollars = true;
    options.render.r#unsafe = true;
    comrak::markdown_to_html(markdown, &options)
}

/// What GitHub would show of a report's Markdown holds nothing a name
/// made: outside code, no tag but the report's own, no link, no heading
/// below the report's, no @mention, no HTML comment but the suite's marker
/// and the @-mention breakers; no line a runner would read as a workflow
/// command. `run_link` is the one link flamegate writes itself (the
/// comment's footer). Returns the HTML for further checks.
pub fn assert_github_safe(markdown: &str, suite: &str, run_link: Option<&str>) -> String {
    let html = github_html(markdown);
    let code = regex::Regex::new(r"(?s)<code>.*?</code>").unwrap();
    let outside_code = code.replace_all(&html, "<code></code>");
    let link = run_link.map_or(String::new(), |url| {
        format!(r#"|<a href="{}">|</a>"#, regex::escape(url))
    });
    let own = regex::Regex::new(&format!(
        r"</?(p|h3|h4|table|thead|tbody|tr|th|td|code|details|summary|strong|ul|li|blockquote|sub)( align=.(left|right|center).)?>|<hr />|<!-- flamegate:{} -->|<!-- flamegate-head: [0-9a-f]{{40}} -->|<!-- -->{link}",
        regex::escape(suite)
    ))
    .unwrap();
    let left = own.replace_all(&outside_code, "");
    assert!(!left.contains('<'), "markup from a name:\n{left}\n{html}");
    assert!(
        !regex::Regex::new(r"@[A-Za-z0-9]")
            .unwrap()
            .is_match(&outside_code),
        "a name can @mention:\n{html}"
    );
    assert!(
        !markdown
            .lines()
            .any(|line| line.trim_start().starts_with("::")),
        "a line reads as a workflow command:\n{markdown}"
    );
    html
}

/// Untrusted names that try every output: mentions, links, HTML, table
/// breaks, comment ends, the sticky marker, headings, bidi controls, paths,
/// workflow commands, script ends, and a very long one.
pub fn hostile_names() -> Vec<String> {
    [
        "@org/team",
        "[x](http://evil)",
        "<img src=x onerror=alert(1)>",
        "|a|b|",
        "-->",
        "<!-- flamegate:suite -->",
        "\n## PASS",
        "bidi\u{202E}txet\u{200B}",
        "../../.git/hooks/pre-push",
        "::add-mask::x",
        "</script><script>document.body.dataset.errors='injected'</script>",
        "\" onmouseover=\"alert(1)",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("long{}", "x".repeat(10_000))])
    .collect()
}

/// Replace `from` with `to` in the file at `path`, which must contain it.
pub fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let changed = text.replace(from, to);
    assert_ne!(text, changed, "{} has no {from:?}", path.display());
    std::fs::write(path, changed).unwrap();
}

/// A `PATH` with cargo and every program of the usual folders but valgrind
/// (links in `dir`), for runs on a machine without valgrind.
pub fn path_without_valgrind(dir: &Path) -> std::ffi::OsString {
    std::fs::create_dir_all(dir).unwrap();
    let cargo_bin = Path::new(&std::env::var("CARGO").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    for folder in ["/usr/local/bin", "/usr/bin"] {
        for entry in std::fs::read_dir(folder).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            let link = dir.join(&name);
            if !name.to_string_lossy().starts_with("valgrind") && !link.exists() {
                std::os::unix::fs::symlink(entry.path(), link).unwrap();
            }
        }
    }
    std::env::join_paths([cargo_bin, dir.to_path_buf()]).unwrap()
}

/// `dir` as a new git repository whose `main` holds everything in it, in
/// one commit.
pub fn init_and_commit(dir: &Path, message: &str) {
    git_in(dir, &["init", "-q", "-b", "main"]);
    git_in(dir, &["add", "-A"]);
    git_in(dir, &["commit", "-q", "-m", message]);
}
