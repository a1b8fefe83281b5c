//! Heap operations per iteration carried in a `BenchResult` (measured by
//! `collect::allocations` with the bench-side `count_allocations!`).

use serde::{Deserialize, Serialize};

/// What one iteration of a benchmark's routine asked of the heap, from one
/// run of the allocation pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationCount {
    /// Blocks allocated (`alloc` and `alloc_zeroed`).
    pub allocations: u64,
    pub deallocations: u64,
    /// Blocks resized in place or moved (`realloc`).
    pub reallocations: u64,
    /// Bytes allocated: new blocks' sizes plus what reallocations grew by.
    pub bytes: u64,
    /// The most bytes held at once by blocks the routine allocated (or
    /// grew), counted from the iteration's start.
    pub peak_bytes: u64,
}

/// One measure of a count.
pub type Measure = fn(&AllocationCount) -> u64;

/// The measures an allocation check compares, each with its name in notes.
/// Reallocations are gated together with allocations, as calls that obtain
/// memory: a change that trades five allocations for one and two
/// reallocations asks less of the heap, while one that drops
/// `with_capacity` for growth by `push` asks more.
pub const GATED: [(&str, Measure); 3] = [
    ("allocations", |c| c.allocations),
    ("allocations + reallocations", |c| {
        c.allocations + c.reallocations
    }),
    ("bytes", |c| c.bytes),
];
