//! What else the machine did while one benchmark was measured (measured by
//! `collect::interference`), and the one rule that calls a measurement
//! window disturbed.

use serde::{Deserialize, Serialize};

/// The scheduler's view of one benchmark's measurement window in one bench
/// process (criterion's "Collecting" to "Analyzing").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Interference {
    /// Wall-clock seconds of the window.
    pub seconds: f64,
    /// Share of the window the bench process was ready to run but waited
    /// for a CPU (`/proc/<pid>/schedstat` run delay): criterion's wall-clock
    /// samples include that wait.
    pub waited: f64,
    /// Involuntary context switches of the bench process in the window.
    pub preempted: u64,
    /// Other processes' CPU use over the window, in cores: every CPU's busy
    /// time (`/proc/stat`) minus the bench process's own.
    pub others_cores: f64,
    /// Share of all CPUs' time in the window the hypervisor gave to other
    /// guests (steal).
    pub steal: f64,
}

/// A window in which the bench process waited for a CPU for this share of
/// its time or more is disturbed. criterion's round median needs half of
/// its samples to be slowed before it moves, so a short wait cannot move it.
/// 5% was set before the corpora were collected, not tuned on them; on
/// `eval/corpus/contended-12` the rounds with a window at or above it moved
/// unchanged CPU-bound benchmarks by 4-71%, the others by under 1%
/// (docs/verdict-quality.md).
pub const DISTURBED_WAIT: f64 = 0.05;
/// The same for the hypervisor's steal, over all CPUs.
pub const DISTURBED_STEAL: f64 = 0.05;

impl Interference {
    /// Whether something else took this benchmark's CPU often enough to
    /// move its measurement: the one rule (paired rounds, eval corpora).
    /// `own_wait` is the wait the benchmark makes itself (`own_wait`): only
    /// the wait beyond it counts.
    pub fn disturbed(&self, own_wait: f64) -> bool {
        self.waited - own_wait >= DISTURBED_WAIT || self.steal >= DISTURBED_STEAL
    }
}

/// The wait a benchmark makes itself, from all of its windows: the least
/// any of them waited. A benchmark that hands work to another thread and
/// blocks until it is woken waits for a CPU in every window, busy machine
/// or not (a thread spawned and joined per iteration: 3-4% of each window
/// on an idle 2-core machine), and that wait is part of what it measures.
/// Something else taking the CPU in only some windows is what the rule
/// is after, and those windows wait beyond this floor.
pub fn own_wait<'a>(windows: impl IntoIterator<Item = &'a Interference>) -> f64 {
    windows
        .into_iter()
        .map(|w| w.waited)
        .reduce(f64::min)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_disturbed_by_waiting_or_steal_not_by_busy_neighbours() {
        let quiet = Interference {
            seconds: 0.4,
            waited: 0.01,
            preempted: 3,
            others_cores: 1.0,
            steal: 0.0,
        };
        assert!(
            !quiet.disturbed(0.0),
            "a busy other core alone does not take ours"
        );
        assert!(
            Interference {
                waited: 0.2,
                ..quiet
            }
            .disturbed(0.0)
        );
        assert!(
            Interference {
                steal: 0.06,
                ..quiet
            }
            .disturbed(0.0)
        );
    }

    #[test]
    fn a_benchmark_that_waits_in_every_window_is_disturbed_only_by_more_wait() {
        let window = |waited| Interference {
            seconds: 0.4,
            waited,
            ..Interference::default()
        };
        let windows = [window(0.038), window(0.061), window(0.034), window(0.12)];
        let own = own_wait(&windows);
        assert_eq!(own, 0.034);
        let disturbed: Vec<bool> = windows.iter().map(|w| w.disturbed(own)).collect();
        assert_eq!(disturbed, [false, false, false, true]);
        // Without its own wait taken off, 6.1% would have been disturbance.
        assert!(windows[1].disturbed(0.0));
        assert_eq!(own_wait(&[]), 0.0);
    }
}
