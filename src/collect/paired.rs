//! Paired runs: base and head built side by side and run in alternating
//! rounds in the same job (docs/statistics.md rule a).
//!
//! Takes the head project and the base project (a checkout of the base
//! commit); hands on a `PairedRun`: each side's samples pooled over rounds,
//! and each benchmark's per-round medians for both sides.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::record::interference::{Interference, own_wait};
use crate::record::paired::{PhaseTimes, Standing, counted_rounds, round_log_ratios};
use crate::record::{BenchId, BenchResult, InputChange, RECORD_SCHEMA, RunRecord};

use super::{BenchExecutable, Progress, Project, RunSelection, build_and_list, machine};

/// criterion windows for a round when the user gives none: short, because
/// rounds, not long windows, average out drift between the sides. Ten
/// samples keep a 10 ms benchmark's round near half a second (criterion's
/// linear sampling needs 55 iterations for ten samples); six rounds of both
/// sides then take about criterion's default time for one side.
pub const ROUND_ARGS: [&str; 6] = [
    "--warm-up-time",
    "0.1",
    "--measurement-time",
    "0.3",
    "--sample-size",
    "10",
];

/// `ROUND_ARGS` for criterion before 0.4, which takes whole seconds only:
/// the shortest windows it accepts, so its rounds take about five times as
/// long.
pub const ROUND_ARGS_WHOLE_SECONDS: [&str; 6] = [
    "--warm-up-time",
    "1",
    "--measurement-time",
    "1",
    "--sample-size",
    "10",
];

/// The default round windows for one bench executable.
pub fn round_args(exe: &BenchExecutable) -> &'static [&'static str] {
    if exe.takes_whole_seconds() {
        &ROUND_ARGS_WHOLE_SECONDS
    } else {
        &ROUND_ARGS
    }
}

/// Say which bench targets get whole-second rounds, when the user gave no
/// windows of their own.
fn note_whole_second_rounds(listed: &super::Listed, selection: &RunSelection, progress: &Progress) {
    if !selection.criterion_args.is_empty() {
        return;
    }
    for (exe, _) in listed.iter().filter(|(exe, _)| exe.takes_whole_seconds()) {
        progress.note(&format!(
            "bench target {} uses criterion {}, which takes whole seconds: its rounds measure 1 s \
             after 1 s of warm-up (criterion 0.4 and later: 0.3 s after 0.1 s), about five times as long",
            exe.target.label(),
            exe.criterion.as_ref().map_or_else(String::new, ToString::to_string),
        ));
    }
}

/// Rounds every benchmark gets before the adaptive plan may stop it.
pub const MIN_ROUNDS: usize = crate::record::paired::MIN_COUNTED_ROUNDS;
/// Rounds an undecided benchmark may get at most (adaptive plan).
pub const MAX_ROUNDS: usize = 20;
/// The adaptive plan's default budget per benchmark, both sides and all
/// rounds together: about criterion's default time for one benchmark (3 s
/// warm-up + 5 s measurement) plus process starts.
pub const BUDGET_PER_BENCHMARK: Duration = Duration::from_secs(10);

/// Rounds past the adaptive plan's minimum that an undecided benchmark may
/// get after the budget is spent, to replace rounds something else
/// disturbed until `MIN_ROUNDS` count: bounded, so a machine that stays
/// busy cannot hold the job.
pub const REPLACEMENT_ROUNDS: usize = MIN_ROUNDS;

/// How many rounds a paired run makes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RoundPlan {
    /// Exactly this many rounds for every benchmark (`--rounds N`).
    Fixed(usize),
    /// `MIN_ROUNDS` for every benchmark, then more rounds only for the
    /// benchmarks whose verdict is still open, until each is decided, has
    /// had `MAX_ROUNDS`, or the time spent in rounds would pass the budget
    /// (None: `BUDGET_PER_BENCHMARK` for each benchmark).
    Adaptive { budget: Option<Duration> },
}

impl RoundPlan {
    fn min(self) -> usize {
        match self {
            RoundPlan::Fixed(n) => n,
            RoundPlan::Adaptive { .. } => MIN_ROUNDS,
        }
    }

    fn max(self) -> usize {
        match self {
            // Disturbed rounds re-run: up to half as many rounds again.
            RoundPlan::Fixed(n) => n + n.div_ceil(2),
            RoundPlan::Adaptive { .. } => MAX_ROUNDS,
        }
    }
}

/// The criterion arguments rounds are timed with: the user's, else
/// `ROUND_ARGS` (what `timing_args` gives after the filter and `--noplot`).
pub fn round_windows(selection: &RunSelection) -> Vec<String> {
    if selection.criterion_args.is_empty() {
        ROUND_ARGS.iter().map(|a| a.to_string()).collect()
    } else {
        selection.criterion_args.clone()
    }
}

pub use crate::record::paired::{PAIRED_SHARD_FORMAT, PairedRun, PairedShard, RoundMedians};

/// The compiler flags of both sides' workspace crates. The base builds from
/// another directory; mapping both sides' paths onto the head's keeps
/// embedded file names (panic locations) identical, so identical code gives
/// an identical binary layout on both sides. Only the workspace's crates
/// get the mapping (`rustc_wrapper`): dependencies build as in the user's
/// builds.
pub fn workspace_flags(base: &Project, head: &Project) -> Vec<String> {
    [&base.dir, &head.dir]
        .iter()
        .map(|dir| {
            format!(
                "--remap-path-prefix={}={}",
                dir.display(),
                head.dir.display()
            )
        })
        .collect()
}

/// The subdirectories of a target's `release/` that hold compiled units and
/// cargo's record of them (not the uplifted executables, not incremental
/// state, which the bench profile does not use).
const UNIT_DIRS: [&str; 3] = ["deps", "build", ".fingerprint"];

/// Give the base side a start from the head's compiled dependencies when its
/// target directory has never been built (a cold cache): both sides build
/// the same locked dependencies with the same flags (`workspace_flags`), so
/// without this a cold paired run compiles every dependency twice. Returns
/// whether it seeded.
///
/// The head's build of the project's own packages is copied too, under the
/// same unit names as the base's; `base_sources` (the base checkout, which
/// flamegate owns) is then stamped with the current time, after every copied
/// build, so cargo sees each of the base's local sources as changed and
/// rebuilds them from the base's code. Registry and git dependencies do not
/// live there and stay built. `cargo::build` reports if a bench executable
/// was reused anyway, and the caller rebuilds from nothing then.
pub fn seed_base_target(head: &Project, base: &Project, base_sources: &Path) -> Result<bool> {
    if !seed_target(&head.target_dir, &base.target_dir)? {
        return Ok(false);
    }
    let now = std::time::SystemTime::now();
    // Not the base's target directory, wherever it is: its copied times are
    // what the sources must be newer than.
    let sources = walkdir::WalkDir::new(base_sources)
        .into_iter()
        .filter_entry(|e| e.path() != base.target_dir);
    for entry in sources {
        let entry = entry.map_err(|e| Error::io(base_sources, e.into()))?;
        if entry.file_type().is_file() {
            std::fs::File::options()
                .write(true)
                .open(entry.path())
                .and_then(|file| file.set_modified(now))
                .map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(true)
}

/// Copy the compiled units of target directory `from` into `to` when `to`
/// has never been built and `from` has: the head side's start from the
/// user's own builds (the same dependencies with the same flags, since
/// `workspace_flags` reach the workspace's crates only), and the base's
/// from the head's. Returns whether it copied.
pub fn seed_target(from: &Path, to: &Path) -> Result<bool> {
    let (from, to) = (from.join("release"), to.join("release"));
    if to.exists() || !from.join(".fingerprint").is_dir() {
        return Ok(false);
    }
    for dir in UNIT_DIRS {
        copy_tree(&from.join(dir), &to.join(dir))?;
    }
    Ok(true)
}

/// Copy the tree `from` into `to` (missing `from`: nothing), keeping each
/// file's modification time: cargo compares them to decide what is fresh.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if !from.exists() {
        return Ok(());
    }
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.map_err(|e| Error::io(from, e.into()))?;
        let relative = entry
            .path()
            .strip_prefix(from)
            .expect("walkdir stays under its root");
        let dest = to.join(relative);
        let copied = if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest)
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &dest).and_then(|_| {
                let modified = entry.metadata().map_err(std::io::Error::from)?.modified()?;
                std::fs::File::options()
                    .write(true)
                    .open(&dest)?
                    .set_modified(modified)
            })
        } else {
            // Symbolic links: cargo writes none under these directories.
            Ok(())
        };
        copied.map_err(|e| Error::io(&dest, e))?;
    }
    Ok(())
}

/// Files beside a project that decide how it is built rather than what is
/// built: cargo's configuration and rustup's toolchain pin.
const BUILD_SETTING_FILES: [&str; 4] = [
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain.toml",
    "rust-toolchain",
];

/// Notes for the build-setting files that differ between the base's and the
/// head's project directories. Both sides are built with the head's, so a
/// pull request that changes them (a toolchain, `rustflags`, a linker)
/// changes both sides alike and its effect is not in the comparison.
pub fn build_settings_changed(base_dir: &Path, head_dir: &Path) -> Vec<String> {
    BUILD_SETTING_FILES
        .iter()
        .filter(|file| {
            std::fs::read(base_dir.join(file)).ok() != std::fs::read(head_dir.join(file)).ok()
        })
        .map(|file| {
            format!(
                "`{file}` differs between base and head; both sides were built with the head's, \
                 so its effect is not in this comparison"
            )
        })
        .collect()
}

/// Each measurement window's interference, by side, round and benchmark.
type Windows = BTreeMap<(u8, usize, BenchId), Interference>;

/// A benchmark's medians in each of the first `rounds` rounds that ran it
/// on both sides.
fn round_medians_of(
    results: &BTreeMap<(u8, usize), Vec<BenchResult>>,
    windows: &Windows,
    rounds: usize,
    id: &BenchId,
) -> Vec<RoundMedians> {
    let own_wait = own_wait(windows.iter().filter(|(k, _)| &k.2 == id).map(|(_, w)| w));
    let disturbed = |side: Side, round: usize| {
        windows
            .get(&(side as u8, round, id.clone()))
            .is_some_and(|w| w.disturbed(own_wait))
    };
    let median_in = |side: Side, round: usize| -> Option<f64> {
        results
            .get(&(side as u8, round))?
            .iter()
            .find(|r| &r.id == id)
            .map(|r| crate::stats::median(&r.samples))
    };
    (0..rounds)
        .filter_map(|round| {
            Some(RoundMedians {
                base: median_in(Side::Base, round)?,
                head: median_in(Side::Head, round)?,
                disturbed: disturbed(Side::Base, round) || disturbed(Side::Head, round),
            })
        })
        .collect()
}

/// A benchmark's round changes in log space so far, per unit of input when
/// its declared input differs between the sides (from its first round).
fn log_ratios_of(
    results: &BTreeMap<(u8, usize), Vec<BenchResult>>,
    windows: &Windows,
    rounds: usize,
    id: &BenchId,
) -> Vec<f64> {
    let first = |side: Side| results.get(&(side as u8, 0))?.iter().find(|r| &r.id == id);
    let input = first(Side::Base)
        .zip(first(Side::Head))
        .and_then(|(base, head)| InputChange::between(base, head));
    round_log_ratios(
        &round_medians_of(results, windows, rounds, id),
        input.as_ref(),
    )
}

/// Which side a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Base,
    Head,
}

/// The adaptive plan's stop rule, given by the caller (it is a statistical
/// decision: `compare::paired::stop_rule`): where a benchmark stands, from
/// its round log ratios and the number of benchmarks compared.
pub type StopRule<'a> = &'a dyn Fn(&BenchId, &[f64], usize) -> Standing;

/// Build both sides, then run rounds as `plan` says, alternating which side
/// goes first (base-head, head-base, …) so drift hits both equally.
/// `base_sources` is the base checkout (see `seed_base_target`).
#[allow(clippy::too_many_arguments)]
#[expect(
    clippy::too_many_lines,
    reason = "not yet split into its steps; the lint fails once it is short enough"
)]
pub fn run_paired(
    head: &Project,
    base: &Project,
    base_sources: &Path,
    selection: &RunSelection,
    plan: RoundPlan,
    head_commit: (Option<String>, bool),
    base_commit: String,
    standing: StopRule<'_>,
    runner: &dyn super::Runner,
    progress: &Progress,
) -> Result<TimedPair> {
    let flags = workspace_flags(base, head);
    let mut phases = PhaseTimes::default();
    let mark = Instant::now();
    let head_listed = build_and_list(head, selection, &flags, runner, progress)?;
    phases.build_head = mark.elapsed().as_secs_f64();
    let mark = Instant::now();
    let seeded = seed_base_target(head, base, base_sources)?;
    if seeded {
        progress.note(
            "base: starting from the head's compiled dependencies (same lock file and flags)",
        );
    }
    let mut base_listed = build_and_list(base, selection, &flags, runner, progress)?;
    if seeded && base_listed.iter().any(|(exe, _)| exe.reused) {
        // The base's own code must be built from the base's sources; a
        // reused executable could be the head's. Never seen; build afresh.
        progress
            .note("base: cargo reused a seeded bench executable; building the base from nothing");
        let release = base.target_dir.join("release");
        std::fs::remove_dir_all(&release).map_err(|e| Error::io(&release, e))?;
        base_listed = build_and_list(base, selection, &flags, runner, progress)?;
    }
    phases.build_base = mark.elapsed().as_secs_f64();
    // A shard of a paired run: the split is made over both sides' ids, and
    // both sides run exactly the shard's benchmarks.
    let (head_listed, base_listed, selection, shard) = match &selection.shard {
        Some(shard_plan) => {
            let (mut lists, filter, info) =
                super::shard_lists(vec![head_listed, base_listed], shard_plan, progress)?;
            let base_listed = lists.pop().expect("two lists");
            let head_listed = lists.pop().expect("two lists");
            let selection = RunSelection {
                filter,
                ..selection.clone()
            };
            (
                head_listed,
                base_listed,
                std::borrow::Cow::Owned(selection),
                Some(info),
            )
        }
        None => (
            head_listed,
            base_listed,
            std::borrow::Cow::Borrowed(selection),
            None,
        ),
    };
    let selection = selection.as_ref();
    let (head_listed, base_listed, identical) = if selection.time_identical {
        (head_listed, base_listed, BTreeSet::new())
    } else {
        set_aside_identical(head_listed, base_listed, progress)
    };
    let scratch = super::scratch_dir(head)?;
    let mark = Instant::now();
    let (head_listed, base_listed, executions) = if selection.time_same_code {
        (head_listed, base_listed, Default::default())
    } else {
        super::same_code::set_aside_same_code(head_listed, base_listed, scratch.path(), progress)
    };
    phases.same_code_pass = mark.elapsed().as_secs_f64();
    // Rounds, profiles and allocation counts run only what is left.
    let narrowed;
    let selection = if executions.same_code.is_empty() {
        selection
    } else {
        narrowed = super::narrowed_to(selection, &head_listed);
        &narrowed
    };
    note_whole_second_rounds(&head_listed, selection, progress);
    let nothing_to_time = head_listed.is_empty() && base_listed.is_empty();
    let on_both: BTreeSet<BenchId> = {
        let ids = |listed: &super::Listed| -> BTreeSet<BenchId> {
            listed
                .iter()
                .flat_map(|(_, ids)| ids.iter().map(|id| BenchId(id.clone())))
                .collect()
        };
        ids(&head_listed)
            .intersection(&ids(&base_listed))
            .cloned()
            .collect()
    };
    let budget = match plan {
        RoundPlan::Adaptive { budget } => {
            Some(budget.unwrap_or(BUDGET_PER_BENCHMARK * on_both.len().max(1) as u32))
        }
        RoundPlan::Fixed(_) => None,
    };
    // results[side][round]: every benchmark's samples in that round.
    let mut results: BTreeMap<(u8, usize), Vec<BenchResult>> = BTreeMap::new();
    let mut windows = Windows::new();
    // Each side's criterion directories, from its first round (for profiles).
    let mut dirs: BTreeMap<u8, Vec<(usize, PathBuf, BenchId)>> = BTreeMap::new();
    // None: every listed benchmark; Some: only these (adaptive rounds).
    let mut running: Option<BTreeSet<BenchId>> = None;
    let started = Instant::now();
    let mut rounds = 0;
    while rounds < plan.max() && !nothing_to_time {
        if rounds >= plan.min() {
            let still_running = on_both
                .iter()
                .filter(|id| running.as_ref().is_none_or(|r| r.contains(*id)));
            // The benchmarks still open, with where each stands.
            let open: BTreeMap<BenchId, Standing> = match plan {
                // A fixed plan re-runs the benchmarks that had disturbed
                // rounds until they have their rounds undisturbed.
                RoundPlan::Fixed(wanted) => still_running
                    .filter(|id| {
                        counted_rounds(&round_medians_of(&results, &windows, rounds, id)).count()
                            < wanted
                    })
                    .map(|id| (id.clone(), Standing::Open))
                    .collect(),
                RoundPlan::Adaptive { .. } => still_running
                    .map(|id| {
                        let ratios = log_ratios_of(&results, &windows, rounds, id);
                        (id.clone(), standing(id, &ratios, on_both.len()))
                    })
                    .filter(|(_, standing)| *standing != Standing::Decided)
                    .collect(),
            };
            // A round of the open benchmarks costs about what their share
            // of the rounds so far cost.
            let per_round = started.elapsed() / rounds as u32;
            let next = per_round.mul_f64(open.len() as f64 / on_both.len().max(1) as f64);
            let next_running = match (plan, budget) {
                _ if open.is_empty() => break,
                (RoundPlan::Fixed(wanted), _) => {
                    progress.note(&format!(
                        "paired: {} benchmark(s) had disturbed rounds (something else took their CPU); \
                         re-running them toward {wanted} undisturbed rounds",
                        open.len()
                    ));
                    open.into_keys().collect()
                }
                (_, Some(budget)) if started.elapsed() + next > budget => {
                    progress.note(&format!(
                        "paired: the time budget ({:.0} s) ends with {} benchmark(s) undecided after {rounds} rounds",
                        budget.as_secs_f64(),
                        open.len()
                    ));
                    let (short, rest): (BTreeMap<_, _>, BTreeMap<_, _>) = open
                        .into_iter()
                        .partition(|(_, standing)| *standing == Standing::ShortOfRounds);
                    if !short.is_empty() {
                        progress.note(&format!(
                            "paired: {} of them read slower, from fewer rounds than a regression is called from; \
                             one more round of those past the budget",
                            short.len()
                        ));
                    }
                    // Rounds something else disturbed are replaced past the
                    // budget, until `MIN_ROUNDS` count, at most `REPLACEMENT_ROUNDS`
                    // past the minimum: a busy moment must not leave a benchmark
                    // judged on two rounds.
                    let disturbed: BTreeSet<BenchId> = rest
                        .into_keys()
                        .filter(|id| {
                            let medians = round_medians_of(&results, &windows, rounds, id);
                            counted_rounds(&medians).count() < MIN_ROUNDS
                                && medians.len() < MIN_ROUNDS + REPLACEMENT_ROUNDS
                        })
                        .collect();
                    if !disturbed.is_empty() {
                        progress.note(&format!(
                            "paired: {} undecided benchmark(s) have fewer than {MIN_ROUNDS} undisturbed rounds; \
                             replacing their disturbed rounds past the budget (at most {REPLACEMENT_ROUNDS} more)",
                            disturbed.len(),
                        ));
                    }
                    let next: BTreeSet<BenchId> = short.into_keys().chain(disturbed).collect();
                    if next.is_empty() {
                        break;
                    }
                    next
                }
                _ => {
                    progress.note(&format!(
                        "paired: {} of {} benchmark(s) still undecided after {rounds} rounds; running another",
                        open.len(),
                        on_both.len()
                    ));
                    open.into_keys().collect()
                }
            };
            running = Some(next_running);
        }
        let round = rounds;
        let order = if round % 2 == 0 {
            [Side::Base, Side::Head]
        } else {
            [Side::Head, Side::Base]
        };
        let planned: usize = [&base_listed, &head_listed]
            .iter()
            .flat_map(|listed| listed.iter())
            .map(|(_, ids)| match &running {
                Some(r) => ids
                    .iter()
                    .filter(|id| r.contains(&BenchId((*id).clone())))
                    .count(),
                None => ids.len(),
            })
            .sum();
        let bar = progress.bar(planned as u64, &format!("paired round {}", round + 1));
        for side in order {
            let listed = match side {
                Side::Base => &base_listed,
                Side::Head => &head_listed,
            };
            for (index, (exe, ids)) in listed.iter().enumerate() {
                let round_selection = match &running {
                    None => std::borrow::Cow::Borrowed(selection),
                    Some(open) => {
                        let mine: Vec<BenchId> = ids
                            .iter()
                            .map(|id| BenchId(id.clone()))
                            .filter(|id| open.contains(id))
                            .collect();
                        std::borrow::Cow::Owned(RunSelection {
                            filter: super::exact_filter(&mine),
                            ..selection.clone()
                        })
                    }
                };
                if ids.is_empty() || round_selection.filter.is_none() && running.is_some() {
                    continue;
                }
                let args = super::timing_args(&round_selection, round_args(exe));
                let home = scratch.path().join(format!("{side:?}-{round}-{index}"));
                let measured = runner.run(exe, &args, &home, &[], &bar)?;
                for (dir, result) in super::read_results(&home)? {
                    if let Some(window) = measured
                        .get(result.id.as_str())
                        .and_then(|m| m.interference)
                    {
                        windows.insert((side as u8, round, result.id.clone()), window);
                    }
                    if round == 0 {
                        dirs.entry(side as u8)
                            .or_default()
                            .push((index, dir, result.id.clone()));
                    }
                    results.entry((side as u8, round)).or_default().push(result);
                }
            }
        }
        bar.finish();
        rounds += 1;
    }

    let pooled = |side: Side| -> Vec<BenchResult> {
        let mut by_id: BTreeMap<BenchId, BenchResult> = BTreeMap::new();
        for round in 0..rounds {
            for result in results.get(&(side as u8, round)).into_iter().flatten() {
                by_id
                    .entry(result.id.clone())
                    .and_modify(|r| {
                        r.samples.extend(&result.samples);
                        r.peak_memory.extend(&result.peak_memory);
                    })
                    .or_insert_with(|| result.clone());
            }
        }
        by_id.into_values().collect()
    };
    phases.rounds = started.elapsed().as_secs_f64();
    let mut base_benches = pooled(Side::Base);
    let mut head_benches = pooled(Side::Head);
    let mark = Instant::now();
    if let Some(seconds) = selection.profile_time {
        super::note_unprofiled(&head_listed, progress);
        // Both sides profiled the same way, so differential flamegraphs
        // compare like with like.
        for (side, listed, benches) in [
            (Side::Base, &base_listed, &mut base_benches),
            (Side::Head, &head_listed, &mut head_benches),
        ] {
            let side_dirs = dirs.remove(&(side as u8)).unwrap_or_default();
            let tag = format!(" {side:?}").to_lowercase();
            let mut profiles = super::profile_pass(
                listed,
                &side_dirs,
                selection,
                seconds,
                scratch.path(),
                &tag,
                runner,
                progress,
            )?;
            for bench in benches.iter_mut() {
                bench.profile = profiles.remove(&bench.id);
            }
        }
    }
    phases.profiles = mark.elapsed().as_secs_f64();
    let mark = Instant::now();
    // Both sides' allocations, where the bench targets count them.
    for (side, listed, benches) in [
        (Side::Base, &base_listed, &mut base_benches),
        (Side::Head, &head_listed, &mut head_benches),
    ] {
        let tag = format!(" {side:?}").to_lowercase();
        let mut counts =
            super::allocations::allocation_pass(listed, scratch.path(), &tag, runner, progress)?;
        for bench in benches.iter_mut() {
            bench.allocations = counts.remove(&bench.id).unwrap_or_default();
        }
    }
    phases.allocations = mark.elapsed().as_secs_f64();
    let mut round_medians = BTreeMap::new();
    for bench in &head_benches {
        let medians = round_medians_of(&results, &windows, rounds, &bench.id);
        if !medians.is_empty() {
            round_medians.insert(bench.id.clone(), medians);
        }
    }
    let machine = machine::fingerprint(&head.dir);
    let record = |benches: Vec<BenchResult>, commit: Option<String>, dirty: bool| RunRecord {
        same_code: Default::default(),
        schema: RECORD_SCHEMA,
        commit,
        dirty,
        machine: machine.clone(),
        created: time::OffsetDateTime::now_utc(),
        shard: None,
        benches,
    };
    let mut head_record = record(head_benches, head_commit.0, head_commit.1);
    head_record.shard = shard;
    Ok(TimedPair {
        run: PairedRun {
            rounds,
            base: record(base_benches, Some(base_commit), false),
            head: head_record,
            round_medians,
            identical,
            same_code: executions.same_code,
            code_changed: executions.code_changed,
            same_code_unchecked: executions.unchecked,
            phases,
            instructions: Default::default(),
        },
        head_listed,
        base_listed,
        took: started.elapsed(),
    })
}

/// A timed paired run and the executables it timed (for the instruction
/// check, `count_changed`).
pub struct TimedPair {
    pub run: PairedRun,
    head_listed: super::Listed,
    base_listed: super::Listed,
    /// How long the rounds took.
    pub took: Duration,
}

/// The least time the instruction check may take, however short the rounds.
pub const MIN_COUNTING_TIME: Duration = Duration::from_secs(60);

impl TimedPair {
    /// The dual-measure check: count the instructions of `changed` (the
    /// benchmarks whose time changed, most important first) on both sides
    /// under callgrind, with the executables just timed, until the counting
    /// has taken as long as the rounds (at least `MIN_COUNTING_TIME`). The
    /// rest, and all of them without valgrind, are listed as not counted.
    pub fn count_changed(
        &mut self,
        changed: &[BenchId],
        scratch_in: &Project,
        progress: &Progress,
    ) -> Result<()> {
        let mut counted = crate::record::paired::CountedInstructions::default();
        if changed.is_empty() {
            return Ok(());
        }
        let mark = Instant::now();
        let not_counted = |counted: &mut crate::record::paired::CountedInstructions,
                           ids: &[BenchId],
                           why: &str| {
            for id in ids {
                counted.not_counted.insert(id.clone(), why.to_string());
            }
        };
        if super::callgrind::valgrind_version().is_err() {
            not_counted(
                &mut counted,
                changed,
                "valgrind is not installed, so a change in where the code sits (layout) cannot be told \
                 from a change in what it executes; install valgrind (`apt-get install valgrind`)",
            );
            self.run.instructions = counted;
            return Ok(());
        }
        let limit = self.took.max(MIN_COUNTING_TIME);
        let scratch = super::scratch_dir(scratch_in)?;
        let bar = progress.bar(
            changed.len() as u64,
            "counting instructions of changed benchmarks",
        );
        let started = Instant::now();
        for (n, id) in changed.iter().enumerate() {
            if started.elapsed() > limit {
                not_counted(
                    &mut counted,
                    &changed[n..],
                    &format!(
                        "the instruction check stops after {:.0} s (as long as the rounds took, at least {} s)",
                        limit.as_secs_f64(),
                        MIN_COUNTING_TIME.as_secs()
                    ),
                );
                break;
            }
            bar.working_on(id.as_str());
            let find = |listed: &super::Listed| {
                listed
                    .iter()
                    .find(|(_, ids)| ids.iter().any(|i| i == id.as_str()))
                    .map(|(exe, _)| exe.clone())
            };
            let (Some(base_exe), Some(head_exe)) =
                (find(&self.base_listed), find(&self.head_listed))
            else {
                continue;
            };
            let counts = super::count_one(
                &base_exe,
                id.as_str(),
                &scratch.path().join(format!("base-{n}")),
            )
            .and_then(|base| {
                super::count_one(
                    &head_exe,
                    id.as_str(),
                    &scratch.path().join(format!("head-{n}")),
                )
                .map(|head| (base, head))
            });
            match counts {
                Ok((base, head)) => {
                    counted.base.push(base);
                    counted.head.push(head);
                }
                Err(error) => {
                    not_counted(&mut counted, std::slice::from_ref(id), &error.to_string())
                }
            }
            bar.finished_one(id.as_str());
        }
        bar.finish();
        self.run.instructions = counted;
        self.run.phases.instruction_check = mark.elapsed().as_secs_f64();
        Ok(())
    }
}

/// Take the bench targets whose two sides compiled to identical machine code
/// (`machine_code`) out of the run: their benchmarks cannot differ by more
/// than noise, so they are not timed. Returns what is left to time and the
/// benchmarks set aside. A target whose executables cannot be read is timed.
fn set_aside_identical(
    head_listed: super::Listed,
    mut base_listed: super::Listed,
    progress: &Progress,
) -> (super::Listed, super::Listed, BTreeSet<BenchId>) {
    let mut identical = BTreeSet::new();
    let mut head_left = Vec::new();
    let mut targets = Vec::new();
    for (exe, ids) in head_listed {
        let twin = base_listed
            .iter()
            .position(|(base, base_ids)| base.target.is(&exe.target) && base_ids == &ids);
        let same = twin.map(|i| {
            super::machine_code::same_machine_code(&exe.path, &base_listed[i].0.path)
                .unwrap_or_else(|error| {
                    progress.note(&format!(
                        "bench target {}: could not compare the two sides' machine code ({error}); timing it",
                        exe.target.label()
                    ));
                    false
                })
        });
        match (twin, same) {
            (Some(i), Some(true)) => {
                base_listed.remove(i);
                identical.extend(ids.into_iter().map(BenchId));
                targets.push(exe.target.label());
            }
            _ => head_left.push((exe, ids)),
        }
    }
    if !targets.is_empty() {
        progress.note(&format!(
            "paired: bench target(s) {} compiled to identical machine code on both sides: {} benchmark(s) not timed",
            targets.join(", "),
            identical.len()
        ));
    }
    (head_left, base_listed, identical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn project(dir: &Path) -> Project {
        Project {
            manifest_path: dir.join("Cargo.toml"),
            dir: dir.to_path_buf(),
            target_dir: dir.join("target"),
            build_dir: dir.to_path_buf(),
            name: "p".into(),
            bench_targets: Vec::new(),
        }
    }

    fn write_at(path: &Path, when: SystemTime) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn modified(path: &Path) -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    }

    #[test]
    fn a_cold_base_target_starts_from_the_heads_units_and_its_sources_look_changed() {
        let root = tempfile::tempdir().unwrap();
        let (head, base) = (
            project(&root.path().join("h")),
            project(&root.path().join("b")),
        );
        let built = SystemTime::now() - Duration::from_secs(3600);
        let release = head.target_dir.join("release");
        for unit in [
            ".fingerprint/dep-1/lib-dep",
            "deps/libdep-1.rlib",
            "build/dep-2/output",
        ] {
            write_at(&release.join(unit), built);
        }
        write_at(&release.join("bench-exe"), built);
        // The checkout was exported before the head was built.
        write_at(
            &base.dir.join("src/lib.rs"),
            built - Duration::from_secs(60),
        );

        assert!(seed_base_target(&head, &base, &base.dir).unwrap());
        let seeded = base.target_dir.join("release");
        for unit in [
            ".fingerprint/dep-1/lib-dep",
            "deps/libdep-1.rlib",
            "build/dep-2/output",
        ] {
            assert_eq!(modified(&seeded.join(unit)), built, "{unit} keeps its time");
        }
        assert!(
            !seeded.join("bench-exe").exists(),
            "uplifted files are not units"
        );
        assert!(
            modified(&base.dir.join("src/lib.rs")) > built,
            "the base's sources are newer than every copied build"
        );
        // Once the base has a target of its own, it is never seeded again.
        assert!(!seed_base_target(&head, &base, &base.dir).unwrap());
        // Nor from a head that has not been built.
        let cold = project(&root.path().join("c"));
        assert!(!seed_base_target(&cold, &project(&root.path().join("d")), &base.dir).unwrap());
    }
}
