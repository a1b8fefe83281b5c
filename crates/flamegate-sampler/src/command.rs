//! The hook a command-line tool opts into for flamegraphs of its
//! `[[command]]` runs: `let _profile = flamegate_sampler::profile_command();` first
//! thing in `main`. Inert unless flamegate's profiling pass runs the
//! program (it sets `PROFILE_DIR_ENV`); then the process is sampled with
//! pprof until the guard drops at the end of `main`, and the profile is
//! written as `<dir>/profile.pb`. The timed runs never set it.

use std::path::PathBuf;

use super::sampler::Sampler;

/// Where flamegate's profiling pass asks for the profile.
pub const PROFILE_DIR_ENV: &str = "FLAMEGATE_COMMAND_PROFILE_DIR";

/// Samples the process while it lives, when flamegate asked (see the
/// module's documentation). `std::process::exit` skips it: return from
/// `main` to keep the profile.
#[must_use = "the profile covers the process only while this guard lives: bind it, `let _profile = ...`"]
pub struct CommandProfile(Option<(Sampler, PathBuf)>);

/// Start sampling this process if flamegate's profiling pass runs it.
pub fn profile_command() -> CommandProfile {
    CommandProfile(std::env::var_os(PROFILE_DIR_ENV).map(|dir| {
        let mut sampler = Sampler::default();
        sampler.start("command");
        (sampler, PathBuf::from(dir))
    }))
}

impl Drop for CommandProfile {
    fn drop(&mut self) {
        if let Some((mut sampler, dir)) = self.0.take() {
            sampler.stop("command", &dir);
        }
    }
}
