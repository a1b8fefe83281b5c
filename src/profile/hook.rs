//! The bench-side hook: a criterion `Profiler` around pprof.
//!
//! criterion calls a profiler only in its profiling mode (`--profile-time`),
//! so timing runs are untouched. In that mode each benchmark's body is
//! sampled and written as `<benchmark dir>/profile.pb` (pprof protobuf),
//! which `flamegate run` folds into the run's record.

use std::os::raw::c_int;
use std::path::Path;

use criterion::Criterion;
use criterion::profiler::Profiler;
use pprof::protos::Message;

/// The criterion version (major, minor) the hook is built against: a bench
/// on another criterion cannot install it (its `Criterion` is another type).
pub const CRITERION: (u64, u64) = (0, 8);

/// The protobuf file name flamegate looks for in each benchmark's profile dir.
pub const PROFILE_FILE: &str = "profile.pb";

/// Sampling frequency asked of pprof. The kernel caps SIGPROF sampling near
/// 250 Hz whatever is asked (TOOLCHAIN.md); asking more costs nothing.
pub const SAMPLING_HZ: c_int = 997;

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
pub struct PprofProfiler {
    active: Option<pprof::ProfilerGuard<'static>>,
}

impl Profiler for PprofProfiler {
    fn start_profiling(&mut self, benchmark_id: &str, _benchmark_dir: &Path) {
        match pprof::ProfilerGuardBuilder::default()
            .frequency(SAMPLING_HZ)
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
        {
            Ok(guard) => self.active = Some(guard),
            // A profile is a bonus: never fail the benchmark over it.
            Err(e) => eprintln!("flamegate: cannot profile {benchmark_id}: {e}"),
        }
    }

    fn stop_profiling(&mut self, benchmark_id: &str, benchmark_dir: &Path) {
        let Some(guard) = self.active.take() else {
            return;
        };
        let written = guard
            .report()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|report| report.pprof().map_err(|e| e.to_string()))
            .and_then(|profile| {
                let mut bytes = Vec::new();
                profile.encode(&mut bytes).map_err(|e| e.to_string())?;
                std::fs::create_dir_all(benchmark_dir).map_err(|e| e.to_string())?;
                std::fs::write(benchmark_dir.join(PROFILE_FILE), bytes).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            eprintln!("flamegate: cannot write the profile of {benchmark_id}: {e}");
        }
    }
}
