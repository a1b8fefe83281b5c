//! What `flamegate bisect` found: per benchmark the commit that changed it
//! (or the commits it could not tell apart), and every step it took.

use serde::{Deserialize, Serialize};

use crate::profile::hotspots::Hotspots;
use crate::record::FoldedStacks;
use crate::record::commit::{CommitSummary, DiffStat, PackageChange};

/// The version of `bisect.json`.
pub const BISECT_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BisectReport {
    pub schema: u32,
    pub suite: String,
    pub good: CommitSummary,
    pub bad: CommitSummary,
    /// First-parent commits after `good` up to `bad`.
    pub commits: usize,
    /// Slowdowns only, or any change (`--any`).
    pub any_change: bool,
    /// The benchmarks whose instruction counts changed between the ends,
    /// each bisected.
    pub benchmarks: Vec<BenchBisection>,
    /// Every commit looked at, in order.
    pub steps: Vec<Step>,
    /// Wall-clock seconds, all steps together.
    pub seconds: f64,
    #[serde(with = "crate::record::note::listed_with_text")]
    pub notes: Vec<crate::record::note::Note>,
}

impl BisectReport {
    /// Commits whose benchmarks were run (not those that reused another
    /// commit's measurement or were skipped).
    pub fn measured(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.outcome == StepOutcome::Measured)
            .count()
    }

    /// Whether every bisected benchmark has its culprit.
    pub fn decided(&self) -> bool {
        self.benchmarks
            .iter()
            .all(|b| matches!(b.outcome, BisectOutcome::Culprit(_)))
    }
}

/// One benchmark's bisection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchBisection {
    pub id: String,
    /// Instructions or time per iteration.
    pub unit: crate::record::SampleUnit,
    pub good_level: f64,
    pub bad_level: f64,
    /// bad / good − 1.
    pub change: f64,
    pub outcome: BisectOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BisectOutcome {
    Culprit(Box<Culprit>),
    /// The first changed commit is one of these (oldest first): the ones
    /// between them could not be measured, or their level lies between the
    /// ends' (timed, within noise of the midpoint).
    Undecided {
        candidates: Vec<CommitSummary>,
    },
}

/// The first commit at the bad end's level, and the change it alone makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Culprit {
    pub commit: CommitSummary,
    /// Its first parent, at the good end's level.
    pub parent: String,
    pub parent_level: f64,
    pub level: f64,
    /// level / parent_level − 1.
    pub change: f64,
    /// The culprit's change as a share of the whole change between the
    /// ends (in log terms: 1.0 when it alone makes all of it).
    pub share: f64,
    pub diff: DiffStat,
    /// Timed: the 95% interval of `change`, from rounds of the culprit
    /// paired with its parent, and the verdict those rounds give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<crate::report::Verdict>,
    /// The functions whose own instructions grew, culprit against parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotspots: Option<Hotspots>,
    /// Packages whose locked versions the culprit changed, with what their
    /// functions execute, largest share first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyChange>,
    /// Timed, with the profiler hook: the parent's and the culprit's
    /// profiles, for the flamegraphs (not kept in `bisect.json`).
    #[serde(skip)]
    pub profiles: Option<Box<(FoldedStacks, FoldedStacks)>>,
    /// Flamegraph files written beside the report (paths relative to it):
    /// the culprit's, and its difference from its parent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flamegraphs: Vec<String>,
}

/// A package the culprit's `Cargo.lock` changed, and its part in the
/// benchmark's change: the instructions its crate's functions execute
/// themselves (by symbol), per iteration, at the parent and the culprit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyChange {
    pub package: PackageChange,
    /// None when timed: time is not attributed to crates.
    pub instructions_before: Option<f64>,
    pub instructions_after: Option<f64>,
    /// Its growth as a share of the benchmark's change between parent and
    /// culprit (0 when its functions did not change what they execute).
    pub share: Option<f64>,
}

/// One commit looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub commit: CommitSummary,
    pub outcome: StepOutcome,
    pub build_seconds: f64,
    pub measure_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StepOutcome {
    /// Built and counted, or timed against the good end.
    Measured,
    /// The culprit timed again, paired with its parent: the change it
    /// alone makes.
    Retested { against: String },
    /// Its bench executables load the same machine code as this commit's,
    /// already counted: its counts are that commit's.
    SameExecutables { as_commit: String },
    /// Not measurable here; why.
    Skipped { reason: String },
}
