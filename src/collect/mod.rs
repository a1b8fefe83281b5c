//! Collect: run the project's criterion benchmarks and read their raw samples.
//!
//! Takes the project (from `cargo metadata`), builds the selected bench
//! targets, runs each executable with its own fresh `CRITERION_HOME` (so no
//! leftover criterion baseline can leak in), and hands on the benchmarks'
//! `BenchResult`s plus the machine fingerprint, assembled into a `RunRecord`.

pub mod allocations;
pub mod callgrind;
pub mod cargo;
pub mod command;
pub mod criterion_output;
pub mod divan;
pub mod executed;
pub mod fingerprint;
pub mod interference;
pub mod machine;
pub mod machine_code;
pub mod paired;
pub mod rounds;
pub mod runner;
pub mod rustc_wrapper;
pub mod same_code;
pub mod shard;
pub mod two_builds;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::record::{BenchId, BenchResult, RECORD_SCHEMA, RunRecord};

use crate::progress::Progress;
use cargo::{BenchExecutable, Project};
use runner::{Measured, Runner};

/// What a run measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Measure {
    /// Wall-clock time per iteration (criterion's timing).
    #[default]
    Time,
    /// Instructions per iteration under valgrind's callgrind: exact, immune
    /// to noisy machines, blind to cache and IPC effects.
    Instructions,
}

impl Measure {
    /// The suite whose baseline holds this kind of measurement: instruction
    /// counts live in `baselines/<suite>.instructions.json`.
    pub fn suite(self, suite: &str) -> String {
        match self {
            Measure::Time => suite.to_string(),
            Measure::Instructions => format!("{suite}.instructions"),
        }
    }
}

/// Whether a run in time first looks at what each benchmark executes
/// (`same_code`): to keep it in the record (`baseline update`), or also to
/// leave untimed the benchmarks that execute what a stored record says.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ExecutedCheck {
    #[default]
    Off,
    Record,
    Against(BTreeMap<BenchId, executed::Recorded>),
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunSelection {
    /// Bench target names; empty means every bench target.
    pub benches: Vec<String>,
    /// Workspace packages whose bench targets run (`--package`); empty:
    /// the ones cargo builds by default.
    pub packages: Vec<String>,
    /// `[[command]]` entries of flamegate.toml: whole programs timed as
    /// benchmarks (`command/<name>`); left out when `--bench` or
    /// `--package` names bench targets.
    pub commands: Vec<crate::record::command::CommandSpec>,
    /// criterion's benchmark filter (a regular expression over ids).
    pub filter: Option<String>,
    /// Extra criterion arguments, e.g. `--measurement-time 2`.
    pub criterion_args: Vec<String>,
    /// Seconds of pprof sampling per benchmark in the profiling pass; None
    /// skips the pass.
    pub profile_time: Option<f64>,
    /// Run only one shard of the suite.
    pub shard: Option<shard::ShardPlan>,
    /// Time (criterion) or instructions (callgrind).
    pub measure: Measure,
    /// Paired runs: time bench targets even when both sides compiled to
    /// identical machine code (an A/A run of this machine's noise).
    pub time_identical: bool,
    /// Paired runs: time benchmarks even when both sides executed the same
    /// code (`same_code`).
    pub time_same_code: bool,
    /// Runs in time: whether to look at what each benchmark executed first.
    pub executed: ExecutedCheck,
    /// Paired runs in time: count the instructions of the benchmarks whose
    /// time changed, on both sides (the dual-measure check).
    pub check_instructions: bool,
    /// Time only these of the listed ids and name the others (the pre-push
    /// hook: the stored baseline's benchmarks). None times every listed id.
    pub timed_ids: Option<std::collections::BTreeSet<BenchId>>,
}

/// Default seconds of sampling per benchmark: at the ~250 Hz the kernel
/// allows, a few hundred samples.
pub const DEFAULT_PROFILE_SECONDS: f64 = 3.0;

/// Compiler flags for the workspace's own crates in the one build both
/// passes use: full debug info gives the profiler qualified names of
/// inlined frames (line tables alone name them `work`, `iter<...>`), kept
/// in the bench executable (cargo's release profile strips debug info it
/// did not ask for); code generation is unchanged. Only the workspace's
/// crates (through `rustc_wrapper`): dependencies build exactly as
/// `cargo bench` builds them, so flamegate reuses the user's compiled
/// dependencies and the user's `cargo bench` reuses flamegate's.
const WORKSPACE_BUILD_FLAGS: [&str; 2] = ["-Cdebuginfo=2", "-Cstrip=none"];

/// Flags that would make criterion do something other than a timing run.
const FORBIDDEN_ARGS: &[&str] = &[
    "--list",
    "--test",
    "--profile-time",
    "--save-baseline",
    "--baseline",
    "--load-baseline",
];

/// Check the selection, build the selected bench targets and list the
/// benchmark ids each executable defines (at least one in all).
pub fn build_and_list(
    project: &Project,
    selection: &RunSelection,
    workspace_flags: &[String],
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<Vec<(BenchExecutable, Vec<String>)>> {
    if let Some(bad) = selection
        .criterion_args
        .iter()
        .find(|a| FORBIDDEN_ARGS.contains(&a.split('=').next().unwrap_or("")))
    {
        return Err(Error::Usage(format!(
            "criterion argument `{bad}` cannot be passed through: flamegate runs the timing pass itself and keeps its own baselines"
        )));
    }
    let commands = selected_commands(selection);
    // A project measured by its commands alone needs no bench target.
    let targets = if commands.is_empty() || !project.bench_targets.is_empty() {
        project.select(&selection.benches, &selection.packages)?
    } else {
        Vec::new()
    };
    progress.note(&format!(
        "building {} bench target(s){} of {}",
        targets.len(),
        match commands.len() {
            0 => String::new(),
            n => format!(" and the binaries of {n} command(s)"),
        },
        project.name
    ));
    let flags: Vec<String> = WORKSPACE_BUILD_FLAGS
        .iter()
        .map(|flag| flag.to_string())
        .chain(workspace_flags.iter().cloned())
        .collect();
    let build_env = rustc_wrapper::build_env(&flags)?;
    let mut executables = if targets.is_empty() {
        Vec::new()
    } else {
        runner.build(project, &targets, &build_env)?
    };
    if !commands.is_empty() {
        executables.extend(runner.build_commands(project, commands, &build_env)?);
    }
    let mut listed = Vec::new();
    // A target with another harness beside criterion targets is skipped and
    // named; alone, it is the error (never a silent empty run).
    let mut not_criterion = Vec::new();
    for exe in executables {
        match runner.list(&exe, selection.filter.as_deref()) {
            Ok(ids) => listed.push((exe, ids)),
            Err(error @ Error::NotCriterion { .. }) => not_criterion.push(error),
            Err(error) => return Err(error),
        }
    }
    if listed.iter().all(|(_, ids)| ids.is_empty()) {
        if let Some(error) = not_criterion.into_iter().next() {
            return Err(error);
        }
        return Err(Error::Usage(match &selection.filter {
            Some(f) => format!(
                "the filter `{f}` matched no benchmark; `flamegate list` (without --filter) shows the ids"
            ),
            None => "the bench targets define no criterion benchmarks".into(),
        }));
    }
    for error in &not_criterion {
        progress.note(&format!("skipped, not measured: {error}"));
    }
    refuse_shared_ids(&listed)?;
    Ok(listed)
}

/// The `[[command]]` entries a selection runs: all of them, unless
/// `--bench` or `--package` asked for bench targets.
fn selected_commands(selection: &RunSelection) -> &[crate::record::command::CommandSpec] {
    if selection.benches.is_empty() && selection.packages.is_empty() {
        &selection.commands
    } else {
        &[]
    }
}

/// Results are keyed by benchmark id, so two bench targets that define the
/// same id (two workspace members each with a `parse` benchmark) would be
/// mixed into one: refuse, naming both.
fn refuse_shared_ids(listed: &Listed) -> Result<()> {
    let mut first: BTreeMap<&str, &BenchExecutable> = BTreeMap::new();
    for (exe, ids) in listed {
        for id in ids {
            if let Some(other) = first.insert(id, exe) {
                return Err(Error::Usage(format!(
                    "benchmark id `{id}` is defined by bench target {} and by bench target {}; \
                     flamegate keys results by id, so ids must be unique in a suite: rename one \
                     (e.g. a criterion group named after its crate), or run one with --package or \
                     --bench",
                    other.target.label(),
                    exe.target.label()
                )));
            }
        }
    }
    Ok(())
}

/// Each bench executable with the benchmark ids it runs.
pub type Listed = Vec<(BenchExecutable, Vec<String>)>;

/// Build the selected bench targets and list their benchmark ids (after
/// `--bench`, `--package` and `--filter`): each bench target's label
/// (`BenchTarget::label`) and ids (`flamegate list`).
pub fn list(
    project: &Project,
    selection: &RunSelection,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<Vec<(String, Vec<String>)>> {
    Ok(build_and_list(project, selection, &[], runner, progress)?
        .into_iter()
        .map(|(exe, ids)| (exe.target.label(), ids))
        .collect())
}

/// The listed ids `keep` keeps, each with its executable, and the others.
fn restrict(listed: Listed, keep: impl Fn(&BenchId) -> bool) -> (Listed, Vec<String>) {
    let mut left_out = Vec::new();
    let listed = listed
        .into_iter()
        .map(|(exe, ids)| {
            let (kept, other): (Vec<String>, Vec<String>) =
                ids.into_iter().partition(|id| keep(&BenchId(id.clone())));
            left_out.extend(other);
            (exe, kept)
        })
        .collect();
    (listed, left_out)
}

/// A criterion filter that selects exactly `ids` (criterion matches its
/// filter as a regular expression against each full id).
pub fn exact_filter<'a>(ids: impl IntoIterator<Item = &'a BenchId>) -> Option<String> {
    let alternatives: Vec<String> = ids
        .into_iter()
        .map(|id| regex::escape(id.as_str()))
        .collect();
    (!alternatives.is_empty()).then(|| format!("^(?:{})$", alternatives.join("|")))
}

/// The criterion filter that selects exactly the listed ids (one regular
/// expression over every executable's ids); None when none is listed.
fn filter_of(listed: &Listed) -> Option<String> {
    let ids: Vec<BenchId> = listed
        .iter()
        .flat_map(|(_, ids)| ids.iter().map(|id| BenchId(id.clone())))
        .collect();
    exact_filter(&ids)
}

/// `selection` narrowed to exactly the listed ids.
pub(crate) fn narrowed_to(selection: &RunSelection, listed: &Listed) -> RunSelection {
    RunSelection {
        filter: filter_of(listed),
        ..selection.clone()
    }
}

/// How many ids a note names before it says "and N more".
const NAMED_IN_A_NOTE: usize = 10;

/// Restrict the listed benchmarks to `timed`, naming the others, with the
/// criterion filter that selects exactly the ones kept.
fn keep_timed(
    listed: Listed,
    timed: &std::collections::BTreeSet<BenchId>,
    progress: &Progress,
) -> Result<(Listed, Option<String>)> {
    let (listed, left_out) = restrict(listed, |id| timed.contains(id));
    let Some(filter) = filter_of(&listed) else {
        return Err(Error::Usage(format!(
            "none of the {} benchmark(s) of the stored baseline is defined by the bench targets any more (renamed?); record a new baseline with `flamegate baseline update`",
            timed.len()
        )));
    };
    if !left_out.is_empty() {
        let mut named = left_out
            .iter()
            .take(NAMED_IN_A_NOTE)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if left_out.len() > NAMED_IN_A_NOTE {
            named.push_str(&format!(" and {} more", left_out.len() - NAMED_IN_A_NOTE));
        }
        progress.note(&format!(
            "not timed, without a stored baseline: {} benchmark(s): {named}",
            left_out.len()
        ));
    }
    Ok((listed, Some(filter)))
}

/// Restrict the listed benchmarks to one shard (see `shard`): the split is
/// made over every listed id, printed, and returned with the criterion
/// filter that selects exactly this shard's ids.
pub(crate) fn apply_shard(
    listed: Listed,
    plan: &shard::ShardPlan,
    progress: &Progress,
) -> Result<(Listed, Option<String>, crate::record::shard::ShardInfo)> {
    let (mut lists, filter, info) = shard_lists(vec![listed], plan, progress)?;
    Ok((lists.pop().expect("one list"), filter, info))
}

/// `apply_shard` over several listings at once (both sides of a paired
/// run): one split over the union of their ids.
pub(crate) fn shard_lists(
    lists: Vec<Listed>,
    plan: &shard::ShardPlan,
    progress: &Progress,
) -> Result<(Vec<Listed>, Option<String>, crate::record::shard::ShardInfo)> {
    let all: Vec<BenchId> = lists
        .iter()
        .flatten()
        .flat_map(|(_, ids)| ids.iter().map(|id| BenchId(id.clone())))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (assignment, split) = shard::split(&all, &plan.balance, plan.spec.count);
    let info = crate::record::shard::ShardInfo {
        spec: plan.spec,
        suite: plan.suite.clone(),
        assignment,
        split,
    };
    let mine: Vec<&BenchId> = info.ids().collect();
    let estimate = match (&plan.balance, split) {
        (shard::Balance::Durations(durations), crate::record::shard::SplitMethod::Durations) => {
            let seconds: f64 = mine.iter().filter_map(|id| durations.get(*id)).sum();
            format!(", about {seconds:.0}s of timing")
        }
        _ => String::new(),
    };
    progress.note(&format!(
        "shard {}: {} of {} benchmarks ({}){estimate}",
        plan.spec,
        mine.len(),
        all.len(),
        split.describe(),
    ));
    for id in &mine {
        progress.note(&format!("  shard {}: {id}", plan.spec));
    }
    let filter = exact_filter(mine.iter().copied());
    let lists = lists
        .into_iter()
        .map(|listed| {
            restrict(listed, |id| {
                info.assignment.get(id) == Some(&plan.spec.index)
            })
            .0
        })
        .collect();
    Ok((lists, filter, info))
}

/// criterion's arguments for a timing run: the filter, `--noplot`, then
/// the user's arguments (or `defaults` when there are none).
pub(crate) fn timing_args(selection: &RunSelection, defaults: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = selection.filter.iter().cloned().collect();
    if !selection.criterion_args.iter().any(|a| a == "--noplot") {
        args.push("--noplot".into());
    }
    if selection.criterion_args.is_empty() {
        args.extend(defaults.iter().map(|a| a.to_string()));
    } else {
        args.extend(selection.criterion_args.iter().cloned());
    }
    args
}

/// Every benchmark a bench process left in `home`, with its folder there:
/// criterion's output, or a divan run's results (no folder).
pub(crate) fn read_results(home: &Path) -> Result<Vec<(PathBuf, BenchResult)>> {
    let mut written = Vec::new();
    for file in [divan::RESULTS_FILE, command::RESULTS_FILE] {
        written.extend(read_results_file(home, file)?);
    }
    if written.is_empty() {
        return criterion_output::read_criterion_dirs(home);
    }
    Ok(written.into_iter().map(|r| (PathBuf::new(), r)).collect())
}

/// The last `n` lines of `text`: what a failed process's error shows.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Leave `results` in `home` as `file`, for `read_results`: what a harness
/// that writes no files of its own (divan, commands) measured.
pub(crate) fn write_results(home: &Path, file: &str, results: &[BenchResult]) -> Result<()> {
    std::fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
    let path = home.join(file);
    let json = serde_json::to_vec(results).expect("results serialize");
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))
}

/// The results `write_results` left in `home` as `file` (none when it left
/// none there).
fn read_results_file(home: &Path, file: &str) -> Result<Vec<BenchResult>> {
    let path = home.join(file);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Say which bench targets the profiling pass leaves out, and why: their
/// criterion has no flamegate hook, or their config installs no profiler.
pub(crate) fn note_unprofiled(listed: &[(BenchExecutable, Vec<String>)], progress: &Progress) {
    let commands: Vec<&str> = listed
        .iter()
        .filter(|(exe, _)| exe.is_command() && !exe.profiles_itself())
        .flat_map(|(_, ids)| ids.iter().map(String::as_str))
        .collect();
    if !commands.is_empty() {
        progress.note(&format!(
            "not profiled: command(s) {}: their program does not sample itself, so they get timing \
             verdicts without flamegraphs (`let _profile = flamegate_sampler::profile_command();` first in \
             its `main` does, with the crate flamegate-sampler as a dependency)",
            commands.join(", ")
        ));
    }
    let no_hook: Vec<String> = listed
        .iter()
        .filter(|(exe, ids)| !ids.is_empty() && !exe.fits_profiler_hook() && !exe.is_command())
        .map(|(exe, _)| match (&exe.criterion, &exe.divan) {
            (Some(version), _) => format!("{} (criterion {version})", exe.target.label()),
            (None, Some(version)) => format!("{} (divan {version})", exe.target.label()),
            (None, None) => exe.target.label(),
        })
        .collect();
    let no_profiler: Vec<String> = listed
        .iter()
        .filter(|(exe, ids)| !ids.is_empty() && exe.fits_profiler_hook())
        .filter(|(exe, _)| !exe.installs_a_profiler())
        .map(|(exe, _)| exe.target.label())
        .collect();
    if !no_profiler.is_empty() {
        progress.note(&format!(
            "not profiled: bench target(s) {}: no profiler installed in their criterion config \
             (`config = flamegate_hook::criterion()` in `criterion_group!` installs flamegate's), so they \
             get timing verdicts without flamegraphs",
            no_profiler.join(", ")
        ));
    }
    if !no_hook.is_empty() {
        progress.note(&format!(
            "not profiled: bench target(s) {}: flamegate's profiler hooks plug into criterion {}, so \
             they get timing verdicts without flamegraphs",
            no_hook.join(", "),
            crate::profile::CRITERION_VERSIONS
                .iter()
                .map(|(major, minor)| format!("{major}.{minor}"))
                .collect::<Vec<_>>()
                .join(" and "),
        ));
    }
}

/// The profiling pass, separate from timing so sampling never distorts it:
/// each executable once in criterion's `--profile-time` mode; the profiles
/// of the benchmarks in `dirs` (executable index, criterion directory, id)
/// folded. Benchmarks without the hook have no profile.
#[allow(clippy::too_many_arguments)]
pub(crate) fn profile_pass(
    listed: &[(BenchExecutable, Vec<String>)],
    dirs: &[(usize, PathBuf, BenchId)],
    selection: &RunSelection,
    seconds: f64,
    scratch: &Path,
    tag: &str,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<std::collections::BTreeMap<BenchId, crate::record::FoldedStacks>> {
    let profiled: Vec<bool> = listed
        .iter()
        .map(|(exe, ids)| {
            !ids.is_empty()
                && (exe.profiles_itself() || exe.fits_profiler_hook() && exe.installs_a_profiler())
        })
        .collect();
    let total: usize = listed
        .iter()
        .zip(&profiled)
        .filter(|(_, profiled)| **profiled)
        .map(|((_, ids), _)| ids.len())
        .sum();
    let bar = progress.bar(total as u64, &format!("profiling{tag}"));
    let mut args: Vec<String> = selection.filter.iter().cloned().collect();
    args.extend(["--profile-time".to_string(), seconds.to_string()]);
    let mut profiles = std::collections::BTreeMap::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        if !profiled[index] {
            continue;
        }
        let home = scratch.join(format!("profile{tag}-{index}"));
        if exe.is_command() {
            for (n, id) in ids.iter().enumerate() {
                bar.working_on(id);
                let stacks = command::profile(exe, id, seconds, &home.join(n.to_string()))?;
                if !stacks.is_empty() {
                    profiles.insert(BenchId(id.clone()), stacks);
                }
                bar.finished_one(id);
            }
            continue;
        }
        // Each benchmark profiles for `seconds`, after criterion's set-up:
        // a minute each on top is far beyond any that works.
        let limit = runner::Limit::of(
            "the profiling pass",
            std::time::Duration::from_secs_f64((seconds + 60.0) * ids.len() as f64),
            None,
        );
        runner.run_limited(exe, &args, &home, &[], &bar, &limit)?;
        for (_, dir, id) in dirs.iter().filter(|(i, _, _)| *i == index) {
            let file = home
                .join(dir)
                .join("profile")
                .join(flamegate_sampler::PROFILE_FILE);
            if file.exists() {
                let stacks = crate::profile::fold::fold_file(
                    &file,
                    crate::profile::fold::Sampled::Benchmark,
                )?;
                if !stacks.is_empty() {
                    profiles.insert(id.clone(), stacks);
                }
            }
        }
    }
    bar.finish();
    Ok(profiles)
}

/// A scratch directory for criterion's output, under the target dir.
pub(crate) fn scratch_dir(project: &Project) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("flamegate-criterion-")
        .tempdir_in(ensure_dir(&project.target_dir.join("flamegate"))?)
        .map_err(|e| Error::io(&project.target_dir, e))
}

/// Build and run the selected benchmarks of `project`; return the run's record.
pub fn run(
    project: &Project,
    selection: &RunSelection,
    workspace_flags: &[String],
    commit: Option<String>,
    dirty: bool,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<RunRecord> {
    // Fail before minutes of building when valgrind is missing.
    let valgrind = match selection.measure {
        Measure::Instructions => Some(callgrind::valgrind_version()?),
        Measure::Time => None,
    };
    let listed = build_and_list(project, selection, workspace_flags, runner, progress)?;
    let (listed, selection) = match &selection.timed_ids {
        Some(timed) => {
            let (listed, filter) = keep_timed(listed, timed, progress)?;
            let selection = RunSelection {
                filter,
                ..selection.clone()
            };
            (listed, std::borrow::Cow::Owned(selection))
        }
        None => (listed, std::borrow::Cow::Borrowed(selection)),
    };
    let selection = selection.as_ref();
    let (listed, selection, shard) = match &selection.shard {
        Some(plan) => {
            let (listed, filter, info) = apply_shard(listed, plan, progress)?;
            let selection = RunSelection {
                filter,
                ..selection.clone()
            };
            (listed, std::borrow::Cow::Owned(selection), Some(info))
        }
        None => (listed, std::borrow::Cow::Borrowed(selection), None),
    };
    let selection = selection.as_ref();
    let mut machine = machine::fingerprint(&project.dir);
    machine.valgrind = valgrind;
    let (mut benches, same_code) = match selection.measure {
        Measure::Instructions => (
            count_instructions(project, &listed, selection, runner, progress)?,
            BTreeSet::new(),
        ),
        Measure::Time => {
            let (listed, executed, same_code) =
                same_code::against_record(project, listed, selection, progress)?;
            let narrowed;
            let selection = if same_code.is_empty() {
                selection
            } else {
                narrowed = narrowed_to(selection, &listed);
                &narrowed
            };
            let mut benches = time_benchmarks(project, &listed, selection, runner, progress)?;
            for bench in &mut benches {
                if let Some(seen) = executed.get(&bench.id) {
                    bench.executed = Some(seen.digest.clone());
                    bench.executed_data_cycles = seen.data_cycles;
                }
            }
            (benches, same_code)
        }
    };
    benches.sort_by(|a, b| a.id.cmp(&b.id));
    let record = RunRecord {
        same_code,
        schema: RECORD_SCHEMA,
        commit,
        dirty,
        machine,
        created: time::OffsetDateTime::now_utc(),
        shard,
        benches,
    };
    record.validate(&crate::error::RecordSource::File(home_label(project)))?;
    Ok(record)
}

/// The timing pass over the listed benchmarks, then the profiling pass.
fn time_benchmarks(
    project: &Project,
    listed: &Listed,
    selection: &RunSelection,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<Vec<BenchResult>> {
    let total: usize = listed.iter().map(|(_, ids)| ids.len()).sum();
    let bar = progress.bar(total as u64, "benchmarking");
    let scratch = scratch_dir(project)?;
    let timing_args = timing_args(selection, &[]);
    let mut measured: Vec<(usize, PathBuf, BenchResult)> = Vec::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        if ids.is_empty() {
            continue;
        }
        let home = scratch.path().join(format!("timing-{index}"));
        let seconds = runner.run(exe, &timing_args, &home, &[], &bar)?;
        let mut results = read_results(&home)?;
        for (_, result) in &mut results {
            result.seconds = seconds.get(result.id.as_str()).and_then(|m| m.seconds);
        }
        for id in ids {
            if !results.iter().any(|(_, r)| r.id.as_str() == id) {
                return Err(Error::CriterionLayout {
                    path: home.clone(),
                    problem: format!("benchmark `{id}` was listed but wrote no results"),
                });
            }
        }
        measured.extend(results.into_iter().map(|(dir, r)| (index, dir, r)));
    }
    bar.finish();

    if let Some(seconds) = selection.profile_time {
        let dirs: Vec<(usize, PathBuf, BenchId)> = measured
            .iter()
            .map(|(index, dir, result)| (*index, dir.clone(), result.id.clone()))
            .collect();
        note_unprofiled(listed, progress);
        let mut profiles = profile_pass(
            listed,
            &dirs,
            selection,
            seconds,
            scratch.path(),
            "",
            runner,
            progress,
        )?;
        for (_, _, result) in &mut measured {
            result.profile = profiles.remove(&result.id);
        }
    }
    let mut counts = allocations::allocation_pass(listed, scratch.path(), "", runner, progress)?;
    for (_, _, result) in &mut measured {
        result.allocations = counts.remove(&result.id).unwrap_or_default();
    }
    Ok(measured.into_iter().map(|(_, _, r)| r).collect())
}

/// Each listed benchmark `callgrind::REPEATS` times under callgrind
/// (instruction mode): identical counts for deterministic code; where they
/// differ (a randomly seeded `HashMap`), the spread is the benchmark's own
/// A/A jitter, which the comparison then allows for. Then the allocation
/// pass, as in time mode: heap counts do not depend on how time is measured.
fn count_instructions(
    project: &Project,
    listed: &Listed,
    selection: &RunSelection,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<Vec<BenchResult>> {
    let total: usize = listed.iter().map(|(_, ids)| ids.len()).sum();
    let bar = progress.bar(total as u64, "counting instructions");
    let scratch = scratch_dir(project)?;
    let mut benches = Vec::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        for (n, id) in ids.iter().enumerate() {
            bar.working_on(id);
            let out = scratch.path().join(format!("callgrind-{index}-{n}"));
            benches.push(count_one(exe, id, &out)?);
            bar.finished_one(id);
        }
    }
    bar.finish();
    let mut inputs = declared_inputs(listed, selection, scratch.path(), runner, progress)?;
    let mut counts = allocations::allocation_pass(listed, scratch.path(), "", runner, progress)?;
    for result in &mut benches {
        result.throughput = inputs.remove(&result.id);
        result.allocations = counts.remove(&result.id).unwrap_or_default();
    }
    Ok(benches)
}

/// The input each benchmark declares (criterion's `Throughput`), so that
/// counts are compared per unit of input as times are. criterion writes it
/// down only when it measures, so each executable runs once with the
/// shortest windows it accepts (criterion before 0.4: whole seconds).
fn declared_inputs(
    listed: &Listed,
    selection: &RunSelection,
    scratch: &Path,
    runner: &dyn Runner,
    progress: &Progress,
) -> Result<std::collections::BTreeMap<BenchId, crate::record::Throughput>> {
    let total: usize = listed.iter().map(|(_, ids)| ids.len()).sum();
    let bar = progress.bar(total as u64, "reading declared inputs");
    let mut inputs = std::collections::BTreeMap::new();
    for (index, (exe, ids)) in listed.iter().enumerate() {
        if ids.is_empty() {
            continue;
        }
        let seconds = if exe.takes_whole_seconds() {
            "1"
        } else {
            "0.01"
        };
        let mut args: Vec<String> = selection.filter.iter().cloned().collect();
        args.extend(
            [
                "--noplot",
                "--warm-up-time",
                seconds,
                "--measurement-time",
                seconds,
                "--sample-size",
                "10",
            ]
            .map(String::from),
        );
        let home = scratch.join(format!("inputs-{index}"));
        runner.run(exe, &args, &home, &[], &bar)?;
        for (_, result) in read_results(&home)? {
            if let Some(throughput) = result.throughput {
                inputs.insert(result.id, throughput);
            }
        }
    }
    bar.finish();
    Ok(inputs)
}

/// One benchmark `callgrind::REPEATS` times under callgrind, callgrind's
/// output in files named from `out` (a path prefix).
pub fn count_one(exe: &BenchExecutable, id: &str, out: &Path) -> Result<BenchResult> {
    let mut counts = Vec::new();
    let mut first_out = None;
    let mut simulated = None;
    for repeat in 0..callgrind::REPEATS {
        let out = out.with_file_name(format!(
            "{}-{repeat}.out",
            out.file_name().unwrap_or_default().to_string_lossy()
        ));
        // The cache and branch simulation (advisory, slower) once.
        let (count, estimates) = callgrind::count(exe, id, &out, repeat == 0)?;
        counts.push(count as f64);
        simulated = simulated.or(estimates);
        first_out.get_or_insert(out);
    }
    // Per-function costs from one of the repeats: the others differ at most
    // by their jitter, and annotating is the slow part.
    let functions = match &first_out {
        Some(out) => Some(callgrind::functions(out)?),
        None => None,
    };
    Ok(BenchResult {
        executed: None,
        executed_data_cycles: None,
        peak_memory: Vec::new(),
        id: BenchId(id.to_string()),
        group: id.split('/').next().unwrap_or(id).to_string(),
        function: None,
        parameter: None,
        unit: crate::record::SampleUnit::Instructions,
        samples: counts,
        throughput: None,
        profile: None,
        seconds: None,
        functions,
        simulated,
        allocations: Vec::new(),
    })
}

fn home_label(project: &Project) -> std::path::PathBuf {
    project.target_dir.join("flamegate")
}

fn ensure_dir(dir: &Path) -> Result<&Path> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(dir)
}

/// The benchmark ids an executable defines (criterion's `--list`).
pub fn list_benchmarks(exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>> {
    if exe.is_command() {
        return command::list(exe, filter);
    }
    if exe.is_divan() {
        return divan::list(exe, filter);
    }
    let mut command = bench_command(exe);
    command.arg("--list");
    if let Some(filter) = filter {
        command.arg(filter);
    }
    let output = command.output().map_err(|e| Error::io(&exe.path, e))?;
    if !output.status.success() {
        return Err(Error::BenchFailed {
            exe: exe.path.clone(),
            status: output.status.to_string(),
            output_tail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<String> = stdout
        .lines()
        .filter_map(listed_id)
        .map(str::to_string)
        .collect();
    // Without a filter, a criterion target lists at least one benchmark;
    // nothing recognisable means another harness, which flamegate cannot
    // time (and must not run blind).
    if ids.is_empty() && filter.is_none() {
        let said: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(3)
            .collect();
        return Err(Error::NotCriterion {
            target: exe.target.name.clone(),
            printed: if said.is_empty() {
                "it printed nothing".to_string()
            } else {
                format!("it printed: {}", said.join(" | "))
            },
            divan: exe.divan.as_ref().map(ToString::to_string),
        });
    }
    Ok(ids)
}

/// The id in one line of criterion's `--list` output: `<id>: benchmark`
/// (criterion 0.5 to 0.8) or `<id>: bench` (0.3 and 0.4).
fn listed_id(line: &str) -> Option<&str> {
    line.strip_suffix(": benchmark")
        .or_else(|| line.strip_suffix(": bench"))
}

fn bench_command(exe: &BenchExecutable) -> Command {
    let mut command = Command::new(&exe.path);
    command
        .arg("--bench")
        .current_dir(&exe.target.package_dir)
        .env("CARGO_MANIFEST_DIR", &exe.target.package_dir)
        .env("CARGO_PKG_NAME", &exe.target.package)
        .stdin(Stdio::null());
    command
}

const OUTPUT_TAIL_LINES: usize = 40;

/// What criterion's "Benchmarking ID: STATUS" lines tell while a bench
/// executable runs: the benchmark it is on, when each started, and the
/// seconds each took (to "Analyzing", or "Complete" when profiling).
#[derive(Default)]
struct CriterionProgress {
    current: Option<String>,
    started: BTreeMap<String, std::time::Instant>,
    seconds: BTreeMap<String, f64>,
}

impl CriterionProgress {
    /// Follow one status line (`rest`: what follows "Benchmarking ").
    fn follow(
        &mut self,
        rest: &str,
        windows: &mut interference::Windows,
        bar: &crate::progress::Bar,
    ) {
        let parsed = rest.rsplit_once(": ");
        if let Some((id, status)) = parsed {
            self.current = Some(id.to_string());
            windows.status(id, status);
        }
        match parsed {
            // "Analyzing" ends a timing run, "Complete (...)" a profiling run.
            Some((id, status)) if status == "Analyzing" || status.starts_with("Complete") => {
                if let Some(start) = self.started.get(id) {
                    self.seconds
                        .insert(id.to_string(), start.elapsed().as_secs_f64());
                }
                bar.finished_one(id)
            }
            Some((id, _)) => {
                self.started
                    .entry(id.to_string())
                    .or_insert_with(std::time::Instant::now);
                bar.working_on(id)
            }
            None => bar.working_on(rest),
        }
    }
}

/// Run a bench executable, showing progress; returns the wall-clock seconds
/// each benchmark took (from its first progress line to "Analyzing").
pub(crate) fn run_executable(
    exe: &BenchExecutable,
    args: &[String],
    criterion_home: &Path,
    env: &[(String, String)],
    bar: &crate::progress::Bar,
    limit: Option<&runner::Limit>,
) -> Result<BTreeMap<String, Measured>> {
    if exe.is_command() {
        return command::run(exe, args, criterion_home, bar);
    }
    if exe.is_divan() {
        return divan::run(exe, args, criterion_home, bar);
    }
    let deadline = limit.map(|l| (std::time::Instant::now() + l.after, l));
    let mut command = bench_command(exe);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("CRITERION_HOME", criterion_home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| Error::io(&exe.path, e))?;
    let mut windows = interference::Windows::of(child.id());
    // criterion reports progress as "Benchmarking ID: STATUS" lines, on
    // stderr while timing and on stdout while profiling: read both.
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let readers = [
        forward_lines(Box::new(stdout), lines.clone()),
        forward_lines(Box::new(stderr), lines),
    ];
    let mut tail = VecDeque::new();
    let mut progress = CriterionProgress::default();
    loop {
        let line = match deadline {
            None => match received.recv() {
                Ok(line) => line,
                Err(_) => break,
            },
            Some((deadline, limit)) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match received.recv_timeout(left) {
                    Ok(line) => line,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(Error::BenchTimedOut {
                            exe: exe.path.clone(),
                            pass: limit.pass,
                            benchmark: limit
                                .benchmark
                                .clone()
                                .or(progress.current)
                                .unwrap_or_else(|| "(none started)".into()),
                            seconds: limit.after.as_secs_f64(),
                        });
                    }
                }
            }
        };
        if let Some(rest) = line.strip_prefix("Benchmarking ") {
            progress.follow(rest, &mut windows, bar);
        }
        push_tail(&mut tail, line);
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait().map_err(|e| Error::io(&exe.path, e))?;
    if !status.success() {
        return Err(Error::BenchFailed {
            exe: exe.path.clone(),
            status: status.to_string(),
            output_tail: Vec::from(tail).join("\n"),
        });
    }
    let mut measured: BTreeMap<String, Measured> = progress
        .seconds
        .into_iter()
        .map(|(id, s)| {
            let m = Measured {
                seconds: Some(s),
                interference: None,
            };
            (id, m)
        })
        .collect();
    for (id, window) in windows.closed {
        measured.entry(id).or_default().interference = Some(window);
    }
    Ok(measured)
}

/// Send each line of `reader` to `lines` until it closes.
fn forward_lines(
    reader: Box<dyn Read + Send>,
    lines: std::sync::mpsc::Sender<String>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    })
}

fn push_tail(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == OUTPUT_TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_matches_exactly_the_ids() {
        let ids = vec![BenchId("a/b(1)".into()), BenchId("c.d".into())];
        let filter = exact_filter(&ids).unwrap();
        let re = regex::Regex::new(&filter).unwrap();
        assert!(re.is_match("a/b(1)") && re.is_match("c.d"));
        assert!(!re.is_match("a/b(1)x") && !re.is_match("cxd") && !re.is_match("xc.d"));
    }

    #[test]
    fn list_lines_of_every_criterion_version_give_their_ids() {
        // 0.5 to 0.8
        assert_eq!(
            listed_id("sum/range/1000: benchmark"),
            Some("sum/range/1000")
        );
        // 0.3 and 0.4
        assert_eq!(listed_id("sum/range/1000: bench"), Some("sum/range/1000"));
        assert_eq!(listed_id("a: bench: benchmark"), Some("a: bench"));
        for other in [
            "",
            "running 3 tests",
            "sum/range/1000: test",
            "Gnuplot not found",
        ] {
            assert_eq!(listed_id(other), None, "{other:?}");
        }
    }
}
