//! The evaluation suite: eight benchmarks of several kinds, ~70 ns to
//! ~10 ms per iteration. `FLAMEGATE_EVAL_INJECT=<id>@<percent>` adds exactly
//! that much work to one of them (see the library).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flamegate_eval_suite::*;
use std::hint::black_box;

/// Benchmark `id` (`group/function`), declaring its units as elements of
/// input: the base units, unless an input-size trial grows them.
fn bench(c: &mut Criterion, id: &str, base_units: u64, mut work: impl FnMut(u64) -> u64) {
    let injection = std::env::var(INJECT_VAR).ok();
    let units = units_for(id, base_units, injection.as_deref());
    let (group, function) = id.split_once('/').expect("ids are group/function");
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(declared_for(id, base_units, injection.as_deref())));
    group.bench_function(function, |b| b.iter(|| work(black_box(units))));
    group.finish();
}

fn suite(c: &mut Criterion) {
    bench(c, "cpu/rotate_xor_100", 100, rotate_xor);
    bench(c, "cpu/rotate_xor_10k", 10_000, rotate_xor);
    bench(c, "cpu/horner_1ms", 500_000, |n| horner(n).to_bits());
    let kib = random_bytes(1024);
    bench(c, "cpu/fnv_10ms", 8_000, |n| fnv_passes(&kib, n));
    // 1 MiB: inside this machine's 2 MiB L2 (lscpu); 64 MiB: twice its L3.
    let cached = chase_table(1 << 18);
    bench(c, "mem/chase_l2", 5_000, |n| chase(&cached, n) as u64);
    let dram = chase_table(1 << 24);
    bench(c, "mem/chase_dram", 20_000, |n| chase(&dram, n) as u64);
    bench(c, "alloc/churn", 200, |n| churn(n) as u64);
    let bytes = random_bytes(64 * 1024);
    bench(c, "branch/unpredictable", 20_000, |n| branchy(&bytes, n));
}

criterion_group!(benches, suite);
criterion_main!(benches);
