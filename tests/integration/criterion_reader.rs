//! criterion 0.8's output files, read from fixtures of real output.

use flamegate::collect::criterion_output::read_criterion_home;
use flamegate::error::Error;

use crate::support::{fixture, flamegate, run, usage_error};

#[test]
fn reads_ids_throughput_and_raw_samples() {
    let benches = read_criterion_home(&fixture("criterion-0.8")).unwrap();
    let ids: Vec<&str> = benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["sum/range/1000", "sum/range/10000", "sum_small"]);
    let range = &benches[0];
    assert_eq!(range.group, "sum");
    assert_eq!(range.function.as_deref(), Some("range"));
    assert_eq!(range.parameter.as_deref(), Some("1000"));
    let throughput = range.throughput.as_ref().unwrap();
    assert_eq!(
        (throughput.unit.as_str(), throughput.per_iteration),
        ("Elements", 1000)
    );
    assert_eq!(range.samples.len(), 10);
    // First sample of the fixture: 7367085 ns over 3861351 iterations.
    assert!((range.samples[0] - 7_367_085.0 / 3_861_351.0).abs() < 1e-12);
    let small = &benches[2];
    assert_eq!(
        (small.function.as_deref(), small.parameter.as_deref()),
        (None, None)
    );
}

#[test]
fn an_unexpected_layout_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("bench/new");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::copy(
        fixture("criterion-0.8/sum_small/new/benchmark.json"),
        new.join("benchmark.json"),
    )
    .unwrap();
    std::fs::write(
        new.join("sample.json"),
        r#"{"sampling_mode":"Linear","iters":[1.0,2.0],"times":[5.0]}"#,
    )
    .unwrap();
    let err = read_criterion_home(dir.path()).unwrap_err();
    assert!(matches!(err, Error::CriterionLayout { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("sample.json") && message.contains("2 iteration counts but 1 times"),
        "{message}"
    );

    std::fs::write(new.join("sample.json"), r#"{"samples":[1,2]}"#).unwrap();
    let message = read_criterion_home(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("missing field") && message.contains("cargo tree -i criterion"),
        "{message}"
    );
}

/// Issue 16: a bench target with its own harness (not criterion) is named
/// with what it printed and what flamegate supports, never run blind or
/// skipped in silence.
#[test]
fn issue_16_a_bench_target_that_is_not_criterion_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "Cargo.toml",
        "[package]\nname = \"own-harness\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [[bench]]\nname = \"custom\"\nharness = false\n",
    );
    write("src/lib.rs", "");
    write(
        "benches/custom.rs",
        "fn main() { println!(\"my own harness, args {:?}\", std::env::args().skip(1).collect::<Vec<_>>()); }\n",
    );
    let err = usage_error(&run(flamegate(dir.path())
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .arg("list")));
    for expected in [
        "bench target `custom` listed no criterion benchmark",
        "it printed: my own harness",
        "criterion 0.3 to 0.8",
        "--bench <name>",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
}
