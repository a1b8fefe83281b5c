//! flamegate as cargo's `RUSTC_WORKSPACE_WRAPPER` in paired builds. The
//! base is built from a checkout in another folder; mapping its paths onto
//! the head's keeps embedded file names equal on both sides, so identical
//! code gives identical binaries. Cargo runs the workspace wrapper for the
//! workspace's own crates only: dependencies build exactly as in the
//! user's own builds (no RUSTFLAGS of flamegate's), so cargo reuses their
//! compiled units, and `build.rustflags` in `.cargo/config.toml` still
//! applies on both sides (RUSTFLAGS would override it).

use std::ffi::OsString;
use std::process::Command;

use crate::error::{Error, Result};

/// The extra compiler flags, joined by `SEPARATOR` (paths may hold spaces).
const FLAGS_VAR: &str = "FLAMEGATE_WORKSPACE_RUSTC_FLAGS";
/// A workspace wrapper the user had set, which flamegate's then runs.
const NEXT_VAR: &str = "FLAMEGATE_NEXT_WORKSPACE_WRAPPER";
const SEPARATOR: char = '\u{1f}';
const WRAPPER_VAR: &str = "RUSTC_WORKSPACE_WRAPPER";

/// The build environment that makes cargo compile the workspace's crates
/// through this executable with `flags` added. cargo's record of a unit
/// covers the wrapper, not these flags: a unit flamegate compiled with
/// other flags counts as fresh. That holds for the flags flamegate passes:
/// debug info is in every build, and the paired path mapping leaves the
/// head's own paths as they are (the base's sources are stamped newer, so
/// the base's units rebuild: `paired::seed_base_target`).
pub fn build_env(flags: &[String]) -> Result<Vec<(String, String)>> {
    let exe = std::env::current_exe().map_err(|e| Error::io("the flamegate executable", e))?;
    let mut env = vec![
        (WRAPPER_VAR.to_string(), exe.to_string_lossy().into_owned()),
        (FLAGS_VAR.to_string(), flags.join(&SEPARATOR.to_string())),
    ];
    if let Some(next) = std::env::var_os(WRAPPER_VAR).filter(|w| !w.is_empty()) {
        env.push((NEXT_VAR.to_string(), next.to_string_lossy().into_owned()));
    }
    Ok(env)
}

/// When cargo runs this executable as the workspace wrapper (`build_env`
/// set, the compiler as the first argument): run the compiler, or the
/// user's own wrapper, with the flags added, and give its exit code.
/// `None` when this is an ordinary flamegate invocation.
pub fn run_if_wrapping() -> Option<u8> {
    let flags = std::env::var(FLAGS_VAR).ok()?;
    let mut args = std::env::args_os().skip(1);
    let rustc: OsString = args.next()?;
    let mut command = match std::env::var_os(NEXT_VAR) {
        Some(next) => {
            let mut command = Command::new(next);
            command.arg(rustc);
            command
        }
        None => Command::new(rustc),
    };
    command
        .args(args)
        .args(flags.split(SEPARATOR).filter(|flag| !flag.is_empty()))
        .env_remove(FLAGS_VAR)
        .env_remove(NEXT_VAR);
    match command.status() {
        Ok(status) => Some(status.code().map_or(1, |code| code.clamp(0, 255) as u8)),
        Err(error) => {
            eprintln!(
                "flamegate (as cargo's workspace compiler wrapper): could not run the compiler: {error}"
            );
            Some(1)
        }
    }
}
