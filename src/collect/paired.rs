//! Paired runs: base and head built side by side and run in alternating
//! rounds in the same job (docs/statistics.md rule a).
//!
//! Takes the head project and the base project (a checkout of the base
//! commit); hands on a `PairedRun`: each side's samples pooled over rounds,
//! and each benchmark's per-round medians for both sides.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::record::paired::{PairedRun, PhaseTimes};
use crate::record::shard::ShardInfo;
use crate::record::{BenchId, BenchResult, RECORD_SCHEMA, RunRecord};

use super::rounds::{BothSides, RoundPlan, Rounds, Side, StopRule, note_whole_second_rounds};
use super::{Progress, Project, RunSelection, build_and_list, machine, two_builds};

/// The two sides a paired run builds and times.
pub struct Pair<'a> {
    pub head: &'a Project,
    pub base: &'a Project,
    /// The base checkout (see `two_builds::seed_base_target`).
    pub base_sources: &'a Path,
    /// The head's commit, and whether its work tree is dirty.
    pub head_commit: (Option<String>, bool),
    pub base_commit: String,
}

/// Which benchmarks of a timed run changed in time, most important first:
/// what the instruction check counts. A statistical decision, given by the
/// caller (`compare::paired::time_changed`).
pub type ChangedRule<'a> = &'a dyn Fn(&PairedRun) -> Vec<BenchId>;

/// The decisions a paired run takes from the comparison, so that it
/// collects everything in one pass: when a benchmark needs no more rounds,
/// and which time changes to count in instructions (None: no instruction
/// check).
pub struct Rules<'a> {
    pub stop: StopRule<'a>,
    pub time_changed: Option<ChangedRule<'a>>,
}

/// Build both sides, then run rounds as `plan` says (`rounds`), then
/// profile and count allocations of both sides alike; then, when the
/// selection asks for it, count the instructions of the benchmarks whose
/// time changed.
pub fn run_paired(
    pair: Pair<'_>,
    selection: &RunSelection,
    plan: RoundPlan,
    rules: Rules<'_>,
    runner: &dyn super::Runner,
    progress: &Progress,
) -> Result<TimedPair> {
    let mut phases = PhaseTimes::default();
    let (head_listed, base_listed) = build_both(&pair, selection, runner, progress, &mut phases)?;
    let (head_listed, base_listed, selection, shard) =
        shard_both(head_listed, base_listed, selection, progress)?;
    let selection = selection.as_ref();
    let (head_listed, base_listed, identical) = if selection.time_identical {
        (head_listed, base_listed, BTreeSet::new())
    } else {
        set_aside_identical(head_listed, base_listed, progress)
    };
    let scratch = super::scratch_dir(pair.head)?;
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
    let sides = BothSides {
        base: &base_listed,
        head: &head_listed,
    };
    let mut rounds = Rounds::run(
        &sides,
        plan,
        rules.stop,
        selection,
        scratch.path(),
        runner,
        progress,
    )?;
    let took = rounds.took();
    phases.rounds = took.as_secs_f64();
    let mut benches = [Side::Base, Side::Head].map(|side| rounds.pooled(side));
    let mark = Instant::now();
    if let Some(seconds) = selection.profile_time {
        super::profiling::note_unprofiled(&head_listed, progress);
        let profiling = Profiling {
            selection,
            seconds,
            scratch: scratch.path(),
            runner,
            progress,
        };
        profiling.attach(&sides, &mut rounds, &mut benches)?;
    }
    phases.profiles = mark.elapsed().as_secs_f64();
    let mark = Instant::now();
    count_allocations(&sides, &mut benches, scratch.path(), runner, progress)?;
    phases.allocations = mark.elapsed().as_secs_f64();
    let [base_benches, head_benches] = benches;
    let round_medians = head_benches
        .iter()
        .map(|bench| (bench.id.clone(), rounds.medians(&bench.id)))
        .filter(|(_, medians)| !medians.is_empty())
        .collect();
    let machine = machine::fingerprint(&pair.head.dir);
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
    let mut head_record = record(head_benches, pair.head_commit.0, pair.head_commit.1);
    head_record.shard = shard;
    let mut timed = TimedPair {
        run: PairedRun {
            rounds: rounds.done,
            base: record(base_benches, Some(pair.base_commit), false),
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
        took,
    };
    let counting = selection.check_instructions && selection.measure == super::Measure::Time;
    if let Some(time_changed) = rules.time_changed.filter(|_| counting) {
        timed.count_changed(&time_changed(&timed.run), pair.head, progress)?;
    }
    Ok(timed)
}

/// Build the head, then the base (from the head's compiled dependencies
/// when its target directory is cold); each side's bench executables and
/// their benchmarks.
fn build_both(
    pair: &Pair<'_>,
    selection: &RunSelection,
    runner: &dyn super::Runner,
    progress: &Progress,
    phases: &mut PhaseTimes,
) -> Result<(super::Listed, super::Listed)> {
    let (head, base) = (pair.head, pair.base);
    let flags = two_builds::workspace_flags(base, head);
    let mark = Instant::now();
    let head_listed = build_and_list(head, selection, &flags, runner, progress)?;
    phases.build_head = mark.elapsed().as_secs_f64();
    let mark = Instant::now();
    let seeded = two_builds::seed_base_target(head, base, pair.base_sources)?;
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
    Ok((head_listed, base_listed))
}

/// Both sides' benchmarks, and the selection they run with: in a shard of
/// a paired run the split is made over both sides' ids, and both sides run
/// exactly the shard's benchmarks.
fn shard_both<'s>(
    head_listed: super::Listed,
    base_listed: super::Listed,
    selection: &'s RunSelection,
    progress: &Progress,
) -> Result<(
    super::Listed,
    super::Listed,
    Cow<'s, RunSelection>,
    Option<ShardInfo>,
)> {
    let Some(shard_plan) = &selection.shard else {
        return Ok((head_listed, base_listed, Cow::Borrowed(selection), None));
    };
    let (mut lists, filter, info) =
        super::shard::shard_lists(vec![head_listed, base_listed], shard_plan, progress)?;
    let base_listed = lists.pop().expect("two lists");
    let head_listed = lists.pop().expect("two lists");
    let selection = RunSelection {
        filter,
        ..selection.clone()
    };
    Ok((head_listed, base_listed, Cow::Owned(selection), Some(info)))
}

/// How both sides are profiled: the same way, so differential flamegraphs
/// compare like with like.
struct Profiling<'a> {
    selection: &'a RunSelection,
    seconds: f64,
    scratch: &'a Path,
    runner: &'a dyn super::Runner,
    progress: &'a Progress,
}

impl Profiling<'_> {
    /// Profile each side's benchmarks (`benches`: base, head) and attach
    /// the profiles.
    fn attach(
        &self,
        sides: &BothSides<'_>,
        rounds: &mut Rounds,
        benches: &mut [Vec<BenchResult>; 2],
    ) -> Result<()> {
        for (side, benches) in [Side::Base, Side::Head].into_iter().zip(benches) {
            let dirs = rounds.take_first_round_dirs(side);
            let tag = format!(" {side:?}").to_lowercase();
            let mut profiles = super::profiling::profile_pass(
                sides.of(side),
                &dirs,
                self.selection,
                self.seconds,
                (self.scratch, &tag),
                self.runner,
                self.progress,
            )?;
            for bench in benches.iter_mut() {
                bench.profile = profiles.remove(&bench.id);
            }
        }
        Ok(())
    }
}

/// Both sides' allocations (`benches`: base, head), where the bench
/// targets count them.
fn count_allocations(
    sides: &BothSides<'_>,
    benches: &mut [Vec<BenchResult>; 2],
    scratch: &Path,
    runner: &dyn super::Runner,
    progress: &Progress,
) -> Result<()> {
    for (side, benches) in [Side::Base, Side::Head].into_iter().zip(benches) {
        let tag = format!(" {side:?}").to_lowercase();
        let mut counts =
            super::allocations::allocation_pass(sides.of(side), scratch, &tag, runner, progress)?;
        for bench in benches.iter_mut() {
            bench.allocations = counts.remove(&bench.id).unwrap_or_default();
        }
    }
    Ok(())
}

/// A timed paired run and the executables it timed.
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
    fn count_changed(
        &mut self,
        changed: &[BenchId],
        scratch_in: &Project,
        progress: &Progress,
    ) -> Result<()> {
        let mut counted = crate::record::paired::CountedInstructions::default();
        if changed.is_empty() {
            return Ok(());
        }
        progress.note(&format!(
            "paired: {} benchmark(s) changed in time; counting their instructions on both sides",
            changed.len()
        ));
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
            let counts = super::counting::count_one(
                &base_exe,
                id.as_str(),
                &scratch.path().join(format!("base-{n}")),
            )
            .and_then(|base| {
                super::counting::count_one(
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
