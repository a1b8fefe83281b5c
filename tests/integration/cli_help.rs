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
    let settings = flamegate::compare::settings::Settings::default();
    let check = help(&["check"]);
    for expected in [
        format!(
            "Smallest slowdown worth failing for [default: {}%]",
            settings.min_change * 100.0
        ),
        format!("[default: {}%]", settings.fdr * 100.0),
        format!(
            "[default: {} s per benchmark; {} to {} rounds]",
            flamegate::collect::rounds::BUDGET_PER_BENCHMARK.as_secs(),
            flamegate::collect::rounds::MIN_ROUNDS,
            flamegate::collect::rounds::MAX_ROUNDS
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

/// Issue 22: what the README states about verdicts and the paired rounds is
/// what the code does, rendered from the same constants.
#[test]
fn issue_22_the_readme_states_the_rules_the_code_uses() {
    use flamegate::collect::rounds::{BUDGET_PER_BENCHMARK, MAX_ROUNDS, MIN_ROUNDS, ROUND_ARGS};
    use flamegate::compare::paired::CHECK_TEST;
    use flamegate::compare::verdict::MIN_ROUNDS_TO_FLAG;
    let readme = std::fs::read_to_string(checkout_dir().join("README.md"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let settings = flamegate::compare::settings::Settings::default();
    for expected in [
        format!(
            "({} s warm-up, {} s, {} samples)",
            ROUND_ARGS[1], ROUND_ARGS[3], ROUND_ARGS[5]
        ),
        format!("test of the {} against the threshold", CHECK_TEST.name()),
        format!("every benchmark gets {MIN_ROUNDS};"),
        format!("a regression is only called from {MIN_ROUNDS_TO_FLAG} rounds or more"),
        format!("has had {MAX_ROUNDS}"),
        format!(
            "(default {} s per benchmark",
            BUDGET_PER_BENCHMARK.as_secs()
        ),
        "usually read \"inconclusive\" or \"likely slower\" (neither fails the gate)".into(),
        format!("fewer than the {MIN_ROUNDS_TO_FLAG} rounds a regression is called from"),
        format!("gets the {MIN_ROUNDS_TO_FLAG} rounds a regression needs even past the budget"),
        format!("`--min-change` (default {}%)", settings.min_change * 100.0),
        format!("`--fdr` (default {}%)", settings.fdr * 100.0),
        "only regressed fails the gate".into(),
        format!("`{}`", flamegate::hook::QUICK_CRITERION_ARGS.join(" ")),
    ] {
        assert!(readme.contains(&expected), "README lacks: {expected}");
    }
    // And `--help` says the same of the rounds.
    let check = help(&["check"]);
    for flag in ["--rounds", "--budget"] {
        let text = &check[check.find(&format!("{flag} <")).unwrap()..];
        let text = &text[..2 + text[2..].find(" --").unwrap()];
        assert!(
            text.contains(&format!(
                "A regression is only called from {MIN_ROUNDS_TO_FLAG} rounds."
            )),
            "{text}"
        );
    }
}

/// `cargo flamegate ...` works as cargo-nextest's and cargo-criterion's
/// subcommands do: cargo finds `cargo-flamegate` on PATH and runs it with
/// the subcommand's name first, which it drops; help names it so.
#[test]
fn cargo_runs_flamegate_as_its_subcommand() {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_cargo-flamegate"));
    let path = std::env::join_paths(std::iter::once(exe.parent().unwrap().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let cargo = |args: &[&str]| {
        run(std::process::Command::new(env!("CARGO"))
            .arg("flamegate")
            .args(args)
            .env("PATH", &path))
    };
    let version = cargo(&["--version"]);
    assert!(version.status.success(), "{}", stderr(&version));
    assert_eq!(
        stdout(&version).trim(),
        format!("flamegate {}", env!("CARGO_PKG_VERSION"))
    );
    let help = cargo(&["check", "--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    assert!(
        stdout(&help).contains("Usage: cargo flamegate check"),
        "{}",
        stdout(&help)
    );
    let wrong = cargo(&["chekc"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("'chekc'"), "{}", stderr(&wrong));
}

/// The README's first command, `cargo run --release -- demo`, needs cargo
/// to know which of the package's two binaries `cargo run` means: the
/// manifest's `default-run`, as cargo reads it. (Running `cargo run` here
/// would build flamegate again with other features: 40 s.)
#[test]
fn cargo_run_in_the_checkout_runs_flamegate() {
    let output = run(std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(checkout_dir()));
    assert!(output.status.success(), "{}", stderr(&output));
    let meta: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let package = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "flamegate")
        .unwrap();
    let binaries: Vec<&str> = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"][0] == "bin")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(binaries.len() > 1, "{binaries:?}");
    assert_eq!(package["default_run"], "flamegate");
}
