//! Instruction counts: each benchmark once, alone, under valgrind's
//! callgrind, in criterion's single-iteration test mode.
//!
//! What is counted: only instructions executed inside criterion's
//! `Bencher::iter*` (callgrind's `--toggle-collect`, which also starts with
//! collection off), so process start-up, the benchmark's own set-up outside
//! `b.iter(...)` and criterion's machinery are not. In `--test` mode
//! criterion calls the routine exactly once (`iters = 1`), so the count is
//! instructions per iteration plus `iter`'s own few dozen instructions of
//! bookkeeping, the same on both sides of a comparison.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::BenchExecutable;
use crate::error::{Error, Result};

/// Counts per benchmark: deterministic code gives the same count each time;
/// a spread between them is the benchmark's own jitter.
pub const REPEATS: usize = 3;

/// The functions whose execution is counted (callgrind pattern).
pub const COUNTED_FUNCTIONS: &str = "criterion::bencher::Bencher*::iter*";

/// divan's: collection on inside `Bencher::bench*` (divan's, or its fork's
/// in codspeed-divan-compat), which in divan's test mode takes one sample
/// of one call: the routine and divan's own steps around it, the same on
/// both sides. Off again where divan measures its timer's overhead, once per
/// process on its first benchmark (88 million instructions, a few hundred
/// apart from run to run; each benchmark runs in a process of its own):
/// `Timer::bench_overheads`, or, where that is inlined, the one-time
/// initialisation it runs in (so a routine's own one-time initialisation,
/// a lazily built table, is not counted there either). Each entry into a
/// matching function toggles collection; the patterns match names
/// demangled or not.
const DIVAN_BENCH: &str = "*divan*Bencher*bench*";
const DIVAN_OVERHEADS: &str = "*Timer*bench_overheads*";
const DIVAN_OVERHEADS_INLINED: &str = "*Once*call_once_force*";

/// callgrind's `--toggle-collect` options for `exe`: `criterion` (a
/// pattern) for criterion benches, divan's for divan benches.
pub fn toggle_options(exe: &BenchExecutable, criterion: &str) -> Vec<String> {
    // A command is counted whole: start-up and exit are what it measures.
    let patterns = if exe.is_command() {
        Vec::new()
    } else if exe.is_divan() {
        let overheads = if exe.has_function("bench_overheads") {
            DIVAN_OVERHEADS
        } else {
            DIVAN_OVERHEADS_INLINED
        };
        vec![DIVAN_BENCH, overheads]
    } else {
        vec![criterion]
    };
    patterns
        .iter()
        .map(|pattern| format!("--toggle-collect={pattern}"))
        .collect()
}

use crate::record::instructions::{FunctionCost, Simulated};

/// Longest one benchmark may run under callgrind (its set-up included) before
/// flamegate stops it: a benchmark that slow would make the suite take hours.
pub const TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Run `command` to completion, or kill it after `limit`.
fn run_with_limit(
    mut command: Command,
    limit: std::time::Duration,
    id: &str,
) -> Result<std::process::Output> {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|_| Error::ValgrindMissing)?;
    // Drain the pipes on threads so a chatty benchmark cannot block.
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).map(|_| buf)
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::io("valgrind", e))? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Usage(format!(
                "benchmark `{id}` ran for more than {}s under callgrind and was stopped; instruction mode \
                 runs each benchmark once but about 50 times slower, set-up included. Leave it out with --filter",
                limit.as_secs()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    Ok(std::process::Output {
        status,
        stdout: out.join().ok().and_then(|r| r.ok()).unwrap_or_default(),
        stderr: err.join().ok().and_then(|r| r.ok()).unwrap_or_default(),
    })
}

/// Run benchmark `id` (exactly) of `exe` once under callgrind with
/// `options`, in its harness's test mode, as cargo would run it; a failure
/// is an error with the end of its output.
pub(super) fn run_benchmark(exe: &BenchExecutable, id: &str, options: &[String]) -> Result<()> {
    if exe.is_command() {
        let wrapper: Vec<String> = ["valgrind".to_string(), "--tool=callgrind".to_string()]
            .into_iter()
            .chain(options.iter().cloned())
            .collect();
        let mut command = super::command::process(exe, id, &wrapper)?;
        command.env("RUST_LIB_BACKTRACE", "0");
        return finished(exe, run_with_limit(command, TIME_LIMIT, id)?);
    }
    let filter = format!("^{}$", regex::escape(id));
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .args(options)
        .arg(&exe.path)
        .args(["--bench", "--test"])
        .arg(&filter)
        .current_dir(&exe.target.package_dir)
        .env("CARGO_MANIFEST_DIR", &exe.target.package_dir)
        .env("CARGO_PKG_NAME", &exe.target.package)
        // Counts must not depend on the user's RUST_BACKTRACE: with it set,
        // every error value built inside the routine (anyhow's, and
        // codspeed-divan-compat's outside CodSpeed's runner) captures a
        // backtrace, tens of thousands of instructions. Panics still print
        // theirs.
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(std::process::Stdio::null());
    finished(exe, run_with_limit(command, TIME_LIMIT, id)?)
}

/// A callgrind run's end: an error with the end of its output when it failed.
fn finished(exe: &BenchExecutable, output: std::process::Output) -> Result<()> {
    if !output.status.success() {
        return Err(Error::BenchFailed {
            exe: exe.path.clone(),
            status: format!("{} under callgrind", output.status),
            output_tail: super::last_lines(&String::from_utf8_lossy(&output.stderr), 30),
        });
    }
    Ok(())
}

/// `valgrind --version` ("valgrind-3.19.0"), or how to install it.
pub fn valgrind_version() -> Result<String> {
    let output = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(|_| Error::ValgrindMissing)?;
    if !output.status.success() {
        return Err(Error::ValgrindMissing);
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Count one benchmark (`id`, exactly) of `exe`: instructions per
/// iteration, and with `simulate` callgrind's cache and branch estimates
/// (slower). callgrind's output goes to `out_file` (see `functions`).
pub fn count(
    exe: &BenchExecutable,
    id: &str,
    out_file: &Path,
    simulate: bool,
) -> Result<(u64, Option<Simulated>)> {
    let mut options = vec![format!("--callgrind-out-file={}", out_file.display())];
    options.extend(toggle_options(exe, COUNTED_FUNCTIONS));
    if simulate {
        options.extend(["--cache-sim=yes".into(), "--branch-sim=yes".into()]);
    }
    run_benchmark(exe, id, &options)?;
    let text = std::fs::read_to_string(out_file).map_err(|e| Error::io(out_file, e))?;
    let totals = totals(&text);
    let instructions = totals.get("Ir").copied().ok_or_else(|| Error::Profile {
        path: out_file.to_path_buf(),
        problem: "callgrind wrote no instruction total".into(),
    })?;
    let event =
        |names: &[&str]| -> Option<u64> { names.iter().map(|n| totals.get(*n).copied()).sum() };
    let simulated = simulate
        .then(|| {
            Some(Simulated {
                l1_misses: event(&["I1mr", "D1mr", "D1mw"])?,
                ll_misses: event(&["ILmr", "DLmr", "DLmw"])?,
                branches: event(&["Bc", "Bi"])?,
                mispredicts: event(&["Bcm", "Bim"])?,
            })
        })
        .flatten();
    if instructions == 0 {
        return Err(Error::Usage(format!(
            "callgrind counted no instructions in `{COUNTED_FUNCTIONS}` (or divan's `{DIVAN_BENCH}`) for \
             benchmark `{id}`: its timing loop was inlined away or it does not use `b.iter(...)`; instruction \
             mode needs criterion's `iter` family"
        )));
    }
    Ok((instructions, simulated))
}

/// Each function's own and inclusive instructions in a callgrind output file.
pub fn functions(out_file: &Path) -> Result<BTreeMap<String, FunctionCost>> {
    let own = annotate(out_file, false)?;
    let inclusive = annotate(out_file, true)?;
    let names: std::collections::BTreeSet<&String> = own.keys().chain(inclusive.keys()).collect();
    Ok(names
        .into_iter()
        .map(|name| {
            let own_cost = own.get(name).copied().unwrap_or(0);
            // Inlined code has no entry of its own: its own cost is all of it.
            let inclusive_cost = inclusive.get(name).copied().unwrap_or(own_cost);
            (
                name.clone(),
                FunctionCost {
                    own: own_cost,
                    inclusive: inclusive_cost,
                },
            )
        })
        .collect())
}

/// Each event's total from a callgrind output file: the names on its
/// `events:` line, the values on its `summary:` (or `totals:`) line.
pub(super) fn totals(text: &str) -> BTreeMap<String, u64> {
    let names: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))
        .map(|v| v.split_whitespace().collect())
        .unwrap_or_default();
    let values = text.lines().find_map(|l| {
        l.strip_prefix("summary:")
            .or_else(|| l.strip_prefix("totals:"))
    });
    let Some(values) = values else {
        return BTreeMap::new();
    };
    names
        .iter()
        .zip(values.split_whitespace())
        .filter_map(|(name, value)| Some((name.to_string(), value.parse().ok()?)))
        .collect()
}

/// Per-function costs from `callgrind_annotate` (self, or inclusive).
fn annotate(out_file: &Path, inclusive: bool) -> Result<BTreeMap<String, u64>> {
    let output = Command::new("callgrind_annotate")
        .arg(format!(
            "--inclusive={}",
            if inclusive { "yes" } else { "no" }
        ))
        .arg("--threshold=100")
        // Instructions only: with the cache and branch simulation the file
        // holds more events, which would add columns to every line.
        .arg("--show=Ir")
        // Only the function list: annotated source lines look like cost
        // lines too and would be counted twice.
        .arg("--auto=no")
        .arg(out_file)
        .output()
        .map_err(|_| Error::ValgrindMissing)?;
    if !output.status.success() {
        return Err(Error::Profile {
            path: out_file.to_path_buf(),
            problem: format!(
                "callgrind_annotate failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(parse_annotate(
        &String::from_utf8_lossy(&output.stdout),
        inclusive,
    ))
}

/// Lines like `  1,234 (45.6%)  /src/lib.rs:tiny::work [/path/exe]`.
/// Own costs of one function in several files (its code and code inlined
/// into it) add up; inclusive costs are per function, so the largest is kept.
/// Code inlined into criterion's `iter` (the benchmark's own routine, most
/// often) is named by its source file, which is what says whose code it is.
fn parse_annotate(text: &str, inclusive: bool) -> BTreeMap<String, u64> {
    let mut costs = BTreeMap::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let Some((count, rest)) = trimmed.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix('(') {
            Some(after) => after.split_once(')').map_or(after, |(_, r)| r).trim_start(),
            None => rest,
        };
        if rest.starts_with("PROGRAM TOTALS") || rest.is_empty() {
            continue;
        }
        let Some((file, function)) = split_location(rest) else {
            continue;
        };
        let name =
            if function.starts_with("criterion::") && !file.contains("criterion") && !inclusive {
                format!("{} (inlined into criterion's iter)", short_file(file))
            } else {
                function
            };
        let entry = costs.entry(name).or_insert(0);
        *entry = if inclusive {
            (*entry).max(count)
        } else {
            *entry + count
        };
    }
    costs
}

/// `/home/me/shop/src/lib.rs` → `shop/src/lib.rs`; std's
/// `…/library/core/src/num/mod.rs` → `core/src/num/mod.rs`.
fn short_file(file: &str) -> &str {
    let Some(at) = file.find("/src/") else {
        return file;
    };
    let start = file[..at].rfind('/').map_or(0, |slash| slash + 1);
    &file[start..]
}

/// `file:function [object]` → (`file`, `function`): the file ends at the
/// first single `:` (function paths use `::`); callgrind_annotate's call
/// counts (`(1x)`) and the object are dropped.
fn split_location(location: &str) -> Option<(&str, String)> {
    let location = match location.rfind(" [") {
        Some(at) if location.ends_with(']') => &location[..at],
        _ => location,
    };
    let bytes = location.as_bytes();
    let colon = (0..bytes.len()).find(|&i| {
        bytes[i] == b':' && bytes.get(i + 1) != Some(&b':') && (i == 0 || bytes[i - 1] != b':')
    })?;
    let mut name = location[colon + 1..].trim();
    if let Some(at) = name.rfind(" (")
        && name.ends_with("x)")
        && name[at + 2..name.len() - 2]
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',')
    {
        name = &name[..at];
    }
    (!name.is_empty()).then(|| (&location[..colon], crate::profile::fold::clean_name(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotate_output_is_parsed() {
        let text = "\
--------------------------------------------------------------------------------
Ir
--------------------------------------------------------------------------------
12,000 (100.0%)  PROGRAM TOTALS

--------------------------------------------------------------------------------
Ir               file:function
--------------------------------------------------------------------------------
 9,000 (75.00%)  /work/src/lib.rs:tiny::work [/t/tiny-1234]
 2,000 (16.67%)  /c/criterion-0.8.2/src/bencher.rs:criterion::bencher::Bencher<M>::iter [/t/tiny-1234]
 1,500 (12.50%)  /work/tiny/src/lib.rs:criterion::bencher::Bencher<M>::iter (20,045x) [/t/tiny-1234]
 1,000 ( 8.33%)  /rustc/x/library/core/src/hash/mod.rs:<u64 as core::hash::Hash>::hash [/t/tiny-1234]
";
        let own = parse_annotate(text, false);
        assert_eq!(own["tiny::work"], 9_000);
        assert_eq!(own["criterion::bencher::Bencher<M>::iter"], 2_000);
        assert_eq!(
            own["tiny/src/lib.rs (inlined into criterion's iter)"],
            1_500
        );
        assert_eq!(own["<u64 as core::hash::Hash>::hash"], 1_000);
        assert_eq!(own.len(), 4);
        let inclusive = parse_annotate(text, true);
        assert_eq!(
            inclusive["criterion::bencher::Bencher<M>::iter"], 2_000,
            "the largest, not a sum"
        );
        assert_eq!(totals("events: Ir\nsummary: 12000\n")["Ir"], 12_000);
        assert_eq!(totals("events: Ir\ntotals: 7\n")["Ir"], 7);
    }

    #[test]
    fn simulated_events_are_read_by_name() {
        let text = "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim\n\
                    summary: 1000 300 100 2 10 5 1 3 2 150 7 4 1\n";
        let totals = totals(text);
        assert_eq!(totals["Ir"], 1_000);
        assert_eq!(totals["DLmr"], 3);
        assert_eq!(totals["Bim"], 1);
        assert_eq!(totals.len(), 13);
    }
}
