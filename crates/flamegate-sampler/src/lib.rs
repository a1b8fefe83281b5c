//! What flamegate's bench hooks share, without criterion:
//!
//! - [`Sampler`]: pprof sampling of one benchmark at a time, written as
//!   `<benchmark dir>/profile.pb` for flamegate's profiling pass. The
//!   criterion hooks (`flamegate-hook` on criterion 0.8,
//!   `flamegate-hook-criterion05` on 0.5) wrap it in their criterion's
//!   `Profiler`.
//! - [`count_allocations!`]: a global allocator that counts heap operations
//!   per iteration of criterion's timing loop in flamegate's allocation
//!   pass, and forwards untouched in every other run.
//! - [`profile_command()`]: for a command-line tool measured by its own
//!   commands (`[[command]]` in flamegate.toml), samples the whole process
//!   when flamegate's profiling pass runs it.
//!
//! Everything here is inert unless flamegate asks for it through the
//! environment, so timing runs are untouched.

mod allocations;
mod command;
mod sampler;

pub use allocations::{
    CountingAllocator, FORMAT_LINE, KEYS, LOOPS_ENV, MAX_LOOPS, OUTPUT_ENV, is_timing_loop,
};
pub use command::{CommandProfile, PROFILE_DIR_ENV, profile_command};
pub use sampler::{PROFILE_FILE, SAMPLING_HZ, Sampler};
