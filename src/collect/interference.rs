//! Measuring interference over a benchmark's measurement window: snapshots
//! of the bench process's scheduler statistics and the system's CPU time at
//! the window's start and end (`/proc`, Linux only; elsewhere nothing is
//! measured and no window is ever called disturbed).

use std::time::Instant;

use crate::record::interference::Interference;

/// One moment's counters.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    at: Instant,
    /// The bench process's CPU time and run-queue wait, in ns.
    ran_ns: u64,
    waited_ns: u64,
    preempted: u64,
    /// Every CPU's busy, steal and total time, in clock ticks.
    busy_ticks: u64,
    steal_ticks: u64,
    total_ticks: u64,
}

impl Probe {
    /// The counters of process `pid` and of the system now; `None` when
    /// /proc cannot be read (not Linux, or the process has exited).
    #[cfg(target_os = "linux")]
    pub fn take(pid: u32) -> Option<Probe> {
        use procfs::{CurrentSI, KernelStats};
        let process = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?;
        let sched = process.schedstat().ok()?;
        let preempted = process
            .status()
            .ok()?
            .nonvoluntary_ctxt_switches
            .unwrap_or(0);
        let cpu = KernelStats::current().ok()?.total;
        let steal = cpu.steal.unwrap_or(0);
        let busy =
            cpu.user + cpu.nice + cpu.system + cpu.irq.unwrap_or(0) + cpu.softirq.unwrap_or(0);
        Some(Probe {
            at: Instant::now(),
            ran_ns: sched.sum_exec_runtime,
            waited_ns: sched.run_delay,
            preempted,
            busy_ticks: busy,
            steal_ticks: steal,
            total_ticks: busy + cpu.idle + cpu.iowait.unwrap_or(0) + steal,
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn take(_pid: u32) -> Option<Probe> {
        None
    }

    /// What happened between `start` and this probe.
    pub fn since(&self, start: &Probe) -> Interference {
        let seconds = self.at.duration_since(start.at).as_secs_f64().max(1e-9);
        let ticks_per_second = ticks_per_second();
        let own_seconds = self.ran_ns.saturating_sub(start.ran_ns) as f64 / 1e9;
        let busy_seconds =
            self.busy_ticks.saturating_sub(start.busy_ticks) as f64 / ticks_per_second;
        let total_ticks = self.total_ticks.saturating_sub(start.total_ticks);
        Interference {
            seconds,
            waited: (self.waited_ns.saturating_sub(start.waited_ns) as f64 / 1e9 / seconds)
                .min(1.0),
            preempted: self.preempted.saturating_sub(start.preempted),
            others_cores: ((busy_seconds - own_seconds) / seconds).max(0.0),
            steal: if total_ticks == 0 {
                0.0
            } else {
                self.steal_ticks.saturating_sub(start.steal_ticks) as f64 / total_ticks as f64
            },
        }
    }
}

#[cfg(target_os = "linux")]
fn ticks_per_second() -> f64 {
    procfs::ticks_per_second() as f64
}

#[cfg(not(target_os = "linux"))]
fn ticks_per_second() -> f64 {
    100.0
}

/// Follows the measurement windows of one bench process from criterion's
/// progress lines: a window opens at "Collecting" and closes at
/// "Analyzing".
#[derive(Debug, Default)]
pub struct Windows {
    pid: u32,
    open: std::collections::BTreeMap<String, Probe>,
    pub closed: std::collections::BTreeMap<String, Interference>,
}

impl Windows {
    pub fn of(pid: u32) -> Windows {
        Windows {
            pid,
            ..Windows::default()
        }
    }

    /// Note criterion's `status` for benchmark `id`.
    pub fn status(&mut self, id: &str, status: &str) {
        if status.starts_with("Collecting") {
            if let Some(probe) = Probe::take(self.pid) {
                self.open.insert(id.to_string(), probe);
            }
        } else if status == "Analyzing"
            && let Some(start) = self.open.remove(id)
            && let Some(end) = Probe::take(self.pid)
        {
            self.closed.insert(id.to_string(), end.since(&start));
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A shell loop that keeps a CPU busy, pinned to CPU 0.
    fn spinner() -> std::process::Child {
        std::process::Command::new("taskset")
            .args(["-c", "0", "sh", "-c", "while :; do :; done"])
            .spawn()
            .expect("taskset and sh run")
    }

    #[test]
    fn two_processes_sharing_one_cpu_each_wait_for_it_about_half_the_time() {
        let mut first = spinner();
        let mut second = spinner();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let start = Probe::take(first.id()).expect("/proc is readable on Linux");
        std::thread::sleep(std::time::Duration::from_millis(600));
        let end = Probe::take(first.id()).expect("the spinner still runs");
        let _ = (first.kill(), second.kill(), first.wait(), second.wait());
        let window = end.since(&start);
        assert!((0.55..5.0).contains(&window.seconds), "{window:?}");
        // Half of its window waiting for CPU 0 (more if anything else ran
        // there): disturbed.
        assert!(window.waited > 0.3, "{window:?}");
        assert!(window.disturbed(0.0), "{window:?}");
        // The other spinner, at least: most of a core.
        assert!(window.others_cores > 0.3, "{window:?}");
        assert!((0.0..=1.0).contains(&window.steal), "{window:?}");
    }
}
