//! Allocations per iteration, compared exactly like instruction counts (rule
//! (e) of docs/statistics.md): the same code and input ask the same of the
//! heap each time, so there is nothing to estimate. A gated measure
//! (`record::allocations::GATED`) changed when it moved by more than
//! three times the benchmark's own A/A spread (each side counts it
//! `collect::allocations::REPEATS` times; deterministic code has none), or
//! by anything at all with zero tolerance. Peak live bytes are reported,
//! not gated: they depend on when the allocator hands memory back, which a
//! benchmark does not always control.

use crate::record::allocations::{AllocationCount, GATED};
use crate::record::instructions::JITTER_MULTIPLE;
use crate::report::checks::AllocationCheck;

/// Repeated counts of one benchmark (allocations, a command's peak
/// memory): `measure`'s median and relative spread (`stats::median_and_spread`).
pub fn median_and_spread<T>(runs: &[T], measure: impl Fn(&T) -> u64) -> (u64, f64) {
    let values: Vec<f64> = runs.iter().map(|run| measure(run) as f64).collect();
    let (median, spread) = crate::stats::median_and_spread(&values);
    (median.round() as u64, spread)
}

/// What allocation counts do to a verdict (`flamegate.toml`'s
/// `[thresholds] allocations`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllocationGate {
    /// More allocations beyond the benchmark's own A/A spread fail the gate.
    #[default]
    Gate,
    /// Any increase fails the gate, even where repeated counts of the same
    /// code differ.
    ZeroTolerance,
    /// Shown in the report, never failing.
    Report,
}

impl AllocationGate {
    pub fn fails(self) -> bool {
        self != AllocationGate::Report
    }
}

/// Both sides' counts compared, when both sides counted.
pub fn check(
    base: &[AllocationCount],
    head: &[AllocationCount],
    gate: AllocationGate,
) -> Option<AllocationCheck> {
    if base.is_empty() || head.is_empty() {
        return None;
    }
    let medians = |runs: &[AllocationCount]| AllocationCount {
        allocations: median_and_spread(runs, |c| c.allocations).0,
        deallocations: median_and_spread(runs, |c| c.deallocations).0,
        reallocations: median_and_spread(runs, |c| c.reallocations).0,
        bytes: median_and_spread(runs, |c| c.bytes).0,
        peak_bytes: median_and_spread(runs, |c| c.peak_bytes).0,
    };
    let mut check = AllocationCheck {
        base: medians(base),
        head: medians(head),
        tolerance: 0.0,
        grew: Vec::new(),
        shrank: Vec::new(),
    };
    for (name, measure) in GATED {
        let (b, base_spread) = median_and_spread(base, measure);
        let (h, head_spread) = median_and_spread(head, measure);
        let tolerance = match gate {
            AllocationGate::ZeroTolerance => 0.0,
            _ => JITTER_MULTIPLE * base_spread.max(head_spread),
        };
        check.tolerance = check.tolerance.max(tolerance);
        let (b, h) = (b as f64, h as f64);
        if h > b * (1.0 + tolerance) {
            check.grew.push(name.to_string());
        } else if h < b / (1.0 + tolerance) {
            check.shrank.push(name.to_string());
        }
    }
    Some(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(allocations: &[u64]) -> Vec<AllocationCount> {
        allocations
            .iter()
            .map(|&a| AllocationCount {
                allocations: a,
                deallocations: a,
                reallocations: 0,
                bytes: 24 * a,
                peak_bytes: 24,
            })
            .collect()
    }

    #[test]
    fn one_more_allocation_is_a_change_and_the_same_counts_are_none() {
        let same = check(&runs(&[3, 3, 3]), &runs(&[3, 3, 3]), AllocationGate::Gate).unwrap();
        assert!(!same.changed(), "{same:?}");
        assert_eq!(same.tolerance, 0.0);
        let more = check(&runs(&[3, 3, 3]), &runs(&[4, 4, 4]), AllocationGate::Gate).unwrap();
        assert_eq!(
            more.grew,
            ["allocations", "allocations + reallocations", "bytes"]
        );
        assert_eq!(
            more.text(),
            "allocations per iteration 3 → 4; bytes 72 → 96"
        );
        let fewer = check(&runs(&[4, 4, 4]), &runs(&[3, 3, 3]), AllocationGate::Gate).unwrap();
        assert_eq!(
            fewer.shrank,
            ["allocations", "allocations + reallocations", "bytes"]
        );
        assert!(check(&[], &runs(&[3]), AllocationGate::Gate).is_none());
    }

    #[test]
    fn a_jittery_benchmark_gets_its_spread_unless_tolerance_is_zero() {
        // 100 to 102 allocations of the same code: 2% spread, 6% allowed.
        let base = runs(&[100, 102, 101]);
        let within = check(&base, &runs(&[105, 104, 105]), AllocationGate::Gate).unwrap();
        assert!(!within.changed(), "{within:?}");
        assert!((within.tolerance - 0.06).abs() < 1e-9);
        let beyond = check(&base, &runs(&[110, 110, 110]), AllocationGate::Gate).unwrap();
        assert_eq!(
            beyond.grew,
            ["allocations", "allocations + reallocations", "bytes"]
        );
        let strict = check(
            &base,
            &runs(&[105, 104, 105]),
            AllocationGate::ZeroTolerance,
        )
        .unwrap();
        assert_eq!(
            strict.grew,
            ["allocations", "allocations + reallocations", "bytes"]
        );
        // From none to some is a change; counts that jump from 0 cannot be compared.
        let from_none = check(&runs(&[0, 0, 0]), &runs(&[1, 1, 1]), AllocationGate::Gate).unwrap();
        assert_eq!(
            from_none.grew,
            ["allocations", "allocations + reallocations", "bytes"]
        );
        let unstable = check(&runs(&[0, 5, 0]), &runs(&[9, 9, 9]), AllocationGate::Gate).unwrap();
        assert!(!unstable.changed());
    }

    fn count(allocations: u64, reallocations: u64, bytes: u64) -> Vec<AllocationCount> {
        vec![
            AllocationCount {
                allocations,
                deallocations: allocations,
                reallocations,
                bytes,
                peak_bytes: bytes,
            };
            3
        ]
    }

    #[test]
    fn reallocations_count_with_allocations_not_alone() {
        // A hash set of five blocks traded for one vector grown twice:
        // fewer calls that obtain memory, fewer bytes, no regression.
        let traded = check(&count(5, 0, 5_020), &count(1, 2, 128), AllocationGate::Gate).unwrap();
        assert!(traded.grew.is_empty(), "{traded:?}");
        assert_eq!(
            traded.shrank,
            ["allocations", "allocations + reallocations", "bytes"]
        );
        // `with_capacity` dropped for growth by `push`: one allocation
        // either way, ten reallocations more.
        let grown = check(
            &count(1, 0, 4_096),
            &count(1, 10, 4_096),
            AllocationGate::Gate,
        )
        .unwrap();
        assert_eq!(grown.grew, ["allocations + reallocations"]);
        assert_eq!(
            grown.text(),
            "allocations per iteration 1 → 1; reallocations 0 → 10"
        );
    }
}
