//! The statistical settings of a comparison: thresholds (with per-benchmark
//! overrides by glob), the false discovery rate, confidence, the gate's
//! switches and the acceptances read from commits.

use globset::{Glob, GlobMatcher};

use crate::error::{Error, Result};
use crate::record::BenchId;
use crate::record::note::Note;
use crate::report::SettingsUsed;

use super::allocations;

/// A per-benchmark threshold chosen by glob over benchmark ids.
#[derive(Debug, Clone)]
pub struct ThresholdOverride {
    pub glob: String,
    matcher: GlobMatcher,
    pub min_change: f64,
}

impl ThresholdOverride {
    pub fn new(glob: &str, min_change: f64) -> Result<ThresholdOverride> {
        let matcher = Glob::new(glob)
            .map_err(|e| Error::Usage(format!("bad benchmark glob `{glob}`: {e}")))?
            .compile_matcher();
        Ok(ThresholdOverride {
            glob: glob.to_string(),
            matcher,
            min_change,
        })
    }
}

/// The statistical settings of a comparison.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Default practical threshold (0.01 = 1%).
    pub min_change: f64,
    /// Later overrides win.
    pub overrides: Vec<ThresholdOverride>,
    /// Benjamini-Hochberg false discovery rate.
    pub fdr: f64,
    /// Confidence level of reported intervals.
    pub confidence: f64,
    /// A paired time change that the instruction counts show to be layout
    /// keeps its timing verdict (and fails the gate if slower) instead of
    /// `layout`.
    pub fail_on_layout: bool,
    /// A group of sized benchmarks whose exponent grew by at least
    /// `scaling::FAIL_GROWTH` with confidence fails the gate.
    pub fail_on_scaling: bool,
    /// Failures the pull request's commits accept (`baseline::accept`),
    /// with the matcher of each glob.
    pub accepted: Vec<(GlobMatcher, crate::record::acceptance::Accepted)>,
    /// Who may accept a failure (`[accept] policy`).
    pub accept_policy: crate::record::acceptance::AcceptPolicy,
    /// What more allocations per iteration do to a verdict.
    pub allocations: allocations::AllocationGate,
    /// Commands: peak memory growth beyond this fails the gate
    /// (`[thresholds] peak_memory`); none, reported only.
    pub peak_memory: Option<f64>,
}

impl Settings {
    /// What a report records of the settings it was made with.
    pub fn used(&self) -> SettingsUsed {
        SettingsUsed {
            min_change: self.min_change,
            fdr: self.fdr,
            confidence: self.confidence,
            accept_policy: self.accept_policy,
        }
    }
}

impl Settings {
    /// Add the acceptances found in the pull request's commits; a glob that
    /// is not one is reported in `notes` and accepts nothing, and so does
    /// every acceptance under `[accept] policy = "off"`.
    pub fn accept(
        &mut self,
        accepted: Vec<crate::record::acceptance::Accepted>,
        notes: &mut Vec<Note>,
    ) {
        if self.accept_policy == crate::record::acceptance::AcceptPolicy::Off
            && !accepted.is_empty()
        {
            notes.push(Note::AcceptancePolicyOff {
                lines: accepted.len(),
            });
            return;
        }
        for a in accepted {
            match Glob::new(&a.glob) {
                Ok(glob) => self.accepted.push((glob.compile_matcher(), a)),
                Err(e) => notes.push(Note::AcceptGlobInvalid {
                    commit: a.commit.clone(),
                    glob: a.glob.clone(),
                    problem: e.to_string(),
                }),
            }
        }
    }

    /// The newest acceptance of `kind` naming benchmark (or group) `id`.
    pub fn acceptance_for(
        &self,
        id: &BenchId,
        kind: crate::record::acceptance::AcceptKind,
    ) -> Option<&crate::record::acceptance::Accepted> {
        self.accepted
            .iter()
            .find(|(m, a)| a.kind == kind && m.is_match(id.as_str()))
            .map(|(_, a)| a)
    }

    /// The practical threshold for one benchmark.
    pub fn min_change_for(&self, id: &BenchId) -> f64 {
        self.overrides
            .iter()
            .rev()
            .find(|o| o.matcher.is_match(id.as_str()))
            .map_or(self.min_change, |o| o.min_change)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_change: 0.01,
            overrides: Vec::new(),
            fdr: 0.01,
            confidence: 0.95,
            fail_on_layout: false,
            fail_on_scaling: true,
            allocations: allocations::AllocationGate::Gate,
            peak_memory: None,
            accepted: Vec::new(),
            accept_policy: crate::record::acceptance::AcceptPolicy::default(),
        }
    }
}
