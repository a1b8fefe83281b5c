//! The rounds of a paired run: each round runs the benchmarks still open on
//! both sides, alternating which side goes first (base-head, head-base, …)
//! so drift hits both equally; a `RoundPlan` says when to stop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::record::interference::{Interference, own_wait};
use crate::record::paired::{RoundMedians, Standing, counted_rounds, round_log_ratios};
use crate::record::{BenchId, BenchResult, InputChange};

use super::{BenchExecutable, Listed, Progress, RunSelection, Runner};

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
pub(super) fn note_whole_second_rounds(
    listed: &Listed,
    selection: &RunSelection,
    progress: &Progress,
) {
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

/// The adaptive plan's stop rule, given by the caller (it is a statistical
/// decision: `compare::paired::stop_rule`): where a benchmark stands, from
/// its round log ratios and the number of benchmarks compared.
pub type StopRule<'a> = &'a dyn Fn(&BenchId, &[f64], usize) -> Standing;

/// Which side a run belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Base,
    Head,
}

/// Each measurement window's interference, by side, round and benchmark.
type Windows = BTreeMap<(u8, usize, BenchId), Interference>;

/// Where a bench executable's criterion directories are, from a side's
/// first round (for the profiles): the executable's index, the directory,
/// the benchmark.
pub type FirstRoundDirs = Vec<(usize, PathBuf, BenchId)>;

/// Both sides' bench executables and their benchmarks, as the rounds run
/// them.
pub struct BothSides<'a> {
    pub base: &'a Listed,
    pub head: &'a Listed,
}

impl BothSides<'_> {
    pub fn of(&self, side: Side) -> &Listed {
        match side {
            Side::Base => self.base,
            Side::Head => self.head,
        }
    }

    /// The benchmarks both sides have: the ones compared.
    fn on_both(&self) -> BTreeSet<BenchId> {
        let ids = |listed: &Listed| -> BTreeSet<BenchId> {
            listed
                .iter()
                .flat_map(|(_, ids)| ids.iter().map(|id| BenchId(id.clone())))
                .collect()
        };
        ids(self.head)
            .intersection(&ids(self.base))
            .cloned()
            .collect()
    }
}

/// The rounds made so far and what they measured.
pub struct Rounds {
    /// The benchmarks both sides have.
    on_both: BTreeSet<BenchId>,
    /// results[(side, round)]: every benchmark's samples in that round.
    results: BTreeMap<(u8, usize), Vec<BenchResult>>,
    windows: Windows,
    /// Each side's criterion directories, from its first round.
    dirs: BTreeMap<u8, FirstRoundDirs>,
    /// None: every listed benchmark; Some: only these (later rounds).
    running: Option<BTreeSet<BenchId>>,
    /// How many rounds ran.
    pub done: usize,
    started: Instant,
}

impl Rounds {
    /// Run rounds of `sides` as `plan` says, stopping each benchmark as
    /// `standing` says (adaptive plan).
    pub fn run(
        sides: &BothSides<'_>,
        plan: RoundPlan,
        standing: StopRule<'_>,
        selection: &RunSelection,
        scratch: &Path,
        runner: &dyn Runner,
        progress: &Progress,
    ) -> Result<Rounds> {
        let mut rounds = Rounds {
            on_both: sides.on_both(),
            results: BTreeMap::new(),
            windows: Windows::new(),
            dirs: BTreeMap::new(),
            running: None,
            done: 0,
            started: Instant::now(),
        };
        if sides.base.is_empty() && sides.head.is_empty() {
            return Ok(rounds);
        }
        let budget = match plan {
            RoundPlan::Adaptive { budget } => {
                Some(budget.unwrap_or(BUDGET_PER_BENCHMARK * rounds.on_both.len().max(1) as u32))
            }
            RoundPlan::Fixed(_) => None,
        };
        while rounds.done < plan.max() {
            if rounds.done >= plan.min() {
                let open = rounds.open(plan, standing);
                match rounds.next_running(plan, budget, open, progress) {
                    Some(next) => rounds.running = Some(next),
                    None => break,
                }
            }
            rounds.run_one(sides, selection, scratch, runner, progress)?;
        }
        Ok(rounds)
    }

    /// How long the rounds took.
    pub fn took(&self) -> Duration {
        self.started.elapsed()
    }

    /// The benchmarks still open, with where each stands.
    fn open(&self, plan: RoundPlan, standing: StopRule<'_>) -> BTreeMap<BenchId, Standing> {
        let still_running = self
            .on_both
            .iter()
            .filter(|id| self.running.as_ref().is_none_or(|r| r.contains(*id)));
        match plan {
            // A fixed plan re-runs the benchmarks that had disturbed rounds
            // until they have their rounds undisturbed.
            RoundPlan::Fixed(wanted) => still_running
                .filter(|id| counted_rounds(&self.medians(id)).count() < wanted)
                .map(|id| (id.clone(), Standing::Open))
                .collect(),
            RoundPlan::Adaptive { .. } => still_running
                .map(|id| {
                    (
                        id.clone(),
                        standing(id, &self.log_ratios(id), self.on_both.len()),
                    )
                })
                .filter(|(_, standing)| *standing != Standing::Decided)
                .collect(),
        }
    }

    /// The benchmarks the next round runs; None: no more rounds.
    fn next_running(
        &self,
        plan: RoundPlan,
        budget: Option<Duration>,
        open: BTreeMap<BenchId, Standing>,
        progress: &Progress,
    ) -> Option<BTreeSet<BenchId>> {
        // A round of the open benchmarks costs about what their share of
        // the rounds so far cost.
        let per_round = self.took() / self.done as u32;
        let next = per_round.mul_f64(open.len() as f64 / self.on_both.len().max(1) as f64);
        match (plan, budget) {
            _ if open.is_empty() => None,
            (RoundPlan::Fixed(wanted), _) => {
                progress.note(&format!(
                    "paired: {} benchmark(s) had disturbed rounds (something else took their CPU); \
                     re-running them toward {wanted} undisturbed rounds",
                    open.len()
                ));
                Some(open.into_keys().collect())
            }
            (_, Some(budget)) if self.took() + next > budget => {
                self.past_the_budget(budget, open, progress)
            }
            _ => {
                progress.note(&format!(
                    "paired: {} of {} benchmark(s) still undecided after {} rounds; running another",
                    open.len(),
                    self.on_both.len(),
                    self.done
                ));
                Some(open.into_keys().collect())
            }
        }
    }

    /// What still runs once the time budget is spent: the benchmarks that
    /// read slower from too few rounds, and those whose disturbed rounds
    /// left them short of `MIN_ROUNDS` (at most `REPLACEMENT_ROUNDS` past
    /// the minimum: a machine that stays busy cannot hold the job, and a
    /// busy moment must not leave a benchmark judged on two rounds).
    fn past_the_budget(
        &self,
        budget: Duration,
        open: BTreeMap<BenchId, Standing>,
        progress: &Progress,
    ) -> Option<BTreeSet<BenchId>> {
        progress.note(&format!(
            "paired: the time budget ({:.0} s) ends with {} benchmark(s) undecided after {} rounds",
            budget.as_secs_f64(),
            open.len(),
            self.done
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
        let disturbed: BTreeSet<BenchId> = rest
            .into_keys()
            .filter(|id| {
                let medians = self.medians(id);
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
        (!next.is_empty()).then_some(next)
    }

    /// One round: both sides, the benchmarks still running.
    fn run_one(
        &mut self,
        sides: &BothSides<'_>,
        selection: &RunSelection,
        scratch: &Path,
        runner: &dyn Runner,
        progress: &Progress,
    ) -> Result<()> {
        let round = self.done;
        let order = if round.is_multiple_of(2) {
            [Side::Base, Side::Head]
        } else {
            [Side::Head, Side::Base]
        };
        let planned: usize = [sides.base, sides.head]
            .iter()
            .flat_map(|listed| listed.iter())
            .map(|(_, ids)| self.running_of(ids).len())
            .sum();
        let bar = progress.bar(planned as u64, &format!("paired round {}", round + 1));
        for side in order {
            for (index, (exe, ids)) in sides.of(side).iter().enumerate() {
                let running = self.running_of(ids);
                if running.is_empty() {
                    continue;
                }
                let round_selection = match &self.running {
                    None => std::borrow::Cow::Borrowed(selection),
                    Some(_) => std::borrow::Cow::Owned(RunSelection {
                        filter: super::exact_filter(&running),
                        ..selection.clone()
                    }),
                };
                let args = super::timing_args(&round_selection, round_args(exe));
                let home = scratch.join(format!("{side:?}-{round}-{index}"));
                let measured = runner.run(exe, &args, &home, &[], &bar)?;
                for (dir, result) in super::read_results(&home)? {
                    let window = measured
                        .get(result.id.as_str())
                        .and_then(|m| m.interference);
                    if let Some(window) = window {
                        let key = (side as u8, round, result.id.clone());
                        self.windows.insert(key, window);
                    }
                    if round == 0 {
                        let dirs = self.dirs.entry(side as u8).or_default();
                        dirs.push((index, dir, result.id.clone()));
                    }
                    let results = self.results.entry((side as u8, round)).or_default();
                    results.push(result);
                }
            }
        }
        bar.finish();
        self.done += 1;
        Ok(())
    }

    /// Which of a bench executable's benchmarks this round runs.
    fn running_of(&self, ids: &[String]) -> Vec<BenchId> {
        ids.iter()
            .map(|id| BenchId(id.clone()))
            .filter(|id| self.running.as_ref().is_none_or(|r| r.contains(id)))
            .collect()
    }

    /// Each side's samples pooled over the rounds, one result a benchmark.
    pub fn pooled(&self, side: Side) -> Vec<BenchResult> {
        let mut by_id: BTreeMap<BenchId, BenchResult> = BTreeMap::new();
        for round in 0..self.done {
            for result in self.results.get(&(side as u8, round)).into_iter().flatten() {
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
    }

    /// A side's criterion directories from its first round (for profiles).
    pub fn take_first_round_dirs(&mut self, side: Side) -> FirstRoundDirs {
        self.dirs.remove(&(side as u8)).unwrap_or_default()
    }

    /// A benchmark's medians in each round that ran it on both sides.
    pub fn medians(&self, id: &BenchId) -> Vec<RoundMedians> {
        let windows = &self.windows;
        let own_wait = own_wait(windows.iter().filter(|(k, _)| &k.2 == id).map(|(_, w)| w));
        let disturbed = |side: Side, round: usize| {
            windows
                .get(&(side as u8, round, id.clone()))
                .is_some_and(|w| w.disturbed(own_wait))
        };
        let median_in = |side: Side, round: usize| -> Option<f64> {
            self.results
                .get(&(side as u8, round))?
                .iter()
                .find(|r| &r.id == id)
                .map(|r| crate::stats::median(&r.samples))
        };
        (0..self.done)
            .filter_map(|round| {
                Some(RoundMedians {
                    base: median_in(Side::Base, round)?,
                    head: median_in(Side::Head, round)?,
                    disturbed: disturbed(Side::Base, round) || disturbed(Side::Head, round),
                })
            })
            .collect()
    }

    /// A benchmark's round changes in log space so far, per unit of input
    /// when its declared input differs between the sides (from its first
    /// round).
    fn log_ratios(&self, id: &BenchId) -> Vec<f64> {
        let first = |side: Side| {
            self.results
                .get(&(side as u8, 0))?
                .iter()
                .find(|r| &r.id == id)
        };
        let input = first(Side::Base)
            .zip(first(Side::Head))
            .and_then(|(base, head)| InputChange::between(base, head));
        round_log_ratios(&self.medians(id), input.as_ref())
    }
}
