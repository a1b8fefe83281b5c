//! Work kernels for flamegate's detection-quality evaluation.
//!
//! Every kernel does `units` units of the same work, so a build or run can
//! add exactly k% more work to one benchmark: `units + units * k / 100`
//! (every base unit count is a multiple of 100). The extra work is real work
//! in the benchmark's own loop, never a sleep.

use std::hint::black_box;

/// The environment variable that injects a slowdown: `<benchmark id>@<percent>`,
/// optionally followed by `i` when the benchmark's declared input grows with
/// the work (an input-size trial: the same cost per element, more elements).
/// The base side of a comparison sets it too (`none@000`, padded to the same
/// length), so both sides start with environments of equal size: the size of
/// the environment shifts the stack and can change timings by itself.
pub const INJECT_VAR: &str = "FLAMEGATE_EVAL_INJECT";

/// Marks an injection whose declared input grows with the work.
pub const INPUT_GROWS: char = 'i';

/// The benchmark the injection names, its percentage, and whether the
/// declared input grows with it.
fn injection(injection: Option<&str>) -> Option<(&str, u64, bool)> {
    let (target, percent) = injection?.split_once('@')?;
    let percent = percent.trim();
    let (digits, input) = match percent.strip_suffix(INPUT_GROWS) {
        Some(digits) => (digits, true),
        None => (percent, false),
    };
    let percent: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("{INJECT_VAR}: `{percent}` is not a whole percentage"));
    Some((target.trim(), percent, input))
}

/// The elements of input a benchmark declares (criterion's throughput): its
/// base units, or its units of work when the injection names it with a
/// growing input.
pub fn declared_for(id: &str, base_units: u64, value: Option<&str>) -> u64 {
    match injection(value) {
        Some((target, _, true)) if target == id => units_for(id, base_units, value),
        _ => base_units,
    }
}

/// The units of work a benchmark does, with the injected slowdown applied
/// when `injection` (the variable's value) names this benchmark.
pub fn units_for(id: &str, base_units: u64, injection: Option<&str>) -> u64 {
    assert!(base_units % 100 == 0, "base units must be a multiple of 100");
    match self::injection(injection) {
        Some((target, percent, _)) if target == id => base_units + base_units / 100 * percent,
        _ => base_units,
    }
}

/// CPU-bound: a dependent chain of rotate-xor steps (no memory, no branches).
pub fn rotate_xor(units: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15u64);
    for _ in 0..units {
        x = x.rotate_left(7) ^ 0x5851_F42D_4C95_7F2D;
    }
    x
}

/// CPU-bound floating point: a dependent multiply-add chain.
pub fn horner(units: u64) -> f64 {
    let mut acc = black_box(0.5f64);
    let c = black_box(0.999_999f64);
    for _ in 0..units {
        acc = acc * c + 1e-9;
    }
    acc
}

/// CPU-bound hashing: FNV-1a over a 1 KiB buffer, `units` passes.
pub fn fnv_passes(buffer: &[u8], units: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for _ in 0..units {
        for &byte in black_box(buffer) {
            hash = (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A table for pointer chasing: `table[i]` is the next index, following a
/// full-period linear congruential sequence (every slot visited once per
/// cycle; each load depends on the previous one, so prefetchers cannot help).
/// `len` must be a power of two.
pub fn chase_table(len: usize) -> Vec<u32> {
    assert!(len.is_power_of_two());
    let mask = len as u64 - 1;
    (0..len as u64)
        .map(|i| ((i.wrapping_mul(0x5DEE_CE66D) + 0xB) & mask) as u32)
        .collect()
}

/// Memory-bound: `units` dependent loads through a chase table.
pub fn chase(table: &[u32], units: u64) -> u32 {
    let mut index = black_box(0u32);
    for _ in 0..units {
        index = table[index as usize];
    }
    index
}

/// Allocation-heavy: `units` heap allocations of varying sizes, each
/// written and freed.
pub fn churn(units: u64) -> usize {
    let mut total = 0;
    for i in 0..units {
        let mut v: Vec<u8> = Vec::with_capacity(black_box(16 + (i as usize * 37) % 2048));
        v.push(i as u8);
        total += black_box(&v).capacity();
    }
    total
}

/// Branchy: a data-dependent branch over random bytes, `units` bytes
/// (the buffer repeats when `units` exceeds it).
pub fn branchy(bytes: &[u8], units: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..units as usize {
        let b = bytes[i % bytes.len()];
        if black_box(b) > 127 {
            acc = acc.wrapping_mul(3).wrapping_add(b as u64);
        } else {
            acc ^= (b as u64) << (i & 31);
        }
    }
    acc
}

/// Random bytes from a fixed seed (xorshift), so both sides see the same data.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_adds_exactly_k_percent_to_the_named_benchmark_only() {
        assert_eq!(units_for("cpu/a", 10_000, Some("cpu/a@005")), 10_500);
        assert_eq!(units_for("cpu/a", 10_000, Some("cpu/b@005")), 10_000);
        assert_eq!(units_for("cpu/a", 10_000, Some("none@000")), 10_000);
        assert_eq!(units_for("cpu/a", 10_000, None), 10_000);
        assert_eq!(units_for("cpu/a", 100, Some("cpu/a       @001")), 101);
    }

    #[test]
    fn a_growing_input_is_declared_with_the_work() {
        assert_eq!(units_for("cpu/a", 10_000, Some("cpu/a@012i")), 11_200);
        assert_eq!(declared_for("cpu/a", 10_000, Some("cpu/a@012i")), 11_200);
        assert_eq!(declared_for("cpu/a", 10_000, Some("cpu/a@012 ")), 10_000);
        assert_eq!(declared_for("cpu/b", 10_000, Some("cpu/a@012i")), 10_000);
        assert_eq!(declared_for("cpu/a", 10_000, None), 10_000);
    }

    #[test]
    fn the_chase_table_is_one_full_cycle() {
        let table = chase_table(1 << 12);
        let mut index = 0u32;
        for step in 1..=table.len() {
            index = table[index as usize];
            assert_eq!(index == 0, step == table.len(), "step {step}");
        }
    }
}
