//! The one function that classifies a benchmark. Every renderer reads its
//! result; none recomputes it.

use crate::record::acceptance::AcceptKind;
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
    /// Exact instruction counts of both sides, when the time changed and
    /// they were counted (paired mode's dual-measure check).
    pub code: Option<CodeEvidence>,
    /// Paired: the rounds the test counted; 0 where there are no rounds
    /// (a stored baseline, instruction counts).
    pub rounds: usize,
    /// Both sides counted their heap operations per iteration, and a gated
    /// one grew beyond the benchmark's tolerance (`compare::allocations`).
    pub allocations_grew: bool,
    /// A command's peak memory grew beyond the gate's limit
    /// (`compare::peak_memory`).
    pub memory_grew: bool,
}

/// Rounds a paired benchmark needs before it can read `regressed` (the
/// fixed plan's default). Round ratios can be bimodal (whether a process got
/// huge pages, where the allocator put things): in the eval corpus four
/// rounds of an unchanged 64 MiB pointer chase all read +12..+18% and then
/// -4%, -10%. With fewer rounds a significant slowdown reads `likely
/// slower`, whether the adaptive plan's budget ran out or `--rounds` asked
/// for fewer.
pub const MIN_ROUNDS_TO_FLAG: usize = 6;

/// What callgrind counted on both sides of a benchmark whose time changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodeEvidence {
    /// ln(head / base) of instructions per iteration.
    pub instructions_log_change: f64,
    /// The larger side's relative spread of repeated counts of the same
    /// code; zero for deterministic code.
    pub instructions_jitter: f64,
    /// ln(head / base) of callgrind's cycle estimate from its cache and
    /// branch simulation (`Ir + 10 Bm + 10 L1m + 100 LLm`), when simulated.
    pub cycles_log_change: Option<f64>,
    /// The executed functions' machine code differs between the sides.
    pub code_changed: bool,
}

impl From<&crate::report::checks::InstructionCheck> for CodeEvidence {
    fn from(check: &crate::report::checks::InstructionCheck) -> CodeEvidence {
        CodeEvidence {
            instructions_log_change: check.change.ln_1p(),
            instructions_jitter: check.jitter,
            cycles_log_change: check.simulated_cycles_change.map(f64::ln_1p),
            code_changed: check.code_changed,
        }
    }
}

impl CodeEvidence {
    /// The executed instructions differ by more than their own jitter.
    pub fn instructions_changed(&self) -> bool {
        !crate::record::instructions::same_work(
            self.instructions_log_change,
            self.instructions_jitter,
        )
    }

    /// Same instructions, but the simulated caches and branch predictor
    /// cost at least `threshold` (log) more or less in `direction` (+1
    /// slower, -1 faster): the memory behaviour changed.
    pub fn memory_changed(&self, direction: f64, threshold: f64) -> bool {
        self.cycles_log_change
            .is_some_and(|c| c * direction >= threshold)
    }
}

/// The thresholds a verdict is judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// Smallest relative change worth failing for (0.01 = 1%).
    pub min_change: f64,
    /// False discovery rate across the suite.
    pub fdr: f64,
    /// A time change with the same instructions and simulated memory
    /// behaviour keeps its timing verdict (`flamegate.toml`'s
    /// `fail_on_layout`) instead of `layout`.
    pub layout_fails: bool,
    /// A commit of the pull request accepts a slowdown of this benchmark:
    /// `regressed` becomes `accepted`.
    pub accepts_time: bool,
    /// A commit of the pull request accepts more allocations in it:
    /// `more allocations` becomes `accepted`.
    pub accepts_allocations: bool,
    /// More allocations fail the gate (`more allocations`); otherwise they
    /// are only reported beside the timing word.
    pub allocations_fail: bool,
}

/// What is known about a benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Presence {
    Both(Evidence),
    OnlyHead,
    OnlyBase,
    /// Paired: the same machine code on both sides; not measured.
    IdenticalCode,
    /// Paired: the same code executed on both sides; not measured.
    SameCode,
}

/// Classify one benchmark. Every word says what the interval printed beside
/// it shows (`log_ci`, the reported confidence level), so a reader never
/// sees a word its numbers contradict:
///
/// - `regressed` / `improved`: the suite-wide test (Benjamini-Hochberg at
///   the FDR) shows a change beyond the threshold, and the interval lies
///   wholly on that side of zero (`regressed`, paired, from
///   `MIN_ROUNDS_TO_FLAG` rounds);
/// - `unchanged`: the interval lies within ± the threshold: the run vouches
///   that any change is smaller than what is worth failing for;
/// - `likely slower` / `likely faster`: the interval excludes zero, but the
///   change is not shown beyond the threshold across the suite;
/// - `inconclusive`: the interval holds zero and reaches past the threshold.
///
/// Only `regressed` fails the gate on time.
///
/// A time change (any of the four words that exclude zero) whose exact
/// instruction counts were taken on both sides is then checked against
/// them: instructions changed, or the same instructions with simulated
/// memory behaviour that moved the same way by the threshold, keep the
/// timing word; the same instructions and memory behaviour make it
/// `layout` (where the code sits moved the time: alignment, caches,
/// branch predictor), unless the rule says layout fails.
///
/// A benchmark whose time did not regress but whose routine asks more of
/// the heap per iteration (exact counts) is `more allocations`, which fails
/// the gate too, unless the rule only reports allocations; accepted, it is
/// `accepted` like a slowdown.
pub fn classify(presence: Presence, rule: &Rule) -> Verdict {
    classify_with_acceptance(presence, rule).0
}

/// `classify`, with the kind of acceptance an `accepted` verdict rests on.
/// A slowdown and more allocations each need their own: accepting one
/// leaves the other failing.
pub fn classify_with_acceptance(presence: Presence, rule: &Rule) -> (Verdict, Option<AcceptKind>) {
    let evidence = match presence {
        Presence::OnlyHead => return (Verdict::New, None),
        Presence::OnlyBase => return (Verdict::Missing, None),
        Presence::IdenticalCode => return (Verdict::Identical, None),
        Presence::SameCode => return (Verdict::SameCode, None),
        Presence::Both(evidence) => evidence,
    };
    let timing = classify_time_and_code(&evidence, rule);
    let allocations_fail = evidence.allocations_grew && rule.allocations_fail;
    match timing {
        Verdict::Regressed => (timing, None),
        _ if allocations_fail && !rule.accepts_allocations => (Verdict::MoreAllocations, None),
        _ if evidence.memory_grew => (Verdict::MoreMemory, None),
        Verdict::Accepted => (timing, Some(AcceptKind::Time)),
        _ if allocations_fail => (Verdict::Accepted, Some(AcceptKind::Allocations)),
        _ => (timing, None),
    }
}

/// The timing word, checked against the instruction counts.
fn classify_time_and_code(evidence: &Evidence, rule: &Rule) -> Verdict {
    let timing = classify_time(evidence, rule);
    let Some(direction) = timing.time_direction() else {
        return timing;
    };
    match evidence.code {
        Some(code)
            if !rule.layout_fails
                && !code.code_changed
                && !code.instructions_changed()
                && !code.memory_changed(direction, rule.min_change.ln_1p()) =>
        {
            Verdict::Layout
        }
        _ if timing == Verdict::Regressed && rule.accepts_time => Verdict::Accepted,
        _ => timing,
    }
}

/// The suite-wide test shows a slowdown beyond the threshold, and the
/// interval lies wholly above zero: `regressed`, given the rounds.
fn shown_slower(evidence: &Evidence, rule: &Rule) -> bool {
    evidence.p_regressed_adjusted <= rule.fdr
        && evidence.log_change > rule.min_change.ln_1p()
        && evidence.log_ci.0 > 0.0
}

/// A paired benchmark with fewer rounds than a regression is called from.
fn short_of_rounds(evidence: &Evidence) -> bool {
    evidence.rounds > 0 && evidence.rounds < MIN_ROUNDS_TO_FLAG
}

/// Shown slower, but `likely slower` only for want of rounds: what the
/// report's note on too few rounds names.
pub fn held_back_by_rounds(evidence: &Evidence, rule: &Rule) -> bool {
    shown_slower(evidence, rule) && short_of_rounds(evidence)
}

/// The timing word alone.
fn classify_time(evidence: &Evidence, rule: &Rule) -> Verdict {
    let threshold = rule.min_change.ln_1p();
    let (low, high) = evidence.log_ci;
    if shown_slower(evidence, rule) && !short_of_rounds(evidence) {
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
            rounds in 0usize..30,
        ) {
            let high = low + width;
            let log_change = low + width * at;
            let verdict = classify(
                Presence::Both(Evidence {
                    log_change,
                    log_ci: (low, high),
                    p_regressed_adjusted: p_regressed,
                    p_improved_adjusted: p_improved,
                    code: None,
                    rounds,
                    allocations_grew: false,
                    memory_grew: false,
                }),
                &Rule { min_change, fdr: 0.01, layout_fails: false, accepts_time: false,
            accepts_allocations: false, allocations_fail: true },
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
            layout_fails: false,
            accepts_time: false,
            accepts_allocations: false,
            allocations_fail: true,
        };
        let verdict = |estimate: f64, low: f64, high: f64, p: f64| {
            classify(
                Presence::Both(Evidence {
                    log_change: estimate.ln_1p(),
                    log_ci: (low.ln_1p(), high.ln_1p()),
                    p_regressed_adjusted: p,
                    p_improved_adjusted: 1.0,
                    code: None,
                    rounds: 0,
                    allocations_grew: false,
                    memory_grew: false,
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

    /// Issue 22: what README and `--help` say, "a regression is only called
    /// from 6 rounds or more", holds for the final verdict too, not only
    /// for the adaptive plan's early stop.
    #[test]
    fn a_paired_regression_needs_six_rounds() {
        let rule = Rule {
            min_change: 0.01,
            fdr: 0.01,
            layout_fails: false,
            accepts_time: false,
            accepts_allocations: false,
            allocations_fail: true,
        };
        let slower = |rounds| {
            classify(
                Presence::Both(Evidence {
                    log_change: 0.15f64.ln_1p(),
                    log_ci: (0.12f64.ln_1p(), 0.18f64.ln_1p()),
                    p_regressed_adjusted: 0.001,
                    p_improved_adjusted: 1.0,
                    code: None,
                    rounds,
                    allocations_grew: false,
                    memory_grew: false,
                }),
                &rule,
            )
        };
        assert_eq!(MIN_ROUNDS_TO_FLAG, 6);
        for rounds in 1..6 {
            assert_eq!(slower(rounds), Verdict::LikelySlower, "{rounds} rounds");
        }
        assert_eq!(slower(6), Verdict::Regressed);
        assert_eq!(slower(20), Verdict::Regressed);
        assert_eq!(
            slower(0),
            Verdict::Regressed,
            "a stored baseline has no rounds"
        );
    }

    /// Issue 14: a time change is checked against exact instruction counts.
    #[test]
    fn a_time_change_with_the_same_instructions_is_layout() {
        let rule = |layout_fails| Rule {
            min_change: 0.01,
            fdr: 0.01,
            layout_fails,
            accepts_time: false,
            accepts_allocations: false,
            allocations_fail: true,
        };
        let slower = |code: Option<CodeEvidence>| Evidence {
            log_change: 0.15f64.ln_1p(),
            log_ci: (0.12f64.ln_1p(), 0.18f64.ln_1p()),
            p_regressed_adjusted: 0.001,
            p_improved_adjusted: 1.0,
            code,
            rounds: 0,
            allocations_grew: false,
            memory_grew: false,
        };
        let code = |instructions: f64, jitter: f64, cycles: Option<f64>| {
            Some(CodeEvidence {
                instructions_log_change: instructions.ln_1p(),
                instructions_jitter: jitter,
                cycles_log_change: cycles.map(f64::ln_1p),
                code_changed: false,
            })
        };
        let verdict = |e: Evidence, fails| classify(Presence::Both(e), &rule(fails));
        // Not counted: the timing word.
        assert_eq!(verdict(slower(None), false), Verdict::Regressed);
        // More instructions: confirmed.
        assert_eq!(
            verdict(slower(code(0.14, 0.0, Some(0.14))), false),
            Verdict::Regressed
        );
        // Fewer instructions but slower: the code changed; the time stands.
        assert_eq!(
            verdict(slower(code(-0.05, 0.0, None)), false),
            Verdict::Regressed
        );
        // Same instructions, same simulated misses: layout.
        assert_eq!(
            verdict(slower(code(0.0, 0.0, Some(0.001))), false),
            Verdict::Layout
        );
        // Within the benchmark's own jitter is the same (a spread of 0.2%
        // allows 3 × 0.2%).
        assert_eq!(
            verdict(slower(code(0.004, 0.002, None)), false),
            Verdict::Layout
        );
        // The same count of different instructions (a multiply swapped for
        // an add): the time stands.
        let swapped = code(0.0, 0.0, Some(0.0)).map(|c| CodeEvidence {
            code_changed: true,
            ..c
        });
        assert_eq!(verdict(slower(swapped), false), Verdict::Regressed);
        // Same instructions, memory costs 3% more: the time stands.
        assert_eq!(
            verdict(slower(code(0.0, 0.0, Some(0.03))), false),
            Verdict::Regressed
        );
        // ... but memory cheaper does not explain a slowdown.
        assert_eq!(
            verdict(slower(code(0.0, 0.0, Some(-0.03))), false),
            Verdict::Layout
        );
        // A pull request's commit accepts it: accepted, unless it is layout.
        let accepting = Rule {
            accepts_time: true,
            ..rule(false)
        };
        assert_eq!(
            classify(Presence::Both(slower(code(0.14, 0.0, None))), &accepting),
            Verdict::Accepted
        );
        assert_eq!(
            classify(Presence::Both(slower(code(0.0, 0.0, None))), &accepting),
            Verdict::Layout
        );
        // flamegate.toml's fail_on_layout keeps the timing word.
        assert_eq!(
            verdict(slower(code(0.0, 0.0, None)), true),
            Verdict::Regressed
        );
        // Only a time change is checked.
        let unchanged = Evidence {
            log_change: 0.0,
            log_ci: (-0.005, 0.005),
            p_regressed_adjusted: 1.0,
            p_improved_adjusted: 1.0,
            code: code(0.0, 0.0, None),
            rounds: 0,
            allocations_grew: false,
            memory_grew: false,
        };
        assert_eq!(verdict(unchanged, false), Verdict::Unchanged);
    }

    /// Timing evidence with interval `log_ci` and adjusted p `p`, stored
    /// (no rounds, no counts), and what grew.
    fn grown(log_ci: (f64, f64), p: f64, allocations_grew: bool, memory_grew: bool) -> Evidence {
        Evidence {
            log_change: (log_ci.0 + log_ci.1) / 2.0,
            log_ci,
            p_regressed_adjusted: p,
            p_improved_adjusted: 1.0,
            code: None,
            rounds: 0,
            allocations_grew,
            memory_grew,
        }
    }

    /// The default gate: 1%, FDR 1%, allocations failing, nothing accepted.
    const GATE: Rule = Rule {
        min_change: 0.01,
        fdr: 0.01,
        layout_fails: false,
        accepts_time: false,
        accepts_allocations: false,
        allocations_fail: true,
    };

    #[test]
    fn a_command_whose_memory_grew_past_the_limit_fails_unless_its_time_already_does() {
        let same_time = grown((-0.005, 0.005), 1.0, false, true);
        let slower = grown((0.15, 0.25), 0.001, false, true);
        assert_eq!(
            classify(Presence::Both(same_time), &GATE),
            Verdict::MoreMemory
        );
        assert_eq!(classify(Presence::Both(slower), &GATE), Verdict::Regressed);
        // Accepting the slowdown does not accept the memory.
        let accepts_time = Rule {
            accepts_time: true,
            ..GATE
        };
        assert_eq!(
            classify(Presence::Both(slower), &accepts_time),
            Verdict::MoreMemory
        );
        assert!(Verdict::MoreMemory.fails_gate());
    }

    #[test]
    fn more_allocations_fail_unless_time_already_does_or_they_are_only_reported() {
        let evidence = |log_ci, p, allocations_grew| grown(log_ci, p, allocations_grew, false);
        let rule = GATE;
        let unchanged_time = evidence((-0.005, 0.005), 1.0, true);
        let noisy_time = evidence((-0.2, 0.2), 1.0, true);
        let slower = evidence((0.15, 0.25), 0.001, true);
        assert_eq!(
            classify(Presence::Both(unchanged_time), &rule),
            Verdict::MoreAllocations
        );
        assert_eq!(
            classify(Presence::Both(noisy_time), &rule),
            Verdict::MoreAllocations
        );
        assert_eq!(classify(Presence::Both(slower), &rule), Verdict::Regressed);
        let reported = Rule {
            allocations_fail: false,
            ..rule
        };
        assert_eq!(
            classify(Presence::Both(unchanged_time), &reported),
            Verdict::Unchanged
        );
        // Accepting the slowdown does not accept the allocations: each
        // failure needs its own line.
        let accepts_time = Rule {
            accepts_time: true,
            ..rule
        };
        assert_eq!(
            classify(Presence::Both(unchanged_time), &accepts_time),
            Verdict::MoreAllocations
        );
        let slower_with_allocations = Evidence {
            allocations_grew: true,
            memory_grew: false,
            ..slower
        };
        assert_eq!(
            classify(Presence::Both(slower_with_allocations), &accepts_time),
            Verdict::MoreAllocations
        );
        let accepts_allocations = Rule {
            accepts_allocations: true,
            ..rule
        };
        assert_eq!(
            classify_with_acceptance(Presence::Both(unchanged_time), &accepts_allocations),
            (Verdict::Accepted, Some(AcceptKind::Allocations))
        );
        assert_eq!(
            classify(
                Presence::Both(slower_with_allocations),
                &accepts_allocations
            ),
            Verdict::Regressed
        );
        let accepts_both = Rule {
            accepts_time: true,
            ..accepts_allocations
        };
        assert_eq!(
            classify_with_acceptance(Presence::Both(slower_with_allocations), &accepts_both),
            (Verdict::Accepted, Some(AcceptKind::Time))
        );
        assert!(Verdict::MoreAllocations.fails_gate());
        assert_eq!(
            classify(Presence::Both(evidence((-0.005, 0.005), 1.0, false)), &rule),
            Verdict::Unchanged
        );
    }
}
