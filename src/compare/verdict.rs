//! The one function that classifies a benchmark. Every renderer reads its
//! result; none recomputes it.

use crate::report::Verdict;

/// What the statistics found for a benchmark present on both sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// Estimated change in log space: ln(head / base).
    pub log_change: f64,
    /// Confidence interval of `log_change`.
    pub log_ci: (f64, f64),
    /// Benjamini-Hochberg adjusted one-sided p-values.
    pub p_regressed_adjusted: f64,
    pub p_improved_adjusted: f64,
}

/// The thresholds a verdict is judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Smallest relative change worth failing for (0.01 = 1%).
    pub min_change: f64,
    /// False discovery rate across the suite.
    pub fdr: f64,
    /// Largest change (relative) an interval may still include for a
    /// benchmark to be called unchanged; beyond it, the benchmark is noisy.
    pub noise_limit: f64,
}

/// What is known about a benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Presence {
    Both(Evidence),
    OnlyHead,
    OnlyBase,
    /// Paired: the same machine code on both sides; not measured.
    IdenticalCode,
}

/// Classify one benchmark.
pub fn classify(presence: Presence, rule: &Rule) -> Verdict {
    let evidence = match presence {
        Presence::OnlyHead => return Verdict::New,
        Presence::OnlyBase => return Verdict::Missing,
        Presence::IdenticalCode => return Verdict::Identical,
        Presence::Both(evidence) => evidence,
    };
    let threshold = rule.min_change.ln_1p();
    let limit = rule.noise_limit.ln_1p();
    if evidence.p_regressed_adjusted <= rule.fdr && evidence.log_change > threshold {
        Verdict::Regressed
    } else if evidence.p_improved_adjusted <= rule.fdr && evidence.log_change < -threshold {
        Verdict::Improved
    } else if evidence.log_ci.0 < -limit || evidence.log_ci.1 > limit {
        // Not shown to have moved, but a move beyond the noise limit is not
        // ruled out either: "unchanged" would claim too much.
        Verdict::Noisy
    } else {
        Verdict::Unchanged
    }
}
