//! Profile: pprof protobuf → folded stacks → hotspot notes; and the
//! bench-side hooks: the profiler that writes the protobuf, the allocation
//! counter (`count_allocations!`).
//!
//! Takes the `profile.pb` files of criterion's profiling pass; hands on
//! `FoldedStacks` (the one profile format downstream: flamegraphs, diffs,
//! hotspots) with the profiler's and criterion's own frames removed.

pub mod allocations;
pub mod command;
pub mod hook;
pub mod sampler;

#[cfg(feature = "cli")]
pub mod fold;
#[cfg(feature = "cli")]
pub mod hotspots;
