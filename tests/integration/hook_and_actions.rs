//! The local pre-push hook and a whole GitHub Actions run, through the real
//! binary, real `git push` and real benchmarks of the tiny fixture.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::github_fake::FakeGithub;
use crate::support::*;

fn hook_path(repo: &Path) -> PathBuf {
    repo.join(".git/hooks/pre-push")
}

#[test]
fn hook_install_refuses_a_foreign_hook_chains_it_and_uninstalls_cleanly() {
    let repo = Repo::new();
    let hook = hook_path(repo.path());
    let install = |args: &[&str]| run(flamegate(repo.path()).args(["hook", "install"]).args(args));

    let output = install(&[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&hook).unwrap();
    assert!(text.contains("# flamegate pre-push hook"), "{text}");
    assert!(
        text.contains("--measurement-time 1"),
        "quick windows by default: {text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "executable");
    }
    assert!(
        install(&[]).status.success(),
        "reinstalling our own hook is fine"
    );
    let output = run(flamegate(repo.path()).args(["hook", "uninstall"]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!hook.exists());

    // Somebody else's hook: refused, chained, put back.
    let theirs = "#!/bin/sh\necho their checks\n";
    std::fs::write(&hook, theirs).unwrap();
    let err = usage_error(&install(&[]));
    assert!(err.contains("--chain") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);
    assert!(install(&["--chain"]).status.success());
    let chained = repo.path().join(".git/hooks/pre-push.flamegate-chained");
    assert_eq!(std::fs::read_to_string(&chained).unwrap(), theirs);
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains("flamegate")
    );
    assert!(
        run(flamegate(repo.path()).args(["hook", "uninstall"]))
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs, "put back");
    assert!(!chained.exists());
    let err = usage_error(&run(flamegate(repo.path()).args(["hook", "uninstall"])));
    assert!(err.contains("not flamegate's"), "{err}");
    assert!(install(&["--force"]).status.success());
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains("flamegate")
    );

    // core.hooksPath is where git looks, so that is where the hook goes.
    repo.git(&["config", "core.hooksPath", ".githooks"]);
    assert!(install(&[]).status.success());
    assert!(repo.path().join(".githooks/pre-push").exists());
}

/// `flamegate hook pre-push` as git runs it, with `stdin` as the pushed refs.
fn pre_push(repo: &Path, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = flamegate(repo)
        .args(["hook", "pre-push", "origin", "file:///remote"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_chained_hook_runs_first_with_the_same_input_and_can_block() {
    let repo = Repo::new();
    let hook = hook_path(repo.path());
    let seen = repo.path().join("seen.txt");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$1 $2\" > '{0}'\ncat >> '{0}'\nexit 3\n",
            seen.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let output = run(flamegate(repo.path()).args(["hook", "install", "--chain"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let line = format!(
        "(delete) {} refs/heads/old {}\n",
        "0".repeat(40),
        "1".repeat(40)
    );
    // Blocked with status 1, the one status the hook script blocks on; the
    // chained hook's own code is named.
    let output = pre_push(repo.path(), &line);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("chained pre-push hook exited 3"));
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(seen, format!("origin file:///remote\n{line}"));
}

#[test]
fn pre_push_without_anything_to_measure_lets_the_push_through() {
    let repo = Repo::new();
    let head = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let zero = "0".repeat(40);
    let other = "1".repeat(40);
    for (stdin, expect) in [
        (String::new(), ""),
        (
            format!("(delete) {zero} refs/heads/old {head}\n"),
            "deleted",
        ),
        (
            format!("refs/heads/other {other} refs/heads/other {zero}\n"),
            "not checked out",
        ),
    ] {
        let output = pre_push(repo.path(), &stdin);
        assert!(output.status.success(), "{stdin}: {}", stderr(&output));
        assert!(stderr(&output).contains(expect), "{}", stderr(&output));
    }
}

/// `git push` in `work`, its hook building in `target`.
fn git_push(work: &Path, target: &Path, args: &[&str], skip: bool) -> std::process::Output {
    let mut command = Command::new("git");
    command
        .current_dir(work)
        .arg("push")
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .env("NO_COLOR", "1");
    if skip {
        command.env("FLAMEGATE_SKIP", "1");
    } else {
        command.env_remove("FLAMEGATE_SKIP");
    }
    command.output().unwrap()
}

#[test]
fn a_regression_blocks_a_real_git_push_and_a_clean_change_passes() {
    let _machine = exclusive_benchmarking();
    // A paired run confirms what the quick check flags: the fixed path and
    // target dir keep its builds cached with the paired tests'.
    let (work, origin) = paired_repo_with_baselines();
    let target = paired_target();
    let output = run(flamegate(&work)
        .args(["hook", "install", "--"])
        .args(QUICK_WINDOWS));
    assert!(output.status.success(), "{}", stderr(&output));

    slow_branch(&work, "slower");
    let push = git_push(&work, &target, &["origin", "slower"], false);
    let err = stderr(&push);
    assert!(!push.status.success(), "the push went through: {err}");
    assert!(
        err.contains("confirming with a paired run of the 3 flagged benchmark(s)"),
        "{err}"
    );
    assert!(
        err.contains("(confirmed by a paired run against the merge-base)"),
        "{err}"
    );
    assert!(err.contains("git push --no-verify"), "{err}");
    let branches = git_in(&origin, &["branch", "--list"]);
    assert!(!branches.contains("slower"), "{branches}");

    // Skipping is one variable away.
    let push = git_push(&work, &target, &["origin", "slower"], true);
    assert!(push.status.success(), "{}", stderr(&push));

    // A change that does not touch the benchmarked code passes the gate.
    // It adds a benchmark, which has no baseline: the hook does not spend
    // the push's time on it (issue 22).
    git_in(&work, &["checkout", "-q", "-b", "docs", "main"]);
    std::fs::write(work.join("NOTES.md"), "notes\n").unwrap();
    let bench = std::fs::read_to_string(work.join("benches/tiny.rs")).unwrap();
    std::fs::write(
        work.join("benches/tiny.rs"),
        bench.replace(
            "    let mut group",
            "    c.bench_function(\"added_later\", |b| b.iter(|| tiny::work(black_box(10))));\n    let mut group",
        ),
    )
    .unwrap();
    git_in(&work, &["add", "-A"]);
    git_in(&work, &["commit", "-q", "-m", "notes, one more benchmark"]);
    let push = git_push(&work, &target, &["origin", "docs"], false);
    let err = stderr(&push);
    assert!(push.status.success(), "{err}");
    // The quick check passes it, or flags the machine's drift since the
    // baseline was recorded and the paired run clears it.
    assert!(
        err.contains("no regressions") || err.contains("pre-push: not confirmed"),
        "{err}"
    );
    assert!(
        err.contains("measuring the 3 benchmark(s) of the stored baseline"),
        "{err}"
    );
    assert!(
        err.contains("not timed, without a stored baseline: 1 benchmark(s): added_later"),
        "{err}"
    );
    assert!(
        err.contains("pre-push: checked 3 benchmark(s) in "),
        "{err}"
    );

    // Asked to, the hook times the new benchmark too (it reads `new`).
    let output = run(flamegate(&work)
        .args(["hook", "install", "--time-new", "--"])
        .args(QUICK_WINDOWS));
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::write(work.join("NOTES.md"), "more notes\n").unwrap();
    git_in(&work, &["commit", "-q", "-am", "more notes"]);
    let push = git_push(&work, &target, &["origin", "docs"], false);
    let err = stderr(&push);
    assert!(push.status.success(), "{err}");
    assert!(!err.contains("without a stored baseline"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("added_later") && l.trim_end().ends_with("new")),
        "{err}"
    );
    assert!(
        err.contains("pre-push: checked 4 benchmark(s) in "),
        "{err}"
    );

    // A stored baseline twice as fast as the code ever ran (recorded on a
    // faster machine): the quick check flags every benchmark, the paired
    // run finds both sides the same machine code, and the push goes on.
    git_in(&work, &["checkout", "-q", "main"]);
    let path = work.join("baselines/tiny.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for bench in record["benches"].as_array_mut().unwrap() {
        for sample in bench["samples"].as_array_mut().unwrap() {
            *sample = serde_json::json!(sample.as_f64().unwrap() / 2.0);
        }
        // Another machine's build executes other code (its compiler, its
        // libc): nothing is left untimed as the same code.
        bench.as_object_mut().unwrap().remove("executed");
    }
    std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    git_in(
        &work,
        &["commit", "-q", "-am", "baseline from a faster machine"],
    );
    let push = git_push(&work, &target, &["origin", "main"], true);
    assert!(push.status.success(), "{}", stderr(&push));
    git_in(&work, &["checkout", "-q", "-b", "readme", "main"]);
    std::fs::write(work.join("NOTES.md"), "other notes\n").unwrap();
    git_in(&work, &["add", "NOTES.md"]);
    git_in(&work, &["commit", "-q", "-m", "other notes"]);
    let push = git_push(&work, &target, &["origin", "readme"], false);
    let err = stderr(&push);
    assert!(push.status.success(), "{err}");
    assert!(
        err.contains("confirming with a paired run of the 3 flagged benchmark(s)"),
        "{err}"
    );
    assert!(err.contains("identical machine code"), "{err}");
    assert!(err.contains("pre-push: not confirmed"), "{err}");
}

/// Only a verdict blocks a push. A setting this flamegate does not know, a
/// project that is gone, a hook whose flags this flamegate does not take
/// (one written by a newer version), and a check that outlives its budget
/// each say what went wrong and let the push through.
#[test]
fn a_push_is_blocked_only_by_a_verdict() {
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    let (work, origin) = tiny_repo_with_baselines(root.path());
    let install = |extra: &[&str]| {
        let output = run(flamegate(&work)
            .args(["hook", "install", "--force"])
            .args(extra)
            .arg("--")
            .args(QUICK_WINDOWS));
        assert!(output.status.success(), "{}", stderr(&output));
    };
    let pushed = |branch: &str, says: &[&str]| {
        let push = git_push(&work, &fixture_target_dir(), &["origin", branch], false);
        let err = stderr(&push);
        assert!(
            push.status.success(),
            "{branch}: the push was blocked: {err}"
        );
        for line in says {
            assert!(err.contains(line), "{branch}: no {line:?} in {err}");
        }
        let branches = git_in(&origin, &["branch", "--list"]);
        assert!(branches.contains(branch), "{branches}");
    };
    install(&[]);
    let skip = "FLAMEGATE_SKIP=1 git push, or git push --no-verify";

    git_in(&work, &["checkout", "-q", "-b", "future-setting", "main"]);
    let config = work.join("flamegate.toml");
    let mut text = std::fs::read_to_string(&config).unwrap_or_default();
    text.push_str("setting_from_a_newer_flamegate = true\n");
    std::fs::write(&config, text).unwrap();
    git_in(&work, &["add", "-A"]);
    git_in(&work, &["commit", "-q", "-m", "a newer setting"]);
    pushed(
        "future-setting",
        &["setting_from_a_newer_flamegate", "pushing anyway", skip],
    );

    git_in(&work, &["checkout", "-q", "-b", "no-project", "main"]);
    git_in(&work, &["rm", "-q", "Cargo.toml"]);
    git_in(&work, &["commit", "-q", "-m", "move the crate away"]);
    pushed(
        "no-project",
        &["no Cargo project at", "pushing anyway", skip],
    );

    // A hook with a flag this flamegate does not take.
    let hook = work.join(".git/hooks/pre-push");
    let script = std::fs::read_to_string(&hook).unwrap();
    std::fs::write(
        &hook,
        script.replace(" --budget ", " --from-the-future --budget "),
    )
    .unwrap();
    git_in(&work, &["checkout", "-q", "-b", "newer-hook", "main"]);
    std::fs::write(work.join("NOTES.md"), "notes\n").unwrap();
    git_in(&work, &["add", "-A"]);
    git_in(&work, &["commit", "-q", "-m", "notes"]);
    pushed(
        "newer-hook",
        &[
            "--from-the-future",
            "did not run to a verdict (exit status 2)",
            skip,
        ],
    );

    // A real slowdown (blocked without a budget: the test above), but the
    // check cannot finish in one second.
    install(&["--budget", "1"]);
    slow_branch(&work, "slower-but-late");
    pushed(
        "slower-but-late",
        &[
            "ran out of its 1 s budget",
            "this push is not checked",
            "--budget SECONDS",
        ],
    );
}

/// Ctrl-C during a push: the check runs in a process group of its own (so
/// that its budget can stop it with its builds), which the terminal's
/// signal does not reach; flamegate stops it, with every compiler it
/// started, and the push stops too.
#[test]
fn an_interrupted_push_stops_the_check_and_everything_it_started() {
    use std::io::Write;
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    let (work, _origin) = tiny_repo_with_baselines(root.path());
    let head = git_in(&work, &["rev-parse", "HEAD"]).trim().to_string();
    // A target dir of its own: a cold build, whose compilers name it.
    let target = root.path().join("cold-target");
    let mut child = flamegate(&work)
        .env("CARGO_TARGET_DIR", &target)
        .args(["hook", "pre-push", "origin", "file:///remote"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let line = format!(
        "refs/heads/main {head} refs/heads/main {}\n",
        "0".repeat(40)
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let running = |pattern: &str| {
        let found = Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap();
        String::from_utf8_lossy(&found.stdout).lines().count()
    };
    let pattern = target.to_str().unwrap().to_string();
    let started = std::time::Instant::now();
    while running(&pattern) == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no build started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("interrupted"),
        "{}",
        stderr(&output)
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        running(&pattern),
        0,
        "the build outlived the interrupted hook"
    );
}

#[test]
fn an_actions_run_end_to_end_in_a_shallow_clone() {
    let _machine = exclusive_benchmarking();
    let root = tempfile::tempdir().unwrap();
    let (work, origin) = tiny_repo_with_baselines(root.path());
    let head = slow_branch(&work, "slower");
    git_in(&work, &["push", "-q", "origin", "slower"]);

    // actions/checkout's default: depth 1, one branch.
    let url = format!("file://{}", origin.display());
    git_in(
        root.path(),
        &[
            "clone", "-q", "--depth", "1", "--branch", "slower", &url, "checkout",
        ],
    );
    let checkout = root.path().join("checkout");
    let fake = FakeGithub::start(&head);
    let event = root.path().join("event.json");
    pull_request_event(&event, &head, "slower");
    let step = ActionStep {
        dir: root.path().to_path_buf(),
        checkout: checkout.clone(),
        api_url: fake.url.clone(),
        event: event.clone(),
        head: head.clone(),
        target_dir: fixture_target_dir(),
    };
    let (github_output, summary) = (step.github_output(), step.summary());
    let output = step.run(&[
        ("MANIFEST_PATH", "Cargo.toml"),
        ("MODE", "stored"),
        ("COMMENT", "always"),
        ("CHECK_RUN", "true"),
        ("FAIL_ON_REGRESSION", "true"),
        ("OUT_DIR", "flamegate-report"),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}\n{}", stdout(&output));
    let outputs = std::fs::read_to_string(&github_output).unwrap();
    assert!(outputs.contains("exit-code=1"), "{outputs}");
    assert!(checkout.join("flamegate-report/report.json").exists());
    assert!(checkout.join("flamegate-report/event.json").exists());
    let report = report(&checkout.join("flamegate-report"));
    assert_eq!(
        report["history_used"], RECORDED_BASELINES,
        "the fetched history is used"
    );
    assert_eq!(note_of(&report, "deepened")["remote"], "origin");
    let state = fake.state();
    let comments: Vec<_> = state
        .comments
        .iter()
        .filter(|c| c.body.starts_with("<!-- flamegate:tiny -->"))
        .collect();
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("work/xorshift/4000"),
        "{}",
        comments[0].body
    );
    assert_eq!(state.check_runs.len(), 1);
    assert_eq!(state.check_runs[0].head_sha, head);
    assert_eq!(state.check_runs[0].conclusion.as_deref(), Some("failure"));
    drop(state);
    fake.assert_conformant();
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("regressed")
    );
}

#[test]
#[cfg(unix)]
fn issue_17_an_install_path_with_quotes_and_command_substitution_stays_a_path() {
    let repo = Repo::new();
    // flamegate installed under a path that is shell code if spliced raw.
    let tools = tempfile::tempdir().unwrap();
    let dir = tools.path().join("a\"b $(touch pwned) `touch pwned2` c'd");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("flamegate");
    std::fs::copy(env!("CARGO_BIN_EXE_flamegate"), &exe).unwrap();
    let output = run(Command::new(&exe)
        .args(["hook", "install"])
        .current_dir(repo.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let hook = hook_path(repo.path());
    let syntax = run(Command::new("sh").arg("-n").arg(&hook));
    assert!(
        syntax.status.success(),
        "the hook parses: {}",
        stderr(&syntax)
    );

    // As git runs it: nothing pushed, so the check lets the push through.
    let push = || {
        use std::io::Write;
        let mut child = Command::new(&hook)
            .args(["origin", "file:///remote"])
            .current_dir(repo.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"").unwrap();
        child.wait_with_output().unwrap()
    };
    let output = push();
    assert!(output.status.success(), "{}", stderr(&output));
    // The binary gone: the hook says so (quoting the path) and lets it through.
    std::fs::remove_file(&exe).unwrap();
    let output = push();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("$(touch pwned)"),
        "{}",
        stderr(&output)
    );
    for planted in ["pwned", "pwned2"] {
        assert!(
            !repo.path().join(planted).exists(),
            "{planted}: a command ran"
        );
    }
}

/// One run of the Action's gate step (`action/run.sh`, exactly what
/// action.yml runs) with GitHub's variables, the fake API and `inputs` as
/// the `FLAMEGATE_INPUT_*` variables action.yml sets.
struct ActionStep {
    dir: PathBuf,
    checkout: PathBuf,
    api_url: String,
    event: PathBuf,
    head: String,
    target_dir: PathBuf,
}

impl ActionStep {
    fn github_output(&self) -> PathBuf {
        self.dir.join("github_output")
    }

    fn summary(&self) -> PathBuf {
        self.dir.join("summary.md")
    }

    /// The Action's gate step without the token, then (unless sharding)
    /// its publish step with it, as action.yml runs them: their output
    /// joined, and the job's exit code (the first step that failed).
    fn run(&self, inputs: &[(&str, &str)]) -> std::process::Output {
        use std::os::unix::process::ExitStatusExt;
        let gate = self.step("run.sh", inputs).output().unwrap();
        let sharding = inputs
            .iter()
            .any(|(name, value)| *name == "SHARD" && !value.is_empty());
        if sharding {
            return gate;
        }
        let publish = self
            .step("publish.sh", inputs)
            .env("GITHUB_TOKEN", "ghs_actions_e2e_token")
            .output()
            .unwrap();
        let failed = [&gate, &publish]
            .into_iter()
            .find(|o| !o.status.success())
            .map_or(0, |o| o.status.code().unwrap_or(1));
        std::process::Output {
            status: std::process::ExitStatus::from_raw(failed << 8),
            stdout: [gate.stdout, publish.stdout].concat(),
            stderr: [gate.stderr, publish.stderr].concat(),
        }
    }

    fn step(&self, script: &str, inputs: &[(&str, &str)]) -> Command {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_flamegate")).parent().unwrap();
        let mut command = Command::new("bash");
        for (name, _) in std::env::vars() {
            if name.starts_with("GITHUB_") || name.starts_with("FLAMEGATE_") {
                command.env_remove(name);
            }
        }
        command
            .arg(checkout_dir().join("action").join(script))
            .current_dir(&self.checkout)
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
            )
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("NO_COLOR", "1")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", &self.api_url)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_REPOSITORY", "octo/tiny")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &self.event)
            .env("GITHUB_RUN_ID", "99")
            .env("GITHUB_SHA", &self.head)
            .env("GITHUB_OUTPUT", self.github_output())
            .env("GITHUB_STEP_SUMMARY", self.summary())
            .env("FLAMEGATE_GITHUB_BACKOFF_MS", "10");
        for (name, value) in inputs {
            command.env(format!("FLAMEGATE_INPUT_{name}"), value);
        }
        command
    }
}

/// A pull request event for head `head` of branch `branch` of octo/tiny.
fn pull_request_event(path: &Path, head: &str, branch: &str) {
    std::fs::write(
        path,
        serde_json::json!({
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": { "sha": head, "ref": branch, "repo": { "full_name": "octo/tiny" } },
                "base": { "ref": "main", "repo": { "full_name": "octo/tiny" } },
            },
        })
        .to_string(),
    )
    .unwrap();
}

/// The fixed-path fixture, which never committed a baseline, with the quick
/// criterion windows in flamegate.toml and a fourfold slowdown on branch
/// `slower`; a fake GitHub and the Action's step for its pull request.
fn slow_pull_request_without_baseline(root: &Path) -> (PathBuf, FakeGithub, ActionStep) {
    let repo = paired_repo();
    let windows: Vec<String> = QUICK_WINDOWS.iter().map(|a| format!("{a:?}")).collect();
    std::fs::write(
        repo.join("flamegate.toml"),
        format!(
            "profile_time = 1.0\ncriterion_args = [{}]\n",
            windows.join(", ")
        ),
    )
    .unwrap();
    git_in(&repo, &["add", "-A"]);
    git_in(&repo, &["commit", "-q", "-m", "windows"]);
    let head = slow_branch(&repo, "slower");
    let fake = FakeGithub::start(&head);
    let event = root.join("event.json");
    pull_request_event(&event, &head, "slower");
    let step = ActionStep {
        dir: root.to_path_buf(),
        checkout: repo.clone(),
        api_url: fake.url.clone(),
        event,
        head,
        target_dir: paired_target(),
    };
    (repo, fake, step)
}

#[test]
fn issue_23_the_actions_sharded_paired_path_merges_shards_that_ran_different_rounds() {
    let _machine = exclusive_benchmarking();
    // No stored baseline anywhere: paired shards need none.
    let root = tempfile::tempdir().unwrap();
    let (repo, fake, step) = slow_pull_request_without_baseline(root.path());
    let shards = root.path().join("downloaded");
    // The matrix: shard 1 with seven fixed rounds, shard 2 adaptive (a
    // fourfold slowdown is called from six rounds): they end at different
    // round counts, as adaptive shards do.
    for (k, rounds) in [(1, "7"), (2, "")] {
        let out = format!("shard-out-{k}");
        let output = step.run(&[
            ("MODE", "paired"),
            ("SHARD", &format!("{k}/2")),
            ("ROUNDS", rounds),
            ("OUT_DIR", &out),
        ]);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(0), "{err}");
        assert!(err.contains("split into equal counts"), "{err}");
        if rounds.is_empty() {
            // Adaptive: open after the minimum, so another round is run.
            assert!(
                err.contains("still undecided after 4 rounds; running another"),
                "{err}"
            );
        }
        assert!(
            !err.contains("baseline"),
            "no stored baseline is read: {err}"
        );
        assert!(
            std::fs::read_to_string(step.github_output())
                .unwrap()
                .contains(&format!("shard-index={k}"))
        );
        // upload-artifact, then download-artifact with merge-multiple.
        std::fs::create_dir_all(&shards).unwrap();
        let file = format!("shard-{k}-of-2.json");
        std::fs::copy(repo.join(&out).join(&file), shards.join(&file)).unwrap();
    }
    let rounds_of = |k: usize| -> u64 {
        let shard: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(shards.join(format!("shard-{k}-of-2.json"))).unwrap(),
        )
        .unwrap();
        shard["run"]["rounds"].as_u64().unwrap()
    };
    // Seven rounds, more only in place of disturbed ones (issue 15).
    assert!((7..=11).contains(&rounds_of(1)), "{}", rounds_of(1));
    assert!(rounds_of(2) >= 6, "{}", rounds_of(2));

    let output = step.run(&[
        ("MERGE_FROM", shards.to_str().unwrap()),
        ("COMMENT", "always"),
        ("OUT_DIR", "merged"),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}\n{}", stdout(&output));
    let merged = report(&repo.join("merged"));
    assert_eq!(merged["mode"], "Paired");
    let mut rounds = Vec::new();
    for id in ["work/xorshift/1000", "work/xorshift/4000", "work_small"] {
        assert_eq!(verdict_of(&merged, id), "Regressed", "{id}");
        let c = comparison_of(&merged, id);
        // Rounds counted, and rounds set aside as disturbed (something
        // else took the CPU: the other tests of this suite, say).
        let set_aside = c["change"]["disturbed_rounds"].as_u64().unwrap_or(0);
        rounds.push((c["change"]["rounds"].as_u64().unwrap(), set_aside));
    }
    // Shard 1 (xorshift/1000, work_small) counted 7 rounds, shard 2 its own.
    assert_eq!((rounds[0].0, rounds[2].0), (7, 7), "{rounds:?}");
    assert_eq!(rounds[1].0 + rounds[1].1, rounds_of(2), "{rounds:?}");
    let outputs = std::fs::read_to_string(step.github_output()).unwrap();
    assert!(outputs.contains("exit-code=1"), "{outputs}");
    let state = fake.state();
    let comment = state
        .comments
        .iter()
        .find(|c| c.body.starts_with("<!-- flamegate:tiny -->"))
        .expect("the merge job commented");
    assert!(
        comment.body.contains("work/xorshift/4000"),
        "{}",
        comment.body
    );
    drop(state);
    fake.assert_conformant();
}

#[test]
fn issue_22_a_first_pull_request_without_a_baseline_is_checked_paired_by_the_action() {
    let _machine = exclusive_benchmarking();
    // A repository that never committed a baseline, in the Action's stored
    // mode: the job checks paired instead of failing with exit 2.
    let root = tempfile::tempdir().unwrap();
    let (repo, fake, step) = slow_pull_request_without_baseline(root.path());
    let output = step.run(&[
        ("MODE", "stored"),
        ("COMMENT", "always"),
        ("OUT_DIR", "first"),
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}\n{}", stdout(&output));
    let first = report(&repo.join("first"));
    assert_eq!(first["mode"], "Paired");
    assert_eq!(verdict_of(&first, "work/xorshift/4000"), "Regressed");
    let why = &first["notes"][0];
    assert_eq!(why["kind"], "first_pull_request", "{}", first["notes"]);
    assert_eq!(why["baseline_file"], "baselines/tiny.json");
    assert!(
        why["text"]
            .as_str()
            .unwrap()
            .contains("flamegate baseline update"),
        "{why}"
    );
    let state = fake.state();
    let comment = state
        .comments
        .iter()
        .find(|c| c.body.starts_with("<!-- flamegate:tiny -->"))
        .expect("the job commented");
    assert!(
        comment
            .body
            .contains("no stored baseline (baselines/tiny.json) at commit"),
        "{}",
        comment.body
    );
    drop(state);
    fake.assert_conformant();
}
