//! A command's peak resident memory, base against head (`[[command]]`
//! entries: each traced warm-up run's `VmHWM`, `collect::command`).
//! Reported whenever it moved beyond the runs' own spread; failing only past the limit flamegate.toml sets
//! (`[thresholds] peak_memory`), since how much memory growth a tool can
//! afford is the project's call, not a statistic's.

use super::allocations::median_and_spread;
use crate::report::checks::PeakMemoryCheck;

/// Both sides' peaks compared, when both sides measured them.
pub fn check(base: &[u64], head: &[u64], limit: Option<f64>) -> Option<PeakMemoryCheck> {
    if base.is_empty() || head.is_empty() {
        return None;
    }
    let (base_kib, base_spread) = median_and_spread(base, |&kib| kib);
    let (head_kib, head_spread) = median_and_spread(head, |&kib| kib);
    Some(PeakMemoryCheck {
        base_kib,
        head_kib,
        change: head_kib as f64 / base_kib.max(1) as f64 - 1.0,
        spread: base_spread.max(head_spread),
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_reported_and_fails_only_past_the_projects_limit() {
        let base = [2048, 2052, 2044];
        let grown = [6144, 6140, 6150];
        let reported = check(&base, &grown, None).unwrap();
        assert_eq!((reported.base_kib, reported.head_kib), (2048, 6144));
        assert!(reported.moved() && !reported.fails());
        assert_eq!(
            reported.text(),
            "peak memory 2,048 KiB → 6,144 KiB (+200.0%)"
        );
        let gated = check(&base, &grown, Some(0.10)).unwrap();
        assert!(gated.fails());
        assert!(gated.text().ends_with("; the gate allows +10%)"));
        let same = check(&base, &[2050, 2046, 2048], Some(0.10)).unwrap();
        assert!(!same.moved() && !same.fails());
        assert!(check(&[], &grown, None).is_none());
    }
}
