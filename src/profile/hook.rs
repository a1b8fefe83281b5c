//! The bench-side hook: a criterion `Profiler` around pprof.
//!
//! criterion calls a profiler only in its profiling mode (`--profile-time`),
//! so timing runs are untouched. In that mode each benchmark's body is
//! sampled and written as `<benchmark dir>/profile.pb` (pprof protobuf),
//! which `flamegate run` folds into the run's record.

use std::path::Path;

use criterion::Criterion;
use criterion::profiler::Profiler;

pub use super::sampler::{PROFILE_FILE, SAMPLING_HZ};

/// The criterion versions (major, minor) a profiler hook exists for: 0.8
/// here (`flamegate::criterion()`), 0.5 in the separate crate
/// `flamegate-hook-criterion05` (hooks/criterion-0.5), so a bench on 0.5
/// keeps one criterion in its dependency tree. A bench on another criterion
/// cannot install one (its `Criterion` is another type).
pub const CRITERION_VERSIONS: [(u64, u64); 2] = [(0, 8), (0, 5)];

/// A `Criterion` with flamegate's profiler installed. Use it in your bench:
///
/// ```ignore
/// criterion_group! { name = benches; config = flamegate::criterion(); targets = my_bench }
/// ```
pub fn criterion() -> Criterion {
    Criterion::default().with_profiler(PprofProfiler::default())
}

/// criterion's `Profiler` that samples with pprof and writes protobuf.
#[derive(Default)]
pub struct PprofProfiler(super::sampler::Sampler);

impl Profiler for PprofProfiler {
    fn start_profiling(&mut self, benchmark_id: &str, _benchmark_dir: &Path) {
        self.0.start(benchmark_id);
    }

    fn stop_profiling(&mut self, benchmark_id: &str, benchmark_dir: &Path) {
        self.0.stop(benchmark_id, benchmark_dir);
    }
}
