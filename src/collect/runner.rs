//! The seam where processes run: building bench targets (cargo) and running
//! bench executables (criterion, divan, commands). Everything above it — which benchmarks a
//! run or a shard takes, how many paired rounds, when the budget ends, what
//! gets recorded — is decided on what a `Runner` reports, so it can be
//! driven by scripted samples in tests (hyperfine's `Executor` /
//! `MockExecutor` split). `Processes` is the real one.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::progress::Bar;
use crate::record::command::CommandSpec;

use super::Measured;
use super::cargo::{self, BenchExecutable, BenchTarget, Project};
use super::{command, divan, interference};

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
        super::command_build::build_commands(project, commands, env)
    }

    fn list(&self, exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>> {
        list_benchmarks(exe, filter)
    }

    fn run(
        &self,
        exe: &BenchExecutable,
        args: &[String],
        criterion_home: &Path,
        env: &[(String, String)],
        bar: &Bar,
    ) -> Result<BTreeMap<String, Measured>> {
        run_executable(exe, args, criterion_home, env, bar, None)
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
        run_executable(exe, args, criterion_home, env, bar, Some(limit))
    }
}

/// The benchmark ids an executable defines (criterion's `--list`).
pub fn list_benchmarks(exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>> {
    if exe.is_command() {
        return command::list(exe, filter);
    }
    if exe.is_divan() {
        return divan::list(exe, filter);
    }
    let mut command = bench_command(exe);
    command.arg("--list");
    if let Some(filter) = filter {
        command.arg(filter);
    }
    let output = command.output().map_err(|e| Error::io(&exe.path, e))?;
    if !output.status.success() {
        return Err(Error::BenchFailed {
            exe: exe.path.clone(),
            status: output.status.to_string(),
            output_tail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<String> = stdout
        .lines()
        .filter_map(listed_id)
        .map(str::to_string)
        .collect();
    // Without a filter, a criterion target lists at least one benchmark;
    // nothing recognisable means another harness, which flamegate cannot
    // time (and must not run blind).
    if ids.is_empty() && filter.is_none() {
        let said: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(3)
            .collect();
        return Err(Error::NotCriterion {
            target: exe.target.name.clone(),
            printed: if said.is_empty() {
                "it printed nothing".to_string()
            } else {
                format!("it printed: {}", said.join(" | "))
            },
            divan: exe.divan.as_ref().map(ToString::to_string),
        });
    }
    Ok(ids)
}

/// The id in one line of criterion's `--list` output: `<id>: benchmark`
/// (criterion 0.5 to 0.8) or `<id>: bench` (0.3 and 0.4).
fn listed_id(line: &str) -> Option<&str> {
    line.strip_suffix(": benchmark")
        .or_else(|| line.strip_suffix(": bench"))
}

fn bench_command(exe: &BenchExecutable) -> Command {
    let mut command = Command::new(&exe.path);
    command
        .arg("--bench")
        .current_dir(&exe.target.package_dir)
        .env("CARGO_MANIFEST_DIR", &exe.target.package_dir)
        .env("CARGO_PKG_NAME", &exe.target.package)
        .stdin(Stdio::null());
    command
}

const OUTPUT_TAIL_LINES: usize = 40;

/// What criterion's "Benchmarking ID: STATUS" lines tell while a bench
/// executable runs: the benchmark it is on, when each started, and the
/// seconds each took (to "Analyzing", or "Complete" when profiling).
#[derive(Default)]
struct CriterionProgress {
    current: Option<String>,
    started: BTreeMap<String, std::time::Instant>,
    seconds: BTreeMap<String, f64>,
}

impl CriterionProgress {
    /// Follow one status line (`rest`: what follows "Benchmarking ").
    fn follow(
        &mut self,
        rest: &str,
        windows: &mut interference::Windows,
        bar: &crate::progress::Bar,
    ) {
        let parsed = rest.rsplit_once(": ");
        if let Some((id, status)) = parsed {
            self.current = Some(id.to_string());
            windows.status(id, status);
        }
        match parsed {
            // "Analyzing" ends a timing run, "Complete (...)" a profiling run.
            Some((id, status)) if status == "Analyzing" || status.starts_with("Complete") => {
                if let Some(start) = self.started.get(id) {
                    self.seconds
                        .insert(id.to_string(), start.elapsed().as_secs_f64());
                }
                bar.finished_one(id)
            }
            Some((id, _)) => {
                self.started
                    .entry(id.to_string())
                    .or_insert_with(std::time::Instant::now);
                bar.working_on(id)
            }
            None => bar.working_on(rest),
        }
    }
}

/// Run a bench executable, showing progress; returns the wall-clock seconds
/// each benchmark took (from its first progress line to "Analyzing").
pub(crate) fn run_executable(
    exe: &BenchExecutable,
    args: &[String],
    criterion_home: &Path,
    env: &[(String, String)],
    bar: &crate::progress::Bar,
    limit: Option<&Limit>,
) -> Result<BTreeMap<String, Measured>> {
    if exe.is_command() {
        return command::run(exe, args, criterion_home, bar);
    }
    if exe.is_divan() {
        return divan::run(exe, args, criterion_home, bar);
    }
    let deadline = limit.map(|l| (std::time::Instant::now() + l.after, l));
    let mut command = bench_command(exe);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("CRITERION_HOME", criterion_home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| Error::io(&exe.path, e))?;
    let mut windows = interference::Windows::of(child.id());
    // criterion reports progress as "Benchmarking ID: STATUS" lines, on
    // stderr while timing and on stdout while profiling: read both.
    let (lines, received) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let readers = [
        forward_lines(Box::new(stdout), lines.clone()),
        forward_lines(Box::new(stderr), lines),
    ];
    let mut tail = VecDeque::new();
    let mut progress = CriterionProgress::default();
    loop {
        let line = match deadline {
            None => match received.recv() {
                Ok(line) => line,
                Err(_) => break,
            },
            Some((deadline, limit)) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match received.recv_timeout(left) {
                    Ok(line) => line,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(Error::BenchTimedOut {
                            exe: exe.path.clone(),
                            pass: limit.pass,
                            benchmark: limit
                                .benchmark
                                .clone()
                                .or(progress.current)
                                .unwrap_or_else(|| "(none started)".into()),
                            seconds: limit.after.as_secs_f64(),
                        });
                    }
                }
            }
        };
        if let Some(rest) = line.strip_prefix("Benchmarking ") {
            progress.follow(rest, &mut windows, bar);
        }
        push_tail(&mut tail, line);
    }
    for reader in readers {
        let _ = reader.join();
    }
    let status = child.wait().map_err(|e| Error::io(&exe.path, e))?;
    if !status.success() {
        return Err(Error::BenchFailed {
            exe: exe.path.clone(),
            status: status.to_string(),
            output_tail: Vec::from(tail).join("\n"),
        });
    }
    let mut measured: BTreeMap<String, Measured> = progress
        .seconds
        .into_iter()
        .map(|(id, s)| {
            let m = Measured {
                seconds: Some(s),
                interference: None,
            };
            (id, m)
        })
        .collect();
    for (id, window) in windows.closed {
        measured.entry(id).or_default().interference = Some(window);
    }
    Ok(measured)
}

/// Send each line of `reader` to `lines` until it closes.
fn forward_lines(
    reader: Box<dyn Read + Send>,
    lines: std::sync::mpsc::Sender<String>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    })
}

fn push_tail(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == OUTPUT_TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_lines_of_every_criterion_version_give_their_ids() {
        // 0.5 to 0.8
        assert_eq!(
            listed_id("sum/range/1000: benchmark"),
            Some("sum/range/1000")
        );
        // 0.3 and 0.4
        assert_eq!(listed_id("sum/range/1000: bench"), Some("sum/range/1000"));
        assert_eq!(listed_id("a: bench: benchmark"), Some("a: bench"));
        for other in [
            "",
            "running 3 tests",
            "sum/range/1000: test",
            "Gnuplot not found",
        ] {
            assert_eq!(listed_id(other), None, "{other:?}");
        }
    }
}
