//! flamegate's bench-side hook for benches on criterion 0.5.
//!
//! `flamegate-hook` is built on criterion 0.8; a bench on 0.5 installs this
//! instead, so its dependency tree keeps one criterion:
//!
//! ```ignore
//! flamegate_hook_criterion05::count_allocations!(); // optional: allocation counts
//!
//! criterion_group! { name = benches; config = flamegate_hook_criterion05::criterion(); targets = my_bench }
//! ```
//!
//! The sampling and the allocation counter are `flamegate-sampler`'s, the
//! same as the 0.8 hook's: criterion calls the hook only in its profiling
//! mode (`--profile-time`), so timing runs are untouched.

use std::path::Path;

use criterion::Criterion;
use criterion::profiler::Profiler;
use flamegate_sampler::Sampler;

pub use flamegate_sampler::{CountingAllocator, count_allocations};

/// A `Criterion` with flamegate's profiler installed.
pub fn criterion() -> Criterion {
    Criterion::default().with_profiler(Hook::default())
}

/// criterion 0.5's `Profiler` around flamegate's sampler.
#[derive(Default)]
pub struct Hook(Sampler);

impl Profiler for Hook {
    fn start_profiling(&mut self, benchmark_id: &str, _benchmark_dir: &Path) {
        self.0.start(benchmark_id);
    }

    fn stop_profiling(&mut self, benchmark_id: &str, benchmark_dir: &Path) {
        self.0.stop(benchmark_id, benchmark_dir);
    }
}
