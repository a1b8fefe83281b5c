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

/// Classify one benchmark. Every word says what the interval printed beside
/// it shows (`log_ci`, the reported confidence level), so a reader never
/// sees a word its numbers contradict:
///
/// - `regressed` / `improved`: the suite-wide test (Benjamini-Hochberg at
///   the FDR) shows a change beyond the threshold, and the interval lies
///   wholly on that side of zero;
/// - `unchanged`: the interval lies within ± the threshold: the run vouches
///   that any change is smaller than what is worth failing for;
/// - `likely slower` / `likely faster`: the interval excludes zero, but the
///   change is not shown beyond the threshold across the suite;
/// - `inconclusive`: the interval holds zero and reaches past the threshold.
///
/// Only `regressed` fails the gate.
pub fn classify(presence: Presence, rule: &Rule) -> Verdict {
    let evidence = match presence {
        Presence::OnlyHead => return Verdict::New,
        Presence::OnlyBase => return Verdict::Missing,
        Presence::IdenticalCode => return Verdict::Identical,
        Presence::Both(evidence) => evidence,
    };
    let threshold = rule.min_change.ln_1p();
    let (low, high) = evidence.log_ci;
    if evidence.p_regressed_adjusted <= rule.fdr && evidence.log_change > threshold && low > 0.0 {
        Verdict::Regressed
    } else if evidence.p_improved_adjusted <= rule.fdr
        && evidence.log_change < -threshold
        && high < 0.0
    {
        Verdict::Improved
    } else if low.exp_m1() >= -rule.min_change && high.exp_m1() <= rule.min_change {
        Verdict::Unchanged
    } else if low > 0.0 {
        Verdict::LikelySlower
    } else if high < 0.0 {
        Verdict::LikelyFaster
    } else {
        Verdict::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Issue 22: the word never contradicts the interval printed beside
        /// it, whatever the test's p-values say.
        #[test]
        fn the_word_never_contradicts_the_interval(
            low in -1.0f64..1.0,
            width in 0.0f64..1.0,
            at in 0.0f64..1.0,
            p_regressed in 0.0f64..1.0,
            p_improved in 0.0f64..1.0,
            min_change in 0.001f64..0.2,
        ) {
            let high = low + width;
            let log_change = low + width * at;
            let verdict = classify(
                Presence::Both(Evidence {
                    log_change,
                    log_ci: (low, high),
                    p_regressed_adjusted: p_regressed,
                    p_improved_adjusted: p_improved,
                }),
                &Rule { min_change, fdr: 0.01 },
            );
            let (printed_low, printed_high) = (low.exp_m1(), high.exp_m1());
            // An interval holding zero is never a decided change.
            if printed_low <= 0.0 && printed_high >= 0.0 {
                prop_assert!(!matches!(verdict, Verdict::Regressed | Verdict::Improved), "{verdict:?}");
            }
            // Wholly beyond the threshold is never "unchanged".
            if printed_low > min_change || printed_high < -min_change {
                prop_assert_ne!(verdict, Verdict::Unchanged);
            }
            // Each word's own promise.
            match verdict {
                Verdict::Unchanged => prop_assert!(printed_low >= -min_change && printed_high <= min_change),
                Verdict::Regressed | Verdict::LikelySlower => prop_assert!(printed_low > 0.0),
                Verdict::Improved | Verdict::LikelyFaster => prop_assert!(printed_high < 0.0),
                Verdict::Inconclusive => prop_assert!(printed_low <= 0.0 && printed_high >= 0.0),
                other => prop_assert!(false, "{other:?} from evidence"),
            }
        }
    }

    #[test]
    fn the_words_of_the_reports_that_contradicted_their_numbers() {
        let rule = Rule {
            min_change: 0.01,
            fdr: 0.01,
        };
        let verdict = |estimate: f64, low: f64, high: f64, p: f64| {
            classify(
                Presence::Both(Evidence {
                    log_change: estimate.ln_1p(),
                    log_ci: (low.ln_1p(), high.ln_1p()),
                    p_regressed_adjusted: p,
                    p_improved_adjusted: 1.0,
                }),
                &rule,
            )
        };
        // Were "unchanged": a documented ~2% slowdown, an A/A run.
        assert_eq!(verdict(0.032, 0.014, 0.051, 0.2), Verdict::LikelySlower);
        assert_eq!(verdict(0.022, 0.001, 0.046, 0.5), Verdict::LikelySlower);
        // Were "noisy": an interval wholly below zero, one holding it.
        assert_eq!(verdict(-0.154, -0.239, -0.060, 1.0), Verdict::LikelyFaster);
        assert_eq!(verdict(-0.03, -0.10, 0.045, 1.0), Verdict::Inconclusive);
        // Within ±1%: the run vouches for it.
        assert_eq!(verdict(0.002, -0.004, 0.008, 1.0), Verdict::Unchanged);
        assert_eq!(verdict(0.20, 0.15, 0.25, 0.001), Verdict::Regressed);
    }
}
