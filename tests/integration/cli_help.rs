//! `--help` teaches with the defaults the code uses (issue 18): rendered from
//! the constants, so a changed default cannot leave the help behind.

use crate::support::*;

fn help(args: &[&str]) -> String {
    let output = run(flamegate(std::path::Path::new("."))
        .args(args)
        .arg("--help"));
    assert!(output.status.success(), "{}", stderr(&output));
    // Wrapped lines joined, so a phrase split by the terminal width matches.
    stdout(&output)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn issue_18_help_shows_the_defaults_the_code_uses() {
    let settings = flamegate::compare::Settings::default();
    let check = help(&["check"]);
    for expected in [
        format!(
            "Smallest slowdown worth failing for [default: {}%]",
            settings.min_change * 100.0
        ),
        format!("[default: {}%]", settings.fdr * 100.0),
        format!(
            "[default: {} s per benchmark; {} to {} rounds]",
            flamegate::collect::paired::BUDGET_PER_BENCHMARK.as_secs(),
            flamegate::collect::paired::MIN_ROUNDS,
            flamegate::collect::paired::MAX_ROUNDS
        ),
        format!("[default: {}]", flamegate::config::DEFAULT_HISTORY),
        format!("[default: {}]", flamegate::collect::DEFAULT_PROFILE_SECONDS),
    ] {
        assert!(check.contains(&expected), "{expected}\n{check}");
    }
    let install = help(&["hook", "install"]);
    let quick = format!(
        "[default: {}]",
        flamegate::hook::QUICK_CRITERION_ARGS.join(" ")
    );
    assert!(install.contains(&quick), "{quick}\n{install}");
    // Flags shared by several commands get the same text everywhere.
    assert!(help(&["compare"]).contains(&format!("[default: {}%]", settings.fdr * 100.0)));
}
