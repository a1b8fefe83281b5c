//! divan benches: listed, timed in stored and paired mode, counted, through
//! the real binary; a seeded slowdown failed and a neutral change passed.

use std::path::Path;

use crate::support::*;

const FILES: [&str; 3] = ["Cargo.lock", "src/lib.rs", "benches/walk.rs"];

fn divan_repo(dir: &Path) {
    copy_fixture("divan", &FILES, dir);
    init_and_commit(dir, "divan");
}

#[test]
fn a_divan_bench_is_listed_timed_counted_and_a_slowdown_fails() {
    let _machine = exclusive_benchmarking();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    divan_repo(&repo);
    let target = fixture_target_dir().join("divan");

    // Listed as divan names them, filtered like criterion ids.
    let list = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .args(["list", "--filter", "sum"]));
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert_eq!(stdout(&list), "walk::sum::1000\nwalk::sum::4000\n");

    // A stored baseline: several short divan processes, one sample each.
    let update = run(flamegate(&repo).env("CARGO_TARGET_DIR", &target).args([
        "baseline",
        "update",
        "--no-profile",
    ]));
    assert_eq!(update.status.code(), Some(0), "{}", stderr(&update));
    let stored = flamegate::record::RunRecord::load(&repo.join("baselines/divanfx.json")).unwrap();
    let ids: Vec<&str> = stored.benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "walk::small",
            "walk::squares",
            "walk::sum::1000",
            "walk::sum::4000"
        ]
    );
    for bench in &stored.benches {
        assert_eq!(bench.unit, flamegate::record::SampleUnit::Nanoseconds);
        assert_eq!(bench.samples.len(), 10, "{}", bench.id);
        assert!(bench.samples.iter().all(|s| *s > 10.0), "{bench:?}");
    }
    // divan's AllocProfiler counts: one block of 1000 u64s per call.
    let squares = &stored.benches[1];
    assert_eq!(squares.allocations.len(), 3, "{squares:?}");
    for count in &squares.allocations {
        assert_eq!((count.allocations, count.bytes), (1, 8000), "{count:?}");
    }
    git_in(&repo, &["add", "baselines"]);
    git_in(&repo, &["commit", "-q", "-m", "baseline"]);

    // Instruction counts: divan's `Bencher::bench` in its test mode, one
    // call of the routine (and divan's own steps around it).
    let counted = dir.path().join("counted.json");
    let output = run(flamegate(&repo)
        .env("CARGO_TARGET_DIR", &target)
        .args(["run", "--measure", "instructions", "--out"])
        .arg(&counted));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let counted = flamegate::record::RunRecord::load(&counted).unwrap();
    let count = |id: &str| {
        let bench = counted
            .benches
            .iter()
            .find(|b| b.id.as_str() == id)
            .unwrap();
        assert_eq!(bench.unit, flamegate::record::SampleUnit::Instructions);
        bench.samples[0]
    };
    let (short, long) = (count("walk::sum::1000"), count("walk::sum::4000"));
    // Four times the loop, plus the same bookkeeping: between 3 and 4 times.
    assert!(long > 3.0 * short && long < 4.0 * short, "{short} {long}");

    // Checked against the record with nothing changed: what each benchmark
    // executed is what the record says, so nothing is timed.
    let out = dir.path().join("unchanged");
    let output = check_against_main(&repo, &target, &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let unchanged = report(&out);
    for id in ["walk::small", "walk::sum::1000", "walk::sum::4000"] {
        assert_eq!(verdict_of(&unchanged, id), "SameCode", "{id}");
    }

    // A neutral change (one more benchmark) passes paired. (divan's own
    // steps around the routine are compiled anew with the bench, and may
    // read as changed code: then the others are timed.)
    git_in(&repo, &["checkout", "-q", "-b", "neutral"]);
    let bench = repo.join("benches/walk.rs");
    let text = std::fs::read_to_string(&bench).unwrap();
    let more =
        "#[divan::bench]\nfn large() -> u64 {\n    divanfx::sum(divan::black_box(9000))\n}\n";
    std::fs::write(&bench, format!("{text}\n{more}")).unwrap();
    git_in(&repo, &["commit", "-q", "-am", "neutral"]);
    let out = dir.path().join("neutral");
    let output = check_against_main(&repo, &target, &out, &["--paired", "--rounds", "6"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let neutral = report(&out);
    assert_eq!(verdict_of(&neutral, "walk::large"), "New");
    let sum = comparison_of(&neutral, "walk::sum::4000");
    assert!(
        sum["verdict"] == "SameCode" || timed_in_rounds(sum, 6),
        "{sum}"
    );

    // A modulo in the loop: slower, in both modes.
    git_in(&repo, &["checkout", "-q", "-b", "slow", "main"]);
    replace_in(
        &repo.join("src/lib.rs"),
        "wrapping_mul(0x9E37_79B9_7F4A_7C15))",
        "wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000_007)",
    );
    // And squares grown by push: more allocations.
    replace_in(
        &repo.join("src/lib.rs"),
        "(0..n).map(|i| i * i).collect()",
        "let mut v = Vec::new(); for i in 0..n { v.push(i * i) } v",
    );
    git_in(&repo, &["commit", "-q", "-am", "slow"]);
    for (name, mode) in [
        ("stored", &[][..]),
        ("paired", &["--paired", "--rounds", "6"]),
    ] {
        let out = dir.path().join(name);
        let output = check_against_main(&repo, &target, &out, mode);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stderr(&output));
        let report = report(&out);
        assert_eq!(
            verdict_of(&report, "walk::sum::4000"),
            "Regressed",
            "{name}"
        );
        let squares = &comparison_of(&report, "walk::squares")["allocations"];
        assert_eq!(squares["base"]["allocations"], 1, "{name}: {squares}");
        assert!(
            squares["grew"]
                .as_array()
                .is_some_and(|grew| grew.contains(&"allocations + reallocations".into())),
            "{name}: {squares}"
        );
    }
    // The paired check counted both sides' instructions too.
    let paired = report(&dir.path().join("paired"));
    let check = &comparison_of(&paired, "walk::sum::4000")["instructions"];
    assert!(check["change"].as_f64().unwrap() > 0.1, "{check}");
}
