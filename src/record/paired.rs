//! What a paired run measured (data; the rounds are run by
//! `collect::paired` and judged by `compare::paired`).

use std::collections::{BTreeMap, BTreeSet};

use super::{BenchId, RunRecord};

/// One benchmark's medians in one round.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoundMedians {
    pub base: f64,
    pub head: f64,
}

impl RoundMedians {
    /// `ln(head / base)`: the round's change, in log space.
    pub fn log_ratio(&self) -> f64 {
        (self.head / self.base).ln()
    }
}

/// A benchmark's round changes in log space, per unit of input when its
/// declared input differs between the sides: what the paired test, the
/// adaptive stop rule and the estimate are all computed from.
pub fn round_log_ratios(rounds: &[RoundMedians], input: Option<&super::InputChange>) -> Vec<f64> {
    let per_unit = input.map_or(0.0, super::InputChange::log_ratio);
    rounds.iter().map(|r| r.log_ratio() - per_unit).collect()
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
    pub notes: Vec<String>,
    /// The criterion arguments every round was timed with (the windows):
    /// shards timed differently do not merge.
    #[serde(default)]
    pub round_windows: Vec<String>,
}

/// The version of `PairedShard` this flamegate writes and reads.
pub const PAIRED_SHARD_FORMAT: u32 = 1;
