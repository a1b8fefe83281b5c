//! The configuration is resolved and checked once, before any work
//! (issue 18): a broken `flamegate.toml` or flag stops every command that
//! reads it at once, with the fix named, and nothing is built or run.

use crate::support::*;

/// A copy of the tiny fixture with this `flamegate.toml`.
fn project_with_config(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tiny(dir.path());
    std::fs::write(dir.path().join("flamegate.toml"), config).unwrap();
    dir
}

#[test]
fn issue_18_a_bad_setting_stops_every_command_before_anything_is_built() {
    let dir = project_with_config("[thresholds]\nfdr = \"0%\"\n");
    // A shard never compares, yet its merge would: it is refused up front
    // rather than after minutes of measuring.
    for args in [
        &["check", "--shard", "1/2"][..],
        &["check", "--paired"],
        &["run"],
        &["baseline", "update", "--force"],
        &["compare", "--head", "HEAD"],
    ] {
        let err = usage_error(&run(flamegate(dir.path()).args(args)));
        assert!(
            err.contains("false discovery rate must be between 0% and 100%"),
            "{args:?}: {err}"
        );
    }
    assert!(
        !dir.path().join("target").exists(),
        "nothing may be built for a configuration that cannot be used"
    );

    let dir = project_with_config("profile_time = 0.5\n");
    let err = usage_error(&run(flamegate(dir.path()).args(["check", "--paired"])));
    assert!(
        err.contains("got 0.5 (from --profile-time, else flamegate.toml's `profile_time`)"),
        "{err}"
    );
    // The flag wins over the file, and is checked by the same rule.
    let err = usage_error(&run(flamegate(dir.path()).args([
        "run",
        "--profile-time",
        "0.2",
    ])));
    assert!(err.contains("got 0.2"), "{err}");
    assert!(!dir.path().join("target").exists());
}
