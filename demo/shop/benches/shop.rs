use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn orders(c: &mut Criterion) {
    let orders = shop::Orders::seeded(500, 40);
    c.bench_function("orders/for_customer", |b| b.iter(|| orders.for_customer(black_box(123))));
}

fn skus(c: &mut Criterion) {
    let skus: Vec<u64> = (0..2_000u64).map(|i| (i * 7_919) % 1_900).collect();
    c.bench_function("skus/find_duplicates", |b| b.iter(|| shop::find_duplicate_skus(black_box(&skus))));
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
    config = flamegate::criterion();
    targets = orders, skus, catalog
}
criterion_main!(benches);
