//! The sampling both profiler hooks share: pprof started when criterion
//! starts profiling a benchmark, its profile written as
//! `<benchmark dir>/profile.pb` when it stops. No criterion here: the hook
//! for criterion 0.8 (`flamegate-hook`) and the one for criterion 0.5
//! (`flamegate-hook-criterion05`) wrap it in their criterion's `Profiler`.

use std::os::raw::c_int;
use std::path::Path;

use pprof::protos::Message;

/// The protobuf file name flamegate looks for in each benchmark's profile dir.
pub const PROFILE_FILE: &str = "profile.pb";

/// Sampling frequency asked of pprof. The kernel caps SIGPROF sampling near
/// 250 Hz (its timer tick) whatever is asked; asking more costs nothing.
pub const SAMPLING_HZ: c_int = 997;

/// pprof sampling of one benchmark at a time.
#[derive(Default)]
pub struct Sampler {
    active: Option<pprof::ProfilerGuard<'static>>,
}

impl Sampler {
    pub fn start(&mut self, benchmark_id: &str) {
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

    pub fn stop(&mut self, benchmark_id: &str, benchmark_dir: &Path) {
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
