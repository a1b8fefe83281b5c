//! flamegate's own hot paths: reading criterion output, the statistics, and
//! rendering the Markdown comment. Gated against `baselines/flamegate.json`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use flamegate::baseline::Baseline;
use flamegate::collect::criterion_output::read_criterion_home;
use flamegate::collect::shard::{assign, merge_records};
use flamegate::compare::settings::Settings;
use flamegate::compare::stored::against_stored;
use flamegate::error::RecordSource;
use flamegate::profile::fold::{encode_as_pprof, fold};
use flamegate::profile::hotspots::hotspots;
use flamegate::record::shard::ShardInfo;
use flamegate::record::shard::ShardSpec;
use flamegate::record::shard::SplitMethod;
use flamegate::record::{BenchId, BenchResult, Machine, RECORD_SCHEMA, RunRecord};
use flamegate::render::Renderer;
use flamegate::render::flamegraph::differential_svg;
use flamegate::render::markdown::Markdown;

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
        same_code: Default::default(),
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
            .map(|i| {
                BenchResult::new(
                    BenchId(format!("group{}/bench{i}", i % 10)),
                    format!("group{}", i % 10),
                    flamegate::record::SampleUnit::Nanoseconds,
                    (0..100)
                        .map(|_| (1000.0 + i as f64 * 10.0) * (0.98 + 0.04 * next()))
                        .collect(),
                )
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

/// A git repository whose main branch holds `commits` versions of a
/// `benches`-benchmark baseline (100 samples each), written with git2
/// (blobs and commits only, no work tree files but Cargo's).
fn history_repo(benches: usize, commits: usize) -> tempfile::TempDir {
    history_repo_changing_every(benches, commits, 1)
}

/// `history_repo` whose baseline changes at every `every`-th commit only;
/// the commits between change a source file, as on a real main branch.
fn history_repo_changing_every(benches: usize, commits: usize, every: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let signature = git2::Signature::new(
        "bench",
        "bench@example.invalid",
        &git2::Time::new(1_700_000_000, 0),
    )
    .unwrap();
    let mut parent: Option<git2::Oid> = None;
    for version in 0..commits {
        let mut record = suite(benches, (version / every) as u64);
        // A 20% slowdown of one benchmark half-way: the detector has work.
        if version >= commits / 2 {
            for sample in &mut record.benches[7].samples {
                *sample *= 1.2;
            }
        }
        let blob = repo.blob(record.to_json().as_bytes()).unwrap();
        let mut baselines = repo.treebuilder(None).unwrap();
        baselines.insert("suite.json", blob, 0o100644).unwrap();
        let baselines = baselines.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("baselines", baselines, 0o040000).unwrap();
        let source = repo.blob(format!("// {version}\n").as_bytes()).unwrap();
        root.insert("lib.rs", source, 0o100644).unwrap();
        let tree = repo.find_tree(root.write().unwrap()).unwrap();
        let parents: Vec<git2::Commit<'_>> = parent
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let message = format!("baseline {version}");
        let oid = repo
            .commit(
                Some("refs/heads/main"),
                &signature,
                &signature,
                &message,
                &tree,
                &parents,
            )
            .unwrap();
        parent = Some(oid);
    }
    dir
}

/// `flamegate history` of 1,000 benchmarks over 200 commits: reading every
/// version from git, the level shifts, and the HTML page (issue 19 asks for
/// at most 5 s on the 2-core CI machine, and a page of at most 10 MB).
fn history(c: &mut Criterion) {
    let repo = history_repo(1_000, 200);
    let request = flamegate::history::Request {
        project_dir: repo.path(),
        suite: "suite",
        branch: Some("main"),
        limit: 500,
        filter: None,
        min_change: 0.01,
        head: None,
        pending: None,
    };
    let page = flamegate::render::history::html(
        &flamegate::history::read(&request, flamegate::progress::Progress::Silent).unwrap(),
    );
    eprintln!(
        "history page of 1,000 benchmarks x 200 commits: {} KB",
        page.len() / 1024
    );
    assert!(page.len() <= 10 << 20, "the page must stay within 10 MB");
    let mut group = c.benchmark_group("history");
    group.sample_size(10);
    group.bench_function("read_and_render/1000x200", |b| {
        b.iter(|| {
            let history =
                flamegate::history::read(&request, flamegate::progress::Progress::Silent).unwrap();
            black_box(flamegate::render::history::html(&history))
        })
    });
    group.finish();
}

/// The stored baseline and its noise history (20 earlier versions) from a
/// main branch of 2,000 commits whose 200-benchmark baseline changed at
/// every 50th: the walk reads every commit's tree, and a version's blob
/// only when it differs.
fn baseline_history(c: &mut Criterion) {
    let repo = history_repo_changing_every(200, 2_000, 50);
    let spec = flamegate::baseline::BaseSpec::Revision("main".into());
    let mut group = c.benchmark_group("baseline");
    group.sample_size(10);
    group.bench_function("load_with_history/200x2000_commits", |b| {
        b.iter(|| black_box(flamegate::baseline::load(repo.path(), "suite", &spec, 20).unwrap()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = flamegate_hook::criterion();
    targets = pipeline, profiles, shards, history, baseline_history
}
criterion_main!(benches);
