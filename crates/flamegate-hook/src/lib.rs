//! flamegate's bench-side hook for benches on criterion 0.8.
//!
//! ```ignore
//! // benches/my_bench.rs
//! flamegate_hook::count_allocations!(); // optional: allocation counts
//!
//! criterion_group! { name = benches; config = flamegate_hook::criterion(); targets = my_bench }
//! criterion_main!(benches);
//! ```
//!
//! criterion calls a profiler only in its profiling mode (`--profile-time`),
//! so timing runs are untouched. In that mode each benchmark's body is
//! sampled and written as `<benchmark dir>/profile.pb` (pprof protobuf),
//! which `flamegate` folds into its run record, flamegraphs and hotspot
//! notes. A bench on criterion 0.5 installs `flamegate-hook-criterion05`
//! instead, so its dependency tree keeps one criterion.

use std::path::Path;

use criterion::Criterion;
use criterion::profiler::Profiler;
use flamegate_sampler::Sampler;

pub use flamegate_sampler::{CountingAllocator, count_allocations};

/// A `Criterion` with flamegate's profiler installed. Use it in your bench:
///
/// ```ignore
/// criterion_group! { name = benches; config = flamegate_hook::criterion(); targets = my_bench }
/// ```
pub fn criterion() -> Criterion {
    Criterion::default().with_profiler(PprofProfiler::default())
}

/// criterion's `Profiler` that samples with pprof and writes protobuf.
#[derive(Default)]
pub struct PprofProfiler(Sampler);

impl Profiler for PprofProfiler {
    fn start_profiling(&mut self, benchmark_id: &str, _benchmark_dir: &Path) {
        self.0.start(benchmark_id);
    }

    fn stop_profiling(&mut self, benchmark_id: &str, benchmark_dir: &Path) {
        self.0.stop(benchmark_id, benchmark_dir);
    }
}
