//! The paired round plan, its budget and paired shards, driven through the
//! runner seam (`collect::Runner`) by scripted samples (issue 18): what
//! real benchmarks test in minutes, in milliseconds. The real end-to-end
//! tests (paired.rs, shards.rs, hook_and_actions.rs) keep one run per mode.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use flamegate::collect::Measured;
use flamegate::collect::RunSelection;
use flamegate::collect::cargo::BenchExecutable;
use flamegate::collect::cargo::BenchTarget;
use flamegate::collect::cargo::Project;
use flamegate::collect::paired;
use flamegate::collect::rounds::{self, RoundPlan};
use flamegate::collect::runner::Runner;
use flamegate::collect::shard::{Balance, ShardPlan};
use flamegate::compare::{self, settings::Settings};
use flamegate::error::Result;
use flamegate::progress::Progress;
use flamegate::record::interference::Interference;
use flamegate::record::paired::PairedRun;
use flamegate::record::shard::ShardSpec;
use flamegate::record::shard::SplitMethod;

/// One process run: which side, and the benchmark ids it ran.
#[derive(Debug, Clone, PartialEq)]
struct Ran {
    head: bool,
    ids: Vec<String>,
}

/// ns per iteration of a benchmark: (head side?, id, that side's run number).
type TimeOf = Box<dyn Fn(bool, &str, usize) -> f64>;
/// Whether something else took the benchmark's CPU in that run.
type DisturbedIn = Box<dyn Fn(bool, &str, usize) -> bool>;

/// Writes criterion's files as a bench executable would, with times from
/// `time(head, id, run)`: ns per iteration of `id` on that side, in that
/// side's `run`-th process.
struct Scripted {
    ids: Vec<String>,
    time: TimeOf,
    disturbed: DisturbedIn,
    ran: RefCell<Vec<Ran>>,
    /// The target directory of each build, in order.
    built: RefCell<Vec<std::path::PathBuf>>,
    /// Report the base's first build as reused (cargo's `fresh`).
    reuse_first_base_build: bool,
}

impl Scripted {
    fn new(ids: &[&str], time: impl Fn(bool, &str, usize) -> f64 + 'static) -> Scripted {
        Scripted {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            time: Box::new(time),
            disturbed: Box::new(|_, _, _| false),
            ran: RefCell::new(Vec::new()),
            built: RefCell::new(Vec::new()),
            reuse_first_base_build: false,
        }
    }

    /// Measurement windows in which `disturbed(head, id, run)` waited for a
    /// CPU a third of the time (the others not at all).
    fn disturbing(mut self, disturbed: impl Fn(bool, &str, usize) -> bool + 'static) -> Scripted {
        self.disturbed = Box::new(disturbed);
        self
    }

    fn matching(&self, filter: Option<&str>) -> Vec<String> {
        let filter = filter.map(|f| regex::Regex::new(f).unwrap());
        self.ids
            .iter()
            .filter(|id| filter.as_ref().is_none_or(|f| f.is_match(id)))
            .cloned()
            .collect()
    }
}

fn is_head(exe: &BenchExecutable) -> bool {
    exe.path.to_string_lossy().contains("head-side")
}

impl Runner for Scripted {
    fn build(
        &self,
        project: &Project,
        targets: &[BenchTarget],
        _env: &[(String, String)],
    ) -> Result<Vec<BenchExecutable>> {
        let first_base = !project.dir.ends_with("head-side")
            && !self
                .built
                .borrow()
                .iter()
                .any(|dir| dir == &project.target_dir);
        self.built.borrow_mut().push(project.target_dir.clone());
        Ok(targets
            .iter()
            .map(|target| BenchExecutable {
                target: target.clone(),
                path: project.target_dir.join(&target.name),
                reused: first_base && self.reuse_first_base_build,
                criterion: None,
                divan: None,
                commands: Vec::new(),
            })
            .collect())
    }

    fn build_commands(
        &self,
        _project: &Project,
        commands: &[flamegate::record::command::CommandSpec],
        _env: &[(String, String)],
    ) -> Result<Vec<BenchExecutable>> {
        assert!(commands.is_empty(), "scripted runs define no commands");
        Ok(Vec::new())
    }

    fn list(&self, _exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>> {
        Ok(self.matching(filter))
    }

    fn run(
        &self,
        exe: &BenchExecutable,
        args: &[String],
        criterion_home: &Path,
        _env: &[(String, String)],
        _bar: &flamegate::progress::Bar,
    ) -> Result<BTreeMap<String, Measured>> {
        // criterion's filter comes first when there is one (timing_args).
        let filter = args.first().filter(|a| !a.starts_with("--"));
        let ids = self.matching(filter.map(String::as_str));
        let head = is_head(exe);
        let run = self.ran.borrow().iter().filter(|r| r.head == head).count();
        for id in &ids {
            let t = (self.time)(head, id, run);
            let new = criterion_home.join(id.replace('/', "_")).join("new");
            std::fs::create_dir_all(&new).unwrap();
            let (group, function) = id.split_once('/').unwrap_or((id, ""));
            std::fs::write(
                new.join("benchmark.json"),
                serde_json::json!({
                    "group_id": group, "function_id": function, "value_str": null,
                    "throughput": null, "full_id": id, "directory_name": id,
                })
                .to_string(),
            )
            .unwrap();
            // Ten samples of linear sampling, within ±0.1% of t.
            let iters: Vec<f64> = (1..=10).map(f64::from).collect();
            let times: Vec<f64> = iters
                .iter()
                .enumerate()
                .map(|(k, n)| n * t * (1.0 + 0.0005 * ((k % 5) as f64 - 2.0)))
                .collect();
            std::fs::write(
                new.join("sample.json"),
                serde_json::json!({ "sampling_mode": "Linear", "iters": iters, "times": times })
                    .to_string(),
            )
            .unwrap();
        }
        self.ran.borrow_mut().push(Ran {
            head,
            ids: ids.clone(),
        });
        Ok(ids
            .into_iter()
            .map(|id| {
                let waited = if (self.disturbed)(head, &id, run) {
                    0.33
                } else {
                    0.0
                };
                let measured = Measured {
                    seconds: Some(0.4),
                    interference: Some(Interference {
                        seconds: 0.3,
                        waited,
                        ..Interference::default()
                    }),
                };
                (id, measured)
            })
            .collect())
    }
}

fn project(root: &Path, side: &str) -> Project {
    let dir = root.join(side);
    std::fs::create_dir_all(&dir).unwrap();
    Project {
        manifest_path: dir.join("Cargo.toml"),
        dir: dir.clone(),
        target_dir: dir.join("target"),
        build_dir: dir.clone(),
        name: "scripted".into(),
        bench_targets: vec![BenchTarget {
            name: "benches".into(),
            package: "scripted".into(),
            package_spec: "scripted".into(),
            package_dir: dir,
            default: true,
            shown_with_package: false,
        }],
    }
}

fn run_paired(
    runner: &Scripted,
    plan: RoundPlan,
    selection: &RunSelection,
    settings: &Settings,
) -> PairedRun {
    let root = tempfile::tempdir().unwrap();
    let (head, base) = (
        project(root.path(), "head-side"),
        project(root.path(), "base-side"),
    );
    let pair = paired::Pair {
        head: &head,
        base: &base,
        base_sources: &root.path().join("base-side"),
        head_commit: (Some("1".repeat(40)), false),
        base_commit: "2".repeat(40),
    };
    paired::run_paired(
        pair,
        selection,
        plan,
        paired::Rules {
            stop: &compare::paired::stop_rule(settings, rounds::MAX_ROUNDS),
            time_changed: None,
        },
        runner,
        &Progress::Silent,
    )
    .unwrap()
    .run
}

fn rounds_of(run: &PairedRun) -> BTreeMap<String, usize> {
    run.round_medians
        .iter()
        .map(|(id, m)| (id.0.clone(), m.len()))
        .collect()
}

/// ±0.4% round-to-round wobble, the same on both sides' scale.
fn wobble(run: usize) -> f64 {
    1.0 + 0.004 * ((run * 3 % 5) as f64 - 2.0) / 2.0
}

#[test]
fn issue_18_adaptive_rounds_extend_only_what_is_open_and_call_a_regression_from_six() {
    // `slow/x` is 50% slower on the head: a regression, which the plan may
    // only call from six rounds; `same/y` is unchanged within ±0.4%, clearly
    // below the 1% threshold after the minimum of four.
    let runner = Scripted::new(&["same/y", "slow/x"], |head, id, run| {
        let base = 1000.0 * wobble(run);
        if head && id == "slow/x" {
            base * 1.5
        } else {
            base
        }
    });
    let run = run_paired(
        &runner,
        RoundPlan::Adaptive {
            budget: Some(Duration::from_secs(3600)),
        },
        &RunSelection::default(),
        &Settings::default(),
    );
    assert_eq!(
        rounds_of(&run),
        BTreeMap::from([("same/y".into(), rounds::MIN_ROUNDS), ("slow/x".into(), 6)])
    );
    assert_eq!(run.rounds, 6);
    let ran = runner.ran.borrow();
    // Four rounds of both sides with both benchmarks, then only the open one.
    assert_eq!(ran.len(), 12);
    assert!(
        ran[..8].iter().all(|r| r.ids == ["same/y", "slow/x"]),
        "{ran:?}"
    );
    assert!(ran[8..].iter().all(|r| r.ids == ["slow/x"]), "{ran:?}");
    // Which side goes first alternates from round to round.
    let firsts: Vec<bool> = ran.chunks(2).map(|pair| pair[0].head).collect();
    assert_eq!(firsts, [false, true, false, true, false, true]);
    let report = compare::paired::against_paired(
        "scripted",
        &run,
        flamegate::record::Side {
            commit: None,
            dirty: false,
            chosen_as: "head".into(),
        },
        flamegate::record::Side {
            commit: None,
            dirty: false,
            chosen_as: "base".into(),
        },
        &Settings::default(),
    );
    let verdict = |id: &str| {
        report
            .comparisons
            .iter()
            .find(|c| c.id.0 == id)
            .unwrap()
            .verdict
    };
    assert_eq!(verdict("slow/x"), flamegate::report::Verdict::Regressed);
    assert_eq!(verdict("same/y"), flamegate::report::Verdict::Unchanged);
}

fn sides() -> (flamegate::record::Side, flamegate::record::Side) {
    let side = |name: &str| flamegate::record::Side {
        commit: None,
        dirty: false,
        chosen_as: name.into(),
    };
    (side("head"), side("base"))
}

#[test]
fn issue_15_a_disturbed_round_is_set_aside_re_run_and_cannot_decide_a_verdict() {
    // `steady/x` is unchanged (±0.4%), but in the head's third process
    // something else took its CPU and it read 60% slower: that window
    // waited for a CPU a third of its time.
    let disturbed = |head: bool, id: &str, run: usize| head && id == "steady/x" && run == 2;
    let time = move |head: bool, id: &str, run: usize| {
        1000.0 * wobble(run) * if disturbed(head, id, run) { 1.6 } else { 1.0 }
    };
    let settings = Settings::default();
    let (head_side, base_side) = sides();
    let runner = Scripted::new(&["other/y", "steady/x"], time).disturbing(disturbed);
    let run = run_paired(
        &runner,
        RoundPlan::Fixed(6),
        &RunSelection::default(),
        &settings,
    );
    // Six undisturbed rounds of each benchmark: one more round, for the
    // disturbed benchmark only.
    assert_eq!(run.rounds, 7);
    let rounds = &run.round_medians[&flamegate::record::BenchId("steady/x".into())];
    assert_eq!(rounds.len(), 7);
    assert_eq!(rounds.iter().filter(|r| r.disturbed).count(), 1);
    assert_eq!(rounds_of(&run)["other/y"], 6);
    assert_eq!(
        runner.ran.borrow()[12..]
            .iter()
            .map(|r| r.ids.clone())
            .collect::<Vec<_>>(),
        [vec!["steady/x".to_string()], vec!["steady/x".to_string()]],
        "only the disturbed benchmark re-runs, on both sides"
    );
    let report = compare::paired::against_paired(
        "scripted",
        &run,
        head_side.clone(),
        base_side.clone(),
        &settings,
    );
    let steady = report
        .comparisons
        .iter()
        .find(|c| c.id.0 == "steady/x")
        .unwrap();
    assert_eq!(steady.verdict, flamegate::report::Verdict::Unchanged);
    let change = steady.change.as_ref().unwrap();
    assert_eq!((change.rounds, change.disturbed_rounds), (6, 1));
    assert!(change.ci_high < 0.01, "{change:?}");
    let set_aside = report.notes.iter().find_map(|n| match n {
        flamegate::record::note::Note::DisturbedRounds { benchmarks, .. } => Some(benchmarks),
        _ => None,
    });
    assert_eq!(
        set_aside.expect("a note on the disturbed round"),
        &[flamegate::record::note::RoundsOf {
            id: "steady/x".into(),
            rounds: 1
        }]
    );

    // Without the interference measurement, the same samples leave the
    // benchmark undecided: the disturbed round wrecks the interval.
    let mut unmarked = run.clone();
    for rounds in unmarked.round_medians.values_mut() {
        rounds.iter_mut().for_each(|r| r.disturbed = false);
    }
    let report =
        compare::paired::against_paired("scripted", &unmarked, head_side, base_side, &settings);
    let steady = report
        .comparisons
        .iter()
        .find(|c| c.id.0 == "steady/x")
        .unwrap();
    assert_ne!(
        steady.verdict,
        flamegate::report::Verdict::Unchanged,
        "{steady:?}"
    );
}

/// Issue 22: a budget spent after the minimum of four rounds cannot pass a
/// slowdown. A benchmark that reads slower beyond the threshold gets the six
/// rounds a regression is called from, past the budget; the others stop.
#[test]
fn issue_22_a_spent_budget_still_gives_a_slowdown_the_rounds_a_regression_needs() {
    let runner = Scripted::new(&["same/y", "slow/x", "wide/z"], |head, id, run| {
        let base = 1000.0 * wobble(run);
        match (head, id) {
            (true, "slow/x") => base * 1.5,
            // Undecided, but reading faster: no rounds past the budget.
            (true, "wide/z") => base * if run % 2 == 0 { 0.9 } else { 1.08 },
            _ => base,
        }
    });
    let run = run_paired(
        &runner,
        RoundPlan::Adaptive {
            budget: Some(Duration::ZERO),
        },
        &RunSelection::default(),
        &Settings::default(),
    );
    let rounds = rounds_of(&run);
    assert_eq!(
        rounds["slow/x"],
        flamegate::compare::verdict::MIN_ROUNDS_TO_FLAG,
        "{rounds:?}"
    );
    assert_eq!(rounds["same/y"], rounds::MIN_ROUNDS, "{rounds:?}");
    assert_eq!(rounds["wide/z"], rounds::MIN_ROUNDS, "{rounds:?}");
    let (head, base) = sides();
    let report =
        compare::paired::against_paired("scripted", &run, head, base, &Settings::default());
    let slow = report
        .comparisons
        .iter()
        .find(|c| c.id.0 == "slow/x")
        .unwrap();
    assert_eq!(slow.verdict, flamegate::report::Verdict::Regressed);
}

/// A spent budget still replaces disturbed rounds: two of the first four
/// rounds of `busy/x` were disturbed, and it gets rounds past the budget
/// until four count (it was once judged on two, and its "catches" read
/// "≥ 3,046,941.0%"); the undisturbed benchmark stops at the minimum.
#[test]
fn a_spent_budget_still_replaces_disturbed_rounds_up_to_the_minimum() {
    let disturbed =
        |head: bool, id: &str, run: usize| head && id == "busy/x" && (run == 1 || run == 2);
    let time = move |head: bool, id: &str, run: usize| {
        1000.0 * wobble(run) * if disturbed(head, id, run) { 1.6 } else { 1.0 }
    };
    let runner = Scripted::new(&["busy/x", "quiet/y"], time).disturbing(disturbed);
    let settings = Settings::default();
    let run = run_paired(
        &runner,
        RoundPlan::Adaptive {
            budget: Some(Duration::ZERO),
        },
        &RunSelection::default(),
        &settings,
    );
    let rounds = rounds_of(&run);
    assert_eq!(rounds["busy/x"], rounds::MIN_ROUNDS + 2, "{rounds:?}");
    assert_eq!(rounds["quiet/y"], rounds::MIN_ROUNDS, "{rounds:?}");
    let (head, base) = sides();
    let report = compare::paired::against_paired("scripted", &run, head, base, &settings);
    let busy = report
        .comparisons
        .iter()
        .find(|c| c.id.0 == "busy/x")
        .unwrap();
    let change = busy.change.as_ref().unwrap();
    assert_eq!((change.rounds, change.disturbed_rounds), (4, 2));
    assert!(change.detectable.is_some_and(|d| d < 0.1), "{change:?}");
}

/// Judged on fewer rounds than the minimum (`--rounds 3`), a benchmark's
/// "catches" column says so instead of a figure from t quantiles of two
/// degrees of freedom.
#[test]
fn catches_reads_too_few_rounds_below_the_minimum() {
    use flamegate::render::Renderer;
    use flamegate::render::markdown::Markdown;
    use flamegate::render::terminal::Terminal;
    let runner = Scripted::new(&["few/x"], |_, _, run| 1000.0 * wobble(run));
    let settings = Settings::default();
    let run = run_paired(
        &runner,
        RoundPlan::Fixed(3),
        &RunSelection::default(),
        &settings,
    );
    let (head, base) = sides();
    let report = compare::paired::against_paired("scripted", &run, head, base, &settings);
    let change = report.comparisons[0].change.as_ref().unwrap();
    assert_eq!((change.rounds, change.detectable), (3, None));
    let terminal = String::from_utf8(Terminal { color: false }.render(&report)).unwrap();
    let markdown = String::from_utf8(Markdown.render(&report)).unwrap();
    for text in [&terminal, &markdown] {
        assert!(text.contains("too few rounds"), "{text}");
        assert!(
            text.contains("1 benchmark(s) had too few undisturbed rounds to say (few/x)"),
            "{text}"
        );
        assert!(!text.contains("≥ "), "{text}");
    }
}

#[test]
fn issue_18_an_open_verdict_runs_to_the_maximum_and_a_spent_budget_stops_at_the_minimum() {
    // A zero threshold: an unchanged benchmark is never shown below it.
    let settings = Settings {
        min_change: 0.0,
        ..Settings::default()
    };
    let identical = || Scripted::new(&["same/y"], |_, _, run| 1000.0 * wobble(run));
    let generous = run_paired(
        &identical(),
        RoundPlan::Adaptive {
            budget: Some(Duration::from_secs(3600)),
        },
        &RunSelection::default(),
        &settings,
    );
    assert_eq!(
        generous.round_medians.values().next().unwrap().len(),
        rounds::MAX_ROUNDS
    );
    let spent = run_paired(
        &identical(),
        RoundPlan::Adaptive {
            budget: Some(Duration::ZERO),
        },
        &RunSelection::default(),
        &settings,
    );
    assert_eq!(spent.rounds, rounds::MIN_ROUNDS);
    let fixed = run_paired(
        &identical(),
        RoundPlan::Fixed(3),
        &RunSelection::default(),
        &settings,
    );
    assert_eq!(fixed.rounds, 3);
}

#[test]
fn issue_18_a_paired_shard_runs_its_equal_share_on_both_sides() {
    let ids = ["a/1", "a/2", "b/1", "b/2", "c/1"];
    let runner = Scripted::new(&ids, |_, _, run| 1000.0 * wobble(run));
    let selection = RunSelection {
        shard: Some(ShardPlan {
            spec: ShardSpec { index: 2, count: 2 },
            suite: "scripted".into(),
            balance: Balance::EqualCounts,
        }),
        ..RunSelection::default()
    };
    let run = run_paired(
        &runner,
        RoundPlan::Fixed(2),
        &selection,
        &Settings::default(),
    );
    // Sorted ids dealt out in turn: shard 2 of 2 has the second and fourth.
    assert_eq!(
        rounds_of(&run).into_keys().collect::<Vec<_>>(),
        ["a/2", "b/2"]
    );
    let info = run.head.shard.as_ref().unwrap();
    assert_eq!(info.split, SplitMethod::EqualCounts);
    assert_eq!(info.assignment.len(), ids.len());
    assert!(runner.ran.borrow().iter().all(|r| r.ids == ["a/2", "b/2"]));
}

#[test]
fn issue_18_a_seeded_base_that_cargo_reports_reused_is_built_again_from_nothing() {
    let root = tempfile::tempdir().unwrap();
    let (head, base) = (
        project(root.path(), "head-side"),
        project(root.path(), "base-side"),
    );
    // The head's target has compiled units, the base's none: a cold base.
    let unit = head.target_dir.join("release/deps/libdep-1.rlib");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "compiled").unwrap();
    std::fs::create_dir_all(head.target_dir.join("release/.fingerprint")).unwrap();
    let mut runner = Scripted::new(&["a/x"], |_, _, run| 1000.0 * wobble(run));
    runner.reuse_first_base_build = true;
    two_fixed_rounds(&head, &base, &runner);
    assert_eq!(
        *runner.built.borrow(),
        [
            head.target_dir.clone(),
            base.target_dir.clone(),
            base.target_dir.clone()
        ],
        "head, seeded base, base again"
    );
    assert!(
        !base.target_dir.join("release/deps/libdep-1.rlib").exists(),
        "the second build starts from nothing"
    );

    // Without a reused executable the seeded base is built once.
    let root = tempfile::tempdir().unwrap();
    let (head, base) = (
        project(root.path(), "head-side"),
        project(root.path(), "base-side"),
    );
    std::fs::create_dir_all(head.target_dir.join("release/.fingerprint")).unwrap();
    std::fs::write(head.target_dir.join("release/.fingerprint/u"), "").unwrap();
    let runner = Scripted::new(&["a/x"], |_, _, run| 1000.0 * wobble(run));
    two_fixed_rounds(&head, &base, &runner);
    assert_eq!(runner.built.borrow().len(), 2);
    assert!(base.target_dir.join("release/.fingerprint/u").exists());
}

/// Two fixed rounds between `head` and `base` through `runner`.
fn two_fixed_rounds(head: &Project, base: &Project, runner: &Scripted) -> PairedRun {
    let pair = paired::Pair {
        head,
        base,
        base_sources: &base.dir,
        head_commit: (Some("1".repeat(40)), false),
        base_commit: "2".repeat(40),
    };
    paired::run_paired(
        pair,
        &RunSelection::default(),
        RoundPlan::Fixed(2),
        paired::Rules {
            stop: &compare::paired::stop_rule(&Settings::default(), rounds::MAX_ROUNDS),
            time_changed: None,
        },
        runner,
        &Progress::Silent,
    )
    .unwrap()
    .run
}
