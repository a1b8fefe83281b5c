//! The seam where processes run: building bench targets (cargo) and running
//! bench executables (criterion). Everything above it — which benchmarks a
//! run or a shard takes, how many paired rounds, when the budget ends, what
//! gets recorded — is decided on what a `Runner` reports, so it can be
//! driven by scripted samples in tests (hyperfine's `Executor` /
//! `MockExecutor` split). `Processes` is the real one.

use std::collections::BTreeMap;
use std::path::Path;

use super::cargo::{self, BenchExecutable, BenchTarget, Project};
use crate::error::Result;
use crate::progress::Bar;
use crate::record::command::CommandSpec;
use crate::record::interference::Interference;

/// Builds bench targets and runs bench executables.
pub trait Runner {
    /// Build `targets` of `project` in the bench profile with `env` added to
    /// the build's environment; their executables.
    fn build(
        &self,
        project: &Project,
        targets: &[BenchTarget],
        env: &[(String, String)],
    ) -> Result<Vec<BenchExecutable>>;

    /// Build the binary targets `commands` run (`[[command]]` entries) in
    /// the bench profile, with `env` added to the build's environment.
    fn build_commands(
        &self,
        project: &Project,
        commands: &[CommandSpec],
        env: &[(String, String)],
    ) -> Result<Vec<BenchExecutable>>;

    /// The benchmark ids `exe` defines, those matching `filter` (criterion's
    /// `--list`).
    fn list(&self, exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>>;

    /// Run `exe` with criterion's `args`; criterion writes its files under
    /// `criterion_home`. Returns, by benchmark, how long it took and what
    /// else the machine did while it was measured.
    fn run(
        &self,
        exe: &BenchExecutable,
        args: &[String],
        criterion_home: &Path,
        env: &[(String, String)],
        bar: &Bar,
    ) -> Result<BTreeMap<String, Measured>>;

    /// `run`, stopped with an error naming the benchmark it was on when it
    /// outlives `limit` (a hang in the allocation or profiling pass must
    /// not hold a CI job or a `git push`). Runners that cannot hang need
    /// not override it.
    fn run_limited(
        &self,
        exe: &BenchExecutable,
        args: &[String],
        criterion_home: &Path,
        env: &[(String, String)],
        bar: &Bar,
        limit: &Limit,
    ) -> Result<BTreeMap<String, Measured>> {
        let _ = limit;
        self.run(exe, args, criterion_home, env, bar)
    }
}

/// How long a bench process of a pass may take, and how to name it.
#[derive(Debug, Clone)]
pub struct Limit {
    pub after: std::time::Duration,
    /// The pass, for the error: "the allocation pass".
    pub pass: &'static str,
    /// The benchmark it runs, when it runs one (else the last it started).
    pub benchmark: Option<String>,
}

/// `FLAMEGATE_PASS_TIMEOUT`: seconds a bench process of the allocation or
/// profiling pass may take, overriding the pass's own limit.
pub const PASS_TIMEOUT_ENV: &str = "FLAMEGATE_PASS_TIMEOUT";

impl Limit {
    /// `default` unless `FLAMEGATE_PASS_TIMEOUT` says otherwise.
    pub fn of(
        pass: &'static str,
        default: std::time::Duration,
        benchmark: Option<String>,
    ) -> Limit {
        let after = std::env::var(PASS_TIMEOUT_ENV)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(default, std::time::Duration::from_secs_f64);
        Limit {
            after,
            pass,
            benchmark,
        }
    }
}

/// How one benchmark's run in a bench process went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// Wall-clock seconds from its first progress line to its last.
    pub seconds: Option<f64>,
    /// Its measurement window's interference, where /proc could tell.
    pub interference: Option<Interference>,
}

/// The real runner: `cargo bench --no-run`, and the executables themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Processes;

impl Runner for Processes {
    fn build(
        &self,
        project: &Project,
        targets: &[BenchTarget],
        env: &[(String, String)],
    ) -> Result<Vec<BenchExecutable>> {
        cargo::build(project, targets, env)
    }

    fn build_commands(
        &self,
        project: &Project,
        commands: &[CommandSpec],
        env: &[(String, String)],
    ) -> Result<Vec<BenchExecutable>> {
        cargo::build_commands(project, commands, env)
    }

    fn list(&self, exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>> {
        super::list_benchmarks(exe, filter)
    }

    fn run(
        &self,
        exe: &BenchExecutable,
        args: &[String],
        criterion_home: &Path,
        env: &[(String, String)],
        bar: &Bar,
    ) -> Result<BTreeMap<String, Measured>> {
        super::run_executable(exe, args, criterion_home, env, bar, None)
    }

    fn run_limited(
        &self,
        exe: &BenchExecutable,
        args: &[String],
        criterion_home: &Path,
        env: &[(String, String)],
        bar: &Bar,
        limit: &Limit,
    ) -> Result<BTreeMap<String, Measured>> {
        super::run_executable(exe, args, criterion_home, env, bar, Some(limit))
    }
}
