//! The `Report`: the compared suite, as rendered, published and stored.
//!
//! Built by `compare`, read by `render` and `publish`. Serialised to JSON it is
//! what the fork-safe mode hands from the untrusted job to the publishing one.

pub mod bisect;
pub mod checks;
pub mod history;
pub mod scaling;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, is_commit_id};

use crate::profile::hotspots::Hotspots;
use crate::record::acceptance::{AcceptKind, Standing};
use crate::record::note::Note;
use crate::record::{BenchId, InputChange};

use checks::{AllocationCheck, InstructionCheck, PeakMemoryCheck};
use scaling::Scaling;

/// The schema version of a serialised `Report`. 2 added the `layout`
/// verdict and `Comparison::instructions`, 3 `Report::scaling`, 4
/// `Comparison::trend` and `Report::history_page`, 5 the `more
/// allocations` verdict and `Comparison::allocations`, 6 typed notes
/// (`record::note`); schema 1 to 5 reports still read.
pub const REPORT_SCHEMA: u32 = 6;
/// The largest `report.json` flamegate reads (16 MiB): a suite of thousands
/// of benchmarks with hotspot notes stays far below it.
pub const MAX_REPORT_BYTES: u64 = 16 * 1024 * 1024;
/// The oldest schema this flamegate reads.
pub const OLDEST_REPORT_SCHEMA: u32 = 1;

/// What happened to one benchmark. Decided only by `compare::classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Verdict {
    /// Slower beyond the threshold, shown across the suite: fails the gate.
    Regressed,
    /// The time did not regress, but each iteration of the routine asks
    /// more of the heap (exact counts beyond the benchmark's own A/A
    /// spread): fails the gate unless allocations are only reported.
    MoreAllocations,
    /// A command (`[[command]]`) whose time did not regress but whose peak
    /// resident memory grew beyond flamegate.toml's `[thresholds]
    /// peak_memory`: fails the gate.
    MoreMemory,
    /// Would be `regressed`, but a commit of the pull request accepts the
    /// slowdown (`Flamegate-Accept: <glob>: <reason>`): shown with who and
    /// why, does not fail.
    Accepted,
    Improved,
    /// The interval excludes zero on the slow side, but the change is not
    /// shown beyond the threshold across the suite.
    LikelySlower,
    LikelyFaster,
    /// Paired: the time changed, but both sides executed the same
    /// instructions (exact counts) with the same simulated cache and branch
    /// behaviour: where the code sits in memory moved the time, not what it
    /// does. Does not fail the gate unless `fail_on_layout` is set.
    Layout,
    /// The interval holds zero and reaches past the threshold: the run
    /// cannot say (reports before this word said "noisy").
    #[serde(alias = "Noisy")]
    Inconclusive,
    /// Only in the head run.
    New,
    /// Only in the baseline.
    Missing,
    Unchanged,
    /// Paired: both sides' bench executables load identical machine code,
    /// so nothing can differ but noise; not timed.
    Identical,
    /// Paired: the benchmark executed the same functions with the same
    /// machine code the same number of times on both sides; not timed.
    SameCode,
}

/// The verdicts shown as warnings (annotations, check runs): a reader should
/// look, though they do not fail the gate. Not `inconclusive`: on a shared
/// runner many benchmarks are, and a warning on each would bury the rest.
pub const WARNING_VERDICTS: [Verdict; 2] = [Verdict::Accepted, Verdict::LikelySlower];

impl Verdict {
    /// The verdicts that fail the gate.
    pub fn fails_gate(self) -> bool {
        matches!(
            self,
            Verdict::Regressed | Verdict::MoreAllocations | Verdict::MoreMemory
        )
    }

    /// The timing words that say the time moved, with which way: +1 slower
    /// (regressed, likely slower), −1 faster (improved, likely faster).
    pub fn time_direction(self) -> Option<f64> {
        match self {
            Verdict::Regressed | Verdict::LikelySlower => Some(1.0),
            Verdict::Improved | Verdict::LikelyFaster => Some(-1.0),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Regressed => "regressed",
            Verdict::MoreAllocations => "more allocations",
            Verdict::MoreMemory => "more memory",
            Verdict::Accepted => "accepted",
            Verdict::Improved => "improved",
            Verdict::LikelySlower => "likely slower",
            Verdict::LikelyFaster => "likely faster",
            Verdict::Layout => "layout",
            Verdict::Inconclusive => "inconclusive",
            Verdict::New => "new",
            Verdict::Missing => "missing",
            Verdict::Unchanged => "unchanged",
            Verdict::Identical => "identical",
            Verdict::SameCode => "same code",
        }
    }
}

/// Summary statistics of one side's samples (time per iteration, ns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub median: f64,
    pub mean: f64,
    pub p95: f64,
    /// Median absolute deviation (unscaled).
    pub mad: f64,
    pub n: usize,
}

/// The estimated change of one benchmark, head relative to base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The baseline's level (ns): the median of the baseline record's median
    /// and the earlier records that agree with it.
    pub base_level: f64,
    /// Relative change of the head's median against the baseline's level,
    /// the machine shift removed: 0.05 is 5% slower.
    pub estimate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// One-sided p-value for "slower by more than the threshold".
    pub p_regressed: f64,
    /// Benjamini-Hochberg adjusted, over the suite.
    pub p_regressed_adjusted: f64,
    /// One-sided p-value for "faster by more than the threshold".
    pub p_improved: f64,
    pub p_improved_adjusted: f64,
    /// Standard error of the log change: the benchmark's run-to-run noise
    /// (from history when there is one), widened for the uncertainty of the
    /// baseline's level. About a relative spread: 0.02 is ±2%.
    pub standard_error: f64,
    /// Records in this benchmark's noise model (the baseline and its history).
    pub history: usize,
    /// Rounds behind the estimate in paired mode (0 in stored-baseline mode).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rounds: usize,
    /// Paired: rounds set aside because something else took the benchmark's
    /// CPU while it was measured (not in `rounds`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disturbed_rounds: usize,
    /// The smallest slowdown this run would have called regressed with 80%
    /// probability, from this benchmark's own spread and rounds (0.031 =
    /// 3.1%); None for exact instruction counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectable: Option<f64>,
    /// No history: the noise came from the run's own spread, which misses
    /// run-to-run variation.
    pub low_confidence: bool,
}

use crate::record::paired::MIN_COUNTED_ROUNDS;

impl Change {
    /// Paired, and judged on too few counted rounds to say what it would
    /// have caught (`MIN_COUNTED_ROUNDS`).
    pub fn too_few_rounds(&self) -> bool {
        self.rounds > 0 && self.rounds < MIN_COUNTED_ROUNDS
    }
}

/// One benchmark, base against head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub id: BenchId,
    pub base: Option<Summary>,
    pub head: Option<Summary>,
    /// The declared input differs between base and head: `change` is per
    /// unit of input (time per byte, per element), the medians as measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputChange>,
    pub change: Option<Change>,
    /// The practical threshold used for this benchmark (0.01 = 1%).
    pub min_change: f64,
    pub verdict: Verdict,
    /// Who accepted this slowdown and why (verdict `accepted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
    /// Exact instruction counts of both sides, for a paired benchmark whose
    /// time changed (the dual-measure check behind `layout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<InstructionCheck>,
    /// Heap operations per iteration on both sides, where both counted
    /// them (`count_allocations!`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocations: Option<AllocationCheck>,
    /// Commands: peak resident memory on both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory: Option<PeakMemoryCheck>,
    /// Where the time went, for regressed benchmarks with a head profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotspots: Option<Hotspots>,
    /// Flamegraph files written beside the report (paths relative to it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flamegraphs: Vec<String>,
    /// Packages whose locked versions differ between base and head whose
    /// crates' functions execute more or less here (exact counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<bisect::DependencyChange>,
    /// Stored mode: the level of the last baselines on the target branch,
    /// oldest first, then the head's (None where a record lacks the
    /// benchmark). Drawn as the comment's sparkline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<Option<f64>>,
}

use crate::record::acceptance::Accepted;

/// The machine a check ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runner {
    /// CPU model, logical cores, OS.
    pub machine: String,
    /// Paired: both sides ran in this job. Stored: the baseline was
    /// recorded on the same kind of machine and toolchain.
    pub same_machine: bool,
    /// Stored, another kind of machine: the baseline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_machine: Option<String>,
}

impl Runner {
    /// The head's machine against the base's: paired runs share one.
    pub fn of(
        head: &crate::record::Machine,
        base: &crate::record::Machine,
        paired: bool,
    ) -> Runner {
        let describe = |m: &crate::record::Machine| {
            format!(
                "{}, {} logical cores, {}",
                m.cpu_model, m.logical_cores, m.os
            )
        };
        let same_machine = paired || head.same_fingerprint(base);
        Runner {
            machine: describe(head),
            same_machine,
            base_machine: (!same_machine).then(|| describe(base)),
        }
    }
}

/// The `flamegate check` that reproduces a report, against its base commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reproduce {
    pub paired: bool,
    pub instructions: bool,
}

/// How the comparison was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Against a stored baseline from git history (docs/statistics.md rule b).
    StoredBaseline,
    /// Base and head built and run in alternating rounds in the same job
    /// (docs/statistics.md rule a).
    Paired,
    /// Exact instruction counts under callgrind (docs/statistics.md rule d).
    Instructions,
}

/// The suite's outcome: what the exit code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Pass,
    Fail,
}

use crate::record::Side;

/// The statistical settings a report was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsUsed {
    /// Default practical threshold (per-benchmark overrides are in each comparison).
    pub min_change: f64,
    /// Benjamini-Hochberg false discovery rate.
    pub fdr: f64,
    /// Confidence level of the reported intervals.
    pub confidence: f64,
    /// Who may accept a failure. A publisher that does not trust the
    /// report (fork-safe mode) ignores it and verifies every acceptance.
    #[serde(default)]
    pub accept_policy: crate::record::acceptance::AcceptPolicy,
}

/// The compared suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub suite: String,
    pub mode: Mode,
    pub base: Side,
    pub head: Side,
    pub settings: SettingsUsed,
    /// The change common to all benchmarks, removed before testing (the machine
    /// was simply faster or slower), as a relative change; None when there was
    /// no clear common change to remove.
    pub machine_shift: Option<f64>,
    /// Baseline records used for the noise model, and those left out because
    /// they came from another machine.
    pub history_used: usize,
    pub history_other_machine: usize,
    /// In `Verdict` order: regressions first, then improvements, the likely
    /// ones, inconclusive, new, missing, unchanged, identical.
    pub comparisons: Vec<Comparison>,
    pub outcome: Outcome,
    /// What a reader should know beside the verdicts, typed; each is
    /// written with its words (`text`).
    #[serde(with = "crate::record::note::listed_with_text")]
    pub notes: Vec<Note>,
    /// The pull request's head commit when the run measured GitHub's merge
    /// commit of it (`head.commit`): what a publisher checks the report
    /// against, since checks and comments belong to the head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request_head: Option<String>,
    /// The machine the head ran on, and whether the base ran on the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<Runner>,
    /// How to run this check again locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproduce: Option<Reproduce>,
    /// How each group of sized benchmarks (`group/function/<n>`) grows with
    /// its size, on both sides. Decided only by `compare::scaling`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scaling: Vec<Scaling>,
    /// The history page written beside the report (`history.html`): every
    /// committed baseline of the target branch, with this head as the last
    /// point. A file name, never a link (the report may be untrusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_page: Option<String>,
    /// Paired: where the check's time went, phase by phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<crate::record::paired::PhaseTimes>,
    /// `check --bisect`: the commit of the pull request that introduced
    /// each regression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bisect: Option<Box<bisect::BisectReport>>,
}

/// The suite's outcome from its verdicts: any benchmark or sized group
/// that fails the gate fails the suite.
pub fn outcome_of(comparisons: &[Comparison], scaling: &[Scaling]) -> Outcome {
    if comparisons.iter().any(|c| c.verdict.fails_gate()) || scaling.iter().any(|s| s.fails) {
        Outcome::Fail
    } else {
        Outcome::Pass
    }
}

/// The verdict a refused acceptance gives back: the failure it accepted.
fn failure_accepted(kind: AcceptKind) -> Verdict {
    match kind {
        AcceptKind::Allocations => Verdict::MoreAllocations,
        AcceptKind::Time | AcceptKind::Scaling => Verdict::Regressed,
    }
}

impl Report {
    /// Whether any benchmark or sized group carries an acceptance of the
    /// pull request's own (one merged on the target branch needs no check).
    pub fn has_acceptances(&self) -> bool {
        let own = |a: &Option<Accepted>| a.as_ref().is_some_and(|a| a.standing != Standing::Merged);
        self.comparisons.iter().any(|c| own(&c.accepted))
            || self.scaling.iter().any(|s| own(&s.accepted))
    }

    /// Give every acceptance of the pull request `standing`
    /// (`record::acceptance::Standing`; one merged on the target branch keeps
    /// `Merged`): an honoured one makes its failure `accepted`, a refused
    /// one gives the failure back (`regressed`, `more allocations`, a
    /// failing sized group), and the outcome follows. Only failures and
    /// acceptances move: whatever else a report says about a benchmark
    /// stays.
    pub fn judge_acceptances(&mut self, standing: &Standing) {
        for c in &mut self.comparisons {
            let Some(accepted) = &mut c.accepted else {
                continue;
            };
            if !matches!(
                c.verdict,
                Verdict::Accepted | Verdict::Regressed | Verdict::MoreAllocations
            ) {
                continue;
            }
            if accepted.standing != Standing::Merged {
                accepted.standing = standing.clone();
            }
            c.verdict = if accepted.honoured() {
                Verdict::Accepted
            } else {
                failure_accepted(accepted.kind)
            };
        }
        for group in &mut self.scaling {
            if let Some(accepted) = &mut group.accepted
                && accepted.standing != Standing::Merged
            {
                accepted.standing = standing.clone();
                group.fails = !accepted.honoured();
            }
        }
        self.outcome = outcome_of(&self.comparisons, &self.scaling);
    }

    /// How many benchmarks got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.comparisons
            .iter()
            .filter(|c| c.verdict == verdict)
            .count()
    }

    /// The comparison of benchmark `id`, if the report has it.
    pub fn comparison(&self, id: &str) -> Option<&Comparison> {
        self.comparisons.iter().find(|c| c.id.as_str() == id)
    }

    pub fn with(&self, verdict: Verdict) -> impl Iterator<Item = &Comparison> {
        self.comparisons
            .iter()
            .filter(move |c| c.verdict == verdict)
    }

    /// Read a `report.json` (a regular file of at most `MAX_REPORT_BYTES`),
    /// schema first. In fork-safe mode it comes from
    /// an untrusted artifact: it is only read as data, never acted upon.
    pub fn load(path: &Path) -> Result<Report> {
        let damaged = |problem: String| Error::DamagedReport {
            path: path.to_path_buf(),
            problem,
        };
        // Never through a link, never more than a report can be: the file
        // may come from a fork's artifact.
        let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(damaged(
                "not a regular file (a link, a folder or a device)".into(),
            ));
        }
        if meta.len() > MAX_REPORT_BYTES {
            return Err(damaged(format!(
                "{} bytes, over the {MAX_REPORT_BYTES} a report can take",
                meta.len()
            )));
        }
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| damaged(format!("not JSON: {e}")))?;
        match value.get("schema").and_then(serde_json::Value::as_u64) {
            Some(schema)
                if (u64::from(OLDEST_REPORT_SCHEMA)..=u64::from(REPORT_SCHEMA))
                    .contains(&schema) => {}
            Some(schema) => {
                return Err(damaged(format!(
                    "report schema {schema}, this flamegate reads schemas {OLDEST_REPORT_SCHEMA} to {REPORT_SCHEMA}; use the same flamegate version in both jobs"
                )));
            }
            None => return Err(damaged("no `schema` field".into())),
        }
        let report: Report = serde_json::from_value(value).map_err(|e| damaged(e.to_string()))?;
        // Commit fields go into comments and check runs as code: in a forged
        // artifact they could carry mentions, links or an HTML comment.
        for (field, commit) in [
            ("base.commit", &report.base.commit),
            ("head.commit", &report.head.commit),
            ("pull_request_head", &report.pull_request_head),
        ] {
            if commit.as_deref().is_some_and(|c| !is_commit_id(c)) {
                return Err(damaged(format!(
                    "`{field}` is not a commit id (40 or 64 lowercase hex digits)"
                )));
            }
        }
        for c in &report.comparisons {
            if let Some(accepted) = &c.accepted
                && !is_commit_id(&accepted.commit)
            {
                return Err(damaged(format!(
                    "`accepted.commit` of `{}` is not a commit id (40 or 64 lowercase hex digits)",
                    c.id
                )));
            }
        }
        // The suite names a check run and files: the same rule as a suite
        // name the user writes (`.instructions` is a valid suffix).
        crate::record::check_suite_name(&report.suite).map_err(|_| {
            damaged(format!(
                "`suite` must be {}",
                crate::record::SUITE_NAME_RULE
            ))
        })?;
        Ok(report)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Report always serialises") + "\n"
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
