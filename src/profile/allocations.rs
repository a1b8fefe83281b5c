//! The bench-side allocation counter: `flamegate::count_allocations!()`
//! installs a global allocator that wraps the system's (or another one)
//! and, in flamegate's allocation pass only, counts the heap operations made
//! inside criterion's timing loop.
//!
//! Why it looks at the stack: criterion calls nothing of ours around
//! `Bencher::iter`, and the bench functions' signatures (`&mut Criterion`)
//! fix its measurement to wall time, so the only way to tell the routine's
//! allocations from the set-up's is to look at who asked. An operation
//! counts when a `criterion::…Bencher…::iter*` frame is on the calling
//! thread's stack. flamegate runs each benchmark alone in criterion's
//! `--test` mode, which calls the routine exactly once, so the counts are
//! per iteration. The walk is slow (microseconds per operation), which is
//! why it happens only in that pass.
//!
//! In every other run (timing, profiling) the allocator reads one atomic
//! and forwards to the allocator it wraps: the environment variable that
//! starts counting is read once, at the first allocation.
//!
//! This file is also the criterion 0.5 hook crate's (hooks/criterion-0.5
//! includes it), so it names nothing of flamegate's but the macro's
//! `$crate::CountingAllocator`, which both crates export at their root.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{Mutex, Once};

/// Where the allocation pass asks for the counts to be written (a file
/// path). Its presence in a bench executable's bytes is also how flamegate
/// tells that the executable counts allocations.
pub const OUTPUT_ENV: &str = "FLAMEGATE_ALLOCATIONS_OUT";

/// The first line of the counts file; the version changes with its layout.
pub const FORMAT_LINE: &str = "flamegate allocations 1";

/// The counts file's keys, one `key value` line each, in this order.
pub const KEYS: [&str; 5] = [
    "allocations",
    "deallocations",
    "reallocations",
    "bytes",
    "peak_bytes",
];

/// Install flamegate's allocation counter as the bench target's global
/// allocator, wrapping the system allocator, or the unit-struct allocator
/// named (`count_allocations!(mimalloc::MiMalloc)`):
///
/// ```ignore
/// flamegate::count_allocations!();
/// ```
///
/// Timing runs pay one atomic load per heap operation; flamegate's
/// allocation pass counts allocations, deallocations, reallocations, bytes
/// and peak live bytes per iteration of each benchmark's routine.
#[macro_export]
macro_rules! count_allocations {
    () => {
        $crate::count_allocations!(::std::alloc::System);
    };
    ($allocator:path) => {
        #[global_allocator]
        static FLAMEGATE_COUNTING_ALLOCATOR: $crate::CountingAllocator<$allocator> =
            $crate::CountingAllocator($allocator);
    };
}

/// A global allocator that forwards to `A` and, in flamegate's allocation
/// pass, counts what criterion's timing loop asks of it.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAllocator<A = System>(pub A);

const UNDECIDED: u8 = 0;
const OFF: u8 = 1;
const COUNTING: u8 = 2;

/// Whether this process counts: decided at the first heap operation.
static STATE: AtomicU8 = AtomicU8::new(UNDECIDED);
static DECIDE: Once = Once::new();
static TALLY: Mutex<Option<Tally>> = Mutex::new(None);

thread_local! {
    /// Set while this thread is inside the counter: the counter's own
    /// allocations (its maps, symbol lookups, the file it writes) go
    /// straight through, uncounted and without recursion.
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// What the timing loop did, and what the counter needs to know it.
#[derive(Default)]
struct Tally {
    output: std::ffi::OsString,
    allocations: u64,
    deallocations: u64,
    reallocations: u64,
    bytes: u64,
    /// Bytes held by live blocks the timing loop allocated (or grew).
    live: u64,
    peak: u64,
    /// Those blocks: address → the timing loop's bytes in it.
    blocks: HashMap<usize, u64>,
    /// Return addresses already looked up: whether each is in the loop.
    frames: HashMap<usize, bool>,
}

enum Event {
    Alloc {
        at: usize,
        size: u64,
    },
    Dealloc {
        at: usize,
    },
    Realloc {
        from: usize,
        to: usize,
        old: u64,
        new: u64,
    },
}

// SAFETY: every method forwards its arguments unchanged to `A`, which
// upholds `GlobalAlloc`'s contract; counting reads only addresses and sizes.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `A`'s.
        let ptr = unsafe { self.0.alloc(layout) };
        if STATE.load(Relaxed) != OFF && !ptr.is_null() {
            record(Event::Alloc {
                at: ptr as usize,
                size: layout.size() as u64,
            });
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let ptr = unsafe { self.0.alloc_zeroed(layout) };
        if STATE.load(Relaxed) != OFF && !ptr.is_null() {
            record(Event::Alloc {
                at: ptr as usize,
                size: layout.size() as u64,
            });
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Counted before the block is freed: once freed, another thread may
        // be handed the same address.
        if STATE.load(Relaxed) != OFF {
            record(Event::Dealloc { at: ptr as usize });
        }
        // SAFETY: `ptr` came from `A` with `layout` (the caller's contract).
        unsafe { self.0.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is `A`'s.
        let new = unsafe { self.0.realloc(ptr, layout, new_size) };
        if STATE.load(Relaxed) != OFF && !new.is_null() {
            record(Event::Realloc {
                from: ptr as usize,
                to: new as usize,
                old: layout.size() as u64,
                new: new_size as u64,
            });
        }
        new
    }
}

/// Count one heap operation, unless this thread is already counting.
#[cold]
#[inline(never)]
fn record(event: Event) {
    let _ = BUSY.try_with(|busy| {
        if busy.replace(true) {
            return;
        }
        DECIDE.call_once(decide);
        if STATE.load(Relaxed) == COUNTING {
            count(event);
        }
        busy.set(false);
    });
}

/// Count in this process only when flamegate's allocation pass asks.
fn decide() {
    let Some(output) = std::env::var_os(OUTPUT_ENV) else {
        STATE.store(OFF, Relaxed);
        return;
    };
    if let Ok(mut tally) = TALLY.lock() {
        *tally = Some(Tally {
            output,
            ..Tally::default()
        });
    }
    // SAFETY: `write_counts` is an `extern "C" fn()` that does not unwind.
    unsafe {
        libc::atexit(write_counts);
    }
    STATE.store(COUNTING, Relaxed);
}

fn count(event: Event) {
    let Ok(mut guard) = TALLY.lock() else {
        return;
    };
    let Some(tally) = guard.as_mut() else {
        return;
    };
    let in_loop = in_timing_loop(&mut tally.frames);
    match event {
        Event::Alloc { at, size } => {
            if in_loop {
                tally.allocations += 1;
                tally.bytes += size;
                tally.blocks.insert(at, size);
                tally.live += size;
                tally.peak = tally.peak.max(tally.live);
            }
        }
        Event::Dealloc { at } => {
            if in_loop {
                tally.deallocations += 1;
            }
            if let Some(held) = tally.blocks.remove(&at) {
                tally.live -= held;
            }
        }
        Event::Realloc { from, to, old, new } => {
            let held = tally.blocks.remove(&from);
            if in_loop {
                tally.reallocations += 1;
                tally.bytes += new.saturating_sub(old);
                let before = held.unwrap_or(0);
                // Growth is the loop's; shrinking gives back what it held.
                let after = if new >= old {
                    before + (new - old)
                } else {
                    before.saturating_sub(old - new)
                };
                tally.live = tally.live - before + after;
                tally.peak = tally.peak.max(tally.live);
                if after > 0 {
                    tally.blocks.insert(to, after);
                }
            } else if let Some(held) = held {
                tally.blocks.insert(to, held);
            }
        }
    }
}

/// Whether a frame of criterion's timing loop is on this thread's stack.
fn in_timing_loop(frames: &mut HashMap<usize, bool>) -> bool {
    let mut found = false;
    backtrace::trace(|frame| {
        let ip = frame.ip() as usize;
        let hit = *frames.entry(ip).or_insert_with(|| {
            let mut hit = false;
            // Inlined frames come as several symbols at one address.
            backtrace::resolve_frame(frame, |symbol| {
                if let Some(name) = symbol.name() {
                    hit |= is_timing_loop(&name.to_string());
                }
            });
            hit
        });
        found = hit;
        !hit
    });
    found
}

/// criterion's timing loops, whatever the version and symbol mangling:
/// `criterion::bencher::Bencher<M>::iter`, `…::iter_batched`,
/// `<criterion::bencher::AsyncBencher<A, M>>::iter::<…>`, 0.3's
/// `criterion::Bencher<M>::iter_with_setup`.
pub fn is_timing_loop(function: &str) -> bool {
    let function = function.trim_start_matches('<');
    function.starts_with("criterion::")
        && function.contains("Bencher")
        && function.contains(">::iter")
}

/// At exit: the counts, one `key value` line each, to the file asked for.
extern "C" fn write_counts() {
    let _ = BUSY.try_with(|busy| busy.set(true));
    let Ok(guard) = TALLY.lock() else {
        return;
    };
    let Some(tally) = guard.as_ref() else {
        return;
    };
    let values = [
        tally.allocations,
        tally.deallocations,
        tally.reallocations,
        tally.bytes,
        tally.peak,
    ];
    let mut text = format!("{FORMAT_LINE}\n");
    for (key, value) in KEYS.iter().zip(values) {
        text.push_str(&format!("{key} {value}\n"));
    }
    if let Err(e) = std::fs::write(&tally.output, text) {
        eprintln!(
            "flamegate: cannot write allocation counts to {}: {e}",
            std::path::Path::new(&tally.output).display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_loops_of_every_mangling_are_recognised() {
        for name in [
            "criterion::bencher::Bencher<M>::iter",
            "criterion::bencher::Bencher<M>::iter_batched",
            "<criterion::bencher::Bencher<criterion::measurement::WallTime>>::iter::<u64, tiny::benches::{closure#0}::{closure#0}>",
            "criterion::bencher::AsyncBencher<A,M>::iter",
            "criterion::Bencher<M>::iter_with_setup",
        ] {
            assert!(is_timing_loop(name), "{name}");
        }
        for name in [
            "tiny::benches::{{closure}}",
            "<criterion::routine::Function<M,F,T> as criterion::routine::Routine<M,T>>::bench",
            "criterion::Criterion<M>::bench_function",
            "alloc::vec::Vec<T>::iter",
        ] {
            assert!(!is_timing_loop(name), "{name}");
        }
    }
}
