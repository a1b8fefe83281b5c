use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

// Counts heap allocations per iteration in flamegate's allocation pass; a
// relaxed atomic load per allocation otherwise.
flamegate_hook::count_allocations!();

/// Orders of one customer (40 each) among n orders: the index keeps the
/// lookup from growing with n.
fn orders(c: &mut Criterion) {
    let mut group = c.benchmark_group("orders");
    for n in [2_000i64, 8_000, 32_000] {
        let orders = shop::Orders::seeded(n / 40, 40);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("for_customer", n), &orders, |b, orders| {
            b.iter(|| orders.for_customer(black_box(23)))
        });
    }
    group.finish();
}

/// Duplicates in an import batch of n SKUs, about one in twenty repeated.
fn skus(c: &mut Criterion) {
    let mut group = c.benchmark_group("skus");
    for n in [250u64, 1_000, 4_000] {
        let skus: Vec<u64> = (0..n).map(|i| (i * 7_919) % (n - n / 20)).collect();
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::new("find_duplicates", n), &skus, |b, skus| {
            b.iter(|| shop::find_duplicate_skus(black_box(skus)))
        });
    }
    group.finish();
}

fn catalog(c: &mut Criterion) {
    let catalog = shop::Catalog::new(5_000);
    let cart: Vec<u32> = (0..50).map(|i| i * 97 + 1).collect();
    c.bench_function("catalog/lookup_cached", |b| b.iter(|| catalog.lookup(black_box(7_501))));
    c.bench_function("catalog/lookup_uncached", |b| b.iter(|| catalog.lookup_uncached(black_box(7_501))));
    c.bench_function("catalog/cart_total", |b| b.iter(|| catalog.cart_total(black_box(&cart))));
}

criterion_group! {
    name = benches;
    config = flamegate_hook::criterion();
    targets = orders, skus, catalog
}
criterion_main!(benches);
