//! The bench-side allocation counter: `flamegate_hook::count_allocations!()`
//! installs a global allocator that wraps the system's (or another one)
//! and, in flamegate's allocation pass only, counts the heap operations made
//! inside criterion's timing loop.
//!
//! Why it looks at the stack: criterion calls nothing of ours around
//! `Bencher::iter`, and the bench functions' signatures (`&mut Criterion`)
//! fix its measurement to wall time, so the only way to tell the routine's
//! allocations from the set-up's is to look at who asked. An operation
//! counts when a return address on the calling thread's stack lies in one
//! of criterion's `Bencher::iter*` functions (all `#[inline(never)]`), whose
//! address ranges flamegate reads from the bench executable's symbol table
//! before the run (`LOOPS_ENV`). flamegate runs each benchmark alone in
//! criterion's `--test` mode, which calls the routine exactly once, so the
//! counts are per iteration. In `iter_batched*` the set-up runs inside that
//! function too, so its allocations count with the routine's.
//!
//! Inside the allocator the counter symbolizes nothing, takes no lock,
//! allocates nothing and cannot unwind: it walks the stack unsynchronized,
//! compares raw addresses, and keeps its counts in atomics and a fixed
//! table of the loop's live blocks. A panic there aborts the process.
//!
//! In every other run (timing, profiling) the allocator reads one atomic
//! and forwards to the allocator it wraps: the environment variable that
//! starts counting is read once, at the first allocation.
//!
//! Both criterion hooks re-export the macro; it names `$crate::CountingAllocator`,
//! this crate's, so a bench needs no dependency on this crate by name.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Once;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Where the allocation pass asks for the counts to be written (a file
/// path). Its presence in a bench executable's bytes is also how flamegate
/// tells that the executable counts allocations.
pub const OUTPUT_ENV: &str = "FLAMEGATE_ALLOCATIONS_OUT";
const OUTPUT_ENV_C: &std::ffi::CStr = c"FLAMEGATE_ALLOCATIONS_OUT";

/// Where criterion's timing loops are: `<entry> <start>+<length> …`, in
/// hexadecimal link-time addresses (the executable's entry point, then each
/// `Bencher::iter*` function), as the allocation pass reads them from the
/// bench executable's symbol table.
pub const LOOPS_ENV: &str = "FLAMEGATE_ALLOCATIONS_LOOPS";
const LOOPS_ENV_C: &std::ffi::CStr = c"FLAMEGATE_ALLOCATIONS_LOOPS";

/// The most timing-loop functions one executable may pass (one per routine
/// type: a suite of thousands of benchmarks has as many).
pub const MAX_LOOPS: usize = 4096;

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
/// flamegate_hook::count_allocations!();
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

/// The timing loops' runtime address ranges, `[start, end)`.
static LOOPS: [(AtomicUsize, AtomicUsize); MAX_LOOPS] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; MAX_LOOPS];
static LOOP_COUNT: AtomicUsize = AtomicUsize::new(0);

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static DEALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static REALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
/// Bytes held by live blocks the timing loop allocated (or grew).
static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
/// Blocks the table had no room for: `peak_bytes` is then a lower bound.
static UNTRACKED: AtomicU64 = AtomicU64::new(0);

/// The loop's live blocks: address → its bytes, open addressing.
const TABLE: usize = 1 << 17;
const PROBES: usize = 256;
const EMPTY: usize = 0;
const TOMBSTONE: usize = 1;
static BLOCKS: [(AtomicUsize, AtomicU64); TABLE] =
    [const { (AtomicUsize::new(EMPTY), AtomicU64::new(0)) }; TABLE];

thread_local! {
    /// Set while this thread is inside the counter: the counter's own
    /// work (at exit, writing the file) goes straight through, uncounted
    /// and without recursion.
    static BUSY: Cell<bool> = const { Cell::new(false) };
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

/// Aborts the process if dropped while unwinding: a panic must never
/// leave the allocator.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::process::abort();
        }
    }
}

/// Count one heap operation, unless this thread is already counting.
#[cold]
#[inline(never)]
fn record(event: Event) {
    let guard = AbortOnUnwind;
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
    std::mem::forget(guard);
}

/// Count in this process only when flamegate's allocation pass asks, and
/// says where the timing loops are. Reads the environment with `getenv`
/// (no allocation) and parses in place.
fn decide() {
    // SAFETY: both names are NUL-terminated; the strings returned stay
    // valid while nothing sets the environment, and are only read here.
    let (output, loops) = unsafe {
        (
            libc::getenv(OUTPUT_ENV_C.as_ptr()),
            libc::getenv(LOOPS_ENV_C.as_ptr()),
        )
    };
    if output.is_null() || loops.is_null() {
        STATE.store(OFF, Relaxed);
        return;
    }
    // SAFETY: `getenv` returned a NUL-terminated string.
    let loops = unsafe { std::ffi::CStr::from_ptr(loops) }.to_bytes();
    let Some(count) = runtime_entry().and_then(|entry| store_loops(loops, entry)) else {
        STATE.store(OFF, Relaxed);
        return;
    };
    LOOP_COUNT.store(count, Relaxed);
    // SAFETY: `write_counts` is an `extern "C" fn()` that does not unwind.
    unsafe {
        libc::atexit(write_counts);
    }
    STATE.store(COUNTING, Relaxed);
}

/// The entry point's address in this process (the executable may be loaded
/// anywhere: position-independent).
#[cfg(target_os = "linux")]
fn runtime_entry() -> Option<usize> {
    // SAFETY: getauxval has no preconditions.
    let entry = unsafe { libc::getauxval(libc::AT_ENTRY) } as usize;
    (entry != 0).then_some(entry)
}

#[cfg(not(target_os = "linux"))]
fn runtime_entry() -> Option<usize> {
    None
}

/// Parse `LOOPS_ENV`'s value into `LOOPS`, moved to where the executable
/// was loaded; the number of ranges, or None when it is not well formed.
fn store_loops(text: &[u8], runtime_entry: usize) -> Option<usize> {
    let mut words = text.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let link_entry = hex(words.next()?)?;
    let slide = runtime_entry.wrapping_sub(link_entry);
    let mut count = 0;
    for word in words {
        let plus = word.iter().position(|&b| b == b'+')?;
        let (start, length) = (hex(&word[..plus])?, hex(&word[plus + 1..])?);
        let (slot_start, slot_end) = LOOPS.get(count)?;
        let start = start.wrapping_add(slide);
        slot_start.store(start, Relaxed);
        slot_end.store(start.wrapping_add(length), Relaxed);
        count += 1;
    }
    (count > 0).then_some(count)
}

fn hex(word: &[u8]) -> Option<usize> {
    if word.is_empty() || word.len() > 16 {
        return None;
    }
    word.iter().try_fold(0usize, |value, &b| {
        let digit = (b as char).to_digit(16)? as usize;
        Some(value << 4 | digit)
    })
}

fn count(event: Event) {
    let in_loop = in_timing_loop();
    match event {
        Event::Alloc { at, size } => {
            if in_loop {
                ALLOCATIONS.fetch_add(1, Relaxed);
                BYTES.fetch_add(size, Relaxed);
                track(at, size);
            }
        }
        Event::Dealloc { at } => {
            if in_loop {
                DEALLOCATIONS.fetch_add(1, Relaxed);
            }
            if let Some(held) = untrack(at) {
                LIVE.fetch_sub(held, Relaxed);
            }
        }
        Event::Realloc { from, to, old, new } => {
            let held = untrack(from);
            if let Some(held) = held {
                LIVE.fetch_sub(held, Relaxed);
            }
            if in_loop {
                REALLOCATIONS.fetch_add(1, Relaxed);
                BYTES.fetch_add(new.saturating_sub(old), Relaxed);
                let before = held.unwrap_or(0);
                // Growth is the loop's; shrinking gives back what it held.
                let after = if new >= old {
                    before + (new - old)
                } else {
                    before.saturating_sub(old - new)
                };
                if after > 0 {
                    track(to, after);
                }
            } else if let Some(held) = held {
                track(to, held);
            }
        }
    }
}

/// A live block of the loop's: its bytes count towards the peak.
fn track(at: usize, bytes: u64) {
    let live = LIVE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(live, Relaxed);
    let home = slot_of(at);
    for probe in 0..PROBES {
        let (address, held) = &BLOCKS[(home + probe) % TABLE];
        let current = address.load(Relaxed);
        if (current == EMPTY || current == TOMBSTONE)
            && address
                .compare_exchange(current, at, Relaxed, Relaxed)
                .is_ok()
        {
            held.store(bytes, Relaxed);
            return;
        }
    }
    // No room: the block's bytes stay in LIVE for good (a lower bound).
    UNTRACKED.fetch_add(1, Relaxed);
}

/// The bytes the loop held in the block at `at`, which is leaving.
fn untrack(at: usize) -> Option<u64> {
    let home = slot_of(at);
    for probe in 0..PROBES {
        let (address, held) = &BLOCKS[(home + probe) % TABLE];
        match address.load(Relaxed) {
            EMPTY => return None,
            current if current == at => {
                let bytes = held.load(Relaxed);
                address.store(TOMBSTONE, Relaxed);
                return Some(bytes);
            }
            _ => {}
        }
    }
    None
}

fn slot_of(at: usize) -> usize {
    // Blocks are aligned: the low bits say little. Fibonacci hashing.
    ((at >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize)) % TABLE
}

/// Whether a return address on this thread's stack lies in one of
/// criterion's timing loops. Unsynchronized: no lock that user code (or
/// the `backtrace` crate it may use) could hold.
fn in_timing_loop() -> bool {
    let count = LOOP_COUNT.load(Relaxed);
    let mut found = false;
    // SAFETY: the walk runs on this thread's own stack and calls nothing
    // but the closure, which reads atomics.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            let ip = frame.ip() as usize;
            found = LOOPS[..count].iter().any(|(start, end)| {
                let (start, end) = (start.load(Relaxed), end.load(Relaxed));
                // A return address follows its call: it may equal `end`.
                start < ip && ip <= end
            });
            !found
        });
    }
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
    let Some(output) = std::env::var_os(OUTPUT_ENV) else {
        return;
    };
    let values = [
        ALLOCATIONS.load(Relaxed),
        DEALLOCATIONS.load(Relaxed),
        REALLOCATIONS.load(Relaxed),
        BYTES.load(Relaxed),
        PEAK.load(Relaxed),
    ];
    let mut text = format!("{FORMAT_LINE}\n");
    for (key, value) in KEYS.iter().zip(values) {
        text.push_str(&format!("{key} {value}\n"));
    }
    let untracked = UNTRACKED.load(Relaxed);
    if untracked > 0 {
        eprintln!(
            "flamegate: {untracked} live blocks of the routine did not fit the counter's table; \
             peak_bytes is a lower bound"
        );
    }
    if let Err(e) = std::fs::write(&output, text) {
        eprintln!(
            "flamegate: cannot write allocation counts to {}: {e}",
            std::path::Path::new(&output).display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_ranges_move_with_the_entry_point_and_damage_counts_nothing() {
        assert_eq!(hex(b"1f"), Some(0x1f));
        assert_eq!(hex(b"x"), None);
        assert_eq!(hex(b""), None);
        assert_eq!(store_loops(b"1000 2000+10 3000+20", 0x5000), Some(2));
        assert_eq!(LOOPS[0].0.load(Relaxed), 0x6000);
        assert_eq!(LOOPS[1].1.load(Relaxed), 0x7020);
        assert_eq!(store_loops(b"1000", 0x5000), None);
        assert_eq!(store_loops(b"1000 2000", 0x5000), None);
        assert_eq!(store_loops(b"zz 2000+10", 0x5000), None);
    }

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
