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
pub mod command_build;
pub mod counting;
pub mod criterion_output;
pub mod divan;
pub mod executed;
pub mod fingerprint;
pub mod interference;
pub mod machine;
pub mod machine_code;
pub mod paired;
pub mod profiling;
pub mod rounds;
pub mod runner;
pub mod rustc_wrapper;
pub mod same_code;
pub mod shard;
pub mod two_builds;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::record::interference::Interference;
use crate::record::{BenchId, BenchResult, RECORD_SCHEMA, RunRecord};

use crate::progress::Progress;
use cargo::{BenchExecutable, Project};
use runner::Runner;

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
            let (listed, filter) = shard::keep_timed(listed, timed, progress)?;
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
            let (listed, filter, info) = shard::apply_shard(listed, plan, progress)?;
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
            counting::count_instructions(project, &listed, selection, runner, progress)?,
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
        profiling::note_unprofiled(listed, progress);
        let mut profiles = profiling::profile_pass(
            listed,
            &dirs,
            selection,
            seconds,
            (scratch.path(), ""),
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

fn home_label(project: &Project) -> std::path::PathBuf {
    project.target_dir.join("flamegate")
}

fn ensure_dir(dir: &Path) -> Result<&Path> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(dir)
}

/// How one benchmark's run in a bench process went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Wall-clock seconds from its first progress line to its last.
    pub seconds: Option<f64>,
    /// Its measurement window's interference, where /proc could tell.
    pub interference: Option<Interference>,
}

/// The last `n` lines of `text`: what a failed process's error shows.
pub(crate) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
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
}
