//! flamegate's own hot paths: reading criterion output, the statistics, and
//! rendering the Markdown comment. Gated against `baselines/flamegate.json`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use flamegate::baseline::Baseline;
use flamegate::collect::criterion_output::read_criterion_home;
use flamegate::collect::shard::{ShardInfo, ShardSpec, SplitMethod, assign, merge_records};
use flamegate::compare::{Settings, against_stored};
use flamegate::error::RecordSource;
use flamegate::profile::fold::{encode_as_pprof, fold};
use flamegate::profile::hotspots::hotspots;
use flamegate::record::{BenchId, BenchResult, Machine, RECORD_SCHEMA, RunRecord};
use flamegate::render::flamegraph::differential_svg;
use flamegate::render::{Markdown, Renderer};

/// A synthetic suite record: `benches` benchmarks of 100 samples each,
/// sorted by id as records read from disk are.
fn suite(benches: usize, seed: u64) -> RunRecord {
    let mut record = unsorted_suite(benches, seed);
    record.benches.sort_by(|a, b| a.id.cmp(&b.id));
    record
}

fn unsorted_suite(benches: usize, seed: u64) -> RunRecord {
    let mut state = seed.wrapping_add(1);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    RunRecord {
        schema: RECORD_SCHEMA,
        commit: None,
        dirty: false,
        machine: Machine {
            cpu_model: "bench".into(),
            logical_cores: 2,
            os: "bench".into(),
            rustc: "rustc".into(),
            governor: None,
            valgrind: None,
        },
        created: time::OffsetDateTime::UNIX_EPOCH,
        shard: None,
        benches: (0..benches)
            .map(|i| BenchResult {
                id: BenchId(format!("group{}/bench{i}", i % 10)),
                group: format!("group{}", i % 10),
                function: None,
                parameter: None,
                unit: "ns".into(),
                samples: (0..100)
                    .map(|_| (1000.0 + i as f64 * 10.0) * (0.98 + 0.04 * next()))
                    .collect(),
                throughput: None,
                profile: None,
                seconds: None,
                functions: None,
                simulated: None,
            })
            .collect(),
    }
}

fn baseline(benches: usize) -> Baseline {
    Baseline {
        record: suite(benches, 0),
        source: RecordSource::File("base.json".into()),
        commit: None,
        chosen_as: "bench".into(),
        history: (1..10).map(|s| suite(benches, s)).collect(),
        notes: Vec::new(),
    }
}

fn pipeline(c: &mut Criterion) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/criterion-0.8");
    c.bench_function("collect/read_criterion_output", |b| {
        b.iter(|| read_criterion_home(black_box(&fixture)).expect("fixture reads"))
    });

    let base = baseline(200);
    let head = suite(200, 42);
    let settings = Settings::default();
    c.bench_function("compare/stored_baseline_200x10", |b| {
        b.iter(|| {
            against_stored(
                "bench",
                black_box(&head),
                "head",
                black_box(&base),
                &settings,
            )
        })
    });

    let report = against_stored("bench", &head, "head", &base, &settings);
    c.bench_function("render/markdown_200", |b| {
        b.iter(|| Markdown.render(black_box(&report)))
    });
}

/// The merge job of a sharded suite: 5,000 benchmarks in 16 shard records,
/// merged, compared (one false-discovery control over all) and rendered.
fn shards(c: &mut Criterion) {
    const BENCHES: usize = 5_000;
    const SHARDS: usize = 16;
    let base = baseline(BENCHES);
    let head = suite(BENCHES, 42);
    let ids: Vec<BenchId> = head.benches.iter().map(|b| b.id.clone()).collect();
    let (assignment, _) = assign(&ids, &Default::default(), SHARDS);
    let records: Vec<RunRecord> = (1..=SHARDS)
        .map(|index| RunRecord {
            benches: head
                .benches
                .iter()
                .filter(|b| assignment[&b.id] == index)
                .cloned()
                .collect(),
            shard: Some(ShardInfo {
                spec: ShardSpec {
                    index,
                    count: SHARDS,
                },
                suite: "bench".into(),
                assignment: assignment.clone(),
                split: SplitMethod::IdHash,
            }),
            ..head.clone()
        })
        .collect();
    let labels: Vec<String> = (1..=SHARDS).map(|k| format!("shard-{k}")).collect();
    let settings = Settings::default();
    let mut group = c.benchmark_group("shards");
    group.sample_size(10);
    group.bench_function("merge_5000_in_16", |b| {
        b.iter(|| merge_records(black_box(records.clone()), &labels).expect("shards merge"))
    });
    group.bench_function("merge_compare_render_5000_in_16", |b| {
        b.iter(|| {
            let merged = merge_records(black_box(records.clone()), &labels).expect("shards merge");
            let report = against_stored("bench", &merged.record, "merged", &base, &settings);
            Markdown.render(&report)
        })
    });
    group.finish();
}

/// A synthetic pprof profile: `samples` samples over distinct stacks 30 to
/// 60 frames deep, drawn from 400 function names.
fn synthetic_profile(samples: u64, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_add(7);
    let mut next = move |bound: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % bound
    };
    let names: Vec<String> = (0..400)
        .map(|i| format!("app::module{}::function_{i}::h0123456789abcdef", i % 17))
        .collect();
    let mut stacks = Vec::new();
    let mut left = samples;
    while left > 0 {
        let depth = 30 + next(31);
        let frames: Vec<String> = (0..depth)
            .map(|_| names[next(400) as usize].clone())
            .collect();
        let count = (1 + next(20)).min(left);
        left -= count;
        stacks.push((frames, count));
    }
    encode_as_pprof(&stacks)
}

fn profiles(c: &mut Criterion) {
    let base_bytes = synthetic_profile(100_000, 1);
    let head_bytes = synthetic_profile(100_000, 2);
    c.bench_function("profile/fold_100k_samples", |b| {
        b.iter(|| fold(black_box(&base_bytes)).expect("synthetic profile folds"))
    });
    let base = fold(&base_bytes).expect("synthetic profile folds");
    let head = fold(&head_bytes).expect("synthetic profile folds");
    c.bench_function("profile/hotspots_100k_samples", |b| {
        b.iter(|| hotspots(Some(black_box(&base)), black_box(&head)))
    });
    c.bench_function("profile/differential_svg_100k_samples", |b| {
        b.iter(|| {
            differential_svg("bench", black_box(&base), black_box(&head)).expect("svg renders")
        })
    });
}

criterion_group! {
    name = benches;
    config = flamegate::criterion();
    targets = pipeline, profiles, shards
}
criterion_main!(benches);
