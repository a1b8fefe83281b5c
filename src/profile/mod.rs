//! Profile: pprof protobuf → folded stacks → hotspot notes.
//!
//! Takes the `profile.pb` files the bench-side hooks write (crates/
//! flamegate-hook, flamegate-hook-criterion05, flamegate-sampler); hands on
//! `FoldedStacks` (the one profile format downstream: flamegraphs, diffs,
//! hotspots) with the profiler's and criterion's own frames removed.

pub mod fold;
pub mod hotspots;

/// The criterion versions (major, minor) a profiler hook exists for: 0.8
/// (`flamegate-hook`) and 0.5 (`flamegate-hook-criterion05`). A bench on
/// another criterion cannot install one (its `Criterion` is another type).
pub const CRITERION_VERSIONS: [(u64, u64); 2] = [(0, 8), (0, 5)];
