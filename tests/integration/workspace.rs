//! Issue 16: a virtual workspace with bench targets in several members,
//! through the real binary: found without configuration, selected with
//! `--package`, two members' targets of the same name kept apart, and ids
//! two targets share refused by name.

use crate::support::*;

fn listed(args: &[&str]) -> std::process::Output {
    run(in_fixture_target(
        flamegate(&fixture("workspace")).arg("list").args(args),
    ))
}

#[test]
fn issue_16_criterion_in_a_workspace_packages_select_and_ids_stay_apart() {
    let _machine = exclusive_benchmarking();
    // The default members' bench targets, both named `parse`.
    let output = listed(&[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).lines().collect::<Vec<_>>(),
        ["alpha/parse", "beta/parse"]
    );
    for package in ["alpha", "beta"] {
        assert!(
            stderr(&output).contains(&format!(
                "bench target `parse` (package {package}): 1 benchmark(s)"
            )),
            "{}",
            stderr(&output)
        );
    }
    // --package picks members, default or not.
    let output = listed(&["-p", "beta"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), ["beta/parse"]);
    let output = listed(&["--package", "gamma"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), ["alpha/parse"]);
    // gamma repeats alpha's id: refused, both named.
    let err = usage_error(&listed(&["-p", "alpha", "-p", "gamma"]));
    assert!(
        err.contains(
            "benchmark id `alpha/parse` is defined by bench target `parse` (package alpha) and by \
             bench target `parse` (package gamma)"
        ),
        "{err}"
    );
    let err = usage_error(&listed(&["-p", "nope"]));
    assert!(
        err.contains("no package `nope` with bench targets")
            && err.contains("packages with bench targets: alpha, beta, gamma"),
        "{err}"
    );

    // Timed: each member's own executable (its own id), run in its own
    // directory as under `cargo bench`.
    let out = tempfile::tempdir().unwrap();
    let record_path = out.path().join("run.json");
    let output = run(in_fixture_target(
        flamegate(&fixture("workspace"))
            .args(["run", "--out"])
            .arg(&record_path)
            .args(quick_no_profile()),
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    let record = flamegate::record::RunRecord::load(&record_path).unwrap();
    let ids: Vec<&str> = record.benches.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["alpha/parse", "beta/parse"]);
    for bench in &record.benches {
        assert_eq!(bench.samples.len(), 10, "{}", bench.id);
    }
}
