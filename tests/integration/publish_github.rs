//! `flamegate publish` and `check --publish` through the real binary against
//! the fake GitHub (every request also checked by Prism against GitHub's
//! OpenAPI description), and once against Prism alone. The cases: hostile
//! names (mentions, links, HTML, table pipes, the comment marker, control
//! and bidi characters, workflow commands), sizes past GitHub's limits
//! (comment, summary, annotations), bad values (NaN, infinities, one-sided
//! benchmarks), untrusted events (forks, `workflow_run` without a pull
//! request, forged numbers, head mismatches), API faults (permissions, rate
//! limits, 5xx, resets, hangs, a create that did create, bodies too long,
//! markers on later pages or by other users, an older head finishing last),
//! and the token never printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use axum::http::Method;
use flamegate::compare::{self, settings::Settings};
use flamegate::record::RunRecord;
use flamegate::report::{Report, Verdict};

use crate::github_fake::{FakeGithub, Fault};
use crate::support::*;

const HEAD: &str = "1111111111111111111111111111111111111111";
const NEWER_HEAD: &str = "2222222222222222222222222222222222222222";
const MERGE_COMMIT: &str = "3333333333333333333333333333333333333333";
const TOKEN: &str = "ghs_TESTTOKENdoNotLeak0123456789abcdef";
const MARKER: &str = "<!-- flamegate:suite -->";

/// A report of `ids`: those in `slower` regressed by 30%, others unchanged.
/// Its head is GitHub's merge commit of pull request head `head`.
fn report_of(ids: &[String], slower: &[usize], head: &str) -> Report {
    let base: Vec<(&str, f64)> = ids.iter().map(|id| (id.as_str(), 10_000.0)).collect();
    let versions: Vec<RunRecord> = (0..5).map(|seed| record(&base, seed)).collect();
    let scaled: Vec<(&str, f64)> = base
        .iter()
        .enumerate()
        .map(|(i, (id, ns))| (*id, if slower.contains(&i) { ns * 1.3 } else { *ns }))
        .collect();
    let mut head_record = record(&scaled, 99);
    head_record.commit = Some(MERGE_COMMIT.into());
    let mut report = compare::stored::against_stored(
        "suite",
        &head_record,
        "work tree",
        &baseline(versions),
        &Settings::default(),
    );
    report.pull_request_head = Some(head.into());
    report
}

fn suite_ids() -> Vec<String> {
    SUITE.iter().map(|(id, _)| id.to_string()).collect()
}

/// One regression (parse/large) in the standard suite.
fn regressed(head: &str) -> Report {
    report_of(&suite_ids(), &[1], head)
}

fn write_report(dir: &Path, name: &str, report: &Report) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, report.to_json()).unwrap();
    path
}

fn write_event(dir: &Path, name: &str, event: serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

fn pull_request_event(number: u64, head: &str) -> serde_json::Value {
    serde_json::json!({
        "action": "synchronize",
        "number": number,
        "pull_request": { "number": number, "head": { "sha": head, "ref": "feature" } },
    })
}

fn workflow_run_event(head: &str, conclusion: &str, pulls: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "action": "completed",
        "workflow_run": {
            "id": 555,
            "event": "pull_request",
            "conclusion": conclusion,
            "head_sha": head,
            "head_branch": "feature",
            "head_repository": { "owner": { "login": "contributor" } },
            "pull_requests": pulls,
        },
    })
}

/// A job's environment: GitHub Actions variables pointing at the fake.
struct Job {
    dir: tempfile::TempDir,
    api_url: String,
    event_name: String,
    event: PathBuf,
}

impl Job {
    fn pull_request(fake: &FakeGithub, head: &str) -> Job {
        Job {
            api_url: fake.url.clone(),
            ..Job::pull_request_dir(head)
        }
    }

    fn workflow_run(fake: &FakeGithub, event: serde_json::Value) -> Job {
        let dir = tempfile::tempdir().unwrap();
        let event = write_event(dir.path(), "event.json", event);
        Job {
            dir,
            api_url: fake.url.clone(),
            event_name: "workflow_run".into(),
            event,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.path().join("summary.md")).unwrap_or_default()
    }

    /// The real binary with the job's environment (and nothing inherited
    /// from a real GitHub Actions run of this test suite).
    fn command(&self, args: &[&str]) -> Command {
        let mut command = flamegate(self.path());
        for (name, _) in std::env::vars() {
            if name.starts_with("GITHUB_") || name.starts_with("FLAMEGATE_") || name == "CI" {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", "octo/shop")
            .env("GITHUB_EVENT_NAME", &self.event_name)
            .env("GITHUB_EVENT_PATH", &self.event)
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_STEP_SUMMARY", self.path().join("summary.md"))
            .env("FLAMEGATE_GITHUB_BACKOFF_MS", "10");
        command
    }

    fn publish(&self, report: &Report, extra: &[&str]) -> Output {
        let path = write_report(self.path(), "report.json", report);
        let mut args = vec!["publish", "--report", path.to_str().unwrap()];
        if self.event_name == "workflow_run" {
            args.push("--from-workflow-run");
        }
        args.extend_from_slice(extra);
        run(&mut self.command(&args))
    }
}

fn succeeded(output: &Output) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(0), "{err}\n{}", stdout(output));
    err
}

fn ours(fake: &FakeGithub) -> Vec<crate::github_fake::Comment> {
    fake.state()
        .comments
        .iter()
        .filter(|c| c.body.starts_with(MARKER))
        .cloned()
        .collect()
}

/// `flamegate check` in the job writes report.json (no publishing), as the
/// untrusted job of the fork-safe setup does; returns its path.
fn checked_report(job: &Job, repo: &Repo, head: &RunRecord, out: &str) -> PathBuf {
    repo.write_record("head.json", head);
    let output = run(job
        .command(&["check", "--record", "head.json", "--out-dir", out])
        .current_dir(repo.path()));
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    repo.path().join(out).join("report.json")
}

#[test]
fn publishing_twice_leaves_one_comment_updated_in_place() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    let versions: Vec<RunRecord> = (0..4).map(|seed| suite_record(seed, 0.01, &[])).collect();
    let repo = Repo::with_history(&versions);
    let publish =
        |report: &Path| run(&mut job.command(&["publish", "--report", report.to_str().unwrap()]));

    let slower = checked_report(&job, &repo, &suite_record(50, 0.01, &[(1, 1.5)]), "first");
    let err = succeeded(&publish(&slower));
    assert!(err.contains("created comment"), "{err}");
    let first = ours(&fake);
    assert_eq!(first.len(), 1);
    let body = &first[0].body;
    assert!(body.starts_with(&format!("{MARKER}\n<!-- flamegate-head: {HEAD} -->\n")));
    assert!(body.contains("1 of 5 benchmarks regressed"), "{body}");
    assert!(body.contains("parse/large"));
    assert!(
        body.contains(&format!("Head `{}`", &HEAD[..10])),
        "the PR head, not the merge commit"
    );
    assert!(body.contains("https://github.example/octo/shop/actions/runs/4242"));
    // Issue 19: the trend column, and the history page beside the report,
    // named in the footer (the page itself is in the run's artifacts).
    assert!(body.contains("Trend: baselines, head"), "{body}");
    assert!(
        body.contains("plots of every baseline (history.html)"),
        "{body}"
    );
    let page = std::fs::read_to_string(slower.with_file_name("history.html")).unwrap();
    assert_eq!(page.matches("<section class=\"bench\"").count(), 5);
    assert_eq!(
        page.matches("<circle class=\"head\"").count(),
        5,
        "the head is each plot's last point"
    );
    // Issue 22: the runner, and the command that reproduces the check.
    let main_tip = repo.git(&["rev-parse", "main"]);
    assert!(
        body.contains(&format!(
            "Reproduce locally: `flamegate check --base {}`",
            &main_tip[..10]
        )),
        "{body}"
    );
    assert!(
        body.contains("Runner: Test CPU, 2 logical cores, Test OS;"),
        "{body}"
    );
    assert!(
        body.contains("the baseline was recorded on the same kind of machine"),
        "{body}"
    );

    // A new run with other results: the same comment, new body.
    let fixed = checked_report(&job, &repo, &suite_record(51, 0.01, &[]), "second");
    let err = succeeded(&publish(&fixed));
    assert!(err.contains("updated comment"), "{err}");
    let second = ours(&fake);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert!(second[0].body.contains("no regressions"));

    // The same report again (a re-run of the publishing job): nothing written.
    let writes = fake.state().writes();
    let err = succeeded(&publish(&fixed));
    assert!(err.contains("already up to date"), "{err}");
    assert_eq!(
        fake.state().writes(),
        writes,
        "an unchanged body is not rewritten"
    );
    fake.assert_conformant();
}

#[test]
fn comment_changed_mode_creates_only_when_something_changed() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    let quiet = report_of(&suite_ids(), &[], HEAD);
    succeeded(&job.publish(&quiet, &["--comment", "changed"]));
    assert!(ours(&fake).is_empty(), "nothing changed: no new comment");
    succeeded(&job.publish(&regressed(HEAD), &["--comment", "changed"]));
    assert_eq!(ours(&fake).len(), 1);
    // Once there is a comment it is kept current, so a fixed regression shows.
    succeeded(&job.publish(&quiet, &["--comment", "changed"]));
    assert!(ours(&fake)[0].body.contains("no regressions"));
    succeeded(&job.publish(&regressed(HEAD), &["--comment", "never"]));
    assert!(
        ours(&fake)[0].body.contains("no regressions"),
        "never: untouched"
    );
    fake.assert_conformant();
}

#[test]
fn hostile_benchmark_names_are_neutralised_everywhere() {
    let hostile = hostile_names();
    let all: Vec<usize> = (0..hostile.len()).collect();
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    let output = job.publish(&report_of(&hostile, &all, HEAD), &["--check-run"]);
    succeeded(&output);
    let comments = ours(&fake);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.starts_with(MARKER));
    for invisible in ["\u{202E}", "\u{200B}"] {
        assert!(
            !body.contains(invisible),
            "{invisible:?} survived in the comment"
        );
    }
    // As GitHub renders it: nothing from a name but text, and outside code
    // the only HTML comments are flamegate's own (the marker once).
    let html = assert_github_safe(
        body,
        "suite",
        Some("https://github.example/octo/shop/actions/runs/4242"),
    );
    let outside_code = regex::Regex::new(r"(?s)<code>.*?</code>")
        .unwrap()
        .replace_all(&html, "")
        .into_owned();
    assert_eq!(outside_code.matches(MARKER).count(), 1, "{html}");
    assert_eq!(
        outside_code.matches("-->").count(),
        outside_code.matches("<!--").count(),
        "an id closed an HTML comment: {html}"
    );
    // Workflow commands: every `::` line on stdout is one of flamegate's.
    for line in stdout(&output).lines().filter(|l| l.starts_with("::")) {
        assert!(
            line.starts_with("::error title=flamegate")
                || line.starts_with("::warning title=flamegate"),
            "{line}"
        );
    }
    assert!(!stdout(&output).contains("\n::add-mask::"));
    assert_github_safe(
        &job.summary(),
        "suite",
        Some("https://github.example/octo/shop/actions/runs/4242"),
    );
    fake.assert_conformant();
}

#[test]
fn five_thousand_benchmarks_are_cut_at_the_comment_limit_on_a_character_boundary() {
    let ids: Vec<String> = (0..5000)
        .map(|i| format!("groupé/bench_ü_{i:05}"))
        .collect();
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    succeeded(&job.publish(&report_of(&ids, &[0, 4999], HEAD), &[]));
    let comments = ours(&fake);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.len() <= 65_536, "{} bytes", body.len());
    assert!(
        body.len() > 60_000,
        "the budget is used: {} bytes",
        body.len()
    );
    assert!(body.starts_with(MARKER));
    assert!(
        body.contains("did not fit GitHub's limit"),
        "a note says what was cut"
    );
    assert!(body.contains("report.md in the run's artifacts"));
    // Regressions come first, so they survive the cut.
    assert!(body.contains("`groupé/bench_ü_04999`"), "{body}");
    fake.assert_conformant();
}

#[test]
fn the_job_summary_near_its_limit_stays_within_one_mebibyte() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    let summary = job.path().join("summary.md");
    std::fs::write(&summary, "x".repeat(1024 * 1024 - 3000)).unwrap();
    let ids: Vec<String> = (0..300).map(|i| format!("bench/{i}")).collect();
    succeeded(&job.publish(&report_of(&ids, &[3], HEAD), &["--comment", "never"]));
    let size = std::fs::metadata(&summary).unwrap().len();
    assert!(size <= 1024 * 1024, "{size}");
    assert!(size > 1024 * 1024 - 3000, "something was appended");
    assert!(job.summary().contains("did not fit"));
}

#[test]
fn over_fifty_annotations_go_in_batches_and_the_check_run_completes() {
    let ids: Vec<String> = (0..120).map(|i| format!("bench/{i}")).collect();
    // Under half: a slowdown of all would be the machine, not the code.
    let slower: Vec<usize> = (0..55).collect();
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    let output = job.publish(&report_of(&ids, &slower, HEAD), &["--check-run"]);
    let err = succeeded(&output);
    assert!(err.contains("55 annotations"), "{err}");
    let state = fake.state();
    assert_eq!(state.check_runs.len(), 1);
    let run = &state.check_runs[0];
    assert_eq!(
        run.head_sha, HEAD,
        "on the pull request's head, not the merge commit"
    );
    assert_eq!(run.status, "completed");
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(run.annotations.len(), 55);
    assert!(run.largest_batch <= 50);
    drop(state);
    // The runner shows 10 errors per step: 9 worst, then a count.
    let errors: Vec<String> = stdout(&output)
        .lines()
        .filter(|l| l.starts_with("::error"))
        .map(str::to_string)
        .collect();
    assert_eq!(errors.len(), 10, "{errors:?}");
    assert!(errors[9].contains("46 more regressed"));
    fake.assert_conformant();
}

#[test]
fn odd_values_in_a_report_are_rendered_or_refused_never_a_panic() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    // Benchmarks on one side only, duplicate ids, zero and negative medians.
    let mut report = regressed(HEAD);
    let mut extra = report.comparisons[0].clone();
    extra.verdict = flamegate::report::Verdict::Missing;
    extra.change = None;
    extra.head = None;
    if let Some(base) = extra.base.as_mut() {
        base.median = 0.0;
        base.p95 = -5.0;
    }
    report.comparisons.push(extra.clone());
    report.comparisons.push(extra);
    succeeded(&job.publish(&report, &[]));
    assert!(ours(&fake)[0].body.contains("Missing benchmarks"));

    // NaN and infinity cannot be JSON numbers: such a report is refused.
    let text = regressed(HEAD).to_json();
    for (from, to) in [
        ("\"estimate\": ", "\"estimate\": null, \"x\": "),
        ("\"median\": ", "\"median\": 1e999, \"y\": "),
    ] {
        let broken = text.replacen(from, to, 1);
        std::fs::write(job.path().join("broken.json"), broken).unwrap();
        let output = run(&mut job.command(&["publish", "--report", "broken.json"]));
        let err = usage_error(&output);
        assert!(err.contains("not a flamegate report"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_fork_pull_request_with_a_read_only_token_still_gates_and_writes_the_summary() {
    let fake = FakeGithub::start(HEAD);
    fake.state().read_only = true;
    let versions: Vec<RunRecord> = (0..4).map(|seed| suite_record(seed, 0.01, &[])).collect();
    let repo = Repo::with_history(&versions);
    let job = Job::pull_request(&fake, HEAD);
    repo.write_record("head.json", &suite_record(50, 0.01, &[(1, 1.5)]));
    let output = run(job
        .command(&["check", "--record", "head.json", "--publish", "--check-run"])
        .current_dir(repo.path()));
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the verdict, whatever publishing did: {err}"
    );
    assert!(err.contains("permissions: pull-requests: write"), "{err}");
    assert!(err.contains("permissions: checks: write"), "{err}");
    assert!(err.contains("fork-safe"), "{err}");
    let out = stdout(&output);
    assert!(out.contains("::warning title=flamegate::publishing to GitHub"));
    // While benchmark names and output are printed, workflow commands are off;
    // flamegate's own annotations come after they are back on.
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("::stop-commands::"))
        .expect("commands stopped first");
    let resumed = out
        .find(&format!("\n::{token}::"))
        .expect("commands resumed");
    let table = out.find("parse/large").unwrap();
    let annotation = out.find("::error title=flamegate").unwrap();
    assert!(out.find("::stop-commands::").unwrap() < table && table < resumed);
    assert!(resumed < annotation);
    assert!(
        job.summary().contains("parse/large"),
        "the summary is written anyway"
    );
    assert!(fake.state().comments.is_empty());
    // The report records the pull request's head for a later publish job.
    let report = report(&repo.path().join("target/flamegate"));
    assert_eq!(report["pull_request_head"], HEAD);
}

#[test]
fn workflow_run_with_empty_pull_requests_finds_the_fork_by_its_branch() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::workflow_run(
        &fake,
        workflow_run_event(HEAD, "failure", serde_json::json!([])),
    );
    let err = succeeded(&job.publish(&regressed(HEAD), &[]));
    assert!(err.contains("pull request #7: created comment"), "{err}");
    let body = &ours(&fake)[0].body;
    assert!(
        body.contains("the pull request's own workflow run [555]"),
        "{body}"
    );
    assert!(body.contains("/octo/shop/actions/runs/555"));
    assert!(
        body.contains("Those files were written by the pull request's own job"),
        "{body}"
    );
    fake.assert_conformant();
}

#[test]
fn a_forged_pull_request_number_in_the_artifact_is_never_used() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::workflow_run(
        &fake,
        workflow_run_event(
            HEAD,
            "success",
            serde_json::json!([{"number": 7, "head": {"sha": HEAD}}]),
        ),
    );
    // The untrusted job's artifact claims pull request #1.
    write_event(
        job.path(),
        "artifact-event.json",
        pull_request_event(1, HEAD),
    );
    succeeded(&job.publish(&regressed(HEAD), &[]));
    let state = fake.state();
    assert!(
        state
            .requests
            .iter()
            .all(|r| !r.path.contains("/issues/1/"))
    );
    assert!(
        state
            .requests
            .iter()
            .any(|r| r.path.contains("/issues/7/comments"))
    );
}

#[test]
fn a_report_for_another_head_is_refused() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::workflow_run(
        &fake,
        workflow_run_event(HEAD, "success", serde_json::json!([{"number": 7}])),
    );
    let err = usage_error(&job.publish(&regressed(NEWER_HEAD), &[]));
    assert!(err.contains("refusing to publish a report"), "{err}");
    assert_eq!(fake.state().requests.len(), 0, "nothing was sent");
}

#[test]
fn cancelled_runs_are_refused_and_failed_gates_are_published() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::workflow_run(
        &fake,
        workflow_run_event(HEAD, "cancelled", serde_json::json!([{"number": 7}])),
    );
    let err = usage_error(&job.publish(&regressed(HEAD), &[]));
    assert!(err.contains("conclusion is `cancelled`"), "{err}");
    assert!(fake.state().requests.is_empty());
    let job = Job::workflow_run(
        &fake,
        workflow_run_event(HEAD, "failure", serde_json::json!([{"number": 7}])),
    );
    succeeded(&job.publish(&regressed(HEAD), &[]));
    assert_eq!(ours(&fake).len(), 1);
}

#[test]
fn a_missing_or_malformed_event_file_is_a_clear_error() {
    let fake = FakeGithub::start(HEAD);
    let mut job = Job::pull_request(&fake, HEAD);
    job.event = job.path().join("no-such-event.json");
    let err = usage_error(&job.publish(&regressed(HEAD), &[]));
    assert!(err.contains("cannot read the event file"), "{err}");
    std::fs::write(job.path().join("bad.json"), "{not json").unwrap();
    job.event = job.path().join("bad.json");
    let err = usage_error(&job.publish(&regressed(HEAD), &[]));
    assert!(err.contains("is not JSON"), "{err}");
    assert!(fake.state().requests.is_empty());
}

#[test]
fn a_403_names_the_permission_github_wants() {
    let fake = FakeGithub::start(HEAD);
    fake.state().inject(
        Method::POST,
        "/comments",
        Fault::Respond(
            403,
            vec![(
                "x-accepted-github-permissions",
                "pull_requests=write".into(),
            )],
            r#"{"message":"Resource not accessible by integration"}"#.into(),
        ),
    );
    let job = Job::pull_request(&fake, HEAD);
    let err = usage_error(&job.publish(&regressed(HEAD), &[]));
    assert!(err.contains("permissions: pull-requests: write"), "{err}");
    assert!(
        err.contains("GitHub asked for pull_requests=write"),
        "{err}"
    );
    assert!(job.summary().contains("parse/large"));
}

/// Publish once with `fault` injected; it must end with exactly one comment.
fn survives(method: Method, path_part: &'static str, fault: Fault, extra: &[&str]) -> String {
    let fake = FakeGithub::start(HEAD);
    fake.state().inject(method, path_part, fault);
    let job = Job::pull_request(&fake, HEAD);
    let err = succeeded(&job.publish(&regressed(HEAD), extra));
    assert_eq!(ours(&fake).len(), 1, "{err}");
    fake.assert_conformant();
    err
}

#[test]
fn a_secondary_rate_limit_403_with_retry_after_is_waited_out() {
    let err = survives(
        Method::GET,
        "/comments",
        Fault::Respond(
            403,
            vec![("retry-after", "1".into())],
            r#"{"message":"You have exceeded a secondary rate limit"}"#.into(),
        ),
        &[],
    );
    assert!(err.contains("retry-after 1s"), "{err}");
}

#[test]
fn a_secondary_rate_limit_429_without_retry_after_backs_off() {
    let err = survives(
        Method::GET,
        "/comments",
        Fault::Respond(429, vec![], r#"{"message":"secondary rate limit"}"#.into()),
        &[],
    );
    assert!(err.contains("secondary rate limit (HTTP 429)"), "{err}");
}

#[test]
fn a_429_with_retry_after_is_waited_out() {
    let err = survives(
        Method::POST,
        "/comments",
        Fault::Respond(429, vec![("retry-after", "1".into())], "{}".into()),
        &[],
    );
    assert!(err.contains("HTTP 429, retry-after 1s"), "{err}");
}

#[test]
fn a_used_up_rate_limit_waits_for_the_reset() {
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let err = survives(
        Method::GET,
        "/pulls/",
        Fault::Respond(
            403,
            vec![
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset.to_string()),
            ],
            r#"{"message":"API rate limit exceeded"}"#.into(),
        ),
        &[],
    );
    assert!(err.contains("rate limit used up"), "{err}");
}

#[test]
fn server_errors_are_retried() {
    let err = survives(
        Method::GET,
        "/comments",
        Fault::Respond(503, vec![], r#"{"message":"Service Unavailable"}"#.into()),
        &[],
    );
    assert!(err.contains("HTTP 503"), "{err}");
}

#[test]
fn a_reset_connection_is_retried() {
    let err = survives(Method::GET, "/comments", Fault::Reset, &[]);
    assert!(err.contains("connection failed"), "{err}");
}

#[test]
fn a_hanging_request_times_out_and_is_retried() {
    let err = survives(
        Method::GET,
        "/comments",
        Fault::Hang,
        &["--request-timeout", "1"],
    );
    assert!(err.contains("no answer within 1s"), "{err}");
}

#[test]
fn a_502_on_a_create_that_did_create_leaves_one_comment() {
    let err = survives(Method::POST, "/comments", Fault::ActThen502, &[]);
    // It listed again, found its comment, and did not post a second one.
    assert!(err.contains("already up to date"), "{err}");
}

#[test]
fn a_422_body_too_long_is_reported() {
    let fake = FakeGithub::start(HEAD);
    fake.state().inject(
        Method::POST,
        "/comments",
        Fault::Respond(
            422,
            vec![],
            r#"{"message":"Validation Failed","errors":[{"code":"custom","field":"body","message":"body is too long (maximum is 65536 characters)"}]}"#.into(),
        ),
    );
    let job = Job::pull_request(&fake, HEAD);
    let err = usage_error(&job.publish(&regressed(HEAD), &[]));
    assert!(err.contains("HTTP 422: Validation Failed"), "{err}");
    assert!(err.contains("body is too long"), "{err}");
}

#[test]
fn the_marker_comment_on_page_three_is_found() {
    let fake = FakeGithub::start(HEAD);
    let id = {
        let mut state = fake.state();
        for i in 0..249 {
            state.add_comment("someone", &format!("comment {i}"));
        }
        state.add_comment("github-actions[bot]", &format!("{MARKER}\nold results"))
    };
    let job = Job::pull_request(&fake, HEAD);
    let err = succeeded(&job.publish(&regressed(HEAD), &[]));
    assert!(err.contains(&format!("updated comment {id}")), "{err}");
    assert_eq!(ours(&fake).len(), 1);
    let state = fake.state();
    assert!(state.requests.iter().any(|r| r.path.contains("page=3")));
    drop(state);
    fake.assert_conformant();
}

#[test]
fn another_users_marker_comment_is_never_touched() {
    let fake = FakeGithub::start(HEAD);
    let quote = format!("{MARKER}\nI quote flamegate here");
    let theirs = fake.state().add_comment("mallory", &quote);
    let job = Job::pull_request(&fake, HEAD);
    succeeded(&job.publish(&regressed(HEAD), &[]));
    let state = fake.state();
    let kept = state.comments.iter().find(|c| c.id == theirs).unwrap();
    assert_eq!(kept.body, quote);
    assert_eq!(
        state
            .comments
            .iter()
            .filter(|c| c.author == "github-actions[bot]")
            .count(),
        1
    );
}

#[test]
fn two_marker_comments_from_a_race_are_reconciled_keeping_the_oldest() {
    let fake = FakeGithub::start(HEAD);
    let (oldest, newer) = {
        let mut state = fake.state();
        let oldest = state.add_comment("github-actions[bot]", &format!("{MARKER}\nrun A"));
        let newer = state.add_comment("github-actions[bot]", &format!("{MARKER}\nrun B"));
        (oldest, newer)
    };
    let job = Job::pull_request(&fake, HEAD);
    let err = succeeded(&job.publish(&regressed(HEAD), &[]));
    assert!(err.contains("deleted 1 duplicate comment"), "{err}");
    let left = ours(&fake);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, oldest);
    assert_ne!(left[0].id, newer);
    assert!(left[0].body.contains("parse/large"));
    fake.assert_conformant();
}

#[test]
fn an_older_head_finishing_last_does_not_overwrite_the_newer() {
    // The pull request has moved on to NEWER_HEAD, whose results are published.
    let fake = FakeGithub::start(NEWER_HEAD);
    let newer = Job::pull_request(&fake, NEWER_HEAD);
    succeeded(&newer.publish(&report_of(&suite_ids(), &[], NEWER_HEAD), &[]));
    let published = ours(&fake)[0].body.clone();
    // The run for the older head finishes last.
    let older = Job::pull_request(&fake, HEAD);
    let err = succeeded(&older.publish(&regressed(HEAD), &[]));
    assert!(err.contains("left comment"), "{err}");
    assert_eq!(ours(&fake)[0].body, published);
}

#[test]
fn the_token_appears_nowhere_but_the_authorization_header() {
    let fake = FakeGithub::start(HEAD);
    fake.state().inject(
        Method::POST,
        "/check-runs",
        Fault::Respond(403, vec![], format!(r#"{{"message":"bad token {TOKEN}"}}"#)),
    );
    fake.state().inject(
        Method::GET,
        "/comments",
        Fault::Respond(500, vec![], "{}".into()),
    );
    let job = Job::pull_request(&fake, HEAD);
    let output = job.publish(&regressed(HEAD), &["--check-run"]);
    for (what, text) in [
        ("stdout", stdout(&output)),
        ("stderr", stderr(&output)),
        ("summary", job.summary()),
        ("comment", ours(&fake)[0].body.clone()),
    ] {
        assert!(!text.contains(TOKEN), "the token leaked into {what}");
    }
    assert!(stderr(&output).contains("bad token ***"));
    let state = fake.state();
    assert!(
        state
            .requests
            .iter()
            .all(|r| r.authorization == format!("Bearer {TOKEN}")),
        "every request carried the token"
    );
}

/// Straight to Prism: GitHub's own examples as responses, every request
/// validated. Exit 0 means GitHub's description accepted each one.
#[test]
fn requests_conform_to_githubs_openapi_description() {
    let prism = crate::github_fake::prism();
    let job = Job {
        api_url: prism.url.clone(),
        ..Job::pull_request_dir(HEAD)
    };
    let err = succeeded(&job.publish(&regressed(HEAD), &["--check-run"]));
    assert!(err.contains("created comment"), "{err}");
    assert!(err.contains("completed check run"), "{err}");
}

impl Job {
    fn pull_request_dir(head: &str) -> Job {
        let dir = tempfile::tempdir().unwrap();
        let event = write_event(dir.path(), "event.json", pull_request_event(7, head));
        Job {
            dir,
            api_url: String::new(),
            event_name: "pull_request".into(),
            event,
        }
    }
}

#[test]
fn a_fork_pull_request_leaves_the_comment_to_the_workflow_run_publisher() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    let mut event = pull_request_event(7, HEAD);
    event["pull_request"]["head"]["repo"] = serde_json::json!({ "full_name": "contributor/shop" });
    event["pull_request"]["base"] = serde_json::json!({ "repo": { "full_name": "octo/shop" } });
    std::fs::write(&job.event, event.to_string()).unwrap();
    let err = succeeded(&job.publish(&regressed(HEAD), &["--check-run"]));
    assert!(err.contains("pull request from a fork"), "{err}");
    assert!(
        fake.state().requests.is_empty(),
        "no request from the untrusted job"
    );
    assert!(
        job.summary().contains("parse/large"),
        "the summary is still written"
    );
}

#[test]
fn outside_github_actions_nothing_is_posted() {
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    let path = write_report(job.path(), "report.json", &regressed(HEAD));
    let output = run(job
        .command(&["publish", "--report", path.to_str().unwrap()])
        .env_remove("GITHUB_ACTIONS"));
    let err = usage_error(&output);
    assert!(err.contains("not running in GitHub Actions"), "{err}");
    assert!(fake.state().requests.is_empty());
}

// Issue 17: what a security review found in the publish path.

/// The fork-safe publisher's job for a `perf` run of pull request #7 at `head`.
fn publisher_job(fake: &FakeGithub, head: &str) -> Job {
    Job::workflow_run(
        fake,
        workflow_run_event(
            head,
            "success",
            serde_json::json!([{"number": 7, "head": {"sha": head}}]),
        ),
    )
}

/// stderr lines the Actions runner would read as workflow commands: a line
/// starting with `::` outside a `::stop-commands::` pause.
fn live_commands(err: &str) -> Vec<String> {
    let mut paused: Option<String> = None;
    let mut live = Vec::new();
    for line in err.lines().map(str::trim_start) {
        match &paused {
            Some(token) if line == format!("::{token}::") => paused = None,
            Some(_) => {}
            None => match line.strip_prefix("::stop-commands::") {
                Some(token) => paused = Some(token.to_string()),
                None if line.starts_with("::") || line.contains("##[") => live.push(line.into()),
                None => {}
            },
        }
    }
    live
}

#[test]
fn issue_17_forged_commit_fields_are_refused_and_never_reach_github() {
    let fake = FakeGithub::start(HEAD);
    let job = publisher_job(&fake, HEAD);
    let forged = "012345678é\n@org/team [x](https://evil) <!--";
    for field in ["head", "base", "pull_request_head"] {
        let mut value = serde_json::to_value(regressed(HEAD)).unwrap();
        match field {
            "pull_request_head" => value[field] = forged.into(),
            side => value[side]["commit"] = forged.into(),
        }
        std::fs::write(job.path().join("forged.json"), value.to_string()).unwrap();
        let output =
            run(&mut job.command(&["publish", "--report", "forged.json", "--from-workflow-run"]));
        let err = usage_error(&output);
        assert!(err.contains("is not a commit id"), "{field}: {err}");
        assert!(
            !err.contains("@org/team"),
            "{field}: the forged text is not echoed: {err}"
        );
    }
    assert_eq!(fake.state().requests.len(), 0, "nothing was sent");
    assert!(job.summary().is_empty(), "nothing reached the job summary");
}

/// A fork's artifact can hold anything: a suite name that would name the
/// check run, an acceptance commit that goes into the comment, a link in
/// place of report.json, or a file too large to read. Each is refused
/// before anything reaches GitHub.
#[test]
fn forged_suites_acceptances_links_and_huge_reports_are_refused() {
    let fake = FakeGithub::start(HEAD);
    let job = publisher_job(&fake, HEAD);
    let forged = "x\n@org/team <!--";
    let refused = |file: &str, expected: &str| {
        let output = run(&mut job.command(&["publish", "--report", file, "--from-workflow-run"]));
        let err = usage_error(&output);
        assert!(err.contains(expected), "{file}: {err}");
        assert!(!err.contains("@org/team"), "{file}: echoed: {err}");
    };
    let mut value = serde_json::to_value(regressed(HEAD)).unwrap();
    value["suite"] = forged.into();
    std::fs::write(job.path().join("suite.json"), value.to_string()).unwrap();
    refused("suite.json", "`suite` must be 1-100 characters");

    let mut value = serde_json::to_value(regressed(HEAD)).unwrap();
    value["comparisons"][0]["accepted"] = serde_json::json!({
        "glob": "*", "reason": "ok", "by": "maintainer", "commit": forged,
    });
    std::fs::write(job.path().join("accepted.json"), value.to_string()).unwrap();
    refused("accepted.json", "`accepted.commit` of");

    std::fs::write(
        job.path().join("real.json"),
        serde_json::to_string(&regressed(HEAD)).unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink(job.path().join("real.json"), job.path().join("link.json")).unwrap();
    refused("link.json", "not a regular file");

    let huge = std::fs::File::create(job.path().join("huge.json")).unwrap();
    huge.set_len(flamegate::report::MAX_REPORT_BYTES + 1)
        .unwrap();
    refused("huge.json", "over the 16777216 a report can take");

    assert_eq!(fake.state().requests.len(), 0, "nothing was sent");
    assert!(job.summary().is_empty(), "nothing reached the job summary");
}

#[test]
fn issue_17_a_report_is_checked_by_the_head_it_claims_not_by_either_field() {
    let fake = FakeGithub::start(HEAD);
    let job = publisher_job(&fake, HEAD);
    // Measured the event's head, but claims to be pull request head NEWER_HEAD's.
    let mut report = regressed(NEWER_HEAD);
    report.head.commit = Some(HEAD.into());
    let err = usage_error(&job.publish(&report, &[]));
    assert!(err.contains("refusing to publish a report"), "{err}");
    assert_eq!(fake.state().requests.len(), 0, "nothing was sent");
}

#[test]
fn issue_17_untrusted_text_on_stderr_cannot_issue_workflow_commands() {
    let fake = FakeGithub::start(HEAD);
    let job = publisher_job(&fake, HEAD);
    // A forged verdict the parser quotes back in its error.
    let mut value = serde_json::to_value(regressed(HEAD)).unwrap();
    value["comparisons"][0]["verdict"] =
        "x\n::add-mask::ghs_x\n##[set-output name=a;]b\n::error::forged".into();
    std::fs::write(job.path().join("forged.json"), value.to_string()).unwrap();
    let output =
        run(&mut job.command(&["publish", "--report", "forged.json", "--from-workflow-run"]));
    let err = usage_error(&output);
    assert!(
        err.contains("::add-mask::ghs_x"),
        "the parser quoted it: {err}"
    );
    assert_eq!(live_commands(&err), Vec::<String>::new(), "{err}");
    assert_eq!(live_commands(&stdout(&output)), Vec::<String>::new());
}

#[test]
fn issue_17_three_heads_the_oldest_publishing_last_writes_nothing() {
    const H1: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const H2: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const H3: &str = "cccccccccccccccccccccccccccccccccccccccc";
    let publisher = |fake: &FakeGithub, head: &str, report: &Report| {
        let job = publisher_job(fake, head);
        succeeded(&job.publish(report, &[]))
    };
    // Pushed h1, then h2: h2's publisher writes while h2 is the head.
    let fake = FakeGithub::start(H2);
    publisher(&fake, H2, &report_of(&suite_ids(), &[], H2));
    let h2_body = ours(&fake)[0].body.clone();
    assert!(h2_body.contains(H2));
    // Pushed h3; h1's publisher runs late, then h2's runs again (a re-run).
    fake.state().pulls[0].head_sha = H3.into();
    let err = publisher(&fake, H1, &regressed(H1));
    assert!(err.contains("not the pull request's current head"), "{err}");
    publisher(&fake, H2, &regressed(H2));
    assert_eq!(ours(&fake).len(), 1);
    assert_eq!(
        ours(&fake)[0].body,
        h2_body,
        "stale runs left the comment alone"
    );
    // h3's own publisher writes.
    publisher(&fake, H3, &regressed(H3));
    let comments = ours(&fake);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains(H3) && comments[0].body.contains("parse/large"));
    fake.assert_conformant();
}

#[test]
fn issue_17_a_pull_request_of_another_head_is_never_guessed() {
    let fake = FakeGithub::start(HEAD);
    // The event lists a pull request whose head is not the run's (say the
    // same branch's earlier pull request): flamegate finds #7 by branch.
    let job = Job::workflow_run(
        &fake,
        workflow_run_event(
            HEAD,
            "success",
            serde_json::json!([{"number": 9, "head": {"sha": NEWER_HEAD}}]),
        ),
    );
    succeeded(&job.publish(&regressed(HEAD), &[]));
    let state = fake.state();
    assert!(
        state.requests.iter().all(|r| !r.path.contains("/9")),
        "{:?}",
        state.requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(
        state
            .requests
            .iter()
            .any(|r| r.path.contains("/issues/7/comments"))
    );
}

#[test]
fn issue_17_a_502_on_the_check_run_create_leaves_one_completed_check_run() {
    let fake = FakeGithub::start(HEAD);
    fake.state()
        .inject(Method::POST, "/check-runs", Fault::ActThen502);
    let job = Job::pull_request(&fake, HEAD);
    succeeded(&job.publish(&regressed(HEAD), &["--check-run", "--comment", "never"]));
    let state = fake.state();
    assert_eq!(
        state.check_runs.len(),
        1,
        "listed before creating again: no orphan"
    );
    assert_eq!(state.check_runs[0].status, "completed");
    assert_eq!(state.check_runs[0].conclusion.as_deref(), Some("failure"));
    drop(state);
    fake.assert_conformant();
}

#[test]
fn issue_17_a_report_does_not_decide_how_many_annotation_requests_are_sent() {
    let ids: Vec<String> = (0..700).map(|i| format!("bench/{i}")).collect();
    let slower: Vec<usize> = (0..300).collect();
    let fake = FakeGithub::start(HEAD);
    let job = Job::pull_request(&fake, HEAD);
    let report = report_of(&ids, &slower, HEAD);
    // The 300 regressions and whatever else reads "likely slower".
    let annotated = report.count(Verdict::Regressed) + report.count(Verdict::LikelySlower);
    assert!(annotated >= 300, "{annotated}");
    let err = succeeded(&job.publish(&report, &["--check-run", "--comment", "never"]));
    assert!(
        err.contains(&format!("250 annotations of {annotated}")),
        "{err}"
    );
    let state = fake.state();
    assert_eq!(state.check_runs[0].annotations.len(), 250);
    let patches = state
        .requests
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 5, "250 annotations in batches of 50");
    drop(state);
    fake.assert_conformant();
}

/// A feature branch whose last commit, authored under a maintainer's name
/// that anyone can type, accepts the slowdown of parse/large; the head
/// record has it 50% slower. Returns the repository with head.json.
fn forged_acceptance(message: &str) -> Repo {
    let versions: Vec<RunRecord> = (0..4).map(|seed| suite_record(seed, 0.01, &[])).collect();
    let repo = Repo::with_history(&versions);
    repo.git(&[
        "commit",
        "-q",
        "--allow-empty",
        "--author=Mai Ntainer <maintainer@example.invalid>",
        "-m",
        message,
    ]);
    repo.write_record("head.json", &suite_record(50, 0.01, &[(1, 1.5)]));
    repo
}

const ACCEPT_LARGE: &str = "parse: check every field\n\n\
     Flamegate-Accept: parse/large: correctness first";

fn approve(fake: &FakeGithub, login: &str, permission: &str, commit: &str) {
    let mut state = fake.state();
    state
        .reviews
        .push((login.into(), "APPROVED".into(), commit.into()));
    if !state.permissions.iter().any(|(l, _)| l == login) {
        state.permissions.push((login.into(), permission.into()));
    }
}

fn check_published(job: &Job, repo: &Repo) -> (Output, serde_json::Value) {
    let output = run(job
        .command(&["check", "--record", "head.json", "--publish", "--check-run"])
        .current_dir(repo.path()));
    let written = report(&repo.path().join("target/flamegate"));
    (output, written)
}

#[test]
fn a_local_check_honours_an_acceptance_but_never_names_who_accepted() {
    let repo = forged_acceptance(ACCEPT_LARGE);
    let mut command = flamegate(repo.path());
    for (name, _) in std::env::vars() {
        if name.starts_with("GITHUB_") || name == "CI" {
            command.env_remove(name);
        }
    }
    let output = run(command.args(["check", "--record", "head.json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("accepted parse/large: unverified acceptance (commit says: Mai Ntainer) in "),
        "{text}"
    );
    assert!(!text.contains("accepted by"), "{text}");
}

#[test]
fn a_forged_acceptance_fails_where_the_report_is_published_until_a_writer_approves() {
    let fake = FakeGithub::start(HEAD);
    let repo = forged_acceptance(ACCEPT_LARGE);
    let job = Job::pull_request(&fake, HEAD);
    // No review: the name in the commit is all there is.
    let (output, written) = check_published(&job, &repo);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(verdict_of(&written, "parse/large"), "Regressed");
    let comment = ours(&fake).pop().expect("a comment").body;
    assert!(
        comment.contains(
            "unverified acceptance (commit says: Mai Ntainer), not honoured: no user with write access approved pull request"
        ),
        "{comment}"
    );
    assert!(!comment.contains("accepted by"), "{comment}");
    assert_eq!(
        fake.state()
            .check_runs
            .last()
            .unwrap()
            .conclusion
            .as_deref(),
        Some("failure")
    );
    // Approvals that do not count: a reader's, and a writer's of an
    // earlier commit (the pull request moved on since).
    approve(&fake, "contributor", "read", HEAD);
    approve(&fake, "maint", "write", NEWER_HEAD);
    let (output, _) = check_published(&job, &repo);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // A writer approves this commit: accepted, by the login GitHub vouches for.
    approve(&fake, "maint", "write", HEAD);
    let (output, written) = check_published(&job, &repo);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(verdict_of(&written, "parse/large"), "Accepted");
    let comment = ours(&fake).pop().unwrap().body;
    assert!(comment.contains("accepted by @<!-- -->maint"), "{comment}");
    assert_eq!(
        fake.state()
            .check_runs
            .last()
            .unwrap()
            .conclusion
            .as_deref(),
        Some("success")
    );
    fake.assert_conformant();
}

#[test]
fn in_actions_an_acceptance_needs_publishing_or_a_later_gate_step() {
    let fake = FakeGithub::start(HEAD);
    approve(&fake, "maint", "admin", HEAD);
    let repo = forged_acceptance(ACCEPT_LARGE);
    let job = Job::pull_request(&fake, HEAD);
    let gate = |extra: &[&str]| {
        let mut args = vec!["check", "--record", "head.json", "--out-dir", "out"];
        args.extend_from_slice(extra);
        run(job
            .command(&args)
            .env_remove("GITHUB_TOKEN")
            .current_dir(repo.path()))
    };
    let refused = gate(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stdout(&refused).contains("--defer-acceptances"));
    // The Action's two steps: the gate without the token, then the publisher.
    let deferred = gate(&["--defer-acceptances"]);
    assert_eq!(deferred.status.code(), Some(0), "{}", stderr(&deferred));
    let report_path = repo.path().join("out/report.json");
    let publish = |extra: &[&str]| {
        let mut args = vec![
            "publish",
            "--report",
            report_path.to_str().unwrap(),
            "--gate",
        ];
        args.extend_from_slice(extra);
        run(&mut job.command(&args))
    };
    let published = publish(&[]);
    assert_eq!(published.status.code(), Some(0), "{}", stderr(&published));
    assert!(
        ours(&fake)
            .pop()
            .unwrap()
            .body
            .contains("accepted by @<!-- -->maint")
    );
    fake.state().reviews.clear();
    let published = publish(&[]);
    assert_eq!(published.status.code(), Some(1), "{}", stderr(&published));
    assert!(ours(&fake).pop().unwrap().body.contains("not honoured"));
    fake.assert_conformant();
}

#[test]
fn a_forks_report_cannot_relax_the_policy_or_claim_a_verified_acceptance() {
    let fake = FakeGithub::start(HEAD);
    let repo = forged_acceptance(ACCEPT_LARGE);
    let job = Job::pull_request(&fake, HEAD);
    let path = checked_report(&job, &repo, &suite_record(50, 0.01, &[(1, 1.5)]), "out");
    // The fork's job forges its artifact: a lax policy and a verified name.
    let mut forged: Report =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    forged.settings.accept_policy = flamegate::record::acceptance::AcceptPolicy::Anyone;
    forged.judge_acceptances(&flamegate::record::acceptance::Standing::Verified {
        login: "maint".into(),
    });
    assert_eq!(forged.outcome, flamegate::report::Outcome::Pass);
    let publisher = Job::workflow_run(
        &fake,
        workflow_run_event(
            HEAD,
            "success",
            serde_json::json!([{ "number": 7, "head": { "sha": HEAD } }]),
        ),
    );
    let output = publisher.publish(&forged, &["--gate", "--check-run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let comment = ours(&fake).pop().unwrap().body;
    assert!(comment.contains("not honoured"), "{comment}");
    assert_eq!(
        fake.state()
            .check_runs
            .last()
            .unwrap()
            .conclusion
            .as_deref(),
        Some("failure")
    );
    // A maintainer's approval of the fork's head is what counts.
    approve(&fake, "maint", "write", HEAD);
    let output = publisher.publish(&forged, &["--gate"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    fake.assert_conformant();
}

/// `check --record head.json` outside GitHub Actions: its exit code and notes.
fn checked_locally(repo: &Repo) -> (Option<i32>, String) {
    let mut command = flamegate(repo.path());
    command.env_remove("GITHUB_ACTIONS");
    let output = run(command.args(["check", "--record", "head.json"]));
    let written = report(&repo.path().join("target/flamegate"));
    (output.status.code(), written["notes"].to_string())
}

#[test]
fn acceptance_off_and_a_bare_wildcard_accept_nothing() {
    let repo = forged_acceptance("all\n\nFlamegate-Accept: *: approved in review");
    let (code, notes) = checked_locally(&repo);
    assert_eq!(code, Some(1), "{notes}");
    assert!(notes.contains("would accept every benchmark"), "{notes}");
    let repo = forged_acceptance(ACCEPT_LARGE);
    repo.write("flamegate.toml", "[accept]\npolicy = \"off\"\n");
    let (code, notes) = checked_locally(&repo);
    assert_eq!(code, Some(1), "{notes}");
    assert!(notes.contains("policy = \\\"off\\\""), "{notes}");
}
