//! flamegate's own hot paths: reading criterion output, the statistics, and
//! rendering the Markdown comment. Gated against `baselines/flamegate.json`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use flamegate::baseline::Baseline;
use flamegate::collect::criterion_output::read_criterion_home;
use flamegate::compare::{Settings, against_stored};
use flamegate::error::RecordSource;
use flamegate::record::{BenchId, BenchResult, Machine, RECORD_SCHEMA, RunRecord};
use flamegate::render::{Markdown, Renderer};

/// A synthetic suite record: `benches` benchmarks of 100 samples each.
fn suite(benches: usize, seed: u64) -> RunRecord {
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
        },
        created: time::OffsetDateTime::UNIX_EPOCH,
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

criterion_group!(benches, pipeline);
criterion_main!(benches);
