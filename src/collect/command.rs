//! Whole programs as benchmarks: the `[[command]]` entries of
//! flamegate.toml, each a cargo binary target or another program of the
//! project run with its arguments. The one place that knows how a command
//! is run.
//!
//! A command is timed as a whole process, start-up and exit included: each
//! run is one sample (wall-clock nanoseconds). Its peak resident memory is
//! read as its traced warm-up runs exit (`trace`). A paired round runs each command a few times per side
//! (`PAIRED_RUNS` or the round's window, whichever is more); a stored run
//! takes `STORED_RUNS` runs and at least `STORED_SECONDS`. Under callgrind
//! the whole process is counted. A run that exits non-zero or outlives the
//! command's timeout is an error naming the command, never a timing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::BenchExecutable;
use super::Measured;
use crate::error::{Error, Result};
use crate::record::command::CommandSpec;
use crate::record::{BenchId, BenchResult, FoldedStacks, SampleUnit};

/// Runs of each command in a stored run, at the least.
pub const STORED_RUNS: usize = 10;
/// Seconds of runs of each command in a stored run, at the least.
const STORED_SECONDS: f64 = 1.0;
/// Runs of each command per side in a paired round, at the least (the
/// round's estimate is their median).
const PAIRED_RUNS: usize = 3;
/// A command that runs in microseconds still stops here.
const MAX_RUNS: usize = 10_000;

/// Where a command run leaves its results for `read_results`.
pub(super) const RESULTS_FILE: &str = "command-results.json";

/// The commands of `exe` (a binary target built for `[[command]]`
/// entries) whose ids match `filter` (a regular expression, as criterion's).
pub fn list(exe: &BenchExecutable, filter: Option<&str>) -> Result<Vec<String>> {
    let filter = filter
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| Error::Usage(format!("--filter is not a regular expression: {e}")))?;
    Ok(exe
        .commands
        .iter()
        .map(CommandSpec::id)
        .filter(|id| filter.as_ref().is_none_or(|f| f.is_match(id)))
        .collect())
}

/// The spec of command `id` of `exe`.
fn spec<'a>(exe: &'a BenchExecutable, id: &str) -> Result<&'a CommandSpec> {
    exe.commands
        .iter()
        .find(|c| c.id() == id)
        .ok_or_else(|| Error::Usage(format!("no command `{id}` in flamegate.toml")))
}

/// A process of command `id` as flamegate runs it: its program, arguments,
/// directory, environment and standard input, prefixed by `wrapper` (a
/// program and its options, such as valgrind's).
pub fn process(exe: &BenchExecutable, id: &str, wrapper: &[String]) -> Result<Command> {
    process_of(exe, spec(exe, id)?, wrapper)
}

/// `process`, for the command `spec` of `exe`.
fn process_of(exe: &BenchExecutable, spec: &CommandSpec, wrapper: &[String]) -> Result<Command> {
    let dir = spec.dir();
    let mut command = match wrapper.split_first() {
        Some((program, options)) => {
            let mut command = Command::new(program);
            command.args(options).arg(&exe.path);
            command
        }
        None => Command::new(&exe.path),
    };
    command
        .args(&spec.args)
        .current_dir(&dir)
        .envs(&spec.env)
        .stdout(Stdio::null());
    match &spec.stdin {
        Some(file) => {
            let path = dir.join(file);
            let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            command.stdin(file);
        }
        None => {
            command.stdin(Stdio::null());
        }
    }
    Ok(command)
}

/// Run the commands of `exe` that `args` (criterion's, translated) select;
/// their results go to `home` for `read_results`.
pub fn run(
    exe: &BenchExecutable,
    args: &[String],
    home: &Path,
    bar: &crate::progress::Bar,
) -> Result<BTreeMap<String, Measured>> {
    let asked = super::divan::asked(args, "command")?;
    let (runs, seconds) = match &asked.window {
        Some(window) => (PAIRED_RUNS, window.parse::<f64>().unwrap_or(0.0)),
        None => (STORED_RUNS, STORED_SECONDS),
    };
    // Each run's stderr is kept here, for the error when one fails.
    std::fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
    let mut results = Vec::new();
    let mut measured = BTreeMap::new();
    for id in list(exe, asked.filter.as_deref())? {
        let started = Instant::now();
        let result = time_command(exe, &id, runs, seconds, home)?;
        bar.finished_one(&id);
        measured.insert(
            id,
            Measured {
                seconds: Some(started.elapsed().as_secs_f64()),
                interference: None,
            },
        );
        results.push(result);
    }
    super::write_results(home, RESULTS_FILE, &results)?;
    Ok(measured)
}

/// Command `id`'s warm-up, then at least `runs` runs and `seconds` of them.
/// The warm-up runs (at least one) are traced for the process's peak
/// memory; the timed runs are not, so tracing costs them nothing.
fn time_command(
    exe: &BenchExecutable,
    id: &str,
    runs: usize,
    seconds: f64,
    home: &Path,
) -> Result<BenchResult> {
    let spec = spec(exe, id)?;
    let mut peak_memory = Vec::new();
    for _ in 0..spec.warmup.max(1) {
        if let Some(peak_kib) = run_once(exe, spec, home, Watch::PeakMemory)?.1 {
            peak_memory.push(peak_kib);
        }
    }
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < MAX_RUNS
        && (samples.len() < runs || started.elapsed().as_secs_f64() < seconds)
    {
        samples.push(run_once(exe, spec, home, Watch::Time)?.0);
    }
    let mut result = BenchResult::new(
        BenchId(id.to_string()),
        crate::record::command::GROUP.into(),
        SampleUnit::Nanoseconds,
        samples,
    );
    result.function = Some(spec.name.clone());
    result.peak_memory = peak_memory;
    Ok(result)
}

/// What a run is for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Watch<'a> {
    /// Its wall-clock time, untraced.
    Time,
    /// Its peak resident memory, read when it exits (`trace`).
    PeakMemory,
    /// A profile, which the program's hook writes into this directory.
    Profile(&'a Path),
}

/// One run: its wall-clock nanoseconds and, when watched for it, its peak
/// resident memory in KiB (none where the system refuses tracing).
fn run_once(
    exe: &BenchExecutable,
    spec: &CommandSpec,
    home: &Path,
    watch: Watch<'_>,
) -> Result<(f64, Option<u64>)> {
    let stderr_path = home.join("command-stderr");
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| Error::io(&stderr_path, e))?;
    let mut command = process_of(exe, spec, &[])?;
    command.stderr(stderr);
    match watch {
        Watch::PeakMemory => trace::ask_to_be_traced(&mut command),
        Watch::Profile(dir) => {
            command.env(flamegate_sampler::PROFILE_DIR_ENV, dir);
        }
        Watch::Time => {}
    }
    let failure = |status: String| Error::CommandFailed {
        name: spec.name.clone(),
        shown: spec.shown(&exe.path),
        dir: spec.dir(),
        status,
        output_tail: super::last_lines(
            &std::fs::read_to_string(&stderr_path).unwrap_or_default(),
            20,
        ),
    };
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|e| failure(format!("it could not be started ({e})")))?;
    let ended = reap(child, Duration::from_secs_f64(spec.timeout), watch)?;
    let elapsed = started.elapsed();
    match ended {
        Ended::TimedOut => Err(failure(format!(
            "still running after its timeout of {} s, stopped; raise `timeout` in its [[command]] entry if it needs longer",
            spec.timeout
        ))),
        Ended::Exited { status, .. } if status != 0 => Err(failure(
            <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(status)
                .to_string(),
        )),
        Ended::Exited { peak_kib, .. } => Ok((elapsed.as_nanos() as f64, peak_kib)),
    }
}

/// Command `id` run again and again for `seconds` (at least once), each
/// run sampled by the program's own hook (`flamegate_sampler::profile_command()`):
/// the runs' profiles together, each stack from the program's `main`.
pub fn profile(exe: &BenchExecutable, id: &str, seconds: f64, home: &Path) -> Result<FoldedStacks> {
    let spec = spec(exe, id)?;
    std::fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
    let mut stacks = FoldedStacks::default();
    let started = Instant::now();
    let mut runs = 0;
    while runs == 0 || started.elapsed().as_secs_f64() < seconds {
        let dir = home.join(format!("profile-{runs}"));
        run_once(exe, spec, home, Watch::Profile(&dir))?;
        let file = dir.join(flamegate_sampler::PROFILE_FILE);
        if file.exists() {
            stacks.merge(crate::profile::fold::fold_file(
                &file,
                crate::profile::fold::Sampled::Program,
            )?);
        }
        runs += 1;
    }
    Ok(stacks)
}

/// How a run ended.
enum Ended {
    /// `status` as `waitpid` gives it; `peak_kib` its peak resident memory,
    /// when traced.
    Exited {
        status: i32,
        peak_kib: Option<u64>,
    },
    TimedOut,
}

/// Wait for `child` (traced for its peak memory when `watch` says so),
/// killing it after `timeout`. The wait blocks (no polling delay in the
/// timing); a watchdog thread kills the child if it outlives the timeout.
fn reap(child: std::process::Child, timeout: Duration, watch: Watch<'_>) -> Result<Ended> {
    let pid = child.id() as libc::pid_t;
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let killed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let killed = killed.clone();
        std::thread::spawn(move || {
            if finished.recv_timeout(timeout).is_err() {
                killed.store(true, std::sync::atomic::Ordering::SeqCst);
                // SAFETY: `pid` is our child, not yet reaped: the waiting
                // thread has not said it returned from its last wait.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        })
    };
    let waited = match watch {
        Watch::PeakMemory => trace::follow_to_exit(pid),
        _ => trace::wait_for(pid).map(|status| (status, None)),
    };
    let _ = done.send(());
    let _ = watchdog.join();
    drop(child);
    let (status, peak_kib) = waited.map_err(|e| Error::io("waitpid", e))?;
    if killed.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(Ended::TimedOut);
    }
    Ok(Ended::Exited { status, peak_kib })
}

/// Reading a process's peak memory as it exits. The kernel's own account
/// of a child (`wait4`'s `ru_maxrss`) starts from the peak of the process
/// that forked it: flamegate's tens of MiB, larger than a small tool's whole
/// footprint. A traced child stops as it exits, with its memory still
/// there, and `/proc/<pid>/status`'s `VmHWM` is the peak of the program
/// alone (its memory map is new since `exec`).
/// Linux only: elsewhere runs are not traced and record no peak memory.
mod trace {
    /// Elsewhere than Linux: not traced.
    #[cfg(not(target_os = "linux"))]
    pub fn ask_to_be_traced(_command: &mut std::process::Command) {}

    /// Elsewhere than Linux: the end alone, no peak.
    #[cfg(not(target_os = "linux"))]
    pub fn follow_to_exit(pid: libc::pid_t) -> std::io::Result<(i32, Option<u64>)> {
        wait_for(pid).map(|status| (status, None))
    }

    /// Make `command`'s process ask to be traced by flamegate before it
    /// runs the program; where tracing is refused, it runs untraced.
    #[cfg(target_os = "linux")]
    pub fn ask_to_be_traced(command: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure makes one async-signal-safe call and
        // allocates nothing, as `pre_exec` requires.
        unsafe {
            command.pre_exec(|| {
                libc::ptrace(
                    libc::PTRACE_TRACEME,
                    0,
                    std::ptr::null_mut::<libc::c_void>(),
                    std::ptr::null_mut::<libc::c_void>(),
                );
                Ok(())
            });
        }
    }

    /// Wait for the next change of `pid`: its end, or, when traced, a
    /// stop. Its `waitpid` status.
    pub fn wait_for(pid: libc::pid_t) -> std::io::Result<i32> {
        loop {
            let mut status = 0;
            // SAFETY: `status` is valid for writes; `pid` is our child and
            // nothing else waits for it.
            let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
            if reaped == pid {
                return Ok(status);
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    /// Follow a child that asked to be traced to its end: stopped after
    /// `exec`, let go with exit events on; stopped at its exit, its peak
    /// read; signals it gets passed on. Its `wait4` status and its peak in
    /// KiB (none when it was not traced after all).
    #[cfg(target_os = "linux")]
    pub fn follow_to_exit(pid: libc::pid_t) -> std::io::Result<(i32, Option<u64>)> {
        let mut peak_kib = None;
        let mut following = false;
        loop {
            let status = wait_for(pid)?;
            if !libc::WIFSTOPPED(status) {
                return Ok((status, peak_kib));
            }
            let signal = libc::WSTOPSIG(status);
            let event = status >> 16;
            let pass_on = if signal == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXIT {
                peak_kib = read_peak(pid);
                0
            } else if signal == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXEC {
                // A program that runs another in its place (a wrapper
                // script): the last one's peak is the one read.
                0
            } else if signal == libc::SIGTRAP && !following {
                // The stop after the first `exec`: from here on, stop at
                // exit and at further `exec`s (as events, not signals).
                // SAFETY: `pid` is our tracee, stopped.
                unsafe {
                    libc::ptrace(
                        libc::PTRACE_SETOPTIONS,
                        pid,
                        std::ptr::null_mut::<libc::c_void>(),
                        (libc::PTRACE_O_TRACEEXIT
                            | libc::PTRACE_O_TRACEEXEC
                            | libc::PTRACE_O_EXITKILL) as *mut libc::c_void,
                    )
                };
                following = true;
                0
            } else {
                signal
            };
            // SAFETY: `pid` is our tracee, stopped.
            unsafe {
                libc::ptrace(
                    libc::PTRACE_CONT,
                    pid,
                    std::ptr::null_mut::<libc::c_void>(),
                    pass_on as usize as *mut libc::c_void,
                )
            };
        }
    }

    /// `VmHWM` of `/proc/<pid>/status`, in KiB.
    #[cfg(target_os = "linux")]
    fn read_peak(pid: libc::pid_t) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.trim_start_matches("VmHWM:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_that_exits_non_zero_or_outlives_its_timeout_ends_so() {
        let exited = |program: &str, args: &[&str], timeout: f64| {
            let child = Command::new(program).args(args).spawn().unwrap();
            reap(child, Duration::from_secs_f64(timeout), Watch::Time).unwrap()
        };
        match exited("sh", &["-c", "exit 3"], 10.0) {
            Ended::Exited { status, .. } => assert_eq!(
                <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(
                    status
                )
                .code(),
                Some(3)
            ),
            Ended::TimedOut => panic!("exited"),
        }
        assert!(matches!(exited("sleep", &["5"], 0.2), Ended::TimedOut));
        assert!(matches!(
            exited("true", &[], 10.0),
            Ended::Exited { status: 0, .. }
        ));
    }

    #[test]
    fn a_traced_run_reads_the_programs_own_peak_not_its_parents() {
        let traced = |megabytes: u32| {
            let mut command = Command::new("python3");
            command.args([
                "-c",
                &format!("b = bytearray({megabytes} << 20); b[::4096] = b'1' * len(b[::4096])"),
            ]);
            trace::ask_to_be_traced(&mut command);
            let child = command.spawn().unwrap();
            match reap(child, Duration::from_secs(30), Watch::PeakMemory).unwrap() {
                Ended::Exited {
                    status: 0,
                    peak_kib,
                } => peak_kib.expect("traced"),
                Ended::Exited { status, peak_kib } => {
                    panic!("python3 exits cleanly: {status:#x} {peak_kib:?}")
                }
                Ended::TimedOut => panic!("timed out"),
            }
        };
        // This test process's own peak is not in it: only the program's.
        let small = traced(1);
        let large = traced(64);
        assert!(small < 30_000, "{small} KiB");
        let grew = large - small;
        assert!(
            (60_000..70_000).contains(&grew),
            "{small} KiB → {large} KiB"
        );
    }
}
