//! flamegate's profiler hook for benches on criterion 0.5.
//!
//! `flamegate::criterion()` is built on criterion 0.8; a bench on 0.5
//! installs this instead, so its dependency tree keeps one criterion:
//!
//! ```ignore
//! criterion_group! { name = benches; config = flamegate_hook_criterion05::criterion(); targets = my_bench }
//! ```
//!
//! The sampling is flamegate's own (src/profile/sampler.rs, the same file):
//! criterion calls the hook only in its profiling mode (`--profile-time`),
//! so timing runs are untouched.

use std::path::Path;

use criterion::Criterion;
use criterion::profiler::Profiler;

#[path = "../../../src/profile/sampler.rs"]
mod sampler;

// The allocation counter is flamegate's own too (the same file), so a bench
// on criterion 0.5 installs it with `flamegate_hook_criterion05::count_allocations!();`.
#[path = "../../../src/profile/allocations.rs"]
pub mod allocations;
pub use allocations::CountingAllocator;

/// A `Criterion` with flamegate's profiler installed.
pub fn criterion() -> Criterion {
    Criterion::default().with_profiler(Hook::default())
}

/// criterion 0.5's `Profiler` around flamegate's sampler.
#[derive(Default)]
pub struct Hook(sampler::Sampler);

impl Profiler for Hook {
    fn start_profiling(&mut self, benchmark_id: &str, _benchmark_dir: &Path) {
        self.0.start(benchmark_id);
    }

    fn stop_profiling(&mut self, benchmark_id: &str, benchmark_dir: &Path) {
        self.0.stop(benchmark_id, benchmark_dir);
    }
}
