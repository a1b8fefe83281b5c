//! The `History`: a suite's benchmarks over the commits of its target
//! branch, as `flamegate history` writes it (HTML, JSON, CSV, text).
//!
//! Built by `history` from the baseline file's committed versions; read by
//! `render::history`. Serialised as `--format json`.

use serde::{Deserialize, Serialize};

/// The schema version of a serialised `History`.
pub const HISTORY_SCHEMA: u32 = 1;

/// One suite's history along the first-parent line of a branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub schema: u32,
    pub suite: String,
    /// The branch walked (`main`, `origin/main`).
    pub branch: String,
    /// The commits that changed the baseline file, oldest first. Every
    /// `BenchHistory::points` is aligned with this list.
    pub commits: Vec<HistoryCommit>,
    pub benches: Vec<BenchHistory>,
    /// The pull request's head (from a report.json), drawn as a final point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadCommit>,
    /// Per commit, the speed change common to every benchmark since the
    /// first commit (the machine's, `stats::common_shift` between
    /// consecutive versions): 0.5 is everything 50% slower. Removed before
    /// level shifts are looked for.
    pub machine_speed: Vec<f64>,
    /// The smallest level shift reported as a change (0.02 = 2%).
    pub min_change: f64,
    /// Versions skipped (damaged, foreign schema), shallow history, filters.
    #[serde(with = "crate::record::note::listed_with_text")]
    pub notes: Vec<crate::record::note::Note>,
}

/// A point of every plot: the commit a baseline version measured (its
/// record's `commit`; the commit that stored the file when the record
/// names none or one this repository lacks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryCommit {
    pub sha: String,
    /// The commit that stored this version of the baseline file.
    pub stored_in: String,
    /// First-parent commits after the previous point's up to this one: a
    /// level shift here happened in one of them (1: this commit alone).
    pub commits_since_previous: usize,
    /// Committer time, RFC 3339.
    pub date: String,
    pub author: String,
    /// The first line of the message (untrusted text: escaped when shown).
    pub subject: String,
    /// The record was measured on another machine (CPU, cores, OS,
    /// toolchain) than the version before it: level shifts here may be the
    /// machine's.
    pub machine_changed: bool,
    /// A short description of the machine, for the hover text.
    pub machine: String,
}

/// The pull request's head, from its report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadCommit {
    pub sha: String,
    pub label: String,
}

/// One benchmark over the commits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchHistory {
    pub id: String,
    /// Time per iteration or instructions.
    pub unit: crate::record::SampleUnit,
    /// One per `History::commits`; None where the benchmark was not in the
    /// record (added later, removed, filtered out by the run).
    pub points: Vec<Option<Point>>,
    /// The head's level, when a report was given and has this benchmark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<f64>,
    /// Level shifts, oldest first. Decided only by `history::changes`.
    pub changes: Vec<ChangePoint>,
}

/// One record's level: the median of its samples and a 95% interval for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    /// Units of input per iteration the benchmark declared (bytes,
    /// elements), when it declared any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<u64>,
}

/// Why a level moved, as far as the records tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftCause {
    /// The code (or its build) changed: the machine and input did not.
    Code,
    /// The record came from another machine than the one before.
    Machine,
    /// The benchmark declared another input size.
    Input,
}

/// A level shift: the benchmark's level before and after `commit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePoint {
    /// Index into `History::commits` of the first commit at the new level.
    pub index: usize,
    pub commit: String,
    /// The median level of the segment before and after.
    pub before: f64,
    pub after: f64,
    /// The change of the benchmark's own level, the machine's common shift
    /// removed: 0.10 is 10% slower. (`after / before` also holds the
    /// machine's shift.)
    pub change: f64,
    /// The shift common to every benchmark between the two levels (the
    /// machine's speed), removed from `change`: 0.5 is every benchmark 50%
    /// slower.
    pub machine_shift: f64,
    /// Two-sided p-value of the shift (t-test of the two segments' log
    /// levels against the series' noise), Benjamini-Hochberg adjusted over
    /// every change of the suite.
    pub p_adjusted: f64,
    pub cause: ShiftCause,
    /// A slowdown from the code whose level is still in effect at the last
    /// commit (the latest level is `min_change` or more above `before`):
    /// what `history --fail-on-regression` fails on.
    pub unresolved: bool,
    /// `history --bisect`: the commit among those since the previous
    /// baseline that made the shift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub culprit: Option<crate::record::commit::CommitSummary>,
}

impl ChangePoint {
    pub fn slower(&self) -> bool {
        self.change > 0.0
    }
}

impl History {
    /// The code slowdowns still in effect, as (benchmark, change).
    pub fn unresolved_regressions(&self) -> impl Iterator<Item = (&BenchHistory, &ChangePoint)> {
        self.benches
            .iter()
            .flat_map(|b| b.changes.iter().map(move |c| (b, c)))
            .filter(|(_, c)| c.unresolved)
    }
}
