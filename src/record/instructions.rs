//! Instruction-count data carried in a `BenchResult` (measured by
//! `collect::callgrind`).

use serde::{Deserialize, Serialize};

/// One function's instructions in one iteration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCost {
    /// Instructions executed in the function itself.
    pub own: u64,
    /// Instructions executed in it and everything it called.
    pub inclusive: u64,
}

/// What callgrind's cache and branch simulation estimates for one
/// iteration. Advisory: a model of a generic cache hierarchy and branch
/// predictor, not this machine's; it hints at effects instruction counts
/// cannot see (a change that misses the cache more, or mispredicts more).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Simulated {
    /// First-level misses, instruction and data (I1mr + D1mr + D1mw).
    pub l1_misses: u64,
    /// Last-level misses, instruction and data (ILmr + DLmr + DLmw).
    pub ll_misses: u64,
    /// Conditional and indirect branches executed (Bc + Bi).
    pub branches: u64,
    /// Of those, mispredicted (Bcm + Bim).
    pub mispredicts: u64,
}

/// callgrind's cycle estimate (the formula KCachegrind uses): each
/// instruction one cycle, a first-level miss or a mispredicted branch ten
/// more, a last-level miss a hundred.
pub const L1_MISS_CYCLES: f64 = 10.0;
pub const MISPREDICT_CYCLES: f64 = 10.0;
pub const LL_MISS_CYCLES: f64 = 100.0;

/// Changes within this multiple of a benchmark's A/A jitter are not changes.
pub const JITTER_MULTIPLE: f64 = 3.0;

/// How far apart two counts of the same code may be: three times the larger
/// of the two sides' spreads.
pub fn tolerance(base_spread: f64, head_spread: f64) -> f64 {
    JITTER_MULTIPLE * base_spread.max(head_spread)
}

/// Whether two counts `ln(head / base) = log_change` apart count the same
/// work, given the larger side's relative spread of repeated counts.
pub fn same_work(log_change: f64, jitter: f64) -> bool {
    log_change.abs() <= tolerance(jitter, jitter).ln_1p()
}
