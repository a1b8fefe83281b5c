//! `flamegate history` through the real binary: the baseline file's
//! versions on main, level shifts named at their commit, damaged versions
//! skipped, every output format, hostile names, and the page in Chromium.

use flamegate::error::exit_code;
use flamegate::report::history::History;

use crate::support::*;

/// main with 14 baselines of the five-benchmark suite; from the eighth on,
/// `query/scan` is 30% slower. A damaged version and one of a foreign
/// schema sit between them. Returns the repo and the slowing commit.
fn repo_with_a_slowdown() -> (Repo, String) {
    let repo = Repo::new();
    let mut slowing = String::new();
    for i in 0..14u64 {
        let scale: &[(usize, f64)] = if i >= 8 { &[(3, 1.3)] } else { &[] };
        repo.write_record("baselines/suite.json", &suite_record(i, 0.01, scale));
        let subject = if i == 8 {
            "query: scan the whole table".to_string()
        } else {
            format!("baseline {i}")
        };
        let sha = repo.commit_all(&subject);
        if i == 8 {
            slowing = sha;
        }
        if i == 4 {
            repo.write("baselines/suite.json", "{ this is not json");
            repo.commit_all("a bad merge");
        }
        if i == 10 {
            repo.write("baselines/suite.json", "{\"schema\": 99, \"benches\": []}");
            repo.commit_all("a newer flamegate's baseline");
        }
    }
    // Commits that do not touch the baseline are not points.
    repo.write("src/lib.rs", "pub fn later() {}\n");
    repo.commit_all("unrelated");
    (repo, slowing)
}

fn history_in(repo: &Repo, args: &[&str]) -> std::process::Output {
    run(flamegate(repo.path())
        .args(["history", "--suite", "suite", "--branch", "main"])
        .args(args))
}

#[test]
fn history_names_the_commit_of_a_level_shift_and_skips_damaged_versions() {
    let (repo, slowing) = repo_with_a_slowdown();

    let output = history_in(&repo, &["--changes"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("14 versions of the baseline, 5 benchmarks, 1 level shift"),
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("query/scan"))
        .expect(&stdout);
    assert!(
        line.contains(&slowing[..10]) && line.contains("\"query: scan the whole table\""),
        "{line}"
    );
    assert!(line.contains("slower, still in effect"), "{line}");
    assert!(
        stdout.contains("a bad merge") && stdout.contains("invalid JSON"),
        "{stdout}"
    );
    assert!(
        stdout.contains("record schema 99 is not supported"),
        "{stdout}"
    );

    // The scheduled workflow's gate.
    let gated = history_in(&repo, &["--changes", "--fail-on-regression"]);
    assert_eq!(gated.status.code(), Some(i32::from(exit_code::REGRESSION)));

    // JSON for plotting elsewhere: the change at the slowing commit, ~+30%.
    let output = history_in(&repo, &["--format", "json", "--out", "-"]);
    let history: History = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(history.commits.len(), 14);
    assert_eq!(history.benches.len(), 5);
    let scan = history
        .benches
        .iter()
        .find(|b| b.id == "query/scan")
        .unwrap();
    assert_eq!(scan.changes.len(), 1);
    assert_eq!(scan.changes[0].commit, slowing);
    assert_eq!(history.commits[scan.changes[0].index].sha, slowing);
    assert!(
        (scan.changes[0].change - 0.30).abs() < 0.03,
        "{}",
        scan.changes[0].change
    );
    let others: usize = history.benches.iter().map(|b| b.changes.len()).sum();
    assert_eq!(others, 1, "no other benchmark moved");

    // CSV: a header and one row per benchmark and version.
    let output = history_in(&repo, &["--format", "csv", "--out", "-"]);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 14 * 5);
    let shifted: Vec<&csv::StringRecord> = rows.iter().filter(|r| !r[11].is_empty()).collect();
    assert_eq!(shifted.len(), 1);
    assert_eq!(
        (&shifted[0][0], &shifted[0][4]),
        (slowing.as_str(), "query/scan")
    );

    // The HTML page, by default under target/flamegate.
    let output = history_in(&repo, &[]);
    assert_eq!(output.status.code(), Some(0));
    let page = std::fs::read_to_string(repo.path().join("target/flamegate/history.html")).unwrap();
    assert_eq!(page.matches("<section class=\"bench\"").count(), 5);
    assert!(page.contains("query: scan the whole table"));
    assert_eq!(page.matches("<line class=\"slower\"").count(), 1);

    // An existing --out is not replaced without --force.
    let out = repo.path().join("mine.html");
    std::fs::write(&out, "keep me").unwrap();
    let refused = history_in(&repo, &["--out", out.to_str().unwrap()]);
    assert_eq!(
        refused.status.code(),
        Some(i32::from(exit_code::USAGE_OR_ENVIRONMENT))
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    let forced = history_in(&repo, &["--out", out.to_str().unwrap(), "--force"]);
    assert_eq!(forced.status.code(), Some(0));
}

#[test]
fn history_without_a_baseline_says_how_to_record_one() {
    let repo = Repo::new();
    let output = history_in(&repo, &[]);
    assert_eq!(
        output.status.code(),
        Some(i32::from(exit_code::USAGE_OR_ENVIRONMENT))
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("was never committed on main")
            && stderr.contains("flamegate baseline update"),
        "{stderr}"
    );
}

/// Chromium's headless shell on the page: what a user's browser runs.
fn chromium(args: &[&str]) -> std::process::Output {
    std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("chromium runs (.ci/run installs the Debian package `chromium`)")
}

#[test]
fn the_history_page_works_in_chromium_with_hostile_names() {
    let hostile = hostile_names();
    let repo = Repo::new();
    // The first four benchmarks double at the fourth commit; the rest do
    // not (a move of most benchmarks together is the machine's, removed).
    for i in 0..6u64 {
        let benches: Vec<(&str, f64)> = hostile
            .iter()
            .enumerate()
            .map(|(b, name)| {
                (
                    name.as_str(),
                    if i >= 3 && b < 4 { 2_000.0 } else { 1_000.0 },
                )
            })
            .collect();
        repo.write_record("baselines/suite.json", &record(&benches, i));
        repo.commit_all(&hostile[i as usize % hostile.len()]);
    }
    let out = repo.path().join("history.html");
    let output = history_in(&repo, &["--out", out.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let page = std::fs::read_to_string(&out).unwrap();
    // Only the page's own script and style, by hash: no inline code else.
    assert!(!page.contains("unsafe-inline"));
    assert!(page.contains("script-src 'sha256-") && page.contains("base-uri 'none'"));
    for name in &hostile {
        if name.contains(['<', '>', '"']) {
            assert!(!page.contains(name.as_str()), "raw in the page: {name}");
        }
    }

    let dump = chromium(&[
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        out.to_str().unwrap(),
    ]);
    let dom = String::from_utf8_lossy(&dump.stdout);
    let log = String::from_utf8_lossy(&dump.stderr);
    assert!(dump.status.success(), "{log}");
    // The script ran to its end, wired every plot and met no error.
    assert!(
        dom.contains(&format!("data-plots=\"{}\"", hostile.len())),
        "{dom:.2000}\n{log}"
    );
    assert!(!dom.contains("data-errors"), "{dom:.2000}");
    assert!(
        !log.contains("Uncaught") && !log.contains("Refused to"),
        "{log}"
    );
    // No injected element: the names stayed text.
    assert!(!dom.contains("<img src=\"x\""));
    assert_eq!(dom.matches("<svg class=\"plot\"").count(), hostile.len());
    // The four that doubled: a shift each, at it.
    assert_eq!(dom.matches("<line class=\"slower\"").count(), 4);
}

#[test]
fn a_shift_is_named_at_the_commit_the_baseline_measured() {
    // As CI does on main: a code commit, then a commit storing the record
    // that measured it. The shift belongs to the code commit.
    let repo = Repo::new();
    let mut slowing = String::new();
    for i in 0..6u64 {
        repo.write(
            "src/lib.rs",
            &format!("pub fn version() -> u32 {{ {i} }}\n"),
        );
        let subject = if i == 3 {
            "query: drop the index".to_string()
        } else {
            format!("code {i}")
        };
        let code = repo.commit_all(&subject);
        if i == 3 {
            slowing = code.clone();
        }
        let scale: &[(usize, f64)] = if i >= 3 { &[(2, 2.0)] } else { &[] };
        let mut record = suite_record(i, 0.01, scale);
        record.commit = Some(code);
        repo.write_record("baselines/suite.json", &record);
        repo.commit_all("flamegate: record the baseline");
    }
    let output = history_in(&repo, &["--format", "json", "--out", "-"]);
    let history: History = serde_json::from_slice(&output.stdout).unwrap();
    let indexed = history
        .benches
        .iter()
        .find(|b| b.id == "query/indexed")
        .unwrap();
    assert_eq!(indexed.changes.len(), 1, "{:?}", indexed.changes);
    let at = &history.commits[indexed.changes[0].index];
    assert_eq!(
        (at.sha.as_str(), at.subject.as_str()),
        (slowing.as_str(), "query: drop the index")
    );
    assert_ne!(at.stored_in, at.sha);
    // Since the previous point: its record's commit (baselines only, not
    // counted) and this one.
    assert_eq!(at.commits_since_previous, 1);
    let text = history_in(&repo, &["--changes"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        !text.contains("commits since the previous baseline"),
        "{text}"
    );
    // A baseline recorded after two code commits: the shift lies in one of them.
    repo.write("src/lib.rs", "pub fn a() {}\n");
    repo.commit_all("code a");
    repo.write("src/lib.rs", "pub fn b() {}\n");
    let code = repo.commit_all("code b");
    let mut record = suite_record(9, 0.01, &[(2, 2.0)]);
    record.commit = Some(code);
    repo.write_record("baselines/suite.json", &record);
    repo.commit_all("flamegate: record the baseline");
    let output = history_in(&repo, &["--format", "json", "--out", "-"]);
    let history: History = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(history.commits.last().unwrap().commits_since_previous, 2);
}

#[test]
fn baseline_update_shows_the_level_shifts_its_record_completes() {
    // Four baselines at one level, one slower; the update brings the second
    // slower record: a level of two, named at the commit that began it.
    let repo = Repo::new();
    let mut slowing = String::new();
    for i in 0..5u64 {
        let scale: &[(usize, f64)] = if i == 4 { &[(3, 2.0)] } else { &[] };
        repo.write_record("baselines/suite.json", &suite_record(i, 0.01, scale));
        let sha = repo.commit_all(&format!("baseline {i}"));
        if i == 4 {
            slowing = sha;
        }
    }
    let new = repo.path().join("new.json");
    std::fs::write(&new, suite_record(5, 0.01, &[(3, 2.0)]).to_json()).unwrap();
    let output = run(flamegate(repo.path())
        .args(["baseline", "update", "--suite", "suite", "--record"])
        .arg(&new));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("level shifts in this baseline's history"),
        "{stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("query/scan"))
        .expect(&stderr);
    assert!(
        line.contains(&slowing[..10]) && line.contains("slower, still in effect"),
        "{line}"
    );
    assert!(
        stderr.contains("6 versions of the baseline, 5 benchmarks, 1 level shift"),
        "{stderr}"
    );
}

#[test]
fn a_machine_that_slowed_every_benchmark_is_not_a_code_change() {
    // Ten benchmarks; from the fourth record on the runner is 50% slower
    // for all of them, and `b0` is also twice as slow by its own code.
    let repo = Repo::new();
    let names: Vec<String> = (0..10).map(|i| format!("group/b{i}")).collect();
    let mut slowing = String::new();
    for i in 0..7u64 {
        let machine = if i >= 3 { 1.5 } else { 1.0 };
        let benches: Vec<(&str, f64)> = names
            .iter()
            .enumerate()
            .map(|(b, name)| {
                let code = if b == 0 && i >= 3 { 2.0 } else { 1.0 };
                let wobble = samples(1.0, 0.01, i * 31 + b as u64, 1)[0];
                (
                    name.as_str(),
                    1_000.0 * (b + 1) as f64 * machine * code * wobble,
                )
            })
            .collect();
        repo.write_record("baselines/suite.json", &record(&benches, i));
        let sha = repo.commit_all(&format!("baseline {i}"));
        if i == 3 {
            slowing = sha;
        }
    }
    let output = history_in(&repo, &["--format", "json", "--out", "-"]);
    let history: History = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        (history.machine_speed[3] - 0.5).abs() < 0.03,
        "{:?}",
        history.machine_speed
    );
    let changed: Vec<&str> = history
        .benches
        .iter()
        .filter(|b| !b.changes.is_empty())
        .map(|b| b.id.as_str())
        .collect();
    assert_eq!(changed, ["group/b0"]);
    let change = &history.benches[0].changes[0];
    assert_eq!(change.commit, slowing);
    assert!((change.change - 1.0).abs() < 0.05, "{change:?}");
    assert!((change.machine_shift - 0.5).abs() < 0.05, "{change:?}");
    let text = history_in(&repo, &["--changes"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("every benchmark moved +5"), "{text}");
}

#[test]
fn a_level_shift_is_named_only_where_the_executed_code_changed() {
    // From the eighth record on, `query/scan` and `query/indexed` are 30%
    // slower. Each record keeps what every benchmark executed: scan's code
    // changed at that commit; indexed ran the same code throughout (the
    // machine drifted for it alone, as a noisy runner does).
    let repo = Repo::new();
    let mut slowing = String::new();
    for i in 0..14u64 {
        let scale: &[(usize, f64)] = if i >= 8 { &[(3, 1.3), (2, 1.3)] } else { &[] };
        let mut record = suite_record(i, 0.01, scale);
        for bench in &mut record.benches {
            let changed = bench.id.0 == "query/scan" && i >= 8;
            bench.executed = Some(format!("{}-{}", bench.id.0, u8::from(changed)));
        }
        repo.write_record("baselines/suite.json", &record);
        let sha = repo.commit_all(&format!("baseline {i}"));
        if i == 8 {
            slowing = sha;
        }
    }
    let output = history_in(&repo, &["--format", "json", "--out", "-"]);
    let history: History = serde_json::from_slice(&output.stdout).unwrap();
    let changes_of = |id: &str| {
        let bench = history.benches.iter().find(|b| b.id == id).unwrap();
        bench
            .changes
            .iter()
            .map(|c| c.commit.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(changes_of("query/scan"), [slowing]);
    assert_eq!(changes_of("query/indexed"), Vec::<String>::new());
}
