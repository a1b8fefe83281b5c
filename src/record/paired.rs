//! What a paired run measured (data; the rounds are run by
//! `collect::paired` and judged by `compare::paired`).

use std::collections::{BTreeMap, BTreeSet};

use super::{BenchId, RunRecord};

/// Undisturbed rounds a paired benchmark needs before the adaptive plan
/// may stop it as decided and before its "catches" figure is stated: with
/// fewer, t quantiles of two degrees of freedom or less make the figure
/// arithmetic, not an answer (two counted rounds once read
/// "≥ 3,046,941.0%"). The adaptive round plan's minimum.
pub const MIN_COUNTED_ROUNDS: usize = 4;

/// Where a benchmark of an adaptive paired run stands after its rounds so
/// far (the stop rule's answer, `compare::paired::stop_rule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// More rounds would not change its verdict.
    Decided,
    /// Open; more rounds while the budget lasts.
    Open,
    /// It reads slower beyond the threshold, but from fewer rounds than a
    /// regression is called from: it gets those rounds even past the
    /// budget, so that a budget spent early cannot pass a slowdown.
    ShortOfRounds,
}

/// One benchmark's medians in one round.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundMedians {
    pub base: f64,
    pub head: f64,
    /// Either side's measurement window was disturbed
    /// (`interference::Interference::disturbed`): something else took the
    /// benchmark's CPU.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disturbed: bool,
}

impl RoundMedians {
    /// `ln(head / base)`: the round's change, in log space.
    pub fn log_ratio(&self) -> f64 {
        (self.head / self.base).ln()
    }
}

/// A benchmark's round changes in log space, per unit of input when its
/// declared input differs between the sides: what the paired test, the
/// adaptive stop rule and the estimate are all computed from. Only the
/// rounds that count (`counted_rounds`).
pub fn round_log_ratios(rounds: &[RoundMedians], input: Option<&super::InputChange>) -> Vec<f64> {
    let per_unit = input.map_or(0.0, super::InputChange::log_ratio);
    counted_rounds(rounds)
        .map(|r| r.log_ratio() - per_unit)
        .collect()
}

/// The rounds a verdict is computed from: the undisturbed ones, so that a
/// round in which something else took the benchmark's CPU cannot decide a
/// verdict; but every round when fewer than half of them (or fewer than
/// two) are undisturbed, because then disturbance is the runner's normal
/// state, not an accident of a few rounds.
pub fn counted_rounds(rounds: &[RoundMedians]) -> impl Iterator<Item = &RoundMedians> {
    let clean = rounds.iter().filter(|r| !r.disturbed).count();
    let set_aside = clean >= 2 && 2 * clean >= rounds.len();
    rounds.iter().filter(move |r| !(set_aside && r.disturbed))
}

/// Rounds of `rounds` set aside as disturbed (not counted).
pub fn set_aside(rounds: &[RoundMedians]) -> usize {
    rounds.len() - counted_rounds(rounds).count()
}

/// The outcome of a paired run (also what a paired shard hands to `merge`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PairedRun {
    pub rounds: usize,
    /// Each side's samples, pooled over all rounds.
    pub base: RunRecord,
    pub head: RunRecord,
    /// Benchmarks on both sides: their medians, round by round.
    pub round_medians: BTreeMap<BenchId, Vec<RoundMedians>>,
    /// Benchmarks not timed because both sides' bench executables load the
    /// same machine code (`collect::machine_code`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub identical: BTreeSet<BenchId>,
    /// Benchmarks not timed because both sides executed the same functions
    /// with the same machine code the same number of times
    /// (`collect::executed`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub same_code: BTreeSet<BenchId>,
    /// Timed benchmarks whose two sides executed different machine code
    /// (not only different counts): equal instruction counts are then not
    /// the same instructions, and a time change is never `layout`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub code_changed: BTreeSet<BenchId>,
    /// Why the run did not look at what each benchmark executed, so timed
    /// every benchmark (valgrind missing); `None` when it looked, or was
    /// told not to (`--time-all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_code_unchecked: Option<String>,
    /// Where the run's time went, phase by phase.
    #[serde(default, skip_serializing_if = "PhaseTimes::is_empty")]
    pub phases: PhaseTimes,
    /// The dual-measure check: instruction counts of both sides for the
    /// benchmarks whose time changed.
    #[serde(default, skip_serializing_if = "CountedInstructions::is_empty")]
    pub instructions: CountedInstructions,
}

impl PairedRun {
    /// A run in which every benchmark of both sides was timed, in
    /// `rounds` rounds, and nothing else was looked at (no identical or
    /// same-code benchmarks, no counts): what a replay of recorded rounds
    /// and the tests build.
    pub fn timed(
        rounds: usize,
        (base, head): (RunRecord, RunRecord),
        round_medians: BTreeMap<BenchId, Vec<RoundMedians>>,
    ) -> PairedRun {
        PairedRun {
            rounds,
            base,
            head,
            round_medians,
            identical: Default::default(),
            same_code: Default::default(),
            code_changed: Default::default(),
            same_code_unchecked: None,
            phases: Default::default(),
            instructions: Default::default(),
        }
    }
}

/// Seconds a paired run spent in each phase (README, docs/cost.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseTimes {
    pub build_head: f64,
    pub build_base: f64,
    /// Seeing what each benchmark executed on both sides (`same code`).
    pub same_code_pass: f64,
    pub rounds: f64,
    pub instruction_check: f64,
    pub profiles: f64,
    pub allocations: f64,
}

impl PhaseTimes {
    pub fn is_empty(&self) -> bool {
        *self == PhaseTimes::default()
    }

    /// Each phase that took time, with its name, in the order they run.
    pub fn named(&self) -> Vec<(&'static str, f64)> {
        [
            ("build head", self.build_head),
            ("build base", self.build_base),
            ("same-code pass", self.same_code_pass),
            ("rounds", self.rounds),
            ("instruction check", self.instruction_check),
            ("profiles", self.profiles),
            ("allocations", self.allocations),
        ]
        .into_iter()
        // Shown to a tenth of a second: what rounds to 0.0 did not run.
        .filter(|(_, seconds)| *seconds >= 0.05)
        .collect()
    }

    /// Two shards' phases: the machine time both spent.
    pub fn add(&mut self, other: &PhaseTimes) {
        self.build_head += other.build_head;
        self.build_base += other.build_base;
        self.same_code_pass += other.same_code_pass;
        self.rounds += other.rounds;
        self.instruction_check += other.instruction_check;
        self.profiles += other.profiles;
        self.allocations += other.allocations;
    }
}

/// Exact instruction counts of the benchmarks whose time changed in a
/// paired run (`collect::paired`), and those that could not be counted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CountedInstructions {
    /// Each side's counts (`BenchResult`s in instructions, with per-function
    /// costs and simulated cache and branch behaviour).
    pub base: Vec<super::BenchResult>,
    pub head: Vec<super::BenchResult>,
    /// Benchmarks whose time changed but were not counted, with why.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_counted: BTreeMap<BenchId, String>,
}

impl CountedInstructions {
    pub fn is_empty(&self) -> bool {
        self.base.is_empty() && self.head.is_empty() && self.not_counted.is_empty()
    }

    /// Both sides' counts of `id`, when both were taken.
    pub fn of(&self, id: &BenchId) -> Option<(&super::BenchResult, &super::BenchResult)> {
        fn find<'a>(
            side: &'a [super::BenchResult],
            id: &BenchId,
        ) -> Option<&'a super::BenchResult> {
            side.iter().find(|b| &b.id == id)
        }
        find(&self.base, id).zip(find(&self.head, id))
    }

    /// Add another shard's counts.
    pub fn extend(&mut self, other: CountedInstructions) {
        self.base.extend(other.base);
        self.head.extend(other.head);
        self.not_counted.extend(other.not_counted);
    }
}

/// A paired run of one shard, as `check --paired --shard K/N` writes it
/// for `flamegate merge`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PairedShard {
    /// Format version; also what tells a paired shard from a record.
    pub paired_shard: u32,
    pub run: PairedRun,
    pub head_side: super::Side,
    pub base_side: super::Side,
    #[serde(with = "super::note::listed_with_text")]
    pub notes: Vec<super::note::Note>,
    /// The criterion arguments every round was timed with (the windows):
    /// shards timed differently do not merge.
    #[serde(default)]
    pub round_windows: Vec<String>,
}

/// The version of `PairedShard` this flamegate writes and reads.
pub const PAIRED_SHARD_FORMAT: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_that_round_to_nothing_are_left_out_and_shards_add_up() {
        let mut phases = PhaseTimes {
            build_head: 3.2,
            rounds: 0.0001,
            ..PhaseTimes::default()
        };
        assert_eq!(phases.named(), vec![("build head", 3.2)]);
        phases.add(&PhaseTimes {
            rounds: 2.0,
            ..PhaseTimes::default()
        });
        assert_eq!(
            phases.named(),
            vec![("build head", 3.2), ("rounds", 2.0001)]
        );
    }
}
